/**
 * The bridge from step executions to lineage: every execution of `runStep` (a hit included) leaves a step record in
 * the run's store (`records/steps/…`, what `mloe lineage` walks) and, when OpenLineage is configured, a START event
 * when it begins and a COMPLETE or FAIL event when it ends.
 */
import { Context } from '@temporalio/activity';

import { artifactUses, emitStepStart, recordStepExecution, type LineageEmitter, type LineageLogger } from '../lineage';
import type { ExecutionObserver } from './run-step';

/** The logger of the running activity, when there is one. */
function activityLogger(): LineageLogger | undefined {
  try {
    return Context.current().log;
  } catch {
    return undefined;
  }
}

/** An observer that records and reports every step execution through `emitter`. */
export function lineageObserver(emitter: LineageEmitter): ExecutionObserver {
  return {
    async started(request, _store, startedAt) {
      const logger = activityLogger();
      await emitStepStart(
        emitter,
        {
          workflowId: request.workflowId,
          pipeline: request.pipeline,
          stepId: request.stepId,
          ...(request.index === undefined ? {} : { index: request.index }),
          uses: request.uses ?? 'run',
          startedAt: startedAt.toISOString(),
          inputs: artifactUses(request.inputs),
        },
        ...(logger === undefined ? [] : [logger]),
      );
    },
    async finished(report) {
      const { request, outcome } = report;
      const logger = activityLogger();
      const cache = outcome.ok ? outcome.result.cache : (outcome.cache ?? { decision: 'miss', reasons: [] });
      await recordStepExecution(
        report.store,
        {
          version: 2,
          workflowId: request.workflowId,
          firstExecutionRunId: request.firstExecutionRunId,
          pipeline: request.pipeline,
          stepId: request.stepId,
          ...(request.index === undefined ? {} : { index: request.index }),
          uses: request.uses ?? 'run',
          attempt: outcome.ok ? outcome.result.attempt : report.attempt,
          startedAt: report.startedAt.toISOString(),
          finishedAt: report.finishedAt.toISOString(),
          durationMs: report.finishedAt.getTime() - report.startedAt.getTime(),
          state: outcome.ok ? 'completed' : 'failed',
          cache,
          inputs: artifactUses(request.inputs),
          outputs: outcome.ok ? artifactUses(outcome.result.outputs) : [],
          ...(outcome.ok ? {} : { error: outcome.error.slice(0, 10_000) }),
        },
        emitter,
        logger === undefined ? {} : { logger },
      );
    },
  };
}
