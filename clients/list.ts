/**
 * `mloe list`: the pipeline runs of a namespace, from Temporal's visibility API (`runPipeline` workflows that are not
 * sub-pipeline children, filtered on the `MloePipeline` and `MloeStatus` search attributes the workflow keeps up to
 * date and on the execution's own status), as a table: run id, pipeline, status, start time and duration. The CLI
 * loads this module only for this command.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';

import type { ConnectionConfig } from '../workers/config';
import { PIPELINE_SEARCH_ATTRIBUTE, STATUS_SEARCH_ATTRIBUTE } from '../workflows/types';
import { withConnectedClient } from './connection';
import { ConfigError, assertNever, ensureError } from '../core/errors';
import type { StartDevIo } from './start-dev';

/**
 * The statuses `--status` accepts, as the table shows them: the values of the `MloeStatus` search attribute (see
 * `runPipeline`), and the ends a run meets without recording one (terminated, timed out).
 */
export const PIPELINE_STATUSES = ['Running', 'Completed', 'Failed', 'Cancelled', 'Terminated', 'TimedOut'] as const;

/** A value of {@link PIPELINE_STATUSES}. */
export type PipelineStatusName = (typeof PIPELINE_STATUSES)[number];

/** Other spellings `--status` accepts (lowercase): Temporal's `Canceled`, and `timed-out` / `timed_out`. */
const STATUS_ALIASES: Readonly<Record<string, PipelineStatusName>> = {
  canceled: 'Cancelled',
  'timed-out': 'TimedOut',
  timed_out: 'TimedOut',
};

/** Each status's name in Temporal's `ExecutionStatus` (which spells cancelled `Canceled`). */
const EXECUTION_STATUS_OF: Record<PipelineStatusName, string> = {
  Running: 'Running',
  Completed: 'Completed',
  Failed: 'Failed',
  Cancelled: 'Canceled',
  Terminated: 'Terminated',
  TimedOut: 'TimedOut',
};

/** Rows `mloe list` prints unless `--limit` says otherwise. */
export const DEFAULT_LIST_LIMIT = 20;
/** The most rows `--limit` may ask for. */
export const MAX_LIST_LIMIT = 10_000;

/** The workflow type of pipeline runs. */
const RUN_WORKFLOW_TYPE = 'runPipeline';

/** The flags of `mloe list` as commander hands them over. */
export interface ListFlags {
  pipeline?: string;
  status?: string;
  limit?: string;
}

const listFlagsSchema = z.object({
  pipeline: z.string().min(1, 'expected a pipeline name').optional(),
  status: z
    .string()
    .transform((text, context) => {
      const lower = text.toLowerCase();
      const status = PIPELINE_STATUSES.find((candidate) => candidate.toLowerCase() === lower) ?? STATUS_ALIASES[lower];
      if (status === undefined) {
        context.addIssue({ code: 'custom', message: `expected one of ${PIPELINE_STATUSES.join(', ')}` });
        return z.NEVER;
      }
      return status;
    })
    .optional(),
  limit: z
    .string()
    .regex(/^\d+$/, `expected a whole number from 1 to ${MAX_LIST_LIMIT}`)
    .transform(Number)
    .pipe(z.number().int().min(1, 'expected at least 1').max(MAX_LIST_LIMIT, `expected at most ${MAX_LIST_LIMIT}`))
    .default(DEFAULT_LIST_LIMIT),
});

/** The validated flags of `mloe list`. */
export type ListFilters = z.output<typeof listFlagsSchema>;

/** Validates the flags; throws `CONFIG_INVALID` naming the flag, the value and the allowed values. */
export function parseListFlags(flags: ListFlags): ListFilters {
  const parsed = listFlagsSchema.safeParse(flags);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '');
    return `--${name} ${JSON.stringify(flags[name as keyof ListFlags] ?? '')}: ${issue.message}`;
  });
  throw new ConfigError(`invalid ${problems.join('; ')}`, { cause: parsed.error });
}

/**
 * A string literal of Temporal's visibility query language: single quotes, with backslashes and quotes escaped, so a
 * value can never end the literal.
 */
export function queryString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The visibility query of `mloe list`: pipeline runs (not the `runPipeline` children that run sub-pipelines),
 * optionally of one pipeline and in one status. A status matches the runs {@link rowOf} shows with it:
 *
 * - `Running`: `MloeStatus` and the execution both running (a terminated or timed-out run keeps `MloeStatus =
 *   'Running'` forever);
 * - `Completed`, `Failed`, `Cancelled`: the `MloeStatus` the run recorded, or, for a run that closed without recording
 *   one (e.g. a workflow failure before its first step), the execution's status;
 * - `Terminated`, `TimedOut`: the execution's status (the workflow cannot record those).
 */
export function pipelineListQuery(filters: {
  pipeline?: string | undefined;
  status?: PipelineStatusName | undefined;
}): string {
  const clauses = [`WorkflowType = ${queryString(RUN_WORKFLOW_TYPE)}`, 'ParentWorkflowId IS NULL'];
  if (filters.pipeline !== undefined)
    clauses.push(`${PIPELINE_SEARCH_ATTRIBUTE.name} = ${queryString(filters.pipeline)}`);
  if (filters.status !== undefined) clauses.push(statusClause(filters.status));
  return clauses.join(' AND ');
}

/** The clause of one `--status` (see {@link pipelineListQuery}). */
function statusClause(status: PipelineStatusName): string {
  const recorded = (value: string): string => `${STATUS_SEARCH_ATTRIBUTE.name} = ${queryString(value)}`;
  const execution = `ExecutionStatus = ${queryString(EXECUTION_STATUS_OF[status])}`;
  switch (status) {
    case 'Running':
      return `${recorded('Running')} AND ${execution}`;
    case 'Completed':
    case 'Failed':
    case 'Cancelled':
      return `(${recorded(status)} OR (${recorded('Running')} AND ${execution}))`;
    case 'Terminated':
    case 'TimedOut':
      return execution;
    default:
      return assertNever(status, 'status');
  }
}

/** One row of the table. */
export interface PipelineRunRow {
  workflowId: string;
  pipeline: string;
  status: string;
  startedAt: Date;
  closedAt?: Date;
}

/** Execution statuses as `mloe` names them (the pipeline statuses, and the ends a workflow may meet besides). */
const EXECUTION_STATUS_NAMES: Record<string, string> = {
  RUNNING: 'Running',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
  TERMINATED: 'Terminated',
  TIMED_OUT: 'TimedOut',
  CONTINUED_AS_NEW: 'ContinuedAsNew',
};

/**
 * A row from a listed execution. The status is the `MloeStatus` the workflow recorded, unless the execution ended
 * without recording it (terminated, timed out): then the execution's own status.
 */
export function rowOf(execution: WorkflowExecutionInfo): PipelineRunRow {
  const recorded = execution.typedSearchAttributes.get(STATUS_SEARCH_ATTRIBUTE);
  const executionStatus = EXECUTION_STATUS_NAMES[execution.status.name] ?? execution.status.name;
  const closed = execution.status.name !== 'RUNNING';
  const memoPipeline = execution.memo?.pipeline;
  return {
    workflowId: execution.workflowId,
    pipeline:
      execution.typedSearchAttributes.get(PIPELINE_SEARCH_ATTRIBUTE) ??
      (typeof memoPipeline === 'string' ? memoPipeline : '-'),
    status: recorded === undefined || (closed && recorded === 'Running') ? executionStatus : recorded,
    startedAt: execution.startTime,
    ...(execution.closeTime === undefined ? {} : { closedAt: execution.closeTime }),
  };
}

/** `1.2 s`, `3m 05s`, `2h 03m`. */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** The table, header first; a running run's duration is the time so far. */
export function formatRunTable(rows: readonly PipelineRunRow[], now: Date = new Date()): string[] {
  const header = ['run', 'pipeline', 'status', 'started', 'duration'];
  const cells = rows.map((row) => [
    row.workflowId,
    row.pipeline,
    row.status,
    `${row.startedAt.toISOString().slice(0, 19)}Z`,
    row.closedAt === undefined
      ? `${formatElapsed(now.getTime() - row.startedAt.getTime())} so far`
      : formatElapsed(row.closedAt.getTime() - row.startedAt.getTime()),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((row) => (row[column] ?? '').length)),
  );
  const line = (values: string[]): string =>
    values
      .map((value, column) => value.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)];
}

/** Lists up to `limit` runs matching the filters, in the order the server lists them (most recent first). */
export async function listPipelineRuns(client: Client, filters: ListFilters): Promise<PipelineRunRow[]> {
  const rows: PipelineRunRow[] = [];
  const query = pipelineListQuery(filters);
  for await (const execution of client.workflow.list({ query, pageSize: Math.min(filters.limit, 1000) })) {
    rows.push(rowOf(execution));
    if (rows.length >= filters.limit) break;
  }
  return rows;
}

/** Runs `mloe list` and resolves with its exit code: 0 (also when nothing matches), 1 on bad flags or errors. */
export async function runList(flags: ListFlags, config: ConnectionConfig, io: StartDevIo): Promise<number> {
  let filters: ListFilters;
  try {
    filters = parseListFlags(flags);
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  return withConnectedClient(config, io, async (client) => {
    let rows: PipelineRunRow[];
    try {
      rows = await listPipelineRuns(client, filters);
    } catch (error) {
      // A namespace where no run ever started may not know the search attributes yet.
      const message = ensureError(error).message;
      if (!message.includes(PIPELINE_SEARCH_ATTRIBUTE.name) && !message.includes(STATUS_SEARCH_ATTRIBUTE.name))
        throw error;
      rows = [];
    }
    if (rows.length === 0) {
      io.stdout(`no pipeline runs${describeFilters(filters)} in namespace ${config.namespace} at ${config.address}`);
      return 0;
    }
    for (const line of formatRunTable(rows)) io.stdout(line);
    return 0;
  });
}

function describeFilters(filters: ListFilters): string {
  const parts = [
    ...(filters.pipeline === undefined ? [] : [`of pipeline ${filters.pipeline}`]),
    ...(filters.status === undefined ? [] : [`with status ${filters.status}`]),
  ];
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}
