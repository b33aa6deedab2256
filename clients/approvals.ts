/**
 * Promotion approvals from the client side: which runs wait for a decision (from Temporal's visibility: the
 * `MloeApproval` search attribute and the run's memo, so no worker needs to answer), and the `approve` / `reject`
 * Updates that decide (docs/promotion.md). The CLI's `mloe approvals`, `mloe approve` and `mloe reject` are thin
 * layers over these functions.
 *
 * ```
 * mloe approvals [--pipeline P]                              what waits: run, pipeline, step, model/version, since, policies
 * mloe approve RUN [--reason R] [--identity ID] [--step S]   approve (identity: --identity, MLOE_IDENTITY, the OS user)
 * mloe reject RUN --reason R [--identity ID] [--step S]      reject, with a reason
 * ```
 */
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

import { MloeError, ensureError } from '../core/errors';
import type { ApprovalDecision, ApprovalMemo, ApprovalRequest } from '../core/promotion';
import type { ConnectionConfig } from '../workers/config';
import {
  APPROVAL_MEMO_KEY,
  APPROVAL_SEARCH_ATTRIBUTE,
  APPROVAL_STATUS_VALUES,
  PIPELINE_SEARCH_ATTRIBUTE,
  RUN_PIPELINE_WORKFLOW_TYPE,
  approveUpdate,
  rejectUpdate,
} from '../workflows/types';
import { withConnectedClient } from './connection';
import { queryString } from './list';
import type { StartDevIo } from './start-dev';

/** A run waiting for approval, as `mloe approvals` lists it. */
export interface PendingApproval extends ApprovalMemo {
  /** The run id (workflow id). */
  workflowId: string;
}

/** Runs waiting for approval, oldest first (at most `limit`, 100 by default); `pipeline` narrows to one pipeline. */
export async function listApprovals(
  client: Client,
  options: { pipeline?: string; limit?: number } = {},
): Promise<PendingApproval[]> {
  const clauses = [
    `WorkflowType = ${queryString(RUN_PIPELINE_WORKFLOW_TYPE)}`,
    `ExecutionStatus = 'Running'`,
    `${APPROVAL_SEARCH_ATTRIBUTE.name} = ${queryString(APPROVAL_STATUS_VALUES.pending)}`,
    ...(options.pipeline === undefined ? [] : [`${PIPELINE_SEARCH_ATTRIBUTE.name} = ${queryString(options.pipeline)}`]),
  ];
  const limit = options.limit ?? 100;
  const rows: PendingApproval[] = [];
  for await (const execution of client.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
    const memo = memoOf(execution);
    if (memo !== undefined) rows.push({ workflowId: execution.workflowId, ...memo });
    if (rows.length >= limit) break;
  }
  return rows.sort((a, b) => a.since.localeCompare(b.since));
}

function memoOf(execution: WorkflowExecutionInfo): ApprovalMemo | undefined {
  const memo = execution.memo?.[APPROVAL_MEMO_KEY];
  if (memo === null || typeof memo !== 'object') return undefined;
  const value = memo as Partial<ApprovalMemo>;
  if (typeof value.model !== 'string' || typeof value.version !== 'string' || typeof value.since !== 'string') {
    return undefined;
  }
  return value as ApprovalMemo;
}

/** Approves the promotion a run waits for; answers the decision as the run recorded it. */
export function approvePromotion(
  client: Client,
  workflowId: string,
  request: ApprovalRequest,
): Promise<ApprovalDecision> {
  return decide(client, workflowId, 'approve', request);
}

/** Rejects the promotion a run waits for (`reason` required); answers the decision as the run recorded it. */
export function rejectPromotion(
  client: Client,
  workflowId: string,
  request: ApprovalRequest,
): Promise<ApprovalDecision> {
  if ((request.reason ?? '').trim() === '') {
    return Promise.reject(new MloeError('CONFIG_INVALID', 'a rejection needs a reason (--reason): it is recorded'));
  }
  return decide(client, workflowId, 'reject', request);
}

/**
 * Sends the update. A run that has ended, or that is not a pipeline run, is refused here with `NOT_AWAITING_APPROVAL`
 * or `RUN_NOT_FOUND` before anything is sent; the run's validator refuses the rest (no gate open) with its message.
 */
async function decide(
  client: Client,
  workflowId: string,
  kind: 'approve' | 'reject',
  request: ApprovalRequest,
): Promise<ApprovalDecision> {
  const handle = client.workflow.getHandle(workflowId);
  let status: string;
  try {
    const description = await handle.describe();
    if (description.type !== RUN_PIPELINE_WORKFLOW_TYPE) {
      throw new MloeError(
        'CONFIG_INVALID',
        `${workflowId} is not a pipeline run (it is a ${description.type} workflow)`,
      );
    }
    status = description.status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw new MloeError('RUN_NOT_FOUND', `no pipeline run ${workflowId} in namespace ${client.options.namespace}`, {
        cause: error,
      });
    }
    throw error;
  }
  if (status !== 'RUNNING') {
    throw new MloeError(
      'NOT_AWAITING_APPROVAL',
      `run ${workflowId} is not waiting for approval: it has ended (${status.toLowerCase()}); nothing was ${kind === 'approve' ? 'approved' : 'rejected'}`,
    );
  }
  try {
    return await handle.executeUpdate(kind === 'approve' ? approveUpdate : rejectUpdate, { args: [request] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
      const code = error.cause.type === 'NOT_AWAITING_APPROVAL' ? 'NOT_AWAITING_APPROVAL' : 'CONFIG_INVALID';
      throw new MloeError(code, error.cause.message, { cause: error });
    }
    if (error instanceof WorkflowNotFoundError) {
      throw new MloeError('NOT_AWAITING_APPROVAL', `run ${workflowId} is not waiting for approval: it has ended`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** `mloe approvals`: prints what waits; exit 0 (also when nothing does), 1 on errors. */
export async function runApprovals(
  options: { pipeline?: string },
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    let rows: PendingApproval[];
    try {
      rows = await listApprovals(client, options.pipeline === undefined ? {} : { pipeline: options.pipeline });
    } catch (error) {
      // A namespace where no promotion ever waited may not know the search attribute yet.
      if (!ensureError(error).message.includes(APPROVAL_SEARCH_ATTRIBUTE.name)) throw error;
      rows = [];
    }
    if (rows.length === 0) {
      io.stdout(`no runs wait for approval in namespace ${config.namespace} at ${config.address}`);
      return 0;
    }
    for (const line of approvalTable(rows)) io.stdout(line);
    return 0;
  });
}

/** The table `mloe approvals` prints. */
export function approvalTable(rows: readonly PendingApproval[]): string[] {
  const header = ['run', 'pipeline', 'step', 'model', 'version', 'champion', 'since', 'deadline', 'policies'];
  const body = rows.map((row) => [
    row.workflowId,
    row.pipeline,
    row.step,
    row.model,
    row.version,
    row.championVersion ?? '-',
    row.since.replace(/\.\d{3}Z$/, 'Z'),
    row.deadline?.replace(/\.\d{3}Z$/, 'Z') ?? '-',
    row.policies.length === 0
      ? '-'
      : row.policies.map((policy) => `${policy.name}:${policy.passed ? 'passed' : 'failed'}`).join(', '),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => (cells[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...body.map(line)];
}

/** `mloe approve` / `mloe reject`: sends the decision; exit 0, or 1 with the reason on stderr. */
export async function runDecision(
  kind: 'approve' | 'reject',
  workflowId: string,
  request: ApprovalRequest,
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    const decision =
      kind === 'approve'
        ? await approvePromotion(client, workflowId, request)
        : await rejectPromotion(client, workflowId, request);
    io.stdout(
      `${workflowId}: ${decision.decision} by ${decision.identity} at ${decision.at}` +
        (decision.reason === undefined ? '' : ` (${decision.reason})`),
    );
    return 0;
  });
}
