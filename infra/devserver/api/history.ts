/**
 * Reading executions: GetWorkflowExecutionHistory (paging, long-poll for new events, close-event filter), the
 * reverse variant, and DescribeWorkflowExecution with pending activities and children.
 */
import { RawResponse, waitForRun, type Engine, type RunRecord } from '../engine';
import { invalidArgument } from '../errors';
import { protoRoot, enums, msToDuration, msToTimestamp, temporal } from '../proto';
import type { Loose } from '../proto';
import { typedSearchAttributes } from '../visibility/search-attributes';
import { appendField, encodeHistory } from './history-bytes';
import { resetPointsProto } from './reset-points';

const HistoryResponse = temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse;
const HISTORY_FIELD = protoRoot.lookupType('temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse')
  .fields['history']!.id;
const ReverseResponse = temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryReverseResponse;
const REVERSE_HISTORY_FIELD = protoRoot.lookupType(
  'temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryReverseResponse',
).fields['history']!.id;
const DEFAULT_PAGE_SIZE = 1000;
const LONG_POLL_MS = 20_000;

interface PageToken {
  runId: string;
  nextEventId: number;
}

function decodePageToken(bytes: Uint8Array | null | undefined): PageToken | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const t = JSON.parse(Buffer.from(bytes).toString()) as PageToken;
    if (typeof t.runId !== 'string' || typeof t.nextEventId !== 'number') throw new Error('bad');
    return t;
  } catch {
    throw invalidArgument('Invalid NextPageToken.');
  }
}

const encodePageToken = (t: PageToken): Buffer => Buffer.from(JSON.stringify(t));

/** Waits until the run has an event with id >= `eventId`, or closes, or the long poll ends. */
function waitForEvent(run: RunRecord, eventId: number, signal: AbortSignal, closeOnly: boolean): Promise<void> {
  return waitForRun(run, () => !run.isOpen || (!closeOnly && run.persistedEvents >= eventId), signal, LONG_POLL_MS);
}

/** GetWorkflowExecutionHistory. */
export async function getWorkflowExecutionHistory(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryRequest>,
  signal: AbortSignal,
): Promise<RawResponse | object> {
  const ns = engine.namespace(req.namespace).name;
  const token = decodePageToken(req.nextPageToken);
  const run = engine.getRun(ns, req.execution?.workflowId, token?.runId || req.execution?.runId);
  const closeOnly =
    Number(req.historyEventFilterType) === enums.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
  const pageSize = Number(req.maximumPageSize) > 0 ? Number(req.maximumPageSize) : DEFAULT_PAGE_SIZE;
  let from = token?.nextEventId ?? 1;
  if (req.waitNewEvent) {
    await waitForEvent(run, from, signal, closeOnly);
  }
  if (closeOnly) {
    if (run.isOpen) {
      // Long poll ended with the run still open: an empty page with a token to keep waiting.
      return { history: { events: [] }, nextPageToken: encodePageToken({ runId: run.state.runId, nextEventId: from }) };
    }
    const close = run.history[run.state.closeEventId - 1];
    return new RawResponse(
      appendField(HistoryResponse.encode({}).finish(), HISTORY_FIELD, encodeHistory(close ? [close] : [])),
    );
  }
  const available = run.history.slice(0, run.persistedEvents);
  if (from > available.length + 1) from = available.length + 1;
  const page = available.slice(from - 1, from - 1 + pageSize);
  const next = from + page.length;
  const more = next <= available.length || (req.waitNewEvent && run.isOpen);
  const head = HistoryResponse.encode(
    HistoryResponse.fromObject({
      nextPageToken: more ? encodePageToken({ runId: run.state.runId, nextEventId: next }) : undefined,
    }),
  ).finish();
  return new RawResponse(appendField(head, HISTORY_FIELD, encodeHistory(page)));
}

/** GetWorkflowExecutionHistoryReverse. */
export function getWorkflowExecutionHistoryReverse(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryReverseRequest>,
): RawResponse {
  const ns = engine.namespace(req.namespace).name;
  const token = decodePageToken(req.nextPageToken);
  const run = engine.getRun(ns, req.execution?.workflowId, token?.runId || req.execution?.runId);
  const pageSize = Number(req.maximumPageSize) > 0 ? Number(req.maximumPageSize) : DEFAULT_PAGE_SIZE;
  const available = run.history.slice(0, run.persistedEvents);
  const last = token ? token.nextEventId : available.length;
  const first = Math.max(1, last - pageSize + 1);
  const page = available.slice(first - 1, last).reverse();
  const head = ReverseResponse.encode(
    ReverseResponse.fromObject({
      nextPageToken: first > 1 ? encodePageToken({ runId: run.state.runId, nextEventId: first - 1 }) : undefined,
    }),
  ).finish();
  return new RawResponse(appendField(head, REVERSE_HISTORY_FIELD, encodeHistory(page)));
}

/** The `WorkflowExecutionInfo` of a run (describe and listing), search attributes typed as Temporal returns them. */
export function executionInfo(engine: Engine, run: RunRecord): object {
  const s = run.state;
  return {
    execution: { workflowId: s.workflowId, runId: s.runId },
    type: { name: s.workflowType },
    startTime: msToTimestamp(s.startTime),
    closeTime: s.closeTime ? msToTimestamp(s.closeTime) : undefined,
    status: s.status,
    historyLength: run.persistedEvents,
    parentNamespaceId: s.parent ? engine.namespaces.get(s.parent.namespace)?.id : undefined,
    parentExecution: s.parent ? { workflowId: s.parent.workflowId, runId: s.parent.runId } : undefined,
    executionTime: msToTimestamp(s.executionTime),
    memo: s.memo ?? { fields: {} },
    searchAttributes: typedSearchAttributes(engine, s.namespace, s.searchAttributes) ?? { indexedFields: {} },
    taskQueue: s.taskQueue,
    stateTransitionCount: s.stateTransitionCount,
    historySizeBytes: s.historySizeBytes,
    executionDuration: s.closeTime ? msToDuration(s.closeTime - s.executionTime) : undefined,
    rootExecution: { workflowId: s.rootWorkflowId, runId: s.rootRunId },
    firstRunId: s.firstRunId,
    autoResetPoints: resetPointsProto(s.autoResetPoints),
  };
}

/** DescribeWorkflowExecution. */
export function describeWorkflowExecution(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IDescribeWorkflowExecutionRequest>,
): object {
  const ns = engine.namespace(req.namespace).name;
  const run = engine.getRun(ns, req.execution?.workflowId, req.execution?.runId);
  const s = run.state;
  const A = enums.PendingActivityState;
  return {
    executionConfig: {
      taskQueue: { name: s.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      workflowExecutionTimeout: msToDuration(s.executionTimeoutMs),
      workflowRunTimeout: msToDuration(s.runTimeoutMs),
      defaultWorkflowTaskTimeout: msToDuration(s.workflowTaskTimeoutMs),
    },
    workflowExecutionInfo: executionInfo(engine, run),
    pendingActivities: Object.values(s.activities).map((a) => ({
      activityId: a.activityId,
      activityType: { name: a.activityType },
      state: a.cancelRequested
        ? A.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
        : a.startedTime
          ? A.PENDING_ACTIVITY_STATE_STARTED
          : A.PENDING_ACTIVITY_STATE_SCHEDULED,
      heartbeatDetails: a.heartbeatDetails,
      lastHeartbeatTime: a.lastHeartbeatTime ? msToTimestamp(a.lastHeartbeatTime) : undefined,
      lastStartedTime: a.startedTime ? msToTimestamp(a.startedTime) : undefined,
      attempt: a.attempt,
      maximumAttempts: Number(a.retryPolicy.maximumAttempts ?? 0),
      scheduledTime: msToTimestamp(a.currentAttemptScheduledTime),
      expirationTime: a.scheduleToCloseMs ? msToTimestamp(a.scheduledTime + a.scheduleToCloseMs) : undefined,
      lastFailure: a.lastFailure,
      lastWorkerIdentity: a.startedIdentity || a.lastWorkerIdentity,
      currentRetryInterval: undefined,
    })),
    pendingChildren: Object.values(s.children).map((c) => ({
      workflowId: c.workflowId,
      runId: c.runId,
      workflowTypeName: c.workflowType,
      initiatedId: c.initiatedEventId,
      parentClosePolicy: c.parentClosePolicy,
    })),
    pendingWorkflowTask: s.wft
      ? {
          state: s.wft.startedEventId ? 2 : 1,
          scheduledTime: msToTimestamp(s.wft.scheduledTime),
          startedTime: s.wft.startedTime ? msToTimestamp(s.wft.startedTime) : undefined,
          attempt: s.wft.attempt,
        }
      : undefined,
    workflowExtendedInfo: {
      executionExpirationTime: s.executionExpirationTime ? msToTimestamp(s.executionExpirationTime) : undefined,
      runExpirationTime: s.runTimeoutMs ? msToTimestamp(s.executionTime + s.runTimeoutMs) : undefined,
      cancelRequested: s.cancelRequested,
      originalStartTime: msToTimestamp(s.originalStartTime ?? s.startTime),
      lastResetTime: s.lastResetTime ? msToTimestamp(s.lastResetTime) : undefined,
      resetRunId: s.resetRunId || undefined,
    },
  };
}
