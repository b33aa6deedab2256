/**
 * `foreachBatch`: a child workflow that runs one slice of a large `foreach` fan-out. Splitting a fan-out over children
 * keeps each workflow's history (about three events per activity) and pending activities within Temporal's limits:
 * the parent records one child per batch instead of one activity per item.
 */
import { CancellationScope, CancelledFailure } from '@temporalio/workflow';

import type { RunStepRequest } from '../activities/steps';
import { ActivitySlots, runIterations, type ExecutionOutcome, type StepActivityOptions } from './step-execution';

/** Input of {@link foreachBatch}. */
export interface ForeachBatchInput {
  /** The iterations, with every input resolved by the parent. */
  requests: RunStepRequest[];
  options: StepActivityOptions;
  /** At most this many iterations at once. */
  concurrency: number;
}

/** What {@link foreachBatch} returns: one outcome per request, in order (`null`: not started, the batch was cancelled). */
export interface ForeachBatchResult {
  outcomes: (ExecutionOutcome | null)[];
}

/** Runs a batch of `foreach` iterations; an iteration's failure is an outcome, not a failure of the batch. */
export async function foreachBatch(input: ForeachBatchInput): Promise<ForeachBatchResult> {
  const slots = new ActivitySlots(Math.max(1, input.concurrency));
  const outcomes = await runIterations(input.requests, input.options, input.concurrency, slots);
  // A cancelled batch ends cancelled (not completed), so the parent sees the cancellation.
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('foreach batch cancelled');
  return { outcomes: compactOutcomes(outcomes) };
}

/**
 * Outcomes as the parent needs them, to keep its history small: no logs (a `foreach` step's status shows none), and
 * the cache key and reasons only of the first iteration and of the first that missed (the ones the parent reports);
 * the others keep their decision.
 */
function compactOutcomes(outcomes: readonly (ExecutionOutcome | undefined)[]): (ExecutionOutcome | null)[] {
  let explainedMiss = false;
  return outcomes.map((outcome, index) => {
    if (outcome === undefined) return null;
    if (!outcome.ok) return outcome;
    const { logs: _logs, ...result } = outcome.result;
    const firstMiss = result.cache.decision === 'miss' && !explainedMiss;
    if (firstMiss) explainedMiss = true;
    if (index === 0 || firstMiss) return { ok: true, result };
    return { ok: true, result: { ...result, cache: { decision: result.cache.decision, reasons: [] } } };
  });
}
