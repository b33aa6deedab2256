/**
 * Telemetry configuration of workers (logs, metrics, traces), parsed once with zod from the environment and the
 * `mloe worker` flags — the one place these variables are read:
 *
 * - `MLOE_LOG_LEVEL` (`trace`, `debug`, `info`, `warn`, `error`; `warn` by default) and `MLOE_LOG_FORMAT` (`text`, the
 *   human lines of the Temporal SDK's default logger, by default; `json`, one object per line);
 * - `MLOE_METRICS_ADDRESS` (`host:port`) or `--metrics-port <port>` (on 127.0.0.1): where `/metrics` is served; off
 *   when neither is set;
 * - OpenTelemetry's standard variables for traces: `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER` (`otlp`, `console`,
 *   `none`), `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS` /
 *   `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `OTEL_EXPORTER_OTLP_PROTOCOL` / `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`
 *   (`http/json` only), `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`. Tracing is off unless an exporter is named
 *   or an OTLP endpoint is set (the specification's default exporter, `otlp`, would send to localhost:4318 unasked).
 *
 * Header values (API keys of tracing backends) are never echoed in errors or descriptions.
 */
import { z } from 'zod';

import { ConfigError } from '../../core/errors';

/** The environment variables of worker telemetry. */
export const TELEMETRY_ENV = {
  logLevel: 'MLOE_LOG_LEVEL',
  logFormat: 'MLOE_LOG_FORMAT',
  metricsAddress: 'MLOE_METRICS_ADDRESS',
  sdkDisabled: 'OTEL_SDK_DISABLED',
  tracesExporter: 'OTEL_TRACES_EXPORTER',
  endpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  tracesEndpoint: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  headers: 'OTEL_EXPORTER_OTLP_HEADERS',
  tracesHeaders: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  protocol: 'OTEL_EXPORTER_OTLP_PROTOCOL',
  tracesProtocol: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  serviceName: 'OTEL_SERVICE_NAME',
  resourceAttributes: 'OTEL_RESOURCE_ATTRIBUTES',
} as const;

/** Log levels, lowest first (the Temporal SDK's, lower-cased). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
/** A log level. */
export type TelemetryLogLevel = (typeof LOG_LEVELS)[number];
/** Log line formats. */
export const LOG_FORMATS = ['text', 'json'] as const;

/** The service name of worker spans when `OTEL_SERVICE_NAME` is unset. */
export const DEFAULT_SERVICE_NAME = 'mloe-worker';
/** The metrics endpoint's host when only a port is given. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** Where traces go. */
export interface TracingConfig {
  /** OTLP/HTTP (JSON) to `otlpUrl`, and/or the console. */
  exporters: ('otlp' | 'console')[];
  /** The full traces URL (`…/v1/traces`); set when `exporters` has `otlp`. */
  otlpUrl?: string;
  /** Headers of OTLP requests (secrets: never logged). */
  headers: Record<string, string>;
  serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES`, parsed. */
  resourceAttributes: Record<string, string>;
}

/** A worker's telemetry settings. */
export interface TelemetryConfig {
  log: { level: TelemetryLogLevel; format: (typeof LOG_FORMATS)[number] };
  /** Where `/metrics` is served; absent, nowhere. */
  metrics?: { host: string; port: number };
  /** Absent, no traces. */
  tracing?: TracingConfig;
}

/** The flags of `mloe worker` that set telemetry. */
export interface TelemetryFlags {
  /** `--metrics-port`: serve `/metrics` on 127.0.0.1 at this port (0 picks one). */
  metricsPort?: string | undefined;
}

const portSchema = z
  .string()
  .regex(/^\d{1,5}$/, 'not a port number')
  .transform(Number)
  .pipe(z.number().int().max(65535, 'a port is at most 65535'));

const metricsAddressSchema = z.string().transform((text, context) => {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)?:(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65535) {
    context.addIssue({ code: 'custom', message: 'not a host:port address (e.g. 127.0.0.1:9464, or :9464)' });
    return z.NEVER;
  }
  return { host: match[1] ?? DEFAULT_METRICS_HOST, port };
});

/** `key=value,key=value`, values percent-decoded (W3C baggage style, as the OpenTelemetry SDKs read them). */
const keyValueListSchema = z.string().transform((text, context) => {
  const result: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const equals = part.indexOf('=');
    if (equals <= 0) {
      context.addIssue({ code: 'custom', message: 'not a key=value list (key1=value1,key2=value2)' });
      return z.NEVER;
    }
    try {
      result[decodeURIComponent(part.slice(0, equals).trim())] = decodeURIComponent(part.slice(equals + 1).trim());
    } catch {
      context.addIssue({ code: 'custom', message: 'a value is not percent-encoded correctly' });
      return z.NEVER;
    }
  }
  return result;
});

const urlSchema = z.url({ protocol: /^https?$/, message: 'not an http(s) URL' });

const envSchema = z.object({
  logLevel: z
    .string()
    .transform((text) => text.trim().toLowerCase())
    .pipe(z.enum(LOG_LEVELS, { error: `not one of ${LOG_LEVELS.join(', ')}` }))
    .default('warn'),
  logFormat: z
    .string()
    .transform((text) => text.trim().toLowerCase())
    .pipe(z.enum(LOG_FORMATS, { error: `not one of ${LOG_FORMATS.join(', ')}` }))
    .default('text'),
  metricsAddress: metricsAddressSchema.optional(),
  sdkDisabled: z.stringbool({ error: 'not true or false' }).optional(),
  tracesExporter: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((part) => part.trim().toLowerCase())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(z.enum(['otlp', 'console', 'none'], { error: 'not one of otlp, console, none' })))
    .optional(),
  endpoint: urlSchema.optional(),
  tracesEndpoint: urlSchema.optional(),
  headers: keyValueListSchema.optional(),
  tracesHeaders: keyValueListSchema.optional(),
  protocol: z
    .enum(['http/json', 'http/protobuf', 'grpc'], { error: 'not one of http/json, http/protobuf, grpc' })
    .optional(),
  tracesProtocol: z
    .enum(['http/json', 'http/protobuf', 'grpc'], { error: 'not one of http/json, http/protobuf, grpc' })
    .optional(),
  serviceName: z.string().trim().min(1, 'must not be empty').optional(),
  resourceAttributes: keyValueListSchema.optional(),
});

const FIXES: Partial<Record<keyof typeof TELEMETRY_ENV, string>> = {
  logLevel: `use one of ${LOG_LEVELS.join(', ')}`,
  logFormat: 'use json or text',
  metricsAddress: 'use host:port, e.g. 127.0.0.1:9464 (or --metrics-port 9464)',
  tracesExporter: 'use otlp, console or none (comma-separated)',
  endpoint: 'use the base URL of an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318',
  tracesEndpoint: 'use the full traces URL of an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318/v1/traces',
  protocol: 'use http/json (mloe exports OTLP over HTTP with JSON)',
  tracesProtocol: 'use http/json (mloe exports OTLP over HTTP with JSON)',
};

/** Values that are secrets, or may hold them: never echoed in an error. */
const SECRET_SETTINGS = new Set<keyof typeof TELEMETRY_ENV>(['headers', 'tracesHeaders']);

/** The value of an environment variable, empty counting as unset (as OpenTelemetry's SDKs read them). */
function envValue(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** The OTLP traces URL: the traces endpoint as given, or the base endpoint plus `v1/traces`. */
function tracesUrl(settings: z.output<typeof envSchema>): string | undefined {
  if (settings.tracesEndpoint !== undefined) return settings.tracesEndpoint;
  if (settings.endpoint === undefined) return undefined;
  return `${settings.endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Parses the telemetry settings from `env` and `flags` (`--metrics-port` wins over `MLOE_METRICS_ADDRESS`). Throws
 * one `CONFIG_INVALID` error listing every bad value with its variable and a fix.
 */
export function telemetryConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  flags: TelemetryFlags = {},
): TelemetryConfig {
  const raw = Object.fromEntries(
    Object.entries(TELEMETRY_ENV).map(([key, name]) => [key, envValue(env, name)]),
  ) as Record<keyof typeof TELEMETRY_ENV, string | undefined>;
  const problems: string[] = [];
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0] as keyof typeof TELEMETRY_ENV;
      const shown = SECRET_SETTINGS.has(key) ? '' : ` ${JSON.stringify(raw[key])}`;
      problems.push(
        `${TELEMETRY_ENV[key]}=${shown.trim()}: ${issue.message}${FIXES[key] ? `; fix: ${FIXES[key]}` : ''}`,
      );
    }
  }
  let port: number | undefined;
  if (flags.metricsPort !== undefined) {
    const result = portSchema.safeParse(flags.metricsPort);
    if (result.success) port = result.data;
    else
      problems.push(
        `--metrics-port ${JSON.stringify(flags.metricsPort)}: ${result.error.issues[0]?.message ?? 'invalid'}; fix: use a port from 0 to 65535`,
      );
  }
  const settings = parsed.success ? parsed.data : undefined;
  const protocol = settings?.tracesProtocol ?? settings?.protocol;
  if (protocol !== undefined && protocol !== 'http/json') {
    const name = settings?.tracesProtocol === undefined ? TELEMETRY_ENV.protocol : TELEMETRY_ENV.tracesProtocol;
    problems.push(`${name}=${protocol}: mloe exports traces as OTLP/HTTP with JSON; fix: use http/json, or unset it`);
  }
  if (settings === undefined || problems.length > 0) {
    throw new ConfigError(
      problems.length === 1 ? `invalid ${problems[0] ?? ''}` : `invalid configuration:\n  ${problems.join('\n  ')}`,
    );
  }
  return {
    log: { level: settings.logLevel, format: settings.logFormat },
    ...metricsOf(settings, port),
    ...tracingOf(settings),
  };
}

function metricsOf(settings: z.output<typeof envSchema>, port: number | undefined): Pick<TelemetryConfig, 'metrics'> {
  if (port !== undefined) return { metrics: { host: DEFAULT_METRICS_HOST, port } };
  return settings.metricsAddress === undefined ? {} : { metrics: settings.metricsAddress };
}

function tracingOf(settings: z.output<typeof envSchema>): Pick<TelemetryConfig, 'tracing'> {
  if (settings.sdkDisabled === true) return {};
  const url = tracesUrl(settings);
  const named = settings.tracesExporter ?? (url === undefined ? [] : ['otlp']);
  const exporters = [...new Set(named.filter((name): name is 'otlp' | 'console' => name !== 'none'))];
  if (exporters.length === 0) return {};
  const otlpUrl = url ?? 'http://localhost:4318/v1/traces';
  return {
    tracing: {
      exporters,
      ...(exporters.includes('otlp') ? { otlpUrl } : {}),
      headers: { ...settings.headers, ...settings.tracesHeaders },
      serviceName: settings.serviceName ?? DEFAULT_SERVICE_NAME,
      resourceAttributes: settings.resourceAttributes ?? {},
    },
  };
}

/** The telemetry of a worker configured with none of the variables: text logs at `warn`, no metrics, no traces. */
export const DEFAULT_TELEMETRY: TelemetryConfig = { log: { level: 'warn', format: 'text' } };

/** Whether `config` is {@link DEFAULT_TELEMETRY} (the worker configuration then leaves telemetry out). */
export function isDefaultTelemetry(config: TelemetryConfig): boolean {
  return (
    config.metrics === undefined &&
    config.tracing === undefined &&
    config.log.level === DEFAULT_TELEMETRY.log.level &&
    config.log.format === DEFAULT_TELEMETRY.log.format
  );
}

/** One line saying what telemetry is on (no header values), for the worker's ready line. */
export function describeTelemetry(config: TelemetryConfig): string {
  const parts = [`logs ${config.log.format} at ${config.log.level}`];
  if (config.metrics !== undefined) parts.push(`metrics on ${config.metrics.host}:${config.metrics.port}`);
  if (config.tracing !== undefined) {
    parts.push(
      `traces to ${config.tracing.exporters.map((name) => (name === 'otlp' ? (config.tracing?.otlpUrl ?? 'otlp') : name)).join(', ')}`,
    );
  }
  return parts.join(', ');
}
