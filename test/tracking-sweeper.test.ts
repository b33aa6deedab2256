/**
 * The sweep that ends MLflow runs of workflows that closed without telling MLflow (`workers/tracking-sweeper.ts`,
 * `activities/tracking/closed-runs.ts`), on the jest dev server and the jest MLflow server through the official
 * clients: a terminated run (its workflow never ran its final `recordRun`) is ended as KILLED with its step run, at
 * Temporal's close time; a run that is still open is left alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../activities/steps';
import { createMlflowClient, mlflowConfig, type MlflowClient, type Run } from '../activities/mlflow';
import { MlflowTracker, trackingConfigFromEnv, type TrackingConfig } from '../activities/tracking';
import { startPipeline, type PipelineRun } from '../clients/pipelines';
import { startTrackingSweeper } from '../workers/tracking-sweeper';
import { startedActivities, WAIT_CANCEL_STEP } from './fixtures/test-steps';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';
import { pollUntil } from './support/poll';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [WAIT_CANCEL_STEP]);

describe('the sweep of runs whose workflow closed', () => {
  let worker: PipelineTestWorker;
  let mlflow: MlflowClient;
  let tracking: TrackingConfig;
  let artifactRoot: string;
  const taskQueue = `mloe-tracking-sweeper-test-${process.pid}-${Date.now()}`;
  const running: PipelineRun[] = [];

  beforeAll(async () => {
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    tracking = config;
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-tracking-sweeper-'));
    worker = await startPipelineTestWorker({
      taskQueue,
      steps,
      tracking: new MlflowTracker(tracking, { warn: () => undefined }),
    });
  });

  afterAll(async () => {
    for (const run of running) await run.handle.terminate('test cleanup').catch(() => undefined);
    await worker?.stop();
    if (artifactRoot !== undefined) await rm(artifactRoot, { recursive: true, force: true });
  });

  async function startWaiting(): Promise<PipelineRun> {
    const name = `sweep-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    const run = await startPipeline(worker.env.client, {
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name },
        steps: { slow: { uses: 'wait-cancel@1' } },
      },
      artifactRoot,
      workingDir: resolve(__dirname, '..'),
      taskQueue,
      descriptors: steps.descriptors,
    });
    running.push(run);
    await pollUntil(`step slow of ${run.workflowId} to start`, () => startedActivities.has(`${run.workflowId}/slow`));
    return run;
  }

  /** The run's MLflow run and its step runs, once its step run exists. */
  async function mlflowRunsOf(workflowId: string): Promise<{ pipeline: Run; steps: Run[] }> {
    return pollUntil(`the MLflow runs of ${workflowId}`, async () => {
      const experimentIds = [];
      for await (const experiment of mlflow.experiments.searchAll()) experimentIds.push(experiment.experimentId);
      const found = await mlflow.runs.search({ experimentIds, filter: `tags.\`mloe.workflowId\` = '${workflowId}'` });
      const pipeline = found.items.find((run) =>
        run.data.tags.some((tag) => tag.key === 'mloe.kind' && tag.value === 'pipeline'),
      );
      const stepRuns = found.items.filter((run) => run !== pipeline);
      return pipeline === undefined || stepRuns.length === 0 ? undefined : { pipeline, steps: stepRuns };
    });
  }

  it('ends a terminated run as KILLED with its step runs, at its close time, and leaves an open run alone', async () => {
    const terminated = await startWaiting();
    const open = await startWaiting();
    const before = await mlflowRunsOf(terminated.workflowId);
    expect(before.pipeline.info.status).toBe('RUNNING');
    await mlflowRunsOf(open.workflowId);
    await terminated.handle.terminate('the test terminates it');
    const closeTime = (await terminated.handle.describe()).closeTime;

    const reports: string[] = [];
    const sweeper = startTrackingSweeper({
      connection: worker.env.nativeConnection,
      tracking,
      intervalMs: 3_600_000,
      report: (message) => reports.push(message),
    });
    try {
      // The sweep at start ends it; this one, after it, finds nothing more to end.
      const again = await sweeper.sweep();
      expect(again.map((run) => run.workflowId)).not.toContain(terminated.workflowId);
      expect(again.map((run) => run.workflowId)).not.toContain(open.workflowId);
    } finally {
      await sweeper.stop();
    }
    expect(reports).toContain(
      `ended MLflow run ${before.pipeline.info.runId} of ${terminated.workflowId} as KILLED: its workflow is TERMINATED`,
    );
    const after = await mlflow.runs.get(before.pipeline.info.runId);
    expect(after.info.status).toBe('KILLED');
    expect(after.info.endTime).toBe(closeTime?.getTime());
    expect(after.data.tags).toContainEqual({ key: 'mloe.state', value: 'terminated' });
    expect((await mlflow.runs.get(before.steps[0]?.info.runId ?? '')).info.status).toBe('KILLED');
    expect((await mlflowRunsOf(open.workflowId)).pipeline.info.status).toBe('RUNNING');
  }, 120_000);
});
