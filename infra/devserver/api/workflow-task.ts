/**
 * Workflow tasks: dispatch to long-polling workers with the full history, completion (commands and protocol
 * messages turned into events), failure and timeouts, with Temporal's transient-attempt and buffering rules.
 */
import { randomUUID } from 'node:crypto';
import { RawResponse, type Engine, type RunRecord } from '../engine';
import { invalidArgument, notFound } from '../errors';
import {
  CommandType,
  EventType,
  TimeoutType,
  WorkflowTaskFailedCause,
  enums,
  msToTimestamp,
  durationToMs,
  temporal,
  type Command,
  type Failure,
  type ProtocolMessage,
} from '../proto';
import { protoRoot } from '../proto';
import type { Loose } from '../proto';
import type { WorkflowTaskState } from '../state';
import { applyCommand, type CommandContext } from './command-application';
import { validateCommands } from './command-validation';
import { isCloseCommand } from './close-commands';
import { startActivityEagerly } from './activity';
import { terminateRun } from './cancel';
import { addResetPoint } from './reset-points';
import { appendField, encodeHistory } from './history-bytes';
import { decodeToken, encodeToken } from './tokens';
import { applyProtocolMessage, buildUpdateMessages, undeliverUpdates, hasUndeliveredUpdates } from './update';
import { dispatchPendingQueries, resolveQueryResults, takeQueriesForTask } from './query';

const PollResponse = temporal.api.workflowservice.v1.PollWorkflowTaskQueueResponse;
const HISTORY_FIELD = protoRoot.lookupType('temporal.api.workflowservice.v1.PollWorkflowTaskQueueResponse').fields[
  'history'
]!.id;

/** Engine hook: put the run's scheduled workflow task on its task queue. */
export function dispatchWorkflowTask(engine: Engine, run: RunRecord): void {
  const wft = run.state.wft;
  if (!wft || wft.startedEventId > 0) return;
  const seq = wft.seq;
  const sticky = run.sticky;
  if (!sticky) {
    enqueueOnNormalQueue(engine, run, seq);
    return;
  }
  // The worker that has the run cached gets it with only the new events. If it does not pick the task up within
  // the sticky schedule-to-start timeout, the task also goes to the normal queue with the full history (whichever
  // poller takes it first wins; the other copy is stale). No event is written for the fallback.
  engine.workflowMatching.enqueue(run.state.namespace, sticky.queue, {
    dispatch: (poller) => startWorkflowTask(engine, run, seq, poller.identity, true),
  });
  engine.setDeadline(run, 'sticky', engine.now() + sticky.scheduleToStartMs, () => {
    if (run.state.wft?.seq !== seq || run.state.wft.startedEventId > 0) return;
    engine.setSticky(run, undefined);
    enqueueOnNormalQueue(engine, run, seq);
  });
}

function enqueueOnNormalQueue(engine: Engine, run: RunRecord, seq: number): void {
  engine.workflowMatching.enqueue(run.state.namespace, run.state.taskQueue, {
    dispatch: (poller) => startWorkflowTask(engine, run, seq, poller.identity, false),
  });
}

/** Stops sending a run's tasks to a sticky queue; a scheduled task goes to the normal queue. */
export function clearSticky(engine: Engine, run: RunRecord): void {
  if (!run.sticky) return;
  engine.setSticky(run, undefined);
  engine.clearDeadline(run, 'sticky');
  const wft = run.state.wft;
  if (run.isOpen && wft && wft.startedEventId === 0 && wft.notBefore <= engine.now())
    enqueueOnNormalQueue(engine, run, wft.seq);
}

/** ShutdownWorker: the worker's cached runs go back to the normal queue. */
export function shutdownWorker(engine: Engine, req: { stickyTaskQueue?: string | null }): object {
  const queue = req.stickyTaskQueue;
  if (queue) for (const run of [...(engine.stickyRuns.get(queue) ?? [])]) clearSticky(engine, run);
  if (queue) engine.stickyRuns.delete(queue);
  return {};
}

/** Records the start of a workflow task and builds the poll response; undefined when the task is stale. */
function startWorkflowTask(
  engine: Engine,
  run: RunRecord,
  seq: number,
  identity: string,
  partialHistory: boolean,
): RawResponse | undefined {
  const wft = run.state.wft;
  if (!run.isOpen || !wft || wft.seq !== seq || wft.startedEventId > 0 || wft.notBefore > engine.now())
    return undefined;
  recordWorkflowTaskStarted(engine, run, wft, identity, randomUUID());
  const messages = buildUpdateMessages(engine, run, wft);
  const queries = takeQueriesForTask(run, wft.seq);
  // Sticky: only the events after the last task the worker completed (core fetches the rest if it lost the run).
  const response = pollResponse(engine, run, wft, { partialHistory, messages, queries });
  engine.clearDeadline(run, 'sticky');
  return new RawResponse(response);
}

/**
 * Starts the scheduled (not yet dispatched) first workflow task of a new run for the client that started it, and
 * returns the encoded `PollWorkflowTaskQueueResponse` for its StartWorkflowExecution response (eager workflow start).
 * The started event carries the start request's identity and request id, as on Temporal; the task then times out
 * like any other if the worker never completes it, and is retried through the task queue.
 */
export function startWorkflowTaskEagerly(
  engine: Engine,
  run: RunRecord,
  identity: string,
  requestId: string,
): Uint8Array | undefined {
  const wft = run.state.wft;
  if (!run.isOpen || !wft || wft.startedEventId > 0 || wft.notBefore > engine.now()) return undefined;
  recordWorkflowTaskStarted(engine, run, wft, identity, requestId);
  return pollResponse(engine, run, wft, { partialHistory: false, messages: [], queries: undefined });
}

/**
 * The eager task of a start that is retried with the same request id: the same first task again, while it is still
 * the run's started first attempt (Temporal's answer to a retried eager start); undefined once it moved on.
 */
export function eagerTaskAgain(engine: Engine, run: RunRecord): Uint8Array | undefined {
  const wft = run.state.wft;
  if (!run.isOpen || !wft || wft.kind !== 'normal' || wft.attempt !== 1 || wft.startedEventId !== 3) return undefined;
  return pollResponse(engine, run, wft, { partialHistory: false, messages: [], queries: undefined });
}

/** Writes the start of a workflow task (or synthesizes it for a transient or speculative one). */
function recordWorkflowTaskStarted(
  engine: Engine,
  run: RunRecord,
  wft: WorkflowTaskState,
  identity: string,
  requestId: string,
): void {
  const s = run.state;
  const now = engine.now();
  wft.identity = identity;
  wft.requestId = requestId;
  wft.startedTime = now;
  if (wft.kind === 'normal') {
    if (wft.scheduledEventId === 0) engine.writeWorkflowTaskScheduled(run, wft);
    const started = engine.append(run, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, {
      scheduledEventId: wft.scheduledEventId,
      identity,
      requestId,
      historySizeBytes: s.historySizeBytes,
      suggestContinueAsNew: shouldSuggestContinueAsNew(engine, s),
    });
    wft.startedEventId = Number(started.eventId);
    wft.synthesized = [];
  } else {
    const scheduledId = s.nextEventId;
    const scheduled = engine.makeEvent(
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      {
        taskQueue: { name: s.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        startToCloseTimeout: { seconds: Math.floor(s.workflowTaskTimeoutMs / 1000) },
        attempt: wft.attempt,
      },
      scheduledId,
      wft.scheduledTime,
    );
    const started = engine.makeEvent(
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      {
        scheduledEventId: scheduledId,
        identity,
        requestId,
        historySizeBytes: s.historySizeBytes,
        suggestContinueAsNew: shouldSuggestContinueAsNew(engine, s),
      },
      scheduledId + 1,
      now,
    );
    wft.scheduledEventId = scheduledId;
    wft.startedEventId = scheduledId + 1;
    wft.synthesized = [scheduled, started];
  }
  engine.markDirty(run);
  engine.hooks.armDeadlines(run);
}

/** Encodes the `PollWorkflowTaskQueueResponse` of a started task (the full history, or only the new events). */
function pollResponse(
  engine: Engine,
  run: RunRecord,
  wft: WorkflowTaskState,
  extra: { partialHistory: boolean; messages: ProtocolMessage[]; queries: Record<string, object> | undefined },
): Buffer {
  const s = run.state;
  const token = encodeToken({
    kind: 'wft',
    namespace: s.namespace,
    workflowId: s.workflowId,
    runId: s.runId,
    id: wft.seq,
    attempt: wft.attempt,
  });
  const head = PollResponse.encode(
    PollResponse.fromObject({
      taskToken: token,
      workflowExecution: { workflowId: s.workflowId, runId: s.runId },
      workflowType: { name: s.workflowType },
      previousStartedEventId: s.lastCompletedWftStartedEventId,
      startedEventId: wft.startedEventId,
      attempt: wft.attempt,
      backlogCountHint: engine.workflowMatching.backlogCount(s.namespace, s.taskQueue),
      workflowExecutionTaskQueue: { name: s.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      scheduledTime: msToTimestamp(wft.scheduledTime),
      startedTime: msToTimestamp(wft.startedTime),
      messages: extra.messages,
      queries: extra.queries,
    }),
  ).finish();
  const synthesized = wft.synthesized.map((event) => ({ bytes: engineEncode(event) }));
  const from = extra.partialHistory ? s.lastCompletedWftStartedEventId : 0;
  return appendField(head, HISTORY_FIELD, encodeHistory([...run.history.slice(from), ...synthesized]));
}

const HistoryEventType = temporal.api.history.v1.HistoryEvent;
function engineEncode(event: object): Uint8Array {
  return HistoryEventType.encode(HistoryEventType.fromObject(event)).finish();
}

/** Finds the run and started task a token refers to, or answers NOT_FOUND like Temporal. */
function taskFromToken(
  engine: Engine,
  taskToken: Uint8Array | null | undefined,
): { run: RunRecord; wft: WorkflowTaskState } {
  const token = decodeToken(taskToken, 'wft');
  const run = engine.runs.get(`${token.namespace}\u0000${token.runId}`);
  const wft = run?.state.wft;
  if (!run || !run.isOpen || !wft || wft.seq !== token.id || wft.startedEventId === 0) {
    throw notFound('Workflow task not found.');
  }
  return { run, wft };
}

/** Writes the scheduled/started events of a transient or speculative task that is about to be recorded. */
function materialize(engine: Engine, run: RunRecord, wft: WorkflowTaskState): void {
  for (const e of wft.synthesized) engine.appendEvent(run, e);
  wft.synthesized = [];
  wft.kind = 'normal';
}

type CompleteRequest = Loose<temporal.api.workflowservice.v1.IRespondWorkflowTaskCompletedRequest>;

/** RespondWorkflowTaskCompleted. */
export function completeWorkflowTask(engine: Engine, req: CompleteRequest): Record<string, unknown> {
  const { run, wft } = taskFromToken(engine, req.taskToken);
  const s = run.state;
  const commands: Command[] = req.commands ?? [];
  const messages: ProtocolMessage[] = req.messages ?? [];
  const identity = req.identity ?? wft.identity;

  // The worker keeps the run cached and asks for its next tasks on its own (sticky) queue.
  const stickyQueue = req.stickyAttributes?.workerTaskQueue?.name;
  engine.setSticky(
    run,
    stickyQueue
      ? { queue: stickyQueue, scheduleToStartMs: durationToMs(req.stickyAttributes?.scheduleToStartTimeout) || 5000 }
      : undefined,
  );

  // Query results ride on completions; answer them whatever happens to the task.
  resolveQueryResults(engine, run, (req.queryResults ?? {}) as never);

  // A workflow must see every event before it may close: new events during the task reject the completion.
  const closes = commands.some((c) => isCloseCommand(Number(c.commandType)));
  const invalid =
    closes && s.buffered.length > 0
      ? { cause: WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND }
      : validateCommands(engine, run, commands, messages);
  if (invalid) rejectCompletion(engine, run, wft, invalid, identity);

  // A speculative task (created for an update) that only rejected leaves no trace in history.
  const writesSomething =
    commands.length > 0 ||
    messages.some((m) => !m.body?.type_url?.endsWith('temporal.api.update.v1.Rejection')) ||
    s.buffered.length > 0 ||
    Boolean(req.forceCreateNewWorkflowTask);
  if (wft.kind === 'speculative' && !writesSomething) {
    s.wft = undefined;
    engine.clearDeadline(run, 'wft');
    for (const m of messages) applyProtocolMessage(engine, run, m, 0);
    engine.markDirty(run);
    afterTask(engine, run);
    // The worker must roll its cached history back past the discarded task's events, as Temporal tells it to.
    return { resetHistoryEventId: s.lastCompletedWftStartedEventId };
  }

  if (wft.kind !== 'normal') materialize(engine, run, wft);
  const completed = engine.append(run, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, {
    scheduledEventId: wft.scheduledEventId,
    startedEventId: wft.startedEventId,
    identity,
    binaryChecksum: req.binaryChecksum || undefined,
    sdkMetadata: req.sdkMetadata ?? undefined,
    meteringMetadata: req.meteringMetadata ?? undefined,
    workerVersion: req.workerVersionStamp ?? undefined,
  });
  const completedId = Number(completed.eventId);
  addResetPoint(engine, run, req.binaryChecksum ?? '', req.workerVersionStamp?.buildId ?? '', completedId);
  s.lastCompletedWftStartedEventId = wft.startedEventId;
  s.wft = undefined;
  engine.clearDeadline(run, 'wft');

  const ctx: CommandContext = {
    completedEventId: completedId,
    identity,
    closed: false,
    forceNewTask: false,
    eagerActivities: [],
  };
  const byId = new Map(messages.map((m) => [m.id ?? '', m]));
  const handled = new Set<string>();
  for (const cmd of commands) {
    if (ctx.closed) break;
    if (Number(cmd.commandType) === CommandType.COMMAND_TYPE_PROTOCOL_MESSAGE) {
      const id = cmd.protocolMessageCommandAttributes?.messageId ?? '';
      const m = byId.get(id);
      if (m) {
        handled.add(id);
        applyProtocolMessage(engine, run, m, completedId);
      }
      continue;
    }
    applyCommand(engine, run, cmd, ctx);
  }
  if (!ctx.closed) {
    for (const m of messages) if (!handled.has(m.id ?? '')) applyProtocolMessage(engine, run, m, completedId);
    const flushed = engine.flushBuffered(run);
    if (flushed > 0 || ctx.forceNewTask || req.forceCreateNewWorkflowTask || hasUndeliveredUpdates(run))
      engine.scheduleWorkflowTask(run);
  }
  engine.markDirty(run);
  afterTask(engine, run);
  // Commands may have started timers or scheduled activities whose schedule-to-start/close deadlines must run.
  engine.hooks.armDeadlines(run);
  engine.hooks.runTransferTasks(run);
  enforceHistoryLimits(engine, run);
  const activityTasks = run.isOpen
    ? ctx.eagerActivities.map((a) => startActivityEagerly(engine, run, a, identity)).filter((t) => t !== undefined)
    : [];
  return { activityTasks };
}

/**
 * Fails the task a completion belongs to and answers the completion with INVALID_ARGUMENT, as Temporal does. The
 * message is exactly the cause's name (`UnhandledCommand`), or `<Cause>: <detail>`: the SDK recognises the bare
 * `UnhandledCommand` and replays its cached copy of the run with the new events instead of sending its stale
 * commands again. A retried task (attempt 2 or later) that is still invalid is dropped without a new event, except
 * for UnhandledCommand; it times out and is retried, as on Temporal. A command over the size limits (`terminate`)
 * also terminates the run after the failed task, as Temporal's `workflowSizeChecker` does.
 */
function rejectCompletion(
  engine: Engine,
  run: RunRecord,
  wft: WorkflowTaskState,
  invalid: { cause: number; message?: string; terminate?: boolean },
  identity: string,
): never {
  const message = invalid.message ? `${causeName(invalid.cause)}: ${invalid.message}` : causeName(invalid.cause);
  const unhandled = invalid.cause === WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND;
  if (wft.attempt === 1 || unhandled) {
    failWorkflowTaskNow(
      engine,
      run,
      wft,
      invalid.cause,
      { message, serverFailureInfo: { nonRetryable: false } },
      identity,
      !invalid.terminate,
    );
    // A command over Temporal's size limits ends the run: terminated by the history service with the same message.
    if (invalid.terminate && run.isOpen) terminateRun(engine, run, message, undefined, 'history-service');
  }
  throw invalidArgument(message);
}

/** A workflow task failure cause as Temporal names it in messages: `UnhandledCommand`, `BadStartTimerAttributes`. */
export function causeName(cause: number): string {
  const name = (WorkflowTaskFailedCause[cause] ?? 'WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED').replace(
    /^WORKFLOW_TASK_FAILED_CAUSE_/,
    '',
  );
  return name
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

function shouldSuggestContinueAsNew(engine: Engine, s: { nextEventId: number; historySizeBytes: number }): boolean {
  const l = engine.limits;
  return s.nextEventId - 1 >= l.suggestContinueAsNewCount || s.historySizeBytes >= l.suggestContinueAsNewBytes;
}

/** Terminates a run whose history went past 51,200 events or 50 MB, as Temporal does. */
function enforceHistoryLimits(engine: Engine, run: RunRecord): void {
  if (!run.isOpen) return;
  const s = run.state;
  const count = s.nextEventId - 1;
  if (count > engine.limits.maxHistoryCount || s.historySizeBytes > engine.limits.maxHistoryBytes) {
    const what =
      count > engine.limits.maxHistoryCount
        ? `count ${count} exceeds limit ${engine.limits.maxHistoryCount}`
        : `size ${s.historySizeBytes} bytes exceeds limit ${engine.limits.maxHistoryBytes}`;
    engine.logger.warn('terminating workflow: history limit', { workflowId: s.workflowId, runId: s.runId, what });
    terminateRun(engine, run, `Workflow history ${what}.`, undefined, 'mloe-devserver');
  } else if (
    !run.warnedLargeHistory &&
    (count > engine.limits.warnHistoryCount || s.historySizeBytes > engine.limits.warnHistoryBytes)
  ) {
    run.warnedLargeHistory = true;
    engine.logger.warn('history is large', {
      workflowId: s.workflowId,
      runId: s.runId,
      events: count,
      bytes: s.historySizeBytes,
    });
  }
}

/** After a task closed: queries waiting for it get a task of their own (or ride on the next workflow task). */
function afterTask(engine: Engine, run: RunRecord): void {
  dispatchPendingQueries(engine, run);
}

type FailRequest = Loose<temporal.api.workflowservice.v1.IRespondWorkflowTaskFailedRequest>;

/** RespondWorkflowTaskFailed. */
export function failWorkflowTask(engine: Engine, req: FailRequest): Record<string, unknown> {
  const { run, wft } = taskFromToken(engine, req.taskToken);
  resolveQueryResults(engine, run, {});
  failWorkflowTaskNow(
    engine,
    run,
    wft,
    Number(req.cause ?? WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED),
    req.failure ?? undefined,
    req.identity ?? wft.identity,
  );
  return {};
}

/**
 * Fails the started task: the first failure is written to history, later attempts are transient (nothing written)
 * until one completes. Events buffered during the task are written and make the next task a normal one.
 */
export function failWorkflowTaskNow(
  engine: Engine,
  run: RunRecord,
  wft: WorkflowTaskState,
  cause: number,
  failure: Failure | undefined,
  identity: string,
  retry = true,
): void {
  const s = run.state;
  const written = wft.attempt === 1 || s.buffered.length > 0;
  if (written) {
    if (wft.kind !== 'normal') materialize(engine, run, wft);
    engine.append(run, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, {
      scheduledEventId: wft.scheduledEventId,
      startedEventId: wft.startedEventId,
      cause,
      failure,
      identity,
    });
  }
  closeFailedTask(engine, run, wft, retry);
}

/**
 * Common tail of a failed or timed-out task: flush buffered events, retry the task (unless the caller is about to
 * close the run, which writes the buffered events itself).
 */
function closeFailedTask(engine: Engine, run: RunRecord, wft: WorkflowTaskState, retry = true): void {
  const s = run.state;
  s.wft = undefined;
  engine.setSticky(run, undefined);
  engine.clearDeadline(run, 'wft');
  undeliverUpdates(run, wft);
  if (!retry) {
    engine.markDirty(run);
    return;
  }
  const flushed = engine.flushBuffered(run);
  const attempt = flushed > 0 ? 1 : wft.attempt + 1;
  const backoff = attempt >= 3 ? Math.min(1000 * 2 ** (attempt - 3), 60_000) : 0;
  engine.scheduleWorkflowTask(run, {
    attempt,
    kind: attempt > 1 ? 'transient' : 'normal',
    notBefore: backoff ? engine.now() + backoff : 0,
  });
  engine.markDirty(run);
  for (const q of run.queries.values()) if (q.dispatched && q.taskSeq === wft.seq) q.dispatched = false;
  dispatchPendingQueries(engine, run);
}

/** Deadline: the started task ran past its start-to-close timeout. */
export function timeoutWorkflowTask(engine: Engine, run: RunRecord): void {
  const wft = run.state.wft;
  if (!run.isOpen || !wft || wft.startedEventId === 0) return;
  if (wft.attempt === 1 || run.state.buffered.length > 0) {
    if (wft.kind !== 'normal') materialize(engine, run, wft);
    engine.append(run, EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, {
      scheduledEventId: wft.scheduledEventId,
      startedEventId: wft.startedEventId,
      timeoutType: TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
    });
  }
  closeFailedTask(engine, run, wft);
}

/** PollWorkflowTaskQueue. */
export async function pollWorkflowTaskQueue(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IPollWorkflowTaskQueueRequest>,
  signal: AbortSignal,
): Promise<RawResponse | Record<string, unknown>> {
  const ns = engine.namespace(req.namespace).name;
  const queue = req.taskQueue?.name;
  if (!queue) throw invalidArgument('TaskQueue is not set on request.');
  // Sticky queues are never given tasks: every task goes to the normal queue with the full history, which the SDK
  // accepts (it skips events it has already applied). A sticky poll therefore just waits out its long-poll.
  const response = await engine.workflowMatching.poll(
    ns,
    queue,
    { identity: req.identity ?? '' },
    signal,
    engine.now(),
  );
  return (response as RawResponse | undefined) ?? {};
}
