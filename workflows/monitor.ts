/**
 * `monitorModel`: one tick of a drift monitor (docs/monitoring.md), started by the monitor's Temporal Schedule. It
 * reads the monitor's state, compares the current data with the reference (an activity: the drift report artifact
 * and the MLflow run), decides with `core/monitoring/episodes.ts` whether the drift episode gets a retraining run,
 * and starts it as an ordinary `runPipeline` run: an abandoned child whose workflow id is derived from the monitor and
 * the episode and started with `REJECT_DUPLICATE`, so one episode never gets two runs, whatever is retried. The
 * run's candidate goes through the pipeline's own policies and approval gate.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, patched, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';

import type { MonitorActivities } from '../activities/monitoring/activities';
import { decideTick, type MonitorState } from '../core/monitoring/episodes';
import { QUICK_STORE_CALL, backoffRetry } from './activity-options';
import {
  PIPELINE_SEARCH_ATTRIBUTE,
  PIPELINE_STATUS_VALUES,
  RUN_PIPELINE_WORKFLOW_TYPE,
  STATUS_SEARCH_ATTRIBUTE,
  type MonitorTickInput,
  type MonitorTickResult,
  type RunPipelineWorkflow,
} from './types';
import { notify, wants } from './notifications';
import { scheduledStartTime } from './scheduled-run';

/** State reads and writes: quick, retried through a store's hiccups. */
const state = proxyActivities<MonitorActivities>(QUICK_STORE_CALL);

/** The check reads both datasets: give it time, and retry a few times. */
const check = proxyActivities<MonitorActivities>({
  startToCloseTimeout: '30 minutes',
  retry: backoffRetry({ initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5 }),
});

/** The patch under which a tick on time counts from its scheduled time (see {@link tickTime}). */
export const MONITOR_SCHEDULED_TIME_PATCH = 'mloe-monitor-scheduled-time';

/** How late a tick may start and still count from its scheduled time. */
const ON_TIME_MS = 60_000;

/**
 * The time a tick counts from (its cooldowns, its caps, the serving logs it reads): its scheduled time when a schedule
 * started it at most a minute late, so that a cooldown of six hours on an hourly monitor ends exactly on the sixth tick
 * rather than a millisecond after it; when it started, for a tick started later than that (catch-up, backfill) or not
 * by a schedule, and for ticks recorded before the patch.
 */
function tickTime(): Date {
  const started = workflowInfo().runStartTime;
  const scheduled = scheduledStartTime();
  if (scheduled === undefined) return started;
  const late = started.getTime() - scheduled.getTime();
  if (late < 0 || late > ON_TIME_MS) return started;
  return patched(MONITOR_SCHEDULED_TIME_PATCH) ? scheduled : started;
}

/** The patch under which a tick that starts a retraining run tells the webhooks of its pipeline that want it. */
export const DRIFT_NOTIFY_PATCH = 'mloe-drift-notify';

/**
 * Sends `drift.detected` to the webhooks of the retraining pipeline's spec that want it (docs/notifications.md), once,
 * when a tick has started the episode's retraining run. Ticks of pipelines without such a webhook issue no command, and
 * ticks recorded before the patch replay without one.
 */
export async function driftDetectedHook(input: MonitorTickInput, result: MonitorTickResult): Promise<void> {
  const notifications = input.retrain.spec.notifications;
  if (!wants(notifications, 'drift.detected') || !patched(DRIFT_NOTIFY_PATCH)) return;
  const { definition } = input;
  await notify(notifications, 'drift.detected', {
    monitor: definition.name,
    model: definition.model,
    observation: result.observation,
    driftedFeatures: result.driftedFeatures,
    report: result.report,
    ...(result.decision.action === 'start'
      ? { episode: result.decision.episode, retrainingRun: result.decision.workflowId }
      : {}),
  });
}

/** When the episode of a decided state opened (the tick's time when it opened now). */
function openedAt(decided: MonitorState, at: Date): string {
  return decided.episode?.openedAt ?? at.toISOString();
}

/** One tick of a drift monitor. */
export async function monitorModel(input: MonitorTickInput): Promise<MonitorTickResult> {
  const { definition, retrain } = input;
  const info = workflowInfo();
  const at = tickTime();
  const store = { artifactStore: definition.artifactStore, name: definition.name };
  const before = await state.loadMonitorState(store);
  const result = await check.checkDrift({
    definition,
    tick: { id: `${info.workflowId}/${info.runId}`, at: at.toISOString() },
  });
  const { state: after, decision } = decideTick(definition.name, before, result.observation, at, {
    cooldownMs: definition.cooldownMs,
    maxRunsPerDay: definition.maxRunsPerDay,
  });
  let started = false;
  if (decision.action === 'start') {
    // The episode is saved as open before its run starts: should the state written after the start be lost, the
    // next tick finds the episode, derives the same workflow id, and Temporal refuses a second run.
    await state.saveMonitorState({
      ...store,
      state: { ...before, episode: { id: decision.episode, openedAt: openedAt(after, at) } },
    });
    const spec = retrain.spec;
    try {
      await startChild<RunPipelineWorkflow>(RUN_PIPELINE_WORKFLOW_TYPE, {
        workflowId: decision.workflowId,
        args: [retrain],
        taskQueue: info.taskQueue,
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: PIPELINE_SEARCH_ATTRIBUTE, value: spec.metadata.name },
          { key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.running },
        ],
        memo: {
          pipeline: spec.metadata.name,
          specHash: retrain.specHash,
          params: retrain.params,
          monitor: definition.name,
          driftEpisode: decision.episode,
          driftReport: result.report.uri,
        },
        staticSummary: `retraining ${definition.model} (monitor ${definition.name}, drift episode ${decision.episode})`,
      });
      started = true;
    } catch (error) {
      // Started before (a retried tick, or state lost): the episode has its run; nothing more to do.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }
  await state.saveMonitorState({
    ...store,
    state: {
      ...after,
      lastTick: {
        at: at.toISOString(),
        outcome: `${result.observation}: ${decision.action}`,
        report: result.report.uri,
      },
    },
  });
  const outcome: MonitorTickResult = {
    observation: result.observation,
    decision,
    started,
    driftedFeatures: result.driftedFeatures,
    report: result.report.uri,
    ...(result.mlflowRunId === undefined ? {} : { mlflowRunId: result.mlflowRunId }),
  };
  if (started) await driftDetectedHook(input, outcome);
  return outcome;
}
