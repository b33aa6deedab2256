/** Client-facing calls on executions: start, signal, signal-with-start, cancel, terminate, update-with-start. */
import { status } from '@grpc/grpc-js';
import type { Engine, RunRecord } from '../engine';
import { RpcError, invalidArgument, notFound } from '../errors';
import { google, temporal, type Loose } from '../proto';
import { requestCancelRun, signalRun, terminateRun } from './cancel';
import { startWorkflowExecution, validateCronSchedule } from './start';
import { admitUpdate, waitAndRespond } from './update';
import { assertBlobSize } from './payload-limits';
import type { UpdateState } from '../state';

type WS = typeof temporal.api.workflowservice.v1;
type Req<K extends keyof WS> = WS[K] extends { prototype: infer P } ? Loose<P> : never;

export function signalWorkflowExecution(engine: Engine, req: Req<'SignalWorkflowExecutionRequest'>): object {
  const ns = engine.namespace(req.namespace).name;
  const run = engine.getRun(ns, req.workflowExecution?.workflowId, req.workflowExecution?.runId);
  signalRun(engine, run, req.signalName ?? '', req.input, req.header, req.identity ?? '');
  return {};
}

export function signalWithStartWorkflowExecution(
  engine: Engine,
  req: Req<'SignalWithStartWorkflowExecutionRequest'>,
): object {
  const ns = engine.namespace(req.namespace).name;
  if (!req.signalName) throw invalidArgument('SignalName is not set on request.');
  validateCronSchedule(req.cronSchedule, req.workflowStartDelay);
  // Checked before anything starts: a refused signal must not leave a started run behind.
  assertBlobSize(engine, req.signalInput, {
    operation: 'SignalWithStartWorkflowExecution',
    workflowId: req.workflowId ?? '',
  });
  const current = req.workflowId ? engine.currentRun(ns, req.workflowId) : undefined;
  if (
    current?.isOpen &&
    Number(req.workflowIdConflictPolicy ?? 0) !==
      temporal.api.enums.v1.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
  ) {
    signalRun(engine, current, req.signalName, req.signalInput, req.header, req.identity ?? '');
    return { runId: current.state.runId, started: false };
  }
  const started = startWorkflowExecution(
    engine,
    {
      ...req,
      workflowIdConflictPolicy:
        temporal.api.enums.v1.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
    },
    { afterStarted: (run) => signalRun(engine, run, req.signalName!, req.signalInput, req.header, req.identity ?? '') },
  );
  return { runId: started.runId, started: started.started };
}

/**
 * The run a cancel or terminate request is for. As in Temporal's history service, a `firstExecutionRunId` makes the
 * request target the current run of the workflow id (the latest of the chain that run started), whatever `runId`
 * says; it is compared with that run's first run id only while the run is open.
 */
function requestTarget(
  engine: Engine,
  namespace: string,
  req: Pick<Req<'RequestCancelWorkflowExecutionRequest'>, 'workflowExecution' | 'firstExecutionRunId'>,
): RunRecord {
  const runId = req.firstExecutionRunId ? undefined : req.workflowExecution?.runId;
  return engine.getRun(namespace, req.workflowExecution?.workflowId, runId);
}

/** Temporal's answer when an open run is not of the chain the request's `firstExecutionRunId` names. */
const notInChain = (): Error => notFound('workflow execution not found');

/**
 * RequestCancelWorkflowExecution. A request for a run that has already closed succeeds and changes nothing, as on
 * Temporal (a cancel request to a finished workflow is not an error); so does a repeated request.
 */
export function requestCancelWorkflowExecution(
  engine: Engine,
  req: Req<'RequestCancelWorkflowExecutionRequest'>,
): object {
  const ns = engine.namespace(req.namespace).name;
  const run = requestTarget(engine, ns, req);
  if (!run.isOpen) return {};
  if (req.firstExecutionRunId && run.state.firstRunId !== req.firstExecutionRunId) throw notInChain();
  requestCancelRun(engine, run, req.reason ?? '', req.identity ?? '');
  return {};
}

/** TerminateWorkflowExecution: a closed run answers NOT_FOUND "workflow execution already completed", as on Temporal. */
export function terminateWorkflowExecution(engine: Engine, req: Req<'TerminateWorkflowExecutionRequest'>): object {
  const ns = engine.namespace(req.namespace).name;
  const run = requestTarget(engine, ns, req);
  if (run.isOpen && req.firstExecutionRunId && run.state.firstRunId !== req.firstExecutionRunId) throw notInChain();
  terminateRun(engine, run, req.reason ?? '', req.details, req.identity ?? '');
  return {};
}

/**
 * Encodes a MultiOperationExecutionFailure (one status per operation) for grpc-status-details-bin. As in Temporal,
 * the top-level code is the first failed operation's code (the SDK maps ALREADY_EXISTS from it).
 */
function multiOperationDetails(
  code: number,
  message: string,
  statuses: { code: number; message: string; details?: unknown[] }[],
): Uint8Array {
  const T = temporal.api.errordetails.v1.MultiOperationExecutionFailure;
  const any = {
    type_url: 'type.googleapis.com/temporal.api.errordetails.v1.MultiOperationExecutionFailure',
    value: T.encode(T.fromObject({ statuses })).finish(),
  };
  return google.rpc.Status.encode(google.rpc.Status.fromObject({ code, message, details: [any] })).finish();
}

/** The status of an operation aborted because another one failed (carries `MultiOperationExecutionAborted`). */
const ABORTED_OPERATION = {
  code: status.ABORTED,
  message: 'Operation was aborted.',
  details: [
    {
      type_url: 'type.googleapis.com/temporal.api.failure.v1.MultiOperationExecutionAborted',
      value: temporal.api.failure.v1.MultiOperationExecutionAborted.encode({}).finish(),
    },
  ],
};

/** ExecuteMultiOperation: update-with-start (a start operation followed by an update operation). */
export async function executeMultiOperation(
  engine: Engine,
  req: Req<'ExecuteMultiOperationRequest'>,
  signal: AbortSignal,
): Promise<object> {
  const ns = engine.namespace(req.namespace).name;
  const ops = req.operations ?? [];
  const start = ops[0]?.startWorkflow;
  const update = ops[1]?.updateWorkflow;
  if (ops.length !== 2 || !start || !update) {
    throw invalidArgument('Operations must be exactly [StartWorkflow, UpdateWorkflow] (update-with-start).');
  }
  if (start.namespace && start.namespace !== ns)
    throw invalidArgument('Operations[0].StartWorkflow.Namespace must match the request namespace.');
  if (update.workflowExecution?.workflowId !== start.workflowId) {
    throw invalidArgument(
      'Operations[1].UpdateWorkflow.WorkflowExecution.WorkflowId must match the start operation WorkflowId.',
    );
  }
  // Checked before the start: once the run exists, admitting the update must not fail.
  if (!update.request?.input?.name) throw invalidArgument('Update name is not set on request (request.input.name).');
  assertBlobSize(engine, update.request.input.args, {
    operation: 'ExecuteMultiOperation',
    workflowId: start.workflowId ?? undefined,
  });
  let startResponse;
  let admitted: UpdateState | undefined;
  try {
    // As Temporal's frontend: a start operation may not be a cron workflow nor ask for eager execution.
    if (start.cronSchedule) throw invalidArgument('CronSchedule is not allowed.');
    if (start.requestEagerExecution) throw invalidArgument('RequestEagerExecution is not supported.');
    // A new run gets the update before its first workflow task is scheduled, so that task delivers it (Temporal).
    startResponse = startWorkflowExecution(
      engine,
      { ...start, namespace: ns },
      {
        afterStarted: (run) => {
          admitted = admitUpdate(engine, run, update.request ?? {}, { scheduleTask: false });
        },
      },
    );
  } catch (err) {
    if (err instanceof RpcError) {
      const detailsStatus = err.details ? google.rpc.Status.decode(err.details) : undefined;
      throw new RpcError(
        err.code,
        'Update-with-Start could not be executed.',
        multiOperationDetails(err.code, 'Update-with-Start could not be executed.', [
          { code: err.code, message: err.message, details: detailsStatus?.details ?? [] },
          ABORTED_OPERATION,
        ]),
      );
    }
    throw err;
  }
  const run = startResponse.run;
  const u = admitted ?? admitUpdate(engine, run, update.request ?? {});
  await engine.commit();
  const stage =
    Number(update.waitPolicy?.lifecycleStage ?? 0) ||
    temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED;
  const updateResponse = await waitAndRespond(run, u.updateId, stage, signal);
  return {
    responses: [
      { startWorkflow: { runId: startResponse.runId, started: startResponse.started, status: startResponse.status } },
      { updateWorkflow: updateResponse },
    ],
  };
}
