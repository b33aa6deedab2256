/**
 * Workflow Updates: admission, delivery to the workflow as protocol messages on a workflow task (a speculative one
 * when nothing else is scheduled, so a rejected update leaves no trace in history), acceptance and completion
 * events, and waiting on a lifecycle stage (UpdateWorkflowExecution, PollWorkflowExecutionUpdate).
 */
import { randomUUID } from 'node:crypto';
import { waitForRun, type Engine, type RunRecord } from '../engine';
import { invalidArgument, notFound, resourceExhausted } from '../errors';
import { EventType, packAny, temporal, unpackAny, type ProtocolMessage } from '../proto';
import type { Loose } from '../proto';
import type { UpdateState, WorkflowTaskState } from '../state';
import { assertBlobSize } from './payload-limits';

const Stage = temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage;
const MAX_IN_FLIGHT_UPDATES = 10;
const MAX_TOTAL_UPDATES = 2000;
const UPDATE_LONG_POLL_MS = 50_000;

/** True when an admitted update still has to be delivered to the workflow (one admitted in history is read there). */
export function hasUndeliveredUpdates(run: RunRecord): boolean {
  return Object.values(run.state.updates).some(
    (u) => u.stage === 'admitted' && u.deliveredSeq === 0 && !u.admittedEventId,
  );
}

/** Protocol messages carrying the admitted updates to the workflow task being dispatched. */
export function buildUpdateMessages(_engine: Engine, run: RunRecord, wft: WorkflowTaskState): ProtocolMessage[] {
  const out: ProtocolMessage[] = [];
  for (const u of Object.values(run.state.updates)) {
    if (u.stage !== 'admitted' || u.deliveredSeq !== 0 || u.admittedEventId) continue;
    u.deliveredSeq = wft.seq;
    wft.deliveredUpdates.push(u.updateId);
    out.push({
      id: `${u.updateId}/request`,
      protocolInstanceId: u.updateId,
      eventId: wft.startedEventId - 1,
      body: packAny('temporal.api.update.v1.Request', u.request),
    });
  }
  return out;
}

/** Updates delivered with a task that failed go out again with the next one. */
export function undeliverUpdates(run: RunRecord, wft: WorkflowTaskState): void {
  for (const id of wft.deliveredUpdates) {
    const u = run.state.updates[id];
    if (u && u.stage === 'admitted') u.deliveredSeq = 0;
  }
}

/** Applies an acceptance, rejection or response message from a workflow task completion. */
export function applyProtocolMessage(
  engine: Engine,
  run: RunRecord,
  m: ProtocolMessage,
  _completedEventId: number,
): void {
  const s = run.state;
  const id = m.protocolInstanceId ?? '';
  const u = s.updates[id];
  const acceptance = unpackAny<Loose<temporal.api.update.v1.IAcceptance>>(m.body, 'temporal.api.update.v1.Acceptance');
  if (acceptance) {
    const ev = engine.append(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, {
      protocolInstanceId: id,
      acceptedRequestMessageId: acceptance.acceptedRequestMessageId,
      acceptedRequestSequencingEventId: acceptance.acceptedRequestSequencingEventId,
      // As on Temporal: an update admitted in history is accepted without its request (the admitted event has it).
      acceptedRequest: u?.admittedEventId ? undefined : (acceptance.acceptedRequest ?? u?.request),
    });
    if (u) {
      u.stage = 'accepted';
      u.acceptedEventId = Number(ev.eventId);
    }
    return;
  }
  const rejection = unpackAny<Loose<temporal.api.update.v1.IRejection>>(m.body, 'temporal.api.update.v1.Rejection');
  if (rejection) {
    if (u) {
      u.stage = 'rejected';
      u.outcome = { failure: rejection.failure };
    }
    engine.markDirty(run);
    return;
  }
  const response = unpackAny<Loose<temporal.api.update.v1.IResponse>>(m.body, 'temporal.api.update.v1.Response');
  if (response) {
    engine.append(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, {
      meta: response.meta,
      acceptedEventId: u?.acceptedEventId,
      outcome: response.outcome,
    });
    if (u) {
      u.stage = 'completed';
      u.outcome = response.outcome as Record<string, unknown>;
    }
  }
}

const STAGE_ORDER: Record<UpdateState['stage'], number> = {
  admitted: Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED,
  accepted: Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED,
  completed: Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
  rejected: Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
};

function updateResponse(run: RunRecord, u: UpdateState): object {
  const done = u.stage === 'completed' || u.stage === 'rejected';
  return {
    updateRef: {
      workflowExecution: { workflowId: run.state.workflowId, runId: run.state.runId },
      updateId: u.updateId,
    },
    outcome: done ? u.outcome : undefined,
    stage: STAGE_ORDER[u.stage],
  };
}

/** Waits until the update reaches `stage` (or is done, or the run closes, or the long poll ends). */
function waitForStage(run: RunRecord, updateId: string, stage: number, signal: AbortSignal): Promise<void> {
  const reached = (): boolean => {
    const u = run.state.updates[updateId];
    return !u || !run.isOpen || STAGE_ORDER[u.stage] >= stage;
  };
  return waitForRun(run, reached, signal, UPDATE_LONG_POLL_MS);
}

function closedError(): Error {
  return notFound('workflow execution already completed');
}

/**
 * Admits an update (or finds the existing one with the same id) on a run. `scheduleTask: false` leaves scheduling to
 * the caller (update-with-start admits before the run's first, normal, workflow task is scheduled).
 */
export function admitUpdate(
  engine: Engine,
  run: RunRecord,
  request: Loose<temporal.api.update.v1.IRequest>,
  options: { scheduleTask?: boolean } = {},
): UpdateState {
  const s = run.state;
  if (!run.isOpen) throw closedError();
  if (!request.input?.name) throw invalidArgument('Update name is not set on request (request.input.name).');
  assertBlobSize(engine, request.input.args, { operation: 'UpdateWorkflowExecution', workflowId: s.workflowId });
  const updateId = request.meta?.updateId || randomUUID();
  const existing = s.updates[updateId];
  if (existing) return existing;
  const all = Object.values(s.updates);
  if (all.filter((u) => u.stage === 'admitted' || u.stage === 'accepted').length >= MAX_IN_FLIGHT_UPDATES) {
    throw resourceExhausted(
      `limit on number of concurrent in-flight updates has been reached (${MAX_IN_FLIGHT_UPDATES})`,
    );
  }
  if (all.length >= MAX_TOTAL_UPDATES)
    throw resourceExhausted(`limit on number of total updates has been reached (${MAX_TOTAL_UPDATES})`);
  const u: UpdateState = {
    updateId,
    stage: 'admitted',
    request: { ...request, meta: { ...request.meta, updateId } },
    acceptedEventId: 0,
    deliveredSeq: 0,
  };
  s.updates[updateId] = u;
  engine.markDirty(run);
  if (!s.wft && options.scheduleTask !== false) engine.scheduleWorkflowTask(run, { kind: 'speculative' });
  return u;
}

/** UpdateWorkflowExecution. */
export async function updateWorkflowExecution(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IUpdateWorkflowExecutionRequest>,
  signal: AbortSignal,
): Promise<object> {
  const ns = engine.namespace(req.namespace).name;
  const run = engine.getRun(ns, req.workflowExecution?.workflowId, req.workflowExecution?.runId);
  if (req.firstExecutionRunId && run.state.firstRunId !== req.firstExecutionRunId) {
    throw notFound(`workflow execution not found for first execution run ID "${req.firstExecutionRunId}"`);
  }
  if (!req.request) throw invalidArgument('Request is not set on request.');
  const u = admitUpdate(engine, run, req.request);
  await engine.commit();
  return waitAndRespond(
    run,
    u.updateId,
    Number(req.waitPolicy?.lifecycleStage ?? 0) || Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED,
    signal,
  );
}

/** Waits for a stage and builds the response (shared with update-with-start). */
export async function waitAndRespond(
  run: RunRecord,
  updateId: string,
  stage: number,
  signal: AbortSignal,
): Promise<object> {
  await waitForStage(run, updateId, stage, signal);
  const u = run.state.updates[updateId];
  if (!u) throw notFound(`update ${updateId} not found`);
  if (!run.isOpen && u.stage !== 'completed' && u.stage !== 'rejected') throw closedError();
  return updateResponse(run, u);
}

/** PollWorkflowExecutionUpdate. */
export async function pollWorkflowExecutionUpdate(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IPollWorkflowExecutionUpdateRequest>,
  signal: AbortSignal,
): Promise<object> {
  const ns = engine.namespace(req.namespace).name;
  const ref = req.updateRef;
  if (!ref?.updateId) throw invalidArgument('UpdateRef.UpdateId is not set on request.');
  const run = engine.getRun(ns, ref.workflowExecution?.workflowId, ref.workflowExecution?.runId);
  if (!run.state.updates[ref.updateId]) throw notFound(`update ${ref.updateId} not found`);
  const stage =
    Number(req.waitPolicy?.lifecycleStage ?? 0) || Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
  return waitAndRespond(run, ref.updateId, stage, signal);
}
