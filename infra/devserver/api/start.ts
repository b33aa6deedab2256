/**
 * Starting runs: StartWorkflowExecution (request-id idempotency, id reuse and conflict policies), and the new runs
 * that continue-as-new, workflow retries and child workflows create.
 */
import { randomUUID } from 'node:crypto';
import type { Engine, RunRecord } from '../engine';
import { alreadyExists, invalidArgument } from '../errors';
import {
  EventType,
  WorkflowExecutionStatus,
  durationToMs,
  enums,
  google,
  msToDuration,
  msToTimestamp,
  temporal,
  type Duration,
  type Failure,
  type Header,
  type Memo,
  type Payloads,
  type RetryPolicy,
  type SearchAttributes,
} from '../proto';
import type { Loose } from '../proto';
import { withWorkflowDefaults } from '../retry';
import { freshRunBookkeeping, type ParentRef, type ResetPoint, type RunState } from '../state';
import { resetPointsProto } from './reset-points';
import { terminateRun } from './cancel';
import { validateId } from './validate';
import { assertBlobSize, assertMemoSize } from './payload-limits';
import { typedSearchAttributes, validateSearchAttributes } from '../visibility/search-attributes';
import { firstCronBackoffMs, isValidWorkflowCron, parseWorkflowCron } from '../cron';

const DEFAULT_WFT_TIMEOUT_MS = 10_000;
const MAX_WFT_TIMEOUT_MS = 120_000;

/** Everything needed to create a run. */
export interface NewRun {
  /** Pre-assigned run id (continue-as-new and retries name the new run in the old run's close event). */
  runId?: string;
  namespace: string;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  input?: Payloads | null | undefined;
  header?: Header | null | undefined;
  memo?: Memo | null | undefined;
  searchAttributes?: SearchAttributes | null | undefined;
  executionTimeoutMs: number;
  runTimeoutMs: number;
  workflowTaskTimeoutMs: number;
  retryPolicy?: RetryPolicy | null | undefined;
  cronSchedule?: string | null | undefined;
  identity: string;
  requestId: string;
  parent?: ParentRef | undefined;
  rootWorkflowId?: string | undefined;
  rootRunId?: string | undefined;
  attempt?: number;
  firstRunId?: string;
  continuedExecutionRunId?: string;
  initiator?: number;
  continuedFailure?: Failure | null | undefined;
  lastCompletionResult?: Payloads | null | undefined;
  backoffMs?: number;
  executionExpirationTime?: number;
  userMetadata?: Record<string, unknown> | null | undefined;
  priority?: Record<string, unknown> | null | undefined;
  /** Reset points of the chain so far (`prevAutoResetPoints`), already rolled over. */
  prevAutoResetPoints?: ResetPoint[] | undefined;
  /** Called after WorkflowExecutionStarted is written, before the first task is scheduled (signal-with-start). */
  afterStarted?: ((run: RunRecord) => void) | undefined;
  /** Schedule the first workflow task without dispatching it: the caller starts it (eager workflow start). */
  holdFirstTask?: boolean | undefined;
}

/** Creates a run, writes WorkflowExecutionStarted and schedules the first workflow task. */
export function createRun(engine: Engine, p: NewRun): RunRecord {
  const now = engine.now();
  const runId = p.runId ?? randomUUID();
  const wftTimeoutMs = Math.min(p.workflowTaskTimeoutMs || DEFAULT_WFT_TIMEOUT_MS, MAX_WFT_TIMEOUT_MS);
  const executionTimeoutMs = p.executionTimeoutMs;
  let runTimeoutMs = p.runTimeoutMs;
  if (executionTimeoutMs > 0 && (runTimeoutMs === 0 || runTimeoutMs > executionTimeoutMs))
    runTimeoutMs = executionTimeoutMs;
  const expiration = p.executionExpirationTime ?? (executionTimeoutMs > 0 ? now + executionTimeoutMs : 0);
  const backoffMs = p.backoffMs ?? 0;
  const retryPolicy = withWorkflowDefaults(p.retryPolicy);
  // Typed once, as Temporal hands them out: the started event shows the worker each value with its type.
  const searchAttributes = typedSearchAttributes(engine, p.namespace, p.searchAttributes);
  const state: RunState = {
    namespace: p.namespace,
    workflowId: p.workflowId,
    runId,
    firstRunId: p.firstRunId ?? runId,
    workflowType: p.workflowType,
    taskQueue: p.taskQueue,
    status: WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
    startTime: now,
    executionTime: now + backoffMs,
    closeTime: 0,
    attempt: p.attempt ?? 1,
    workflowTaskTimeoutMs: wftTimeoutMs,
    runTimeoutMs,
    executionTimeoutMs,
    executionExpirationTime: expiration,
    retryPolicy,
    cronSchedule: p.cronSchedule ?? '',
    memo: p.memo ?? undefined,
    searchAttributes,
    header: p.header ?? undefined,
    requestIds: p.requestId ? [p.requestId] : [],
    parent: p.parent,
    rootWorkflowId: p.rootWorkflowId ?? p.workflowId,
    rootRunId: p.rootRunId ?? runId,
    ...freshRunBookkeeping(),
    autoResetPoints: p.prevAutoResetPoints,
  };
  const run = engine.addRun(state);
  const parentNs = p.parent ? engine.namespaces.get(p.parent.namespace) : undefined;
  const started = engine.makeEvent(
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    {
      workflowType: { name: p.workflowType },
      parentWorkflowNamespace: p.parent?.namespace,
      parentWorkflowNamespaceId: parentNs?.id,
      parentWorkflowExecution: p.parent ? { workflowId: p.parent.workflowId, runId: p.parent.runId } : undefined,
      parentInitiatedEventId: p.parent?.initiatedEventId,
      taskQueue: { name: p.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      input: p.input ?? undefined,
      workflowExecutionTimeout: executionTimeoutMs ? msToDuration(executionTimeoutMs) : undefined,
      workflowRunTimeout: runTimeoutMs ? msToDuration(runTimeoutMs) : undefined,
      workflowTaskTimeout: msToDuration(wftTimeoutMs),
      continuedExecutionRunId: p.continuedExecutionRunId,
      initiator: p.initiator,
      continuedFailure: p.continuedFailure ?? undefined,
      lastCompletionResult: p.lastCompletionResult ?? undefined,
      originalExecutionRunId: runId,
      identity: p.identity,
      firstExecutionRunId: state.firstRunId,
      retryPolicy,
      attempt: state.attempt,
      workflowExecutionExpirationTime: expiration ? msToTimestamp(expiration) : undefined,
      cronSchedule: p.cronSchedule || undefined,
      firstWorkflowTaskBackoff: backoffMs ? msToDuration(backoffMs) : undefined,
      memo: p.memo ?? undefined,
      searchAttributes,
      header: p.header ?? undefined,
      workflowId: p.workflowId,
      rootWorkflowExecution: { workflowId: state.rootWorkflowId, runId: state.rootRunId },
      priority: p.priority ?? undefined,
      prevAutoResetPoints: resetPointsProto(p.prevAutoResetPoints),
    },
    run.state.nextEventId,
  );
  // User metadata (summary, details) lives on the event itself rather than in its attributes.
  if (p.userMetadata) (started as Record<string, unknown>).userMetadata = p.userMetadata;
  engine.appendEvent(run, started);
  // A delayed first task (start delay, cron or retry backoff) is scheduled before a signal-with-start's signal, which
  // then waits for it (Temporal delivers the signal with the first task); an immediate one after it, so that the
  // signal's event comes before the task's.
  const notBefore = backoffMs > 0 ? now + backoffMs : 0;
  if (notBefore) engine.scheduleWorkflowTask(run, { notBefore, dispatch: !p.holdFirstTask });
  p.afterStarted?.(run);
  if (!notBefore) engine.scheduleWorkflowTask(run, { dispatch: !p.holdFirstTask });
  engine.hooks.armDeadlines(run);
  return run;
}

type StartRequest = Loose<temporal.api.workflowservice.v1.IStartWorkflowExecutionRequest>;

/** Checks a start request's fields the way Temporal's frontend does. */
export function validateStartRequest(req: StartRequest): void {
  validateId('WorkflowId', req.workflowId);
  if (!req.workflowType?.name) throw invalidArgument('WorkflowType is not set on request.');
  if (!req.taskQueue?.name) throw invalidArgument('TaskQueue is not set on request.');
  if ((req.requestId ?? '').length > 1000) throw invalidArgument('RequestId length exceeds limit.');
  for (const [field, d] of [
    ['WorkflowExecutionTimeout', req.workflowExecutionTimeout],
    ['WorkflowRunTimeout', req.workflowRunTimeout],
    ['WorkflowTaskTimeout', req.workflowTaskTimeout],
    ['WorkflowStartDelay', req.workflowStartDelay],
  ] as const) {
    if (durationToMs(d) < 0) throw invalidArgument(`Invalid ${field}: must not be negative.`);
  }
  validateRetryPolicy(req.retryPolicy);
  validateCronSchedule(req.cronSchedule, req.workflowStartDelay);
}

/** Checks a start's cron schedule as Temporal's frontend does (robfig/cron's standard parser; no start delay). */
export function validateCronSchedule(cronSchedule: string | null | undefined, startDelay?: Duration | null): void {
  if (!cronSchedule) return;
  if (durationToMs(startDelay) > 0)
    throw invalidArgument('CronSchedule and WorkflowStartDelay may not be used together.');
  if (!isValidWorkflowCron(cronSchedule)) throw invalidArgument('Invalid CronSchedule.');
}

/**
 * The first workflow task's backoff of a new run and its initiator: a cron run waits for its first cron time (its
 * started event names the cron schedule as initiator, as Temporal's does), any other for its start delay.
 */
export function firstRunBackoff(
  engine: Engine,
  cronSchedule: string | null | undefined,
  startDelayMs: number,
): { backoffMs: number; initiator?: number } {
  if (!cronSchedule) return { backoffMs: startDelayMs };
  return {
    backoffMs: firstCronBackoffMs(parseWorkflowCron(cronSchedule), engine.now()),
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE,
  };
}

/** Validates a retry policy as Temporal does. */
export function validateRetryPolicy(policy: RetryPolicy | null | undefined): void {
  if (!policy) return;
  if (durationToMs(policy.initialInterval) < 0)
    throw invalidArgument('InitialInterval cannot be negative on retry policy.');
  const c = Number(policy.backoffCoefficient ?? 0);
  if (c !== 0 && c < 1) throw invalidArgument('BackoffCoefficient cannot be less than 1 on retry policy.');
  if (durationToMs(policy.maximumInterval) < 0)
    throw invalidArgument('MaximumInterval cannot be negative on retry policy.');
  if (
    durationToMs(policy.maximumInterval) > 0 &&
    durationToMs(policy.maximumInterval) < durationToMs(policy.initialInterval)
  ) {
    throw invalidArgument('MaximumInterval cannot be less than InitialInterval on retry policy.');
  }
  if (Number(policy.maximumAttempts ?? 0) < 0)
    throw invalidArgument('MaximumAttempts cannot be negative on retry policy.');
}

/** Encodes the `WorkflowExecutionAlreadyStartedFailure` details Temporal attaches to ALREADY_EXISTS. */
function alreadyStartedDetails(message: string, startRequestId: string, runId: string): Uint8Array {
  const detail = temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure;
  const any = {
    // protobufjs names the Any field `type_url`: a camelCase key would be dropped silently.
    type_url: 'type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure',
    value: detail.encode(detail.fromObject({ startRequestId, runId })).finish(),
  };
  return google.rpc.Status.encode(google.rpc.Status.fromObject({ code: 6, message, details: [any] })).finish();
}

/** The ALREADY_EXISTS error for a running workflow. */
export function alreadyStartedError(run: RunRecord): Error {
  const msg = `Workflow execution is already running. WorkflowId: ${run.state.workflowId}, RunId: ${run.state.runId}.`;
  return alreadyExists(msg, alreadyStartedDetails(msg, run.state.requestIds[0] ?? '', run.state.runId));
}

const FAILED_STATUSES = new Set<number>([
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED,
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
]);

/** Outcome of applying id reuse / conflict policies to a start. */
export type StartDecision = { kind: 'start' } | { kind: 'existing'; run: RunRecord; started: boolean };

/** Applies request-id dedupe, the conflict policy (running) and the reuse policy (closed) for a new start. */
export function decideStart(
  engine: Engine,
  namespace: string,
  workflowId: string,
  requestId: string,
  reusePolicy: number,
  conflictPolicy: number,
  identity: string,
): StartDecision {
  const existing = engine.currentRun(namespace, workflowId);
  if (!existing) return { kind: 'start' };
  if (requestId && existing.state.requestIds.includes(requestId))
    return { kind: 'existing', run: existing, started: true };
  const P = enums.WorkflowIdReusePolicy;
  const C = enums.WorkflowIdConflictPolicy;
  if (existing.isOpen) {
    let conflict = conflictPolicy;
    if (!conflict)
      conflict =
        reusePolicy === P.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING
          ? C.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
          : C.WORKFLOW_ID_CONFLICT_POLICY_FAIL;
    switch (conflict) {
      case C.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING:
        return { kind: 'existing', run: existing, started: false };
      case C.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING:
        terminateRun(
          engine,
          existing,
          'terminated by a new start (WorkflowIdConflictPolicy TERMINATE_EXISTING)',
          undefined,
          identity,
        );
        return { kind: 'start' };
      default:
        throw alreadyStartedError(existing);
    }
  }
  const reuse = reusePolicy || P.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
  const reject = (): never => {
    const msg = `Workflow execution already finished and the WorkflowIdReusePolicy does not allow starting it again. WorkflowId: ${workflowId}, RunId: ${existing.state.runId}.`;
    throw alreadyExists(msg, alreadyStartedDetails(msg, existing.state.requestIds[0] ?? '', existing.state.runId));
  };
  if (reuse === P.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE) reject();
  if (reuse === P.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY && !FAILED_STATUSES.has(existing.state.status))
    reject();
  return { kind: 'start' };
}

/**
 * What a schedule hands from one of its runs to the next (`last_completion_result`, `continued_failure`). Temporal
 * takes them only from its own scheduler, never from a client's request, and neither does the dev server.
 */
export interface CarriedResults {
  lastCompletionResult?: Payloads | undefined;
  continuedFailure?: Failure | undefined;
}

/** How a start is carried out besides its request. */
export interface StartOptions {
  /** Called after WorkflowExecutionStarted is written, before the first task is scheduled (signal-with-start). */
  afterStarted?: ((run: RunRecord) => void) | undefined;
  /** Set by the scheduler only. */
  carried?: CarriedResults | undefined;
  /** Hold the new run's first workflow task for the caller to start it (eager workflow start). */
  holdFirstTask?: boolean | undefined;
}

/** The answer to a start, with the run it names and whether this call created it. */
export type StartResult = Loose<temporal.api.workflowservice.v1.IStartWorkflowExecutionResponse> & {
  run: RunRecord;
  created: boolean;
};

/** StartWorkflowExecution. */
export function startWorkflowExecution(engine: Engine, req: StartRequest, options: StartOptions = {}): StartResult {
  const carried = options.carried ?? {};
  const ns = engine.namespace(req.namespace).name;
  validateStartRequest(req);
  const where = { operation: 'StartWorkflowExecution', workflowId: req.workflowId ?? '' };
  assertBlobSize(engine, req.input, where);
  assertMemoSize(engine, req.memo, where);
  validateSearchAttributes(engine, ns, req.searchAttributes);
  const workflowId = req.workflowId!;
  const requestId = req.requestId || randomUUID();
  const decision = decideStart(
    engine,
    ns,
    workflowId,
    requestId,
    Number(req.workflowIdReusePolicy ?? 0),
    Number(req.workflowIdConflictPolicy ?? 0),
    req.identity ?? '',
  );
  if (decision.kind === 'existing') {
    return {
      runId: decision.run.state.runId,
      started: decision.started,
      status: decision.run.state.status,
      run: decision.run,
      created: false,
    };
  }
  const run = createRun(engine, {
    namespace: ns,
    workflowId,
    workflowType: req.workflowType!.name!,
    taskQueue: req.taskQueue!.name!,
    input: req.input,
    header: req.header,
    memo: req.memo,
    searchAttributes: req.searchAttributes,
    executionTimeoutMs: durationToMs(req.workflowExecutionTimeout),
    runTimeoutMs: durationToMs(req.workflowRunTimeout),
    workflowTaskTimeoutMs: durationToMs(req.workflowTaskTimeout),
    retryPolicy: req.retryPolicy,
    cronSchedule: req.cronSchedule,
    ...firstRunBackoff(engine, req.cronSchedule, durationToMs(req.workflowStartDelay)),
    identity: req.identity ?? '',
    requestId,
    userMetadata: req.userMetadata,
    priority: req.priority,
    lastCompletionResult: carried.lastCompletionResult,
    continuedFailure: carried.continuedFailure,
    afterStarted: options.afterStarted,
    holdFirstTask: options.holdFirstTask,
  });
  return { runId: run.state.runId, started: true, status: run.state.status, run, created: true };
}
