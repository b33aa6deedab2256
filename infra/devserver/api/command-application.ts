/**
 * Applying the (validated) commands of a workflow task completion: each command writes its event and records what
 * the run now waits for (activities, timers, children, external requests). Commands that close the run are in
 * `close-commands.ts`.
 */
import type { Engine, RunRecord } from '../engine';
import { CommandType, EventType, durationToMs, enums, type Command } from '../proto';
import { withActivityDefaults } from '../retry';
import { scheduledActivityState, type ActivityState } from '../state';
import { cancelActivityByCommand, enqueueActivity } from './activity';
import { deriveActivityTimeouts, type ActivityTimeouts } from './activity-timeouts';
import { applyCloseCommand, isCloseCommand } from './close-commands';
import { typedSearchAttributes } from '../visibility/search-attributes';

/** Shared state while applying one completion's commands. */
export interface CommandContext {
  completedEventId: number;
  identity: string;
  closed: boolean;
  /** Set when a command wrote an event the workflow has not seen yet (an activity cancelled before it started). */
  forceNewTask: boolean;
  /** Activities to hand back in the completion response (eager execution). */
  eagerActivities: ActivityState[];
}

/** Temporal's default limit of activities returned eagerly per workflow task completion. */
export const MAX_EAGER_ACTIVITIES = 3;

type Apply = (engine: Engine, run: RunRecord, cmd: Command, ctx: CommandContext) => void;

/** A duration in whole seconds and nanoseconds, as the activity's scheduled event carries it. */
const duration = (ms: number): { seconds: number; nanos: number } => ({
  seconds: Math.floor(ms / 1000),
  nanos: (ms % 1000) * 1e6,
});

const scheduleActivity: Apply = (engine, run, cmd, ctx) => {
  const s = run.state;
  const a = cmd.scheduleActivityTaskCommandAttributes!;
  const t = deriveActivityTimeouts(a, s.runTimeoutMs) as ActivityTimeouts;
  const retryPolicy = withActivityDefaults(a.retryPolicy);
  const taskQueue = a.taskQueue?.name || s.taskQueue;
  const ev = engine.append(run, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, {
    activityId: a.activityId,
    activityType: a.activityType,
    taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    header: a.header ?? undefined,
    input: a.input ?? undefined,
    scheduleToCloseTimeout: duration(t.scheduleToClose),
    scheduleToStartTimeout: duration(t.scheduleToStart),
    startToCloseTimeout: duration(t.startToClose),
    heartbeatTimeout: duration(t.heartbeat),
    workflowTaskCompletedEventId: ctx.completedEventId,
    retryPolicy,
    useWorkflowBuildId: a.useWorkflowBuildId || undefined,
    priority: a.priority ?? undefined,
  });
  const activity = scheduledActivityState(
    {
      scheduledEventId: Number(ev.eventId),
      activityId: a.activityId!,
      activityType: a.activityType!.name!,
      taskQueue,
      scheduleToCloseMs: t.scheduleToClose,
      scheduleToStartMs: t.scheduleToStart,
      startToCloseMs: t.startToClose,
      heartbeatMs: t.heartbeat,
      retryPolicy,
    },
    engine.now(),
  );
  s.activities[String(activity.scheduledEventId)] = activity;
  // Eager execution: the worker reserved a slot and gets the task in the completion response (no poll).
  if (a.requestEagerExecution && taskQueue === s.taskQueue && ctx.eagerActivities.length < MAX_EAGER_ACTIVITIES) {
    ctx.eagerActivities.push(activity);
  } else {
    enqueueActivity(engine, run, activity);
  }
};

const requestCancelActivity: Apply = (engine, run, cmd, ctx) => {
  const id = Number(cmd.requestCancelActivityTaskCommandAttributes?.scheduledEventId ?? 0);
  if (cancelActivityByCommand(engine, run, id, ctx.completedEventId, ctx.identity)) ctx.forceNewTask = true;
};

const startTimer: Apply = (engine, run, cmd, ctx) => {
  const a = cmd.startTimerCommandAttributes!;
  const ev = engine.append(run, EventType.EVENT_TYPE_TIMER_STARTED, {
    timerId: a.timerId,
    startToFireTimeout: a.startToFireTimeout,
    workflowTaskCompletedEventId: ctx.completedEventId,
  });
  run.state.timers[a.timerId!] = {
    startedEventId: Number(ev.eventId),
    fireAt: engine.now() + durationToMs(a.startToFireTimeout),
  };
};

const cancelTimer: Apply = (engine, run, cmd, ctx) => {
  const timerId = cmd.cancelTimerCommandAttributes?.timerId ?? '';
  const timer = run.state.timers[timerId];
  let startedEventId = timer?.startedEventId;
  if (!timer) {
    // Fired while the workflow task ran: as Temporal does, the buffered fire event is dropped and the cancel
    // recorded, so the history shows what the worker did (a replay expects TimerCanceled for its CancelTimer).
    startedEventId = dropBufferedTimerFired(engine, run, timerId);
    if (startedEventId === undefined) return;
  }
  delete run.state.timers[timerId];
  engine.clearDeadline(run, `timer:${timerId}`);
  engine.append(run, EventType.EVENT_TYPE_TIMER_CANCELED, {
    timerId,
    startedEventId,
    workflowTaskCompletedEventId: ctx.completedEventId,
    identity: ctx.identity,
  });
};

/** Removes a timer's buffered TimerFired event; returns its started event id, or undefined when none is buffered. */
function dropBufferedTimerFired(engine: Engine, run: RunRecord, timerId: string): number | undefined {
  const index = run.state.buffered.findIndex(
    (event) =>
      Number(event.eventType) === EventType.EVENT_TYPE_TIMER_FIRED &&
      engine.attributes<{ timerId?: string }>(event).timerId === timerId,
  );
  const fired = run.state.buffered[index];
  if (fired === undefined) return undefined;
  run.state.buffered.splice(index, 1);
  engine.markDirty(run);
  return Number(engine.attributes<{ startedEventId?: number | string }>(fired).startedEventId ?? 0);
}

const recordMarker: Apply = (engine, run, cmd, ctx) => {
  const a = cmd.recordMarkerCommandAttributes!;
  engine.append(run, EventType.EVENT_TYPE_MARKER_RECORDED, {
    markerName: a.markerName,
    details: a.details ?? undefined,
    workflowTaskCompletedEventId: ctx.completedEventId,
    header: a.header ?? undefined,
    failure: a.failure ?? undefined,
  });
};

const upsertSearchAttributes: Apply = (engine, run, cmd, ctx) => {
  const s = run.state;
  const upserted = cmd.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes;
  const fields = typedSearchAttributes(engine, s.namespace, upserted)?.indexedFields ?? {};
  engine.append(run, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, {
    workflowTaskCompletedEventId: ctx.completedEventId,
    searchAttributes: { indexedFields: fields },
  });
  const merged = { ...(s.searchAttributes?.indexedFields ?? {}) };
  for (const [k, v] of Object.entries(fields)) {
    // An empty payload (data null/empty) removes the attribute, as in Temporal.
    if (!v?.data || v.data.length === 0 || Buffer.from(v.data).toString() === 'null') delete merged[k];
    else merged[k] = v;
  }
  s.searchAttributes = { indexedFields: merged };
};

const modifyProperties: Apply = (engine, run, cmd, ctx) => {
  const s = run.state;
  const memo = cmd.modifyWorkflowPropertiesCommandAttributes?.upsertedMemo ?? {};
  engine.append(run, EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED, {
    workflowTaskCompletedEventId: ctx.completedEventId,
    upsertedMemo: memo,
  });
  const merged = { ...(s.memo?.fields ?? {}) };
  for (const [k, v] of Object.entries(memo.fields ?? {})) {
    if (!v?.data || v.data.length === 0) delete merged[k];
    else merged[k] = v;
  }
  s.memo = { fields: merged };
};

const startChild: Apply = (engine, run, cmd, ctx) => {
  const s = run.state;
  const a = cmd.startChildWorkflowExecutionCommandAttributes!;
  const namespace = a.namespace || s.namespace;
  const ev = engine.append(run, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, {
    namespace,
    namespaceId: engine.namespaces.get(namespace)?.id,
    workflowId: a.workflowId,
    workflowType: a.workflowType,
    taskQueue: { name: a.taskQueue?.name || s.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    input: a.input ?? undefined,
    workflowExecutionTimeout: a.workflowExecutionTimeout ?? undefined,
    workflowRunTimeout: a.workflowRunTimeout ?? undefined,
    workflowTaskTimeout: a.workflowTaskTimeout ?? undefined,
    parentClosePolicy: a.parentClosePolicy || enums.ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
    control: a.control || undefined,
    workflowTaskCompletedEventId: ctx.completedEventId,
    workflowIdReusePolicy: a.workflowIdReusePolicy || undefined,
    retryPolicy: a.retryPolicy ?? undefined,
    cronSchedule: a.cronSchedule || undefined,
    header: a.header ?? undefined,
    memo: a.memo ?? undefined,
    searchAttributes: typedSearchAttributes(engine, namespace, a.searchAttributes),
    priority: a.priority ?? undefined,
  });
  s.children[String(ev.eventId)] = {
    initiatedEventId: Number(ev.eventId),
    startedEventId: 0,
    namespace,
    workflowId: a.workflowId!,
    runId: '',
    workflowType: a.workflowType!.name!,
    parentClosePolicy: Number(a.parentClosePolicy || enums.ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE),
  };
};

const signalExternal: Apply = (engine, run, cmd, ctx) => {
  const s = run.state;
  const a = cmd.signalExternalWorkflowExecutionCommandAttributes!;
  const namespace = a.namespace || s.namespace;
  const ev = engine.append(run, EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, {
    namespace,
    namespaceId: engine.namespaces.get(namespace)?.id,
    workflowExecution: a.execution,
    signalName: a.signalName,
    input: a.input ?? undefined,
    control: a.control || undefined,
    childWorkflowOnly: a.childWorkflowOnly || undefined,
    header: a.header ?? undefined,
    workflowTaskCompletedEventId: ctx.completedEventId,
  });
  s.external[String(ev.eventId)] = {
    initiatedEventId: Number(ev.eventId),
    kind: 'signal',
    namespace,
    workflowId: a.execution!.workflowId!,
    runId: a.execution!.runId ?? '',
    childWorkflowOnly: Boolean(a.childWorkflowOnly),
    control: a.control ?? '',
    signalName: a.signalName!,
    input: a.input ?? undefined,
    header: a.header ?? undefined,
  };
};

const cancelExternal: Apply = (engine, run, cmd, ctx) => {
  const s = run.state;
  const a = cmd.requestCancelExternalWorkflowExecutionCommandAttributes!;
  const namespace = a.namespace || s.namespace;
  const ev = engine.append(run, EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, {
    namespace,
    namespaceId: engine.namespaces.get(namespace)?.id,
    workflowExecution: { workflowId: a.workflowId, runId: a.runId || undefined },
    control: a.control || undefined,
    childWorkflowOnly: a.childWorkflowOnly || undefined,
    reason: a.reason || undefined,
    workflowTaskCompletedEventId: ctx.completedEventId,
  });
  s.external[String(ev.eventId)] = {
    initiatedEventId: Number(ev.eventId),
    kind: 'cancel',
    namespace,
    workflowId: a.workflowId!,
    runId: a.runId ?? '',
    childWorkflowOnly: Boolean(a.childWorkflowOnly),
    control: a.control ?? '',
    reason: a.reason ?? '',
  };
};

/** How each command that leaves the run open is applied. */
const APPLY = new Map<number, Apply>([
  [CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, scheduleActivity],
  [CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK, requestCancelActivity],
  [CommandType.COMMAND_TYPE_START_TIMER, startTimer],
  [CommandType.COMMAND_TYPE_CANCEL_TIMER, cancelTimer],
  [CommandType.COMMAND_TYPE_RECORD_MARKER, recordMarker],
  [CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, upsertSearchAttributes],
  [CommandType.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES, modifyProperties],
  [CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION, startChild],
  [CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION, signalExternal],
  [CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION, cancelExternal],
]);

/** Applies one validated command (protocol message commands are applied by the caller, with their message). */
export function applyCommand(engine: Engine, run: RunRecord, cmd: Command, ctx: CommandContext): void {
  const type = Number(cmd.commandType);
  if (isCloseCommand(type)) {
    ctx.closed = true;
    applyCloseCommand(engine, run, cmd, ctx.completedEventId);
    return;
  }
  APPLY.get(type)?.(engine, run, cmd, ctx);
}
