/**
 * Records the workflow histories in `test/histories/` (`npm run record:histories`): starts the embedded dev server in
 * this process, a pipeline worker and a code-first worker, runs one execution per released behaviour, and writes each
 * workflow execution's history as JSON (the `History` message's `toJSON()`, see `sets.ts`). It lives beside the
 * histories and is never shipped: it runs test fixtures (the `echo`, `fail` and `wait-cancel` steps).
 *
 * Workflow ids start with the release (`v0_1_0-…`, from package.json), so the histories of a new release are added
 * beside those of earlier ones, whose runs may still be in flight. An existing file is never overwritten unless
 * `--replace` is given, which is only for histories of a release that was never deployed (docs/versioning.md):
 * without it, only the histories that have no file yet are written (a behaviour added within a release).
 */
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import * as prettier from 'prettier';

import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../../activities/steps';
import { HOUSING_DATA } from '../support/examples';
import { startPipeline, type StartPipelineOptions } from '../../clients/pipelines';
import { approvePromotion } from '../../clients/approvals';
import { trackingConfigFromEnv } from '../../activities/tracking';
import { startMlflowServer } from '../../infra/mlflow';
import { pipelineStatusQuery, type MonitorModelWorkflow } from '../../workflows/types';
import { prepareMonitor } from '../../clients/monitors';
import { MONITOR_WORKFLOW_TYPE } from '../../core/monitoring/definition';
import { rerunPipeline } from '../../clients/rerun';
import { createTrigger, deleteTrigger, describeTrigger } from '../../clients/triggers';
import { triggerWorkflowId } from '../../workflows/trigger-types';
import { BUILTIN_STEPS } from '../../core/steps/builtin';
import { startDevServer } from '../../infra/devserver';
import packageJson from '../../package.json';
import { housingPrice } from '../../pipelines/demo/code-first';
import { createPipelineWorker } from '../../workers/pipeline-worker';
import { runInBackground } from '../devserver/harness';
import { pollUntil } from '../support/poll';
import { ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP, startedActivities } from '../fixtures/test-steps';
import { suiteWorkflowBundle } from '../pipeline-harness';
import { DEBOUNCED_TRIGGER_ID, runDebouncedTrigger } from './debounced-trigger';
import { HISTORY_SETS, historyDirectory, type HistorySet } from './sets';

const TEST_STEPS = [ECHO_STEP, FAIL_STEP, WAIT_CANCEL_STEP];
const SPECS = join(__dirname, 'specs');
/** The prefix of every workflow id recorded by this release. */
const RELEASE = `v${packageJson.version.replace(/\./g, '_')}`;

function setNamed(directory: string): HistorySet {
  const set = HISTORY_SETS.find((candidate) => candidate.directory === directory);
  if (set === undefined) throw new Error(`no history set ${directory}`);
  return set;
}

const WORKFLOWS = setNamed('workflows');
const CODE_FIRST = setNamed('code-first');

/** The executions recorded, by set: the workflow ids (and so the file names) are known before anything runs. */
const IDS = {
  completed: `${RELEASE}-run-pipeline`,
  failed: `${RELEASE}-run-pipeline-failed`,
  cancelled: `${RELEASE}-run-pipeline-cancelled`,
  rerun: `${RELEASE}-run-pipeline-rerun`,
  manifest: `${RELEASE}-run-pipeline-manifest`,
  promotion: `${RELEASE}-run-pipeline-promotion`,
  promotionCancelled: `${RELEASE}-run-pipeline-promotion-cancelled`,
  monitor: `${RELEASE}-monitor-tick`,
  monitorScheduled: `${RELEASE}-monitor-tick-scheduled`,
  housing: `${RELEASE}-housing-price`,
  notified: `${RELEASE}-run-pipeline-notified`,
  trigger: triggerWorkflowId(`${RELEASE.replace(/_/g, '-')}-trigger`),
  debouncedTrigger: DEBOUNCED_TRIGGER_ID,
};
const RECORDINGS: readonly { set: HistorySet; workflowId: string }[] = [
  { set: WORKFLOWS, workflowId: IDS.completed },
  // Its sub-pipeline step's child run and the first of its `foreachBatch` children.
  { set: WORKFLOWS, workflowId: `${IDS.completed}-sub` },
  { set: WORKFLOWS, workflowId: `${IDS.completed}-large-batch-0` },
  { set: WORKFLOWS, workflowId: IDS.failed },
  { set: WORKFLOWS, workflowId: IDS.cancelled },
  // A rerun of the completed run from `large`: steps taken from it, a foreach over batch children run again.
  { set: WORKFLOWS, workflowId: IDS.rerun },
  // A list input over the (tiny) threshold, sent as a manifest.
  { set: WORKFLOWS, workflowId: IDS.manifest },
  // A promote step: policies, a manual gate approved by an `approve` Update, the alias move (docs/promotion.md).
  { set: WORKFLOWS, workflowId: IDS.promotion },
  // A promotion cancelled at its gate, behind patched('mloe-promotion-waiting-state').
  { set: WORKFLOWS, workflowId: IDS.promotionCancelled },
  // A drift monitor's tick that sees a drifted batch and starts its episode's retraining run (docs/monitoring.md).
  { set: WORKFLOWS, workflowId: IDS.monitor },
  // The same tick started by its schedule, counting from its scheduled time (behind
  // patched('mloe-monitor-scheduled-time')); a schedule appends the time to the id, see `startedAs`.
  { set: WORKFLOWS, workflowId: IDS.monitorScheduled },
  { set: CODE_FIRST, workflowId: IDS.housing },
  // A failed run that notifies a webhook (docs/notifications.md), and the child that delivers it.
  { set: WORKFLOWS, workflowId: IDS.notified },
  { set: WORKFLOWS, workflowId: `${IDS.notified}-notify-run-failed-1` },
  // A data-arrival trigger (docs/triggers.md) that found one file and started its run, then was deleted.
  { set: WORKFLOWS, workflowId: IDS.trigger },
  // A debounced trigger with --objects-param: one run for two files, with its object manifest (behind
  // patched('mloe-trigger-object-manifest')), then deleted.
  { set: WORKFLOWS, workflowId: IDS.debouncedTrigger },
];

/** The workflow id a recording's execution got, when not the one it is recorded as (a schedule appends its time). */
const startedAs = new Map<string, string>();

function fileOf(recording: { set: HistorySet; workflowId: string }): string {
  return join(historyDirectory(recording.set), `${recording.workflowId}.json`);
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Waits for a run that must fail, and fails if it did not. */
async function expectFailure(result: Promise<unknown>, workflowId: string): Promise<void> {
  const outcome = await result.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof WorkflowFailedError)) {
    throw new Error(`${workflowId} should have failed, got ${String(outcome)}`);
  }
}

/** Runs every recorded execution to its end on `client`, with workers polling `taskQueue(set)`. */
async function runExecutions(client: Client, taskQueue: (set: HistorySet) => string, directory: string): Promise<void> {
  const pipelineRun = (file: string, workflowId: string): StartPipelineOptions => ({
    file: join(SPECS, file),
    workflowId,
    taskQueue: taskQueue(WORKFLOWS),
    descriptors: [...BUILTIN_STEPS, ...TEST_STEPS.map((step) => step.descriptor)],
    artifactRoot: directory,
    workingDir: directory,
    foreachBatchSize: 4,
  });

  // Completed: foreach in the workflow and over three foreachBatch children, a sub-pipeline, a command step, a step
  // skipped by `when` (and one by its need), a failure that continueOnFailure keeps from failing the run.
  const completed = await startPipeline(client, pipelineRun('pipeline.yaml', IDS.completed));
  await completed.handle.result();

  // A rerun of it from `large` (`mloe rerun --from large`).
  const rerun = await rerunPipeline(client, { workflowId: IDS.completed, fromStep: 'large', newWorkflowId: IDS.rerun });
  await rerun.handle.result();

  // Lists over the manifest threshold.
  const manifest = await startPipeline(client, {
    ...pipelineRun('manifest.yaml', IDS.manifest),
    listManifestThresholdBytes: 16,
  });
  await manifest.handle.result();

  // Failed fast: one step fails, the running one is cancelled, the rest never start.
  const failed = await startPipeline(client, pipelineRun('failing.yaml', IDS.failed));
  await expectFailure(failed.handle.result(), IDS.failed);

  // Cancelled by the client while a step runs.
  const cancelled = await startPipeline(client, pipelineRun('cancelled.yaml', IDS.cancelled));
  await pollUntil(`step slow of ${IDS.cancelled} to start`, () => startedActivities.has(`${IDS.cancelled}/slow`));
  await cancelled.handle.cancel();
  await expectFailure(cancelled.handle.result(), IDS.cancelled);

  // A promotion cancelled while its gate waits (before the approved one: its policies need no champion yet).
  const cancelledPromotion = await startPipeline(client, {
    ...pipelineRun('promotion.yaml', IDS.promotionCancelled),
    params: { dataPath: HOUSING_DATA },
  });
  await pollUntil(
    `${IDS.promotionCancelled} to wait for approval`,
    async () =>
      (await cancelledPromotion.handle.query(pipelineStatusQuery)).steps.find((step) => step.id === 'promote')
        ?.promotion?.state === 'awaiting-approval',
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  await cancelledPromotion.handle.cancel();
  await expectFailure(cancelledPromotion.handle.result(), IDS.promotionCancelled);

  // A promotion, approved at its gate (the worker tracks in the embedded MLflow server).
  const promotion = await startPipeline(client, {
    ...pipelineRun('promotion.yaml', IDS.promotion),
    params: { dataPath: HOUSING_DATA },
  });
  await pollUntil(
    `${IDS.promotion} to wait for approval`,
    async () =>
      (await promotion.handle.query(pipelineStatusQuery)).steps.find((step) => step.id === 'promote')?.promotion
        ?.state === 'awaiting-approval',
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  await approvePromotion(client, IDS.promotion, { identity: 'history-recorder', reason: 'recorded history' });
  await promotion.handle.result();

  // A drift monitor's tick over a batch shifted by half the reference's range: drifted, one retraining run started.
  await writeFile(join(directory, 'reference.csv'), `x\n${Array.from({ length: 100 }, (_, i) => i).join('\n')}\n`);
  await writeFile(join(directory, 'batch.csv'), `x\n${Array.from({ length: 100 }, (_, i) => i + 50).join('\n')}\n`);
  const tick = await prepareMonitor({
    model: 'history-model@champion',
    name: 'history-monitor',
    pipeline: join(SPECS, 'retrain.yaml'),
    reference: join(directory, 'reference.csv'),
    batch: join(directory, 'batch.csv'),
    every: '1h',
    psi: 0.2,
    workingDir: directory,
    descriptors: [...BUILTIN_STEPS, ...TEST_STEPS.map((step) => step.descriptor)],
  });
  await client.workflow.execute<MonitorModelWorkflow>(MONITOR_WORKFLOW_TYPE, {
    taskQueue: taskQueue(WORKFLOWS),
    workflowId: IDS.monitor,
    args: [tick],
  });
  // The same tick, started by a schedule (triggered now): it counts from its scheduled time. The episode has its run
  // already, so this tick starts none.
  const schedule = await client.schedule.create({
    scheduleId: IDS.monitorScheduled,
    spec: { calendars: [{ year: 2099, month: 'JANUARY', dayOfMonth: 1 }] },
    action: {
      type: 'startWorkflow',
      workflowType: MONITOR_WORKFLOW_TYPE,
      workflowId: IDS.monitorScheduled,
      taskQueue: taskQueue(WORKFLOWS),
      args: [tick],
    },
  });
  await schedule.trigger();
  const scheduledTick = await pollUntil(`the scheduled tick of ${IDS.monitorScheduled}`, async () => {
    const { info } = await schedule.describe();
    return info.recentActions[0]?.action.workflow.workflowId;
  });
  await client.workflow.getHandle(scheduledTick).result();
  await schedule.delete();
  startedAs.set(IDS.monitorScheduled, scheduledTick);

  // A failed run with a webhook for run.failed, and its notification child (whose one attempt fails).
  const notified = await startPipeline(client, pipelineRun('notified.yaml', IDS.notified));
  await expectFailure(notified.handle.result(), IDS.notified);
  await client.workflow.getHandle(`${IDS.notified}-notify-run-failed-1`).result();

  // A trigger on a directory holding one file, which it starts a run for (--include-existing), then deleted.
  const watched = join(directory, 'watched');
  await mkdir(watched);
  await writeFile(join(watched, 'data.csv'), 'x\n1\n');
  const triggerName = IDS.trigger.slice('mloe-trigger-'.length);
  await createTrigger(client, {
    file: join(SPECS, 'notified.yaml'),
    name: triggerName,
    on: pathToFileURL(watched).href,
    includeExisting: true,
    poll: '200ms',
    taskQueue: taskQueue(WORKFLOWS),
    descriptors: [...BUILTIN_STEPS, ...TEST_STEPS.map((step) => step.descriptor)],
    artifactRoot: directory,
    workingDir: directory,
  });
  await pollUntil(
    `${IDS.trigger} to start its run`,
    async () => {
      const description = await describeTrigger(client, triggerName);
      return description.counters.runsStarted === 1 && description.counters.polls >= 3;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  await deleteTrigger(client, triggerName);

  // A debounced trigger with --objects-param: one run for two files, with its object manifest.
  await runDebouncedTrigger(client, taskQueue(WORKFLOWS), directory);

  // The code-first demo.
  await client.workflow.execute(housingPrice, {
    taskQueue: taskQueue(CODE_FIRST),
    workflowId: IDS.housing,
    args: [{ dataPath: HOUSING_DATA, workingDir: directory }],
  });
}

async function main(): Promise<void> {
  const replace = process.argv.includes('--replace');
  const missing = [];
  for (const recording of RECORDINGS) if (!(await exists(fileOf(recording)))) missing.push(recording);
  const writing = replace ? RECORDINGS : missing;
  if (writing.length === 0) {
    console.log(
      `every history of ${RELEASE} is recorded already; runs of a deployed release may still need them, so none is ` +
        'overwritten. Record a new release (bump the version), or pass --replace for a release never deployed.',
    );
    return;
  }

  const server = await startDevServer({ port: 0 });
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });
  const directory = await mkdtemp(join(tmpdir(), 'mloe-histories-'));
  const mlflow = await startMlflowServer({ port: 0, artifactsDestination: join(directory, 'mlflow') });
  const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: mlflow.url });
  const stops: (() => Promise<void>)[] = [];
  try {
    const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS, TEST_STEPS);
    const taskQueue = (set: HistorySet): string => `mloe-histories-${set.directory}`;
    for (const set of [WORKFLOWS, CODE_FIRST]) {
      const { code } = await suiteWorkflowBundle(set.workflowsPath);
      const worker = await createPipelineWorker({
        connection: nativeConnection,
        taskQueue: taskQueue(set),
        workflowBundle: { code },
        steps,
        artifactStore: { defaultUri: pathToFileURL(join(directory, 'store')).href },
        ...(tracking === undefined ? {} : { tracking }),
      });
      stops.push(runInBackground(worker));
    }
    await runExecutions(client, taskQueue, directory);
    for (const recording of writing) {
      const file = fileOf(recording);
      const workflowId = startedAs.get(recording.workflowId) ?? recording.workflowId;
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const json = JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON());
      const options = (await prettier.resolveConfig(file)) ?? {};
      await writeFile(file, await prettier.format(json, { ...options, filepath: file }));
      console.log(`recorded ${file} (${history.events?.length ?? 0} events)`);
    }
  } finally {
    for (const stop of stops) await stop();
    await nativeConnection.close();
    await connection.close();
    await server.close();
    await mlflow.close();
    await rm(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
