/**
 * WorkflowService visibility methods: ListWorkflowExecutions, ScanWorkflowExecutions, CountWorkflowExecutions
 * (with `GROUP BY ExecutionStatus`), the legacy ListOpen/ListClosedWorkflowExecutions filters, and the legacy
 * GetSearchAttributes key list.
 */
import { runKey, type Engine } from '../engine';
import { invalidArgument } from '../errors';
import { WorkflowExecutionStatus, timestampToMs, type Loose, type temporal } from '../proto';
import { executionInfo } from '../api/history';
import type { Handler } from '../api/handler';
import { QueryError, parseQuery, type ColumnRef, type Expr, type Literal, type ParsedQuery } from './query-parser';
import { STATUS_NAMES, translateQuery, type TranslatedQuery } from './query-sql';
import { PREDEFINED_ATTRIBUTES, SYSTEM_ATTRIBUTES } from './search-attributes';
import { visibilityFor, type VisibilityStore } from './visibility-store';

/** Temporal's default page size for visibility listings (`frontend.visibilityMaxPageSize`). */
export const DEFAULT_PAGE_SIZE = 1000;
/** The largest page answered (Elasticsearch's result window in Temporal; SQL has no hard limit). */
export const MAX_PAGE_SIZE = 10_000;

function pageSizeOf(requested: number | null | undefined): number {
  const size = Number(requested ?? 0);
  if (size <= 0) return DEFAULT_PAGE_SIZE;
  if (size > MAX_PAGE_SIZE) throw invalidArgument(`PageSize is larger than allowed ${MAX_PAGE_SIZE}.`);
  return size;
}

/** Parses and translates a query, answering INVALID_ARGUMENT "invalid query: …" for a bad one. */
function compile(
  vis: VisibilityStore,
  namespace: string,
  query: string | ParsedQuery,
  purpose: 'list' | 'count',
): TranslatedQuery {
  try {
    return translateQuery(typeof query === 'string' ? parseQuery(query) : query, vis.registry, namespace, purpose);
  } catch (err) {
    if (err instanceof QueryError) throw invalidArgument(`invalid query: ${err.message}`);
    throw err;
  }
}

/** Lists one page: the runs are read from memory, so listed details are as fresh as DescribeWorkflowExecution's. */
function listPage(
  engine: Engine,
  namespace: string,
  query: string | ParsedQuery,
  pageSize: number | null | undefined,
  nextPageToken: Uint8Array | null | undefined,
): { executions: object[]; nextPageToken?: Buffer | undefined } {
  const vis = visibilityFor(engine.store);
  const translated = compile(vis, namespace, query, 'list');
  const page = vis.list(namespace, translated, pageSizeOf(pageSize), nextPageToken);
  const executions: object[] = [];
  for (const runId of page.runIds) {
    const run = engine.runs.get(runKey(namespace, runId));
    if (run) executions.push(executionInfo(engine, run));
  }
  return { executions, nextPageToken: page.nextPageToken };
}

/** ListWorkflowExecutions (and ScanWorkflowExecutions, which Temporal's SQL visibility answers the same way). */
export function listWorkflowExecutions(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IListWorkflowExecutionsRequest>,
): object {
  const ns = engine.namespace(req.namespace).name;
  return listPage(engine, ns, req.query ?? '', req.pageSize, req.nextPageToken);
}

/** A Keyword payload as Temporal encodes group values. */
function keywordPayload(value: string): object {
  return {
    metadata: { encoding: Buffer.from('json/plain'), type: Buffer.from('Keyword') },
    data: Buffer.from(JSON.stringify(value)),
  };
}

/** CountWorkflowExecutions. */
export function countWorkflowExecutions(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.ICountWorkflowExecutionsRequest>,
): object {
  const ns = engine.namespace(req.namespace).name;
  const vis = visibilityFor(engine.store);
  const result = vis.count(ns, compile(vis, ns, req.query ?? '', 'count'));
  return {
    count: result.count,
    groups: (result.groups ?? []).map((g) => ({
      groupValues: [keywordPayload(STATUS_NAMES.get(g.status) ?? String(g.status))],
      count: g.count,
    })),
  };
}

const col = (name: string): ColumnRef => ({ name, pos: 0 });
const str = (value: string): Literal => ({ kind: 'string', value, pos: 0 });
const nanos = (ms: number): Literal => ({ kind: 'number', text: String(BigInt(Math.trunc(ms)) * 1_000_000n), pos: 0 });
const and = (exprs: Expr[]): Expr => exprs.reduce((left, right) => ({ kind: 'and', left, right }));

type LegacyRequest = Loose<temporal.api.workflowservice.v1.IListClosedWorkflowExecutionsRequest>;

/**
 * The query a legacy ListOpen/ListClosed request stands for: open runs by start time, closed runs by close time
 * (as Temporal's SQL visibility filters them), at most one of the execution, type and status filters.
 */
function legacyQuery(req: LegacyRequest, open: boolean): ParsedQuery {
  const filters = [req.executionFilter, req.typeFilter, req.statusFilter].filter((f) => f);
  if (filters.length > 1) throw invalidArgument('Only one of ExecutionFilter, TypeFilter or StatusFilter is allowed.');
  const earliest = timestampToMs(req.startTimeFilter?.earliestTime);
  const latest = timestampToMs(req.startTimeFilter?.latestTime);
  if (latest > 0 && earliest > latest) {
    throw invalidArgument('EarliestTime in StartTimeFilter should not be larger than LatestTime.');
  }
  const running = STATUS_NAMES.get(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING)!;
  const time = col(open ? 'StartTime' : 'CloseTime');
  const where: Expr[] = [
    { kind: 'compare', column: col('ExecutionStatus'), op: open ? '=' : '!=', value: str(running) },
  ];
  if (earliest > 0) where.push({ kind: 'compare', column: time, op: '>=', value: nanos(earliest) });
  if (latest > 0) where.push({ kind: 'compare', column: time, op: '<=', value: nanos(latest) });
  if (req.executionFilter?.workflowId) {
    where.push({ kind: 'compare', column: col('WorkflowId'), op: '=', value: str(req.executionFilter.workflowId) });
    if (req.executionFilter.runId) {
      where.push({ kind: 'compare', column: col('RunId'), op: '=', value: str(req.executionFilter.runId) });
    }
  }
  if (req.typeFilter?.name) {
    where.push({ kind: 'compare', column: col('WorkflowType'), op: '=', value: str(req.typeFilter.name) });
  }
  if (req.statusFilter?.status) {
    const status = STATUS_NAMES.get(Number(req.statusFilter.status));
    if (!status || status === running) {
      throw invalidArgument('StatusFilter must be specified and must be not Running.');
    }
    where.push({ kind: 'compare', column: col('ExecutionStatus'), op: '=', value: str(status) });
  }
  // The default order (close time, then start time, newest first) is start time order for open runs.
  return { where: and(where), groupBy: [], orderBy: [] };
}

/** ListOpenWorkflowExecutions. */
export function listOpenWorkflowExecutions(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IListOpenWorkflowExecutionsRequest>,
): object {
  const ns = engine.namespace(req.namespace).name;
  return listPage(engine, ns, legacyQuery(req, true), req.maximumPageSize, req.nextPageToken);
}

/** ListClosedWorkflowExecutions. */
export function listClosedWorkflowExecutions(engine: Engine, req: LegacyRequest): object {
  const ns = engine.namespace(req.namespace).name;
  return listPage(engine, ns, legacyQuery(req, false), req.maximumPageSize, req.nextPageToken);
}

/** GetSearchAttributes: every attribute a query may name (system, predefined, and the default namespace's custom). */
export function getSearchAttributes(engine: Engine): object {
  const vis = visibilityFor(engine.store);
  const keys: Record<string, number> = {};
  for (const [name, def] of Object.entries(SYSTEM_ATTRIBUTES)) keys[name] = def.type;
  for (const [name, type] of Object.entries(PREDEFINED_ATTRIBUTES)) keys[name] = type;
  for (const [name, type] of vis.registry.custom('default')) keys[name] = type;
  return { keys };
}

/** The visibility methods of the WorkflowService table. */
export const visibilityHandlers: Record<string, Handler> = {
  ListWorkflowExecutions: listWorkflowExecutions,
  ScanWorkflowExecutions: listWorkflowExecutions,
  CountWorkflowExecutions: countWorkflowExecutions,
  ListOpenWorkflowExecutions: listOpenWorkflowExecutions,
  ListClosedWorkflowExecutions: listClosedWorkflowExecutions,
  GetSearchAttributes: (engine) => getSearchAttributes(engine),
};
