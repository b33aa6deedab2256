/**
 * Activity tasks: dispatch, completion, failure with server-side retries, cancellation, heartbeats and the four
 * timeouts. `ActivityTaskStarted` is written lazily with the result of the final attempt, as Temporal does.
 */
import { randomUUID } from 'node:crypto';
import type { Engine, RunRecord } from '../engine';
import { invalidArgument, notFound } from '../errors';
import {
  EventType,
  RetryState,
  TimeoutType,
  msToDuration,
  msToTimestamp,
  temporal,
  type Failure,
  type Payloads,
} from '../proto';
import type { Loose } from '../proto';
import { decideRetry } from '../retry';
import type { ActivityState } from '../state';
import { decodeToken, encodeToken } from './tokens';
import { blobTooLarge, failureSize, payloadsSize, type SizeContext } from './payload-limits';
import {
  CANCEL_DETAILS_EXCEED_LIMIT,
  COMPLETE_RESULT_EXCEEDS_LIMIT,
  FAILURE_EXCEEDS_LIMIT,
  HEARTBEAT_EXCEEDS_LIMIT,
  serverFailure,
  truncateFailure,
} from './server-failures';

const activityNotFound = (): Error =>
  notFound('invalid activityID or activity already timed out or invoking workflow is completed');

/** Puts an activity attempt on its task queue (unless it is backing off; its deadline enqueues it then). */
export function enqueueActivity(engine: Engine, run: RunRecord, a: ActivityState): void {
  if (a.backoffUntil > engine.now()) return;
  const id = a.scheduledEventId;
  const attempt = a.attempt;
  engine.activityMatching.enqueue(run.state.namespace, a.taskQueue, {
    dispatch: (poller) => startActivity(engine, run, id, attempt, poller.identity),
  });
}

function scheduledAttributes(engine: Engine, run: RunRecord, scheduledEventId: number): Record<string, unknown> {
  const event = run.history[scheduledEventId - 1]?.event;
  return event ? engine.attributes(event) : {};
}

/** Starts an eagerly executed activity for the worker that completed the workflow task; undefined if not possible. */
export function startActivityEagerly(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  identity: string,
): object | undefined {
  return startActivity(engine, run, a.scheduledEventId, a.attempt, identity);
}

function startActivity(
  engine: Engine,
  run: RunRecord,
  id: number,
  attempt: number,
  identity: string,
): object | undefined {
  const s = run.state;
  const a = s.activities[String(id)];
  const now = engine.now();
  if (!run.isOpen || !a || a.attempt !== attempt || a.startedTime > 0 || a.backoffUntil > now) return undefined;
  a.startedTime = now;
  a.seq++;
  a.startedIdentity = identity;
  a.startedRequestId = randomUUID();
  a.lastHeartbeatTime = 0;
  engine.markDirty(run);
  engine.hooks.armDeadlines(run);
  const attrs = scheduledAttributes(engine, run, id);
  return {
    taskToken: encodeToken({
      kind: 'activity',
      namespace: s.namespace,
      workflowId: s.workflowId,
      runId: s.runId,
      id,
      seq: a.seq,
      attempt,
    }),
    workflowNamespace: s.namespace,
    workflowType: { name: s.workflowType },
    workflowExecution: { workflowId: s.workflowId, runId: s.runId },
    activityType: { name: a.activityType },
    activityId: a.activityId,
    header: attrs['header'],
    input: attrs['input'],
    heartbeatDetails: a.heartbeatDetails,
    scheduledTime: msToTimestamp(a.scheduledTime),
    currentAttemptScheduledTime: msToTimestamp(a.currentAttemptScheduledTime),
    startedTime: msToTimestamp(now),
    attempt,
    scheduleToCloseTimeout: msToDuration(a.scheduleToCloseMs),
    startToCloseTimeout: msToDuration(a.startToCloseMs),
    heartbeatTimeout: msToDuration(a.heartbeatMs),
    retryPolicy: a.retryPolicy,
    priority: attrs['priority'],
  };
}

/** PollActivityTaskQueue. */
export async function pollActivityTaskQueue(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IPollActivityTaskQueueRequest>,
  signal: AbortSignal,
): Promise<object> {
  const ns = engine.namespace(req.namespace).name;
  const queue = req.taskQueue?.name;
  if (!queue) throw invalidArgument('TaskQueue is not set on request.');
  const response = await engine.activityMatching.poll(
    ns,
    queue,
    { identity: req.identity ?? '' },
    signal,
    engine.now(),
  );
  return (response as object | undefined) ?? {};
}

/** The running attempt a token refers to. */
function fromToken(engine: Engine, taskToken: Uint8Array | null | undefined): { run: RunRecord; a: ActivityState } {
  const t = decodeToken(taskToken, 'activity');
  const run = engine.runs.get(`${t.namespace}\u0000${t.runId}`);
  const a = run?.state.activities[String(t.id)];
  if (!run || !run.isOpen || !a || a.startedTime === 0 || a.seq !== t.seq) throw activityNotFound();
  return { run, a };
}

/** The running attempt named by workflow and activity id (the ById calls). */
function fromIds(
  engine: Engine,
  req: { namespace?: string | null; workflowId?: string | null; runId?: string | null; activityId?: string | null },
): { run: RunRecord; a: ActivityState } {
  const ns = engine.namespace(req.namespace).name;
  if (!req.activityId) throw invalidArgument('ActivityId is not set on request.');
  const run = engine.getRun(ns, req.workflowId, req.runId);
  const a = Object.values(run.state.activities).find((x) => x.activityId === req.activityId);
  if (!run.isOpen || !a || a.startedTime === 0) throw activityNotFound();
  return { run, a };
}

/** Where an activity payload was measured, for the size warning. */
function sizeContext(run: RunRecord, operation: string): SizeContext {
  return { operation, workflowId: run.state.workflowId, runId: run.state.runId };
}

/** Writes the lazily-recorded started event plus the closing event of an activity, and forgets it. */
function closeActivity(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  type: EventType,
  attrs: Record<string, unknown>,
  started: boolean,
): void {
  delete run.state.activities[String(a.scheduledEventId)];
  engine.clearDeadline(run, `activity:${a.scheduledEventId}`);
  const events: [EventType, Record<string, unknown>, number?][] = [];
  if (started) {
    // Written now, but timed when the final attempt really started (as Temporal does).
    events.push([
      EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
      {
        scheduledEventId: a.scheduledEventId,
        identity: a.startedIdentity,
        requestId: a.startedRequestId,
        attempt: a.attempt,
        lastFailure: a.lastFailure,
      },
      a.startedTime,
    ]);
  }
  events.push([type, { ...attrs, scheduledEventId: a.scheduledEventId, startedEventId: started ? -1 : 0 }]);
  engine.addExternalEvents(run, events);
}

/** RespondActivityTaskCompleted and its ById variant. */
export function completeActivity(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  result: Payloads | null | undefined,
  identity: string,
): void {
  // As Temporal's frontend: a result over the blob limit fails the activity instead (non-retryable).
  if (blobTooLarge(engine, payloadsSize(result), sizeContext(run, 'RespondActivityTaskCompleted'))) {
    failActivity(engine, run, a, serverFailure(COMPLETE_RESULT_EXCEEDS_LIMIT, true), identity);
    return;
  }
  closeActivity(
    engine,
    run,
    a,
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    { result: result ?? undefined, identity },
    true,
  );
}

/** RespondActivityTaskFailed and its ById variant: retry per policy, or close the activity as failed. */
export function failActivity(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  failure: Failure | null | undefined,
  identity: string,
  lastHeartbeatDetails?: Payloads | null,
): void {
  if (lastHeartbeatDetails) a.heartbeatDetails = lastHeartbeatDetails;
  const now = engine.now();
  const expiration = a.scheduleToCloseMs > 0 ? a.scheduledTime + a.scheduleToCloseMs : 0;
  const d = decideRetry(a.retryPolicy, a.attempt, failure, now, expiration);
  if (d.retry && !a.cancelRequested) {
    retryActivity(engine, run, a, failure ?? undefined, identity, d.backoffMs);
    return;
  }
  closeActivity(
    engine,
    run,
    a,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    {
      failure: failure ?? undefined,
      identity,
      retryState: a.cancelRequested ? RetryState.RETRY_STATE_CANCEL_REQUESTED : d.state,
    },
    true,
  );
}

function retryActivity(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  failure: Failure | undefined,
  identity: string,
  backoffMs: number,
): void {
  const now = engine.now();
  a.attempt++;
  a.startedTime = 0;
  a.lastFailure = failure;
  a.lastWorkerIdentity = identity;
  a.backoffUntil = backoffMs > 0 ? now + backoffMs : 0;
  a.currentAttemptScheduledTime = now + backoffMs;
  engine.markDirty(run);
  engine.hooks.armDeadlines(run);
  enqueueActivity(engine, run, a);
}

/**
 * RespondActivityTaskFailed and its ById variant, with Temporal's frontend size rules: heartbeat details over the
 * blob limit are dropped, a failure over it is replaced by a non-retryable server failure whose cause is the original
 * truncated to the warning limit. Returns the failures the server substituted (the response's `failures`).
 */
export function respondActivityFailed(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  failure: Failure | null | undefined,
  identity: string,
  lastHeartbeatDetails: Payloads | null | undefined,
): Failure[] {
  const where = sizeContext(run, 'RespondActivityTaskFailed');
  const substituted: Failure[] = [];
  let details = lastHeartbeatDetails;
  if (details && blobTooLarge(engine, payloadsSize(details), where)) {
    substituted.push(serverFailure(HEARTBEAT_EXCEEDS_LIMIT, true));
    details = undefined;
  }
  let recorded = failure;
  if (blobTooLarge(engine, failureSize(failure), where)) {
    recorded = {
      ...serverFailure(FAILURE_EXCEEDS_LIMIT, true),
      cause: truncateFailure(failure, engine.limits.blobSizeLimitWarn),
    };
    substituted.push(recorded);
  }
  failActivity(engine, run, a, recorded, identity, details);
  return substituted;
}

/** RespondActivityTaskCanceled and its ById variant. */
export function cancelActivity(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  details: Payloads | null | undefined,
  identity: string,
): void {
  // As Temporal's frontend: details over the blob limit fail the activity instead (non-retryable).
  if (blobTooLarge(engine, payloadsSize(details), sizeContext(run, 'RespondActivityTaskCanceled'))) {
    failActivity(engine, run, a, serverFailure(CANCEL_DETAILS_EXCEED_LIMIT, true), identity);
    return;
  }
  closeActivity(
    engine,
    run,
    a,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    {
      details: details ?? undefined,
      latestCancelRequestedEventId: a.cancelRequestedEventId || undefined,
      identity,
    },
    true,
  );
}

/** RecordActivityTaskHeartbeat and its ById variant. */
export function heartbeatActivity(
  engine: Engine,
  run: RunRecord,
  a: ActivityState,
  details: Payloads | null | undefined,
): object {
  // As Temporal's frontend: details over the blob limit fail the activity at once, and the worker is told to stop.
  if (blobTooLarge(engine, payloadsSize(details), sizeContext(run, 'RecordActivityTaskHeartbeat'))) {
    failActivity(engine, run, a, serverFailure(HEARTBEAT_EXCEEDS_LIMIT, true), a.startedIdentity);
    return { cancelRequested: true, activityPaused: false, activityReset: false };
  }
  if (details) a.heartbeatDetails = details;
  a.lastHeartbeatTime = engine.now();
  engine.markDirty(run);
  engine.hooks.armDeadlines(run);
  return { cancelRequested: a.cancelRequested, activityPaused: false, activityReset: false };
}

/**
 * The RequestCancelActivityTask command. Returns true when the activity was cancelled at once (not started).
 *
 * As on Temporal, the ActivityTaskCancelRequested event is written even when the activity has already closed (its
 * result arrived while the workflow task ran, so its events are buffered, or it is in history): the worker issued
 * the command, and on replay its activity state machine expects the event in that place. Without it, a replay
 * (a worker that no longer caches the run) fails with "Activity machine does not handle this event".
 */
export function cancelActivityByCommand(
  engine: Engine,
  run: RunRecord,
  scheduledEventId: number,
  wftCompletedId: number,
  identity: string,
): boolean {
  const requested = engine.append(run, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED, {
    scheduledEventId,
    workflowTaskCompletedEventId: wftCompletedId,
  });
  const a = run.state.activities[String(scheduledEventId)];
  if (!a) return false; // already closed: the request is recorded, nothing else happens
  a.cancelRequested = true;
  a.cancelRequestedEventId = Number(requested.eventId);
  if (a.startedTime === 0) {
    delete run.state.activities[String(scheduledEventId)];
    engine.clearDeadline(run, `activity:${scheduledEventId}`);
    engine.append(run, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED, {
      scheduledEventId,
      startedEventId: 0,
      latestCancelRequestedEventId: a.cancelRequestedEventId,
      identity,
    });
    return true;
  }
  engine.markDirty(run);
  return false;
}

const TIMEOUT_NAMES: Record<number, string> = {
  [TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE]: 'StartToClose',
  [TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START]: 'ScheduleToStart',
  [TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE]: 'ScheduleToClose',
  [TimeoutType.TIMEOUT_TYPE_HEARTBEAT]: 'Heartbeat',
};

/** The next deadline of an activity and what happens then. */
export function activityDeadline(a: ActivityState): { at: number; what: TimeoutType | 'backoff' } | undefined {
  const c: { at: number; what: TimeoutType | 'backoff' }[] = [];
  if (a.scheduleToCloseMs > 0)
    c.push({ at: a.scheduledTime + a.scheduleToCloseMs, what: TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE });
  if (a.startedTime === 0) {
    if (a.backoffUntil > 0) c.push({ at: a.backoffUntil, what: 'backoff' });
    else if (a.scheduleToStartMs > 0)
      c.push({
        at: a.currentAttemptScheduledTime + a.scheduleToStartMs,
        what: TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
      });
  } else {
    if (a.startToCloseMs > 0)
      c.push({ at: a.startedTime + a.startToCloseMs, what: TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE });
    if (a.heartbeatMs > 0)
      c.push({ at: (a.lastHeartbeatTime || a.startedTime) + a.heartbeatMs, what: TimeoutType.TIMEOUT_TYPE_HEARTBEAT });
  }
  c.sort((x, y) => x.at - y.at);
  return c[0];
}

/** Deadline handler: an activity's backoff ended or one of its timeouts fired. */
export function onActivityDeadline(engine: Engine, run: RunRecord, scheduledEventId: number): void {
  const a = run.state.activities[String(scheduledEventId)];
  if (!run.isOpen || !a) return;
  const d = activityDeadline(a);
  if (!d) return;
  if (d.at > engine.now()) {
    engine.hooks.armDeadlines(run);
    return;
  }
  if (d.what === 'backoff') {
    a.backoffUntil = 0;
    engine.markDirty(run);
    enqueueActivity(engine, run, a);
    engine.hooks.armDeadlines(run);
    return;
  }
  const timeoutType = d.what;
  const started = a.startedTime > 0;
  const failure: Failure = {
    message: `activity ${TIMEOUT_NAMES[timeoutType]} timeout`,
    source: '',
    timeoutFailureInfo: { timeoutType, lastHeartbeatDetails: a.heartbeatDetails },
  };
  // As Temporal's RetryActivity: only start-to-close and heartbeat timeouts are retried; schedule-to-start and
  // schedule-to-close timeouts close the activity with NON_RETRYABLE_FAILURE.
  const retryable =
    timeoutType === TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE || timeoutType === TimeoutType.TIMEOUT_TYPE_HEARTBEAT;
  const expiration = a.scheduleToCloseMs > 0 ? a.scheduledTime + a.scheduleToCloseMs : 0;
  const r = retryable
    ? decideRetry(a.retryPolicy, a.attempt, failure, engine.now(), expiration, true)
    : { retry: false, backoffMs: 0, state: RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE };
  if (r.retry && !a.cancelRequested) {
    retryActivity(engine, run, a, failure, a.startedIdentity, r.backoffMs);
    return;
  }
  const retryState = a.cancelRequested ? RetryState.RETRY_STATE_CANCEL_REQUESTED : r.state;
  // A retry refused because it would start after the schedule-to-close deadline is reported as that timeout.
  if (retryState === RetryState.RETRY_STATE_TIMEOUT) {
    failure.message = `activity ${TIMEOUT_NAMES[TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE]} timeout`;
    failure.timeoutFailureInfo = {
      timeoutType: TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE,
      lastHeartbeatDetails: a.heartbeatDetails,
    };
  }
  // The previous attempt's failure, if any, is the cause (Temporal: `timeoutFailure.Cause = ai.RetryLastFailure`).
  if (a.lastFailure) failure.cause = a.lastFailure;
  closeActivity(engine, run, a, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, { failure, retryState }, started);
}

type Req = Record<string, unknown> & { taskToken?: Uint8Array | null; identity?: string | null };

/** The activity RPC handlers, by method name. */
export const activityHandlers = {
  RespondActivityTaskCompleted: (engine: Engine, req: Req & { result?: Payloads | null }) => {
    const { run, a } = fromToken(engine, req.taskToken);
    completeActivity(engine, run, a, req.result, req.identity ?? '');
    return {};
  },
  RespondActivityTaskCompletedById: (engine: Engine, req: Req & { result?: Payloads | null }) => {
    const { run, a } = fromIds(engine, req as never);
    completeActivity(engine, run, a, req.result, req.identity ?? '');
    return {};
  },
  RespondActivityTaskFailed: (
    engine: Engine,
    req: Req & { failure?: Failure | null; lastHeartbeatDetails?: Payloads | null },
  ) => {
    const { run, a } = fromToken(engine, req.taskToken);
    return {
      failures: respondActivityFailed(engine, run, a, req.failure, req.identity ?? '', req.lastHeartbeatDetails),
    };
  },
  RespondActivityTaskFailedById: (
    engine: Engine,
    req: Req & { failure?: Failure | null; lastHeartbeatDetails?: Payloads | null },
  ) => {
    const { run, a } = fromIds(engine, req as never);
    return {
      failures: respondActivityFailed(engine, run, a, req.failure, req.identity ?? '', req.lastHeartbeatDetails),
    };
  },
  RespondActivityTaskCanceled: (engine: Engine, req: Req & { details?: Payloads | null }) => {
    const { run, a } = fromToken(engine, req.taskToken);
    cancelActivity(engine, run, a, req.details, req.identity ?? '');
    return {};
  },
  RespondActivityTaskCanceledById: (engine: Engine, req: Req & { details?: Payloads | null }) => {
    const { run, a } = fromIds(engine, req as never);
    cancelActivity(engine, run, a, req.details, req.identity ?? '');
    return {};
  },
  RecordActivityTaskHeartbeat: (engine: Engine, req: Req & { details?: Payloads | null }) => {
    const { run, a } = fromToken(engine, req.taskToken);
    return heartbeatActivity(engine, run, a, req.details);
  },
  RecordActivityTaskHeartbeatById: (engine: Engine, req: Req & { details?: Payloads | null }) => {
    const { run, a } = fromIds(engine, req as never);
    return heartbeatActivity(engine, run, a, req.details);
  },
};
