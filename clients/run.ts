/**
 * `mloe run FILE`, `mloe status RUN` and `mloe cancel RUN`. `run` validates the spec, its configuration and
 * `--artifact-store` first (nothing connects or starts when one is bad), then starts the run: on the Temporal at
 * `TEMPORAL_ADDRESS` (a pipeline worker must be running there), or, without it, on an embedded dev server with an
 * in-process worker configured as `mloe worker` would be (`MLOE_ARTIFACT_STORE`, the S3 settings,
 * `MLOE_WORKER_CONCURRENCY`, ...). It prints each step as it starts and ends, then a summary table. `status` and
 * `cancel` use `TEMPORAL_ADDRESS` or, unset, 127.0.0.1:7233 (where `mloe dev` listens). The CLI loads this module
 * only for these commands.
 */
import { setTimeout as delay } from 'node:timers/promises';

import { WorkflowFailedError } from '@temporalio/client';

import { SpecInvalidError, formatIssue } from '../core/spec';
import {
  loadRunConfig,
  withEmbeddedTracking,
  type ConfigEnv,
  type ConnectionConfig,
  type SettingFlags,
} from '../workers/config';
import { createPipelineWorker, pipelineWorkerOptions } from '../workers/pipeline-worker';
import type { PipelineRunStatus, StepRunStatus } from '../workflows/types';
import { connectClient, withConnectedClient } from './connection';
import { embeddedMlflowOptions, trackingLine } from './embedded-mlflow';
import { startEmbeddedStack } from './embedded-stack';
import { pipelineViewUrl } from './ui';
import { pipelineViewLink } from './view-link';
import { ensureError } from '../core/errors';
import {
  cancelPipeline,
  getPipelineStatus,
  runArtifactStore,
  startPipeline,
  waitForPipeline,
  type IdConflictPolicy,
  type PipelineOutcome,
  type PipelineRun,
} from './pipelines';
import { quietSdkLogs } from './sdk-logs';
import { DEFAULT_NAMESPACE, type StartDevIo } from './start-dev';
import { loadPipelineFile } from './validate';

/** Options of {@link runRun}. */
export interface RunCommandOptions {
  /** `-p name=value`, repeatable. */
  param?: readonly string[];
  /** Wait for the run to end, printing progress (always on with the embedded server). */
  wait?: boolean;
  /** `--no-cache` (commander sets `cache: false`). */
  cache?: boolean;
  /** A directory whose `.mloe/artifacts` is the run's store (`--artifact-root`). */
  artifactRoot?: string;
  /**
   * The run's store (`--artifact-store file:///… | s3://bucket[/prefix]`). Without it or `artifactRoot`, the
   * workers' default store (`MLOE_ARTIFACT_STORE`; `.mloe/artifacts` in the working directory of an embedded run).
   */
  artifactStore?: string;
  /**
   * The environment: `TEMPORAL_ADDRESS` names the Temporal to use, `TEMPORAL_NAMESPACE` and `MLOE_TASK_QUEUE` where
   * the run goes. Without `TEMPORAL_ADDRESS`, an embedded dev server and a worker configured from the rest of the
   * worker's settings (`workers/config.ts`, `OPENLINEAGE_*`). None of them when absent.
   */
  env?: ConfigEnv;
  pollIntervalMs?: number;
  /** `--id`: the run's workflow id (a new `<pipeline>-<ULID>` when absent). */
  id?: string;
  /** `--id-conflict-policy`: when `--id` names a run already (`Fail` by default). */
  idConflictPolicy?: IdConflictPolicy;
  /** The Temporal CLI's connection flags (`--tls`, `--api-key`, `--profile`, ...; docs/security.md). */
  flags?: SettingFlags;
}

/** The address the embedded configuration is resolved with: the embedded server listens on a free local port. */
const EMBEDDED_ADDRESS = '127.0.0.1:0';

/** Runs `mloe run` and returns its exit code: 0 when the run completed (or started, without `--wait`). */
export async function runRun(file: string, options: RunCommandOptions, io: StartDevIo): Promise<number> {
  const startedAt = performance.now();
  const elapsed = (): string => `${((performance.now() - startedAt) / 1000).toFixed(2)}s`;
  try {
    await loadPipelineFile(file, options.param === undefined ? {} : { params: options.param });
  } catch (error) {
    return reportStartError(error, file, io);
  }
  const startOptions = {
    file,
    ...(options.param === undefined ? {} : { paramTexts: options.param }),
    ...(options.cache === false ? { noCache: true } : {}),
    ...(options.artifactRoot === undefined ? {} : { artifactRoot: options.artifactRoot }),
    ...(options.artifactStore === undefined ? {} : { artifactStore: options.artifactStore }),
    ...(options.id === undefined ? {} : { workflowId: options.id }),
    ...(options.idConflictPolicy === undefined ? {} : { idConflictPolicy: options.idConflictPolicy }),
  };

  const cleanups: (() => Promise<void>)[] = [];
  try {
    // Everything that can be checked is checked before anything connects, boots a server or bundles workflows.
    const config = loadRunConfig(
      { env: options.env ?? {}, ...(options.flags === undefined ? {} : { flags: options.flags }) },
      { embeddedAddress: EMBEDDED_ADDRESS },
    );
    const runStore =
      options.artifactStore === undefined && options.artifactRoot === undefined
        ? undefined
        : runArtifactStore(startOptions);
    if (!config.embedded) {
      const { connection, taskQueue } = config;
      const connected = await connectClient(connection);
      cleanups.push(() => connected.close());
      const run = await startPipeline(connected.client, { ...startOptions, taskQueue });
      io.stdout(`${startedOrFound(run)} ${run.workflowId} (pipeline ${run.pipeline}) on ${connection.address}`);
      if (options.wait !== true) {
        io.stdout(`follow it with: mloe status ${run.workflowId}`);
        return 0;
      }
      return await follow(run, io, elapsed, options.pollIntervalMs);
    }

    let { worker } = config;
    const { taskQueue } = worker;
    quietSdkLogs();
    const stack = await startEmbeddedStack({
      ...(worker.namespace === DEFAULT_NAMESPACE ? {} : { namespaces: [worker.namespace] }),
      namespace: worker.namespace,
      workflowBundle: worker.workflowBundle,
      ...(worker.codec === undefined ? {} : { codec: worker.codec }),
      ui: { ip: '127.0.0.1', port: 0 },
      // An embedded MLflow server (in memory, for as long as the command runs) unless MLFLOW_TRACKING_URI is set.
      ...(worker.tracking === undefined
        ? { mlflow: embeddedMlflowOptions({ port: 0, artifactsParent: process.cwd() }) }
        : {}),
      // One tracking configuration for the worker and the pipeline view: the user's, or the embedded server's.
      tracking: ({ mlflowUrl }) => {
        worker = withEmbeddedTracking(worker, options.env ?? {}, mlflowUrl);
        return worker.tracking;
      },
      createWorker: (connection, workflowBundle) =>
        createPipelineWorker({ ...pipelineWorkerOptions(connection, worker), workflowBundle }),
    });
    cleanups.push(() => stack.close());
    io.stdout(`[${elapsed()}] dev server running at ${stack.address} (set TEMPORAL_ADDRESS to use another)`);
    if (stack.mlflowUrl !== undefined) {
      io.stdout(
        `[${elapsed()}] MLflow tracking server (embedded, in memory until this command ends) running at ` +
          `${stack.mlflowUrl} (set MLFLOW_TRACKING_URI to keep runs in another)`,
      );
    } else io.stdout(`[${elapsed()}] ${trackingLine(worker.tracking)}`);
    // The run starts while the worker is created; its first workflow task waits in the queue until the worker polls.
    const [run] = await Promise.all([startPipeline(stack.client, { ...startOptions, taskQueue }), stack.worker]);
    io.stdout(
      `[${elapsed()}] worker ready (workflows bundled; ${worker.maxConcurrentActivityTaskExecutions} concurrent ` +
        `steps, artifacts ${runStore ?? worker.artifactStore.defaultUri})`,
    );
    io.stdout(`[${elapsed()}] ${startedOrFound(run)} ${run.workflowId}`);
    if (stack.uiUrl !== undefined) {
      io.stdout(
        `[${elapsed()}] pipeline view (while this command runs): ${pipelineViewUrl(stack.uiUrl, worker.namespace, run.workflowId)}`,
      );
    }
    return await stack.runWorkerUntil(() => follow(run, io, elapsed, options.pollIntervalMs));
  } catch (error) {
    return reportStartError(error, file, io);
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

/** `started`, or for a retried start that found its run (`--id-conflict-policy UseExisting`), `found existing run`. */
function startedOrFound(run: PipelineRun): string {
  return run.existing ? 'found existing run' : 'started';
}

/** Prints progress until the run ends, then the summary; returns 0 if it completed. */
async function follow(run: PipelineRun, io: StartDevIo, elapsed: () => string, pollIntervalMs = 200): Promise<number> {
  const outcome = await followRun(run, io, elapsed, pollIntervalMs);
  return outcome.error === undefined ? 0 : 1;
}

/**
 * Prints a line as each step starts and ends, then the summary table and how the run ended (on stderr when it did
 * not complete); resolves with the outcome.
 */
export async function followRun(
  run: PipelineRun,
  io: StartDevIo,
  elapsed: () => string,
  pollIntervalMs = 200,
): Promise<PipelineOutcome> {
  const seen = new Map<string, string>();
  const outcome: PipelineOutcome = await waitForPipeline(run.handle, {
    pollIntervalMs,
    onStatus: (status) => {
      for (const step of status.steps) {
        if (step.state === 'pending' || seen.get(step.id) === step.state) continue;
        seen.set(step.id, step.state);
        const detail = step.state === 'failed' ? `: ${step.error ?? ''}` : step.reason ? ` (${step.reason})` : '';
        io.stdout(`[${elapsed()}] ${step.id.padEnd(12)} ${step.state}${detail}`);
      }
    },
  });
  io.stdout('');
  for (const line of formatRunSummary(outcome.status)) io.stdout(line);
  io.stdout('');
  if (outcome.error === undefined) io.stdout(`${run.workflowId} completed in ${elapsed()}`);
  else io.stderr(`${run.workflowId} ${outcome.status.state}: ${describeRunError(outcome.error, outcome.status)}`);
  return outcome;
}

/**
 * The summary table: step, status, duration, cache (and attempts, and the error of a failed step), and the run's
 * MLflow run when it is tracked.
 */
export function formatRunSummary(status: PipelineRunStatus): string[] {
  const header = ['step', 'status', 'duration', 'cache', 'attempts'];
  const rows = status.steps.map((step) => [
    step.id,
    step.state,
    formatDuration(step),
    formatCache(step),
    String(step.attempts),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 2 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  const errors = status.steps.flatMap((step) => (step.error === undefined ? [] : [`  ${step.id}: ${step.error}`]));
  return [
    `pipeline ${status.pipeline}  run ${status.workflowId}  ${status.state}`,
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    ...(errors.length === 0 ? [] : ['errors:', ...errors]),
    ...status.steps.flatMap((step) => formatPromotion(status.workflowId, step)),
    ...(status.mlflow === undefined ? [] : [`mlflow: ${status.mlflow.url}`]),
  ];
}

/** A promote step's promotion in one line: what it promotes, where it is, and how to decide when it waits. */
function formatPromotion(workflowId: string, step: StepRunStatus): string[] {
  const promotion = step.promotion;
  if (promotion === undefined) return [];
  const what = `promotion ${step.id}: ${promotion.model} version ${promotion.version} → ${promotion.alias}`;
  const failed = promotion.policies.filter((policy) => !policy.passed).map((policy) => policy.name);
  switch (promotion.state) {
    case 'awaiting-approval':
    case 'escalated':
      return [
        `${what}: ${promotion.state === 'escalated' ? 'escalated, ' : ''}waiting for approval since ${promotion.awaitingSince ?? '?'}` +
          ` (mloe approve ${workflowId} | mloe reject ${workflowId} --reason R)`,
      ];
    case 'policy-failed':
      return [`${what}: policy failed: ${failed.join(', ')}`];
    case 'promoted':
      return [
        `${what}: promoted (approved by ${promotion.decision?.identity ?? '?'}; ${promotion.previousAlias} → ${promotion.previousVersion ?? 'none'})`,
      ];
    case 'rejected':
      return [`${what}: rejected by ${promotion.decision?.identity ?? '?'}`];
    case 'checking':
    case 'approved':
      return [`${what}: ${promotion.state}`];
  }
}

function formatDuration(step: StepRunStatus): string {
  if (step.durationMs === undefined) return '-';
  return step.durationMs < 1000 ? `${step.durationMs} ms` : `${(step.durationMs / 1000).toFixed(1)} s`;
}

/**
 * The cache column: hit, miss, off (`--no-cache`, `cache: false`), `reused` (taken from an earlier run by
 * `mloe rerun --from`), `hits/total` for a `foreach`, `-` if not run.
 */
function formatCache(step: StepRunStatus): string {
  if (step.cacheCounts !== undefined && step.cache !== 'disabled') {
    return `${step.cacheCounts.hits}/${step.cacheCounts.hits + step.cacheCounts.misses} hit`;
  }
  switch (step.cache) {
    case 'hit':
    case 'miss':
    case 'reused':
      return step.cache;
    case 'disabled':
      return 'off';
    default:
      return '-';
  }
}

function describeRunError(error: unknown, status: PipelineRunStatus): string {
  if (status.error !== undefined) return status.error;
  if (error instanceof WorkflowFailedError && error.cause !== undefined) return error.cause.message;
  return ensureError(error).message;
}

function reportStartError(error: unknown, file: string, io: StartDevIo): number {
  if (error instanceof SpecInvalidError) {
    for (const issue of error.issues) io.stdout(formatIssue(issue));
    const count = error.issues.length;
    io.stderr(`${file}: ${count} ${count === 1 ? 'error' : 'errors'}; nothing was started`);
    return 1;
  }
  io.stderr(`error: ${ensureError(error).message}`);
  return 1;
}

/** `mloe status RUN`: prints the run's summary table (against the Temporal of `config`). */
export async function runStatus(
  workflowId: string,
  config: ConnectionConfig,
  io: StartDevIo,
  env: ConfigEnv = {},
): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    const status = await getPipelineStatus(client, workflowId);
    for (const line of formatRunSummary(status)) io.stdout(line);
    const view = await pipelineViewLink(config, workflowId, env);
    if (view !== undefined) io.stdout(`pipeline view: ${view}`);
    return status.state === 'failed' || status.state === 'cancelled' ? 1 : 0;
  });
}

/** `mloe cancel RUN`: requests cancellation and waits briefly for the run to report it. */
export async function runCancel(workflowId: string, config: ConnectionConfig, io: StartDevIo): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    await cancelPipeline(client, workflowId);
    io.stdout(`cancellation requested for ${workflowId}`);
    for (let i = 0; i < 50; i += 1) {
      const status = await getPipelineStatus(client, workflowId).catch(() => undefined);
      if (status !== undefined && status.state !== 'running') {
        for (const line of formatRunSummary(status)) io.stdout(line);
        return 0;
      }
      await delay(200);
    }
    return 0;
  });
}
