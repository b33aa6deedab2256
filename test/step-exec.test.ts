/**
 * `mloe step exec NAME@VERSION` (clients/step-exec.ts): a built-in step under the command-step contract. Run by the
 * local runner (the same contract remote executors stage), it stores outputs equal to those of the same step on the
 * worker; bad invocations and broken contracts fail with clear errors and codes. The spec side of built-in steps on
 * remote executors (validation, placement, the worker's Batch defaults, the cache key's image) is checked here too.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { FileArtifactStore, parseArtifactRef, type ArtifactRef } from '../activities/artifacts';
import { explainKeyChange } from '../activities/cache/explain';
import type { CacheKeyParts } from '../activities/cache/key';
import { runCommandStep } from '../activities/runner';
import { BUILTIN_STEP_IMPLEMENTATIONS } from '../activities/steps';
import {
  builtinCommandRequest,
  DEFAULT_BUILTIN_STEP_IMAGE,
  type RemoteBuiltinRequest,
} from '../activities/steps/remote-builtin';
import { createStepRegistry, stepPlacement, validatePipeline } from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { loadWorkerConfig } from '../workers/config';
import { runMloe } from './support/cli';
import { HOUSING_DATA } from './support/examples';
import { thrownBy } from './support/rejection';
import { suiteTemporaryDirectories } from './temporary-directories';

const REPO = resolve(__dirname, '..');
const COLUMNS = ['sqft', 'bedrooms', 'age_years', 'distance_km', 'price_k'];
const temporaryDirectory = suiteTemporaryDirectories('mloe-step-exec-');
jest.setTimeout(120_000);

/** A contract directory as a runner lays it out, with `inputs.json` as given; the variables that name it. */
async function contract(inputs: Record<string, unknown>): Promise<Record<string, string>> {
  const work = await temporaryDirectory();
  await mkdir(join(work, 'outputs'));
  await mkdir(join(work, 'tmp'));
  await writeFile(join(work, 'params.json'), '{}\n');
  await writeFile(join(work, 'inputs.json'), JSON.stringify(inputs));
  return {
    MLOE_WORK_DIR: work,
    MLOE_INPUTS_DIR: join(work, 'inputs'),
    MLOE_INPUTS_FILE: join(work, 'inputs.json'),
    MLOE_PARAMS_FILE: join(work, 'params.json'),
    MLOE_OUTPUTS_DIR: join(work, 'outputs'),
    MLOE_STEP_ID: 'validate',
    MLOE_WORKFLOW_ID: 'step-exec-test',
    TMPDIR: join(work, 'tmp'),
  };
}

/** The housing data as a dataset artifact in a fresh file store. */
async function housingDataset(): Promise<{ store: FileArtifactStore; dataset: ArtifactRef }> {
  const store = FileArtifactStore.inWorkingDirectory(await temporaryDirectory());
  const ingest = BUILTIN_STEP_IMPLEMENTATIONS.get('ingest@1');
  const context = {
    stepId: 'ingest',
    workflowId: 'step-exec-test',
    store,
    workingDir: REPO,
    attempt: 1,
    signal: new AbortController().signal,
  };
  const { outputs } = await ingest!.run({ dataPath: HOUSING_DATA }, context);
  return { store, dataset: parseArtifactRef(outputs.dataset) };
}

describe('mloe step exec', () => {
  it('stores the same outputs through the command-step contract as the step stores on the worker', async () => {
    const { store, dataset } = await housingDataset();
    const inputs = { dataset, columns: COLUMNS };
    const onWorker = await BUILTIN_STEP_IMPLEMENTATIONS.get('validate@1')!.run(inputs, {
      stepId: 'validate',
      workflowId: 'step-exec-test',
      store,
      workingDir: REPO,
      attempt: 1,
      signal: new AbortController().signal,
    });
    // The local runner: inputs as files, `mloe step exec` as the command (this checkout's CLI), outputs collected.
    const descriptor = BUILTIN_STEPS.find((step) => step.name === 'validate' && step.version === '1')!;
    const contained = await runCommandStep(
      {
        stepId: 'validate',
        workflowId: 'step-exec-test',
        command: [process.execPath, join(REPO, 'bin', 'mloe.js'), 'step', 'exec', 'validate@1'],
        params: {},
        inputs,
        outputs: Object.fromEntries(
          Object.entries(descriptor.outputs).map(([name, port]) => [name, { type: port.type }]),
        ),
        artifactRoot: store.root,
        builtinStep: 'validate@1',
      },
      { store },
    );
    // Content-addressed, with the step's own types and metadata: the very references the worker stored.
    expect(contained.outputs).toEqual(onWorker.outputs);
    expect(contained.outputs.dataset).toEqual(dataset);
    const log = await store.get(parseArtifactRef(contained.logs.stdout));
    const text = Buffer.concat(await log.toArray()).toString('utf8');
    expect(text).toMatch(/^mloe step exec validate@1: step validate of run step-exec-test$/m);
    expect(text).toMatch(/^ {2}output report: report sha256:[0-9a-f]{12} \(\d+ bytes\)$/m);
    expect(text).toMatch(/^ {2}values: rows$/m);
  });

  it('refuses a step that is not built in, or that runs on the worker only, with CONFIG_INVALID and exit code 2', async () => {
    const env = await contract({});
    const unknown = await runMloe(['step', 'exec', 'nope@1'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr[0]).toBe(
      'error: CONFIG_INVALID: there is no built-in step "nope@1": mloe step exec runs validate@1, featurize@1, ' +
        'train@1, evaluate@1, validate@2, split@1, features@1, train@2 (name@version, exactly)',
    );
    const unversioned = await runMloe(['step', 'exec', 'train'], env);
    expect(unversioned.stderr[0]).toMatch(/^error: CONFIG_INVALID: there is no built-in step "train"/);
    const workerOnly = await runMloe(['step', 'exec', 'register@1'], env);
    expect(workerOnly.code).toBe(2);
    expect(workerOnly.stderr[0]).toMatch(
      /^error: CONFIG_INVALID: the built-in step "register@1" runs on the worker only: mloe step exec runs validate@1/,
    );
    expect(workerOnly.stdout).toEqual([]);
    // The last line, which the worker reads back from a job's log: the code, and that a retry cannot help.
    expect(workerOnly.stderr.at(-1)).toBe('mloe step exec: failed with CONFIG_INVALID (not retryable)');
  });

  it('names the contract variables and files that are missing, with STEP_COMMAND_INVALID', async () => {
    const env = await contract({});
    const { MLOE_INPUTS_FILE: _inputs, MLOE_OUTPUTS_DIR: _outputs, ...partial } = env;
    const missing = await runMloe(['step', 'exec', 'validate@1'], { ...partial, MLOE_WORK_DIR: 'relative' });
    expect(missing.code).toBe(2);
    expect(missing.stderr[0]).toBe(
      "error: STEP_COMMAND_INVALID: mloe step exec runs inside a command step, whose runner sets the contract's " +
        'variables: MLOE_INPUTS_FILE is not set; MLOE_OUTPUTS_DIR is not set; MLOE_WORK_DIR is not an absolute path ' +
        '(docs/command-steps.md)',
    );
    const noFile = await runMloe(['step', 'exec', 'validate@1'], {
      ...env,
      MLOE_INPUTS_FILE: join(env.MLOE_WORK_DIR!, 'absent.json'),
    });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr[0]).toBe(
      `error: STEP_COMMAND_INVALID: MLOE_INPUTS_FILE names ${join(env.MLOE_WORK_DIR!, 'absent.json')}, which cannot ` +
        'be read (ENOENT): the stage-in step writes it before the command starts',
    );
    await writeFile(env.MLOE_PARAMS_FILE!, '[1]');
    const badParams = await runMloe(['step', 'exec', 'validate@1'], env);
    expect(badParams.stderr[0]).toBe(
      `error: STEP_COMMAND_INVALID: MLOE_PARAMS_FILE (${env.MLOE_PARAMS_FILE!}) must hold a JSON object`,
    );
  });

  it('fails on a staged input that is missing or does not match its digest, and with the step’s own error', async () => {
    const { store, dataset } = await housingDataset();
    const path = store.pathOf(dataset.digest);
    const absent = await contract({ dataset: { ...dataset, path: '/nonexistent/dataset' }, columns: COLUMNS });
    const notFound = await runMloe(['step', 'exec', 'validate@1'], absent);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr[0]).toBe(
      'error: ARTIFACT_NOT_FOUND: input dataset: the staged file /nonexistent/dataset is missing (inputs.json names ' +
        'it; the stage-in step did not write it)',
    );

    const tampered = join(await temporaryDirectory(), 'dataset');
    await writeFile(tampered, 'sqft,price_k\n1,2\n');
    const corrupt = await runMloe(
      ['step', 'exec', 'validate@1'],
      await contract({ dataset: { ...dataset, path: tampered }, columns: COLUMNS }),
    );
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr[0]).toMatch(
      new RegExp(
        `^error: ARTIFACT_CORRUPT: input dataset: the staged file ${tampered} is sha256:[0-9a-f]{64} \\(17 bytes\\), expected ${dataset.digest}`,
      ),
    );

    const wrongColumns = await contract({ dataset: { ...dataset, path }, columns: ['sqft'] });
    const failed = await runMloe(['step', 'exec', 'validate@1'], wrongColumns);
    expect(failed.code).toBe(1);
    expect(failed.stderr[0]).toMatch(/^error: DATA_INVALID: /);
    expect(failed.stderr).toHaveLength(2);
    expect(failed.stderr[1]).toBe('mloe step exec: failed with DATA_INVALID (not retryable)');
  });
});

describe('built-in steps on remote executors in a spec', () => {
  const registry = createStepRegistry(BUILTIN_STEPS);
  const spec = (train: Record<string, unknown>, defaults?: Record<string, unknown>) => ({
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'remote-builtin' },
    ...(defaults === undefined ? {} : { defaults }),
    steps: {
      train: {
        with: { train: 's3://b/train.parquet', transform: 's3://b/transform.json', algorithm: 'forest' },
        uses: 'train@2',
        ...train,
      },
    },
  });
  const issues = (input: Record<string, unknown>) =>
    validatePipeline(input, { registry }).issues.map(({ code, path, message }) => ({ code, path, message }));

  test('a built-in that runs in a container takes an executor of its own, and its image', () => {
    const result = validatePipeline(spec({ executor: 'kubernetes', image: 'registry.local/mloe:2' }), { registry });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(stepPlacement(result.spec.defaults, result.spec.steps.train!)).toEqual({
      executor: 'kubernetes',
      image: 'registry.local/mloe:2',
    });
    // defaults.executor is for run: steps; a batch step's queue and definition may come from the worker.
    const fromDefaults = validatePipeline(spec({}, { executor: 'kubernetes' }), { registry });
    if (!fromDefaults.ok) throw new Error(JSON.stringify(fromDefaults.issues));
    expect(stepPlacement(fromDefaults.spec.defaults, fromDefaults.spec.steps.train!)).toEqual({ executor: 'local' });
    expect(issues(spec({ executor: 'batch' }))).toEqual([]);
  });

  test('refuses built-ins that run on the worker, an image on a run step, and the other executor’s settings', () => {
    expect(
      issues({ ...spec({}), steps: { deploy: { uses: 'deploy@1', executor: 'batch', with: { model: 'm@a' } } } }),
    ).toEqual([
      {
        code: 'INVALID_STEP',
        path: 'steps.deploy.executor',
        message: "step 'deploy' (deploy@1) cannot run on the batch executor: it runs on the worker",
      },
    ]);
    expect(
      issues({ ...spec({}), steps: { fit: { run: { command: ['x'] }, image: 'python:3.12' } } }).map(
        (issue) => issue.message,
      ),
    ).toEqual(["step 'fit' has 'image', which only a registered ('uses') step takes"]);
    expect(issues(spec({ executor: 'kubernetes', batch: { jobQueue: 'q' } }))).toEqual([
      {
        code: 'INVALID_VALUE',
        path: 'steps.train.batch',
        message: "step 'train' runs on the kubernetes executor, so its batch settings would be ignored",
      },
    ]);
  });

  test('the worker supplies the image and Batch defaults; without a job queue anywhere, CONFIG_INVALID', () => {
    const implementation = BUILTIN_STEP_IMPLEMENTATIONS.get('train@2')!;
    const request: RemoteBuiltinRequest = {
      stepId: 'train',
      workflowId: 'w',
      firstExecutionRunId: 'r',
      pipeline: 'p',
      uses: 'train@2',
      inputs: {},
      params: {},
      outputs: {},
      workingDir: '/',
      placement: { executor: 'batch', batch: { jobDefinition: 'own:1' } },
    };
    const built = builtinCommandRequest(implementation, request, 's3://b/p', { batch: { jobQueue: 'q' } });
    expect(built).toMatchObject({
      command: ['mloe', 'step', 'exec', 'train@2'],
      image: DEFAULT_BUILTIN_STEP_IMAGE,
      placement: { executor: 'batch', batch: { jobQueue: 'q', jobDefinition: 'own:1' } },
      builtinStep: 'train@2',
      outputs: { model: { type: 'model' }, metrics: { type: 'metrics' }, trainRows: { type: 'integer' } },
    });
    expect(thrownBy(() => builtinCommandRequest(implementation, request, 's3://b/p'))).toMatchObject({
      code: 'CONFIG_INVALID',
      retryable: false,
      message:
        'step train (train@2) runs on the batch executor without batch.jobQueue: set it on the step or in ' +
        'defaults, or start the worker with MLOE_BUILTIN_BATCH_JOB_QUEUE (docs/executors.md)',
    });
  });

  test('worker settings: the published image by default, an image without a tag refused', () => {
    expect(DEFAULT_BUILTIN_STEP_IMAGE).toMatch(/^ghcr\.io\/mloe\/mloe-worker:\d+\.\d+\.\d+/);
    expect(loadWorkerConfig({ env: { MLOE_EXECUTORS: 'kubernetes' }, cwd: '/tmp' }).builtinSteps).toEqual({
      image: DEFAULT_BUILTIN_STEP_IMAGE,
    });
    expect(loadWorkerConfig({ env: {}, cwd: '/tmp' }).builtinSteps).toBeUndefined();
    expect(
      loadWorkerConfig({
        env: {
          MLOE_EXECUTORS: 'batch',
          MLOE_BUILTIN_STEP_IMAGE: 'localhost:5000/mloe@sha256:' + 'a'.repeat(64),
          MLOE_BUILTIN_BATCH_JOB_QUEUE: 'gpu',
          MLOE_BUILTIN_BATCH_JOB_DEFINITION: 'mloe-builtin:3',
        },
        cwd: '/tmp',
      }).builtinSteps,
    ).toEqual({
      image: `localhost:5000/mloe@sha256:${'a'.repeat(64)}`,
      batch: { jobQueue: 'gpu', jobDefinition: 'mloe-builtin:3' },
    });
    expect(() =>
      loadWorkerConfig({ env: { MLOE_EXECUTORS: 'kubernetes', MLOE_BUILTIN_STEP_IMAGE: 'ghcr.io/mloe/mloe-worker' } }),
    ).toThrow(/MLOE_BUILTIN_STEP_IMAGE.*neither a tag nor a digest/);
  });

  test('the image is part of a remote built-in step’s cache key, and a change of it is explained', () => {
    const parts = (image?: string): CacheKeyParts => ({
      definition: { ref: 'train@2', digest: image ?? 'worker', ...(image === undefined ? {} : { image }) },
      inputs: {},
      params: {},
      files: {},
    });
    expect(explainKeyChange(parts(), parts('ghcr.io/mloe/mloe-worker:0.1.0'))).toEqual([
      'train@2 runs in ghcr.io/mloe/mloe-worker:0.1.0 (was the worker)',
    ]);
  });
});
