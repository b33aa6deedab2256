/**
 * `mloe worker`: runs the pipeline worker against a Temporal until SIGINT or SIGTERM, then shuts it down gracefully
 * (running steps get {@link WORKER_SHUTDOWN_GRACE_MS} to finish before they are cancelled) and closes its connection.
 * The CLI loads this module only for this command.
 */
import type { NativeConnection } from '@temporalio/worker';

import { describeLineageConfig } from '../activities/lineage/config';
import {
  DEFAULT_SHUTDOWN_GRACE_SECONDS,
  loadWorkerConfig,
  type ConfigEnv,
  type SettingFlags,
  type WorkerConfig,
} from '../workers/config';
import { describeCodec } from '../workers/codec/config';
import { createPipelineWorker, pipelineWorkerOptions } from '../workers/pipeline-worker';
import { startTrackingSweeper } from '../workers/tracking-sweeper';
import { EXECUTOR_SWEEP_LOG_PREFIX, startExecutorSweeper } from '../workers/executor-sweeper';
import { connectNative } from './connection';
import { describeSecurity } from '../workers/temporal-client-config';
import { ensureError } from '../core/errors';
import {
  DEFAULT_TELEMETRY,
  describeTelemetry,
  installWorkerTelemetry,
  type WorkerTelemetry,
} from '../workers/telemetry';
import { nextShutdownSignal, type StartDevIo } from './start-dev';

/**
 * How long a stopping worker lets running steps finish before cancelling them (the SDK's `shutdownGraceTime`) unless
 * `MLOE_WORKER_SHUTDOWN_GRACE_SECONDS` says otherwise.
 */
export const WORKER_SHUTDOWN_GRACE_MS = DEFAULT_SHUTDOWN_GRACE_SECONDS * 1000;

/** Options of {@link runWorkerCommand}. */
export interface WorkerCommandOptions {
  /** `--address`, `--namespace`, `--task-queue`, `--artifact-store`, `--concurrency`; they win over the environment. */
  flags?: SettingFlags & { metricsPort?: string | undefined };
  /** The environment (`process.env`); see `workers/config.ts` for the variables. */
  env?: ConfigEnv;
  /** Resolves when the worker should stop; defaults to the first SIGINT or SIGTERM. */
  stop?: Promise<string>;
}

/**
 * The line `mloe worker` prints once it polls; scripts and tests may wait for it. It ends with where OpenLineage
 * events go (never an API key, nor credentials in the URL).
 */
export function workerReadyLine(config: WorkerConfig): string {
  return (
    `pipeline worker ready: address ${config.address}` +
    (config.security === undefined ? '' : ` (${describeSecurity(config.security)})`) +
    `, namespace ${config.namespace}, task queue ${config.taskQueue} ` +
    `(${config.maxConcurrentActivityTaskExecutions} concurrent steps, artifacts ${config.artifactStore.defaultUri}; ` +
    `${describeLineageConfig(config.lineage)})` +
    (config.executors === undefined ? '' : `; remote steps: ${Object.keys(config.executors).join(', ')}`) +
    (config.codec === undefined ? '' : `; ${describeCodec(config.codec)}`) +
    (config.telemetry === undefined ? '' : `; ${describeTelemetry(config.telemetry)}`)
  );
}

/**
 * Runs `mloe worker` and resolves with its exit code: 0 after a clean shutdown, 1 when the configuration (the
 * settings of `workers/config.ts` and the `OPENLINEAGE_*` variables) is invalid, the Temporal is unreachable or the
 * worker failed.
 */
export async function runWorkerCommand(io: StartDevIo, options: WorkerCommandOptions = {}): Promise<number> {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig({
      env: options.env ?? {},
      ...(options.flags === undefined ? {} : { flags: options.flags, metricsPort: options.flags.metricsPort }),
    });
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  const stop = options.stop ?? nextShutdownSignal();
  let telemetry: WorkerTelemetry | undefined;
  let connection: NativeConnection | undefined;
  try {
    telemetry = await installWorkerTelemetry(config.telemetry ?? DEFAULT_TELEMETRY);
    if (telemetry.metricsServer !== undefined) io.stdout(`metrics at ${telemetry.metricsServer.url}`);
    connection = await connectNative(config);
    const workerOptions = pipelineWorkerOptions(connection, config, {
      shutdownGraceTimeMs: config.shutdownGraceMs,
      ...(telemetry.tracing === undefined ? {} : { tracing: telemetry.tracing }),
    });
    const worker = await createPipelineWorker(workerOptions);
    io.stdout(workerReadyLine(config));
    const sweeper =
      config.tracking === undefined
        ? undefined
        : startTrackingSweeper({
            connection,
            namespace: config.namespace,
            tracking: config.tracking,
            report: (message) => io.stderr(`[mloe tracking] ${message}`),
          });
    // Jobs of runs that closed while no worker watched them (docs/executors.md, "Cancellation and clean-up").
    const executorSweeper =
      workerOptions.executors === undefined || Object.keys(workerOptions.executors).length === 0
        ? undefined
        : startExecutorSweeper({
            connection,
            namespace: config.namespace,
            executors: workerOptions.executors,
            report: (message) => io.stderr(`${EXECUTOR_SWEEP_LOG_PREFIX} ${message}`),
          });
    try {
      await worker.runUntil(async () => {
        const signal = await stop;
        io.stderr(`${signal}: stopping the worker (running steps get ${config.shutdownGraceMs / 1000} s to finish)`);
      });
    } finally {
      await sweeper?.stop();
      await executorSweeper?.stop();
    }
    io.stderr('worker stopped');
    return 0;
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  } finally {
    await connection?.close().catch((error: unknown) => {
      io.stderr(`warning: closing the connection: ${ensureError(error).message}`);
    });
    await telemetry?.shutdown().catch((error: unknown) => {
      io.stderr(`warning: flushing telemetry: ${ensureError(error).message}`);
    });
  }
}
