/**
 * Installs a worker process's telemetry, once, before its first connection: the Temporal SDK's Runtime with the
 * worker logger (`./logger.ts`, native core lines forwarded to it) and, when metrics are on, the SDK's Prometheus
 * exporter on a loopback port of its own; the `/metrics` endpoint serving mloe's metrics and the SDK's
 * (`./metrics-server.ts`); and tracing (`./tracing.ts`) when `OTEL_*` turns it on.
 */
import { createServer } from 'node:net';

import { Runtime, type LogLevel, type Logger, type RuntimeOptions } from '@temporalio/worker';

import { sharedStepMetrics, type StepMetrics } from '../../activities/telemetry/step-metrics';
import { ensureError } from '../../core/errors';
import { isDefaultTelemetry, type TelemetryConfig } from './config';
import { createWorkerLogger, type WorkerLoggerOptions } from './logger';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import type { WorkerTracing } from './tracing';

/** A process's installed telemetry. */
export interface WorkerTelemetry {
  config: TelemetryConfig;
  /** The Runtime's logger (or, when a Runtime was installed before, the logger that would have been). */
  logger: Logger;
  metrics: StepMetrics;
  /** The `/metrics` endpoint, when metrics are on. */
  metricsServer?: MetricsServer;
  /** The SDK's own Prometheus endpoint, scraped by the metrics server; absent when the Runtime was installed before. */
  sdkMetricsUrl?: string;
  /** Tracing, when it is on. */
  tracing?: WorkerTracing;
  /** Stops the metrics endpoint and flushes and stops tracing. */
  shutdown(): Promise<void>;
}

/** A free loopback port for the SDK's Prometheus exporter (the core binds it itself, and cannot report port 0's pick). */
async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port for the SDK metrics exporter');
  return address.port;
}

/** Options of {@link installWorkerTelemetry}. */
export interface InstallTelemetryOptions extends WorkerLoggerOptions {
  /** Where a Runtime installed earlier is reported; the logger's `warn` by default. */
  warn?: (message: string) => void;
}

/**
 * Installs telemetry as `config` says. Must run before the process's first `NativeConnection` (which installs a
 * default Runtime); if a Runtime exists already, the SDK's metrics and the log settings cannot apply and a warning
 * says so, and the rest (mloe's metrics, traces) still works.
 */
export async function installWorkerTelemetry(
  config: TelemetryConfig,
  options: InstallTelemetryOptions = {},
): Promise<WorkerTelemetry> {
  const logger = createWorkerLogger(config.log, options);
  const level = config.log.level.toUpperCase() as LogLevel;
  const sdkPort = config.metrics === undefined ? undefined : await freeLoopbackPort();
  const runtimeOptions: RuntimeOptions = {
    logger,
    telemetryOptions: {
      logging: { filter: { core: level, other: 'ERROR' }, forward: {} },
      ...(sdkPort === undefined ? {} : { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkPort}` } } }),
    },
  };
  let installed = true;
  try {
    Runtime.install(runtimeOptions);
  } catch (error) {
    installed = false;
    // With the defaults nothing is lost (an embedding process, a test setup, installed its own Runtime): say nothing.
    if (!isDefaultTelemetry(config)) {
      (options.warn ?? ((message: string): void => void logger.warn(message)))(
        `telemetry: the Temporal SDK's Runtime was installed before (${ensureError(error).message}); its metrics are not served and its logs keep their settings`,
      );
    }
  }
  const sdkMetricsUrl = installed && sdkPort !== undefined ? `http://127.0.0.1:${sdkPort}/metrics` : undefined;
  const metrics = sharedStepMetrics();
  // Loaded only by workers that trace: the OpenTelemetry SDK and exporter are large.
  const tracing =
    config.tracing === undefined
      ? undefined
      : // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('./tracing') as typeof import('./tracing')).startTracing(config.tracing);
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer =
      config.metrics === undefined
        ? undefined
        : await startMetricsServer({
            ...config.metrics,
            registry: metrics.registry,
            ...(sdkMetricsUrl === undefined ? {} : { sdkMetricsUrl }),
          });
  } catch (error) {
    await tracing?.shutdown();
    throw error;
  }
  return {
    config,
    logger,
    metrics,
    ...(metricsServer === undefined ? {} : { metricsServer }),
    ...(sdkMetricsUrl === undefined ? {} : { sdkMetricsUrl }),
    ...(tracing === undefined ? {} : { tracing }),
    async shutdown() {
      await Promise.all([metricsServer?.close(), tracing?.shutdown()]);
    },
  };
}
