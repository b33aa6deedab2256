/**
 * Run chaining: a run that closes may hand its workflow id over to a new run of the same chain (continue-as-new, a
 * workflow retry after a failure or a run timeout; cron schedules will join here). The new run's id is chosen before
 * the old run's close event is written, because that event names it (`newExecutionRunId`); the new run is created
 * right after, with the chain's identity (first run, parent, root, execution expiration) carried over.
 */
import { randomUUID } from 'node:crypto';
import type { Engine, RunRecord } from '../engine';
import {
  RetryState,
  enums,
  type EventType,
  type Failure,
  type Header,
  type Memo,
  type Payloads,
  type RetryPolicy,
  type SearchAttributes,
  type WorkflowExecutionStatus,
} from '../proto';
import { decideRetry } from '../retry';
import { createRun } from './start';

/** Parameters of the run that continues a chain; absent fields are carried over from the closing run. */
export interface ContinueParams {
  backoffMs: number;
  /** `temporal.api.enums.v1.ContinueAsNewInitiator`: workflow, retry (or cron schedule). */
  initiator: number;
  attempt: number;
  workflowType?: string;
  taskQueue?: string;
  /** The new run's input; a retry reuses the closing run's input when absent. */
  input?: Payloads | undefined;
  runTimeoutMs?: number;
  workflowTaskTimeoutMs?: number;
  header?: Header | undefined;
  memo?: Memo | undefined;
  searchAttributes?: SearchAttributes | undefined;
  retryPolicy?: RetryPolicy | undefined;
  lastCompletionResult?: Payloads | undefined;
  continuedFailure?: Failure | undefined;
}

/** The run that continues a chain: its id is chosen first, because the old run's close event names it. */
export interface Continuation {
  runId: string;
  params: ContinueParams;
}

/** The outcome of asking a closing run's retry policy: the retry state for its close event, and the next run. */
export interface ChainDecision {
  retryState: number;
  next?: Continuation | undefined;
}

/** Chooses the id of the run that will continue this chain; {@link startContinuation} creates it. */
export function reserveContinuation(params: ContinueParams): Continuation {
  return { runId: randomUUID(), params };
}

/** Creates the continuing run, once the old run's close event (which names it) is written. */
export function startContinuation(engine: Engine, run: RunRecord, next: Continuation): void {
  const s = run.state;
  const p = next.params;
  const input =
    p.input ??
    (p.initiator === enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
      ? startedInput(engine, run)
      : undefined);
  createRun(engine, {
    runId: next.runId,
    namespace: s.namespace,
    workflowId: s.workflowId,
    workflowType: p.workflowType ?? s.workflowType,
    taskQueue: p.taskQueue ?? s.taskQueue,
    input,
    header: p.header ?? s.header,
    memo: p.memo ?? s.memo,
    searchAttributes: p.searchAttributes ?? s.searchAttributes,
    executionTimeoutMs: s.executionTimeoutMs,
    runTimeoutMs: p.runTimeoutMs ?? s.runTimeoutMs,
    workflowTaskTimeoutMs: p.workflowTaskTimeoutMs ?? s.workflowTaskTimeoutMs,
    retryPolicy: p.retryPolicy ?? s.retryPolicy,
    identity: '',
    requestId: '',
    parent: s.parent,
    rootWorkflowId: s.rootWorkflowId,
    rootRunId: s.rootRunId,
    attempt: p.attempt,
    firstRunId: s.firstRunId,
    continuedExecutionRunId: s.runId,
    initiator: p.initiator,
    continuedFailure: p.continuedFailure,
    lastCompletionResult: p.lastCompletionResult,
    backoffMs: p.backoffMs,
    executionExpirationTime: s.executionExpirationTime,
  });
}

/**
 * Closes a run with its close event and, when `next` is given, starts the run that continues the chain: the run
 * records the new run's id first, so that the close event names it and the parent is not told the chain ended.
 */
export function closeRunInChain(
  engine: Engine,
  run: RunRecord,
  status: WorkflowExecutionStatus,
  type: EventType,
  attributes: Record<string, unknown>,
  next: Continuation | undefined,
): void {
  if (next) run.state.newExecutionRunId = next.runId;
  engine.closeRun(run, status, type, next ? { ...attributes, newExecutionRunId: next.runId } : attributes);
  if (next) startContinuation(engine, run, next);
}

/** The input the run was started with (a retry starts the next attempt with it). */
function startedInput(engine: Engine, run: RunRecord): Payloads | undefined {
  const first = run.history[0]?.event;
  return first ? (engine.attributes<{ input?: Payloads | null }>(first).input ?? undefined) : undefined;
}

/** The retry decision when a run fails (FailWorkflowExecution): its retry policy may start the next attempt. */
export function retryAfterFailure(engine: Engine, run: RunRecord, failure: Failure | undefined): ChainDecision {
  const s = run.state;
  const decision = decideRetry(s.retryPolicy, s.attempt, failure, engine.now(), s.executionExpirationTime);
  if (!decision.retry) return { retryState: decision.state };
  const next = reserveContinuation({
    backoffMs: decision.backoffMs,
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
    attempt: s.attempt + 1,
    continuedFailure: failure,
  });
  return { retryState: decision.state, next };
}

/** The retry decision when a run times out (the run-timeout deadline). */
export function retryAfterTimeout(engine: Engine, run: RunRecord): ChainDecision {
  const s = run.state;
  // As Temporal: an expired execution timeout is TIMEOUT; a run timeout asks the retry policy, so without one the
  // state is RETRY_POLICY_NOT_SET (and MAXIMUM_ATTEMPTS_REACHED etc. when retries are exhausted).
  if (s.executionExpirationTime && engine.now() >= s.executionExpirationTime) {
    return { retryState: RetryState.RETRY_STATE_TIMEOUT };
  }
  const d = decideRetry(s.retryPolicy, s.attempt, undefined, engine.now(), s.executionExpirationTime, true);
  if (!d.retry) return { retryState: d.state };
  const next = reserveContinuation({
    backoffMs: d.backoffMs,
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
    attempt: s.attempt + 1,
  });
  return { retryState: RetryState.RETRY_STATE_IN_PROGRESS, next };
}
