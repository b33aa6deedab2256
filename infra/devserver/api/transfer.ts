/**
 * Side effects a completed workflow task recorded in state and that run after it: starting child workflows and
 * delivering signals and cancellation requests to other workflows. Each is recorded durably first, so after a
 * restart {@link runTransferTasks} carries on with whatever was not yet done.
 */
import type { Engine, RunRecord } from '../engine';
import { EventType, enums } from '../proto';
import { requestCancelRun, signalRun } from './cancel';
import { createRun, decideStart, firstRunBackoff } from './start';
import { durationToMs } from '../proto';

/** Engine hook: carry out pending child starts and external requests of a run. */
export function runTransferTasks(engine: Engine, run: RunRecord): void {
  const s = run.state;
  for (const child of Object.values(s.children)) {
    if (child.runId || !run.isOpen) continue;
    startChild(engine, run, child.initiatedEventId);
  }
  for (const ext of Object.values(s.external)) {
    if (!run.isOpen) break;
    deliverExternal(engine, run, ext.initiatedEventId);
  }
}

function initiatedAttributes(engine: Engine, run: RunRecord, eventId: number): Record<string, unknown> {
  const e = run.history[eventId - 1]?.event;
  return e ? engine.attributes(e) : {};
}

function startChild(engine: Engine, run: RunRecord, initiatedEventId: number): void {
  const s = run.state;
  const child = s.children[String(initiatedEventId)]!;
  const a = initiatedAttributes(engine, run, initiatedEventId) as Record<string, never>;
  const failed = (cause: number): void => {
    delete s.children[String(initiatedEventId)];
    engine.addExternalEvent(run, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED, {
      namespace: child.namespace,
      namespaceId: engine.namespaces.get(child.namespace)?.id,
      workflowId: child.workflowId,
      workflowType: { name: child.workflowType },
      cause,
      control: a['control'],
      initiatedEventId,
      workflowTaskCompletedEventId: a['workflowTaskCompletedEventId'],
    });
  };
  if (!engine.namespaces.has(child.namespace)) {
    failed(
      enums.StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_NAMESPACE_NOT_FOUND,
    );
    return;
  }
  let decision;
  try {
    decision = decideStart(
      engine,
      child.namespace,
      child.workflowId,
      '',
      Number(a['workflowIdReusePolicy'] ?? 0),
      enums.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
      s.workflowId,
    );
  } catch {
    decision = undefined;
  }
  if (!decision || decision.kind !== 'start') {
    failed(
      enums.StartChildWorkflowExecutionFailedCause.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS,
    );
    return;
  }
  const taskQueue = (a['taskQueue'] as { name?: string } | undefined)?.name || s.taskQueue;
  const childRun = createRun(engine, {
    namespace: child.namespace,
    workflowId: child.workflowId,
    workflowType: child.workflowType,
    taskQueue,
    input: a['input'],
    header: a['header'],
    memo: a['memo'],
    searchAttributes: a['searchAttributes'],
    executionTimeoutMs: durationToMs(a['workflowExecutionTimeout']),
    runTimeoutMs: durationToMs(a['workflowRunTimeout']),
    workflowTaskTimeoutMs: durationToMs(a['workflowTaskTimeout']),
    retryPolicy: a['retryPolicy'],
    cronSchedule: a['cronSchedule'],
    ...firstRunBackoff(engine, a['cronSchedule'], 0),
    identity: s.workflowId,
    requestId: '',
    parent: { namespace: s.namespace, workflowId: s.workflowId, runId: s.runId, initiatedEventId },
    rootWorkflowId: s.rootWorkflowId,
    rootRunId: s.rootRunId,
    priority: a['priority'],
  });
  child.runId = childRun.state.runId;
  engine.addExternalEvent(run, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, {
    namespace: child.namespace,
    namespaceId: engine.namespaces.get(child.namespace)?.id,
    initiatedEventId,
    workflowExecution: { workflowId: child.workflowId, runId: childRun.state.runId },
    workflowType: { name: child.workflowType },
    header: a['header'],
  });
  if (child.startedEventId === 0) {
    // The started event was appended (not buffered): remember its id for the closing event.
    const last = run.history[run.history.length - 1]?.event;
    if (last && Number(last.eventType) === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) {
      child.startedEventId = Number(last.eventId);
    }
  }
}

function deliverExternal(engine: Engine, run: RunRecord, initiatedEventId: number): void {
  const s = run.state;
  const ext = s.external[String(initiatedEventId)]!;
  delete s.external[String(initiatedEventId)];
  const target = engine.findRun(ext.namespace, ext.workflowId, ext.runId || undefined);
  const execution = { workflowId: ext.workflowId, runId: ext.runId || undefined };
  if (ext.kind === 'signal') {
    const isChild = Object.values(s.children).some((c) => c.workflowId === ext.workflowId);
    const ok = Boolean(target && target.isOpen && (!ext.childWorkflowOnly || isChild));
    if (ok)
      signalRun(engine, target!, ext.signalName ?? '', ext.input, ext.header, s.workflowId, {
        workflowId: s.workflowId,
        runId: s.runId,
      });
    engine.addExternalEvent(
      run,
      ok
        ? EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED
        : EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
      ok
        ? {
            initiatedEventId,
            namespace: ext.namespace,
            workflowExecution: execution,
            control: ext.control || undefined,
          }
        : {
            cause:
              enums.SignalExternalWorkflowExecutionFailedCause
                .SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
            initiatedEventId,
            namespace: ext.namespace,
            workflowExecution: execution,
            control: ext.control || undefined,
          },
    );
    return;
  }
  // A cancel request is delivered as Temporal's history service takes RequestCancelWorkflowExecution: a target that
  // has already closed is a success (nothing to do), and a workflow cannot cancel itself through an external handle.
  const self = ext.namespace === s.namespace && ext.workflowId === s.workflowId;
  const delivered =
    !self &&
    target !== undefined &&
    (!target.isOpen ||
      !ext.childWorkflowOnly ||
      (target.state.parent?.runId === s.runId && target.state.parent.workflowId === s.workflowId));
  if (delivered && target.isOpen) {
    requestCancelRun(engine, target, ext.reason ?? '', s.workflowId, {
      initiatedEventId,
      execution: { workflowId: s.workflowId, runId: s.runId },
    });
  }
  engine.addExternalEvent(
    run,
    delivered
      ? EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED
      : EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
    delivered
      ? { initiatedEventId, namespace: ext.namespace, workflowExecution: execution }
      : {
          cause:
            enums.CancelExternalWorkflowExecutionFailedCause
              .CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND,
          initiatedEventId,
          namespace: ext.namespace,
          workflowExecution: execution,
          control: ext.control || undefined,
        },
  );
}
