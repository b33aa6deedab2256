/**
 * Pipeline runs that MLflow still shows `RUNNING` although their workflow has closed without telling it: a
 * terminated workflow runs no more code (its `recordRun` at the end never happens), nor does one that timed out. A
 * sweep (`workers/tracking-sweeper.ts`) asks Temporal about every `RUNNING` pipeline run and ends those whose
 * workflow has closed, with Temporal's close time and status: terminated → `KILLED`, timed out → `FAILED`, and the
 * status the workflow would have written for one that closed while its own write failed (completed → `FINISHED`,
 * failed → `FAILED`, cancelled → `KILLED`). Step runs left `RUNNING` under it end with it. A workflow Temporal no
 * longer knows (retention removed it) ends as `KILLED`. Nothing is changed while the workflow is open, nor in runs of
 * another Temporal namespace (one MLflow server may track several).
 */
import type { Run, RunStatus } from '../mlflow';
import { MLFLOW_TAGS, MLOE_TAGS, tagEquals } from './names';
import type { MlflowTracker } from './tracker';

/** What Temporal says of a workflow, as the sweep needs it. */
export type WorkflowOutcome =
  | { state: 'open' }
  | { state: 'not-found' }
  | {
      state: 'closed';
      /** Temporal's status name: `COMPLETED`, `FAILED`, `CANCELLED`, `TERMINATED`, `TIMED_OUT`, `CONTINUED_AS_NEW`. */
      status: string;
      closeTime?: Date;
    };

/** A pipeline run the sweep ended. */
export interface SettledClosedRun {
  workflowId: string;
  runId: string;
  /** The MLflow status it got. */
  status: RunStatus;
  /** The Temporal status it was settled for (`NOT_FOUND` when Temporal no longer knows the workflow). */
  temporalStatus: string;
  /** Step runs ended with it. */
  stepRuns: number;
}

const STATUS_OF_CLOSED: Readonly<Record<string, RunStatus>> = {
  COMPLETED: 'FINISHED',
  FAILED: 'FAILED',
  CANCELLED: 'KILLED',
  TERMINATED: 'KILLED',
  TIMED_OUT: 'FAILED',
};

/** The `mloe.state` tag a settled run gets, by Temporal status. */
const STATE_OF_CLOSED: Readonly<Record<string, string>> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
  NOT_FOUND: 'lost',
};

/**
 * Ends every `RUNNING` pipeline run of `namespace` in MLflow whose workflow `describe` says has closed (see the module doc). Runs
 * whose workflow is open are left alone; a `describe` that throws leaves that run for the next sweep.
 */
export async function settleRunsOfClosedWorkflows(
  tracker: MlflowTracker,
  namespace: string,
  describe: (workflowId: string) => Promise<WorkflowOutcome>,
): Promise<SettledClosedRun[]> {
  const experimentIds: string[] = [];
  for await (const experiment of tracker.client.experiments.searchAll()) experimentIds.push(experiment.experimentId);
  if (experimentIds.length === 0) return [];
  const running: Run[] = [];
  for await (const run of tracker.client.runs.searchAll({
    experimentIds,
    filter: `${tagEquals(MLOE_TAGS.kind, 'pipeline')} and ${tagEquals(MLOE_TAGS.namespace, namespace)} and attributes.status = 'RUNNING'`,
  })) {
    running.push(run);
  }
  const settled: SettledClosedRun[] = [];
  for (const run of running) {
    const workflowId = run.data.tags.find((tag) => tag.key === MLOE_TAGS.workflowId)?.value;
    if (workflowId === undefined) continue;
    let outcome: WorkflowOutcome;
    try {
      outcome = await describe(workflowId);
    } catch {
      continue;
    }
    if (outcome.state === 'open') continue;
    if (outcome.state === 'closed' && STATUS_OF_CLOSED[outcome.status] === undefined) continue;
    const temporalStatus = outcome.state === 'closed' ? outcome.status : 'NOT_FOUND';
    const status = STATUS_OF_CLOSED[temporalStatus] ?? 'KILLED';
    const endTime = (outcome.state === 'closed' ? outcome.closeTime?.getTime() : undefined) ?? Date.now();
    const stepRuns = await endStepRuns(tracker, run, endTime);
    await tracker.client.runs.setTag(run.info.runId, MLOE_TAGS.state, STATE_OF_CLOSED[temporalStatus] ?? 'lost');
    await tracker.client.runs.update(run.info.runId, { status, endTime });
    settled.push({ workflowId, runId: run.info.runId, status, temporalStatus, stepRuns });
  }
  return settled;
}

/** Ends the step runs still `RUNNING` under `parent` as `KILLED` (their steps never reported an end). */
async function endStepRuns(tracker: MlflowTracker, parent: Run, endTime: number): Promise<number> {
  let ended = 0;
  for await (const stepRun of tracker.client.runs.searchAll({
    experimentIds: [parent.info.experimentId],
    filter: `${tagEquals(MLFLOW_TAGS.parentRunId, parent.info.runId)} and attributes.status = 'RUNNING'`,
  })) {
    await tracker.client.runs.update(stepRun.info.runId, { status: 'KILLED', endTime });
    ended += 1;
  }
  return ended;
}
