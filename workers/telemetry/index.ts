/** Worker telemetry: structured logs, the `/metrics` endpoint, OpenTelemetry traces (docs/telemetry.md). */
export {
  DEFAULT_TELEMETRY,
  describeTelemetry,
  isDefaultTelemetry,
  telemetryConfigFromEnv,
  TELEMETRY_ENV,
  type TelemetryConfig,
  type TelemetryFlags,
  type TracingConfig,
} from './config';
export { createWorkerLogger, jsonLogLine } from './logger';
export { stepLogAttributes } from './log-attributes';
export { exposition, PROMETHEUS_CONTENT_TYPE, startMetricsServer, type MetricsServer } from './metrics-server';
export { installWorkerTelemetry, type WorkerTelemetry } from './runtime';
export type { WorkerTracing } from './tracing';
