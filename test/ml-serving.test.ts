/**
 * The model layer with the jest MLflow server (`MLFLOW_TEST_TRACKING_URI`): penguins models registered with
 * `register@1`, `evaluate@2` against the champion (none yet, then scored), `mloe serve`'s server (predictions, MLflow's
 * request shapes, 400s naming the field, health), hot reload when the alias moves while requests are in flight, and
 * `deploy@1` starting a real `mloe serve` process and leaving it alone the second time.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  FileArtifactStore,
  parseArtifactRef,
  getJson,
  putJson,
  type ArtifactRef,
  type ArtifactStore,
} from '../activities/artifacts';
import { createMlflowClient, mlflowConfig, type MlflowClient } from '../activities/mlflow';
import { compileModel, modelDocumentSchema, predictRecords } from '../activities/ml/models/model';
import { runDeploy, stopDeployment } from '../activities/ml/steps/deploy-step';
import { runEvaluate } from '../activities/ml/steps/evaluate-step';
import { runFeatures } from '../activities/ml/steps/features-step';
import { runTrain } from '../activities/ml/steps/train-step';
import { startModelServer, type ModelServer } from '../activities/serving/server';
import { registerModel } from '../activities/steps/register';
import { buildProgram } from '../clients/cli';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import type { JsonValue } from '../core/spec';
import { penguinFiles, putDataset, stepContext, trackRunningPipeline } from './support/ml-fixtures';
import { pollUntil } from './support/poll';
import { suiteTemporaryDirectories } from './temporary-directories';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const temporaryDirectory = suiteTemporaryDirectories('mloe-ml-serving-test-');

describe('evaluate@2, mloe serve and deploy@1 against an MLflow registry', () => {
  const name = `penguins-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  let directory: string;
  let store: ArtifactStore;
  let tracker: MlflowTracker;
  let mlflow: MlflowClient;
  let test: ArtifactRef;
  let testRows: Record<string, unknown>[];
  const models: Record<string, { model: JsonValue; signatureInputs: JsonValue; signatureOutputs: JsonValue }> = {};
  let server: ModelServer | undefined;

  beforeAll(async () => {
    directory = await temporaryDirectory();
    store = new FileArtifactStore({ root: join(directory, 'store') });
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    tracker = new MlflowTracker(config, { warn: () => undefined });
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    const context = stepContext(store, directory, tracker);
    await trackRunningPipeline(tracker, context.pipeline ?? '', context.workflowId);
    const files = await penguinFiles(directory);
    testRows = files.testRows;
    test = await putDataset(store, files.test);
    const features = await runFeatures(
      { train: await putDataset(store, files.train), label: 'Species', categorical: ['Island', 'Sex'] },
      context,
    );
    for (const algorithm of ['softmax', 'forest']) {
      const trained = await runTrain(
        { train: features.outputs.train ?? null, transform: features.outputs.transform ?? null, algorithm },
        context,
      );
      models[algorithm] = {
        model: trained.outputs.model ?? null,
        signatureInputs: trained.outputs.signatureInputs ?? null,
        signatureOutputs: trained.outputs.signatureOutputs ?? null,
      };
    }
  });

  afterAll(async () => {
    await server?.close();
    if (directory !== undefined) await stopDeployment(directory, `${name}@champion`);
  });

  async function register(algorithm: string, stepId: string, alias?: string): Promise<string> {
    const entry = models[algorithm];
    if (entry === undefined) throw new Error(`no ${algorithm} model`);
    const result = await registerModel(
      { ...entry, name, fileName: 'model.json', ...(alias === undefined ? {} : { alias }) },
      stepContext(store, directory, tracker, stepId),
    );
    return result.outputs.version as string;
  }

  it('evaluate@2: no champion yet is an outcome; a registered one is scored on the same rows', async () => {
    const context = stepContext(store, directory, tracker, 'evaluate');
    const before = await runEvaluate(
      { model: models.softmax?.model ?? null, test, champion: `${name}@champion` },
      context,
    );
    expect(before.outputs.champion).toEqual({
      status: 'none',
      uri: `models:/${name}@champion`,
      reason: `nothing is registered as models:/${name}@champion`,
    });
    expect(before.outputs.beatsChampion).toBe(true);

    expect(await register('softmax', 'register-1', 'champion')).toBe('1');
    const after = await runEvaluate(
      { model: models.forest?.model ?? null, test, champion: `models:/${name}@champion` },
      context,
    );
    const champion = after.outputs.champion as Record<string, JsonValue>;
    expect(champion).toMatchObject({ status: 'scored', name, version: '1', sameModel: false });
    expect(champion.metrics).toEqual(before.metrics);
    const beats = (after.metrics?.accuracy ?? 0) > ((champion.metrics as Record<string, number>).accuracy ?? 0);
    expect(after.outputs.beatsChampion).toBe(beats);
    const same = await runEvaluate({ model: models.softmax?.model ?? null, test, champion: `${name}/1` }, context);
    expect(same.outputs.champion).toMatchObject({ status: 'scored', sameModel: true });
    expect(same.outputs.beatsChampion).toBe(false); // equal is not better
  });

  async function predict(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${server?.url ?? ''}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  it('serves predictions of the champion in MLflow request shapes, and refuses bad input naming the field', async () => {
    server = await startModelServer({ client: mlflow, uri: `models:/${name}@champion`, pollIntervalMs: 100 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const document = await getJson(store, parseArtifactRef(models.softmax?.model), modelDocumentSchema, 'model');
    const expected = predictRecords(compileModel(document), testRows);
    const records = await predict({ dataframe_records: testRows });
    expect(records.status).toBe(200);
    expect(records.json.predictions).toEqual(expected.predictions);
    expect(records.json.model).toEqual({ name, version: '1', uri: `models:/${name}@champion` });
    expect(records.json.classes).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    const columns = Object.keys(testRows[0] ?? {});
    const split = await predict({
      dataframe_split: { columns, data: testRows.slice(0, 3).map((row) => columns.map((column) => row[column])) },
    });
    expect(split.json.predictions).toEqual(expected.predictions.slice(0, 3));
    expect((await predict({ instances: testRows.slice(0, 1) })).json.predictions).toEqual(
      expected.predictions.slice(0, 1),
    );

    const { ['Beak Length (mm)']: _dropped, ...withoutBeak } = testRows[0] ?? {};
    const missing = await predict({ dataframe_records: [withoutBeak] });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ error_code: 'BAD_REQUEST', field: 'Beak Length (mm)' });
    expect(missing.json.message).toMatch(/row 0: field "Beak Length \(mm\)" is required \(double\)/);
    const wrongType = await predict({ dataframe_records: [{ ...testRows[0], 'Body Mass (g)': 'heavy' }] });
    expect(wrongType.json).toMatchObject({ error_code: 'BAD_REQUEST', field: 'Body Mass (g)' });
    expect((await predict('{not json')).status).toBe(400);
    expect((await predict({ rows: [] })).json.message).toMatch(/needs one of dataframe_records/);
    expect((await predict({ dataframe_records: [] })).status).toBe(400);
    const health = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', model: { name, version: '1' }, reloads: 0 });
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });

  it('logs a sample of requests and predictions to the artifact store as JSON lines', async () => {
    const logged = await startModelServer({
      client: mlflow,
      uri: `models:/${name}/1`,
      log: { store, sampleRate: 1, flushRows: 1000 },
    });
    try {
      const answer = await fetch(`${logged.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ dataframe_records: testRows.slice(0, 3) }),
      });
      expect(answer.status).toBe(200);
    } finally {
      await logged.close();
    }
    const [written, ...more] = logged.log?.written ?? [];
    expect(more).toEqual([]);
    expect(written?.metadata).toMatchObject({ kind: 'prediction-log', rows: 3 });
    const lines = (await readFile(fileURLToPath(written?.uri ?? ''), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual(
      testRows.slice(0, 3).map((input) => ({
        time: expect.any(String) as unknown,
        model: name,
        version: '1',
        input,
        prediction: expect.any(String) as unknown,
      })),
    );
  });

  it('hot-reloads when the alias moves, while requests are in flight, none failing', async () => {
    if (server === undefined) throw new Error('no server');
    const version = await register('forest', 'register-2');
    expect(version).toBe('2');
    const seen: string[] = [];
    let moved = false;
    let stop = false;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const answer = await predict({ dataframe_records: testRows.slice(0, 20) });
        expect(answer.status).toBe(200);
        const served = (answer.json.model as { version: string }).version;
        seen.push(served);
        if (served === '2') stop = moved;
      }
    });
    await pollUntil('a few requests on version 1', () => seen.length >= 8);
    await mlflow.registeredModels.setAlias(name, 'champion', '2');
    moved = true;
    await pollUntil('requests answered by version 2', () => seen.includes('2'), { timeoutMs: 30_000 });
    stop = true;
    await Promise.all(clients);
    const first2 = seen.indexOf('2');
    expect(seen.slice(0, first2).every((served) => served === '1')).toBe(true);
    expect(server.holder.reloads).toBe(1);
  });

  it('evaluate@2: a champion of another format is incompatible, not an error', async () => {
    const other = `${name}-other`;
    const context = stepContext(store, directory, tracker, 'register-other');
    const legacy = await putJson(store, { kind: 'linear-regression', coefficients: [1] }, { type: 'model' });
    await registerModel({ model: legacy, name: other, alias: 'champion', fileName: 'model.json' }, context);
    const evaluated = await runEvaluate(
      { model: models.softmax?.model ?? null, test, champion: `${other}@champion` },
      stepContext(store, directory, tracker, 'evaluate-other'),
    );
    expect(evaluated.outputs.champion).toMatchObject({ status: 'incompatible', uri: `models:/${other}@champion` });
    expect((evaluated.outputs.champion as { reason: string }).reason).toMatch(/is not an mloe.model document/);
    expect(evaluated.outputs.beatsChampion).toBe(false);
  });

  it('mloe serve refuses a malformed model reference, a bad flag and a model that is not registered', async () => {
    const run = async (args: string[]) => {
      const out = { code: 0, stderr: [] as string[] };
      const program = buildProgram(
        { stdout: () => undefined, stderr: (line) => out.stderr.push(line) },
        (code) => {
          out.code = code;
        },
        { MLFLOW_TRACKING_URI: TRACKING_URI },
      );
      program.exitOverride();
      await program.parseAsync(['node', 'mloe', 'serve', ...args]);
      return out;
    };
    const malformed = await run(['penguins']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr.join('\n')).toMatch(/expected NAME@ALIAS, NAME\/VERSION or a models:\/ URI/);
    expect((await run([`${name}@champion`, '--port', 'http'])).stderr.join('\n')).toMatch(
      /--port: expected an integer from 0 to 65535, got "http"/,
    );
    const missing = await run([`${name}-nope@champion`, '--port', '0']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.join('\n')).toContain(`nothing is registered as models:/${name}-nope@champion`);
  });

  it('deploy@1 starts an mloe serve process for the alias, and a second deploy of that version is a no-op', async () => {
    const context = stepContext(store, directory, tracker, 'deploy');
    const first = await runDeploy({ model: `${name}@champion` }, context);
    expect(first.outputs).toMatchObject({ name, version: '2', changed: true });
    const url = first.outputs.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${url}/health`)).json()) as { model: { version: string } };
    expect(health.model.version).toBe('2');
    const answer = await fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dataframe_records: testRows.slice(0, 2) }),
    });
    expect(((await answer.json()) as { predictions: unknown[] }).predictions).toHaveLength(2);
    const second = await runDeploy({ model: `${name}@champion` }, context);
    expect(second.outputs).toEqual({ ...first.outputs, changed: false });
    // The alias moves back: the running server is told to reload, no new process.
    await mlflow.registeredModels.setAlias(name, 'champion', '1');
    const third = await runDeploy({ model: `${name}@champion` }, context);
    expect(third.outputs).toEqual({ ...first.outputs, version: '1', changed: true });
  }, 180_000);
});
