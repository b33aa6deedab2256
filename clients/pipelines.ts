/**
 * The typed client API of pipeline runs: start one (from a file or a spec object, validated first, so no workflow
 * ever starts for an invalid spec), read its status, wait for it with progress, cancel it. Runs are `runPipeline`
 * workflows with ids `pipeline-<name>-<8 hex>`, the pipeline name and status as search attributes (`MloePipeline`,
 * `MloeStatus`) and the spec hash and parameters in the memo, so the Temporal Web UI can find and explain them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';

import type { Client, ConnectionLike, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import {
  SpecInvalidError,
  createStepRegistry,
  paramValueFromText,
  type PipelineSpec,
  type PipelineTreeResult,
  type StepDescriptor,
  type StepRegistry,
  type ValidPipelineTree,
} from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import {
  PIPELINE_SEARCH_ATTRIBUTE,
  PIPELINE_TASK_QUEUE,
  STATUS_SEARCH_ATTRIBUTE,
  pipelineStatusQuery,
  runPipeline,
  type PipelineRunStatus,
  type RunMetadata,
  type RunPipelineInput,
} from '../workflows';
import { DEFAULT_ARTIFACTS_SUBDIRECTORY } from '../activities/artifacts/file-store';
import { canonicalJson } from '../core/canonical-json';
import { parseFileUri, parseS3Uri, uriScheme } from '../activities/artifacts/keys';
import packageJson from '../package.json';
import { ConfigError, MloeError } from '../core/errors';
import { loadPipelineFileTree, loadPipelineObjectTree } from './spec-files';

const execFileAsync = promisify(execFile);

/**
 * Where the spec comes from: a file (YAML or JSON), or a spec object (parsed or built in code) whose `pipeline:`
 * paths resolve against `baseDirectory` (the current directory by default).
 */
export type PipelineSource = { file: string } | { spec: unknown; baseDirectory?: string };

/** Options of {@link startPipeline}. */
export type StartPipelineOptions = PipelineSource & {
  /** Parameter values. */
  params?: Record<string, unknown>;
  /** Parameter values as `name=value` texts (the CLI's `-p`), converted by each parameter's declared type. */
  paramTexts?: readonly string[];
  /** Run every step even if a cached result exists. */
  noCache?: boolean;
  /**
   * The run's artifact store: `file:///abs/dir` or `s3://bucket[/prefix]` (workers need the S3 settings). Without it
   * (and without `artifactRoot`), workers use their default store (`MLOE_ARTIFACT_STORE`).
   */
  artifactStore?: string;
  /** A directory whose `.mloe/artifacts` is the run's store (a shorthand for a `file://` `artifactStore`). */
  artifactRoot?: string;
  /** Where relative paths in step inputs resolve; defaults to the current directory. */
  workingDir?: string;
  /** Defaults to {@link PIPELINE_TASK_QUEUE}. */
  taskQueue?: string;
  namespace?: string;
  /** The steps `uses:` may name; the built-in steps by default. Must match what the workers implement. */
  descriptors?: readonly StepDescriptor[];
  /** Items per `foreach` batch child (see `runPipeline`). */
  foreachBatchSize?: number;
};

/** A started run. */
export interface PipelineRun {
  workflowId: string;
  pipeline: string;
  specHash: string;
  handle: WorkflowHandle<typeof runPipeline>;
}

/**
 * Validates a pipeline from a file or object with parameter values, and every sub-pipeline it runs (read from
 * disk, recursively); throws `SPEC_INVALID` listing every problem of every file.
 */
export async function loadPipelineForRun(
  options: PipelineSource & { params?: Record<string, unknown>; paramTexts?: readonly string[] },
  registry: StepRegistry,
): Promise<ValidPipelineTree> {
  const load = (params?: Record<string, unknown>): Promise<PipelineTreeResult> => {
    const loadOptions = { registry, ...(params === undefined ? {} : { params }) };
    return 'file' in options
      ? loadPipelineFileTree(options.file, loadOptions)
      : loadPipelineObjectTree(options.spec, {
          ...loadOptions,
          ...(options.baseDirectory === undefined ? {} : { baseDirectory: options.baseDirectory }),
        });
  };
  const declared = await load();
  if (!declared.ok) throw new SpecInvalidError(declared.issues);
  const params = { ...paramsFromTexts(options.paramTexts ?? [], declared.spec), ...options.params };
  const result = await load(params);
  if (!result.ok) throw new SpecInvalidError(result.issues);
  return result;
}

/** `name=value` texts to values, each converted by its parameter's declared type. */
function paramsFromTexts(texts: readonly string[], spec: PipelineSpec): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const text of texts) {
    const equals = text.indexOf('=');
    if (equals <= 0) throw new ConfigError(`a parameter is name=value, got '${text}'`);
    const name = text.slice(0, equals);
    const param = spec.params?.[name];
    values[name] = param === undefined ? text.slice(equals + 1) : paramValueFromText(param, text.slice(equals + 1));
  }
  return values;
}

/** sha256 of a spec's canonical JSON (keys sorted): equal specs hash equal whatever their formatting. */
export function specHash(spec: PipelineSpec): string {
  return `sha256:${createHash('sha256').update(canonicalJson(spec)).digest('hex')}`;
}

/**
 * Registers `MloePipeline` and `MloeStatus` (Keyword) in a namespace unless they exist: servers refuse workflows
 * that set unregistered search attributes. Idempotent.
 */
export async function ensurePipelineSearchAttributes(
  connection: Pick<ConnectionLike, 'operatorService'>,
  namespace = 'default',
): Promise<void> {
  const names = [PIPELINE_SEARCH_ATTRIBUTE.name, STATUS_SEARCH_ATTRIBUTE.name];
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = names.filter((name) => listed.customAttributes?.[name] === undefined);
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
}

/** Validates a pipeline, then starts a run of it. Throws `SPEC_INVALID` (nothing started) for an invalid spec. */
export async function startPipeline(client: Client, options: StartPipelineOptions): Promise<PipelineRun> {
  const descriptors = [...(options.descriptors ?? BUILTIN_STEPS)];
  const pipeline = await loadPipelineForRun(options, createStepRegistry(descriptors));
  const { spec } = pipeline;
  const params = pipeline.params ?? {};
  const hash = specHash(spec);
  await ensurePipelineSearchAttributes(client.connection, options.namespace ?? client.options.namespace);
  const input: RunPipelineInput = {
    spec,
    params,
    specHash: hash,
    ...(options.artifactStore === undefined && options.artifactRoot === undefined
      ? {}
      : { artifactStore: runArtifactStore(options) }),
    workingDir: resolve(options.workingDir ?? '.'),
    metadata: await runMetadata('file' in options ? options.file : undefined),
    descriptors,
    specPath: pipeline.specPath,
    pipelines: Object.fromEntries(
      Object.entries(pipeline.pipelines).map(([path, sub]) => [path, { spec: sub, specHash: specHash(sub) }]),
    ),
    ...(options.noCache === undefined ? {} : { noCache: options.noCache }),
    ...(options.foreachBatchSize === undefined ? {} : { foreachBatchSize: options.foreachBatchSize }),
  };
  const workflowId = `pipeline-${spec.metadata.name}-${randomUUID().slice(0, 8)}`;
  const handle = await client.workflow.start(runPipeline, {
    taskQueue: options.taskQueue ?? PIPELINE_TASK_QUEUE,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: PIPELINE_SEARCH_ATTRIBUTE, value: spec.metadata.name },
      { key: STATUS_SEARCH_ATTRIBUTE, value: 'Running' },
    ],
    memo: { pipeline: spec.metadata.name, specHash: hash, params },
    staticSummary: `pipeline ${spec.metadata.name}`,
  });
  return { workflowId, pipeline: spec.metadata.name, specHash: hash, handle };
}

/**
 * The store URI a run uses: `artifactStore` when given (checked: `file:///absolute` or `s3://bucket[/prefix]`,
 * `PATH_INVALID` otherwise), else the file store under `<artifactRoot>/.mloe/artifacts`.
 */
export function runArtifactStore(options: Pick<StartPipelineOptions, 'artifactStore' | 'artifactRoot'>): string {
  if (options.artifactStore === undefined) {
    return pathToFileURL(join(resolve(options.artifactRoot ?? '.'), DEFAULT_ARTIFACTS_SUBDIRECTORY)).href;
  }
  const uri = options.artifactStore;
  const scheme = uriScheme(uri);
  if (scheme === 'file') parseFileUri(uri);
  else if (scheme === 's3') parseS3Uri(uri);
  else {
    throw new MloeError(
      'PATH_INVALID',
      `unsupported artifact store "${uri}": use file:///absolute/dir or s3://bucket[/prefix]`,
    );
  }
  return uri;
}

/** The mloe version, and the git commit of the spec's directory when it is in a repository. */
export async function runMetadata(specFile: string | undefined): Promise<RunMetadata> {
  const directory = specFile === undefined ? process.cwd() : dirname(resolve(specFile));
  const gitCommit = await gitDescribe(directory);
  return {
    mloeVersion: packageJson.version,
    ...(gitCommit === undefined ? {} : { gitCommit }),
    ...(specFile === undefined ? {} : { specFile: resolve(specFile), specDir: dirname(resolve(specFile)) }),
  };
}

/** `HEAD`'s commit, with `-dirty` when tracked files changed; `undefined` outside a repository or without git. */
async function gitDescribe(directory: string): Promise<string | undefined> {
  const git = async (...args: string[]): Promise<string | undefined> => {
    try {
      const { stdout } = await execFileAsync('git', args, { cwd: directory, timeout: 5_000 });
      return stdout.trim();
    } catch {
      return undefined;
    }
  };
  const commit = await git('rev-parse', 'HEAD');
  if (commit === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  // Untracked files count too: a new, uncommitted script is not what the commit holds.
  const changes = await git('status', '--porcelain');
  return changes === undefined || changes === '' ? commit : `${commit}-dirty`;
}

/**
 * The status of a run, by workflow id: a completed run's from its result (no worker needed), any other from the
 * `status` query (which a worker of the run's task queue answers). `CONFIG_INVALID` when the id names a workflow that
 * is not a pipeline run.
 */
export async function getPipelineStatus(client: Client, workflowId: string): Promise<PipelineRunStatus> {
  const handle = client.workflow.getHandle<typeof runPipeline>(workflowId);
  const description = await handle.describe();
  if (description.type !== 'runPipeline') {
    throw new MloeError('CONFIG_INVALID', `${workflowId} is not a pipeline run (it is a ${description.type} workflow)`);
  }
  return description.status.name === 'COMPLETED' ? handle.result() : handle.query(pipelineStatusQuery);
}

/** Requests cancellation of a run: its running steps are cancelled and recorded so, and the run ends cancelled. */
export async function cancelPipeline(client: Client, workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).cancel();
}

/** How a run ended. */
export interface PipelineOutcome {
  /** The final status, from the result or (for a failed or cancelled run) the status query. */
  status: PipelineRunStatus;
  /** The run's failure, when it did not complete. */
  error?: unknown;
}

/**
 * Waits for a run to end, calling `onStatus` with the status every `pollIntervalMs` (best effort: a query can race
 * the first workflow task).
 */
export async function waitForPipeline(
  handle: WorkflowHandle<typeof runPipeline>,
  options: { pollIntervalMs?: number; onStatus?: (status: PipelineRunStatus) => void } = {},
): Promise<PipelineOutcome> {
  const result = handle.result().then(
    (status): PipelineOutcome => ({ status }),
    async (error: unknown): Promise<PipelineOutcome> => ({ status: await handle.query(pipelineStatusQuery), error }),
  );
  for (;;) {
    const settled = await Promise.race([result, delay(options.pollIntervalMs ?? 200, undefined)]);
    if (settled !== undefined) {
      options.onStatus?.(settled.status);
      return settled;
    }
    if (options.onStatus !== undefined) {
      try {
        options.onStatus(await handle.query(pipelineStatusQuery));
      } catch {
        // Progress is best effort; the result is what counts.
      }
    }
  }
}
