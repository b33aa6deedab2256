/**
 * OpenLineage configuration, read from the environment once with {@link lineageConfigFromEnv} — the only place that
 * reads the `OPENLINEAGE_*` variables. The names and their meaning follow the OpenLineage clients (the Python client
 * in particular), so one environment configures mloe and the other producers of a deployment alike:
 *
 * - `OPENLINEAGE_DISABLED=true` turns every event off;
 * - `OPENLINEAGE__TRANSPORT__*` (the clients' "dynamic" variables) choose a transport and its settings;
 * - otherwise the legacy `OPENLINEAGE_URL` (+ `OPENLINEAGE_ENDPOINT`, `OPENLINEAGE_API_KEY`) selects HTTP;
 * - with neither, nothing is emitted (the Python client would print to the console; mloe stays quiet).
 *
 * `OPENLINEAGE_NAMESPACE` is the job namespace, as in the Airflow and dbt integrations.
 */
import { inspect } from 'node:util';

import { z } from 'zod';

import { ConfigError } from '../../core/errors';

/** The job namespace when `OPENLINEAGE_NAMESPACE` is not set. */
export const DEFAULT_LINEAGE_NAMESPACE = 'mloe';

/** The HTTP endpoint path when none is set, as in the OpenLineage clients. */
export const DEFAULT_LINEAGE_ENDPOINT = 'api/v1/lineage';

/** The HTTP timeout when none is set, as in the OpenLineage clients (5 s). */
export const DEFAULT_LINEAGE_TIMEOUT_MS = 5_000;

/** Every environment variable mloe's lineage reads, in one place (docs/lineage.md lists them). */
export const LINEAGE_ENV = {
  disabled: 'OPENLINEAGE_DISABLED',
  namespace: 'OPENLINEAGE_NAMESPACE',
  url: 'OPENLINEAGE_URL',
  endpoint: 'OPENLINEAGE_ENDPOINT',
  apiKey: 'OPENLINEAGE_API_KEY',
  transportType: 'OPENLINEAGE__TRANSPORT__TYPE',
  transportUrl: 'OPENLINEAGE__TRANSPORT__URL',
  transportEndpoint: 'OPENLINEAGE__TRANSPORT__ENDPOINT',
  transportTimeout: 'OPENLINEAGE__TRANSPORT__TIMEOUT',
  transportAuthType: 'OPENLINEAGE__TRANSPORT__AUTH__TYPE',
  transportAuthApiKey: 'OPENLINEAGE__TRANSPORT__AUTH__API_KEY',
  transportLogFilePath: 'OPENLINEAGE__TRANSPORT__LOG_FILE_PATH',
  transportAppend: 'OPENLINEAGE__TRANSPORT__APPEND',
} as const;

/**
 * A secret string (the API key) that never shows in logs: `String()`, JSON and `util.inspect` all print
 * `[redacted]`; only {@link Secret.reveal} gives the value, to the code that builds the request header.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself; call it only where it is used (an `Authorization` header), never to log. */
  reveal(): string {
    return this.#value;
  }

  /** `[redacted]`. */
  toString(): string {
    return '[redacted]';
  }

  /** `"[redacted]"` in JSON. */
  toJSON(): string {
    return '[redacted]';
  }

  /** `[redacted]` in `console.log` and `util.inspect`. */
  [inspect.custom](): string {
    return '[redacted]';
  }
}

/** How events leave the process. */
export type LineageTransportConfig =
  /** Nothing configured, or `OPENLINEAGE_DISABLED=true`, or `type=noop`: events are dropped. */
  | { type: 'noop' }
  /** POST each event as JSON to `url` (the configured URL joined with the endpoint, like `urljoin`). */
  | { type: 'http'; url: string; timeoutMs: number; apiKey?: Secret }
  /** Append each event to a file as one line of JSON. */
  | { type: 'file'; path: string }
  /** Hand each event, as one line of JSON, to the logger at info level. */
  | { type: 'console' };

/** The parsed lineage configuration. */
export interface LineageConfig {
  /** Job namespace of every event (`OPENLINEAGE_NAMESPACE`, default `mloe`). */
  namespace: string;
  transport: LineageTransportConfig;
}

/** The environment as {@link lineageConfigFromEnv} sees it: names to values (`process.env` fits). */
export type LineageEnv = Readonly<Record<string, string | undefined>>;

const TRANSPORT_TYPES = ['http', 'file', 'console', 'noop'] as const;

const booleanText = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false'], { message: 'expected true or false' }))
  .transform((value) => value === 'true');

const httpUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' }));

const endpointPath = z
  .string()
  .trim()
  .min(1, 'expected a path such as api/v1/lineage')
  .refine((value) => !/[\s?#]/.test(value) && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value), {
    message: 'expected a path such as api/v1/lineage (no scheme, query, fragment or whitespace)',
  });

/** Seconds, as the OpenLineage clients take them (`5`, `2.5`), to whole milliseconds. */
const timeoutSeconds = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, 'expected a number of seconds, e.g. 5 or 2.5')
  .transform(Number)
  .pipe(z.number().positive('expected more than 0 seconds').max(300, 'expected at most 300 seconds'))
  .transform((seconds) => Math.max(1, Math.round(seconds * 1000)));

const apiKey = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .refine((value) => !/[\s\u0000-\u001f\u007f]/.test(value), { message: 'must not contain whitespace or controls' });

const namespace = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .refine((value) => !/\s/.test(value), { message: 'must not contain whitespace' });

/** Parses one variable with a schema; a bad value is a `ConfigError` naming the variable (never its value if secret). */
function read<T>(env: LineageEnv, name: string, schema: z.ZodType<T>, secret = false): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
  const shown = secret ? '' : ` (got ${JSON.stringify(raw.length > 200 ? `${raw.slice(0, 200)}…` : raw)})`;
  throw new ConfigError(`invalid ${name}: ${reason}${shown}`, { cause: parsed.error });
}

/** `url` joined with `endpoint` the way the Python client's `urljoin` does it. */
function joinEndpoint(url: string, endpoint: string, urlVariable: string): string {
  try {
    return new URL(endpoint, url).href;
  } catch (error) {
    throw new ConfigError(`invalid ${urlVariable}: cannot join it with endpoint ${JSON.stringify(endpoint)}`, {
      cause: error,
    });
  }
}

/**
 * Reads the lineage configuration from the environment (the only function that does). Call it once per process
 * (a worker at start-up) and keep the result. Throws `ConfigError` (`CONFIG_INVALID`) naming the variable for a bad
 * value: a boolean that is not `true`/`false`, a URL that is not http(s), a timeout that is not a positive number of
 * seconds, an unknown transport type, a transport without its required setting. With `OPENLINEAGE_DISABLED=true` the
 * transport variables are not read at all.
 */
export function lineageConfigFromEnv(env: LineageEnv = process.env): LineageConfig {
  const ns = read(env, LINEAGE_ENV.namespace, namespace) ?? DEFAULT_LINEAGE_NAMESPACE;
  // Disabled wins over everything else, so it also silences a transport configuration that is broken.
  const disabled = read(env, LINEAGE_ENV.disabled, booleanText) ?? false;
  return { namespace: ns, transport: disabled ? { type: 'noop' } : readTransport(env) };
}

function readTransport(env: LineageEnv): LineageTransportConfig {
  const type = read(
    env,
    LINEAGE_ENV.transportType,
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(TRANSPORT_TYPES, { message: `expected one of ${TRANSPORT_TYPES.join(', ')}` })),
  );
  const timeoutMs = read(env, LINEAGE_ENV.transportTimeout, timeoutSeconds) ?? DEFAULT_LINEAGE_TIMEOUT_MS;
  switch (type) {
    case undefined: {
      // The clients' legacy variables: HTTP when OPENLINEAGE_URL is set, nothing otherwise.
      const url = read(env, LINEAGE_ENV.url, httpUrl);
      if (url === undefined) return { type: 'noop' };
      const endpoint = read(env, LINEAGE_ENV.endpoint, endpointPath) ?? DEFAULT_LINEAGE_ENDPOINT;
      const key = read(env, LINEAGE_ENV.apiKey, apiKey, true);
      return {
        type: 'http',
        url: joinEndpoint(url, endpoint, LINEAGE_ENV.url),
        timeoutMs,
        ...(key === undefined ? {} : { apiKey: new Secret(key) }),
      };
    }
    case 'http': {
      const url = read(env, LINEAGE_ENV.transportUrl, httpUrl);
      if (url === undefined) {
        throw new ConfigError(
          `${LINEAGE_ENV.transportType}=http needs ${LINEAGE_ENV.transportUrl} (the OpenLineage backend's base URL)`,
        );
      }
      const endpoint = read(env, LINEAGE_ENV.transportEndpoint, endpointPath) ?? DEFAULT_LINEAGE_ENDPOINT;
      const authType = read(
        env,
        LINEAGE_ENV.transportAuthType,
        z
          .string()
          .trim()
          .pipe(z.literal('api_key', { message: 'only api_key is supported' })),
      );
      const key = read(env, LINEAGE_ENV.transportAuthApiKey, apiKey, true);
      if (key !== undefined && authType === undefined) {
        throw new ConfigError(`${LINEAGE_ENV.transportAuthApiKey} needs ${LINEAGE_ENV.transportAuthType}=api_key`);
      }
      if (authType !== undefined && key === undefined) {
        throw new ConfigError(`${LINEAGE_ENV.transportAuthType}=api_key needs ${LINEAGE_ENV.transportAuthApiKey}`);
      }
      return {
        type: 'http',
        url: joinEndpoint(url, endpoint, LINEAGE_ENV.transportUrl),
        timeoutMs,
        ...(key === undefined ? {} : { apiKey: new Secret(key) }),
      };
    }
    case 'file': {
      const path = read(env, LINEAGE_ENV.transportLogFilePath, z.string().trim().min(1));
      if (path === undefined) {
        throw new ConfigError(`${LINEAGE_ENV.transportType}=file needs ${LINEAGE_ENV.transportLogFilePath}`);
      }
      if (path.includes('\u0000') || /^[A-Za-z][A-Za-z0-9+.-]+:\/\//.test(path)) {
        throw new ConfigError(
          `invalid ${LINEAGE_ENV.transportLogFilePath}: expected a local file path (remote file systems are not supported)`,
        );
      }
      const append = read(env, LINEAGE_ENV.transportAppend, booleanText) ?? true;
      if (!append) {
        throw new ConfigError(
          `${LINEAGE_ENV.transportAppend}=false is not supported: mloe always appends one JSON event per line`,
        );
      }
      return { type: 'file', path };
    }
    case 'console':
      return { type: 'console' };
    case 'noop':
      return { type: 'noop' };
  }
}

/** A one-line description of a configuration that is safe to log (the API key shows only as set). */
export function describeLineageConfig(config: LineageConfig): string {
  const { transport } = config;
  switch (transport.type) {
    case 'noop':
      return 'OpenLineage events off';
    case 'http':
      return `OpenLineage events to ${redactUrl(transport.url)} (namespace ${config.namespace}${
        transport.apiKey === undefined ? '' : ', API key set'
      }, timeout ${transport.timeoutMs} ms)`;
    case 'file':
      return `OpenLineage events appended to ${transport.path} (namespace ${config.namespace})`;
    case 'console':
      return `OpenLineage events logged (namespace ${config.namespace})`;
  }
}

/** A URL without user info (`https://user:pass@host` → `https://host`), for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  } catch {
    return '[invalid URL]';
  }
}
