/**
 * Visibility benchmark (issue 3): 100,000 closed executions written straight through the engine and store (no
 * workers), then list (one page, Temporal's default 1,000) and count with a filter on a custom keyword attribute
 * and a start-time range, in process and through the official client over gRPC. The target is under 200 ms each.
 * `benchVisibility()` prints a table and returns the figures; run this file directly or from `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { startDevServer } from '../infra/devserver';
import { systemClock } from '../infra/devserver/clock';
import { Engine } from '../infra/devserver/engine';
import { createLogger } from '../infra/devserver/logger';
import { WorkflowExecutionStatus } from '../infra/devserver/proto';
import { freshRunBookkeeping, type RunState } from '../infra/devserver/state';
import { Store } from '../infra/devserver/store';
import { initVisibility } from '../infra/devserver/visibility';
import { countWorkflowExecutions, listWorkflowExecutions } from '../infra/devserver/visibility/visibility-api';

/** Figures of one benchmark run, in milliseconds. */
export interface VisibilityFigures {
  runs: number;
  insertMs: number;
  matching: number;
  listed: number;
  inProcessListMs: number;
  inProcessCountMs: number;
  grpcListMs: number;
  grpcCountMs: number;
  groupByCountMs: number;
}

const TEAMS = 20;
const BASE_TIME = Date.UTC(2025, 0, 1);
const STEP_MS = 30_000;
const CLOSED = [
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED,
  WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED,
];

function keyword(value: string): { metadata: Record<string, Uint8Array>; data: Uint8Array } {
  return {
    metadata: { encoding: Buffer.from('json/plain'), type: Buffer.from('Keyword') },
    data: Buffer.from(JSON.stringify(value)),
  };
}

/** A closed run's state as the engine keeps it (no history: visibility does not read it). */
function closedRun(i: number): RunState {
  const runId = randomUUID();
  const startTime = BASE_TIME + i * STEP_MS;
  return {
    namespace: 'default',
    workflowId: `bench-${i}`,
    runId,
    firstRunId: runId,
    workflowType: i % 2 ? 'train' : 'evaluate',
    taskQueue: 'bench',
    status: CLOSED[i % CLOSED.length]!,
    startTime,
    executionTime: startTime,
    closeTime: startTime + 5_000 + (i % 7) * 1_000,
    attempt: 1,
    workflowTaskTimeoutMs: 10_000,
    runTimeoutMs: 0,
    executionTimeoutMs: 0,
    executionExpirationTime: 0,
    cronSchedule: '',
    memo: { fields: { i: { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(String(i)) } } },
    searchAttributes: { indexedFields: { CustomKeywordField: keyword(`team-${i % TEAMS}`) } },
    requestIds: [],
    rootWorkflowId: `bench-${i}`,
    rootRunId: runId,
    ...freshRunBookkeeping(),
    stateTransitionCount: 1,
  };
}

/** Median of the timings of `fn` over `times` runs (after one warm-up), in ms. */
async function timeIt(times: number, fn: () => unknown): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** Runs the benchmark over `runs` closed executions (default 100,000) and prints the figures. */
export async function benchVisibility(runs = 100_000): Promise<VisibilityFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'mloe-vis-bench-'));
  const dbFilename = join(dir, 'visibility.db');
  try {
    // Write the executions through the engine (its flush writes the visibility rows in the same transactions).
    const store = new Store(dbFilename);
    const engine = new Engine({ clock: systemClock, store, logger: createLogger('error'), pollTimeoutMs: 1000 });
    // The visibility index is written by the listener the server registers at assembly; register it here too.
    initVisibility(engine);
    engine.addNamespace({ name: 'default', description: '', ownerEmail: '', retentionMs: 86_400_000, data: {} });
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) {
      engine.addRun(closedRun(i));
      if ((i + 1) % 10_000 === 0) engine.flush();
    }
    engine.flush();
    const insertMs = performance.now() - t0;

    const from = new Date(BASE_TIME + Math.floor(runs * 0.25) * STEP_MS).toISOString();
    const to = new Date(BASE_TIME + Math.floor(runs * 0.75) * STEP_MS).toISOString();
    const query = `CustomKeywordField = 'team-7' AND StartTime BETWEEN '${from}' AND '${to}'`;
    const list = (): { executions: unknown[] } =>
      listWorkflowExecutions(engine, { namespace: 'default', query }) as { executions: unknown[] };
    const count = (): { count: number } => countWorkflowExecutions(engine, { namespace: 'default', query }) as never;
    const listed = list().executions.length;
    const matching = count().count;
    if (matching === 0 || listed === 0) throw new Error('no execution matched: the visibility index was not written');
    const inProcessListMs = await timeIt(5, list);
    const inProcessCountMs = await timeIt(5, count);
    engine.close();
    store.close();

    // The same queries through the official client against a server that recovered the database.
    const server = await startDevServer({ port: 0, dbFilename, logLevel: 'error' });
    const connection = await Connection.connect({ address: server.address });
    try {
      const svc = connection.workflowService;
      const grpcListMs = await timeIt(5, () => svc.listWorkflowExecutions({ namespace: 'default', query }));
      const grpcCountMs = await timeIt(5, () => svc.countWorkflowExecutions({ namespace: 'default', query }));
      const groupByCountMs = await timeIt(5, () =>
        svc.countWorkflowExecutions({ namespace: 'default', query: `${query} GROUP BY ExecutionStatus` }),
      );
      const figures = {
        runs,
        insertMs,
        matching,
        listed,
        inProcessListMs,
        inProcessCountMs,
        grpcListMs,
        grpcCountMs,
        groupByCountMs,
      };
      console.log(`visibility: ${runs} closed executions (durable SQLite), query: ${query}`);
      console.log(
        `| insert (ms) | matching | listed | list in-process | count in-process | list gRPC | count gRPC | count group-by gRPC |`,
      );
      console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
      console.log(
        `| ${insertMs.toFixed(0)} | ${matching} | ${listed} | ${inProcessListMs.toFixed(1)} | ${inProcessCountMs.toFixed(1)} | ` +
          `${grpcListMs.toFixed(1)} | ${grpcCountMs.toFixed(1)} | ${groupByCountMs.toFixed(1)} |`,
      );
      return figures;
    } finally {
      await connection.close();
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchVisibility(Number(process.env.BENCH_VISIBILITY_RUNS ?? 100_000)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
