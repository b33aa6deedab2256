/**
 * Queries: answered by a worker either through the next workflow task (`queries` map) or through a query task of
 * their own (the legacy `query` field), also on closed workflows. Nothing about a query is written to history.
 */
import { randomUUID } from 'node:crypto';
import { RawResponse, type Engine, type PendingQuery, type RunRecord } from '../engine';
import { RpcError, failedPrecondition, invalidArgument, notFound } from '../errors';
import { status } from '@grpc/grpc-js';
import { WorkflowExecutionStatus, enums, temporal } from '../proto';
import { protoRoot } from '../proto';
import type { Loose, Payloads } from '../proto';
import { BLOB_SIZE_EXCEEDS_LIMIT, blobTooLarge, payloadsSize } from './payload-limits';
import { appendField, encodeHistory } from './history-bytes';
import { decodeToken, encodeToken } from './tokens';

const PollResponse = temporal.api.workflowservice.v1.PollWorkflowTaskQueueResponse;
const HISTORY_FIELD = protoRoot.lookupType('temporal.api.workflowservice.v1.PollWorkflowTaskQueueResponse').fields[
  'history'
]!.id;
const QUERY_TIMEOUT_MS = 60_000;

/** Queries to attach to the workflow task with sequence `seq` (marks them dispatched). */
export function takeQueriesForTask(run: RunRecord, seq: number): Record<string, object> | undefined {
  const out: Record<string, object> = {};
  let any = false;
  for (const q of run.queries.values()) {
    if (q.dispatched) continue;
    q.dispatched = true;
    q.taskSeq = seq;
    out[q.id] = q.query;
    any = true;
  }
  return any ? out : undefined;
}

/**
 * Answers a query with a worker's result. As Temporal's frontend does, an answer over the blob limit fails the query
 * with "Blob data size exceeds limit." instead.
 */
function answerQuery(
  engine: Engine,
  run: RunRecord,
  q: PendingQuery,
  answered: boolean,
  answer: Payloads | null | undefined,
  error: string,
): void {
  const where = { operation: 'RespondQueryTaskCompleted', workflowId: run.state.workflowId, runId: run.state.runId };
  if (answered && blobTooLarge(engine, payloadsSize(answer), where))
    q.resolve({ failure: { message: BLOB_SIZE_EXCEEDS_LIMIT } });
  else if (answered) q.resolve({ answer });
  else q.resolve({ failure: { message: error || 'query failed' } });
}

/** Resolves queries answered in a workflow task completion. */
export function resolveQueryResults(
  engine: Engine,
  run: RunRecord,
  results: Record<string, Loose<temporal.api.query.v1.IWorkflowQueryResult>>,
): void {
  for (const [id, r] of Object.entries(results)) {
    const q = run.queries.get(id);
    if (!q) continue;
    run.queries.delete(id);
    const answered = Number(r.resultType) === enums.QueryResultType.QUERY_RESULT_TYPE_ANSWERED;
    answerQuery(engine, run, q, answered, r.answer, r.errorMessage || r.failure?.message || '');
  }
}

/**
 * Gives queries that are not riding on a workflow task a query task of their own, when no task is scheduled or
 * running that they could ride on. A query task no worker answered within `limits.queryRedeliveryMs` is handed out
 * again (a task can be lost on its way to a worker: a long poll the worker gave up just as the task was handed to
 * it, a worker that stopped); without this the caller would wait out the whole query timeout. A second answer to the
 * same query is refused as already answered.
 */
export function dispatchPendingQueries(engine: Engine, run: RunRecord): void {
  const wft = run.state.wft;
  if (run.isOpen && wft) return; // they go with this task (scheduled) or after it (started)
  for (const q of run.queries.values()) {
    if (q.dispatched) continue;
    q.dispatched = true;
    q.taskSeq = 0;
    const delivery = (q.deliveries ?? 0) + 1;
    q.deliveries = delivery;
    const current = (): boolean => run.queries.get(q.id) === q && q.deliveries === delivery;
    engine.workflowMatching.enqueue(run.state.namespace, run.state.taskQueue, {
      dispatch: () => (current() ? queryTaskResponse(run, q) : undefined),
    });
    const redeliver = setTimeout(() => {
      if (!current() || q.taskSeq !== 0) return;
      q.dispatched = false;
      dispatchPendingQueries(engine, run);
    }, engine.limits.queryRedeliveryMs);
    redeliver.unref();
  }
}

function queryTaskResponse(run: RunRecord, q: PendingQuery): RawResponse {
  const s = run.state;
  const head = PollResponse.encode(
    PollResponse.fromObject({
      taskToken: encodeToken({
        kind: 'query',
        namespace: s.namespace,
        workflowId: s.workflowId,
        runId: s.runId,
        id: q.id,
      }),
      workflowExecution: { workflowId: s.workflowId, runId: s.runId },
      workflowType: { name: s.workflowType },
      previousStartedEventId: s.lastCompletedWftStartedEventId,
      startedEventId: s.lastCompletedWftStartedEventId,
      attempt: 1,
      workflowExecutionTaskQueue: { name: s.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      query: q.query,
    }),
  ).finish();
  return new RawResponse(appendField(head, HISTORY_FIELD, encodeHistory(run.history)));
}

/** QueryWorkflow. */
export async function queryWorkflow(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IQueryWorkflowRequest>,
  signal: AbortSignal,
): Promise<object> {
  const ns = engine.namespace(req.namespace).name;
  if (!req.query?.queryType) throw invalidArgument('QueryType is not set on request.');
  const run = engine.getRun(ns, req.execution?.workflowId, req.execution?.runId);
  const s = run.state;
  const reject = Number(req.queryRejectCondition ?? 0);
  const C = enums.QueryRejectCondition;
  if (
    (reject === C.QUERY_REJECT_CONDITION_NOT_OPEN && !run.isOpen) ||
    (reject === C.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY &&
      s.status !== WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING &&
      s.status !== WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED)
  ) {
    return { queryRejected: { status: s.status } };
  }
  if (!run.isOpen && s.lastCompletedWftStartedEventId === 0) {
    throw failedPrecondition('Cannot query workflow: it closed before its first workflow task completed.');
  }
  const result = await new Promise<{ answer?: unknown; failure?: { message: string } } | undefined>((resolve) => {
    const id = randomUUID();
    const timer = setTimeout(() => finish(undefined), QUERY_TIMEOUT_MS);
    const onAbort = (): void => finish(undefined);
    const finish = (r: { answer?: unknown; failure?: { message: string } } | undefined): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      run.queries.delete(id);
      resolve(r);
    };
    signal.addEventListener('abort', onAbort);
    run.queries.set(id, {
      id,
      query: {
        queryType: req.query!.queryType,
        queryArgs: req.query!.queryArgs ?? undefined,
        header: req.query!.header ?? undefined,
      },
      resolve: finish,
      dispatched: false,
      taskSeq: 0,
    });
    // A scheduled task takes it when dispatched; a running one hands it on when it closes.
    dispatchPendingQueries(engine, run);
  });
  if (!result) throw new RpcError(status.DEADLINE_EXCEEDED, 'query timed out: no worker answered');
  if (result.failure) throw invalidArgument(result.failure.message);
  return { queryResult: result.answer };
}

/** RespondQueryTaskCompleted. */
export function respondQueryTaskCompleted(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IRespondQueryTaskCompletedRequest>,
): object {
  const t = decodeToken(req.taskToken, 'query');
  const run = engine.runs.get(`${t.namespace}\u0000${t.runId}`);
  const q = run?.queries.get(String(t.id));
  if (!run || !q) throw notFound('query task not found or already answered');
  run.queries.delete(q.id);
  const answered = Number(req.completedType) === enums.QueryResultType.QUERY_RESULT_TYPE_ANSWERED;
  answerQuery(engine, run, q, answered, req.queryResult, req.errorMessage || req.failure?.message || '');
  return {};
}
