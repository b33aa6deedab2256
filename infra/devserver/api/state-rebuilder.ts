/**
 * Rebuilding a run's mutable state from a prefix of its history, as Temporal's state rebuilder replays events for a
 * reset: what was pending after the last replayed event (the workflow task, activities, timers, children, requests to
 * other workflows, updates) and what the events changed (memo, search attributes, signal count, cancel request,
 * reset points). Identity fields the history does not carry are taken from the base run.
 */
import type { Engine, StoredEvent } from '../engine';
import {
  EventType,
  WorkflowExecutionStatus,
  durationToMs,
  timestampToMs,
  type Duration,
  type HistoryEvent,
  type Memo,
  type RetryPolicy,
  type SearchAttributes,
} from '../proto';
import { withActivityDefaults } from '../retry';
import { freshRunBookkeeping, scheduledActivityState, type ActivityState, type RunState } from '../state';
import { MAX_RESET_POINTS, resetPointsFromProto } from './reset-points';

/** A run rebuilt from events: its state and the started events of its activities still pending. */
export interface RebuiltRun {
  state: RunState;
  /** Scheduled event id → started event id, for activities whose start (but not their close) was replayed. */
  startedActivities: Map<number, number>;
}

type Attrs = Record<string, unknown>;

/** A string attribute of an event, or `fallback`. */
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

type Payload = NonNullable<SearchAttributes['indexedFields']>[string];

const isEmptyPayload = (v: Payload | null | undefined): boolean =>
  !v?.data || v.data.length === 0 || Buffer.from(v.data).toString() === 'null';

/**
 * Replays `events` (a prefix of `base`'s history, from its WorkflowExecutionStarted event) into the state of a new run
 * `runId` of the same workflow, started now.
 */
export function rebuildRunState(
  engine: Engine,
  base: RunState,
  events: readonly StoredEvent[],
  runId: string,
): RebuiltRun {
  const now = engine.now();
  const s: RunState = {
    namespace: base.namespace,
    workflowId: base.workflowId,
    runId,
    firstRunId: base.firstRunId,
    workflowType: base.workflowType,
    taskQueue: base.taskQueue,
    status: WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
    startTime: now,
    executionTime: now,
    closeTime: 0,
    attempt: base.attempt,
    workflowTaskTimeoutMs: base.workflowTaskTimeoutMs,
    runTimeoutMs: base.runTimeoutMs,
    executionTimeoutMs: base.executionTimeoutMs,
    executionExpirationTime: base.executionExpirationTime,
    retryPolicy: base.retryPolicy,
    cronSchedule: base.cronSchedule,
    header: base.header,
    requestIds: [],
    parent: base.parent,
    rootWorkflowId: base.rootWorkflowId,
    rootRunId: base.rootRunId,
    ...freshRunBookkeeping(),
  };
  const startedActivities = new Map<number, number>();
  for (const stored of events) {
    applyEvent(engine, s, stored.event, startedActivities);
    s.nextEventId = Number(stored.event.eventId) + 1;
    s.historySizeBytes += stored.bytes.length;
  }
  return { state: s, startedActivities };
}

function applyEvent(engine: Engine, s: RunState, event: HistoryEvent, started: Map<number, number>): void {
  const a = engine.attributes<Attrs>(event);
  const id = Number(event.eventId);
  const time = timestampToMs(event.eventTime);
  const E = EventType;
  switch (Number(event.eventType)) {
    case E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      s.memo = (a['memo'] as Memo | undefined) ?? undefined;
      s.searchAttributes = (a['searchAttributes'] as SearchAttributes | undefined) ?? undefined;
      s.autoResetPoints = resetPointsFromProto(a['prevAutoResetPoints']);
      return;
    case E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
      s.wft = {
        seq: ++s.taskSeq,
        attempt: Number(a['attempt'] ?? 1),
        kind: 'normal',
        scheduledEventId: id,
        startedEventId: 0,
        scheduledTime: time,
        startedTime: 0,
        notBefore: 0,
        identity: '',
        requestId: '',
        synthesized: [],
        deliveredUpdates: [],
      };
      return;
    case E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
      if (s.wft) {
        s.wft.startedEventId = id;
        s.wft.startedTime = time;
        s.wft.identity = str(a['identity']);
        s.wft.requestId = str(a['requestId']);
      }
      return;
    case E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
      s.lastCompletedWftStartedEventId = Number(a['startedEventId']);
      s.wft = undefined;
      addReplayedResetPoint(s, a, id, time);
      return;
    case E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
    case E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
      s.wft = undefined;
      return;
    case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
      s.activities[String(id)] = scheduledActivity(a, id, engine.now());
      return;
    case E.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
      const activity = s.activities[String(a['scheduledEventId'])];
      if (!activity) return;
      activity.attempt = Number(a['attempt'] ?? activity.attempt);
      activity.startedTime = time;
      activity.startedIdentity = str(a['identity']);
      activity.startedRequestId = str(a['requestId']);
      started.set(activity.scheduledEventId, id);
      return;
    }
    case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
    case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
    case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
    case E.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
      delete s.activities[String(a['scheduledEventId'])];
      started.delete(Number(a['scheduledEventId']));
      return;
    case E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED: {
      const activity = s.activities[String(a['scheduledEventId'])];
      if (activity) {
        activity.cancelRequested = true;
        activity.cancelRequestedEventId = id;
      }
      return;
    }
    case E.EVENT_TYPE_TIMER_STARTED:
      s.timers[String(a['timerId'])] = {
        startedEventId: id,
        fireAt: time + durationToMs(a['startToFireTimeout'] as Duration | undefined),
      };
      return;
    case E.EVENT_TYPE_TIMER_FIRED:
    case E.EVENT_TYPE_TIMER_CANCELED:
      delete s.timers[String(a['timerId'])];
      return;
    case E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
      s.children[String(id)] = {
        initiatedEventId: id,
        startedEventId: 0,
        namespace: str(a['namespace'], s.namespace),
        workflowId: str(a['workflowId']),
        runId: '',
        workflowType: String((a['workflowType'] as { name?: string } | undefined)?.name ?? ''),
        parentClosePolicy: Number(a['parentClosePolicy'] ?? 0),
      };
      return;
    case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
      const child = s.children[String(a['initiatedEventId'])];
      if (child) {
        child.startedEventId = id;
        child.runId = String((a['workflowExecution'] as { runId?: string } | undefined)?.runId ?? '');
      }
      return;
    }
    case E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
    case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
    case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
    case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
    case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
    case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
      delete s.children[String(a['initiatedEventId'])];
      return;
    case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: {
      const target = (a['workflowExecution'] ?? {}) as { workflowId?: string; runId?: string };
      s.external[String(id)] = {
        initiatedEventId: id,
        kind: 'signal',
        namespace: str(a['namespace'], s.namespace),
        workflowId: target.workflowId ?? '',
        runId: target.runId ?? '',
        childWorkflowOnly: Boolean(a['childWorkflowOnly']),
        control: str(a['control']),
        signalName: str(a['signalName']),
        input: (a['input'] as RunState['external'][string]['input']) ?? undefined,
        header: (a['header'] as RunState['external'][string]['header']) ?? undefined,
      };
      return;
    }
    case E.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: {
      const target = (a['workflowExecution'] ?? {}) as { workflowId?: string; runId?: string };
      s.external[String(id)] = {
        initiatedEventId: id,
        kind: 'cancel',
        namespace: str(a['namespace'], s.namespace),
        workflowId: target.workflowId ?? '',
        runId: target.runId ?? '',
        childWorkflowOnly: Boolean(a['childWorkflowOnly']),
        control: str(a['control']),
        reason: str(a['reason']),
      };
      return;
    }
    case E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
    case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
    case E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
    case E.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
      delete s.external[String(a['initiatedEventId'])];
      return;
    case E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      s.signalCount++;
      return;
    case E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
      s.cancelRequested = true;
      return;
    case E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
      const fields = (a['searchAttributes'] as SearchAttributes | undefined)?.indexedFields ?? {};
      const merged = { ...(s.searchAttributes?.indexedFields ?? {}) };
      for (const [k, v] of Object.entries(fields)) {
        if (isEmptyPayload(v)) delete merged[k];
        else merged[k] = v;
      }
      s.searchAttributes = { indexedFields: merged };
      return;
    }
    case E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: {
      const fields = (a['upsertedMemo'] as Memo | undefined)?.fields ?? {};
      const merged = { ...(s.memo?.fields ?? {}) };
      for (const [k, v] of Object.entries(fields)) {
        if (!v?.data || v.data.length === 0) delete merged[k];
        else merged[k] = v;
      }
      s.memo = { fields: merged };
      return;
    }
    case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED: {
      const request = (a['request'] ?? {}) as { meta?: { updateId?: string } };
      const updateId = request.meta?.updateId ?? '';
      s.updates[updateId] = {
        updateId,
        stage: 'admitted',
        request: request,
        acceptedEventId: 0,
        deliveredSeq: 0,
        admittedEventId: id,
      };
      return;
    }
    case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
      const updateId = str(a['protocolInstanceId']);
      const known = s.updates[updateId];
      s.updates[updateId] = {
        updateId,
        stage: 'accepted',
        request: (a['acceptedRequest'] as Attrs | undefined) ?? known?.request ?? {},
        acceptedEventId: id,
        deliveredSeq: known?.deliveredSeq ?? 0,
        ...(known?.admittedEventId ? { admittedEventId: known.admittedEventId } : {}),
      };
      return;
    }
    case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
      const updateId = String((a['meta'] as { updateId?: string } | undefined)?.updateId ?? '');
      const known = s.updates[updateId];
      if (known) {
        known.stage = 'completed';
        known.outcome = (a['outcome'] as Attrs | undefined) ?? {};
      }
      return;
    }
    default:
      return; // markers and the like change nothing pending
  }
}

/** The pending activity an ActivityTaskScheduled event leaves, scheduled anew now (as Temporal's reset does). */
function scheduledActivity(a: Attrs, scheduledEventId: number, now: number): ActivityState {
  const ms = (key: string): number => durationToMs(a[key] as Duration | undefined);
  return scheduledActivityState(
    {
      scheduledEventId,
      activityId: str(a['activityId']),
      activityType: String((a['activityType'] as { name?: string } | undefined)?.name ?? ''),
      taskQueue: String((a['taskQueue'] as { name?: string } | undefined)?.name ?? ''),
      scheduleToCloseMs: ms('scheduleToCloseTimeout'),
      scheduleToStartMs: ms('scheduleToStartTimeout'),
      startToCloseMs: ms('startToCloseTimeout'),
      heartbeatMs: ms('heartbeatTimeout'),
      retryPolicy: withActivityDefaults(a['retryPolicy'] as RetryPolicy | undefined),
    },
    now,
  );
}

/** The reset point a replayed workflow task completion adds (its run is the rebuilt one, as in Temporal). */
function addReplayedResetPoint(s: RunState, a: Attrs, completedEventId: number, time: number): void {
  const binaryChecksum = str(a['binaryChecksum']);
  const buildId = String((a['workerVersion'] as { buildId?: string } | undefined)?.buildId ?? '');
  const points = s.autoResetPoints ?? [];
  if (points.some((p) => p.binaryChecksum === binaryChecksum && p.buildId === buildId)) return;
  s.autoResetPoints = [
    ...points,
    {
      buildId,
      binaryChecksum,
      runId: s.runId,
      firstWorkflowTaskCompletedId: completedEventId,
      createTime: time,
      expireTime: 0,
      resettable: Object.keys(s.children).length === 0 && Object.keys(s.external).length === 0,
    },
  ].slice(-MAX_RESET_POINTS);
}
