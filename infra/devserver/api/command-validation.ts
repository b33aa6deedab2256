/**
 * Validation of the commands of a workflow task completion, as a whole and before any is applied, so that a bad
 * command fails the task with Temporal's cause and leaves nothing of the completion in history. One validator per
 * command type; commands of a type without one are refused as not supported.
 */
import type { Engine, RunRecord } from '../engine';
import {
  CommandType,
  WorkflowTaskFailedCause as Cause,
  durationToMs,
  google,
  type Command,
  type Memo,
  type ProtocolMessage,
} from '../proto';

const AnyMessage = google.protobuf.Any;
import { searchAttributesProblem, searchAttributesSizeProblem } from '../visibility/search-attributes';
import { deriveActivityTimeouts } from './activity-timeouts';
import { isValidWorkflowCron } from '../cron';
import { validateId } from './validate';
import {
  blobTooLarge,
  failureSize,
  memoTooLarge,
  payloadMapSize,
  payloadsMapSize,
  payloadsSize,
} from './payload-limits';

/**
 * A validation failure: the task fails with this cause. With `terminate`, the run is terminated too, as Temporal's
 * `workflowSizeChecker` does for a command whose payloads are over the size limits.
 */
export interface InvalidCommand {
  cause: number;
  message: string;
  terminate?: boolean;
}

/** What the validators of one completion share: the run, and what earlier commands of the completion add. */
interface ValidationContext {
  engine: Engine;
  run: RunRecord;
  messages: ProtocolMessage[];
  /** Names the command in messages: `command 2 (COMMAND_TYPE_START_TIMER)`. */
  where: string;
  timerIds: Set<string>;
  activityIds: Set<string>;
  newActivities: number;
  newChildren: number;
  newSignals: number;
  /** The run's search attributes and memo with the upserts of earlier commands of this completion. */
  searchAttributes: Record<string, unknown>;
  memo: Record<string, unknown>;
}

type Validator = (cmd: Command, ctx: ValidationContext) => InvalidCommand | undefined;

const invalid = (cause: number, message: string): InvalidCommand => ({ cause, message });
const terminating = (cause: number, message: string): InvalidCommand => ({ cause, message, terminate: true });

/** Temporal's blob size check of one command's payloads (a warning is logged above the warning limit). */
function tooLarge(ctx: ValidationContext, size: number, cmd: Command): boolean {
  const s = ctx.run.state;
  const operation = CommandType[Number(cmd.commandType)] ?? String(cmd.commandType);
  return blobTooLarge(ctx.engine, size, { operation, workflowId: s.workflowId, runId: s.runId });
}

/** Temporal's memo size check of one command's memo. */
function memoTooLargeFor(ctx: ValidationContext, memo: Memo | null | undefined, cmd: Command): boolean {
  const s = ctx.run.state;
  const operation = CommandType[Number(cmd.commandType)] ?? String(cmd.commandType);
  return memoTooLarge(ctx.engine, memo, { operation, workflowId: s.workflowId, runId: s.runId });
}
const pendingCount = (o: Record<string, unknown>): number => Object.keys(o).length;
const accept: Validator = () => undefined;

const scheduleActivity: Validator = (cmd, ctx) => {
  const bad = (message: string): InvalidCommand =>
    invalid(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES, `${ctx.where}: ${message}`);
  const a = cmd.scheduleActivityTaskCommandAttributes;
  if (!a) return bad('ScheduleActivityTaskCommandAttributes is not set.');
  if (!a.activityId) return bad('ActivityId is not set.');
  if (!a.activityType?.name) return bad('ActivityType is not set.');
  if (ctx.activityIds.has(a.activityId))
    return bad(`ActivityId ${a.activityId} is already in use by a pending activity.`);
  ctx.activityIds.add(a.activityId);
  const t = deriveActivityTimeouts(a, ctx.run.state.runTimeoutMs);
  if (typeof t === 'string') return bad(t);
  if (tooLarge(ctx, payloadsSize(a.input), cmd)) {
    return terminating(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
      'ScheduleActivityTaskCommandAttributes.Input exceeds size limit.',
    );
  }
  ctx.newActivities++;
  const limit = ctx.engine.limits.maxPending;
  if (pendingCount(ctx.run.state.activities) + ctx.newActivities > limit) {
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
      `the number of pending activities exceeds the limit of ${limit}`,
    );
  }
  return undefined;
};

const startTimer: Validator = (cmd, ctx) => {
  const a = cmd.startTimerCommandAttributes;
  const bad = (message: string): InvalidCommand =>
    invalid(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES, `${ctx.where}: ${message}`);
  if (!a?.timerId) return bad('TimerId is not set.');
  if (ctx.timerIds.has(a.timerId)) {
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_START_TIMER_DUPLICATE_ID,
      `${ctx.where}: TimerId ${a.timerId} is already in use.`,
    );
  }
  if (durationToMs(a.startToFireTimeout) <= 0) return bad('StartToFireTimeout must be positive.');
  ctx.timerIds.add(a.timerId);
  return undefined;
};

const startChild: Validator = (cmd, ctx) => {
  const a = cmd.startChildWorkflowExecutionCommandAttributes;
  const bad = (message: string): InvalidCommand =>
    invalid(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES, `${ctx.where}: ${message}`);
  try {
    validateId('WorkflowId', a?.workflowId);
  } catch (err) {
    return bad((err as Error).message);
  }
  if (!a?.workflowType?.name) return bad('WorkflowType is not set.');
  if (a.cronSchedule && !isValidWorkflowCron(a.cronSchedule)) return bad('Invalid CronSchedule.');
  const namespace = ctx.run.state.namespace;
  if (a.namespace && a.namespace !== namespace && !ctx.engine.namespaces.has(a.namespace)) {
    return bad(`Namespace ${a.namespace} is not found.`);
  }
  const target = a.namespace || namespace;
  const problem = searchAttributesProblem(ctx.engine, target, a.searchAttributes);
  if (problem) {
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
      `invalid SearchAttributes on StartChildWorkflowCommand: ${problem}. ` +
        `WorkflowId=${a.workflowId} WorkflowType=${a.workflowType.name} Namespace=${target}`,
    );
  }
  const badChild = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES;
  if (tooLarge(ctx, payloadsSize(a.input), cmd)) {
    return terminating(badChild, 'StartChildWorkflowExecutionCommandAttributes. Input exceeds size limit.');
  }
  if (memoTooLargeFor(ctx, a.memo, cmd)) {
    return terminating(badChild, 'StartChildWorkflowExecutionCommandAttributes.Memo exceeds size limit.');
  }
  const saSize = searchAttributesSizeProblem(a.searchAttributes);
  if (saSize) return terminating(badChild, saSize);
  ctx.newChildren++;
  const limit = ctx.engine.limits.maxPending;
  if (pendingCount(ctx.run.state.children) + ctx.newChildren > limit) {
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED,
      `the number of pending child workflows exceeds the limit of ${limit}`,
    );
  }
  return undefined;
};

const signalExternal: Validator = (cmd, ctx) => {
  const a = cmd.signalExternalWorkflowExecutionCommandAttributes;
  const bad = (message: string): InvalidCommand =>
    invalid(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES, `${ctx.where}: ${message}`);
  if (!a?.execution?.workflowId) return bad('Execution.WorkflowId is not set.');
  if (!a.signalName) return bad('SignalName is not set.');
  ctx.newSignals++;
  const limit = ctx.engine.limits.maxPending;
  const pending = Object.values(ctx.run.state.external).filter((e) => e.kind === 'signal').length;
  if (pending + ctx.newSignals > limit) {
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED,
      `the number of pending signals exceeds the limit of ${limit}`,
    );
  }
  if (tooLarge(ctx, payloadsSize(a.input), cmd)) {
    return terminating(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
      'SignalExternalWorkflowExecutionCommandAttributes.Input exceeds size limit.',
    );
  }
  return undefined;
};

const cancelExternal: Validator = (cmd, ctx) =>
  cmd.requestCancelExternalWorkflowExecutionCommandAttributes?.workflowId
    ? undefined
    : invalid(
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
        `${ctx.where}: WorkflowId is not set.`,
      );

const recordMarker: Validator = (cmd, ctx) => {
  const a = cmd.recordMarkerCommandAttributes;
  const bad = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES;
  if (!a?.markerName) return invalid(bad, `${ctx.where}: MarkerName is not set.`);
  if (tooLarge(ctx, payloadsMapSize(a.details), cmd)) {
    return terminating(bad, 'RecordMarkerCommandAttributes.Details exceeds size limit.');
  }
  return undefined;
};

const completeWorkflow: Validator = (cmd, ctx) =>
  tooLarge(ctx, payloadsSize(cmd.completeWorkflowExecutionCommandAttributes?.result), cmd)
    ? // Temporal terminates with this cause (sic) for an oversized result.
      terminating(
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
        'CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit.',
      )
    : undefined;

const failWorkflow: Validator = (cmd, ctx) =>
  tooLarge(ctx, failureSize(cmd.failWorkflowExecutionCommandAttributes?.failure), cmd)
    ? terminating(
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
        'FailWorkflowExecutionCommandAttributes.Failure exceeds size limit.',
      )
    : undefined;

const modifyProperties: Validator = (cmd, ctx) => {
  const fields = cmd.modifyWorkflowPropertiesCommandAttributes?.upsertedMemo?.fields ?? {};
  const bad = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES;
  if (tooLarge(ctx, payloadMapSize(fields), cmd)) {
    return terminating(bad, 'ModifyWorkflowPropertiesCommandAttributes exceeds size limit.');
  }
  ctx.memo = { ...ctx.memo, ...fields };
  if (memoTooLargeFor(ctx, { fields: ctx.memo as Memo['fields'] }, cmd)) {
    return terminating(bad, 'ModifyWorkflowPropertiesCommandAttributes. Memo exceeds size limit.');
  }
  return undefined;
};

const continueAsNew: Validator = (cmd, ctx) => {
  const a = cmd.continueAsNewWorkflowExecutionCommandAttributes;
  if (!a) {
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
      `${ctx.where}: ContinueAsNewWorkflowExecutionCommandAttributes is not set.`,
    );
  }
  const s = ctx.run.state;
  if (a.cronSchedule && !isValidWorkflowCron(a.cronSchedule)) {
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
      `${ctx.where}: Invalid CronSchedule.`,
    );
  }
  const problem = searchAttributesProblem(ctx.engine, s.namespace, a.searchAttributes);
  if (problem) {
    // Temporal prints the task queue message in its text form.
    const taskQueue = `name:${JSON.stringify(a.taskQueue?.name || s.taskQueue)} kind:TASK_QUEUE_KIND_NORMAL`;
    return invalid(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
      `invalid SearchAttributes on ContinueAsNewWorkflowExecutionCommand: ${problem}. ` +
        `WorkflowType=${a.workflowType?.name || s.workflowType} TaskQueue=${taskQueue}`,
    );
  }
  const bad = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES;
  if (tooLarge(ctx, payloadsSize(a.input), cmd)) {
    return terminating(bad, 'ContinueAsNewWorkflowExecutionCommandAttributes. Input exceeds size limit.');
  }
  if (memoTooLargeFor(ctx, a.memo, cmd)) {
    return terminating(bad, 'ContinueAsNewWorkflowExecutionCommandAttributes. Memo exceeds size limit.');
  }
  const saSize = searchAttributesSizeProblem(a.searchAttributes);
  return saSize ? terminating(bad, saSize) : undefined;
};

const protocolMessage: Validator = (cmd, ctx) => {
  const id = cmd.protocolMessageCommandAttributes?.messageId;
  if (ctx.messages.some((m) => m.id === id)) return undefined;
  return invalid(
    Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
    `${ctx.where}: no message with id ${id ?? ''} in the completion.`,
  );
};

const upsertSearchAttributes: Validator = (cmd, ctx) => {
  const sa = cmd.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes;
  const bad = Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES;
  const problem = searchAttributesProblem(ctx.engine, ctx.run.state.namespace, sa);
  if (problem) return invalid(bad, problem);
  const fields = sa?.indexedFields ?? {};
  if (tooLarge(ctx, payloadMapSize(fields), cmd)) {
    return terminating(bad, 'UpsertWorkflowSearchAttributesCommandAttributes exceeds size limit.');
  }
  ctx.searchAttributes = { ...ctx.searchAttributes, ...fields };
  const merged = searchAttributesSizeProblem({ indexedFields: ctx.searchAttributes as never });
  return merged ? terminating(bad, merged) : undefined;
};

/** The validator of each supported command type. */
const VALIDATORS = new Map<number, Validator>([
  [CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, scheduleActivity],
  [CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK, accept],
  [CommandType.COMMAND_TYPE_START_TIMER, startTimer],
  [CommandType.COMMAND_TYPE_CANCEL_TIMER, accept],
  [CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION, startChild],
  [CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION, signalExternal],
  [CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION, cancelExternal],
  [CommandType.COMMAND_TYPE_RECORD_MARKER, recordMarker],
  [CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, upsertSearchAttributes],
  [CommandType.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES, modifyProperties],
  [CommandType.COMMAND_TYPE_PROTOCOL_MESSAGE, protocolMessage],
  [CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, completeWorkflow],
  [CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION, failWorkflow],
  [CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION, accept],
  [CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION, continueAsNew],
]);

/** Validates every command of a completion in order; returns the first problem. */
export function validateCommands(
  engine: Engine,
  run: RunRecord,
  commands: Command[],
  messages: ProtocolMessage[],
): InvalidCommand | undefined {
  const s = run.state;
  const ctx: ValidationContext = {
    engine,
    run,
    messages,
    where: '',
    timerIds: new Set(Object.keys(s.timers)),
    activityIds: new Set(Object.values(s.activities).map((a) => a.activityId)),
    newActivities: 0,
    newChildren: 0,
    newSignals: 0,
    searchAttributes: { ...(s.searchAttributes?.indexedFields ?? {}) },
    memo: { ...(s.memo?.fields ?? {}) },
  };
  for (const [index, cmd] of commands.entries()) {
    ctx.where = `command ${index + 1} (${CommandType[Number(cmd.commandType)] ?? cmd.commandType})`;
    const validator = VALIDATORS.get(Number(cmd.commandType));
    const problem = validator
      ? validator(cmd, ctx)
      : invalid(
          Cause.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED,
          `${ctx.where}: the mloe dev server does not support this command yet.`,
        );
    if (problem) return problem;
  }
  // Update responses and other protocol messages are held to the blob limit too (Temporal terminates the run).
  for (const m of messages) {
    const size = m.body ? AnyMessage.encode(m.body as never).finish().length : 0;
    const where = { operation: 'ProtocolMessage', workflowId: s.workflowId, runId: s.runId };
    if (blobTooLarge(engine, size, where)) {
      const type = (m.body?.type_url ?? '').replace(/^type\.googleapis\.com\//, '');
      return terminating(
        Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
        `Message type ${type} exceeds size limit.`,
      );
    }
  }
  return undefined;
}
