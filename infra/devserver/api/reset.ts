/**
 * ResetWorkflowExecution, as Temporal's history service resets a workflow (`resetworkflow` and `ndc/workflow_resetter`):
 * a new run is forked from the base run's history before the given workflow task finish event (its events copied, its
 * state rebuilt from them), the workflow task pending there fails with cause RESET_WORKFLOW (naming the base and the new
 * run), activities started there fail, the signals and updates the base run (and the runs it continued as new into)
 * received after that point are applied again as the reapply settings allow, and a new workflow task is scheduled.
 * The current run of the workflow id, if still running, is terminated by the resetter; the new run becomes current and
 * keeps the chain's first run id. The base run names the new one (`resetRunId` in describe). A repeated request id
 * answers with the run it created.
 */
import { randomUUID } from 'node:crypto';
import type { Engine, RunRecord, StoredEvent } from '../engine';
import { invalidArgument } from '../errors';
import {
  EventType,
  RetryState,
  WorkflowTaskFailedCause,
  enums,
  type Failure,
  type HistoryEvent,
  type Loose,
  type Payloads,
  type temporal,
} from '../proto';
import { enqueueActivity } from './activity';
import { terminateRun } from './cancel';
import { rebuildRunState } from './state-rebuilder';
import { MAX_ID_LENGTH } from './validate';

type ResetRequest = Loose<temporal.api.workflowservice.v1.IResetWorkflowExecutionRequest>;

/** Temporal's identities for what the history service writes itself, and for the resetter's terminations. */
const IDENTITY_HISTORY_SERVICE = 'history-service';
const IDENTITY_RESETTER = 'history-resetter';

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The event types a reset may apply again. */
type ReapplyKind = 'signal' | 'update';

/**
 * What the request excludes from reapplication: the deprecated `reset_reapply_type` (SIGNAL: signals only; NONE:
 * nothing; ALL_ELIGIBLE or unset: everything) plus `reset_reapply_exclude_types`, as Temporal combines them.
 */
function excludedKinds(req: ResetRequest): Set<ReapplyKind> {
  const T = enums.ResetReapplyType;
  const X = enums.ResetReapplyExcludeType;
  const type = Number(req.resetReapplyType ?? 0);
  const excluded = new Set<ReapplyKind>();
  switch (type) {
    case T.RESET_REAPPLY_TYPE_UNSPECIFIED:
    case T.RESET_REAPPLY_TYPE_ALL_ELIGIBLE:
      break;
    case T.RESET_REAPPLY_TYPE_SIGNAL:
      excluded.add('update');
      break;
    case T.RESET_REAPPLY_TYPE_NONE:
      excluded.add('signal').add('update');
      break;
    default:
      // Temporal's message; its frontend answers INTERNAL, which here is kept for server faults.
      throw invalidArgument(`unknown reset reapply type: ${type}`);
  }
  for (const x of req.resetReapplyExcludeTypes ?? []) {
    if (Number(x) === X.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL) excluded.add('signal');
    if (Number(x) === X.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE) excluded.add('update');
  }
  return excluded;
}

/** The failure a reset writes for the workflow task and the activities it cuts short. */
function resetFailure(reason: string, lastHeartbeatDetails?: Payloads): Failure {
  return { message: reason, resetWorkflowFailureInfo: { lastHeartbeatDetails } };
}

/**
 * The events to apply again on the new run: those after the reset point in the base run, then in every run the base
 * continued as new into, as Temporal walks them.
 */
function eventsToReapply(
  engine: Engine,
  base: RunRecord,
  finishEventId: number,
  excluded: Set<ReapplyKind>,
): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  let run: RunRecord | undefined = base;
  let from = finishEventId;
  while (run) {
    for (const { event } of run.history.slice(from - 1)) {
      const type = Number(event.eventType);
      if (type === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && !excluded.has('signal')) out.push(event);
      if (type === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED && !excluded.has('update')) out.push(event);
      // An accepted update is applied again only when it carries its request (it was not admitted in history first).
      if (
        type === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED &&
        !excluded.has('update') &&
        event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest
      ) {
        out.push(event);
      }
    }
    const last: HistoryEvent | undefined = run.history[run.history.length - 1]?.event;
    const next: string | null | undefined = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    run = next ? engine.findRun(run.state.namespace, run.state.workflowId, next) : undefined;
    from = 1;
  }
  return out;
}

/** Writes a reapplied signal or update on the new run. */
function reapply(engine: Engine, run: RunRecord, event: HistoryEvent): void {
  const s = run.state;
  const signal = event.workflowExecutionSignaledEventAttributes;
  if (signal) {
    s.signalCount++;
    engine.append(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, {
      signalName: signal.signalName,
      input: signal.input ?? undefined,
      identity: signal.identity ?? undefined,
      header: signal.header ?? undefined,
    });
    return;
  }
  const admitted = event.workflowExecutionUpdateAdmittedEventAttributes;
  const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
  const request = (admitted?.request ?? accepted?.acceptedRequest) as Record<string, unknown> | undefined;
  const updateId = (request?.['meta'] as { updateId?: string } | undefined)?.updateId;
  if (!request || !updateId) return;
  const ev = engine.append(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED, {
    request,
    origin: admitted
      ? (admitted.origin ?? undefined)
      : enums.UpdateAdmittedEventOrigin.UPDATE_ADMITTED_EVENT_ORIGIN_REAPPLY,
  });
  s.updates[updateId] = {
    updateId,
    stage: 'admitted',
    request,
    acceptedEventId: 0,
    deliveredSeq: 0,
    admittedEventId: Number(ev.eventId),
  };
}

/** Checks a reset request's fields as Temporal's frontend does. */
function validateResetRequest(req: ResetRequest): { workflowId: string; runId: string; requestId: string } {
  const requestId = req.requestId ?? '';
  if (!requestId) throw invalidArgument('RequestId is not set on request.');
  if (requestId.length > MAX_ID_LENGTH) throw invalidArgument('RequestId length exceeds limit.');
  const execution = req.workflowExecution;
  if (!execution) throw invalidArgument('Execution is not set on request.');
  if (!execution.workflowId) throw invalidArgument('WorkflowId is not set on request.');
  if (execution.runId && !RUN_ID.test(execution.runId)) throw invalidArgument('Invalid RunId.');
  return { workflowId: execution.workflowId, runId: execution.runId ?? '', requestId };
}

/** ResetWorkflowExecution. */
export function resetWorkflowExecution(engine: Engine, req: ResetRequest): object {
  const { workflowId, runId, requestId } = validateResetRequest(req);
  const excluded = excludedKinds(req);
  const ns = engine.namespace(req.namespace).name;
  const base = engine.getRun(ns, workflowId, runId || undefined);
  const finish = Number(req.workflowTaskFinishEventId ?? 0);
  if (finish <= 1 || finish >= base.state.nextEventId) {
    throw invalidArgument('Workflow task finish ID must be > 1 && <= workflow last event ID.');
  }
  const current = engine.currentRun(ns, workflowId) ?? base;
  // A retried request: the current run is the one it created (Temporal compares the current run's create request id).
  if (current.state.requestIds[0] === requestId) return { runId: current.state.runId };

  // Everything that can refuse the reset is checked before anything changes.
  const newRunId = randomUUID();
  const prefix: StoredEvent[] = base.history.slice(0, finish - 1);
  const { state, startedActivities } = rebuildRunState(engine, base.state, prefix, newRunId);
  if (Object.keys(state.children).length > 0) {
    throw invalidArgument('WorkflowResetter encountered pending child workflows.');
  }
  const wft = state.wft;
  if (!wft) {
    throw invalidArgument(
      `Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: ${finish}`,
    );
  }

  const reason = req.reason ?? '';
  const now = engine.now();
  if (current.isOpen) {
    // The workflow goes on in the new run: the parent is not told the terminated run closed, schedules keep waiting.
    current.state.newExecutionRunId = newRunId;
    terminateRun(engine, current, reason, undefined, IDENTITY_RESETTER);
  }
  base.state.resetRunId = newRunId;
  engine.markDirty(base);
  // Read after the termination, which writes the events buffered during a workflow task in flight.
  const reapplied = eventsToReapply(engine, base, finish, excluded);

  state.requestIds = [requestId];
  state.lastResetTime = now;
  state.originalStartTime = base.state.originalStartTime ?? base.state.startTime;
  if (state.executionTimeoutMs > 0) state.executionExpirationTime = now + state.executionTimeoutMs;
  const run = engine.addRun(state);
  run.history = [...prefix];

  if (wft.startedEventId === 0) {
    const started = engine.append(run, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, {
      scheduledEventId: wft.scheduledEventId,
      identity: IDENTITY_HISTORY_SERVICE,
      requestId: wft.requestId || undefined,
      historySizeBytes: state.historySizeBytes,
    });
    wft.startedEventId = Number(started.eventId);
  }
  engine.append(run, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, {
    scheduledEventId: wft.scheduledEventId,
    startedEventId: wft.startedEventId,
    cause: WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
    failure: resetFailure(reason),
    identity: IDENTITY_HISTORY_SERVICE,
    baseRunId: base.state.runId,
    newRunId,
  });
  state.wft = undefined;
  for (const [scheduledEventId, startedEventId] of startedActivities) {
    const activity = state.activities[String(scheduledEventId)];
    if (!activity) continue;
    engine.append(run, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED, {
      failure: resetFailure(reason, activity.heartbeatDetails),
      scheduledEventId,
      startedEventId,
      identity: activity.startedIdentity,
      retryState: RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE,
    });
    delete state.activities[String(scheduledEventId)];
  }
  for (const event of reapplied) reapply(engine, run, event);
  engine.scheduleWorkflowTask(run);
  // What was pending at the reset point goes on: activities wait for a worker, timers and requests are armed again.
  for (const activity of Object.values(state.activities)) enqueueActivity(engine, run, activity);
  engine.hooks.armDeadlines(run);
  engine.hooks.runTransferTasks(run);
  engine.markDirty(run);
  return { runId: newRunId };
}
