/**
 * Validation of `mloe server start-dev` flags: the one place they are interpreted, with a zod schema.
 * Kept apart from `start-dev.ts` so that `mloe --help` does not load zod.
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { ConfigError, ensureError } from '../core/errors';
import {
  CLI_LOG_LEVELS,
  DEFAULT_NAMESPACE,
  SEARCH_ATTRIBUTE_TYPES,
  createStartDevCommand,
  type StartDevConfig,
  type StartDevServerOptions,
} from './start-dev';
import { resolveUiPort, type EmbeddedUiOptions } from './ui';
import { loadTrackingConfig, type ConfigEnv } from '../workers/config';

const searchAttributeTypeByLowerName = new Map<string, (typeof SEARCH_ATTRIBUTE_TYPES)[number]>(
  SEARCH_ATTRIBUTE_TYPES.map((type) => [type.toLowerCase(), type]),
);

/** A port flag's text (`--port`, `--ui-port`, ...; also `mloe dev`'s): 0 to 65535, 0 picking a free port. */
export const portSchema = z
  .string()
  .regex(/^\d+$/, 'expected a port number')
  .transform(Number)
  .pipe(z.number().int().min(0).max(65535, 'expected a port from 0 to 65535'));

/** `--ui-public-path` (also `mloe dev`'s): a URL path such as `/temporal`, without `..`. */
export const uiPublicPathSchema = z
  .string()
  .regex(/^\/?([A-Za-z0-9._~-]+\/?)*$/, 'expected a URL path such as /temporal')
  .refine((path) => !path.split('/').includes('..'), 'a public path cannot contain ..');

/** `--ui-codec-endpoint` (also `mloe dev`'s): the http(s) URL of a remote payload codec. */
export const uiCodecEndpointSchema = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

const keyValueSchema = z
  .string()
  .regex(/^[^=]+=/, 'expected KEY=VALUE')
  .transform((text): [string, string] => {
    const at = text.indexOf('=');
    return [text.slice(0, at).trim(), text.slice(at + 1)];
  });

const searchAttributeSchema = keyValueSchema.transform(([name, type], context): [string, string] => {
  const canonical = searchAttributeTypeByLowerName.get(type.trim().toLowerCase());
  if (canonical === undefined) {
    context.addIssue({
      code: 'custom',
      message: `unknown search attribute type "${type}" for ${name}; expected one of ${SEARCH_ATTRIBUTE_TYPES.join(', ')}`,
    });
    return z.NEVER;
  }
  return [name, canonical];
});

/**
 * The flags of `start-dev` as commander hands them over.
 * `--metrics-port` serves the dev server's Prometheus metrics (docs/telemetry.md).
 */
const startDevFlagsSchema = z.object({
  ip: z.string().min(1),
  port: portSchema,
  dbFilename: z.string().min(1).optional(),
  namespace: z.array(z.string().regex(/^\S+$/, 'namespace names cannot be empty or contain whitespace')),
  // `never` is a Temporal CLI level; the closest the dev server has is `error`.
  logLevel: z.enum(CLI_LOG_LEVELS).transform((level) => (level === 'never' ? 'error' : level)),
  logFormat: z.string().min(1),
  searchAttribute: z.array(searchAttributeSchema),
  dynamicConfigValue: z.array(keyValueSchema),
  headless: z.boolean().optional(),
  uiPort: portSchema.optional(),
  uiIp: z.string().min(1).optional(),
  uiPublicPath: uiPublicPathSchema.optional(),
  uiAssetPath: z.string().min(1).optional(),
  uiCodecEndpoint: uiCodecEndpointSchema.optional(),
  httpPort: portSchema.optional(),
  httpCorsOrigins: z
    .string()
    .transform((text, context) => {
      const origins = text
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== '');
      for (const origin of origins) {
        if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
          context.addIssue({
            code: 'custom',
            message: `--http-cors-origins: "${origin}" is not an origin; write scheme://host[:port], e.g. https://tools.example.com`,
          });
        }
      }
      return origins;
    })
    .optional(),
  metricsPort: portSchema.optional(),
  sqlitePragma: z.array(keyValueSchema),
  logConfig: z.boolean().optional(),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  tlsCa: z.string().min(1).optional(),
});

/** Reads a PEM file a `--tls-*` flag names; `CONFIG_INVALID` naming the flag when it cannot be read or is not PEM. */
function readPem(flag: string, path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${flag} ${path}: cannot read it (${ensureError(error).message}); fix: give a PEM file`, {
      cause: error,
    });
  }
  if (!bytes.toString('latin1').includes('-----BEGIN ')) {
    throw new ConfigError(`${flag} ${path}: not a PEM file (no -----BEGIN line); fix: give a PEM file`);
  }
  return bytes;
}

/** The TLS material of `--tls-cert`, `--tls-key` and `--tls-ca`; undefined when none is given. */
function tlsOf(flags: {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
}): StartDevServerOptions['tls'] {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined && flags.tlsCa === undefined) return undefined;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) {
    throw new ConfigError(
      'TLS needs both --tls-cert and --tls-key (the server certificate and its private key); --tls-ca alone only ' +
        'says which client certificates to accept',
    );
  }
  return {
    cert: readPem('--tls-cert', flags.tlsCert),
    key: readPem('--tls-key', flags.tlsKey),
    ...(flags.tlsCa === undefined ? {} : { ca: readPem('--tls-ca', flags.tlsCa) }),
  };
}

/**
 * Validates what commander parsed for `start-dev` into a {@link StartDevConfig}.
 * `extraArgs` are the arguments commander did not recognise; they become warnings, not errors. `env` (`process.env`)
 * gives the pipeline view its MLflow ({@link pipelineViewMlflow}).
 */
export function resolveStartDevConfig(
  flags: unknown,
  extraArgs: readonly string[],
  env: ConfigEnv = {},
): StartDevConfig {
  const parsed = startDevFlagsSchema.safeParse(flags);
  if (!parsed.success) {
    throw new ConfigError(`invalid start-dev flags:\n${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  const flagValues = parsed.data;

  const searchAttributes: Record<string, string> = {};
  for (const [name, type] of flagValues.searchAttribute) {
    const existing = searchAttributes[name];
    if (existing !== undefined && existing !== type) {
      throw new ConfigError(`search attribute ${name} registered twice with different types (${existing}, ${type})`);
    }
    searchAttributes[name] = type;
  }

  const tls = tlsOf(flagValues);
  const server: StartDevServerOptions = {
    ip: flagValues.ip,
    port: flagValues.port,
    namespaces: [...new Set(flagValues.namespace)].filter((name) => name !== DEFAULT_NAMESPACE),
    logLevel: flagValues.logLevel,
    searchAttributes,
    ...(flagValues.dbFilename === undefined ? {} : { dbFilename: flagValues.dbFilename }),
    ...(flagValues.sqlitePragma.length === 0 ? {} : { sqlitePragmas: Object.fromEntries(flagValues.sqlitePragma) }),
    ...(flagValues.httpPort === undefined ? {} : { httpPort: flagValues.httpPort }),
    ...(flagValues.httpCorsOrigins === undefined ? {} : { httpCorsOrigins: flagValues.httpCorsOrigins }),
    ...(flagValues.metricsPort === undefined ? {} : { metricsPort: flagValues.metricsPort }),
    ...(tls === undefined ? {} : { tls }),
  };

  const ui: EmbeddedUiOptions | undefined =
    flagValues.headless === true
      ? undefined
      : {
          ip: flagValues.uiIp ?? flagValues.ip,
          ...(flagValues.uiPort === undefined ? {} : { port: flagValues.uiPort }),
          ...(flagValues.uiPublicPath === undefined ? {} : { publicPath: flagValues.uiPublicPath }),
          ...(flagValues.uiCodecEndpoint === undefined ? {} : { codecEndpoint: flagValues.uiCodecEndpoint }),
          ...(flagValues.uiAssetPath === undefined ? {} : { assetPath: flagValues.uiAssetPath }),
        };
  if (ui !== undefined) resolveUiPort(flagValues.port, ui.port);
  const warnings = extraArgs.length === 0 ? [] : [`ignoring unrecognised start-dev arguments: ${extraArgs.join(' ')}`];
  if (ui !== undefined) {
    const mlflow = pipelineViewMlflow(env);
    if (mlflow.warning !== undefined) warnings.push(mlflow.warning);
    if (mlflow.config !== undefined) ui.mlflow = mlflow.config;
  }

  return {
    server,
    ...(ui === undefined ? {} : { ui }),
    dynamicConfig: Object.fromEntries(flagValues.dynamicConfigValue),
    logFormat: flagValues.logFormat,
    warnings,
  };
}

/**
 * The MLflow the pipeline view finds step runs in: the one workers started with the same environment track to
 * (`MLFLOW_TRACKING_URI` and its credentials, read as `mloe worker` reads them), none when it is unset. A bad setting
 * is a warning, not a failure: this server is a drop-in for Temporal's, and MLflow is only the view's extra.
 */
function pipelineViewMlflow(env: ConfigEnv): { config?: EmbeddedUiOptions['mlflow']; warning?: string } {
  try {
    const tracking = loadTrackingConfig({ env });
    return tracking === undefined ? {} : { config: tracking.mlflow };
  } catch (error) {
    return { warning: `the pipeline view shows no MLflow step runs: ${ensureError(error).message}` };
  }
}

/**
 * Parses the arguments that follow `server start-dev`, exactly as the Temporal SDK passes them after those two words.
 * Pure: no output, no exit; throws {@link ConfigError} on invalid input. `env` as in {@link resolveStartDevConfig}.
 */
export function parseStartDevArgs(argv: readonly string[], env: ConfigEnv = {}): StartDevConfig {
  const command = createStartDevCommand()
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  try {
    command.parse([...argv], { from: 'user' });
  } catch (error) {
    throw new ConfigError(ensureError(error).message, { cause: error });
  }
  return resolveStartDevConfig(command.opts(), command.args, env);
}
