/**
 * The MLflow client's configuration, read from the environment once with zod, with the variable names and meanings
 * of MLflow's own clients (`mlflow/environment_variables.py`), so that one environment configures mloe and the
 * Python steps it runs alike. This is the only module that reads them ({@link MLFLOW_ENV}).
 *
 * - `MLFLOW_TRACKING_URI`: an `http://` or `https://` tracking server, optionally with a path prefix
 *   (`https://host/mlflow`) and `user:password@` credentials. Local stores (`file:`, a plain path, `sqlite:`,
 *   `postgresql:`, ...) and `databricks` URIs are refused with an error that says why and what to set instead: this
 *   client only speaks MLflow's REST API. Unset, MLflow's Python client would write to a local store; this module then
 *   reports "not configured" ({@link optionalMlflowConfigFromEnv}) or refuses ({@link mlflowConfigFromEnv}).
 * - `MLFLOW_REGISTRY_URI`: the model registry's server, the tracking server unless set.
 * - `MLFLOW_TRACKING_TOKEN` (Bearer, wins), else `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (Basic),
 *   else credentials in the URI (Basic).
 * - `MLFLOW_HTTP_REQUEST_MAX_RETRIES` (5), `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` (2 s),
 *   `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER` (1.0 s), `MLFLOW_HTTP_REQUEST_TIMEOUT` (120 s),
 *   `MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER` (true): retries and timeouts, MLflow's defaults and bounds.
 * - `MLFLOW_TRACKING_INSECURE_TLS=true`, `MLFLOW_TRACKING_CLIENT_CERT_PATH`, `MLFLOW_TRACKING_AUTH` and
 *   `MLFLOW_TRACKING_AWS_SIGV4=true` are refused: Node's `fetch` cannot turn certificate checks off per request
 *   without another dependency, and an auth plugin cannot run here. `MLFLOW_TRACKING_SERVER_CERT_PATH` is accepted
 *   only beside `NODE_EXTRA_CA_CERTS`, which is how Node trusts an extra certificate authority.
 *
 * Secrets are kept in {@link Secret}s, which print as `[redacted]`; error messages never echo them.
 */
import { z } from 'zod';

import { ConfigError } from '../../core/errors';
import { Secret } from '../lineage/config';

export { Secret };

/** Every environment variable the MLflow client reads, by setting: the one place their names are spelled. */
export const MLFLOW_ENV = {
  trackingUri: 'MLFLOW_TRACKING_URI',
  registryUri: 'MLFLOW_REGISTRY_URI',
  token: 'MLFLOW_TRACKING_TOKEN',
  username: 'MLFLOW_TRACKING_USERNAME',
  password: 'MLFLOW_TRACKING_PASSWORD',
  maxRetries: 'MLFLOW_HTTP_REQUEST_MAX_RETRIES',
  backoffFactor: 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR',
  backoffJitter: 'MLFLOW_HTTP_REQUEST_BACKOFF_JITTER',
  timeout: 'MLFLOW_HTTP_REQUEST_TIMEOUT',
  respectRetryAfter: 'MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER',
  insecureTls: 'MLFLOW_TRACKING_INSECURE_TLS',
  serverCertPath: 'MLFLOW_TRACKING_SERVER_CERT_PATH',
  clientCertPath: 'MLFLOW_TRACKING_CLIENT_CERT_PATH',
  authPlugin: 'MLFLOW_TRACKING_AUTH',
  awsSigV4: 'MLFLOW_TRACKING_AWS_SIGV4',
  nodeExtraCaCerts: 'NODE_EXTRA_CA_CERTS',
} as const;

/** MLflow's defaults (`mlflow/environment_variables.py`) and its internal upper bounds. */
export const MLFLOW_HTTP_DEFAULTS = {
  maxRetries: 5,
  maxRetriesLimit: 10,
  backoffFactorSeconds: 2,
  backoffFactorLimitSeconds: 120,
  backoffJitterSeconds: 1,
  timeoutSeconds: 120,
  /** The longest single wait between attempts, `Retry-After` included (urllib3's `backoff_max`). */
  maxDelaySeconds: 120,
} as const;

/** How the client authenticates. */
export type MlflowAuth =
  { type: 'none' } | { type: 'bearer'; token: Secret } | { type: 'basic'; username: string; password: Secret };

/** Retry policy: 429, 5xx (but 501/505), connection failures and timeouts only; never other 4xx. */
export interface MlflowRetryConfig {
  /** Attempts after the first one; 0 turns retries off. */
  maxRetries: number;
  /** The first retry waits this long; each further one twice as long as the previous. */
  backoffBaseMs: number;
  /** A uniformly random extra wait of up to this long is added to every backoff. */
  backoffJitterMs: number;
  /** No single wait is longer, `Retry-After` included. */
  maxDelayMs: number;
  /** Whether a `Retry-After` header (seconds or an HTTP date) lengthens the wait. */
  respectRetryAfter: boolean;
}

/** The parsed configuration of an MLflow client. */
export interface MlflowConfig {
  /** Base URL of the tracking server: http(s), no credentials, no trailing slash (`https://host/prefix`). */
  trackingUri: string;
  /** Base URL of the model registry server; the tracking server unless `MLFLOW_REGISTRY_URI` names another. */
  registryUri: string;
  auth: MlflowAuth;
  /** Deadline of one attempt, answer body included. */
  timeoutMs: number;
  retry: MlflowRetryConfig;
}

/** The environment as read here: names to values (`process.env` fits). */
export type MlflowEnv = Readonly<Record<string, string | undefined>>;

/** A configuration given in code (tests, the embedded server's callers): the same checks as the environment's. */
export interface MlflowConfigInput {
  trackingUri: string;
  registryUri?: string;
  token?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
  retry?: Partial<MlflowRetryConfig>;
}

const booleanText = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0'], { message: 'expected true, false, 1 or 0' }))
  .transform((value) => value === 'true' || value === '1');

function wholeNumber(max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().max(max, `expected at most ${max}`));
}

const timeoutSeconds = wholeNumber(86_400).pipe(z.number().min(1, 'expected at least 1 second'));

const jitterSeconds = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, 'expected a number of seconds such as 1.0')
  .transform(Number)
  .pipe(z.number().max(120, 'expected at most 120 seconds'));

const secretText = z
  .string()
  .min(1, 'must not be empty')
  // eslint-disable-next-line no-control-regex -- a control character in a header value is a mistake
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), { message: 'must not contain control characters' });

/** Parses one variable; a bad value is a `ConfigError` naming the variable (and its value unless secret). */
function read<T>(env: MlflowEnv, name: string, schema: z.ZodType<T, string>, secret = false): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
  const shown = secret ? '' : ` (got ${JSON.stringify(raw.length > 200 ? `${raw.slice(0, 200)}…` : raw)})`;
  throw new ConfigError(`invalid ${name}: ${reason}${shown}`, { cause: parsed.error });
}

/** A tracking or registry URI split into the base URL requests go to and the credentials it carried. */
export interface ParsedTrackingUri {
  /** `http(s)://host[:port][/prefix]`, without credentials, query or trailing slash. */
  baseUrl: string;
  /** `user:password@` of the URI, percent-decoded, when present. */
  credentials?: { username: string; password: Secret };
}

/** Removes `user:password@` from a URI for messages. */
function withoutCredentials(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

/**
 * Reads a tracking (or registry) URI as MLflow's clients do, keeping only what this client can serve: `http(s)://`
 * servers. Everything else is a `ConfigError` that says what MLflow would do with it and what to set instead.
 */
export function parseTrackingUri(uri: string, variable: string = MLFLOW_ENV.trackingUri): ParsedTrackingUri {
  const text = uri.trim();
  const shown = JSON.stringify(withoutCredentials(text));
  // `databricks` alone (no colon) means the default Databricks profile to MLflow.
  const scheme = /^databricks(-uc)?$/i.test(text)
    ? text.toLowerCase()
    : /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  const fix = `set ${variable} to the URL of an MLflow tracking server (http://host:5000), e.g. one started with \`mlflow server\` or \`mloe mlflow server\``;
  if (scheme === undefined || scheme === 'file' || /^[a-z]:[\\/]/i.test(text)) {
    throw new ConfigError(
      `unsupported ${variable}=${shown}: a local file store (MLflow's Python client writes ./mlruns there); mloe's MLflow client only speaks the REST API of a tracking server; ${fix}`,
    );
  }
  if (scheme === 'databricks' || scheme === 'databricks-uc' || scheme === 'uc') {
    throw new ConfigError(
      `unsupported ${variable}=${shown}: Databricks profiles and Unity Catalog need Databricks' own authentication, which mloe's MLflow client does not implement; ${fix} (a workspace URL https://<workspace-host> with MLFLOW_TRACKING_TOKEN set to a personal access token speaks the same REST API, untested)`,
    );
  }
  if (/^(sqlite|postgresql|postgres|mysql|mssql|oracle)(\+[a-z0-9_]+)?$/.test(scheme)) {
    throw new ConfigError(
      `unsupported ${variable}=${shown}: a database store that MLflow's Python client opens directly; mloe's MLflow client needs a tracking server in front of it (\`mlflow server --backend-store-uri <that URI>\`); ${fix}`,
    );
  }
  if (scheme !== 'http' && scheme !== 'https') {
    throw new ConfigError(
      `unsupported ${variable}=${shown}: scheme ${scheme}: is not an MLflow tracking server; ${fix}`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new ConfigError(`invalid ${variable}=${shown}: not a URL; ${fix}`, { cause: error });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ConfigError(`invalid ${variable}=${shown}: a tracking URI has no query or fragment; ${fix}`);
  }
  const credentials =
    url.username === '' && url.password === ''
      ? undefined
      : { username: decodeURIComponent(url.username), password: new Secret(decodeURIComponent(url.password)) };
  url.username = '';
  url.password = '';
  const baseUrl = url.href.replace(/\/+$/, '');
  return credentials === undefined ? { baseUrl } : { baseUrl, credentials };
}

/** The settings that turn off or replace checks this client cannot perform: refused rather than ignored. */
function refuseUnsupported(env: MlflowEnv): void {
  if (read(env, MLFLOW_ENV.insecureTls, booleanText) === true) {
    throw new ConfigError(
      `unsupported ${MLFLOW_ENV.insecureTls}=true: Node's fetch cannot skip certificate checks per request; trust the server's certificate authority with ${MLFLOW_ENV.nodeExtraCaCerts}=<ca.pem> instead, or unset it`,
    );
  }
  const serverCert = env[MLFLOW_ENV.serverCertPath];
  const extraCa = env[MLFLOW_ENV.nodeExtraCaCerts];
  if (serverCert !== undefined && serverCert !== '' && (extraCa === undefined || extraCa === '')) {
    throw new ConfigError(
      `unsupported ${MLFLOW_ENV.serverCertPath} without ${MLFLOW_ENV.nodeExtraCaCerts}: Node trusts an extra certificate authority only through ${MLFLOW_ENV.nodeExtraCaCerts}, read when the process starts; set it to the same file`,
    );
  }
  for (const name of [MLFLOW_ENV.clientCertPath, MLFLOW_ENV.authPlugin]) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      throw new ConfigError(
        `unsupported ${name}: mloe's MLflow client authenticates with ${MLFLOW_ENV.token} (Bearer) or ${MLFLOW_ENV.username}/${MLFLOW_ENV.password} (Basic) only; unset it`,
      );
    }
  }
  if (read(env, MLFLOW_ENV.awsSigV4, booleanText) === true) {
    throw new ConfigError(
      `unsupported ${MLFLOW_ENV.awsSigV4}=true: mloe's MLflow client does not sign requests with AWS SigV4; unset it`,
    );
  }
}

/** Bearer wins (MLflow: the token "takes precedence"), then Basic from the variables, then Basic from the URI. */
function authOf(
  token: string | undefined,
  username: string | undefined,
  password: string | undefined,
  fromUri: ParsedTrackingUri['credentials'],
): MlflowAuth {
  if (token !== undefined) return { type: 'bearer', token: new Secret(token) };
  if (username !== undefined || password !== undefined) {
    if (username === undefined || password === undefined) {
      throw new ConfigError(
        `${MLFLOW_ENV.username} and ${MLFLOW_ENV.password} go together: set both for Basic authentication, or neither`,
      );
    }
    return { type: 'basic', username, password: new Secret(password) };
  }
  if (fromUri !== undefined) return { type: 'basic', username: fromUri.username, password: fromUri.password };
  return { type: 'none' };
}

const retryInputSchema = z.object({
  maxRetries: z.number().int().min(0).max(MLFLOW_HTTP_DEFAULTS.maxRetriesLimit),
  backoffBaseMs: z
    .number()
    .min(0)
    .max(MLFLOW_HTTP_DEFAULTS.backoffFactorLimitSeconds * 1000),
  backoffJitterMs: z.number().min(0),
  maxDelayMs: z.number().min(0),
  respectRetryAfter: z.boolean(),
});

const configInputSchema = z.object({
  trackingUri: z.string().min(1),
  registryUri: z.string().min(1).optional(),
  token: secretText.optional(),
  username: secretText.optional(),
  password: secretText.optional(),
  timeoutMs: z.number().int().positive().optional(),
  retry: retryInputSchema.partial().optional(),
});

const DEFAULT_RETRY: MlflowRetryConfig = {
  maxRetries: MLFLOW_HTTP_DEFAULTS.maxRetries,
  backoffBaseMs: MLFLOW_HTTP_DEFAULTS.backoffFactorSeconds * 1000,
  backoffJitterMs: MLFLOW_HTTP_DEFAULTS.backoffJitterSeconds * 1000,
  maxDelayMs: MLFLOW_HTTP_DEFAULTS.maxDelaySeconds * 1000,
  respectRetryAfter: true,
};

/**
 * A configuration from values given in code, checked as the environment's are (the tracking URI's scheme, the
 * retry bounds). Unset retry settings and the timeout take MLflow's defaults.
 */
export function mlflowConfig(input: MlflowConfigInput): MlflowConfig {
  const parsed = configInputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new ConfigError(`invalid MLflow client configuration: ${problems}`, { cause: parsed.error });
  }
  const value = parsed.data;
  const tracking = parseTrackingUri(value.trackingUri, 'trackingUri');
  const registry = value.registryUri === undefined ? tracking : parseTrackingUri(value.registryUri, 'registryUri');
  const given = value.retry ?? {};
  const retry: MlflowRetryConfig = {
    maxRetries: given.maxRetries ?? DEFAULT_RETRY.maxRetries,
    backoffBaseMs: given.backoffBaseMs ?? DEFAULT_RETRY.backoffBaseMs,
    backoffJitterMs: given.backoffJitterMs ?? DEFAULT_RETRY.backoffJitterMs,
    maxDelayMs: given.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    respectRetryAfter: given.respectRetryAfter ?? DEFAULT_RETRY.respectRetryAfter,
  };
  return {
    trackingUri: tracking.baseUrl,
    registryUri: registry.baseUrl,
    auth: authOf(value.token, value.username, value.password, tracking.credentials),
    timeoutMs: value.timeoutMs ?? MLFLOW_HTTP_DEFAULTS.timeoutSeconds * 1000,
    retry,
  };
}

/**
 * The configuration from the environment, or `undefined` when `MLFLOW_TRACKING_URI` is not set (tracking is off).
 * Throws `ConfigError` (`CONFIG_INVALID`) naming the variable for any bad or unsupported value.
 */
export function optionalMlflowConfigFromEnv(env: MlflowEnv = process.env): MlflowConfig | undefined {
  const trackingText = env[MLFLOW_ENV.trackingUri];
  if (trackingText === undefined || trackingText.trim() === '') return undefined;
  refuseUnsupported(env);
  const tracking = parseTrackingUri(trackingText, MLFLOW_ENV.trackingUri);
  const registryText = env[MLFLOW_ENV.registryUri];
  const registry =
    registryText === undefined || registryText.trim() === ''
      ? tracking
      : parseTrackingUri(registryText, MLFLOW_ENV.registryUri);
  const token = read(env, MLFLOW_ENV.token, secretText, true);
  const username = read(env, MLFLOW_ENV.username, secretText, true);
  const password = read(env, MLFLOW_ENV.password, secretText, true);
  const maxRetries = read(env, MLFLOW_ENV.maxRetries, wholeNumber(MLFLOW_HTTP_DEFAULTS.maxRetriesLimit));
  const factor = read(env, MLFLOW_ENV.backoffFactor, wholeNumber(MLFLOW_HTTP_DEFAULTS.backoffFactorLimitSeconds));
  const jitter = read(env, MLFLOW_ENV.backoffJitter, jitterSeconds);
  const timeout = read(env, MLFLOW_ENV.timeout, timeoutSeconds);
  const respectRetryAfter = read(env, MLFLOW_ENV.respectRetryAfter, booleanText);
  return {
    trackingUri: tracking.baseUrl,
    registryUri: registry.baseUrl,
    auth: authOf(token, username, password, tracking.credentials),
    timeoutMs: (timeout ?? MLFLOW_HTTP_DEFAULTS.timeoutSeconds) * 1000,
    retry: {
      maxRetries: maxRetries ?? DEFAULT_RETRY.maxRetries,
      backoffBaseMs: factor === undefined ? DEFAULT_RETRY.backoffBaseMs : factor * 1000,
      backoffJitterMs: jitter === undefined ? DEFAULT_RETRY.backoffJitterMs : Math.round(jitter * 1000),
      maxDelayMs: DEFAULT_RETRY.maxDelayMs,
      respectRetryAfter: respectRetryAfter ?? true,
    },
  };
}

/**
 * The configuration from the environment; `MLFLOW_TRACKING_URI` must be set. Call it once per process and keep the
 * result. Throws `ConfigError` naming the variable for an unset, bad or unsupported value.
 */
export function mlflowConfigFromEnv(env: MlflowEnv = process.env): MlflowConfig {
  const config = optionalMlflowConfigFromEnv(env);
  if (config === undefined) {
    throw new ConfigError(
      `${MLFLOW_ENV.trackingUri} is not set: MLflow's Python client would then write to a local store, which mloe's MLflow client cannot; set it to the URL of a tracking server (http://host:5000)`,
    );
  }
  return config;
}

/** A one-line description that is safe to log: the servers and how the client authenticates, never the secret. */
export function describeMlflowConfig(config: MlflowConfig): string {
  const auth =
    config.auth.type === 'none'
      ? 'no authentication'
      : config.auth.type === 'bearer'
        ? 'Bearer token set'
        : `Basic authentication as ${config.auth.username}`;
  const registry = config.registryUri === config.trackingUri ? '' : `, registry ${config.registryUri}`;
  return `MLflow at ${config.trackingUri}${registry} (${auth}, timeout ${config.timeoutMs} ms, ${config.retry.maxRetries} retries)`;
}
