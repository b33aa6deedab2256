/** Signals, cancellation requests and termination of runs (from clients and from other workflows). */
import type { Engine, RunRecord } from '../engine';
import { invalidArgument, notFound } from '../errors';
import { EventType, WorkflowExecutionStatus, type Header, type Payloads, type WorkflowExecutionRef } from '../proto';
import { assertBlobSize } from './payload-limits';

/** Temporal's limit on signals per run. */
export const MAX_SIGNALS_PER_RUN = 10_000;

const completedError = (): Error => notFound('workflow execution already completed');

/** Terminates a run: writes WorkflowExecutionTerminated and closes it. */
export function terminateRun(
  engine: Engine,
  run: RunRecord,
  reason: string,
  details: Payloads | null | undefined,
  identity: string,
): void {
  if (!run.isOpen) throw completedError();
  engine.closeRun(
    run,
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    {
      reason,
      details: details ?? undefined,
      identity,
    },
  );
}

/** Records a cancellation request on a run (idempotent once requested). */
export function requestCancelRun(
  engine: Engine,
  run: RunRecord,
  reason: string,
  identity: string,
  external?: { initiatedEventId: number; execution: WorkflowExecutionRef },
): void {
  if (!run.isOpen) throw completedError();
  if (run.state.cancelRequested) return;
  run.state.cancelRequested = true;
  engine.addExternalEvent(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED, {
    cause: reason,
    identity,
    externalInitiatedEventId: external?.initiatedEventId,
    externalWorkflowExecution: external?.execution,
  });
}

/** Delivers a signal to a run. */
export function signalRun(
  engine: Engine,
  run: RunRecord,
  signalName: string,
  input: Payloads | null | undefined,
  header: Header | null | undefined,
  identity: string,
  external?: WorkflowExecutionRef,
): void {
  if (!run.isOpen) throw completedError();
  if (!signalName) throw invalidArgument('SignalName is not set on request.');
  assertBlobSize(engine, input, { operation: 'SignalWorkflowExecution', workflowId: run.state.workflowId });
  if (run.state.signalCount >= MAX_SIGNALS_PER_RUN) {
    throw invalidArgument(`signal count limit of ${MAX_SIGNALS_PER_RUN} exceeded for this workflow execution`);
  }
  run.state.signalCount++;
  engine.addExternalEvent(run, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, {
    signalName,
    input: input ?? undefined,
    identity,
    header: header ?? undefined,
    externalWorkflowExecution: external,
  });
}
