/**
 * The commands that close a run (complete, fail, cancel, continue-as-new): each writes the close event, and a failed
 * run whose retry policy allows it, a completed or failed cron run, or a continue-as-new, hands the workflow id on to
 * the next run of its chain.
 */
import type { Engine, RunRecord } from '../engine';
import { CommandType, EventType, WorkflowExecutionStatus, durationToMs, enums, type Command } from '../proto';
import { typedSearchAttributes } from '../visibility/search-attributes';
import { chainAfterCompletion, chainAfterFailure, closeRunInChain, reserveContinuation } from './run-chaining';

const CLOSE_COMMANDS = new Set<number>([
  CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
  CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
  CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
  CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
]);

/** True for the command types that close the run. */
export function isCloseCommand(commandType: number): boolean {
  return CLOSE_COMMANDS.has(commandType);
}

/** Applies a validated command that closes the run (`completedEventId`: the WorkflowTaskCompleted event). */
export function applyCloseCommand(engine: Engine, run: RunRecord, cmd: Command, completedEventId: number): void {
  switch (Number(cmd.commandType)) {
    case CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: {
      const result = cmd.completeWorkflowExecutionCommandAttributes?.result ?? undefined;
      closeRunInChain(
        engine,
        run,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        { result, workflowTaskCompletedEventId: completedEventId },
        chainAfterCompletion(engine, run, result),
      );
      return;
    }
    case CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: {
      const failure = cmd.failWorkflowExecutionCommandAttributes?.failure ?? undefined;
      const { retryState, next } = chainAfterFailure(engine, run, failure);
      closeRunInChain(
        engine,
        run,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        { failure, retryState, workflowTaskCompletedEventId: completedEventId },
        next,
      );
      return;
    }
    case CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
      closeRunInChain(
        engine,
        run,
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        {
          details: cmd.cancelWorkflowExecutionCommandAttributes?.details ?? undefined,
          workflowTaskCompletedEventId: completedEventId,
        },
        undefined,
      );
      return;
    case CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
      continueAsNew(engine, run, cmd, completedEventId);
      return;
  }
}

function continueAsNew(engine: Engine, run: RunRecord, cmd: Command, completedEventId: number): void {
  const s = run.state;
  const a = cmd.continueAsNewWorkflowExecutionCommandAttributes!;
  const workflowType = a.workflowType?.name || s.workflowType;
  const taskQueue = a.taskQueue?.name || s.taskQueue;
  const next = reserveContinuation({
    backoffMs: durationToMs(a.backoffStartInterval),
    initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
    attempt: 1,
    workflowType,
    taskQueue,
    input: a.input ?? undefined,
    runTimeoutMs: durationToMs(a.workflowRunTimeout) || s.runTimeoutMs,
    workflowTaskTimeoutMs: durationToMs(a.workflowTaskTimeout) || s.workflowTaskTimeoutMs,
    header: a.header ?? s.header,
    memo: a.memo ?? s.memo,
    searchAttributes: a.searchAttributes ?? s.searchAttributes,
    retryPolicy: a.retryPolicy ?? s.retryPolicy,
    lastCompletionResult: a.lastCompletionResult ?? undefined,
    continuedFailure: a.failure ?? undefined,
    // A cron run that continues as new stays on its schedule.
    cronSchedule: a.cronSchedule || s.cronSchedule,
  });
  closeRunInChain(
    engine,
    run,
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    {
      workflowType: { name: workflowType },
      taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      input: a.input ?? undefined,
      workflowRunTimeout: a.workflowRunTimeout ?? undefined,
      workflowTaskTimeout: a.workflowTaskTimeout ?? undefined,
      workflowTaskCompletedEventId: completedEventId,
      backoffStartInterval: a.backoffStartInterval ?? undefined,
      initiator: enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
      header: a.header ?? undefined,
      memo: a.memo ?? undefined,
      searchAttributes: typedSearchAttributes(engine, s.namespace, a.searchAttributes),
    },
    next,
  );
}
