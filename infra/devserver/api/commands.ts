/**
 * Workflow commands → history events. Commands are validated as a whole before any is applied, so a bad command
 * fails the workflow task (with Temporal's cause) without leaving half of the completion in history.
 */
import type { Engine, RunRecord } from '../engine';
import {
  CommandType,
  EventType,
  RetryState,
  WorkflowExecutionStatus,
  WorkflowTaskFailedCause as Cause,
  durationToMs,
  enums,
  type Command,
  type ProtocolMessage,
} from '../proto';
import { decideRetry, withActivityDefaults } from '../retry';
import type { ActivityState } from '../state';
import { createRun } from './start';
import { validateId, MAX_PAYLOAD_BYTES, payloadsSize } from './validate';
import { cancelActivityByCommand, enqueueActivity } from './activity';
import { searchAttributesProblem } from '../visibility/search-attributes';
import { randomUUID } from 'node:crypto';

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

/** A validation failure: the task fails with this cause. */
export interface InvalidCommand {
  cause: number;
  message: string;
}

/** Activity timeouts derived as Temporal does from whichever the workflow set. */
export function deriveActivityTimeouts(
  a: {
    scheduleToCloseTimeout?: unknown;
    scheduleToStartTimeout?: unknown;
    startToCloseTimeout?: unknown;
    heartbeatTimeout?: unknown;
  },
  runTimeoutMs: number,
): { scheduleToClose: number; scheduleToStart: number; startToClose: number; heartbeat: number } | string {
  const d = (x: unknown): number => durationToMs(x as never);
  let scheduleToClose = d(a.scheduleToCloseTimeout);
  let scheduleToStart = d(a.scheduleToStartTimeout);
  let startToClose = d(a.startToCloseTimeout);
  let heartbeat = d(a.heartbeatTimeout);
  if (scheduleToClose < 0 || scheduleToStart < 0 || startToClose < 0 || heartbeat < 0) {
    return 'A valid timeout may not be negative on ScheduleActivityTaskCommand.';
  }
  if (scheduleToClose > 0) {
    if (runTimeoutMs > 0) scheduleToClose = Math.min(scheduleToClose, runTimeoutMs);
    scheduleToStart = scheduleToStart > 0 ? Math.min(scheduleToStart, scheduleToClose) : scheduleToClose;
    startToClose = startToClose > 0 ? Math.min(startToClose, scheduleToClose) : scheduleToClose;
  } else if (startToClose > 0) {
    scheduleToClose = runTimeoutMs;
    if (scheduleToStart === 0) scheduleToStart = runTimeoutMs;
  } else {
    return 'A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand.';
  }
  if (heartbeat > startToClose) heartbeat = startToClose;
  return { scheduleToClose, scheduleToStart, startToClose, heartbeat };
}

const pendingCount = (o: Record<string, unknown>): number => Object.keys(o).length;

/** Validates every command of a completion; returns the first problem. */
export function validateCommands(
  engine: Engine,
  run: RunRecord,
  commands: Command[],
  messages: ProtocolMessage[],
): InvalidCommand | undefined {
  const s = run.state;
  const timerIds = new Set(Object.keys(s.timers));
  const activityIds = new Set(Object.values(s.activities).map((a) => a.activityId));
  let newActivities = 0;
  let newChildren = 0;
  let newSignals = 0;
  for (const [index, cmd] of commands.entries()) {
    const where = `command ${index + 1} (${CommandType[Number(cmd.commandType)] ?? cmd.commandType})`;
    switch (Number(cmd.commandType)) {
      case CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: {
        const a = cmd.scheduleActivityTaskCommandAttributes;
        if (!a)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            message: `${where}: ScheduleActivityTaskCommandAttributes is not set.`,
          };
        if (!a.activityId)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            message: `${where}: ActivityId is not set.`,
          };
        if (!a.activityType?.name)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            message: `${where}: ActivityType is not set.`,
          };
        if (activityIds.has(a.activityId))
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            message: `${where}: ActivityId ${a.activityId} is already in use by a pending activity.`,
          };
        activityIds.add(a.activityId);
        const t = deriveActivityTimeouts(a, s.runTimeoutMs);
        if (typeof t === 'string')
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            message: `${where}: ${t}`,
          };
        if (payloadsSize(a.input) > MAX_PAYLOAD_BYTES)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
            message: `${where}: Input blob data size exceeds limit.`,
          };
        newActivities++;
        if (pendingCount(s.activities) + newActivities > engine.limits.maxPending) {
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
            message: `the number of pending activities exceeds the limit of ${engine.limits.maxPending}`,
          };
        }
        break;
      }
      case CommandType.COMMAND_TYPE_START_TIMER: {
        const a = cmd.startTimerCommandAttributes;
        if (!a?.timerId)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
            message: `${where}: TimerId is not set.`,
          };
        if (timerIds.has(a.timerId))
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_START_TIMER_DUPLICATE_ID,
            message: `${where}: TimerId ${a.timerId} is already in use.`,
          };
        if (durationToMs(a.startToFireTimeout) <= 0)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
            message: `${where}: StartToFireTimeout must be positive.`,
          };
        timerIds.add(a.timerId);
        break;
      }
      case CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: {
        const a = cmd.startChildWorkflowExecutionCommandAttributes;
        try {
          validateId('WorkflowId', a?.workflowId);
        } catch (err) {
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
            message: `${where}: ${(err as Error).message}`,
          };
        }
        if (!a?.workflowType?.name)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
            message: `${where}: WorkflowType is not set.`,
          };
        if (a.namespace && a.namespace !== s.namespace && !engine.namespaces.has(a.namespace)) {
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
            message: `${where}: Namespace ${a.namespace} is not found.`,
          };
        }
        newChildren++;
        if (pendingCount(s.children) + newChildren > engine.limits.maxPending) {
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED,
            message: `the number of pending child workflows exceeds the limit of ${engine.limits.maxPending}`,
          };
        }
        break;
      }
      case CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: {
        const a = cmd.signalExternalWorkflowExecutionCommandAttributes;
        if (!a?.execution?.workflowId)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            message: `${where}: Execution.WorkflowId is not set.`,
          };
        if (!a.signalName)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            message: `${where}: SignalName is not set.`,
          };
        newSignals++;
        if (
          Object.values(s.external).filter((e) => e.kind === 'signal').length + newSignals >
          engine.limits.maxPending
        ) {
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED,
            message: `the number of pending signals exceeds the limit of ${engine.limits.maxPending}`,
          };
        }
        break;
      }
      case CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: {
        const a = cmd.requestCancelExternalWorkflowExecutionCommandAttributes;
        if (!a?.workflowId)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
            message: `${where}: WorkflowId is not set.`,
          };
        break;
      }
      case CommandType.COMMAND_TYPE_RECORD_MARKER:
        if (!cmd.recordMarkerCommandAttributes?.markerName)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
            message: `${where}: MarkerName is not set.`,
          };
        break;
      case CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        if (!cmd.continueAsNewWorkflowExecutionCommandAttributes)
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
            message: `${where}: ContinueAsNewWorkflowExecutionCommandAttributes is not set.`,
          };
        break;
      case CommandType.COMMAND_TYPE_PROTOCOL_MESSAGE: {
        const id = cmd.protocolMessageCommandAttributes?.messageId;
        if (!messages.some((m) => m.id === id)) {
          return {
            cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
            message: `${where}: no message with id ${id ?? ''} in the completion.`,
          };
        }
        break;
      }
      case CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
      case CommandType.COMMAND_TYPE_CANCEL_TIMER:
      case CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
      case CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
      case CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
      case CommandType.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES:
        break;
      case CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const sa = cmd.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes;
        const problem = searchAttributesProblem(engine, s.namespace, sa);
        if (problem)
          return { cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES, message: `${where}: ${problem}` };
        break;
      }
      default:
        return {
          cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED,
          message: `${where}: the mloe dev server does not support this command yet.`,
        };
    }
  }
  return undefined;
}

/** Applies one (validated) command. */
export function applyCommand(engine: Engine, run: RunRecord, cmd: Command, ctx: CommandContext): void {
  const s = run.state;
  const wftId = ctx.completedEventId;
  switch (Number(cmd.commandType)) {
    case CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: {
      const a = cmd.scheduleActivityTaskCommandAttributes!;
      const t = deriveActivityTimeouts(a, s.runTimeoutMs) as Exclude<ReturnType<typeof deriveActivityTimeouts>, string>;
      const retryPolicy = withActivityDefaults(a.retryPolicy);
      const taskQueue = a.taskQueue?.name || s.taskQueue;
      const ev = engine.append(run, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, {
        activityId: a.activityId,
        activityType: a.activityType,
        taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        header: a.header ?? undefined,
        input: a.input ?? undefined,
        scheduleToCloseTimeout: {
          seconds: Math.floor(t.scheduleToClose / 1000),
          nanos: (t.scheduleToClose % 1000) * 1e6,
        },
        scheduleToStartTimeout: {
          seconds: Math.floor(t.scheduleToStart / 1000),
          nanos: (t.scheduleToStart % 1000) * 1e6,
        },
        startToCloseTimeout: { seconds: Math.floor(t.startToClose / 1000), nanos: (t.startToClose % 1000) * 1e6 },
        heartbeatTimeout: { seconds: Math.floor(t.heartbeat / 1000), nanos: (t.heartbeat % 1000) * 1e6 },
        workflowTaskCompletedEventId: wftId,
        retryPolicy,
        useWorkflowBuildId: a.useWorkflowBuildId || undefined,
        priority: a.priority ?? undefined,
      });
      const now = engine.now();
      const activity: ActivityState = {
        scheduledEventId: Number(ev.eventId),
        activityId: a.activityId!,
        activityType: a.activityType!.name!,
        taskQueue,
        attempt: 1,
        seq: 0,
        scheduledTime: now,
        currentAttemptScheduledTime: now,
        startedTime: 0,
        startedIdentity: '',
        startedRequestId: '',
        backoffUntil: 0,
        scheduleToCloseMs: t.scheduleToClose,
        scheduleToStartMs: t.scheduleToStart,
        startToCloseMs: t.startToClose,
        heartbeatMs: t.heartbeat,
        retryPolicy,
        lastHeartbeatTime: 0,
        lastWorkerIdentity: '',
        cancelRequested: false,
        cancelRequestedEventId: 0,
      };
      s.activities[String(activity.scheduledEventId)] = activity;
      // Eager execution: the worker reserved a slot and gets the task in the completion response (no poll).
      if (a.requestEagerExecution && taskQueue === s.taskQueue && ctx.eagerActivities.length < MAX_EAGER_ACTIVITIES) {
        ctx.eagerActivities.push(activity);
      } else {
        enqueueActivity(engine, run, activity);
      }
      return;
    }
    case CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: {
      const id = Number(cmd.requestCancelActivityTaskCommandAttributes?.scheduledEventId ?? 0);
      if (cancelActivityByCommand(engine, run, id, wftId, ctx.identity)) ctx.forceNewTask = true;
      return;
    }
    case CommandType.COMMAND_TYPE_START_TIMER: {
      const a = cmd.startTimerCommandAttributes!;
      const ev = engine.append(run, EventType.EVENT_TYPE_TIMER_STARTED, {
        timerId: a.timerId,
        startToFireTimeout: a.startToFireTimeout,
        workflowTaskCompletedEventId: wftId,
      });
      s.timers[a.timerId!] = {
        startedEventId: Number(ev.eventId),
        fireAt: engine.now() + durationToMs(a.startToFireTimeout),
      };
      return;
    }
    case CommandType.COMMAND_TYPE_CANCEL_TIMER: {
      const timerId = cmd.cancelTimerCommandAttributes?.timerId ?? '';
      const timer = s.timers[timerId];
      if (!timer) return; // already fired (the fire event is buffered): Temporal ignores the cancel
      delete s.timers[timerId];
      engine.clearDeadline(run, `timer:${timerId}`);
      engine.append(run, EventType.EVENT_TYPE_TIMER_CANCELED, {
        timerId,
        startedEventId: timer.startedEventId,
        workflowTaskCompletedEventId: wftId,
        identity: ctx.identity,
      });
      return;
    }
    case CommandType.COMMAND_TYPE_RECORD_MARKER: {
      const a = cmd.recordMarkerCommandAttributes!;
      engine.append(run, EventType.EVENT_TYPE_MARKER_RECORDED, {
        markerName: a.markerName,
        details: a.details ?? undefined,
        workflowTaskCompletedEventId: wftId,
        header: a.header ?? undefined,
        failure: a.failure ?? undefined,
      });
      return;
    }
    case CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
      const fields = cmd.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes?.indexedFields ?? {};
      engine.append(run, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, {
        workflowTaskCompletedEventId: wftId,
        searchAttributes: { indexedFields: fields },
      });
      const merged = { ...(s.searchAttributes?.indexedFields ?? {}) };
      for (const [k, v] of Object.entries(fields)) {
        // An empty payload (data null/empty) removes the attribute, as in Temporal.
        if (!v?.data || v.data.length === 0 || Buffer.from(v.data).toString() === 'null') delete merged[k];
        else merged[k] = v;
      }
      s.searchAttributes = { indexedFields: merged };
      return;
    }
    case CommandType.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: {
      const memo = cmd.modifyWorkflowPropertiesCommandAttributes?.upsertedMemo ?? {};
      engine.append(run, EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED, {
        workflowTaskCompletedEventId: wftId,
        upsertedMemo: memo,
      });
      const merged = { ...(s.memo?.fields ?? {}) };
      for (const [k, v] of Object.entries(memo.fields ?? {})) {
        if (!v?.data || v.data.length === 0) delete merged[k];
        else merged[k] = v;
      }
      s.memo = { fields: merged };
      return;
    }
    case CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: {
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
        workflowTaskCompletedEventId: wftId,
        workflowIdReusePolicy: a.workflowIdReusePolicy || undefined,
        retryPolicy: a.retryPolicy ?? undefined,
        cronSchedule: a.cronSchedule || undefined,
        header: a.header ?? undefined,
        memo: a.memo ?? undefined,
        searchAttributes: a.searchAttributes ?? undefined,
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
      return;
    }
    case CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: {
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
        workflowTaskCompletedEventId: wftId,
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
      return;
    }
    case CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: {
      const a = cmd.requestCancelExternalWorkflowExecutionCommandAttributes!;
      const namespace = a.namespace || s.namespace;
      const ev = engine.append(run, EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, {
        namespace,
        namespaceId: engine.namespaces.get(namespace)?.id,
        workflowExecution: { workflowId: a.workflowId, runId: a.runId || undefined },
        control: a.control || undefined,
        childWorkflowOnly: a.childWorkflowOnly || undefined,
        reason: a.reason || undefined,
        workflowTaskCompletedEventId: wftId,
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
      return;
    }
    case CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: {
      const a = cmd.completeWorkflowExecutionCommandAttributes;
      ctx.closed = true;
      engine.closeRun(
        run,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        {
          result: a?.result ?? undefined,
          workflowTaskCompletedEventId: wftId,
        },
      );
      return;
    }
    case CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: {
      const failure = cmd.failWorkflowExecutionCommandAttributes?.failure ?? undefined;
      ctx.closed = true;
      const decision = decideRetry(s.retryPolicy, s.attempt, failure, engine.now(), s.executionExpirationTime);
      const next = decision.retry
        ? reserveContinuation({
            backoffMs: decision.backoffMs,
            initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
            attempt: s.attempt + 1,
            continuedFailure: failure,
          })
        : undefined;
      if (next) s.newExecutionRunId = next.runId;
      engine.closeRun(
        run,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        {
          failure,
          retryState: decision.state,
          workflowTaskCompletedEventId: wftId,
          newExecutionRunId: s.newExecutionRunId || undefined,
        },
      );
      if (next) startContinuation(engine, run, next);
      return;
    }
    case CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: {
      ctx.closed = true;
      engine.closeRun(
        run,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        {
          details: cmd.cancelWorkflowExecutionCommandAttributes?.details ?? undefined,
          workflowTaskCompletedEventId: wftId,
        },
      );
      return;
    }
    case CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: {
      const a = cmd.continueAsNewWorkflowExecutionCommandAttributes!;
      ctx.closed = true;
      const next = reserveContinuation({
        backoffMs: durationToMs(a.backoffStartInterval),
        initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
        attempt: 1,
        workflowType: a.workflowType?.name || s.workflowType,
        taskQueue: a.taskQueue?.name || s.taskQueue,
        input: a.input ?? undefined,
        runTimeoutMs: durationToMs(a.workflowRunTimeout) || s.runTimeoutMs,
        workflowTaskTimeoutMs: durationToMs(a.workflowTaskTimeout) || s.workflowTaskTimeoutMs,
        header: a.header ?? s.header,
        memo: a.memo ?? s.memo,
        searchAttributes: a.searchAttributes ?? s.searchAttributes,
        retryPolicy: a.retryPolicy ?? s.retryPolicy,
        lastCompletionResult: a.lastCompletionResult ?? undefined,
        continuedFailure: a.failure ?? undefined,
      });
      s.newExecutionRunId = next.runId;
      engine.closeRun(
        run,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        {
          newExecutionRunId: next.runId,
          workflowType: { name: a.workflowType?.name || s.workflowType },
          taskQueue: { name: a.taskQueue?.name || s.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          input: a.input ?? undefined,
          workflowRunTimeout: a.workflowRunTimeout ?? undefined,
          workflowTaskTimeout: a.workflowTaskTimeout ?? undefined,
          workflowTaskCompletedEventId: wftId,
          backoffStartInterval: a.backoffStartInterval ?? undefined,
          initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
          header: a.header ?? undefined,
          memo: a.memo ?? undefined,
          searchAttributes: a.searchAttributes ?? undefined,
        },
      );
      startContinuation(engine, run, next);
      return;
    }
    default:
      return;
  }
}

/** Parameters of the run that continues a chain (continue-as-new, retry, timeout retry). */
export interface ContinueParams {
  backoffMs: number;
  initiator: number;
  attempt: number;
  workflowType?: string;
  taskQueue?: string;
  input?: unknown;
  runTimeoutMs?: number;
  workflowTaskTimeoutMs?: number;
  header?: unknown;
  memo?: unknown;
  searchAttributes?: unknown;
  retryPolicy?: unknown;
  lastCompletionResult?: unknown;
  continuedFailure?: unknown;
}

/** The run that continues a chain: its id is chosen first, because the old run's close event names it. */
export interface Continuation {
  runId: string;
  params: ContinueParams;
}

/** Chooses the id of the run that will continue this chain; {@link startContinuation} creates it. */
export function reserveContinuation(params: ContinueParams): Continuation {
  return { runId: randomUUID(), params };
}

/** Creates the continuing run, once the old run's close event (which names it) is written. */
export function startContinuation(engine: Engine, run: RunRecord, next: Continuation): void {
  const s = run.state;
  const p = next.params;
  const input = (p.input ??
    (p.initiator === enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY
      ? startedInput(engine, run)
      : undefined)) as never;
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
    continuedFailure: p.continuedFailure as never,
    lastCompletionResult: p.lastCompletionResult as never,
    backoffMs: p.backoffMs,
    executionExpirationTime: s.executionExpirationTime,
  });
}

function startedInput(engine: Engine, run: RunRecord): unknown {
  const first = run.history[0]?.event;
  return first ? engine.attributes<{ input?: unknown }>(first).input : undefined;
}

/** The retry decision when a run times out (used by the run-timeout deadline). */
export function timeoutRetry(engine: Engine, run: RunRecord): { state: number; next?: Continuation } {
  const s = run.state;
  // As Temporal: an expired execution timeout is TIMEOUT; a run timeout asks the retry policy, so without one the
  // state is RETRY_POLICY_NOT_SET (and MAXIMUM_ATTEMPTS_REACHED etc. when retries are exhausted).
  if (s.executionExpirationTime && engine.now() >= s.executionExpirationTime) {
    return { state: RetryState.RETRY_STATE_TIMEOUT };
  }
  const d = decideRetry(s.retryPolicy, s.attempt, undefined, engine.now(), s.executionExpirationTime, true);
  if (!d.retry) return { state: d.state };
  const next = reserveContinuation({
    backoffMs: d.backoffMs,
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY,
    attempt: s.attempt + 1,
  });
  return { state: RetryState.RETRY_STATE_IN_PROGRESS, next };
}
