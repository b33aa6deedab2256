/**
 * `mloe models` in-process (`buildProgram`), against the jest MLflow server (`MLFLOW_TEST_TRACKING_URI` given as the
 * command's `MLFLOW_TRACKING_URI`): list, versions, show by alias and by version (with the `MLmodel` that
 * `register@1` wrote), alias set and delete, read back through the typed client; and its errors: an unknown model, a
 * malformed reference, a server that is down.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MockActivityEnvironment } from '@temporalio/testing';

import { FileArtifactStore, putJson } from '../activities/artifacts';
import { MlflowError, createMlflowClient, mlflowConfig, type MlflowClient } from '../activities/mlflow';
import { createRunStep, type RunStepResult } from '../activities/steps';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { describeFailure, parseVersionReference } from '../clients/models';
import { loadModelsConfig } from '../workers/config';
import { runMloe, type CliResult } from './support/cli';
import { closedPort } from './support/ports';
import { trackRunningPipeline } from './support/ml-fixtures';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';

/** Runs `mloe <args>` in-process with `env` (by default, the jest MLflow server's address). */
const mloe = (
  args: string[],
  env: Record<string, string> = { MLFLOW_TRACKING_URI: TRACKING_URI },
): Promise<CliResult> => runMloe(args, env);

describe('mloe models', () => {
  let directory: string;
  let mlflow: MlflowClient;
  const name = `cli-model-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-models-cli-'));
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    const tracker = new MlflowTracker(config, { warn: () => undefined });
    const store = new FileArtifactStore({ root: join(directory, 'store') });
    const runStep = createRunStep(undefined, { stores: () => store, tracking: tracker, warn: () => undefined });
    // Two versions registered by two pipeline runs, as register@1 registers them.
    for (const workflowId of [`${name}-a`, `${name}-b`]) {
      await trackRunningPipeline(tracker, name, workflowId);
      const model = await putJson(store, { workflowId }, { type: 'model' });
      const result: RunStepResult = await new MockActivityEnvironment().run(runStep, {
        stepId: 'register',
        workflowId,
        firstExecutionRunId: 'r',
        pipeline: name,
        uses: 'register@1',
        inputs: { model, name, alias: 'champion', signatureInputs: ['x'], signatureOutputs: ['y'] },
        params: {},
        outputs: {},
        workingDir: directory,
      });
      expect(result.outputs.version).toBe(workflowId.endsWith('a') ? '1' : '2');
    }
  });

  afterAll(async () => {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('lists models and versions, newest first', async () => {
    const listed = await mloe(['models', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout[0]).toMatch(/^name +latest +aliases +updated +description$/);
    expect(listed.stdout.find((line) => line.startsWith(`${name} `))).toMatch(
      new RegExp(`^${name} +2 +champion→2 +\\d{4}-\\d\\d-\\d\\dT`),
    );

    const versions = await mloe(['models', 'versions', name]);
    expect(versions.code).toBe(0);
    expect(versions.stdout[0]).toMatch(/^version +created +aliases +run +mloe run +source$/);
    expect(
      versions.stdout.slice(1).map((line) =>
        line
          .split(/ +/)
          .slice(0, 1)
          .concat(line.split(/ +/)[2] ?? ''),
      ),
    ).toEqual([
      ['2', 'champion'],
      ['1', '-'],
    ]);
    expect(versions.stdout[1]).toContain(`${name}-b`); // the mloe run that registered it
    expect(versions.stdout[1]).toMatch(/mlflow-artifacts:\/\S+\/models\/sha256\/[0-9a-f]{64}$/);
  });

  it('shows a version by alias and by number, with its MLmodel', async () => {
    const byAlias = await mloe(['models', 'show', `${name}@champion`]);
    expect(byAlias.code).toBe(0);
    expect(byAlias.stdout).toEqual(
      expect.arrayContaining([
        `model    ${name} version 2`,
        'aliases  champion',
        'status   READY',
        `  mloe.workflowId = ${name}-b`,
        'MLmodel:',
        '  artifact_path: model',
      ]),
    );
    expect(byAlias.stdout.join('\n')).toContain('{"type":"double","name":"x","required":true}'); // the signature
    const byNumber = await mloe(['models', 'show', `${name}/1`]);
    expect(byNumber.stdout[0]).toBe(`model    ${name} version 1`);
  });

  it('sets and deletes aliases', async () => {
    const set = await mloe(['models', 'alias', 'set', name, 'staging', '1']);
    expect(set).toMatchObject({ code: 0, stdout: [`${name}@staging → version 1`] });
    expect((await mlflow.registeredModels.getVersionByAlias(name, 'staging')).version).toBe('1');
    const moved = await mloe(['models', 'alias', 'set', name, 'champion', '1']);
    expect(moved.code).toBe(0);
    expect((await mlflow.registeredModels.getVersionByAlias(name, 'champion')).version).toBe('1');
    const deleted = await mloe(['models', 'alias', 'delete', name, 'staging']);
    expect(deleted).toMatchObject({ code: 0, stdout: [`${name}@staging deleted`] });
    expect((await mlflow.registeredModels.get(name)).aliases.map((alias) => alias.alias)).toEqual(['champion']);
  });

  it('says what is wrong: an unknown model (1), a malformed reference or version (2), a server that is down (1)', async () => {
    const unknown = await mloe(['models', 'versions', `${name}-nope`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.join('\n')).toMatch(new RegExp(`RESOURCE_DOES_NOT_EXIST.*${name}-nope`));

    const malformed = await mloe(['models', 'show', name]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr[0]).toContain('expected NAME@ALIAS or NAME/VERSION');
    expect((await mloe(['models', 'alias', 'set', name, 'x', 'latest'])).code).toBe(2);

    const port = await closedPort();
    const down = await mloe(['models', 'list'], {
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    });
    expect(down.code).toBe(1);
    expect(down.stderr[0]).toBe(
      `error: no MLflow tracking server answers at http://127.0.0.1:${port}: check MLFLOW_TRACKING_URI (CONNECTION_FAILED)`,
    );
  });

  it("defaults to mloe dev's server, and says how to start it when nothing answers there", () => {
    const target = loadModelsConfig({ env: {} });
    expect(target).toMatchObject({ origin: 'default', mlflow: { trackingUri: 'http://127.0.0.1:5000' } });
    const refused = new MlflowError('refused', { errorCode: 'CONNECTION_FAILED', endpoint: 'GET /x', retryable: true });
    expect(describeFailure(refused, target)).toBe(
      'no MLflow tracking server answers at http://127.0.0.1:5000: start one with `mloe dev` (MLflow on 127.0.0.1:5000) or set MLFLOW_TRACKING_URI (CONNECTION_FAILED)',
    );
    expect(parseVersionReference('team/model/3')).toEqual({ name: 'team/model', version: '3' });
    expect(parseVersionReference('m@champion')).toEqual({ name: 'm', alias: 'champion' });
  });
});
