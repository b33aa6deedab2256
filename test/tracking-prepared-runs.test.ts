/**
 * Step runs prepared while their step is dispatched (`activities/tracking/prepared-runs.ts`), against the jest MLflow
 * server (`MLFLOW_TEST_TRACKING_URI`) through the typed client: the first attempt takes the prepared run, which
 * becomes the execution's run with its first write (or early, when the step runs a while); a retry finds it; a later attempt never takes a preparation; a
 * preparation no attempt takes is withdrawn; the pipeline run's end deletes a preparation its execution no longer
 * needs and settles one an attempt took but never wrote to; and a worker that tracks nothing ignores the sink.
 */
import { createMlflowClient, mlflowConfig, type MlflowClient, type Run } from '../activities/mlflow';
import {
  MlflowTracker,
  claimWhileRunning,
  completeStepRun,
  executionKey,
  failStepRun,
  openStepRun,
  prepareStepRun,
  trackPipelineRun,
  trackingConfigFromEnv,
  type MlflowRunLink,
  type StepExecution,
  type StepRunData,
  type TrackedPipelineRun,
  type TrackedRun,
  type TrackingConfig,
} from '../activities/tracking';
import { trackingSinks } from '../workers/tracking-sinks';
import { pollUntil } from './support/poll';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';

const tagsOf = (run: Run): Record<string, string> => Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));

describe('step runs prepared while the step is dispatched', () => {
  let config: TrackingConfig;
  let mlflow: MlflowClient;
  let sequence = 0;

  beforeAll(() => {
    if (TRACKING_URI === '') throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    const parsed = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (parsed === undefined) throw new Error('no tracking configuration');
    config = parsed;
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
  });

  /** A tracker, and a pipeline run it created (and so knows) in an experiment of its own. */
  async function pipelineRun(options: { preparedRunTtlMs?: number } = {}) {
    sequence += 1;
    const tracker = new MlflowTracker(config, { warn: () => undefined, ...options });
    const run: TrackedPipelineRun = {
      pipeline: `prepared-${process.pid}-${Date.now()}-${sequence}`,
      workflowId: `wf-prepared-${process.pid}-${Date.now()}-${sequence}`,
      specHash: 'hash',
      state: 'running',
      params: {},
      startedAt: new Date().toISOString(),
      steps: [],
    };
    const link = await trackPipelineRun(tracker, run, {
      temporalRunId: 'temporal-run',
      firstExecutionRunId: 'temporal-run',
      namespace: 'default',
    });
    const parent = tracker.knownPipelineRun(run.workflowId);
    if (parent === undefined) throw new Error('the tracker does not know the pipeline run it created');
    return { tracker, run, link, parent };
  }

  /** Announces a `noop@1` step of `run` as the workflow's sink does (of another workflow when `workflowId` says). */
  function prepareNoop(
    tracker: MlflowTracker,
    run: TrackedPipelineRun,
    stepId: string,
    at: Date = new Date(),
    workflowId: string = run.workflowId,
  ): void {
    prepareStepRun(tracker, { workflowId, pipeline: run.pipeline, stepId, uses: 'noop@1' }, at);
  }

  function execution(run: TrackedPipelineRun, stepId: string): StepExecution {
    return {
      workflowId: run.workflowId,
      firstExecutionRunId: 'temporal-run',
      pipeline: run.pipeline,
      stepId,
      uses: 'noop@1',
    };
  }

  function success(attempt: number): StepRunData {
    return {
      attempt,
      finishedAt: new Date(),
      cache: 'disabled',
      inputs: { seed: 7 },
      outputs: { value: 7 },
      metrics: [{ key: 'score', value: 0.5, step: 0 }],
      problems: [],
      inputArtifacts: [],
      outputArtifacts: [],
    };
  }

  /** Every active run nested under `link`'s run. */
  async function children(link: MlflowRunLink): Promise<Run[]> {
    const found: Run[] = [];
    for await (const child of mlflow.runs.searchAll({
      experimentIds: [link.experimentId],
      filter: `tags.\`mlflow.parentRunId\` = '${link.runId}'`,
    })) {
      found.push(child);
    }
    return found;
  }

  /** The id of the run prepared for `stepId`, once its creation answered. */
  async function preparedId(tracker: MlflowTracker, parent: TrackedRun, run: TrackedPipelineRun, stepId: string) {
    const held = tracker.prepared.take(executionKey(run.workflowId, stepId));
    if (held === undefined) throw new Error(`nothing prepared for ${stepId}`);
    tracker.prepared.hold(executionKey(run.workflowId, stepId), held);
    expect(held.parent.runId).toBe(parent.runId);
    return held.runId;
  }

  it('the first attempt takes the prepared run, which its data makes the execution’s run; nothing else is created', async () => {
    const { tracker, run, link, parent } = await pipelineRun();
    prepareNoop(tracker, run, 'a', new Date(1_700_000_000_000));
    const prepared = await preparedId(tracker, parent, run, 'a');
    // Before an attempt writes to it, a retry's search (by mloe.execution) does not find it.
    const key = executionKey(run.workflowId, 'a');
    expect(await tracker.findRun(link.experimentId, `tags.\`mloe.execution\` = '${key}'`)).toBeUndefined();

    const opened = await openStepRun(tracker, parent, execution(run, 'a'), new Date(), 1);
    expect(opened.runId).toBe(prepared);
    expect(tracker.prepared.size).toBe(0);
    await completeStepRun(tracker, opened, success(1));
    await tracker.flush();

    const [only, ...others] = await children(link);
    expect(others).toHaveLength(0);
    expect(only?.info).toMatchObject({
      runId: prepared,
      runName: 'a',
      status: 'FINISHED',
      startTime: 1_700_000_000_000,
    });
    expect(tagsOf(only as Run)).toMatchObject({
      'mloe.execution': key,
      'mloe.prepared': key,
      'mloe.logged': '1',
      'mloe.attempt': '1',
      'mloe.stepId': 'a',
      'mloe.kind': 'step',
      'mlflow.parentRunId': link.runId,
    });
    expect((only as Run).data.params).toEqual([{ key: 'seed', value: '7' }]);
  });

  it('a retry finds the prepared run its first attempt failed in (the failure wrote mloe.execution)', async () => {
    const { tracker, run, link, parent } = await pipelineRun();
    prepareNoop(tracker, run, 'b');
    const first = await openStepRun(tracker, parent, execution(run, 'b'), new Date(), 1);
    expect(first.prepared).toBe(true);
    await failStepRun(tracker, first, { attempt: 1, error: 'boom', final: false, finishedAt: new Date() });

    const second = await openStepRun(tracker, parent, execution(run, 'b'), new Date(), 2);
    expect(second.runId).toBe(first.runId);
    await completeStepRun(tracker, second, success(2));
    await tracker.flush();
    const all = await children(link);
    expect(all.map((child) => child.info.runId)).toEqual([first.runId]);
    expect(tagsOf(all[0] as Run)).toMatchObject({ 'mloe.attempt': '2', 'mloe.error': 'boom', 'mloe.logged': '2' });
    expect(await mlflow.runs.metricHistory(first.runId, 'score')).toHaveLength(1);
  });

  it('a step that runs a while claims its prepared run early: a retry after its attempt stopped finds the run', async () => {
    const { tracker, run, link, parent } = await pipelineRun();
    prepareNoop(tracker, run, 'long');
    const first = await openStepRun(tracker, parent, execution(run, 'long'), new Date(), 1);
    expect(first.prepared).toBe(true);
    claimWhileRunning(tracker, first, 20);
    const key = executionKey(run.workflowId, 'long');
    await pollUntil('the prepared run to be claimed', async () =>
      tagsOf(await mlflow.runs.get(first.runId))['mloe.execution'] === key ? true : undefined,
    );
    // The attempt stopped without writing (a crash): the retry finds its run instead of creating another.
    const second = await openStepRun(tracker, parent, execution(run, 'long'), new Date(), 2);
    expect(second.runId).toBe(first.runId);
    expect((await children(link)).map((child) => child.info.runId)).toEqual([first.runId]);
  });

  it('a later attempt never takes a preparation: it is withdrawn, and the attempt creates the run', async () => {
    const { tracker, run, link, parent } = await pipelineRun();
    prepareNoop(tracker, run, 'c');
    const prepared = await preparedId(tracker, parent, run, 'c');
    const opened = await openStepRun(tracker, parent, execution(run, 'c'), new Date(), 2);
    expect(opened.runId).not.toBe(prepared);
    expect(opened.prepared).toBeUndefined();
    await completeStepRun(tracker, opened, success(2));
    await tracker.flush();
    await pollUntil(
      'the preparation to be deleted',
      async () => (await mlflow.runs.get(prepared)).info.lifecycleStage === 'deleted',
    );
    expect((await children(link)).map((child) => child.info.runId)).toEqual([opened.runId]);
  });

  it('a preparation no attempt takes is withdrawn (deleted) after its time', async () => {
    const { tracker, run, link, parent } = await pipelineRun({ preparedRunTtlMs: 50 });
    prepareNoop(tracker, run, 'd');
    const prepared = await preparedId(tracker, parent, run, 'd');
    await pollUntil(
      'the preparation to be deleted',
      async () => (await mlflow.runs.get(prepared)).info.lifecycleStage === 'deleted',
    );
    expect(tracker.prepared.size).toBe(0);
    expect(await children(link)).toHaveLength(0);
    // The step arriving after all creates its own run.
    const opened = await openStepRun(tracker, parent, execution(run, 'd'), new Date(), 1);
    expect(opened.runId).not.toBe(prepared);
  });

  it('nothing is prepared for a pipeline run the worker does not know (no search is made for it)', async () => {
    const { tracker, run } = await pipelineRun();
    prepareNoop(tracker, run, 'e', new Date(), `${run.workflowId}-other`);
    expect(tracker.prepared.size).toBe(0);
  });

  it("the run's end deletes a preparation its execution does not need and settles one an attempt took but never wrote to", async () => {
    const { tracker, run, link, parent } = await pipelineRun();
    // `done`: prepared here, but the step ran on another worker, which created and finished its own run.
    prepareNoop(tracker, run, 'done');
    const orphan = await preparedId(tracker, parent, run, 'done');
    const elsewhere = new MlflowTracker(config, { warn: () => undefined });
    const theirs = await openStepRun(elsewhere, parent, execution(run, 'done'), new Date(), 1);
    await completeStepRun(elsewhere, theirs, success(1));
    await elsewhere.flush();
    // `cut`: taken by its attempt, which stopped before writing anything (a crash, a cancellation).
    prepareNoop(tracker, run, 'cut');
    const cut = await openStepRun(tracker, parent, execution(run, 'cut'), new Date(), 1);
    // `never`: scheduled, never started.
    prepareNoop(tracker, run, 'never');
    const never = await preparedId(tracker, parent, run, 'never');

    const finishedAt = new Date().toISOString();
    await trackPipelineRun(
      tracker,
      {
        ...run,
        state: 'cancelled',
        finishedAt,
        mlflow: link,
        steps: [
          { id: 'done', state: 'completed', finishedAt },
          { id: 'cut', state: 'cancelled', finishedAt },
          { id: 'never', state: 'pending' },
        ],
      },
      { temporalRunId: 'temporal-run', firstExecutionRunId: 'temporal-run', namespace: 'default' },
    );
    expect((await mlflow.runs.get(orphan)).info.lifecycleStage).toBe('deleted');
    expect((await mlflow.runs.get(never)).info.lifecycleStage).toBe('deleted');
    const settled = await mlflow.runs.get(cut.runId);
    expect(settled.info).toMatchObject({ status: 'KILLED', lifecycleStage: 'active' });
    expect(tagsOf(settled)['mloe.execution']).toBe(executionKey(run.workflowId, 'cut'));
    expect((await children(link)).map((child) => child.info.runId).sort()).toEqual([theirs.runId, cut.runId].sort());
  });

  it('the sink prepares through a tracking worker only, after the workflow task is on its way', async () => {
    const { tracker, run } = await pipelineRun();
    const step = { workflowId: run.workflowId, pipeline: run.pipeline, stepId: 'f', uses: 'noop@1' };
    const sink = trackingSinks(tracker).mloeTracking.stepScheduled;
    expect(sink.callDuringReplay).toBe(false);
    await sink.fn({} as never, step); // answers at once: the creation starts after the current turn
    expect(tracker.prepared.size).toBe(0);
    await pollUntil('the step to be prepared', () => tracker.prepared.size === 1);
    // A worker that tracks nothing has the sink too (a workflow never calls an unregistered one); it does nothing.
    await trackingSinks(undefined).mloeTracking.stepScheduled.fn({} as never, { ...step, stepId: 'g' });
    await pollUntil('a turn to pass', () => new Promise<boolean>((ok) => setImmediate(() => ok(true))));
    expect(tracker.prepared.size).toBe(1);
  });
});
