/**
 * `mloe demo`: runs the demo pipeline end to end in one process, on the embedded stack: a dev server on a free port,
 * a client, and the demo worker. Prints step progress while the workflow runs, then a summary and the metrics.
 * The CLI loads this module only when `demo` runs: it pulls in the SDK, the worker and the activities.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

import { createDemoWorker, DEMO_TASK_QUEUE } from '../workers/demo-worker';
import { demoPipeline, statusQuery, type DemoPipelineSummary, type StepStatus } from '../workflows';
import { ensureError } from './errors';
import { quietSdkLogs } from './sdk-logs';
import { startEmbeddedDevServer, type StartDevIo } from './start-dev';

/** The dataset shipped with the demo. */
export const DEFAULT_DEMO_DATA = resolve(__dirname, '..', 'pipelines', 'demo', 'data', 'housing.csv');

/** Options of {@link runDemo}. Relative paths are resolved against the current directory. */
export interface DemoOptions {
  /** The CSV to learn from; defaults to {@link DEFAULT_DEMO_DATA}. */
  dataPath?: string;
  /** Where `.mloe/artifacts` goes; defaults to the current directory. */
  artifactRoot?: string;
  /** How often to query the workflow's status for progress lines. */
  pollIntervalMs?: number;
}

/**
 * Runs the demo pipeline and reports on `io`. Resolves with the exit code: 0 when the pipeline completed, 1 (after a
 * message on stderr) when it or the embedded stack failed. Everything it started is stopped before it resolves.
 */
export async function runDemo(io: StartDevIo, options: DemoOptions = {}): Promise<number> {
  const startedAt = performance.now();
  const elapsed = (): string => `${((performance.now() - startedAt) / 1000).toFixed(2)}s`;
  const dataPath = resolve(options.dataPath ?? DEFAULT_DEMO_DATA);
  const artifactRoot = resolve(options.artifactRoot ?? '.');
  quietSdkLogs();

  const cleanups: (() => Promise<void>)[] = [];
  try {
    const server = await startEmbeddedDevServer({ ip: '127.0.0.1', port: 0, logLevel: 'warn' });
    cleanups.push(() => server.close());
    io.stdout(`[${elapsed()}] dev server running at ${server.address}`);

    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    cleanups.push(() => nativeConnection.close());

    const worker = await createDemoWorker({ connection: nativeConnection });
    io.stdout(`[${elapsed()}] worker ready on task queue ${DEMO_TASK_QUEUE} (workflows bundled)`);

    const client = new Client({ connection });
    const workflowId = `pipeline-demo-${randomUUID().slice(0, 8)}`;
    const summary = await worker.runUntil(async () => {
      const handle = await client.workflow.start(demoPipeline, {
        taskQueue: DEMO_TASK_QUEUE,
        workflowId,
        args: [{ dataPath, artifactRoot }],
        // A bound on the whole run, so a broken worker (e.g. workflow tasks failing forever) cannot hang the demo.
        workflowExecutionTimeout: '10 minutes',
      });
      io.stdout(`[${elapsed()}] started workflow ${workflowId}`);
      const progress = new ProgressPrinter((line) => io.stdout(`[${elapsed()}] ${line}`));
      const outcome = handle.result().then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      for (;;) {
        const settled = await Promise.race([outcome, delay(options.pollIntervalMs ?? 100, undefined)]);
        if (settled !== undefined) {
          if (!settled.ok) {
            await progress.updateFrom(handle);
            throw settled.error;
          }
          progress.update(settled.value.steps);
          return settled.value;
        }
        await progress.updateFrom(handle);
      }
    });

    io.stdout('');
    for (const line of formatSummary(summary)) io.stdout(line);
    io.stdout('');
    io.stdout(`demo completed in ${elapsed()}: workflow ${workflowId}, artifacts in ${artifactRoot}/.mloe/artifacts`);
    return 0;
  } catch (error) {
    io.stderr(`demo failed: ${describeError(error)}`);
    return 1;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        io.stderr(`warning: shutting down: ${ensureError(error).message}`);
      }
    }
  }
}

/** Prints a line each time a step starts, completes or fails (fast steps may skip straight to completed). */
class ProgressPrinter {
  private readonly seen = new Map<string, StepStatus['state']>();

  constructor(private readonly print: (line: string) => void) {}

  /** Queries the workflow's status and prints what changed. Best effort: a query can race the first workflow task. */
  async updateFrom(handle: WorkflowHandle<typeof demoPipeline>): Promise<void> {
    try {
      this.update((await handle.query(statusQuery)).steps);
    } catch {
      // The result, not the progress, is what counts.
    }
  }

  update(steps: readonly StepStatus[]): void {
    for (const step of steps) {
      if (step.state === 'pending' || this.seen.get(step.name) === step.state) continue;
      this.seen.set(step.name, step.state);
      // A failure is reported once, in full, when the demo ends.
      const detail =
        step.state === 'completed' && step.output !== undefined
          ? `  ${formatDuration(step)}  -> ${step.output.uri}`
          : '';
      this.print(`${step.name.padEnd(10)} ${step.state}${detail}`);
    }
  }
}

/** The summary table, the metrics and the fitted model, as lines. */
export function formatSummary(summary: DemoPipelineSummary): string[] {
  const header = ['step', 'status', 'duration', 'output (sha256)'];
  const rows = summary.steps.map((step) => [
    step.name,
    step.state,
    formatDuration(step),
    step.output === undefined ? '-' : `${step.output.digest.slice(0, 12)}…  ${formatBytes(step.output.size)}`,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 2 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();

  const { metrics, model } = summary;
  const terms = Object.entries(model.coefficients).map(
    ([name, value]) => `${value < 0 ? '-' : '+'} ${formatNumber(Math.abs(value))}·${name}`,
  );
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    `metrics (test split: ${metrics.testRows} rows, trained on ${metrics.trainRows}):`,
    `  RMSE  ${metrics.rmse.toFixed(3)}`,
    `  R²    ${metrics.r2.toFixed(4)}`,
    `model: ${model.target} = ${formatNumber(model.intercept)} ${terms.join(' ')}`,
    `model artifact:   ${summary.artifacts.model.uri}`,
    `metrics artifact: ${summary.artifacts.metrics.uri}`,
  ];
}

function formatDuration(step: StepStatus): string {
  if (step.startedAt === undefined || step.finishedAt === undefined) return '-';
  return `${Date.parse(step.finishedAt) - Date.parse(step.startedAt)} ms`;
}

function formatBytes(size: number): string {
  return size < 1024 ? `${size} B` : `${(size / 1024).toFixed(1)} KiB`;
}

function formatNumber(value: number): string {
  return Number(value.toPrecision(4)).toString();
}

/** The most useful message for a failed demo: for a failed workflow, the step's own message and code. */
function describeError(error: unknown): string {
  if (error instanceof WorkflowFailedError && error.cause !== undefined) return error.cause.message;
  return ensureError(error).message;
}
