/**
 * The mutable state of one workflow run: what Temporal's history service keeps beside the event history (pending
 * activities, timers, children, the in-flight workflow task, buffered events). It is plain data so it serializes
 * to a blob; the history itself lives in {@link RunRecord.history} and the `events` table.
 */
import type { Failure, Header, HistoryEvent, Memo, Payloads, RetryPolicy, SearchAttributes } from './proto';

/** The workflow task currently scheduled or started, if any. */
export interface WorkflowTaskState {
  /** Unique per task instance, carried in the task token. */
  seq: number;
  attempt: number;
  /**
   * normal: scheduled event written. transient: a retry after a failure, whose scheduled/started events are not
   * written until it completes. speculative: created for an update, dropped without a trace if it only rejects.
   */
  kind: 'normal' | 'transient' | 'speculative';
  scheduledEventId: number;
  startedEventId: number;
  scheduledTime: number;
  startedTime: number;
  /** Do not dispatch before this time (retry backoff / first-task backoff). */
  notBefore: number;
  identity: string;
  requestId: string;
  /** Events synthesized for a transient or speculative task when it was dispatched. */
  synthesized: HistoryEvent[];
  /** Update ids delivered with this task. */
  deliveredUpdates: string[];
}

/** One pending activity (scheduled and not yet closed). */
export interface ActivityState {
  scheduledEventId: number;
  activityId: string;
  activityType: string;
  taskQueue: string;
  attempt: number;
  /** Unique per dispatch, carried in the task token. */
  seq: number;
  scheduledTime: number;
  currentAttemptScheduledTime: number;
  /** 0 while waiting for a worker or backing off between attempts. */
  startedTime: number;
  startedIdentity: string;
  startedRequestId: string;
  /** The retry backoff ends at this time; 0 when not backing off. */
  backoffUntil: number;
  scheduleToCloseMs: number;
  scheduleToStartMs: number;
  startToCloseMs: number;
  heartbeatMs: number;
  retryPolicy: RetryPolicy;
  heartbeatDetails?: Payloads | undefined;
  lastHeartbeatTime: number;
  lastFailure?: Failure | undefined;
  lastWorkerIdentity: string;
  cancelRequested: boolean;
  cancelRequestedEventId: number;
}

/** What scheduling an activity decides: an {@link ActivityState} without its attempt's progress. */
export type ActivitySchedule = Pick<
  ActivityState,
  | 'scheduledEventId'
  | 'activityId'
  | 'activityType'
  | 'taskQueue'
  | 'scheduleToCloseMs'
  | 'scheduleToStartMs'
  | 'startToCloseMs'
  | 'heartbeatMs'
  | 'retryPolicy'
>;

/**
 * A pending activity scheduled at `now`: first attempt, not started, not backing off, no heartbeat, no cancel request.
 * What a ScheduleActivityTask command leaves, and what a reset schedules anew from the event.
 */
export function scheduledActivityState(schedule: ActivitySchedule, now: number): ActivityState {
  return {
    ...schedule,
    attempt: 1,
    seq: 0,
    scheduledTime: now,
    currentAttemptScheduledTime: now,
    startedTime: 0,
    startedIdentity: '',
    startedRequestId: '',
    backoffUntil: 0,
    lastHeartbeatTime: 0,
    lastWorkerIdentity: '',
    cancelRequested: false,
    cancelRequestedEventId: 0,
  };
}

/** A child workflow the run initiated. */
export interface ChildState {
  initiatedEventId: number;
  startedEventId: number;
  namespace: string;
  workflowId: string;
  runId: string;
  workflowType: string;
  parentClosePolicy: number;
}

/** A signal or cancel request to another workflow, initiated but not yet delivered. */
export interface ExternalRequestState {
  initiatedEventId: number;
  kind: 'signal' | 'cancel';
  namespace: string;
  workflowId: string;
  runId: string;
  childWorkflowOnly: boolean;
  control: string;
  signalName?: string;
  input?: Payloads | undefined;
  header?: Header | undefined;
  reason?: string;
}

/** A workflow update known to this run. */
export interface UpdateState {
  updateId: string;
  stage: 'admitted' | 'accepted' | 'completed' | 'rejected';
  request: Record<string, unknown>;
  acceptedEventId: number;
  /** Sequence number of the workflow task the request was delivered with (0: not delivered yet). */
  deliveredSeq: number;
  /** Outcome (temporal.api.update.v1.Outcome) once completed or rejected. */
  outcome?: Record<string, unknown>;
  /**
   * Set for an update admitted durably (a `WorkflowExecutionUpdateAdmitted` event, as a reset reapplies it): the
   * worker reads the request from history, so it is not sent as a message, and its acceptance names no request.
   */
  admittedEventId?: number;
}

/**
 * A point a run can be reset to (temporal.api.workflow.v1.ResetPointInfo): the first workflow task completed by each
 * worker build (binary checksum and build id), carried along a chain of runs.
 */
export interface ResetPoint {
  buildId: string;
  binaryChecksum: string;
  runId: string;
  firstWorkflowTaskCompletedId: number;
  createTime: number;
  /** When the run it names is deleted by retention (0: that run is still open). */
  expireTime: number;
  /** False when the run had pending children or requests to other workflows at that point. */
  resettable: boolean;
}

/** Where a run's parent is. */
export interface ParentRef {
  namespace: string;
  workflowId: string;
  runId: string;
  initiatedEventId: number;
}

/** Everything about one run except its event history. */
export interface RunState {
  namespace: string;
  workflowId: string;
  runId: string;
  firstRunId: string;
  workflowType: string;
  taskQueue: string;
  status: number;
  startTime: number;
  /** When the first workflow task may run (start + backoff / start delay). */
  executionTime: number;
  closeTime: number;
  attempt: number;
  workflowTaskTimeoutMs: number;
  runTimeoutMs: number;
  executionTimeoutMs: number;
  /** Absolute expiration of the whole chain of runs (0: none). */
  executionExpirationTime: number;
  retryPolicy?: RetryPolicy | undefined;
  cronSchedule: string;
  memo?: Memo | undefined;
  searchAttributes?: SearchAttributes | undefined;
  header?: Header | undefined;
  requestIds: string[];
  parent?: ParentRef | undefined;
  rootWorkflowId: string;
  rootRunId: string;
  nextEventId: number;
  /** `startedEventId` of the last completed workflow task (the `previousStartedEventId` of the next). */
  lastCompletedWftStartedEventId: number;
  wft?: WorkflowTaskState | undefined;
  taskSeq: number;
  buffered: HistoryEvent[];
  activities: Record<string, ActivityState>;
  timers: Record<string, { startedEventId: number; fireAt: number }>;
  children: Record<string, ChildState>;
  external: Record<string, ExternalRequestState>;
  updates: Record<string, UpdateState>;
  cancelRequested: boolean;
  signalCount: number;
  newExecutionRunId: string;
  /** Set once the run is closed: event id of the close event. */
  closeEventId: number;
  historySizeBytes: number;
  stateTransitionCount: number;
  /** Reset points of the chain (absent in state written before reset points were kept). */
  autoResetPoints?: ResetPoint[] | undefined;
  /** The run a reset of this run started (the latest, when it was reset more than once). */
  resetRunId?: string | undefined;
  /** When this run was started by a reset. */
  lastResetTime?: number | undefined;
  /** The start time of the chain's original run, when this run was started by a reset (its own start is the reset). */
  originalStartTime?: number | undefined;
}

/** The bookkeeping fields of a run that has written nothing yet (the rest of a new {@link RunState} is its identity). */
export function freshRunBookkeeping(): Pick<
  RunState,
  | 'nextEventId'
  | 'lastCompletedWftStartedEventId'
  | 'wft'
  | 'taskSeq'
  | 'buffered'
  | 'activities'
  | 'timers'
  | 'children'
  | 'external'
  | 'updates'
  | 'cancelRequested'
  | 'signalCount'
  | 'newExecutionRunId'
  | 'closeEventId'
  | 'historySizeBytes'
  | 'stateTransitionCount'
> {
  return {
    nextEventId: 1,
    lastCompletedWftStartedEventId: 0,
    wft: undefined,
    taskSeq: 0,
    buffered: [],
    activities: {},
    timers: {},
    children: {},
    external: {},
    updates: {},
    cancelRequested: false,
    signalCount: 0,
    newExecutionRunId: '',
    closeEventId: 0,
    historySizeBytes: 0,
    stateTransitionCount: 0,
  };
}
