/**
 * The bridge from step executions to MLflow (`activities/tracking`): every execution of `runStep` (a cache hit
 * included) becomes a nested run of its pipeline's MLflow run, opened when it starts and ended with its params,
 * metrics, tags and datasets when it completes (or with its error when it fails). A `foreach` step's first
 * {@link MAX_TRACKED_ITERATIONS} iterations get runs of their own (`step[3]`); every iteration's metrics reach the
 * pipeline run as `<step>.<key>` at step = the iteration.
 *
 * The run is created while the step is dispatched (the worker that scheduled it prepared it, `prepared-runs.ts`) or
 * while it runs; its data is logged before the step completes (a completed step has its data in MLflow); only its end
 * status is written behind the step, while the workflow schedules the next one (the next
 * execution of the run on this worker, and the run's end, wait for it; the run's end also settles an end a stopped
 * worker lost). Unlike lineage, tracking fails the step when the tracking server cannot be reached (`failsStep`): the
 * step is retried under its retry policy, and the run fails with a message naming the server, rather than completing
 * with holes in MLflow nobody notices. Data MLflow would refuse (a NaN metric, an oversized param, a bad key) does not fail
 * the step: its work is done and its outputs are valid, so the rest is logged and the refused items are reported on
 * the run (`mloe.tracking.problems`) and in the worker's log, each naming the step and the key.
 */
import { Context, type Info } from '@temporalio/activity';

import { artifactRefsIn } from '../artifacts';
import {
  claimWhileRunning,
  completeStepRun,
  failStepRun,
  logToPipelineRun,
  openStepRun,
  stepMetricPoints,
  stepRunName,
  type MlflowTracker,
  type StepExecution,
  type StepRun,
  type TrackedRun,
} from '../tracking';
import type { ExecutionObserver, ExecutionReport } from './run-step';
import type { RunStepRequest } from './types';

/** Iterations of a `foreach` step with an MLflow run of their own: indexes 0 to 99. */
export const MAX_TRACKED_ITERATIONS = 100;

/** How long a step runs before a prepared run it took is tagged as its execution's (`claimWhileRunning`). */
const CLAIM_AFTER_MS = 1_000;

/** The running activity's info, when there is one. */
function activityInfo(): Info | undefined {
  try {
    return Context.current().info;
  } catch {
    return undefined;
  }
}

/** The execution a request is, as tracking names it. */
function executionOf(request: RunStepRequest, info: Info | undefined): StepExecution {
  const temporalRunId = info?.workflowExecution?.runId;
  return {
    workflowId: request.workflowId,
    firstExecutionRunId: request.firstExecutionRunId,
    ...(temporalRunId === undefined ? {} : { temporalRunId }),
    pipeline: request.pipeline,
    stepId: request.stepId,
    ...(request.index === undefined ? {} : { index: request.index }),
    uses: request.uses ?? 'run',
  };
}

/** Whether an execution gets a run of its own (every step; a `foreach` iteration below the cap). */
function hasOwnRun(request: RunStepRequest): boolean {
  return request.index === undefined || request.index < MAX_TRACKED_ITERATIONS;
}

/** Whether a failed attempt is the last: not retryable, or the retry policy's attempts are used up. */
function isFinalAttempt(nonRetryable: boolean | undefined, attempt: number, info: Info | undefined): boolean {
  if (nonRetryable === true) return true;
  const maximum = info?.retryPolicy?.maximumAttempts;
  return maximum !== undefined && maximum > 0 && attempt >= maximum;
}

/** An observer that tracks every step execution in MLflow through `tracker` (see the module doc). */
export function trackingObserver(tracker: MlflowTracker): ExecutionObserver {
  /** The run each execution opened, by its request (the same object from start to finish). */
  const opened = new WeakMap<RunStepRequest, Promise<StepRun>>();
  /** Cancels the claim of a prepared run a running execution took, by its request. */
  const claims = new WeakMap<RunStepRequest, () => void>();
  const label = (request: RunStepRequest): string =>
    `step ${stepRunName(request.stepId, request.index)} of ${request.workflowId}`;

  /** The pipeline's MLflow run, or undefined (warned) when its start was not tracked. */
  const parentOf = async (request: RunStepRequest): Promise<TrackedRun | undefined> => {
    const parent = await tracker.findPipelineRun(request.workflowId, request.pipeline);
    if (parent === undefined) {
      tracker.warn(
        `${label(request)} is not tracked: the pipeline run has no MLflow run in experiment ` +
          `${JSON.stringify(tracker.experimentName(request.pipeline))} (its start was not tracked: tracking was off, ` +
          'or the server unreachable, when it started)',
      );
    }
    return parent;
  };

  const finish = async (report: ExecutionReport, run: StepRun): Promise<void> => {
    const { outcome } = report;
    if (!outcome.ok) {
      await failStepRun(tracker, run, {
        attempt: report.attempt,
        error: outcome.error,
        final: isFinalAttempt(outcome.nonRetryable, report.attempt, activityInfo()),
        finishedAt: report.finishedAt,
      });
      return;
    }
    const { result } = outcome;
    const { points, problems } = await stepMetricPoints(result, report.store);
    await completeStepRun(tracker, run, {
      attempt: result.attempt,
      finishedAt: report.finishedAt,
      cache: result.cache.decision,
      inputs: report.request.inputs,
      outputs: result.outputs,
      metrics: points,
      problems,
      inputArtifacts: artifactRefsIn(report.request.inputs),
      outputArtifacts: artifactRefsIn(result.outputs),
    });
  };

  /** An iteration without a run of its own: its latest metrics go to the pipeline run only. */
  const finishUntracked = async (report: ExecutionReport): Promise<void> => {
    const { request, outcome } = report;
    if (!outcome.ok) return;
    const parent = await tracker.findPipelineRun(request.workflowId, request.pipeline);
    if (parent === undefined) return;
    const { points, problems } = await stepMetricPoints(outcome.result, report.store);
    const refused = await logToPipelineRun(
      tracker,
      { parent, execution: executionOf(request, undefined), startTime: parent.startTime },
      points,
    );
    for (const problem of [...problems, ...refused])
      tracker.warn(`${label(request)}: not logged to MLflow: ${problem}`);
  };

  return {
    failsStep: true,
    async started(request, _store, startedAt) {
      try {
        const parent = await parentOf(request);
        if (parent !== undefined && hasOwnRun(request)) {
          const info = activityInfo();
          const run = openStepRun(tracker, parent, executionOf(request, info), startedAt, info?.attempt ?? 1);
          // Opened while the step runs; a failure surfaces when the step finishes.
          run
            .then((taken) => claims.set(request, claimWhileRunning(tracker, taken, CLAIM_AFTER_MS)))
            .catch(() => undefined);
          opened.set(request, run);
        }
        // What earlier steps of the run left to write on this worker is written before the step starts (while its run
        // is opened): a failure fails this step.
        await tracker.barrier(request.workflowId);
      } catch (error) {
        throw tracker.failure(error, `tracking ${label(request)}`);
      }
    },
    async finished(report) {
      const run = opened.get(report.request);
      opened.delete(report.request);
      try {
        if (run !== undefined) {
          const taken = await run;
          // After the run is open (its claim is set up then): the step's own write claims it now.
          claims.get(report.request)?.();
          claims.delete(report.request);
          await finish(report, taken);
        } else if (report.outcome.ok && !hasOwnRun(report.request)) await finishUntracked(report);
      } catch (error) {
        throw tracker.failure(error, `tracking ${label(report.request)}`);
      }
    },
  };
}
