/**
 * A pipeline run as an MLflow run, written by the `recordRun` activity when the run starts (before any step) and when
 * it ends (completed, failed or cancelled; the workflow calls it even when cancelled).
 *
 * - Start: the run is found by its tags (`mloe.workflowId`, `mloe.kind=pipeline`) in the pipeline's experiment, or
 *   created with them; its params are logged. A retried start finds the run it created: MLflow's `runs/create` takes
 *   no id, so find-or-create is what makes the activity idempotent.
 * - End: the run's final tags, then every step run still `RUNNING` under it (a cancelled step, a worker that crashed
 *   mid-step, a timeout) is ended with its step's state, then the run itself gets its status and end time from the
 *   workflow's: completed → `FINISHED`, failed → `FAILED`, cancelled → `KILLED`. A run whose start was not tracked
 *   (tracking was off, or the server down, when it started) is created here, so it appears at least with its outcome.
 */
import { isSecretName } from '../cache/key';
import type { RunStatus, TagsInput } from '../mlflow';
import { paramText, tagValue, type KeyValue } from './limits';
import { MLFLOW_TAGS, MLOE_TAGS, tagEquals } from './names';
import type { MlflowTracker, TrackedRun } from './tracker';
import type { MlflowRunLink, TemporalIdentity, TrackedPipelineRun, TrackedState } from './types';
import packageJson from '../../package.json';

/** Step runs ended at once when a pipeline run ends (a bound on concurrent requests, not on how many). */
const SETTLE_CONCURRENCY = 8;

/**
 * Writes a pipeline run to MLflow (see the module doc) and returns the link to it. Failures are thrown as
 * `MLFLOW_REQUEST_FAILED` naming the server.
 */
export async function trackPipelineRun(
  tracker: MlflowTracker,
  run: TrackedPipelineRun,
  temporal: TemporalIdentity,
): Promise<MlflowRunLink> {
  try {
    // What the run's steps left to write on this worker is written before the run is ended.
    if (run.state !== 'running') await tracker.barrier(run.workflowId);
    const { tracked, created } = await pipelineRunOf(tracker, run, temporal);
    const ended = run.state !== 'running';
    const tags: KeyValue[] = [{ key: MLOE_TAGS.temporalRunId, value: temporal.temporalRunId }];
    if (ended) {
      tags.push({ key: MLOE_TAGS.state, value: run.state });
      if (run.error !== undefined) tags.push({ key: MLOE_TAGS.error, value: tagValue(run.error) });
    }
    const params = ended && !created ? [] : paramsOf(run.params);
    const problems = await tracker.logChecked(tracked.runId, { params, tags });
    if (problems.length > 0) await tracker.reportProblems(tracked.runId, `pipeline run ${run.workflowId}`, problems);
    if (ended) {
      await settleStepRuns(tracker, tracked, run);
      const endTime = Date.parse(run.finishedAt ?? '') || Date.now();
      await tracker.client.runs.update(tracked.runId, { status: RUN_STATUS[run.state], endTime });
    }
    return tracker.link(tracked);
  } catch (error) {
    throw tracker.failure(error, `tracking pipeline run ${run.workflowId}`);
  }
}

/** The MLflow status of a pipeline's state. */
const RUN_STATUS: Record<TrackedPipelineRun['state'], RunStatus> = {
  running: 'RUNNING',
  completed: 'FINISHED',
  failed: 'FAILED',
  cancelled: 'KILLED',
};

/** The run's MLflow run: the one recorded at its start, else the one found by its tags, else a new one. */
async function pipelineRunOf(
  tracker: MlflowTracker,
  run: TrackedPipelineRun,
  temporal: TemporalIdentity,
): Promise<{ tracked: TrackedRun; created: boolean }> {
  if (run.mlflow !== undefined) {
    const known: TrackedRun = {
      runId: run.mlflow.runId,
      experimentId: run.mlflow.experimentId,
      startTime: Date.parse(run.startedAt) || 0,
      status: 'RUNNING',
    };
    tracker.rememberPipelineRun(run.workflowId, known);
    return { tracked: known, created: false };
  }
  const found = await tracker.findPipelineRun(run.workflowId, run.pipeline);
  if (found !== undefined) return { tracked: found, created: false };
  const experimentId = await tracker.experimentId(run.pipeline);
  const startTime = Date.parse(run.startedAt) || Date.now();
  const created = await tracker.client.runs.create({
    experimentId,
    runName: run.workflowId,
    startTime,
    tags: pipelineTags(tracker, run, temporal),
  });
  const tracked: TrackedRun = { runId: created.info.runId, experimentId, startTime, status: 'RUNNING' };
  tracker.rememberPipelineRun(run.workflowId, tracked);
  return { tracked, created: true };
}

/** The tags a pipeline run is created with: MLflow's own and the links back to mloe. */
function pipelineTags(tracker: MlflowTracker, run: TrackedPipelineRun, temporal: TemporalIdentity): TagsInput {
  const metadata = run.metadata ?? {};
  const commit = metadata.gitCommit?.replace(/-dirty$/, '');
  return {
    [MLFLOW_TAGS.runName]: run.workflowId,
    [MLFLOW_TAGS.user]: tracker.user,
    [MLFLOW_TAGS.sourceName]: metadata.specFile ?? run.pipeline,
    [MLFLOW_TAGS.sourceType]: 'JOB',
    ...(commit === undefined ? {} : { [MLFLOW_TAGS.gitCommit]: commit }),
    [MLOE_TAGS.kind]: 'pipeline',
    [MLOE_TAGS.workflowId]: run.workflowId,
    [MLOE_TAGS.firstExecutionRunId]: temporal.firstExecutionRunId,
    [MLOE_TAGS.temporalRunId]: temporal.temporalRunId,
    [MLOE_TAGS.namespace]: temporal.namespace,
    [MLOE_TAGS.pipeline]: run.pipeline,
    [MLOE_TAGS.specHash]: run.specHash,
    [MLOE_TAGS.version]: metadata.mloeVersion ?? packageJson.version,
    ...(metadata.gitCommit === undefined ? {} : { [MLOE_TAGS.gitCommit]: metadata.gitCommit }),
  };
}

/** The run's parameters as MLflow params; those whose names suggest a secret are logged as `[redacted]`. */
function paramsOf(params: Readonly<Record<string, unknown>>): KeyValue[] {
  return Object.entries(params).map(([key, value]) => ({
    key,
    value: isSecretName(key) ? '[redacted]' : paramText(value),
  }));
}

/** The MLflow status a step run left running gets, by its step's final state. */
function settledStatus(state: TrackedState | undefined): RunStatus {
  switch (state) {
    case 'completed':
      return 'FINISHED';
    case 'failed':
      return 'FAILED';
    default:
      return 'KILLED';
  }
}

/**
 * Ends every step run still `RUNNING` under a pipeline run that ended, with its step's state and end time. A run
 * prepared for a step and never written to (`prepared-runs.ts`) is deleted when its execution has another run or its
 * step never ran, and otherwise settled like the others (and given `mloe.execution`).
 */
async function settleStepRuns(tracker: MlflowTracker, parent: TrackedRun, run: TrackedPipelineRun): Promise<void> {
  const steps = new Map(run.steps.map((step) => [step.id, step]));
  const running = [];
  for await (const stepRun of tracker.client.runs.searchAll({
    experimentIds: [parent.experimentId],
    filter: `${tagEquals(MLFLOW_TAGS.parentRunId, parent.runId)} and attributes.status = 'RUNNING'`,
  })) {
    running.push(stepRun);
  }
  const fallbackEnd = Date.parse(run.finishedAt ?? '') || Date.now();
  for (let start = 0; start < running.length; start += SETTLE_CONCURRENCY) {
    await Promise.all(
      running.slice(start, start + SETTLE_CONCURRENCY).map(async (stepRun) => {
        const tags = Object.fromEntries(stepRun.data.tags.map((tag) => [tag.key, tag.value]));
        const stepId = tags[MLOE_TAGS.stepId];
        const step = stepId === undefined ? undefined : steps.get(stepId);
        const prepared = tags[MLOE_TAGS.execution] === undefined ? tags[MLOE_TAGS.prepared] : undefined;
        if (prepared !== undefined) {
          const ran = step !== undefined && step.state !== 'pending' && step.state !== 'skipped';
          const other = ran
            ? await tracker.findRun(parent.experimentId, tagEquals(MLOE_TAGS.execution, prepared))
            : undefined;
          if (!ran || other !== undefined) return tracker.client.runs.delete(stepRun.info.runId);
          await tracker.client.runs.setTag(stepRun.info.runId, MLOE_TAGS.execution, prepared);
        }
        const state = run.state === 'cancelled' && step?.state !== 'completed' ? 'cancelled' : step?.state;
        const endTime = Date.parse(step?.finishedAt ?? '') || fallbackEnd;
        const update = tracker.client.runs.update(stepRun.info.runId, { status: settledStatus(state), endTime });
        // A completed step whose data never arrived: its worker stopped between the step's end and the write behind it.
        if (state !== 'completed' || tags[MLOE_TAGS.logged] !== undefined) return update;
        const lost = 'its params and metrics were not tracked: the worker stopped before writing them';
        tracker.warn(`step ${stepRun.info.runName} of ${run.workflowId}: ${lost}`);
        return Promise.all([update, tracker.client.runs.setTag(stepRun.info.runId, MLOE_TAGS.problems, lost)]);
      }),
    );
  }
}
