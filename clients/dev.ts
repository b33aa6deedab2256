/**
 * `mloe dev`: the whole local setup in one process — the embedded dev server (on 127.0.0.1:7233 by default, where
 * `mloe status`, `list`, `logs` and `cancel` look when TEMPORAL_ADDRESS is unset), the embedded MLflow server (on
 * 127.0.0.1:5000, where `mloe models` looks when MLFLOW_TRACKING_URI is unset; not started when it is set) and a
 * pipeline worker polling the one and tracking runs in the other — until SIGINT or SIGTERM, which stop the worker
 * gracefully and then the servers. The CLI loads this module only for this command.
 */
import { z } from 'zod';

import {
  DEFAULT_MLFLOW_PORT,
  loadWorkerConfig,
  withEmbeddedTracking,
  type ConfigEnv,
  type WorkerConfig,
} from '../workers/config';
import { embeddedMlflowOptions, trackingLine } from './embedded-mlflow';
import { createPipelineWorker, pipelineWorkerOptions } from '../workers/pipeline-worker';
import { startTrackingSweeper, type TrackingSweeper } from '../workers/tracking-sweeper';
import { startEmbeddedStack, type EmbeddedStack } from './embedded-stack';
import { ConfigError, ensureError } from '../core/errors';
import { DEFAULT_TELEMETRY, installWorkerTelemetry, type WorkerTelemetry } from '../workers/telemetry';
import { DEFAULT_NAMESPACE, nextShutdownSignal, readyLine, type StartDevIo } from './start-dev';
import { WORKER_SHUTDOWN_GRACE_MS, workerReadyLine } from './worker';
import { uiLine, type EmbeddedUiOptions } from './ui';
import { portSchema, uiCodecEndpointSchema, uiPublicPathSchema } from './start-dev-config';

/** The flags of `mloe dev` as commander hands them over. */
export interface DevFlags {
  port?: string;
  ip?: string;
  dbFilename?: string;
  /** `--mlflow-port`: the embedded MLflow server's port. */
  mlflowPort?: string;
  /** `--headless`: no Web UI. */
  headless?: boolean;
  /** `--ui-port`: the Web UI's port (default: the server's port + 1000). */
  uiPort?: string;
  /** `--ui-ip`: the Web UI's address (default: `--ip`). */
  uiIp?: string;
  /** `--ui-public-path`: serve the Web UI under this path. */
  uiPublicPath?: string;
  /** `--ui-codec-endpoint`: a remote payload codec for the Web UI. */
  uiCodecEndpoint?: string;
}

const devFlagsSchema = z.object({
  port: portSchema.default(7233),
  ip: z.string().min(1, 'expected an IP address').default('127.0.0.1'),
  dbFilename: z.string().min(1, 'expected a file name').optional(),
  mlflowPort: portSchema.default(DEFAULT_MLFLOW_PORT),
  headless: z.boolean().optional(),
  uiPort: portSchema.optional(),
  uiIp: z.string().min(1, 'expected an IP address').optional(),
  uiPublicPath: uiPublicPathSchema.optional(),
  uiCodecEndpoint: uiCodecEndpointSchema.optional(),
});

/** The Web UI options of `mloe dev`'s flags (bound like the server unless `--ui-ip` says otherwise). */
function devUiOptions(flags: z.output<typeof devFlagsSchema>): EmbeddedUiOptions {
  return {
    ip: flags.uiIp ?? flags.ip,
    ...(flags.uiPort === undefined ? {} : { port: flags.uiPort }),
    ...(flags.uiPublicPath === undefined ? {} : { publicPath: flags.uiPublicPath }),
    ...(flags.uiCodecEndpoint === undefined ? {} : { codecEndpoint: flags.uiCodecEndpoint }),
  };
}

/** Options of {@link runDevCommand}. */
export interface DevCommandOptions {
  flags?: DevFlags;
  /**
   * The environment (`process.env`): the worker's settings (`workers/config.ts`) and the `OPENLINEAGE_*` variables,
   * checked before the server starts; TEMPORAL_ADDRESS is not read.
   */
  env?: ConfigEnv;
  /** Resolves when everything should stop; defaults to the first SIGINT or SIGTERM. */
  stop?: Promise<string>;
}

/** Validates the flags of `mloe dev`; throws `CONFIG_INVALID` naming the flag, the value and the fix. */
export function parseDevFlags(flags: DevFlags): z.output<typeof devFlagsSchema> {
  const parsed = devFlagsSchema.safeParse(flags);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = String(issue?.path[0] ?? 'port');
  const flag = `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
  const value = flags[name as keyof DevFlags];
  throw new ConfigError(
    `invalid ${flag} ${JSON.stringify(value ?? '')}: ${issue?.message ?? 'invalid'}; fix: ` +
      (name === 'port' || name === 'mlflowPort' || name === 'uiPort'
        ? 'give a port from 0 to 65535 (0 picks a free one)'
        : `give a non-empty ${flag}`),
    { cause: parsed.error },
  );
}

/**
 * Runs `mloe dev` and resolves with its exit code: 0 after a clean stop, 1 when the flags or the environment are
 * invalid or the server or worker could not start (e.g. the port is taken).
 */
export async function runDevCommand(io: StartDevIo, options: DevCommandOptions = {}): Promise<number> {
  let flags: z.output<typeof devFlagsSchema>;
  let config: WorkerConfig;
  try {
    flags = parseDevFlags(options.flags ?? {});
    // The address is known once the server listens (the port may be 0); the rest is checked before it starts.
    config = loadWorkerConfig({ env: options.env ?? {} }, { address: `${flags.ip}:${flags.port}` });
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  const stop = options.stop ?? nextShutdownSignal();
  let stack: EmbeddedStack | undefined;
  let sweeper: TrackingSweeper | undefined;
  let telemetry: WorkerTelemetry | undefined;
  const env = options.env ?? {};
  try {
    // The embedded worker's logs, /metrics (MLOE_METRICS_ADDRESS) and traces (OTEL_*), as `mloe worker` has them.
    telemetry = await installWorkerTelemetry(config.telemetry ?? DEFAULT_TELEMETRY);
    const { tracing } = telemetry;
    stack = await startEmbeddedStack({
      ip: flags.ip,
      port: flags.port,
      ...(flags.dbFilename === undefined ? {} : { dbFilename: flags.dbFilename }),
      ...(config.namespace === DEFAULT_NAMESPACE ? {} : { namespaces: [config.namespace] }),
      namespace: config.namespace,
      ...(config.codec === undefined ? {} : { codec: config.codec }),
      workflowBundle: { ...config.workflowBundle, tracing: tracing !== undefined },
      ...(flags.headless === true ? {} : { ui: devUiOptions(flags) }),
      // The user's MLFLOW_TRACKING_URI wins: no embedded MLflow server then.
      ...(config.tracking === undefined
        ? {
            mlflow: embeddedMlflowOptions({
              host: flags.ip,
              port: flags.mlflowPort,
              ...(flags.dbFilename === undefined ? {} : { dbFilename: flags.dbFilename }),
              artifactsParent: process.cwd(),
            }),
          }
        : {}),
      // One tracking configuration for the worker and the pipeline view: the user's, or the embedded server's.
      tracking: ({ mlflowUrl }) => {
        config = withEmbeddedTracking(config, env, mlflowUrl);
        return config.tracking;
      },
      createWorker: (connection, workflowBundle) => {
        if (config.tracking !== undefined) {
          sweeper = startTrackingSweeper({
            connection,
            namespace: config.namespace,
            tracking: config.tracking,
            report: (message) => io.stderr(`[mloe tracking] ${message}`),
          });
        }
        return createPipelineWorker({
          ...pipelineWorkerOptions(connection, config, {
            shutdownGraceTimeMs: WORKER_SHUTDOWN_GRACE_MS,
            ...(tracing === undefined ? {} : { tracing }),
          }),
          workflowBundle,
        });
      },
    });
    const { address } = stack;
    await stack.worker;
    io.stdout(readyLine(address));
    if (stack.uiUrl !== undefined) io.stdout(uiLine(stack.uiUrl));
    io.stdout(workerReadyLine({ ...config, address }));
    if (telemetry.metricsServer !== undefined) io.stdout(`worker metrics at ${telemetry.metricsServer.url}`);
    io.stdout(trackingLine(config.tracking, flags.dbFilename === undefined ? {} : { dbFilename: flags.dbFilename }));
    io.stdout(`run a pipeline on it: TEMPORAL_ADDRESS=${address} mloe run FILE`);
    await stack.runWorkerUntil(async () => {
      const signal = await stop;
      io.stderr(
        `${signal}: stopping the worker (running steps get ${WORKER_SHUTDOWN_GRACE_MS / 1000} s to finish), then the server`,
      );
    });
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    await sweeper?.stop();
    await stack?.close().catch(() => undefined);
    await telemetry?.shutdown().catch(() => undefined);
    return 1;
  }
  try {
    await sweeper?.stop();
    await stack.close();
  } catch (error) {
    io.stderr(`error: stopping: ${ensureError(error).message}`);
    return 1;
  } finally {
    await telemetry.shutdown().catch(() => undefined);
  }
  io.stderr('stopped');
  return 0;
}
