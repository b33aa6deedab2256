/**
 * What happens when a run closes: the parent hears about it (unless the run continues as new or retries), children
 * are handled by their parent close policy, and waiting updates and queries are answered.
 */
import type { Engine, RunRecord } from '../engine';
import { EventType, WorkflowExecutionStatus, enums } from '../proto';
import { requestCancelRun, terminateRun } from './cancel';
import { notifySchedulesRunClosed } from '../schedules/scheduler';

/** Status → the parent event type and attributes for a closed child. */
function parentEventFor(engine: Engine, child: RunRecord): [EventType, Record<string, unknown>] | undefined {
  const s = child.state;
  const closeEvent = child.history[child.history.length - 1]?.event;
  const attrs = closeEvent ? engine.attributes<Record<string, unknown>>(closeEvent) : {};
  switch (s.status) {
    case WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED:
      return [EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED, { result: attrs['result'] }];
    case WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED:
      return [
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        { failure: attrs['failure'], retryState: attrs['retryState'] },
      ];
    case WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED:
      return [EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED, { details: attrs['details'] }];
    case WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
      return [EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT, { retryState: attrs['retryState'] }];
    case WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED:
      return [EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED, {}];
    default:
      return undefined; // continued as new or retried: the chain goes on
  }
}

/** Engine hook: a run closed. */
export function onRunClosed(engine: Engine, run: RunRecord): void {
  const s = run.state;
  // Tell the parent, unless a new run of this chain takes over.
  if (s.parent && !s.newExecutionRunId) {
    const parent = engine.runs.get(`${s.parent.namespace}\u0000${s.parent.runId}`);
    const child = parent?.state.children[String(s.parent.initiatedEventId)];
    const mapped = parentEventFor(engine, run);
    if (parent && parent.isOpen && child && mapped) {
      delete parent.state.children[String(s.parent.initiatedEventId)];
      engine.addExternalEvent(parent, mapped[0], {
        ...mapped[1],
        namespace: s.namespace,
        namespaceId: engine.namespaces.get(s.namespace)?.id,
        workflowExecution: { workflowId: s.workflowId, runId: s.runId },
        workflowType: { name: s.workflowType },
        initiatedEventId: s.parent.initiatedEventId,
        startedEventId: child.startedEventId || -1,
      });
    }
  }
  // Parent close policy for children still running.
  const P = enums.ParentClosePolicy;
  for (const child of Object.values(s.children)) {
    if (!child.runId) continue;
    const childRun = engine.currentRun(child.namespace, child.workflowId);
    if (!childRun || !childRun.isOpen) continue;
    if (childRun.state.parent?.runId !== s.runId && childRun.state.parent?.workflowId !== s.workflowId) continue;
    const policy = child.parentClosePolicy || P.PARENT_CLOSE_POLICY_TERMINATE;
    if (policy === P.PARENT_CLOSE_POLICY_TERMINATE) {
      terminateRun(engine, childRun, 'by parent close policy', undefined, 'mloe-devserver');
    } else if (policy === P.PARENT_CLOSE_POLICY_REQUEST_CANCEL) {
      requestCancelRun(engine, childRun, 'by parent close policy', 'mloe-devserver');
    }
  }
  // Pending queries on a closed run are answered by a query task later; updates that never completed fail.
  for (const u of Object.values(s.updates)) {
    if (u.stage === 'admitted' || u.stage === 'accepted') u.stage = 'rejected';
  }
  engine.markDirty(run);
  notifySchedulesRunClosed(engine, run);
}
