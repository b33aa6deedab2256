/**
 * `mloe worker`: runs the pipeline worker against a Temporal until SIGINT or SIGTERM, then shuts it down gracefully
 * (running steps get {@link WORKER_SHUTDOWN_GRACE_MS} to finish before they are cancelled) and closes its connection.
 * The CLI loads this module only for this command.
 */
import type { NativeConnection } from '@temporalio/worker';

import { describeLineageConfig } from '../activities/lineage/config';
import { loadWorkerConfig, type ConfigEnv, type SettingFlags, type WorkerConfig } from '../workers/config';
import { createPipelineWorker, pipelineWorkerOptions } from '../workers/pipeline-worker';
import { connectNative } from './connection';
import { describeSecurity } from '../workers/temporal-client-config';
import { ensureError } from '../core/errors';
import { quietSdkLogs } from './sdk-logs';
import { nextShutdownSignal, type StartDevIo } from './start-dev';

/** How long a stopping worker lets running steps finish before cancelling them (the SDK's `shutdownGraceTime`). */
export const WORKER_SHUTDOWN_GRACE_MS = 10_000;

/** Options of {@link runWorkerCommand}. */
export interface WorkerCommandOptions {
  /** `--address`, `--namespace`, `--task-queue`, `--artifact-store`, `--concurrency`; they win over the environment. */
  flags?: SettingFlags;
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
    (config.executors === undefined ? '' : `; remote steps: ${Object.keys(config.executors).join(', ')}`)
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
      ...(options.flags === undefined ? {} : { flags: options.flags }),
    });
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  const stop = options.stop ?? nextShutdownSignal();
  quietSdkLogs();

  let connection: NativeConnection | undefined;
  try {
    connection = await connectNative(config);
    const worker = await createPipelineWorker(
      pipelineWorkerOptions(connection, config, { shutdownGraceTimeMs: WORKER_SHUTDOWN_GRACE_MS }),
    );
    io.stdout(workerReadyLine(config));
    await worker.runUntil(async () => {
      const signal = await stop;
      io.stderr(`${signal}: stopping the worker (running steps get ${WORKER_SHUTDOWN_GRACE_MS / 1000} s to finish)`);
    });
    io.stderr('worker stopped');
    return 0;
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  } finally {
    await connection?.close().catch((error: unknown) => {
      io.stderr(`warning: closing the connection: ${ensureError(error).message}`);
    });
  }
}
