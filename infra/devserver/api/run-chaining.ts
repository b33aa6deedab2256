/**
 * Run chaining: a run that closes may hand its workflow id over to a new run of the same chain (continue-as-new, a
 * workflow retry after a failure or a run timeout, the next run of a cron schedule). The new run's id is chosen before
 * the old run's close event is written, because that event names it (`newExecutionRunId`); the new run is created
 * right after, with the chain's identity (first run, parent, root, execution expiration, cron schedule) carried over.
 *
 * As in Temporal, a failed or timed-out run is first retried by its retry policy; when that gives up, a cron run still
 * hands over to the next cron time (the failure goes along as `continuedFailure`); a completed cron run hands over
 * its result (`lastCompletionResult`). Cancel and terminate end the chain.
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
import { cronBackoffMs, parseWorkflowCron } from '../cron';
import { decideRetry } from '../retry';
import { rolloverResetPoints } from './reset-points';
import { createRun } from './start';

/** Parameters of the run that continues a chain; absent fields are carried over from the closing run. */
export interface ContinueParams {
  backoffMs: number;
  /** `temporal.api.enums.v1.ContinueAsNewInitiator`: workflow, retry or cron schedule. */
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
  /** The new run's cron schedule (the chain's when absent). */
  cronSchedule?: string | undefined;
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
  const I = enums.ContinueAsNewInitiator;
  // A retry or the next cron run starts as the chain's run did: same input (and, for cron, memo, search attributes
  // and header as they were at its start, as Temporal's started event carries them).
  const started = startedAttributes(engine, run);
  const sameStart =
    p.initiator === I.CONTINUE_AS_NEW_INITIATOR_RETRY || p.initiator === I.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE;
  const cron = p.initiator === I.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE;
  createRun(engine, {
    runId: next.runId,
    namespace: s.namespace,
    workflowId: s.workflowId,
    workflowType: p.workflowType ?? s.workflowType,
    taskQueue: p.taskQueue ?? s.taskQueue,
    input: p.input ?? (sameStart ? (started.input ?? undefined) : undefined),
    header: p.header ?? (cron ? (started.header ?? undefined) : s.header),
    memo: p.memo ?? (cron ? (started.memo ?? undefined) : s.memo),
    searchAttributes: p.searchAttributes ?? (cron ? (started.searchAttributes ?? undefined) : s.searchAttributes),
    executionTimeoutMs: s.executionTimeoutMs,
    runTimeoutMs: p.runTimeoutMs ?? s.runTimeoutMs,
    workflowTaskTimeoutMs: p.workflowTaskTimeoutMs ?? s.workflowTaskTimeoutMs,
    retryPolicy: p.retryPolicy ?? s.retryPolicy,
    cronSchedule: p.cronSchedule ?? s.cronSchedule,
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
    prevAutoResetPoints: rolloverResetPoints(
      s.autoResetPoints,
      s.runId,
      engine.now(),
      engine.namespaces.get(s.namespace)?.retentionMs ?? 0,
    ),
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

/** The attributes of the run's WorkflowExecutionStarted event (what a retry or the next cron run starts from). */
function startedAttributes(
  engine: Engine,
  run: RunRecord,
): {
  input?: Payloads | null;
  header?: Header | null;
  memo?: Memo | null;
  searchAttributes?: SearchAttributes | null;
  lastCompletionResult?: Payloads | null;
} {
  const first = run.history[0]?.event;
  return first ? engine.attributes(first) : {};
}

/** The failure a run timeout hands to the next run (Temporal's `workflow timeout`, a start-to-close timeout). */
const RUN_TIMEOUT_FAILURE: Failure = {
  message: 'workflow timeout',
  timeoutFailureInfo: { timeoutType: enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE },
};

/**
 * The next run of a cron chain, if the run has a cron schedule with a time after its own (Temporal's
 * `GetCronBackoffDuration`: the first cron time after the run's scheduled time that is not before now).
 */
function cronContinuation(
  engine: Engine,
  run: RunRecord,
  carried: { lastCompletionResult?: Payloads | undefined; continuedFailure?: Failure | undefined },
): Continuation | undefined {
  const s = run.state;
  if (!s.cronSchedule) return undefined;
  let backoffMs: number | undefined;
  try {
    backoffMs = cronBackoffMs(parseWorkflowCron(s.cronSchedule), s.executionTime, engine.now());
  } catch {
    return undefined; // validated when the chain started; a schedule that no longer parses ends it
  }
  if (backoffMs === undefined) return undefined;
  return reserveContinuation({
    backoffMs: Math.max(0, backoffMs),
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE,
    attempt: 1,
    ...carried,
  });
}

/** The next run after a run completed: a cron run hands its result to the next cron run. */
export function chainAfterCompletion(
  engine: Engine,
  run: RunRecord,
  result: Payloads | undefined,
): Continuation | undefined {
  return cronContinuation(engine, run, { lastCompletionResult: result });
}

/**
 * The decision when a run fails (FailWorkflowExecution): its retry policy may start the next attempt; otherwise a
 * cron run goes on at its next cron time. Both carry the failure and the last completion result the run started with.
 */
export function chainAfterFailure(engine: Engine, run: RunRecord, failure: Failure | undefined): ChainDecision {
  const s = run.state;
  const lastCompletionResult = startedAttributes(engine, run).lastCompletionResult ?? undefined;
  const decision = decideRetry(s.retryPolicy, s.attempt, failure, engine.now(), s.executionExpirationTime);
  if (!decision.retry) {
    return {
      retryState: decision.state,
      next: cronContinuation(engine, run, { lastCompletionResult, continuedFailure: failure }),
    };
  }
  const next = reserveContinuation({
    backoffMs: decision.backoffMs,
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
    attempt: s.attempt + 1,
    continuedFailure: failure,
    lastCompletionResult,
  });
  return { retryState: decision.state, next };
}

/** The decision when a run times out (the run-timeout deadline): retry, else the next cron run, unless expired. */
export function chainAfterTimeout(engine: Engine, run: RunRecord): ChainDecision {
  const s = run.state;
  // As Temporal: an expired execution timeout is TIMEOUT and ends the chain; a run timeout asks the retry policy, so
  // without one the state is RETRY_POLICY_NOT_SET (and MAXIMUM_ATTEMPTS_REACHED etc. when retries are exhausted).
  if (s.executionExpirationTime && engine.now() >= s.executionExpirationTime) {
    return { retryState: RetryState.RETRY_STATE_TIMEOUT };
  }
  const lastCompletionResult = startedAttributes(engine, run).lastCompletionResult ?? undefined;
  const carried = { lastCompletionResult, continuedFailure: RUN_TIMEOUT_FAILURE };
  const d = decideRetry(s.retryPolicy, s.attempt, undefined, engine.now(), s.executionExpirationTime, true);
  if (!d.retry) return { retryState: d.state, next: cronContinuation(engine, run, carried) };
  const next = reserveContinuation({
    backoffMs: d.backoffMs,
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
    attempt: s.attempt + 1,
    ...carried,
  });
  return { retryState: RetryState.RETRY_STATE_IN_PROGRESS, next };
}
