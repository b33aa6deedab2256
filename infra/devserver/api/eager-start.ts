/**
 * StartWorkflowExecution as clients call it, with eager workflow start: a client that shares a worker's connection
 * asks for the run's first workflow task in the start response (`request_eager_execution`), saving the worker a poll.
 * As in Temporal's history service, the task is handed out only when the namespace allows it, the start created a
 * new run whose first task is not delayed (no start delay, no cron backoff), or when the same request is retried
 * while that task is still the run's started first attempt. Otherwise the answer is a normal start and the task is
 * dispatched through its task queue.
 */
import { randomUUID } from 'node:crypto';
import { RawResponse, type Engine } from '../engine';
import { durationToMs, protoRoot, temporal, type Loose } from '../proto';
import { appendField } from './history-bytes';
import { startWorkflowExecution } from './start';
import { eagerTaskAgain, startWorkflowTaskEagerly } from './workflow-task';

type StartRequest = Loose<temporal.api.workflowservice.v1.IStartWorkflowExecutionRequest>;

const StartResponse = temporal.api.workflowservice.v1.StartWorkflowExecutionResponse;
const EAGER_TASK_FIELD = protoRoot.lookupType('temporal.api.workflowservice.v1.StartWorkflowExecutionResponse').fields[
  'eagerWorkflowTask'
]!.id;

/** Whether Temporal would start this request's first workflow task eagerly (before looking at the run). */
function eagerAllowed(engine: Engine, req: StartRequest): boolean {
  return (
    Boolean(req.requestEagerExecution) &&
    engine.eagerWorkflowStart &&
    durationToMs(req.workflowStartDelay) <= 0 &&
    !req.cronSchedule
  );
}

/** The StartWorkflowExecution handler: a start, with the first workflow task in the response when it is eager. */
export function startWorkflowExecutionHandler(engine: Engine, req: StartRequest): RawResponse | object {
  const eager = eagerAllowed(engine, req);
  // The started event of an eager task carries the start's request id, so it needs one before the run exists.
  const request = eager && !req.requestId ? { ...req, requestId: randomUUID() } : req;
  const { run, created, ...response } = startWorkflowExecution(engine, request, { holdFirstTask: eager });
  if (!eager || !response.started) return response;
  let task: Uint8Array | undefined;
  if (created) {
    task = startWorkflowTaskEagerly(engine, run, request.identity ?? '', request.requestId ?? '');
    // Not startable after all: the held task goes to its task queue like any other.
    if (!task) engine.hooks.dispatchWorkflowTask(run);
  } else {
    task = eagerTaskAgain(engine, run);
  }
  if (!task) return response;
  const head = StartResponse.encode(StartResponse.fromObject(response)).finish();
  return new RawResponse(appendField(head, EAGER_TASK_FIELD, task));
}
