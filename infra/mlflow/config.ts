/**
 * The embedded MLflow server's configuration, parsed once with zod: `mlflow server`'s own settings (host, port,
 * backend store URI, artifacts destination, serve-artifacts, default artifact root) and the S3 settings of an
 * `s3://` destination, read from the environment variables mloe uses everywhere ({@link S3_ENV_VARS}).
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { z } from 'zod';

/** The environment variables of the S3 settings (the names mloe's worker reads too). */
export const S3_ENV_VARS = {
  /** Base URL of an S3-compatible server; unset for AWS itself. */
  endpoint: 'MLOE_S3_ENDPOINT',
  /** The region (the AWS SDK's own variable). */
  region: 'AWS_REGION',
  /** Path-style addressing, `true` or `false`; defaults to true when an endpoint is set. */
  forcePathStyle: 'MLOE_S3_FORCE_PATH_STYLE',
} as const;

/** Options of `startMlflowServer`, as `mlflow server`'s flags name them. */
export interface MlflowServerOptions {
  /** Address to bind; 127.0.0.1 by default. */
  host?: string;
  /** Port; 5000 by default, 0 picks a free one. */
  port?: number;
  /** `sqlite:///<path>` for a durable store (`sqlite:////abs/path.db` for an absolute path); in memory when absent. */
  backendStoreUri?: string;
  /** Where proxied artifacts are stored: `file:///dir`, a directory, or `s3://bucket[/prefix]`; `./mlartifacts`. */
  artifactsDestination?: string;
  /** Serve the artifact proxy and give runs `mlflow-artifacts:` URIs (default true, as in MLflow 2). */
  serveArtifacts?: boolean;
  /** Root of new experiments' artifact locations: `mlflow-artifacts:/` when serving artifacts, else `./mlruns`. */
  defaultArtifactRoot?: string;
  /** The environment the S3 settings are read from; `process.env` by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The directory relative paths are resolved against; the process's by default. */
  cwd?: string;
  /** Where the server reports failures it answers with 500 (stderr by default). */
  logError?: (line: string) => void;
}

/** The S3 settings of an `s3://` artifacts destination. */
export interface S3Settings {
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
}

/** Where proxied artifacts live. */
export type ArtifactsDestination =
  { kind: 'file'; root: string; uri: string } | { kind: 's3'; bucket: string; prefix: string; uri: string };

/** The parsed configuration. */
export interface MlflowServerConfig {
  host: string;
  port: number;
  /** The SQLite file; undefined for an in-memory store. */
  databaseFile: string | undefined;
  serveArtifacts: boolean;
  artifactsDestination: ArtifactsDestination;
  defaultArtifactRoot: string;
  s3: S3Settings;
  /** The directory relative local paths were resolved against. */
  cwd: string;
}

/** Invalid server options or settings; the message names each bad one. */
export class MlflowConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'MlflowConfigError';
  }
}

const optionsSchema = z.object({
  host: z.string().min(1, 'host must not be empty').default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(5000),
  backendStoreUri: z.string().optional(),
  artifactsDestination: z.string().min(1).optional(),
  serveArtifacts: z.boolean().default(true),
  defaultArtifactRoot: z.string().min(1).optional(),
});

const s3EnvSchema = z.object({
  [S3_ENV_VARS.endpoint]: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  [S3_ENV_VARS.region]: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'must be lowercase letters, digits and hyphens')
    .default('us-east-1'),
  [S3_ENV_VARS.forcePathStyle]: z.enum(['true', 'false'], { message: 'must be true or false' }).optional(),
});

/** The SQLite file a backend store URI names (undefined: in memory). */
export function databaseFileOf(uri: string | undefined, cwd: string): string | undefined {
  if (uri === undefined || uri === '') return undefined;
  const match = /^sqlite:\/\/\/(.*)$/.exec(uri);
  if (match === null) {
    throw new MlflowConfigError(
      `unsupported --backend-store-uri ${uri}: the embedded server stores in SQLite (sqlite:///relative/path.db or ` +
        'sqlite:////absolute/path.db) or in memory (no --backend-store-uri)',
    );
  }
  const path = match[1]!;
  if (path === '' || path === ':memory:') return undefined;
  return isAbsolute(path) ? path : resolve(cwd, path);
}

function destinationOf(uri: string | undefined, cwd: string): ArtifactsDestination {
  if (uri === undefined) {
    const root = resolve(cwd, 'mlartifacts');
    return { kind: 'file', root, uri: root };
  }
  const s3 = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (s3 !== null) {
    return { kind: 's3', bucket: s3[1]!, prefix: (s3[2] ?? '').replace(/^\/+|\/+$/g, ''), uri };
  }
  if (uri.startsWith('file:')) {
    try {
      return { kind: 'file', root: fileURLToPath(uri), uri };
    } catch (error) {
      throw new MlflowConfigError(`invalid --artifacts-destination ${uri}: ${(error as Error).message}`);
    }
  }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(uri) || /^[A-Za-z]:[\\/]/.test(uri)) {
    const root = resolve(cwd, uri);
    return { kind: 'file', root, uri: root };
  }
  throw new MlflowConfigError(
    `unsupported --artifacts-destination ${uri}: use file:///absolute/dir, a directory, or s3://bucket[/prefix]`,
  );
}

/** Parses server options and the S3 settings of `env`; throws {@link MlflowConfigError} naming every problem. */
export function parseMlflowServerConfig(options: MlflowServerOptions = {}): MlflowServerConfig {
  const cwd = options.cwd ?? process.cwd();
  const parsed = optionsSchema.safeParse({
    host: options.host,
    port: options.port,
    backendStoreUri: options.backendStoreUri,
    artifactsDestination: options.artifactsDestination,
    serveArtifacts: options.serveArtifacts,
    defaultArtifactRoot: options.defaultArtifactRoot,
  });
  if (!parsed.success) throw new MlflowConfigError(`invalid MLflow server options:\n${z.prettifyError(parsed.error)}`);
  const env = s3EnvSchema.safeParse(options.env ?? process.env);
  if (!env.success) throw new MlflowConfigError(`invalid S3 settings:\n${z.prettifyError(env.error)}`);
  const endpoint = env.data[S3_ENV_VARS.endpoint];
  const pathStyle = env.data[S3_ENV_VARS.forcePathStyle];
  const { data } = parsed;
  let defaultArtifactRoot = data.defaultArtifactRoot ?? (data.serveArtifacts ? 'mlflow-artifacts:/' : 'mlruns');
  if (!/^[a-z][a-z0-9+.-]*:/i.test(defaultArtifactRoot)) defaultArtifactRoot = resolve(cwd, defaultArtifactRoot);
  return {
    host: data.host,
    port: data.port,
    databaseFile: databaseFileOf(data.backendStoreUri, cwd),
    serveArtifacts: data.serveArtifacts,
    artifactsDestination: destinationOf(data.artifactsDestination, cwd),
    defaultArtifactRoot,
    s3: {
      endpoint,
      region: env.data[S3_ENV_VARS.region],
      forcePathStyle: pathStyle === undefined ? endpoint !== undefined : pathStyle === 'true',
    },
    cwd,
  };
}
