/**
 * Running step activities from workflow code: activity options built from the spec (retry, timeout, heartbeat,
 * summary), a bounded pool of in-flight activities, `foreach` iterations with a concurrency limit, and reading
 * failures back (message, error code, attempts). Shared by the interpreter and its `foreach` batch child workflow.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  isCancellation,
  proxyActivities,
  proxySinks,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';

import { MloeError } from '../core/errors';
import {
  DEFAULT_STEP_TIMEOUT,
  parseDuration,
  stepTaskQueue,
  type PipelineSpec,
  type RetrySpec,
  type StepSpec,
} from '../core/spec';
import type { RunStepRequest, RunStepResult, StepFailureDetails } from '../activities/steps';
import type { StepTrackingSinks } from '../activities/tracking/types';

/** The activities the interpreter calls: only `runStep`, whatever the step. */
interface StepActivities {
  runStep(request: RunStepRequest): Promise<RunStepResult>;
}

/** Timeout of one attempt when neither the step nor `defaults` sets one (defined with the spec, which validates it). */
export { DEFAULT_STEP_TIMEOUT };
/** Attempts when neither the step nor `defaults` sets `retry.maxAttempts` (Temporal's own default is unlimited). */
export const DEFAULT_MAX_ATTEMPTS = 3;
/**
 * The heartbeat timeout of steps that may run longer than this, unless the step or `defaults` sets
 * `heartbeatTimeout`: a dead worker is noticed this soon rather than at the step's timeout.
 */
export const HEARTBEAT_TIMEOUT_MS = 30_000;

/** Activity options as data (durations in milliseconds): what a `foreach` batch child receives. */
export type StepActivityOptions = Pick<
  ActivityOptions,
  'startToCloseTimeout' | 'heartbeatTimeout' | 'retry' | 'cancellationType' | 'taskQueue'
>;

function durationMs(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseDuration(text);
}

/**
 * The activity options of a step: its `retry`, `timeout` and `heartbeatTimeout` over the spec's `defaults`, field by
 * field. Without a `heartbeatTimeout`, a step whose timeout exceeds {@link HEARTBEAT_TIMEOUT_MS} gets that one.
 */
export function stepActivityOptions(spec: Pick<PipelineSpec, 'defaults'>, step: StepSpec): StepActivityOptions {
  const retry: RetrySpec = { ...spec.defaults?.retry, ...step.retry };
  const timeoutMs = durationMs(step.timeout ?? spec.defaults?.timeout ?? DEFAULT_STEP_TIMEOUT) ?? 600_000;
  const heartbeatMs = durationMs(step.heartbeatTimeout ?? spec.defaults?.heartbeatTimeout);
  const initialInterval = durationMs(retry.initialInterval);
  const maximumInterval = durationMs(retry.maximumInterval);
  const taskQueue = stepTaskQueue(spec.defaults, step);
  return {
    // A step's own task queue (workers of an executor class, e.g. `mloe-gpu`); absent, the workflow's.
    ...(taskQueue === undefined ? {} : { taskQueue }),
    startToCloseTimeout: timeoutMs,
    ...(heartbeatMs !== undefined
      ? { heartbeatTimeout: heartbeatMs }
      : timeoutMs > HEARTBEAT_TIMEOUT_MS
        ? { heartbeatTimeout: HEARTBEAT_TIMEOUT_MS }
        : {}),
    retry: {
      maximumAttempts: retry.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      ...(initialInterval === undefined ? {} : { initialInterval }),
      ...(retry.backoffCoefficient === undefined ? {} : { backoffCoefficient: retry.backoffCoefficient }),
      ...(maximumInterval === undefined ? {} : { maximumInterval }),
      ...(retry.nonRetryableErrors === undefined ? {} : { nonRetryableErrorTypes: retry.nonRetryableErrors }),
    },
    // Cancelled steps are recorded once the activity has stopped, not merely when the request was sent.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/** The label of one execution: the step id, with the iteration for `foreach` (`train[3]`). */
export function executionLabel(request: Pick<RunStepRequest, 'stepId' | 'index'>): string {
  return request.index === undefined ? request.stepId : `${request.stepId}[${request.index}]`;
}

/**
 * A bound on this workflow's in-flight activities: Temporal fails workflows with more than 2,000 pending
 * activities, and parallel `foreach` steps could otherwise exceed it together.
 */
export class ActivitySlots {
  private free: number;

  constructor(capacity: number) {
    this.free = capacity;
  }

  /** Runs `body` once a slot is free. */
  async use<T>(body: () => Promise<T>): Promise<T> {
    await condition(() => this.free > 0);
    this.free -= 1;
    try {
      return await body();
    } finally {
      this.free += 1;
    }
  }
}

const { mloeTracking } = proxySinks<StepTrackingSinks>();

/**
 * Runs one step execution: `runStep` with the step's options, the label as activity id and UI summary. A step on the
 * workflow's own task queue is announced to the worker as it is scheduled (a sink: no command, not on replay), so
 * that a worker tracking runs in MLflow creates the step's run while the activity is dispatched.
 */
export function executeStep(
  request: RunStepRequest,
  options: StepActivityOptions,
  slots: ActivitySlots,
): Promise<RunStepResult> {
  const label = executionLabel(request);
  const { runStep } = proxyActivities<StepActivities>({ ...options, activityId: label, summary: label });
  return slots.use(() => {
    if (options.taskQueue === undefined && !workflowInfo().unsafe.isReplaying) {
      mloeTracking.stepScheduled({
        workflowId: request.workflowId,
        pipeline: request.pipeline,
        stepId: request.stepId,
        ...(request.index === undefined ? {} : { index: request.index }),
        uses: request.uses ?? 'run',
      });
    }
    return runStep(request);
  });
}

/** How one execution ended, as data (it crosses from a batch child to its parent). */
export type ExecutionOutcome =
  { ok: true; result: RunStepResult } | { ok: false; cancelled: boolean; error: string; attempts: number };

/** What went wrong in words: the innermost failure's message, with its error code. */
export function describeFailure(error: unknown): string {
  let current: unknown = error;
  while ((current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) && current.cause) {
    current = current.cause;
  }
  if (current instanceof ApplicationFailure && current.type) return `${current.type}: ${current.message}`;
  if (current instanceof MloeError) return `${current.code}: ${current.message}`;
  return current instanceof Error ? current.message : String(current);
}

/** How many attempts a failed execution made: from `runStep`'s failure details, else from the retry state. */
export function failedAttempts(error: unknown, options: StepActivityOptions): number {
  if (!(error instanceof ActivityFailure)) return 0;
  const cause = error.cause;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as Partial<StepFailureDetails> | undefined;
    if (typeof details?.attempt === 'number') return details.attempt;
  }
  if (error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED) return options.retry?.maximumAttempts ?? 1;
  return 1;
}

/** Runs one execution and reports its outcome instead of throwing. */
export async function executeToOutcome(
  request: RunStepRequest,
  options: StepActivityOptions,
  slots: ActivitySlots,
): Promise<ExecutionOutcome> {
  try {
    return { ok: true, result: await executeStep(request, options, slots) };
  } catch (error) {
    return {
      ok: false,
      cancelled: isCancellation(error),
      error: describeFailure(error),
      attempts: failedAttempts(error, options),
    };
  }
}

/**
 * Runs `foreach` iterations, at most `concurrency` at once, in the current cancellation scope. Stops starting new
 * ones once the scope is cancelled; `onSettled` sees each outcome as it arrives (for progress).
 */
export async function runIterations(
  requests: readonly RunStepRequest[],
  options: StepActivityOptions,
  concurrency: number,
  slots: ActivitySlots,
  onSettled: (outcome: ExecutionOutcome) => void = () => undefined,
): Promise<(ExecutionOutcome | undefined)[]> {
  const outcomes: (ExecutionOutcome | undefined)[] = requests.map(() => undefined);
  const scope = CancellationScope.current();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < requests.length && !scope.consideredCancelled) {
      const index = next;
      next += 1;
      const request = requests[index];
      if (request === undefined) continue;
      const outcome = await executeToOutcome(request, options, slots);
      outcomes[index] = outcome;
      onSettled(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, requests.length)) }, lane));
  return outcomes;
}
