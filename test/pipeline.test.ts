/**
 * The pipeline interpreter (`runPipeline`) on the jest dev server with a real worker: the demo spec end to end,
 * `maxParallel`, `when` and skipping, failures and `continueOnFailure`, retries, cancellation, `foreach` (in the
 * workflow and over child batches), the status query, search attributes, and replay of every history.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

import { Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';

import {
  BUILTIN_IMPLEMENTATIONS,
  createStepImplementations,
  type StepImplementation,
  type StepImplementations,
} from '../activities/steps';
import { trackingConfigFromEnv } from '../activities/tracking';
import { MloeError } from '../core/errors';
import {
  cancelPipeline,
  getPipelineStatus,
  startPipeline,
  statusFromFailure,
  waitForPipeline,
  type PipelineOutcome,
  type StartPipelineOptions,
} from '../clients/pipelines';
import { pipelineStatusQuery, type PipelineRunStatus, type RunPipelineWorkflow } from '../workflows/types';
import { type TestEnv } from './devserver/harness';
import { ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP, cancelledActivities, startedActivities } from './fixtures/test-steps';
import { specOf, startPipelineTestWorker, stepIn, uniqueName } from './pipeline-harness';
import { pollUntil } from './support/poll';
import { replayAll } from './support/replay';

const REPO = resolve(__dirname, '..');
const BIN = join(REPO, 'bin', 'mloe.js');
const execFileAsync = promisify(execFile);

/** Steps only these tests register. */
const TEST_STEPS: StepImplementation[] = [
  ECHO_STEP,
  {
    descriptor: {
      name: 'sleep',
      version: '1',
      inputs: { ms: { type: 'integer' } },
      outputs: { slept: { type: 'integer' } },
    },
    async run(inputs, context) {
      const ms = Number(inputs.ms);
      await delay(ms, undefined, { signal: context.signal }).catch(() => undefined);
      return { outputs: { slept: ms } };
    },
  },
  {
    descriptor: {
      name: 'flaky',
      version: '1',
      inputs: { failures: { type: 'integer' } },
      outputs: { attempt: { type: 'integer' } },
    },
    async run(inputs, context) {
      if (context.attempt <= Number(inputs.failures)) {
        throw new MloeError('ARTIFACT_STORE_FAILED', `attempt ${context.attempt} fails`, { retryable: true });
      }
      return { outputs: { attempt: context.attempt } };
    },
  },
  FAIL_STEP,
  WAIT_CANCEL_STEP,
  {
    descriptor: {
      name: 'square',
      version: '1',
      inputs: { n: { type: 'integer' } },
      outputs: { square: { type: 'integer' } },
    },
    async run(inputs) {
      const n = Number(inputs.n);
      return { outputs: { square: n * n }, metrics: { n } };
    },
  },
];

const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, TEST_STEPS);

describe('runPipeline on the dev server', () => {
  let env: TestEnv;
  let client: Client;
  let workflowBundle: WorkflowBundleWithSourceMap;
  let stopWorker: (() => Promise<void>) | undefined;
  let artifactRoot: string;
  const taskQueue = `mloe-pipeline-test-${process.pid}-${Date.now()}`;
  const handles: WorkflowHandle<RunPipelineWorkflow>[] = [];

  beforeAll(async () => {
    artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-pipeline-test-'));
    // Tracked in the jest MLflow server, as `mloe dev` tracks: the demo spec registers its model there.
    const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: process.env.MLFLOW_TEST_TRACKING_URI });
    ({
      env,
      workflowBundle,
      stop: stopWorker,
    } = await startPipelineTestWorker({
      taskQueue,
      steps,
      ...(tracking === undefined ? {} : { tracking }),
    }));
    client = env.client;
  });

  afterAll(async () => {
    await stopWorker?.();
    if (artifactRoot !== undefined) await rm(artifactRoot, { recursive: true, force: true });
  });

  /** Starts a run with the test steps on the test queue and waits for its end. */
  async function run(
    options: StartPipelineOptions,
    onStatus?: (status: PipelineRunStatus) => void,
  ): Promise<PipelineOutcome & { handle: WorkflowHandle<RunPipelineWorkflow>; workflowId: string }> {
    const started = await startPipeline(client, {
      artifactRoot,
      workingDir: REPO,
      taskQueue,
      descriptors: steps.descriptors,
      ...options,
    });
    handles.push(started.handle);
    const outcome = await waitForPipeline(started.handle, {
      pollIntervalMs: 50,
      ...(onStatus === undefined ? {} : { onStatus }),
    });
    return { ...outcome, handle: started.handle, workflowId: started.workflowId };
  }

  it('runs the demo pipeline.yaml end to end: metrics, artifacts on disk, status shape', async () => {
    const seen = new Set<string>();
    const { status, error, workflowId } = await run({ file: join(REPO, 'pipelines', 'demo', 'pipeline.yaml') }, (s) =>
      s.steps.forEach((step) => seen.add(`${step.id}:${step.state}`)),
    );
    expect(error).toBeUndefined();
    expect(workflowId).toMatch(/^housing-price-[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(status).toMatchObject({ pipeline: 'housing-price', workflowId: workflowId, state: 'completed' });
    expect(status.specHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(status.params).toMatchObject({ target: 'price_k', testFraction: 0.2 });
    expect(status.steps.map((step) => [step.id, step.state, step.uses, step.attempts])).toEqual([
      ['ingest', 'completed', 'ingest@1', 1],
      ['validate', 'completed', 'validate@1', 1],
      ['featurize', 'completed', 'featurize@1', 1],
      ['train', 'completed', 'train@1', 1],
      ['evaluate', 'completed', 'evaluate@1', 1],
      ['register', 'completed', 'register@1', 1],
    ]);
    expect(seen.has('evaluate:pending') || seen.has('evaluate:running')).toBe(true); // progress was observable

    const evaluate = stepIn(status, 'evaluate');
    expect(evaluate).toMatchObject({ needs: ['train'], cache: 'miss' });
    expect(evaluate.metrics).toMatchObject({ testRows: expect.any(Number) as number });
    const metrics = evaluate.metrics as Record<string, number>;
    expect(metrics.r2).toBeGreaterThan(0.9);
    for (const step of status.steps) {
      expect(Date.parse(step.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(step.startedAt ?? ''));
      expect(step.durationMs).toBeGreaterThanOrEqual(0);
    }

    // Outputs are references: each artifact is on disk under the run's artifact root with its digest.
    const refs = status.steps.flatMap((step) =>
      Object.values(step.outputs ?? {}).filter(
        (value): value is { uri: string; digest: string; size: number } =>
          typeof value === 'object' && value !== null && 'digest' in value,
      ),
    );
    expect(refs.length).toBeGreaterThanOrEqual(8);
    for (const ref of refs) {
      const path = fileURLToPath(ref.uri);
      expect(path.startsWith(join(artifactRoot, '.mloe', 'artifacts'))).toBe(true);
      expect((await readFile(path)).byteLength).toBe(ref.size);
    }
    const stored = JSON.parse(
      await readFile(fileURLToPath((evaluate.outputs?.metrics as { uri: string }).uri), 'utf8'),
    ) as Record<string, number>;
    expect(stored).toEqual(metrics);
  });

  it('honours maxParallel: 1 (no two steps overlap in workflow time)', async () => {
    const { status, error } = await run({
      spec: specOf('serial', {
        maxParallel: 1,
        steps: {
          a: { uses: 'sleep@1', with: { ms: 150 } },
          b: { uses: 'sleep@1', with: { ms: 150 } },
          c: { uses: 'sleep@1', with: { ms: 150 } },
          d: { uses: 'echo@1', needs: ['a', 'b', 'c'], with: { message: 'done' } },
        },
      }),
    });
    expect(error).toBeUndefined();
    const timed = [...status.steps].sort((x, y) => Date.parse(x.startedAt ?? '') - Date.parse(y.startedAt ?? ''));
    for (let i = 1; i < timed.length; i += 1) {
      expect(Date.parse(timed[i]?.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(timed[i - 1]?.finishedAt ?? ''));
    }
  });

  it('runs independent steps in parallel without maxParallel', async () => {
    const { status } = await run({
      spec: specOf('parallel', {
        steps: { a: { uses: 'sleep@1', with: { ms: 400 } }, b: { uses: 'sleep@1', with: { ms: 400 } } },
      }),
    });
    const [a, b] = [stepIn(status, 'a'), stepIn(status, 'b')];
    expect(a.startedAt).toBe(b.startedAt);
  });

  it('skips a step whose when is false, and its dependents unless they have a when of their own', async () => {
    const { status, error } = await run({
      spec: specOf('skipping', {
        params: { deploy: { type: 'boolean', default: false } },
        steps: {
          a: { uses: 'echo@1', with: { message: 'hello' } },
          gate: { uses: 'echo@1', needs: ['a'], when: '${{ params.deploy }}', with: { message: 'x' } },
          after: { uses: 'echo@1', needs: ['gate'], with: { message: 'y' } },
          afterAfter: { uses: 'echo@1', needs: ['after'], with: { message: 'z' } },
          optIn: { uses: 'echo@1', needs: ['gate'], when: true, with: { message: 'ran anyway' } },
          ifSkipped: { uses: 'echo@1', needs: ['gate'], when: '${{ !has(steps.gate) }}', with: { message: 'x' } },
          long: { uses: 'echo@1', needs: ['a'], when: 'steps.a.outputs.length > 3', with: { message: 'long' } },
          short: { uses: 'echo@1', needs: ['a'], when: 'steps.a.outputs.length > 30', with: { message: 'no' } },
        },
      }),
    });
    expect(error).toBeUndefined();
    expect(Object.fromEntries(status.steps.map((step) => [step.id, step.state]))).toEqual({
      a: 'completed',
      gate: 'skipped',
      after: 'skipped',
      afterAfter: 'skipped',
      optIn: 'completed',
      ifSkipped: 'completed',
      long: 'completed',
      short: 'skipped',
    });
    expect(stepIn(status, 'gate').reason).toBe('when is false: ${{ params.deploy }}');
    expect(stepIn(status, 'after').reason).toBe('needs gate, which was skipped');
    expect(stepIn(status, 'gate').startedAt).toBeUndefined();
  });

  it('continueOnFailure on a step: its failure skips its dependents and the pipeline completes', async () => {
    const { status, error } = await run({
      spec: specOf('step-continue', {
        steps: {
          bad: { uses: 'fail@1', continueOnFailure: true },
          after: { uses: 'echo@1', needs: ['bad'], with: { message: 'never' } },
          ok: { uses: 'echo@1', with: { message: 'fine' } },
        },
      }),
    });
    expect(error).toBeUndefined();
    expect(status.state).toBe('completed');
    expect(stepIn(status, 'bad')).toMatchObject({ state: 'failed', attempts: 1 });
    expect(stepIn(status, 'bad').error).toBe('DATA_INVALID: this step always fails');
    expect(stepIn(status, 'after')).toMatchObject({ state: 'skipped', reason: 'needs bad, which did not complete' });
    expect(stepIn(status, 'ok').state).toBe('completed');
  });

  it('pipeline continueOnFailure: independent branches finish, the pipeline fails at the end', async () => {
    const { status, error } = await run({
      spec: specOf('pipeline-continue', {
        continueOnFailure: true,
        steps: {
          bad: { uses: 'fail@1' },
          after: { uses: 'echo@1', needs: ['bad'], with: { message: 'never' } },
          slow: { uses: 'sleep@1', with: { ms: 300 } },
          afterSlow: { uses: 'echo@1', needs: ['slow'], with: { message: 'ran' } },
        },
      }),
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toMatchObject({ type: 'PIPELINE_STEP_FAILED' });
    expect(status.state).toBe('failed');
    expect(status.error).toBe('step bad failed: DATA_INVALID: this step always fails');
    expect(Object.fromEntries(status.steps.map((step) => [step.id, step.state]))).toEqual({
      bad: 'failed',
      after: 'skipped',
      slow: 'completed',
      afterSlow: 'completed',
    });
  });

  it('by default the first failure cancels running steps and fails the pipeline', async () => {
    const { status, error, handle } = await run({
      spec: specOf('fail-fast', {
        steps: {
          block: { uses: 'wait-cancel@1' },
          bad: { uses: 'fail@1', needs: ['warm'] },
          warm: { uses: 'sleep@1', with: { ms: 200 } },
          later: { uses: 'echo@1', needs: ['bad'], with: { message: 'never' } },
        },
      }),
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'PIPELINE_STEP_FAILED', nonRetryable: true });
    expect(Object.fromEntries(status.steps.map((step) => [step.id, step.state]))).toEqual({
      block: 'cancelled',
      bad: 'failed',
      warm: 'completed',
      later: 'cancelled',
    });
    // The final status travels in the failure's details, so reading it needs no query (and no worker): it is the
    // status the run's query answers.
    expect(statusFromFailure(error)).toEqual(await handle.query(pipelineStatusQuery));
  });

  it('maps retry onto the activity: a step failing twice then succeeding reports 3 attempts', async () => {
    const { status, error } = await run({
      spec: specOf('retries', {
        defaults: { retry: { maxAttempts: 5, initialInterval: '50ms', backoffCoefficient: 1 } },
        steps: {
          flaky: { uses: 'flaky@1', with: { failures: 2 } },
          giveUp: {
            uses: 'flaky@1',
            with: { failures: 5 },
            continueOnFailure: true,
            retry: { maxAttempts: 2 },
          },
          never: {
            uses: 'flaky@1',
            with: { failures: 1 },
            continueOnFailure: true,
            retry: { nonRetryableErrors: ['ARTIFACT_STORE_FAILED'] },
          },
        },
      }),
    });
    expect(error).toBeUndefined();
    expect(stepIn(status, 'flaky')).toMatchObject({ state: 'completed', attempts: 3, outputs: { attempt: 3 } });
    expect(stepIn(status, 'giveUp')).toMatchObject({ state: 'failed', attempts: 2 });
    expect(stepIn(status, 'giveUp').error).toBe('ARTIFACT_STORE_FAILED: attempt 2 fails');
    expect(stepIn(status, 'never')).toMatchObject({ state: 'failed', attempts: 1 });
  });

  it('cancelling a run cancels its running steps, records them cancelled and ends the run cancelled', async () => {
    const started = await startPipeline(client, {
      artifactRoot,
      workingDir: REPO,
      taskQueue,
      descriptors: steps.descriptors,
      spec: specOf('cancel-me', {
        steps: {
          quick: { uses: 'echo@1', with: { message: 'hi' } },
          block: { uses: 'wait-cancel@1', needs: ['quick'] },
          after: { uses: 'echo@1', needs: ['block'], with: { message: 'never' } },
        },
      }),
    });
    handles.push(started.handle);
    const key = `${started.workflowId}/block`;
    await pollUntil(`step block of ${started.workflowId} to start`, () => startedActivities.has(key));
    expect(stepIn(await getPipelineStatus(client, started.workflowId), 'block').state).toBe('running');

    await cancelPipeline(client, started.workflowId);
    const { status, error } = await waitForPipeline(started.handle, { pollIntervalMs: 50 });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(cancelledActivities.has(key)).toBe(true);
    expect(status.state).toBe('cancelled');
    expect(Object.fromEntries(status.steps.map((step) => [step.id, step.state]))).toEqual({
      quick: 'completed',
      block: 'cancelled',
      after: 'cancelled',
    });
    expect(stepIn(status, 'block').finishedAt).toBeDefined();
    expect((await started.handle.describe()).status.name).toBe('CANCELLED');
  });

  it('fans a foreach step out over ~50 items and gathers outputs in order', async () => {
    const numbers = Array.from({ length: 50 }, (_, i) => i + 1);
    const { status, error } = await run({
      spec: specOf('fanout', {
        params: { numbers: { type: 'list', items: 'integer' } },
        steps: {
          squares: { uses: 'square@1', foreach: '${{ params.numbers }}', maxParallel: 10, with: { n: '${{ item }}' } },
          total: {
            uses: 'echo@1',
            needs: ['squares'],
            with: { message: '${{ string(steps.squares.outputs.square.size()) }}' },
          },
        },
      }),
      params: { numbers },
    });
    expect(error).toBeUndefined();
    const squares = stepIn(status, 'squares');
    expect(squares.outputs?.square).toEqual(numbers.map((n) => n * n));
    expect(squares.foreach).toEqual({ total: 50, completed: 50, failed: 0, batches: 0 });
    expect((squares.metrics as Record<string, number>[])[49]).toEqual({ n: 50 });
    expect(stepIn(status, 'total').outputs).toEqual({ message: '50', length: 2 });
  });

  it('runs a large foreach over child workflow batches', async () => {
    const numbers = Array.from({ length: 120 }, (_, i) => i);
    const { status, error, workflowId } = await run({
      spec: specOf('batched', {
        steps: { squares: { uses: 'square@1', foreach: numbers, maxParallel: 100, with: { n: '${{ item }}' } } },
      }),
      foreachBatchSize: 50,
    });
    expect(error).toBeUndefined();
    const squares = stepIn(status, 'squares');
    expect(squares.outputs?.square).toEqual(numbers.map((n) => n * n));
    expect(squares.foreach).toEqual({ total: 120, completed: 120, failed: 0, batches: 3 });
    const children: string[] = [];
    for await (const execution of client.workflow.list({ query: `WorkflowType = 'foreachBatch'` })) {
      if (execution.workflowId.startsWith(workflowId)) children.push(execution.workflowId);
    }
    expect(children.sort()).toEqual([0, 1, 2].map((n) => `${workflowId}-squares-batch-${n}`));
    for (const child of children) handles.push(client.workflow.getHandle(child));
  });

  it('sets the pipeline name and status as search attributes, and the spec hash and params as memo', async () => {
    const name = uniqueName('visible');
    const { workflowId, handle, status } = await run({
      spec: specOf(name, {
        params: { greeting: { type: 'string', default: 'hi' } },
        steps: { a: { uses: 'echo@1', with: { message: '${{ params.greeting }}' } } },
      }),
      paramTexts: ['greeting=hello'],
    });
    const ids = await pollUntil(`a completed run of ${name} in the visibility list`, async () => {
      const listed: string[] = [];
      for await (const execution of client.workflow.list({
        query: `MloePipeline = '${name}' AND MloeStatus = 'Completed'`,
      })) {
        listed.push(execution.workflowId);
      }
      return listed.length > 0 ? listed : undefined;
    });
    expect(ids).toEqual([workflowId]);
    const description = await handle.describe();
    expect(description.memo).toEqual({
      pipeline: name,
      specHash: status.specHash,
      params: { greeting: 'hello' },
      startRequest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as string,
    });
    expect(stepIn(status, 'a').outputs).toEqual({ message: 'hello', length: 5 });
  });

  it('refuses an invalid spec before starting anything', async () => {
    await expect(
      startPipeline(client, {
        taskQueue,
        descriptors: steps.descriptors,
        spec: specOf('broken', { steps: { a: { uses: 'nope@1' } } }),
      }),
    ).rejects.toMatchObject({ code: 'SPEC_INVALID' });
  });

  it('mloe status and mloe cancel work on a run by id; mloe run refuses an invalid spec', async () => {
    const started = await startPipeline(client, {
      artifactRoot,
      workingDir: REPO,
      taskQueue,
      descriptors: steps.descriptors,
      spec: specOf('cli-cancel', { steps: { block: { uses: 'wait-cancel@1' } } }),
    });
    handles.push(started.handle);
    const key = `${started.workflowId}/block`;
    await pollUntil(`step block of ${started.workflowId} to start`, () => startedActivities.has(key));
    const env = { ...process.env, TEMPORAL_ADDRESS: process.env.TEMPORAL_TEST_ADDRESS ?? '' };

    const status = await execFileAsync(BIN, ['status', started.workflowId], { env, timeout: 30_000 });
    expect(status.stdout).toMatch(/^block +running +- +- +0$/m);

    const cancelled = await execFileAsync(BIN, ['cancel', started.workflowId], { env, timeout: 30_000 });
    expect(cancelled.stdout).toContain(`cancellation requested for ${started.workflowId}`);
    expect(cancelled.stdout).toMatch(/^block +cancelled +\d+(\.\d)? m?s +- +1$/m);

    const broken = join(artifactRoot, 'broken.yaml');
    await writeFile(
      broken,
      'apiVersion: mloe.dev/v1\nkind: Pipeline\nmetadata: { name: x }\nsteps:\n  a: { uses: nope@1 }\n',
    );
    const refused = await execFileAsync(BIN, ['run', broken], { env, timeout: 30_000 }).then(
      () => undefined,
      (error: unknown) => error as { code: number; stdout: string; stderr: string },
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stdout).toContain("steps.a.uses  no registered step is called 'nope'");
    expect(refused?.stderr).toContain('nothing was started');
  });

  it('runs a command step through the runner, with run templates resolved from inputs and params', async () => {
    const script =
      "const fs = require('fs'); const p = require('path'); const [n] = process.argv.slice(1);" +
      "fs.writeFileSync(p.join(process.env.MLOE_OUTPUTS_DIR, 'outputs.json'), JSON.stringify({ doubled: Number(n) * 2 }));";
    const { status, error } = await run({
      spec: specOf('command', {
        params: { n: { type: 'integer', default: 21 } },
        steps: {
          double: {
            run: { command: ['node', '-e', script, '${{ inputs.n }}'] },
            inputs: { n: { type: 'integer' } },
            outputs: { doubled: { type: 'integer' } },
            with: { n: '${{ params.n }}' },
          },
          show: { uses: 'echo@1', needs: ['double'], with: { message: '${{ string(steps.double.outputs.doubled) }}' } },
        },
      }),
    });
    expect({ error, double: stepIn(status, 'double').error }).toEqual({ error: undefined, double: undefined });
    expect(stepIn(status, 'double').outputs).toMatchObject({ doubled: 42 });
    expect(stepIn(status, 'show').outputs).toEqual({ message: '42', length: 2 });
  });

  it('replays every history of this suite', async () => {
    expect(handles.length).toBeGreaterThan(10);
    await replayAll(workflowBundle, handles);
  });
});
