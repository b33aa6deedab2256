/**
 * The configuration of the pipeline worker and of the CLI commands that talk to a Temporal: parsed once, with zod,
 * from the environment and command-line flags (a flag wins over its variable). This is the one module that knows the
 * environment variables' names ({@link ENV_VARS}); callers hand it the environment (`process.env`) rather than read
 * it themselves. Every bad value is a `CONFIG_INVALID` error naming the variable or flag, the value and the fix.
 *
 * S3 credentials are never configured here: the AWS SDK's default provider chain (environment, profile, IMDS) finds
 * them, and nothing in this module logs or echoes them.
 */
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { z } from 'zod';

import type { S3StoreConfigInput } from '../activities/artifacts/config';
import { parseFileUri, parseS3Uri, uriScheme } from '../activities/artifacts/keys';
import { lineageConfigFromEnv, type LineageConfig } from '../activities/lineage/config';
import { MLFLOW_ENV, mlflowConfigFromEnv, type MlflowConfig } from '../activities/mlflow/config';
import { trackingConfigFromEnv, type TrackingConfig } from '../activities/tracking/config';
import { DEFAULT_SECRET_FILE_ROOTS } from '../activities/secrets/resolve';
import { DEFAULT_BUILTIN_STEP_IMAGE, type BuiltinStepSettings } from '../activities/steps/remote-builtin';
import { ConfigError, ensureError } from '../core/errors';
import { PIPELINE_TASK_QUEUE } from '../workflows/types';
import { codecConfigFromEnv, type CodecConfig } from './codec/config';
import { isDefaultTelemetry, telemetryConfigFromEnv, type TelemetryConfig } from './telemetry/config';
import {
  loadTemporalClientSettings,
  type ProfileSettings,
  type TemporalClientFlags,
  type TemporalSecurity,
} from './temporal-client-config';

/** The environment variables mloe reads, by setting: the one place their names are spelled. */
export const ENV_VARS = {
  /** `host:port` of the Temporal frontend. */
  address: 'TEMPORAL_ADDRESS',
  /** The Temporal namespace. */
  namespace: 'TEMPORAL_NAMESPACE',
  /** The task queue pipeline workers poll and runs are started on. */
  taskQueue: 'MLOE_TASK_QUEUE',
  /** The artifact store of runs that name none: `file:///abs/dir` or `s3://bucket[/prefix]`. */
  artifactStore: 'MLOE_ARTIFACT_STORE',
  /** Base URL of an S3-compatible server (`http://127.0.0.1:9000`); unset for AWS itself. */
  s3Endpoint: 'MLOE_S3_ENDPOINT',
  /** The S3 region (the AWS SDK's own variable). */
  s3Region: 'AWS_REGION',
  /** Path-style S3 addressing (`endpoint/bucket/key`): true or false; defaults to true when an endpoint is set. */
  s3ForcePathStyle: 'MLOE_S3_FORCE_PATH_STYLE',
  /** Activities (pipeline steps) a worker runs at once. */
  concurrency: 'MLOE_WORKER_CONCURRENCY',
  /** A pre-built workflow bundle (`npm run build:workflows`) for the worker to run instead of bundling workflows/. */
  workflowBundle: 'MLOE_WORKFLOW_BUNDLE',
  /** Where bundles of workflows/ are cached between processes; `node_modules/.cache/mloe` by default. */
  bundleCacheDir: 'MLOE_BUNDLE_CACHE_DIR',
  /**
   * Remote executors this worker runs steps on besides the local runner: `kubernetes`, `batch` (comma-separated).
   * The cluster comes from the Kubernetes client's default loading rules (`KUBECONFIG`, `~/.kube/config`, in-cluster).
   */
  executor: 'MLOE_EXECUTORS',
  /** The namespace of Kubernetes jobs whose step names none; the kubeconfig context's by default. */
  kubernetesNamespace: 'MLOE_KUBERNETES_NAMESPACE',
  /** The image of the staging containers of remote steps (`sh`, `curl`, `sha256sum`). */
  stagingImage: 'MLOE_STAGING_IMAGE',
  /** A Batch-compatible endpoint for the batch executor (tests, LocalStack); AWS when unset. */
  batchEndpoint: 'MLOE_BATCH_ENDPOINT',
  /** A CloudWatch Logs-compatible endpoint for the batch executor's logs; AWS when unset. */
  logsEndpoint: 'MLOE_CLOUDWATCH_LOGS_ENDPOINT',
  /**
   * Seconds a stopping worker (SIGTERM) lets running steps finish before cancelling them (the SDK's
   * `shutdownGraceTime`); keep a pod's `terminationGracePeriodSeconds` above it.
   */
  shutdownGrace: 'MLOE_WORKER_SHUTDOWN_GRACE_SECONDS',
  /** Directories `file:` secret references may name files under (`:`-separated); /run/secrets, /var/run/secrets. */
  secretFileRoots: 'MLOE_SECRET_FILE_ROOTS',
  /**
   * The image built-in (`uses:`) steps run in on a remote executor unless the step names one (`mloe step exec` on its
   * PATH); the published mloe image of this version by default.
   */
  builtinStepImage: 'MLOE_BUILTIN_STEP_IMAGE',
  /** The Batch job queue of built-in steps whose spec names none. */
  builtinBatchJobQueue: 'MLOE_BUILTIN_BATCH_JOB_QUEUE',
  /** The Batch job definition (its image: the built-in step image) of built-in steps whose spec names none. */
  builtinBatchJobDefinition: 'MLOE_BUILTIN_BATCH_JOB_DEFINITION',
} as const;

/** A setting this module resolves. */
export type SettingName = keyof typeof ENV_VARS;

/** The command-line flags that override a setting's environment variable. */
export const SETTING_FLAGS = {
  address: '--address',
  namespace: '--namespace',
  taskQueue: '--task-queue',
  artifactStore: '--artifact-store',
  concurrency: '--concurrency',
  workflowBundle: '--workflow-bundle',
  executor: '--executor',
} as const satisfies Partial<Record<SettingName, string>>;

/** Flag values as commander hands them over (camel-cased option names); absent flags are undefined. */
export type SettingFlags = { [K in keyof typeof SETTING_FLAGS]?: string | undefined } & TemporalClientFlags;

/** The environment to read: `process.env`, or a fixture in tests. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/** Where a setting's value came from: an environment variable, a flag, or the default. */
export type SettingOrigin =
  | (typeof ENV_VARS)[SettingName]
  | (typeof SETTING_FLAGS)[keyof typeof SETTING_FLAGS]
  | 'default'
  /** A profile of Temporal's client configuration file (`workers/temporal-client-config.ts`). */
  | `profile ${string}`;

/** The Temporal CLI's default address, where `mloe dev` listens by default. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
/** The port an address without one means (the SDK's default too). */
export const DEFAULT_TEMPORAL_PORT = 7233;
/** The namespace every Temporal has. */
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';
/** Activities a pipeline worker runs at once unless told otherwise. */
export const DEFAULT_WORKER_CONCURRENCY = 16;
/** Seconds running steps get to finish when a worker stops, unless `MLOE_WORKER_SHUTDOWN_GRACE_SECONDS` says. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;
/** The longest shutdown grace a worker may be configured for: a day. */
export const MAX_SHUTDOWN_GRACE_SECONDS = 86_400;
/** The most activities at once a worker may be configured for (beyond that, run more workers). */
export const MAX_WORKER_CONCURRENCY = 10_000;

/**
 * How to fix a bad value of each setting, said once: what to use, and what unsetting the variable gives (a flag's
 * hint leaves that out: dropping the flag gives the variable's value, not the default).
 */
const FIXES: Record<SettingName, { use: string; unset: string }> = {
  address: {
    use: `use host:port, e.g. ${DEFAULT_TEMPORAL_ADDRESS} (no scheme such as http://)`,
    unset: `unset it for ${DEFAULT_TEMPORAL_ADDRESS}`,
  },
  namespace: {
    use: 'use a Temporal namespace name (letters, digits, ".", "_", "-")',
    unset: `unset it for "${DEFAULT_TEMPORAL_NAMESPACE}"`,
  },
  taskQueue: { use: 'use a task queue name without whitespace', unset: `unset it for "${PIPELINE_TASK_QUEUE}"` },
  artifactStore: {
    use: 'use file:///absolute/dir or s3://bucket[/prefix]',
    unset: 'unset it for .mloe/artifacts in the working directory',
  },
  s3Endpoint: {
    use: 'use the http(s) base URL of the S3 server, e.g. http://127.0.0.1:9000, with credentials left to the AWS SDK (AWS_ACCESS_KEY_ID, a profile, ...)',
    unset: 'unset it for AWS',
  },
  s3Region: { use: 'use an AWS region such as us-east-1', unset: 'unset it for us-east-1' },
  s3ForcePathStyle: { use: 'use true or false', unset: 'unset it (path style whenever an S3 endpoint is set)' },
  concurrency: {
    use: `use a whole number from 1 to ${MAX_WORKER_CONCURRENCY}`,
    unset: `unset it for ${DEFAULT_WORKER_CONCURRENCY}`,
  },
  workflowBundle: {
    use: 'use the path of a bundle written by `npm run build:workflows`',
    unset: 'unset it to bundle workflows/ (cached in node_modules/.cache/mloe)',
  },
  bundleCacheDir: { use: 'use a directory path', unset: 'unset it for node_modules/.cache/mloe' },
  executor: {
    use: 'use kubernetes, batch or local, comma-separated (e.g. --executor kubernetes)',
    unset: 'unset it for local steps only',
  },
  kubernetesNamespace: { use: 'use a Kubernetes namespace name', unset: "unset it for the kubeconfig context's" },
  stagingImage: { use: 'use an image reference with sh, curl and sha256sum', unset: 'unset it for curlimages/curl' },
  batchEndpoint: { use: 'use the http(s) URL of a Batch-compatible endpoint', unset: 'unset it for AWS' },
  logsEndpoint: { use: 'use the http(s) URL of a CloudWatch Logs-compatible endpoint', unset: 'unset it for AWS' },
  shutdownGrace: {
    use: `use whole seconds from 0 to ${MAX_SHUTDOWN_GRACE_SECONDS}`,
    unset: `unset it for ${DEFAULT_SHUTDOWN_GRACE_SECONDS}`,
  },
  secretFileRoots: {
    use: 'use absolute directories separated by ":", e.g. /run/secrets:/etc/mloe/secrets',
    unset: 'unset it for /run/secrets and /var/run/secrets',
  },
  builtinStepImage: {
    use: 'use an image reference with a tag or digest, e.g. ghcr.io/mloe/mloe-worker:0.1.0',
    unset: `unset it for ${DEFAULT_BUILTIN_STEP_IMAGE}`,
  },
  builtinBatchJobQueue: { use: 'use a job queue name or ARN', unset: "unset it to require the step's batch.jobQueue" },
  builtinBatchJobDefinition: {
    use: 'use a job definition name[:revision] or ARN',
    unset: "unset it to require the step's batch.jobDefinition",
  },
};

/**
 * A container image reference as the distribution spec writes it: `[host[:port]/]path[:tag][@sha256:digest]`, the
 * path lowercase, with a tag or a digest (an image without one means `latest`, which moves under running steps).
 */
const imageReferenceSchema = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/,
    'not an image reference',
  )
  .refine((image) => /:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@|$)|@sha256:/.test(image.replace(/^[^/]*\//, '')), {
    message: 'the image has neither a tag nor a digest (it would mean :latest)',
  });

/** `host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address; the port defaults to 7233. */
const addressSchema = z.string().transform((text, context) => {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    context.addIssue({ code: 'custom', message: 'an address is host:port, not a URL' });
    return z.NEVER;
  }
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/.exec(text);
  if (match === null) {
    context.addIssue({ code: 'custom', message: 'not a host:port address' });
    return z.NEVER;
  }
  const port = match[3] === undefined ? DEFAULT_TEMPORAL_PORT : Number(match[3]);
  if (port < 1 || port > 65535) {
    context.addIssue({ code: 'custom', message: `port ${port} is out of range (1 to 65535)` });
    return z.NEVER;
  }
  return `${match[1] ?? ''}:${port}`;
});

const namespaceSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'not a namespace name (letters, digits, ".", "_", "-"; at most 255)');

const taskQueueSchema = z
  .string()
  .max(1000, 'a task queue name has at most 1000 characters')
  .regex(
    // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
    /^[^\s\u0000-\u001f\u007f]+$/,
    'a task queue name must not be empty or contain whitespace or control characters',
  );

/** An artifact store root: `file:///abs` or `s3://bucket[/prefix]`, checked as strictly as the stores check them. */
const artifactStoreSchema = z.string().superRefine((uri, context) => {
  const scheme = uriScheme(uri);
  try {
    if (scheme === 'file') parseFileUri(uri);
    else if (scheme === 's3') parseS3Uri(uri);
    else if (uri.startsWith('/')) throw new Error(`a path is not a URI: write file://${uri}`);
    else throw new Error(`unsupported artifact store ${scheme === undefined ? 'location' : `scheme ${scheme}://`}`);
  } catch (error) {
    context.addIssue({ code: 'custom', message: ensureError(error).message });
  }
});

const s3EndpointSchema = z
  .url({ protocol: /^https?$/, message: 'not an http(s) URL' })
  .refine((text) => !/^[a-z]+:\/\/[^/]*@/i.test(text), 'credentials do not belong in the endpoint URL');

const s3RegionSchema = z.string().regex(/^[a-z0-9-]+$/, 'a region is lowercase letters, digits and hyphens');

const booleanSchema = z.stringbool({ error: 'not true or false' });

const concurrencySchema = z
  .string()
  .regex(/^\d+$/, 'not a whole number')
  .transform(Number)
  .pipe(
    z
      .number()
      .int()
      .min(1, 'must be at least 1')
      .max(MAX_WORKER_CONCURRENCY, `must be at most ${MAX_WORKER_CONCURRENCY}`),
  );

/** A file or directory path (relative ones are resolved against the working directory). */
const pathSchema = z
  .string()
  // eslint-disable-next-line no-control-regex -- a control character in a path is a mistake, not a name
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'a path must not contain control characters');

/** Remote executor kinds a worker can run steps on. */
export const WORKER_EXECUTORS = ['local', 'kubernetes', 'batch'] as const;

const executorsSchema = z
  .string()
  .transform((text) =>
    text
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== ''),
  )
  .pipe(z.array(z.enum(WORKER_EXECUTORS, { error: `not one of ${WORKER_EXECUTORS.join(', ')}` })).min(1, 'empty'));

/**
 * Every setting as text in, typed out. Settings without a fixed default (the artifact store, S3) stay optional: their
 * defaults depend on the working directory or on the AWS SDK.
 */
export const settingsSchema = z.object({
  address: addressSchema.default(DEFAULT_TEMPORAL_ADDRESS),
  namespace: namespaceSchema.default(DEFAULT_TEMPORAL_NAMESPACE),
  taskQueue: taskQueueSchema.default(PIPELINE_TASK_QUEUE),
  artifactStore: artifactStoreSchema.optional(),
  s3Endpoint: s3EndpointSchema.optional(),
  s3Region: s3RegionSchema.optional(),
  s3ForcePathStyle: booleanSchema.optional(),
  concurrency: concurrencySchema.default(DEFAULT_WORKER_CONCURRENCY),
  workflowBundle: pathSchema.optional(),
  bundleCacheDir: pathSchema.optional(),
  executor: executorsSchema.optional(),
  kubernetesNamespace: z
    .string()
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a namespace name')
    .optional(),
  stagingImage: z.string().regex(/^\S+$/, 'an image reference has no whitespace').optional(),
  batchEndpoint: s3EndpointSchema.optional(),
  logsEndpoint: s3EndpointSchema.optional(),
  shutdownGrace: z
    .string()
    .regex(/^\d+$/, 'not a whole number of seconds')
    .transform(Number)
    .pipe(z.number().max(MAX_SHUTDOWN_GRACE_SECONDS, `must be at most ${MAX_SHUTDOWN_GRACE_SECONDS}`))
    .default(DEFAULT_SHUTDOWN_GRACE_SECONDS),
  secretFileRoots: z
    .string()
    .transform((text) => text.split(':').filter((part) => part !== ''))
    .pipe(
      z
        .array(
          z
            .string()
            .refine((path) => path.startsWith('/') && !path.split('/').includes('..'), 'not an absolute directory'),
        )
        .min(1, 'empty'),
    )
    .optional(),
  builtinStepImage: imageReferenceSchema.default(DEFAULT_BUILTIN_STEP_IMAGE),
  builtinBatchJobQueue: z.string().min(1).regex(/^\S+$/, 'a job queue has no whitespace').optional(),
  builtinBatchJobDefinition: z.string().min(1).regex(/^\S+$/, 'a job definition has no whitespace').optional(),
});

/** Every setting, parsed. */
export type Settings = z.output<typeof settingsSchema>;

/** Where the configuration comes from. */
export interface ConfigSources {
  /** Usually `process.env`. */
  env?: ConfigEnv;
  /** Command-line flags; they win over the environment. */
  flags?: SettingFlags;
  /** Directory the default artifact store is under; defaults to the process's working directory. */
  cwd?: string;
  /** `mloe worker --metrics-port` (workers/telemetry/config.ts); it wins over `MLOE_METRICS_ADDRESS`. */
  metricsPort?: string | undefined;
}

/** Settings needed to reach a Temporal. */
export interface ConnectionConfig {
  address: Settings['address'];
  namespace: Settings['namespace'];
  /** Where the address came from; `default` means nobody set one (e.g. `mloe run` then embeds a server). */
  addressOrigin: SettingOrigin;
  /** Payload encryption (`MLOE_CODEC_KEYS`, `MLOE_CODEC_KEY_ID`; `workers/codec/config.ts`); absent when off. */
  codec?: CodecConfig;
  /** TLS, mutual TLS, an API key, gRPC metadata (`workers/temporal-client-config.ts`); plaintext when absent. */
  security?: TemporalSecurity;
}

/** The S3 settings of `s3://` stores, when any is set (the store's own defaults apply to the rest). */
export interface S3Settings {
  s3?: S3StoreConfigInput;
}

/** Settings of the CLI commands that read runs and their artifacts (`status`, `list`, `logs`, ...). */
export type ClientConfig = ConnectionConfig & S3Settings;

/** Artifact store settings as the pipeline worker takes them. */
export interface WorkerArtifactStoreConfig extends S3Settings {
  /** The store of runs that name none: `file:///…` or `s3://bucket[/prefix]`. */
  defaultUri: string;
}

/** Everything the pipeline worker (`mloe worker`, `mloe dev`, an embedded `mloe run`) needs. */
export interface WorkerConfig extends ConnectionConfig {
  taskQueue: Settings['taskQueue'];
  /** Activities (steps) run at once: the worker's `maxConcurrentActivityTaskExecutions`. */
  maxConcurrentActivityTaskExecutions: Settings['concurrency'];
  artifactStore: WorkerArtifactStoreConfig;
  /**
   * Where the worker's OpenLineage events go (`OPENLINEAGE_*`, parsed by `activities/lineage/config.ts`): checked at
   * start so that a bad value stops the worker instead of silently turning events off.
   */
  lineage: LineageConfig;
  /**
   * Where pipeline runs are tracked (`MLFLOW_TRACKING_URI`, MLflow's other variables, `MLFLOW_EXPERIMENT_NAME`;
   * `activities/tracking/config.ts`); absent when tracking is off. `mloe dev`, `mloe demo` and an embedded `mloe run`
   * start an embedded MLflow server and set it when it is absent.
   */
  tracking?: TrackingConfig;
  /** The workflow bundle the worker runs: a pre-built file, or workflows/ bundled through the bundle cache. */
  workflowBundle: WorkflowBundleConfig;
  /** Remote executors (`--executor`, `MLOE_EXECUTORS`): absent, the worker runs steps locally only. */
  executors?: WorkerExecutorsConfig;
  /**
   * Built-in steps on remote executors (`MLOE_BUILTIN_STEP_IMAGE`, `MLOE_BUILTIN_BATCH_JOB_QUEUE`,
   * `MLOE_BUILTIN_BATCH_JOB_DEFINITION`); present with {@link WorkerConfig.executors}.
   */
  builtinSteps?: BuiltinStepSettings;
  /** How long running steps get to finish when the worker stops, in ms (`MLOE_WORKER_SHUTDOWN_GRACE_SECONDS`). */
  shutdownGraceMs: number;
  /**
   * Logs, metrics and traces (`MLOE_LOG_*`, `MLOE_METRICS_ADDRESS`, `OTEL_*`; workers/telemetry/config.ts); absent
   * when none is set (text logs at `warn`, no metrics, no traces).
   */
  telemetry?: TelemetryConfig;
  /**
   * Where steps' secret references are resolved: `env:` in the worker's environment, `file:` under these roots
   * (`MLOE_SECRET_FILE_ROOTS`). The values are read only inside the activity (docs/security.md).
   */
  secrets: { env: ConfigEnv; fileRoots: readonly string[] };
}

/** The remote executors of a worker and their settings (docs/executors.md). */
export interface WorkerExecutorsConfig {
  /** The Kubernetes Job executor: the cluster from the client's default loading rules. */
  kubernetes?: { namespace?: string; stagingImage?: string };
  /** The AWS Batch executor: credentials from the AWS SDK's default chain. */
  batch?: { region?: string; endpoint?: string; logsEndpoint?: string };
}

/** Where a worker's workflow bundle comes from (`workers/workflow-bundle.ts` loads it). */
export interface WorkflowBundleConfig {
  /** A pre-built bundle to run as is (`--workflow-bundle`, `MLOE_WORKFLOW_BUNDLE`): an absolute path. */
  file?: string;
  /** Which flag or variable named {@link WorkflowBundleConfig.file}, for error messages. */
  fileOrigin?: SettingOrigin;
  /** Where bundles of workflows/ are cached when no file is given (`MLOE_BUNDLE_CACHE_DIR`): an absolute path. */
  cacheDir: string;
  /** Bundle the tracing workflow interceptors (a worker that traces; workers/telemetry/tracing.ts). */
  tracing?: boolean;
}

/** What `mloe lineage` reads besides its flags: the workers' default store (when set) and the S3 settings. */
export interface StoreReaderConfig extends S3Settings {
  /** `MLOE_ARTIFACT_STORE`, when set: where runs that name no store keep their records. */
  artifactStore?: string;
}

/**
 * `mloe run`'s settings: with `TEMPORAL_ADDRESS`, where to start the run (a worker there runs it); without it, the
 * configuration of the worker the command embeds.
 */
export type RunConfig =
  | { embedded: false; connection: ConnectionConfig; taskQueue: Settings['taskQueue'] }
  | { embedded: true; worker: WorkerConfig };

/** The raw text of each setting and where it came from: the flag if given, else the variable if set and non-empty. */
function rawSettings(
  names: readonly SettingName[],
  sources: ConfigSources,
  profile: ProfileSettings = {},
): { raw: Partial<Record<SettingName, string>>; origins: Record<SettingName, SettingOrigin> } {
  const raw: Partial<Record<SettingName, string>> = {};
  const origins = Object.fromEntries(
    (Object.keys(ENV_VARS) as SettingName[]).map((name) => [name, 'default']),
  ) as Record<SettingName, SettingOrigin>;
  const flags: SettingFlags = sources.flags ?? {};
  for (const name of names) {
    const flag = name in SETTING_FLAGS ? (name as keyof typeof SETTING_FLAGS) : undefined;
    const flagValue = flag === undefined ? undefined : flags[flag];
    const envValue = sources.env?.[ENV_VARS[name]];
    if (flag !== undefined && flagValue !== undefined) {
      raw[name] = flagValue;
      origins[name] = SETTING_FLAGS[flag];
    } else if (envValue !== undefined && envValue !== '') {
      raw[name] = envValue;
      origins[name] = ENV_VARS[name];
    } else if ((name === 'address' || name === 'namespace') && profile[name] !== undefined) {
      raw[name] = profile[name].value;
      origins[name] = profile[name].origin as SettingOrigin;
    }
  }
  return { raw, origins };
}

/** Shows a bad value, without any `user:password@` it may carry. */
function showValue(value: string): string {
  return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@'));
}

/**
 * Parses the named settings and only those (a bad variable a command does not use does not stop it); the others keep
 * their defaults. Throws one {@link ConfigError} listing every bad value with its variable or flag, the value and the
 * fix.
 */
export function parseSettings(
  names: readonly SettingName[],
  sources: ConfigSources = {},
  profile: ProfileSettings = {},
): { settings: Settings; origins: Record<SettingName, SettingOrigin> } {
  const { raw, origins } = rawSettings(names, sources, profile);
  const parsed = settingsSchema.safeParse(raw);
  if (parsed.success) return { settings: parsed.data, origins };

  const problems = new Map<SettingName, string[]>();
  for (const issue of parsed.error.issues) {
    const name = issue.path[0] as SettingName;
    problems.set(name, [...(problems.get(name) ?? []), issue.message]);
  }
  const lines = [...problems].map(([name, messages]) => {
    const origin = origins[name];
    const value = raw[name] ?? '';
    const fromFlag = origin.startsWith('--') || origin.startsWith('profile ');
    const source = fromFlag ? `${origin} ${showValue(value)}` : `${origin}=${showValue(value)}`;
    const fix = fromFlag ? FIXES[name].use : `${FIXES[name].use}, or ${FIXES[name].unset}`;
    return `${source}: ${messages.join('; ')}; fix: ${fix}`;
  });
  throw configErrorOf(lines, parsed.error);
}

/** One error for one or more problems: `invalid <problem>`, or `invalid configuration:` and a problem per line. */
function configErrorOf(lines: readonly string[], cause: unknown): ConfigError {
  return new ConfigError(
    lines.length === 1 ? `invalid ${lines[0] ?? ''}` : `invalid configuration:\n  ${lines.join('\n  ')}`,
    { cause },
  );
}

/** The problems of a `ConfigError` as lines without their leading `invalid` (other errors are rethrown). */
function problemLines(error: unknown): string[] {
  if (!(error instanceof ConfigError)) throw error;
  const message = error.message.replace(/^invalid configuration:\n\s*/, '').replace(/^invalid /, '');
  return message.split(/\n\s*/);
}

/** The S3 settings given, or nothing when none is (the store then uses its defaults and the AWS SDK chain). */
function s3Settings(settings: Pick<Settings, 's3Endpoint' | 's3Region' | 's3ForcePathStyle'>): S3Settings {
  const s3: S3StoreConfigInput = {
    ...(settings.s3Endpoint === undefined ? {} : { endpoint: settings.s3Endpoint }),
    ...(settings.s3Region === undefined ? {} : { region: settings.s3Region }),
    ...(settings.s3ForcePathStyle === undefined ? {} : { forcePathStyle: settings.s3ForcePathStyle }),
  };
  return Object.keys(s3).length === 0 ? {} : { s3 };
}

/** `file://<dir>/.mloe/artifacts`: the artifact store of runs that name none, unless configured. */
export function defaultArtifactStoreUri(cwd: string = process.cwd()): string {
  return pathToFileURL(join(cwd, '.mloe', 'artifacts')).href;
}

/**
 * `node_modules/.cache/mloe` in the mloe package: where bundles of workflows/ are cached unless
 * `MLOE_BUNDLE_CACHE_DIR` says otherwise. It is where build tools keep their caches by convention (babel-loader,
 * eslint-loader and terser through find-cache-dir): one per checkout (a bundle names the checkout's absolute source
 * paths), ignored by git with node_modules, and gone with a clean install (`npm ci`).
 */
export function defaultBundleCacheDir(): string {
  return join(__dirname, '..', 'node_modules', '.cache', 'mloe');
}

/** The bundle settings, paths resolved against `cwd`. */
function workflowBundleConfigOf(
  settings: Pick<Settings, 'workflowBundle' | 'bundleCacheDir'>,
  origins: Record<SettingName, SettingOrigin>,
  cwd: string = process.cwd(),
): WorkflowBundleConfig {
  return {
    ...(settings.workflowBundle === undefined
      ? {}
      : { file: resolve(cwd, settings.workflowBundle), fileOrigin: origins.workflowBundle }),
    cacheDir: settings.bundleCacheDir === undefined ? defaultBundleCacheDir() : resolve(cwd, settings.bundleCacheDir),
  };
}

/**
 * Where the workflow bundle comes from (`--workflow-bundle`, `MLOE_WORKFLOW_BUNDLE`, `MLOE_BUNDLE_CACHE_DIR`), for
 * processes that bundle workflows without the rest of a worker's configuration (test setup, benchmarks, the
 * `build:workflows` script).
 */
export function loadWorkflowBundleConfig(sources: ConfigSources = {}): WorkflowBundleConfig {
  const { settings, origins } = parseSettings(['workflowBundle', 'bundleCacheDir'], sources);
  return workflowBundleConfigOf(settings, origins, sources.cwd);
}

/** What a command needs to reach a Temporal (`status`, `cancel`, `list`, `explain`): address and namespace. */
export function loadConnectionConfig(sources: ConfigSources = {}): ConnectionConfig {
  const client = temporalClientOf(sources);
  const { settings, origins } = parseSettings(['address', 'namespace'], sources, client);
  return {
    address: settings.address,
    namespace: settings.namespace,
    addressOrigin: origins.address,
    ...codecOf(sources.env),
    ...securityOf(client.security),
  };
}

/** The profile, TLS and API key settings of Temporal's client configuration (flags, environment, TOML profile). */
function temporalClientOf(sources: ConfigSources): ReturnType<typeof loadTemporalClientSettings> {
  return loadTemporalClientSettings({
    ...(sources.env === undefined ? {} : { env: sources.env }),
    ...(sources.flags === undefined ? {} : { flags: sources.flags }),
  });
}

/** `{ security }` when it says anything (plaintext without metadata says nothing). */
function securityOf(security: TemporalSecurity): { security?: TemporalSecurity } {
  return Object.keys(security).length === 0 ? {} : { security };
}

/** What a command needs to reach a Temporal and read S3 artifacts (`logs`): address, namespace, S3 settings. */
export function loadClientConfig(sources: ConfigSources = {}): ClientConfig {
  const client = temporalClientOf(sources);
  const { settings, origins } = parseSettings(
    ['address', 'namespace', 's3Endpoint', 's3Region', 's3ForcePathStyle'],
    sources,
    client,
  );
  return {
    address: settings.address,
    namespace: settings.namespace,
    addressOrigin: origins.address,
    ...securityOf(client.security),
    ...s3Settings(settings),
    ...codecOf(sources.env),
  };
}

/** The payload codec settings of the environment, when `MLOE_CODEC_KEYS` is set (`CONFIG_INVALID` if bad). */
function codecOf(env: ConfigEnv | undefined): { codec?: CodecConfig } {
  const codec = codecConfigFromEnv(env ?? {});
  return codec === undefined ? {} : { codec };
}

/**
 * What `mloe lineage` reads: the S3 settings, and `MLOE_ARTIFACT_STORE` (checked as the worker checks it) unless
 * `options.storeGiven` (its `--artifact-store` wins, so a bad variable does not stop it).
 */
export function loadStoreReaderConfig(
  sources: ConfigSources = {},
  options: { storeGiven?: boolean } = {},
): StoreReaderConfig {
  const names: SettingName[] = ['s3Endpoint', 's3Region', 's3ForcePathStyle'];
  if (options.storeGiven !== true) names.push('artifactStore');
  const { settings } = parseSettings(names, { ...sources, flags: {} });
  return {
    ...(settings.artifactStore === undefined ? {} : { artifactStore: settings.artifactStore }),
    ...s3Settings(settings),
  };
}

/**
 * `mloe run`'s configuration. With `TEMPORAL_ADDRESS` set: its address, namespace and task queue. Without it: the
 * whole worker configuration ({@link loadWorkerConfig}) of the worker `mloe run` embeds, its address
 * `options.embeddedAddress` (the embedded server's).
 */
export function loadRunConfig(sources: ConfigSources, options: { embeddedAddress: string }): RunConfig {
  const client = temporalClientOf(sources);
  const { origins } = parseSettings(['address'], sources, client);
  if (origins.address === 'default') {
    return { embedded: true, worker: loadWorkerConfig(sources, { address: options.embeddedAddress }) };
  }
  const { settings } = parseSettings(['address', 'namespace', 'taskQueue'], sources, client);
  return {
    embedded: false,
    connection: {
      address: settings.address,
      namespace: settings.namespace,
      addressOrigin: origins.address,
      ...codecOf(sources.env),
      ...securityOf(client.security),
    },
    taskQueue: settings.taskQueue,
  };
}

/**
 * The pipeline worker's configuration: every setting, defaults applied, and the OpenLineage settings. With
 * `options.address` (a server this process embeds, as in `mloe dev`) the address is that one and `TEMPORAL_ADDRESS`
 * is not read. Every bad value, of either kind, is listed in one `CONFIG_INVALID` error.
 */
export function loadWorkerConfig(sources: ConfigSources = {}, options: { address?: string } = {}): WorkerConfig {
  const names = (Object.keys(ENV_VARS) as SettingName[]).filter(
    (name) => name !== 'address' || options.address === undefined,
  );
  const problems: string[] = [];
  const causes: unknown[] = [];
  const attempt = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      problems.push(...problemLines(error));
      causes.push(error);
      return undefined;
    }
  };
  // A worker beside a server this process embeds (`mloe dev`) reaches it in plaintext: no profile, TLS or API key.
  const client = options.address === undefined ? attempt(() => temporalClientOf(sources)) : { security: {} };
  const parsed = attempt(() => parseSettings(names, sources, client ?? {}));
  const lineage = attempt(() => lineageConfigFromEnv(sources.env ?? {}));
  const tracking = attempt(() => ({ config: trackingConfigFromEnv(sources.env ?? {}) }));
  const codec = attempt(() => codecOf(sources.env));
  const telemetry = attempt(() => telemetryConfigFromEnv(sources.env ?? {}, { metricsPort: sources.metricsPort }));
  if (
    parsed === undefined ||
    lineage === undefined ||
    tracking === undefined ||
    codec === undefined ||
    telemetry === undefined ||
    client === undefined
  ) {
    throw causes.length === 1 ? causes[0] : configErrorOf(problems, new AggregateError(causes));
  }
  const { settings, origins } = parsed;
  return {
    address: options.address ?? settings.address,
    namespace: settings.namespace,
    addressOrigin: options.address === undefined ? origins.address : 'default',
    ...securityOf(client.security),
    taskQueue: settings.taskQueue,
    maxConcurrentActivityTaskExecutions: settings.concurrency,
    artifactStore: {
      defaultUri: settings.artifactStore ?? defaultArtifactStoreUri(sources.cwd),
      ...s3Settings(settings),
    },
    lineage,
    ...(tracking.config === undefined ? {} : { tracking: tracking.config }),
    workflowBundle: workflowBundleConfigOf(settings, origins, sources.cwd),
    ...executorsOf(settings),
    ...builtinStepsOf(settings),
    shutdownGraceMs: settings.shutdownGrace * 1000,
    ...codec,
    ...(isDefaultTelemetry(telemetry) ? {} : { telemetry }),
    secrets: { env: sources.env ?? {}, fileRoots: settings.secretFileRoots ?? DEFAULT_SECRET_FILE_ROOTS },
  };
}

/** The worker's remote executors from `--executor` / `MLOE_EXECUTORS` and their settings. */
function executorsOf(settings: Settings): { executors?: WorkerExecutorsConfig } {
  const kinds = settings.executor ?? [];
  const executors: WorkerExecutorsConfig = {};
  if (kinds.includes('kubernetes')) {
    executors.kubernetes = {
      ...(settings.kubernetesNamespace === undefined ? {} : { namespace: settings.kubernetesNamespace }),
      ...(settings.stagingImage === undefined ? {} : { stagingImage: settings.stagingImage }),
    };
  }
  if (kinds.includes('batch')) {
    executors.batch = {
      ...(settings.s3Region === undefined ? {} : { region: settings.s3Region }),
      ...(settings.batchEndpoint === undefined ? {} : { endpoint: settings.batchEndpoint }),
      ...(settings.logsEndpoint === undefined ? {} : { logsEndpoint: settings.logsEndpoint }),
    };
  }
  return Object.keys(executors).length === 0 ? {} : { executors };
}

/** The settings of built-in steps on remote executors, for a worker that has any remote executor. */
function builtinStepsOf(settings: Settings): { builtinSteps?: BuiltinStepSettings } {
  if ((settings.executor ?? []).every((kind) => kind === 'local')) return {};
  const batch = {
    ...(settings.builtinBatchJobQueue === undefined ? {} : { jobQueue: settings.builtinBatchJobQueue }),
    ...(settings.builtinBatchJobDefinition === undefined ? {} : { jobDefinition: settings.builtinBatchJobDefinition }),
  };
  return {
    builtinSteps: { image: settings.builtinStepImage, ...(Object.keys(batch).length === 0 ? {} : { batch }) },
  };
}

/** Where `mloe dev` serves MLflow unless told otherwise (MLflow's own default port). */
export const DEFAULT_MLFLOW_PORT = 5000;
/** The MLflow server `mloe models` talks to when `MLFLOW_TRACKING_URI` is unset: the one `mloe dev` starts. */
export const DEFAULT_MLFLOW_TRACKING_URI = `http://127.0.0.1:${DEFAULT_MLFLOW_PORT}`;

/**
 * What `mloe models` talks to: the MLflow server of `MLFLOW_TRACKING_URI` (and MLflow's other variables), or, when it
 * is unset, the one `mloe dev` starts ({@link DEFAULT_MLFLOW_TRACKING_URI}). `CONFIG_INVALID` for a bad value.
 */
export function loadModelsConfig(sources: ConfigSources = {}): { mlflow: MlflowConfig; origin: 'env' | 'default' } {
  const env = sources.env ?? {};
  const set = (env[MLFLOW_ENV.trackingUri] ?? '').trim() !== '';
  return {
    mlflow: mlflowConfigFromEnv(set ? env : { ...env, [MLFLOW_ENV.trackingUri]: DEFAULT_MLFLOW_TRACKING_URI }),
    origin: set ? 'env' : 'default',
  };
}

/**
 * The tracking settings of a worker that tracks in the embedded MLflow server at `url` (`mloe dev`, `mloe demo`, an
 * embedded `mloe run`): MLflow's other variables and `MLFLOW_EXPERIMENT_NAME` as set, links to REST answers (the
 * embedded server serves no UI).
 */
export function embeddedTrackingConfig(env: ConfigEnv, url: string): TrackingConfig {
  const config = trackingConfigFromEnv({ ...env, [MLFLOW_ENV.trackingUri]: url }, { links: 'api' });
  if (config === undefined) throw new ConfigError(`no tracking configuration for ${url}`);
  return config;
}

/** A worker configuration that tracks in the embedded MLflow server at `url`, unless it tracks elsewhere already. */
export function withEmbeddedTracking(config: WorkerConfig, env: ConfigEnv, url: string | undefined): WorkerConfig {
  if (config.tracking !== undefined || url === undefined) return config;
  return { ...config, tracking: embeddedTrackingConfig(env, url) };
}

/** Tracking as the environment configures it (`mloe demo`), or undefined when it is off; `CONFIG_INVALID` if bad. */
export function loadTrackingConfig(sources: ConfigSources = {}): TrackingConfig | undefined {
  return trackingConfigFromEnv(sources.env ?? {});
}

/** The variable that names who decides approvals and rollbacks (`mloe approve`, `reject`, `models rollback`). */
export const IDENTITY_ENV = 'MLOE_IDENTITY';

/** An identity for approvals, and where it came from. */
export interface IdentityConfig {
  identity: string;
  origin: '--identity' | typeof IDENTITY_ENV | 'os-user';
}

const identitySchema = z.string().trim().min(1, 'must not be empty').max(256, 'must be at most 256 characters');

/**
 * Who decides an approval or a rollback: `--identity`, else `MLOE_IDENTITY`, else the operating system's user name
 * (`os.userInfo().username`). Always recorded with the decision; `CONFIG_INVALID` for an empty or overlong one.
 */
export function loadIdentityConfig(sources: ConfigSources & { identity?: string | undefined }): IdentityConfig {
  const candidates: [string | undefined, IdentityConfig['origin']][] = [
    [sources.identity, '--identity'],
    [sources.env?.[IDENTITY_ENV], IDENTITY_ENV],
  ];
  for (const [value, origin] of candidates) {
    if (value === undefined) continue;
    const parsed = identitySchema.safeParse(value);
    if (!parsed.success) {
      throw new ConfigError(
        `invalid ${origin}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}; fix: name who decides, e.g. ${origin === '--identity' ? '--identity alice@example.com' : `${IDENTITY_ENV}=alice@example.com`}`,
      );
    }
    return { identity: parsed.data, origin };
  }
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = '';
  }
  if (user.trim() === '') {
    throw new ConfigError(`no identity: give --identity or set ${IDENTITY_ENV} (the OS user has no name)`);
  }
  return { identity: user, origin: 'os-user' };
}

/** The environment variables of webhook notifications (docs/notifications.md). */
export const NOTIFICATION_ENV_VARS = {
  /** The Temporal Web UI's base URL, for the links in notifications (`http://127.0.0.1:8233`). */
  temporalUiUrl: 'MLOE_TEMPORAL_UI_URL',
} as const;

/** What a worker's notification activities read from the environment. */
export interface NotificationConfig {
  /** The `MLOE_WEBHOOK_SECRET*` variables (and only those): the secrets specs may name. */
  secrets: Record<string, string>;
  temporalUiUrl?: string;
}

/**
 * The notification settings of a worker: the webhook secrets (variables named `MLOE_WEBHOOK_SECRET` or
 * `MLOE_WEBHOOK_SECRET_<NAME>`, never echoed) and the Web UI's address. `CONFIG_INVALID` for a UI address that is
 * not an http(s) URL.
 */
export function loadNotificationConfig(env: ConfigEnv = process.env): NotificationConfig {
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (/^MLOE_WEBHOOK_SECRET(_[A-Z0-9_]+)?$/.test(name) && value !== undefined && value !== '') secrets[name] = value;
  }
  const ui = env[NOTIFICATION_ENV_VARS.temporalUiUrl];
  if (ui === undefined || ui === '') return { secrets };
  const parsed = z.url({ protocol: /^https?$/ }).safeParse(ui);
  if (!parsed.success) {
    throw new ConfigError(
      `${NOTIFICATION_ENV_VARS.temporalUiUrl}=${JSON.stringify(ui)} is not an http(s) URL; fix: use the Web UI's ` +
        'address, e.g. http://127.0.0.1:8233, or unset it',
    );
  }
  return { secrets, temporalUiUrl: parsed.data };
}
