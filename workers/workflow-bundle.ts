/**
 * The workflow bundle a pipeline worker runs. Bundling `workflows/` with webpack takes seconds, so it is done once per
 * content and reused from disk: a bundle is cached under a key naming everything about the build that is not a source
 * file (the workflows entry, the bundler options, the versions of the SDK, webpack and the compilers), beside the list
 * of its input files with their sha256 (every file webpack read: workflows/**, core/**, the SDK's workflow runtime,
 * the packages they import). A cached bundle is reused only while every input still hashes the same; otherwise it is
 * rebuilt and the entry replaced. Production workers can skip all of it and run a pre-built bundle
 * (`npm run build:workflows`, then `mloe worker --workflow-bundle FILE` or `MLOE_WORKFLOW_BUNDLE`).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, parse } from 'node:path';

import {
  bundleWorkflowCode,
  DefaultLogger,
  type BundleOptions,
  type Logger,
  type WorkflowBundle,
} from '@temporalio/worker';

import { canonicalJson } from '../core/canonical-json';
import { ConfigError, ensureError } from '../core/errors';
import { cacheEntryPath, pruneCacheEntries, readCacheEntry, touchCacheEntry, writeCacheEntry } from './bundle-cache';
import { inputsUnchanged, InputRecorder, type BundleInput } from './bundle-inputs';
import type { WorkflowBundleConfig } from './config';

/** The workflows entry file of pipeline workers (`workflows/index.ts`). */
export const PIPELINE_WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * The bundler options besides the entry and the logger. They are part of the cache key, so a change here (an
 * `ignoreModules`, an interceptor module) can never reuse a bundle built without it.
 */
const BUNDLER_OPTIONS = {} as const satisfies Omit<BundleOptions, 'workflowsPath' | 'logger'>;

/**
 * The workflow interceptors module of OpenTelemetry tracing (Temporal's, `@temporalio/interceptors-opentelemetry`, for
 * runs that started with them: `workflows/tracing-interceptors.ts`), bundled when a worker traces
 * (`workers/telemetry/tracing.ts`): a `RunWorkflow` span per run and a `StartActivity` span per step.
 */
export const TRACING_INTERCEPTOR_MODULE = require.resolve('../workflows/tracing-interceptors');

/** The bundler options of a bundle with or without the tracing interceptors (both part of the cache key). */
function bundlerOptions(tracing: boolean): Omit<BundleOptions, 'workflowsPath' | 'logger'> {
  return tracing ? { ...BUNDLER_OPTIONS, workflowInterceptorModules: [TRACING_INTERCEPTOR_MODULE] } : BUNDLER_OPTIONS;
}

/** Whether a bundle's code has the tracing interceptors in it (pre-built bundles are checked with this). */
export function bundleHasTracing(code: string): boolean {
  return code.includes('OpenTelemetryInboundInterceptor');
}

/** The packages whose code shapes a bundle without being one of its inputs: the bundler and its compilers. */
const BUNDLER_PACKAGES = [
  '@temporalio/worker',
  '@temporalio/workflow',
  'webpack',
  'swc-loader',
  '@swc/core',
  'source-map-loader',
] as const;

/** Options of {@link buildWorkflowBundle} and {@link cachedWorkflowBundle}. */
export interface WorkflowBundleBuildOptions {
  /** The workflows entry file (or directory); {@link PIPELINE_WORKFLOWS_PATH} by default. */
  workflowsPath?: string;
  /** Where webpack's output goes; warnings and errors only, on stderr, by default. */
  logger?: Logger;
  /** Bundle the OpenTelemetry workflow interceptors ({@link TRACING_INTERCEPTOR_MODULE}); false by default. */
  tracing?: boolean;
}

/** A bundle for `Worker.create({ workflowBundle })` or `Worker.runReplayHistory`, and where it came from. */
export interface LoadedWorkflowBundle extends WorkflowBundle {
  /** `cache`: reused from the cache; `built`: bundled now (and cached, if `path` is set); `file`: a pre-built file. */
  origin: 'cache' | 'built' | 'file';
  /** The cache entry or file it was read from or written to; absent when a fresh build could not be cached. */
  path?: string;
}

/** The version of each of {@link BUNDLER_PACKAGES}, as installed beside the SDK's bundler. */
function bundlerVersions(): Record<string, string> {
  const fromWorker = createRequire(require.resolve('@temporalio/worker'));
  const fromLoader = createRequire(fromWorker.resolve('swc-loader'));
  const versions: Record<string, string> = {};
  for (const name of BUNDLER_PACKAGES) {
    const resolver = name === '@swc/core' ? fromLoader : fromWorker;
    const manifest = JSON.parse(readFileSync(resolver.resolve(`${name}/package.json`), 'utf8')) as { version: string };
    versions[name] = manifest.version;
  }
  return versions;
}

let memoisedVersions: Record<string, string> | undefined;

/**
 * The cache key of a bundle of `workflowsPath`: the sha256 of what shapes the bundle besides its input files (the
 * entry's path, the bundler options, the versions of the bundler's packages, the cache format).
 */
export function workflowBundleKey(workflowsPath: string, options: { tracing?: boolean } = {}): string {
  memoisedVersions ??= bundlerVersions();
  const tracing = options.tracing === true;
  const parts = {
    workflowsPath,
    bundlerOptions: bundlerOptions(tracing),
    versions: memoisedVersions,
    cacheFormat: 1,
    // Only with interceptors, so that the key of a bundle without them is what it always was.
    ...(tracing ? { interceptors: ['opentelemetry'] } : {}),
  };
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/** The entrypoint the SDK's bundler generates in memory beside the workflows path (mirrors its naming). */
function generatedEntrypoint(workflowsPath: string): string {
  const { dir, name, base } = parse(workflowsPath);
  return statSync(workflowsPath).isDirectory()
    ? join(dir, `${base}-autogenerated-entrypoint.cjs`)
    : join(dir, `${name}-autogenerated-entrypoint.cjs`);
}

/**
 * Bundles the workflows with the SDK's bundler (webpack), recording its inputs. `inputs` is undefined when they
 * cannot be trusted (a file changed while webpack read it): such a bundle is fine to run but not to cache.
 */
export async function buildWorkflowBundle(
  options: WorkflowBundleBuildOptions = {},
): Promise<{ code: string; inputs: BundleInput[] | undefined }> {
  const workflowsPath = options.workflowsPath ?? PIPELINE_WORKFLOWS_PATH;
  const recorder = new InputRecorder();
  const bundle = await bundleWorkflowCode({
    ...bundlerOptions(options.tracing === true),
    workflowsPath,
    logger: options.logger ?? new DefaultLogger('WARN'),
    webpackConfigHook: recorder.configHook,
  });
  return { code: bundle.code, inputs: await recorder.inputs([generatedEntrypoint(workflowsPath)]) };
}

/**
 * The bundle of the workflows at `options.workflowsPath` from the cache in `cacheDir`, when its inputs are unchanged;
 * otherwise a fresh one, cached for the next process. Failing to write the cache costs the next process a build, so
 * it is a warning on the logger, not an error.
 */
export async function cachedWorkflowBundle(
  options: WorkflowBundleBuildOptions & { cacheDir: string },
): Promise<LoadedWorkflowBundle> {
  const workflowsPath = options.workflowsPath ?? PIPELINE_WORKFLOWS_PATH;
  const key = workflowBundleKey(workflowsPath, { tracing: options.tracing === true });
  const path = cacheEntryPath(options.cacheDir, key);
  const cached = await readCacheEntry(path, key);
  if (cached !== undefined && (await inputsUnchanged(cached.manifest.inputs))) {
    await touchCacheEntry(path);
    return { code: cached.code, origin: 'cache', path };
  }
  const { code, inputs } = await buildWorkflowBundle({ ...options, workflowsPath });
  if (inputs === undefined) return { code, origin: 'built' };
  try {
    await writeCacheEntry(path, { key, code, inputs });
    await pruneCacheEntries(options.cacheDir, path);
    return { code, origin: 'built', path };
  } catch (error) {
    (options.logger ?? new DefaultLogger('WARN')).warn(
      `could not cache the workflow bundle in ${options.cacheDir} (the next worker bundles again): ${ensureError(error).message}`,
    );
    return { code, origin: 'built' };
  }
}

/**
 * Reads a pre-built bundle (`npm run build:workflows`). Throws `CONFIG_INVALID` naming the file, and the flag or
 * variable that named it (`origin`), when it cannot be read or is not a workflow bundle.
 */
export async function readWorkflowBundleFile(path: string, origin?: string): Promise<LoadedWorkflowBundle> {
  const shown = JSON.stringify(path);
  const source =
    origin === undefined
      ? `workflow bundle ${shown}`
      : origin.startsWith('--')
        ? `${origin} ${shown}`
        : `${origin}=${shown}`;
  const fix = 'fix: build one with `npm run build:workflows` and name that file';
  let code: string;
  try {
    code = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`invalid ${source}: ${ensureError(error).message}; ${fix}`, { cause: error });
  }
  // Every bundle of the SDK's bundler defines this library and carries its source map inline.
  if (!code.includes('__TEMPORAL__') || !code.includes('//# sourceMappingURL=data:')) {
    throw new ConfigError(`invalid ${source}: not a Temporal workflow bundle; ${fix}`);
  }
  return { code, origin: 'file', path };
}

/**
 * The bundle a pipeline worker configured by `config` runs: the pre-built file when one is named, else `workflows/`
 * through the bundle cache.
 */
export function loadWorkflowBundle(
  config: WorkflowBundleConfig,
  options: Pick<WorkflowBundleBuildOptions, 'logger' | 'tracing'> = {},
): Promise<LoadedWorkflowBundle> {
  if (config.file !== undefined) return readWorkflowBundleFile(config.file, config.fileOrigin);
  return cachedWorkflowBundle({
    ...options,
    tracing: (options.tracing ?? config.tracing) === true,
    cacheDir: config.cacheDir,
  });
}
