/**
 * The Python/scikit-learn example pipeline (`pipelines/penguins-sklearn/pipeline.yaml`) end to end, through the real
 * worker on the jest dev server with MLflow tracking on the jest MLflow server: ingest@2 of the penguins JSON,
 * validate@2, a stratified split@1 to CSV, a `run:` step training a random forest with /usr/bin/python3, and
 * register@1. The registered model is downloaded from MLflow and asked for a prediction in Python.
 *
 * Needs Debian's python3-sklearn and python3-pandas: CI installs them in `.ci/run` (the README's own commands do not
 * need them; only this suite does).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { createMlflowClient, mlflowConfig } from '../activities/mlflow';
import { trackingConfigFromEnv } from '../activities/tracking';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';

jest.setTimeout(300_000);

const ROOT = resolve(__dirname, '..');
const SPEC = join(ROOT, 'pipelines', 'penguins-sklearn', 'pipeline.yaml');
const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const PYTHON = '/usr/bin/python3';

describe('pipelines/penguins-sklearn', () => {
  let env: TestEnv;
  let stop: (() => Promise<void>) | undefined;
  let directory: string;
  const taskQueue = `mloe-penguins-${process.pid}-${Date.now()}`;
  const modelName = `penguins-sklearn-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    await promisify(execFile)(PYTHON, ['-c', 'import sklearn, pandas']).catch((error: unknown) => {
      throw new Error(
        `${PYTHON} cannot import scikit-learn and pandas, which this suite's pipeline needs: install them with ` +
          '`apt-get install python3-sklearn python3-pandas` (CI does so in .ci/run)',
        { cause: error },
      );
    });
    directory = await mkdtemp(join(tmpdir(), 'mloe-penguins-'));
    const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (tracking === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    ({ env, stop } = await startPipelineTestWorker({ taskQueue, tracking }));
  });

  afterAll(async () => {
    await stop?.();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('ingests, validates, splits, trains in Python (accuracy >= 0.95) and registers a model that predicts', async () => {
    const started = await startPipeline(env.client, {
      file: SPEC,
      params: { modelName },
      artifactRoot: directory,
      workingDir: ROOT,
      taskQueue,
    });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 100 });
    const train = outcome.status.steps.find((step) => step.id === 'train');
    expect({ error: outcome.error, state: outcome.status.state }).toEqual({ error: undefined, state: 'completed' });

    const byId = Object.fromEntries(outcome.status.steps.map((step) => [step.id, step]));
    expect(byId.ingest?.outputs).toMatchObject({ rows: 333, droppedRows: 11 });
    expect(byId.validate?.outputs).toMatchObject({ rows: 333 });
    expect(byId.split?.outputs).toMatchObject({ trainRows: 266, testRows: 67 });
    const accuracy = train?.outputs?.accuracy as number;
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    expect(train?.outputs).toMatchObject({ trainRows: 266, testRows: 67 });
    expect(byId.register?.state).toBe('completed');
    expect(byId.register?.outputs).toMatchObject({ version: '1', modelUri: `models:/${modelName}/1` });

    const mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    // The split step's MLflow run names the dataset it read, with its rows and columns.
    const experiment = await mlflow.experiments.getByName('penguins-sklearn');
    const [splitRun] = (
      await mlflow.runs.search({
        experimentIds: [experiment.experimentId],
        filter: `tags.\`mloe.workflowId\` = '${started.workflowId}' and tags.\`mloe.stepId\` = 'split'`,
      })
    ).items;
    const [input] = splitRun?.inputs.datasetInputs ?? [];
    expect(JSON.parse(input?.dataset.profile ?? '{}')).toMatchObject({ num_rows: 333 });
    expect(JSON.parse(input?.dataset.schema ?? '{}')).toMatchObject({
      mlflow_colspec: expect.arrayContaining([
        { type: 'string', name: 'Species', required: false },
        { type: 'long', name: 'Body Mass (g)', required: false },
      ]) as unknown,
    });

    const version = await mlflow.registeredModels.getVersionByAlias(modelName, 'champion');
    expect(version.version).toBe('1');
    const pickled = await mlflow.artifacts.downloadBytes({ uri: version.source, path: 'model.pkl' });
    const modelPath = join(directory, 'model.pkl');
    await writeFile(modelPath, pickled);
    const predict = [
      'import pickle, sys, pandas as pd',
      'model = pickle.load(open(sys.argv[1], "rb"))',
      'rows = pd.DataFrame([',
      '  {"Island": "Torgersen", "Sex": "MALE", "Beak Length (mm)": 39.1, "Beak Depth (mm)": 18.7,',
      '   "Flipper Length (mm)": 181, "Body Mass (g)": 3750},',
      '  {"Island": "Biscoe", "Sex": "FEMALE", "Beak Length (mm)": 46.1, "Beak Depth (mm)": 13.2,',
      '   "Flipper Length (mm)": 211, "Body Mass (g)": 4500}])',
      'print(",".join(model.predict(rows)))',
    ].join('\n');
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', predict, modelPath]);
    expect(stdout.trim()).toBe('Adelie,Gentoo');
  });

  it('stops at validate on bad data, naming column and rule; nothing is trained or registered', async () => {
    const penguins = JSON.parse(
      await readFile(join(ROOT, 'node_modules', 'vega-datasets', 'data', 'penguins.json'), 'utf8'),
    ) as Record<string, unknown>[];
    const first = penguins[0];
    if (first !== undefined) first['Body Mass (g)'] = 'heavy';
    const source = join(directory, 'penguins-bad.json');
    await writeFile(source, JSON.stringify(penguins));
    const name = `${modelName}-bad`;
    const started = await startPipeline(env.client, {
      file: SPEC,
      params: { modelName: name, source },
      artifactRoot: directory,
      workingDir: ROOT,
      taskQueue,
    });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 100 });
    expect(outcome.status.state).toBe('failed');
    const byId = Object.fromEntries(outcome.status.steps.map((step) => [step.id, step]));
    expect(byId.validate?.state).toBe('failed');
    expect(byId.validate?.attempts).toBe(1); // bad data is not retried
    // A JSON column mixing numbers and text is typed JSON; the examples are the rows that are not numbers.
    expect(byId.validate?.error).toContain('column "Body Mass (g)": rule type: expected type number, observed JSON');
    expect(byId.validate?.error).toContain('e.g. row 1 {"Body Mass (g)":"\\"heavy\\""');
    expect(byId.validate?.error).not.toContain('row 2 {');
    expect(byId.train?.state).not.toBe('completed');
    expect(byId.register?.state).not.toBe('completed');
    const mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    const versions = await mlflow.modelVersions.search({ filter: `name = '${name}'` });
    expect(versions.items).toEqual([]);
  });
});
