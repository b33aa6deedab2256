/**
 * The run record: written (with the pipeline's OpenLineage event, and its MLflow run when the worker tracks runs) when
 * the run starts and when it ends, through the `recordRun` activity, even when the run was cancelled.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, log, proxyActivities } from '@temporalio/workflow';

import type { LineageActivities, RunStatusSnapshot } from '../activities/lineage';
import { describeFailure } from './step-execution';
import type { PipelineRunStatus } from './types';

/**
 * Writes the run record and emits the pipeline's OpenLineage event. A failure to record is logged, never the run's
 * failure (the steps' own records and the history still tell what happened), except a refusal to overwrite another
 * run's record: that fails the run with a non-retryable `RECORD_CONFLICT`. The link to the run's MLflow run that the
 * activity answers is kept in the status (`mlflow`); histories from before tracking answered nothing.
 */
export async function recordRunSafely(status: PipelineRunStatus, firstExecutionRunId: string): Promise<void> {
  const { recordRun } = proxyActivities<LineageActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 3 },
    summary: `record run (${status.state})`,
  });
  try {
    const recorded = await CancellationScope.nonCancellable(() =>
      recordRun({ status: runSnapshot(status), firstExecutionRunId }),
    );
    if (recorded?.mlflow !== undefined) status.mlflow = recorded.mlflow;
  } catch (error) {
    if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) {
      if (error.cause.type === 'RECORD_CONFLICT') {
        throw ApplicationFailure.create({ type: 'RECORD_CONFLICT', message: error.cause.message, nonRetryable: true });
      }
    }
    log.warn('could not record the run', { workflowId: status.workflowId, error: describeFailure(error) });
  }
}

/** The run as its record needs it: no outputs (they are in the step records), so the payload stays small. */
function runSnapshot(status: PipelineRunStatus): RunStatusSnapshot {
  return {
    ...status,
    steps: status.steps.map((step) => ({
      id: step.id,
      uses: step.uses,
      state: step.state,
      attempts: step.attempts,
      ...(step.startedAt === undefined ? {} : { startedAt: step.startedAt }),
      ...(step.finishedAt === undefined ? {} : { finishedAt: step.finishedAt }),
      ...(step.durationMs === undefined ? {} : { durationMs: step.durationMs }),
      cache: step.cache,
      ...(step.error === undefined ? {} : { error: step.error }),
    })),
  };
}
