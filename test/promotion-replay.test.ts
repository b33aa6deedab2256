/**
 * Promotion gates under replay-on-every-task: the pipeline worker here keeps no workflow in its cache
 * (`maxCachedWorkflows: 0`), so every workflow task replays the run's whole history from scratch before it goes on,
 * as happens on a loaded machine when a workflow task times out or the cache drops a run. Any way the workflow's
 * commands on replay differ from those it issued live fails the run's workflow task with a nondeterminism error (and
 * the run never finishes). The approval races at the gate are driven on purpose: an `approve` Update right after the
 * status query says `awaiting-approval` (while the waiting state may still be recorded), after it was recorded,
 * while its record is held in flight on its way to MLflow, and released together with it; a cancel at the gate; and
 * the recorded-history spec (test/histories/specs/promotion.yaml) approved the way `npm run record:histories` does.
 * A plain pipeline run (test/histories/specs/pipeline.yaml) runs the same way. Then every history is replayed again
 * with `Worker.runReplayHistories`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';

import { createMlflowClient, mlflowConfig, type MlflowClient } from '../activities/mlflow';
import { versionByAlias } from '../activities/promotion';
import { BUILTIN_IMPLEMENTATIONS, createStepImplementations, type StepImplementations } from '../activities/steps';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { approvePromotion } from '../clients/approvals';
import { startPipeline, waitForPipeline, type PipelineRun, type StartPipelineOptions } from '../clients/pipelines';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { pipelineActivities } from '../workers/pipeline-worker';
import { registerSearchAttributes } from '../workers/search-attributes';
import { trackingSinks } from '../workers/tracking-sinks';
import { pipelineStatusQuery, type PipelineRunStatus } from '../workflows/types';
import { connect, runInBackground, type TestEnv } from './devserver/harness';
import { promotionSpec, promotionSteps } from './fixtures/promotion';
import { ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP } from './fixtures/test-steps';
import { suiteWorkflowBundle, uniqueName } from './pipeline-harness';
import { HOUSING_DATA } from './support/examples';
import { pollUntil } from './support/poll';
import { replayAll } from './support/replay';

const REPO = resolve(__dirname, '..');
const SPECS = join(REPO, 'test', 'histories', 'specs');
const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
/** Where the histories of runs whose workflow task failed are written (ignored by git). */
const FAILED_HISTORIES = join(REPO, 'test-output', 'replay-failures');
const TEST_STEPS = [ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP];

/** A model whose `awaiting-approval` record is held on its way to MLflow until released. */
interface Hold {
  reached: Promise<void>;
  release: () => void;
}

describe('promotion gates replay on every workflow task (maxCachedWorkflows: 0)', () => {
  let env: TestEnv;
  let code: string;
  let mlflow: MlflowClient;
  let artifactRoot: string;
  const stops: (() => Promise<void>)[] = [];
  const finishedRuns: WorkflowHandle[] = [];
  const running: PipelineRun[] = [];
  const held = new Map<string, { reached: () => void; release: Promise<void>; releaseNow: () => void }>();
  const promotionQueue = `mloe-promotion-replay-${process.pid}-${Date.now()}`;
  const historyQueue = `${promotionQueue}-histories`;

  beforeAll(async () => {
    if (TRACKING_URI === '') throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-promotion-replay-'));
    const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (tracking === undefined) throw new Error('no tracking configuration');
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    env = await connect();
    await registerSearchAttributes(env.connection, 'default');
    code = (await suiteWorkflowBundle()).code;
    const tracker = new MlflowTracker(tracking, { warn: () => undefined });
    const versions = tracker.client.modelVersions;
    const setTag = versions.setTag.bind(versions);
    versions.setTag = async (name, version, key, value) => {
      const hold = held.get(name);
      if (hold !== undefined && value === 'awaiting-approval') {
        hold.reached();
        await hold.release;
      }
      return setTag(name, version, key, value);
    };
    // Two uncached workers: the promotion fixture's steps, and the recorded histories' (demo and test steps).
    const uncached = async (taskQueue: string, steps: StepImplementations) =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: { code },
        activities: pipelineActivities({ steps, tracking: tracker }),
        sinks: trackingSinks(tracker),
        maxCachedWorkflows: 0,
      });
    stops.push(runInBackground(await uncached(promotionQueue, promotionSteps)));
    stops.push(
      runInBackground(await uncached(historyQueue, createStepImplementations(BUILTIN_IMPLEMENTATIONS, TEST_STEPS))),
    );
  }, 120_000);

  afterAll(async () => {
    for (const { releaseNow } of held.values()) releaseNow();
    for (const run of running) await run.handle.terminate('test cleanup').catch(() => undefined);
    for (const stop of stops) await stop();
    await env?.close();
    if (artifactRoot !== undefined) await rm(artifactRoot, { recursive: true, force: true });
  });

  function hold(model: string): Hold {
    let reached!: () => void;
    let release!: () => void;
    const reachedPromise = new Promise<void>((done) => (reached = done));
    const releasePromise = new Promise<void>((done) => (release = done));
    held.set(model, { reached, release: releasePromise, releaseNow: release });
    return { reached: reachedPromise, release };
  }

  async function start(model: string): Promise<PipelineRun> {
    const run = await startPipeline(env.client, {
      spec: promotionSpec(uniqueName('promo-replay'), { timeout: '1h' }),
      params: { model },
      artifactRoot,
      workingDir: REPO,
      taskQueue: promotionQueue,
      descriptors: promotionSteps.descriptors,
    });
    running.push(run);
    return run;
  }

  /** The promote step's state as the status query says it. */
  async function promoteState(run: PipelineRun): Promise<string | undefined> {
    const status = await run.handle.query(pipelineStatusQuery);
    return status.steps.find((step) => step.id === 'promote')?.promotion?.state;
  }

  async function awaitingApproval(run: PipelineRun): Promise<void> {
    await pollUntil(
      `${run.workflowId} to wait for approval`,
      async () => (await promoteState(run)) === 'awaiting-approval',
      { timeoutMs: 120_000, intervalMs: 50 },
    );
  }

  /**
   * The run's end. A workflow task that failed (nondeterminism: the run would never finish) fails the test at once,
   * with the SDK's message, and leaves the history in test-output/replay-failures for `Worker.runReplayHistory`.
   */
  async function finished(run: PipelineRun): Promise<PipelineRunStatus> {
    let ended = false;
    const failedTask = pollUntil(
      `${run.workflowId} to end or fail a workflow task`,
      async () => {
        if (ended) return '';
        const history = await run.handle.fetchHistory();
        const failure = history.events?.find((event) => event.workflowTaskFailedEventAttributes != null);
        if (failure === undefined) return undefined;
        await mkdir(FAILED_HISTORIES, { recursive: true });
        await writeFile(join(FAILED_HISTORIES, `${run.workflowId}.json`), historyToJSON(history));
        return failure.workflowTaskFailedEventAttributes?.failure?.message ?? 'a workflow task failed';
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    const outcome = await Promise.race([
      waitForPipeline(run.handle, { pollIntervalMs: 100 }),
      failedTask.then((message) => new Error(`${run.workflowId}: workflow task failed: ${message}`)),
    ]).finally(() => (ended = true));
    if (outcome instanceof Error) throw outcome;
    finishedRuns.push(run.handle);
    return outcome.status;
  }

  async function expectPromoted(run: PipelineRun, model: string): Promise<void> {
    const status = await finished(run);
    expect(status.state).toBe('completed');
    expect(status.steps.find((step) => step.id === 'promote')?.promotion?.state).toBe('promoted');
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
  }

  /** The version's recorded promotion state in MLflow. */
  async function recordedState(model: string): Promise<string | undefined> {
    const version = await mlflow.modelVersions.get(model, '1');
    return version.tags.find((tag) => tag.key === 'mloe.promotion.state')?.value;
  }

  const approve = (run: PipelineRun) =>
    approvePromotion(env.client, run.workflowId, { identity: 'replay-test', reason: 'race' });

  it('approved as soon as the status query says awaiting-approval', async () => {
    const model = uniqueName('promo-replay-now');
    const run = await start(model);
    await awaitingApproval(run);
    await expect(approve(run)).resolves.toMatchObject({ decision: 'approved', identity: 'replay-test' });
    await expectPromoted(run, model);
  }, 240_000);

  it('approved once the waiting state is recorded in MLflow', async () => {
    const model = uniqueName('promo-replay-recorded');
    const run = await start(model);
    await awaitingApproval(run);
    await pollUntil(
      `${model} to be recorded as waiting`,
      async () => (await recordedState(model)) === 'awaiting-approval',
      {
        timeoutMs: 120_000,
        intervalMs: 50,
      },
    );
    await approve(run);
    await expectPromoted(run, model);
  }, 240_000);

  it('approved while the waiting state is held on its way to MLflow (the Update lands mid-activity)', async () => {
    const model = uniqueName('promo-replay-held');
    const holding = hold(model);
    const run = await start(model);
    await holding.reached;
    await approve(run);
    holding.release();
    await expectPromoted(run, model);
  }, 240_000);

  it('approved at the moment the held record is released (Update and activity result in one task, or two)', async () => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const model = uniqueName(`promo-replay-release-${attempt}`);
      const holding = hold(model);
      const run = await start(model);
      await holding.reached;
      holding.release();
      await approve(run);
      await expectPromoted(run, model);
    }
  }, 600_000);

  it('cancelled at the gate, while its record is held and after it was recorded', async () => {
    const heldModel = uniqueName('promo-replay-cancel-held');
    const holding = hold(heldModel);
    const whileHeld = await start(heldModel);
    await holding.reached;
    await whileHeld.handle.cancel();
    holding.release();
    expect((await finished(whileHeld)).state).toBe('cancelled');
    expect((await whileHeld.handle.describe()).searchAttributes.MloeApproval).toEqual(['Cancelled']);

    const waitingModel = uniqueName('promo-replay-cancel');
    const waiting = await start(waitingModel);
    await awaitingApproval(waiting);
    await waiting.handle.cancel();
    expect((await finished(waiting)).state).toBe('cancelled');
    expect((await waiting.handle.describe()).searchAttributes.MloeApproval).toEqual(['Cancelled']);
  }, 240_000);

  const historyRun = (file: string, workflowId: string): StartPipelineOptions => ({
    file: join(SPECS, file),
    workflowId,
    taskQueue: historyQueue,
    descriptors: [...BUILTIN_STEPS, ...TEST_STEPS.map((step) => step.descriptor)],
    artifactRoot,
    workingDir: artifactRoot,
    foreachBatchSize: 4,
  });

  it('the recorded-history promotion spec, approved the way record:histories approves it', async () => {
    const run = await startPipeline(env.client, {
      ...historyRun('promotion.yaml', uniqueName('promo-replay-history')),
      params: { dataPath: HOUSING_DATA },
    });
    running.push(run);
    await awaitingApproval(run);
    await approve(run);
    const status = await finished(run);
    expect(status.state).toBe('completed');
    expect(status.steps.find((step) => step.id === 'promote')?.promotion?.state).toBe('promoted');
  }, 300_000);

  it('a plain pipeline run (test/histories/specs/pipeline.yaml) completes', async () => {
    const run = await startPipeline(env.client, historyRun('pipeline.yaml', uniqueName('replay-pipeline')));
    running.push(run);
    const status = await finished(run);
    expect(status.state).toBe('completed');
    // Its sub-pipeline and foreachBatch children ran uncached too.
    for (const child of [`${run.workflowId}-sub`, `${run.workflowId}-large-batch-0`]) {
      finishedRuns.push(env.client.workflow.getHandle(child));
    }
  }, 300_000);

  it('every history of this suite replays', async () => {
    expect(finishedRuns.length).toBeGreaterThanOrEqual(10);
    await replayAll({ code }, finishedRuns);
  }, 120_000);
});
