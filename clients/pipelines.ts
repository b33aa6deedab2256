/**
 * The typed client API of pipeline runs: start one (from a file or a spec object, validated first, so no workflow
 * ever starts for an invalid spec), read its status, wait for it with progress, cancel it. Runs are `runPipeline`
 * workflows with ids `<pipeline>-<ULID>` (or the caller's), the pipeline name and status as search attributes
 * (`MloePipeline`, `MloeStatus`) and the spec hash and parameters in the memo, so the Temporal Web UI can find and
 * explain them.
 */
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';

import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, type SearchAttributePair } from '@temporalio/common';

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
  PIPELINE_STATUS_VALUES,
  PIPELINE_TASK_QUEUE,
  STATUS_SEARCH_ATTRIBUTE,
  pipelineStatusQuery,
  RUN_PIPELINE_WORKFLOW_TYPE,
  type PipelineRunStatus,
  type RunMetadata,
  type RunPipelineInput,
  type RunPipelineWorkflow,
} from '../workflows/types';
import { DEFAULT_ARTIFACTS_SUBDIRECTORY } from '../activities/artifacts/file-store';
import { canonicalJson } from '../core/canonical-json';
import { sha256Hex } from '../activities/artifacts/ref';
import { parseFileUri, parseS3Uri, uriScheme } from '../activities/artifacts/keys';
import packageJson from '../package.json';
import { ConfigError, MloeError } from '../core/errors';
import { workflowIdProblem } from '../core/run-ids';
import { newRunWorkflowId } from './run-ids';
import { loadPipelineFileTree, loadPipelineObjectTree } from './spec-files';

const execFileAsync = promisify(execFile);

/**
 * Where the spec comes from: a file (YAML or JSON), or a spec object (parsed or built in code) whose `pipeline:`
 * paths resolve against `baseDirectory` (the current directory by default).
 */
export type PipelineSource = { file: string } | { spec: unknown; baseDirectory?: string };

/**
 * What a start does when its workflow id already names a run: `Fail` refuses it (`RUN_ID_CONFLICT`); `UseExisting`
 * returns that run when it was started by the same request (same spec, parameters and settings), so a start can be
 * retried safely, and refuses otherwise. Named after Temporal's id conflict policies; a second run under one workflow
 * id is never started (runs are started with `REJECT_DUPLICATE`), since records are filed by it.
 */
export type IdConflictPolicy = 'Fail' | 'UseExisting';

/** Options of {@link startPipeline}. */
export type StartPipelineOptions = PipelineSource & {
  /**
   * The run's workflow id; a new `<pipeline>-<ULID>` by default. Letters, digits, `_` and `-` (at most 160). Choose
   * one to make a start idempotent (with {@link StartPipelineOptions.idConflictPolicy} `UseExisting`).
   */
  workflowId?: string;
  /** When `workflowId` already names a run; `Fail` by default (see {@link IdConflictPolicy}). */
  idConflictPolicy?: IdConflictPolicy;
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
  /** List inputs over this many bytes of JSON go to their step as manifests (see `runPipeline`). */
  listManifestThresholdBytes?: number;
};

/** A started run (or, with `UseExisting`, the run the same request started before). */
export interface PipelineRun {
  workflowId: string;
  /** True when the run existed already (a retried start with `UseExisting`). */
  existing: boolean;
  pipeline: string;
  specHash: string;
  handle: WorkflowHandle<RunPipelineWorkflow>;
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
  return `sha256:${sha256Hex(canonicalJson(spec))}`;
}

/** Validates a pipeline, then starts a run of it. Throws `SPEC_INVALID` (nothing started) for an invalid spec. */
export async function startPipeline(client: Client, options: StartPipelineOptions): Promise<PipelineRun> {
  if (options.workflowId !== undefined) {
    const problem = workflowIdProblem(options.workflowId);
    if (problem !== undefined) throw new ConfigError(`${problem}: choose another run id (--id)`);
  }
  return startPipelineRun(client, await pipelineRunInput(options), options);
}

/** What the `runPipeline` input of a run is made from: the spec's source and the run's settings. */
export type PipelineRunInputOptions = PipelineSource &
  Pick<
    StartPipelineOptions,
    | 'params'
    | 'paramTexts'
    | 'noCache'
    | 'artifactStore'
    | 'artifactRoot'
    | 'workingDir'
    | 'descriptors'
    | 'foreachBatchSize'
    | 'listManifestThresholdBytes'
  >;

/**
 * The `runPipeline` input of a run of a pipeline: the spec and every sub-pipeline validated with the parameter
 * values (`SPEC_INVALID` otherwise), hashed, with the run's settings and metadata. What {@link startPipeline} starts,
 * and what a schedule's action carries (`clients/schedules/`).
 */
export async function pipelineRunInput(options: PipelineRunInputOptions): Promise<RunPipelineInput> {
  const descriptors = [...(options.descriptors ?? BUILTIN_STEPS)];
  const pipeline = await loadPipelineForRun(options, createStepRegistry(descriptors));
  return runInputOfLoaded(pipeline, descriptors, options);
}

/**
 * The `runPipeline` input of an already validated pipeline (`loadPipelineForRun`'s result) with the run's settings and
 * metadata: what {@link pipelineRunInput} returns, for callers that load the pipeline themselves (triggers).
 */
export async function runInputOfLoaded(
  pipeline: Awaited<ReturnType<typeof loadPipelineForRun>>,
  descriptors: StepDescriptor[],
  options: Partial<PipelineSource> &
    Pick<
      StartPipelineOptions,
      'noCache' | 'artifactStore' | 'artifactRoot' | 'workingDir' | 'foreachBatchSize' | 'listManifestThresholdBytes'
    >,
): Promise<RunPipelineInput> {
  const { spec } = pipeline;
  return {
    spec,
    params: pipeline.params ?? {},
    specHash: specHash(spec),
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
    ...(options.listManifestThresholdBytes === undefined
      ? {}
      : { listManifestThresholdBytes: options.listManifestThresholdBytes }),
  };
}

/** Options of {@link startPipelineRun}. */
export interface StartPipelineRunOptions {
  /** The run's workflow id; a new `<pipeline>-<ULID>` by default. */
  workflowId?: string;
  /** When `workflowId` already names a run; `Fail` by default. */
  idConflictPolicy?: IdConflictPolicy;
  /** Defaults to {@link PIPELINE_TASK_QUEUE}. */
  taskQueue?: string;
  /** Memo fields besides the pipeline, spec hash, parameters and start request (a rerun's `rerunOf`). */
  memo?: Record<string, unknown>;
  /** The Web UI's summary; `pipeline <name>` by default. */
  staticSummary?: string;
}

/**
 * Starts a `runPipeline` workflow for an input already validated (what {@link startPipeline} builds, or a rerun's):
 * the pipeline name and status as search attributes, the spec hash, parameters and a digest of the request in the
 * memo, one run per workflow id ever.
 */
export async function startPipelineRun(
  client: Client,
  input: RunPipelineInput,
  options: StartPipelineRunOptions = {},
): Promise<PipelineRun> {
  const { spec, specHash: hash } = input;
  const workflowId = options.workflowId ?? newRunWorkflowId(spec.metadata.name);
  const requestDigest = startRequestDigest(input);
  const run = { workflowId, pipeline: spec.metadata.name, specHash: hash };
  try {
    const handle = await client.workflow.start<RunPipelineWorkflow>(RUN_PIPELINE_WORKFLOW_TYPE, {
      workflowId,
      // One run per workflow id, ever: records are filed under it.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      ...pipelineRunStartFields(input, {
        ...options,
        memo: { ...options.memo, [START_REQUEST_MEMO]: requestDigest },
      }),
    });
    return { ...run, handle, existing: false };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      const existing = await existingRun(client, workflowId, requestDigest, options.idConflictPolicy ?? 'Fail');
      return { ...run, handle: existing, existing: true };
    }
    throw missingSearchAttributes(error, client.options.namespace) ?? error;
  }
}

/** The start options every pipeline run gets, whoever starts it (a client, or a schedule's action). */
export interface PipelineRunStartFields {
  taskQueue: string;
  args: [RunPipelineInput];
  typedSearchAttributes: SearchAttributePair[];
  memo: Record<string, unknown>;
  staticSummary: string;
}

/**
 * The task queue, input, search attributes (`MloePipeline`, `MloeStatus` Running, and any in `searchAttributes`),
 * memo (pipeline, spec hash, parameters, and `options.memo`) and summary of a `runPipeline` start: what
 * {@link startPipelineRun} starts with, and what a schedule's action carries.
 */
export function pipelineRunStartFields(
  input: RunPipelineInput,
  options: Pick<StartPipelineRunOptions, 'taskQueue' | 'memo' | 'staticSummary'> & {
    searchAttributes?: readonly SearchAttributePair[];
  } = {},
): PipelineRunStartFields {
  const { spec, params, specHash: hash } = input;
  return {
    taskQueue: options.taskQueue ?? PIPELINE_TASK_QUEUE,
    args: [input],
    typedSearchAttributes: [
      { key: PIPELINE_SEARCH_ATTRIBUTE, value: spec.metadata.name },
      { key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.running },
      ...(options.searchAttributes ?? []),
    ],
    memo: { ...options.memo, pipeline: spec.metadata.name, specHash: hash, params },
    staticSummary: options.staticSummary ?? `pipeline ${spec.metadata.name}`,
  };
}

/** The memo field holding a run's {@link startRequestDigest}. */
const START_REQUEST_MEMO = 'startRequest';

/**
 * sha256 of what makes two starts the same request: the spec and every sub-pipeline by hash, the parameter values,
 * the artifact store, the working directory, the cache switch and, for a rerun, the run it repeats and its `--from`.
 * Who started it and from which commit do not count.
 */
function startRequestDigest(input: RunPipelineInput): string {
  return `sha256:${sha256Hex(
    canonicalJson({
      specHash: input.specHash,
      pipelines: Object.fromEntries(Object.entries(input.pipelines ?? {}).map(([path, sub]) => [path, sub.specHash])),
      params: input.params,
      artifactStore: input.artifactStore ?? null,
      workingDir: input.workingDir,
      noCache: input.noCache ?? false,
      // Only a rerun has these: other runs' digests are unchanged.
      ...(input.rerun === undefined ? {} : { rerunOf: input.rerun.sourceWorkflowId, fromSteps: input.rerun.fromSteps }),
    }),
  )}`;
}

/**
 * The run a refused start collided with, when the caller asked for it (`UseExisting`) and it is the same request;
 * `RUN_ID_CONFLICT` saying whose id it is otherwise.
 */
async function existingRun(
  client: Client,
  workflowId: string,
  requestDigest: string,
  policy: IdConflictPolicy,
): Promise<WorkflowHandle<RunPipelineWorkflow>> {
  const handle = client.workflow.getHandle<RunPipelineWorkflow>(workflowId);
  const description = await handle.describe();
  const what = `run id ${workflowId} already names`;
  if (description.type !== RUN_PIPELINE_WORKFLOW_TYPE) {
    throw new MloeError('RUN_ID_CONFLICT', `${what} a ${description.type} workflow; choose another run id (--id)`);
  }
  const memo = description.memo ?? {};
  const pipelineName = typeof memo.pipeline === 'string' ? memo.pipeline : '?';
  const started = `run of pipeline ${pipelineName} (${description.status.name.toLowerCase()}, started ${description.startTime.toISOString()})`;
  if (memo[START_REQUEST_MEMO] !== requestDigest) {
    throw new MloeError(
      'RUN_ID_CONFLICT',
      `${what} a ${started} with another spec, parameters or settings; choose another run id (--id)`,
    );
  }
  if (policy === 'Fail') {
    throw new MloeError(
      'RUN_ID_CONFLICT',
      `${what} a ${started} of this same request; pass --id-conflict-policy UseExisting to get that run instead`,
    );
  }
  return handle;
}

/**
 * `SEARCH_ATTRIBUTES_MISSING` for a start the server refused because the namespace lacks mloe's search attributes
 * (saying what to run); `undefined` for any other error.
 */
function missingSearchAttributes(error: unknown, namespace: string): MloeError | undefined {
  const details = (error as { cause?: { details?: unknown } } | undefined)?.cause?.details;
  const text = `${(error as Error | undefined)?.message ?? ''} ${typeof details === 'string' ? details : ''}`;
  const refused = /search attribute/i.test(text) && MLOE_SEARCH_ATTRIBUTE_NAMES.some((name) => text.includes(name));
  if (!refused) return undefined;
  return new MloeError(
    'SEARCH_ATTRIBUTES_MISSING',
    `namespace ${namespace} lacks mloe's search attributes (${MLOE_SEARCH_ATTRIBUTE_NAMES.join(', ')}): run ` +
      `\`mloe setup --namespace ${namespace}\` once (starting \`mloe worker\` or \`mloe dev\` registers them too)`,
    { cause: error },
  );
}

/** Names of the search attributes a start sets. */
const MLOE_SEARCH_ATTRIBUTE_NAMES = [PIPELINE_SEARCH_ATTRIBUTE.name, STATUS_SEARCH_ATTRIBUTE.name];

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
 * The final status a failed or cancelled run carries in its failure's details (`runPipeline` puts it there), or
 * `undefined` for another error (a terminated or timed-out run, or one started by an older mloe).
 */
export function statusFromFailure(error: unknown): PipelineRunStatus | undefined {
  const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
  const details: unknown[] =
    cause instanceof ApplicationFailure || cause instanceof CancelledFailure ? [...(cause.details ?? [])] : [];
  const [candidate] = details;
  const looksLikeStatus =
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof (candidate as { workflowId?: unknown }).workflowId === 'string' &&
    Array.isArray((candidate as { steps?: unknown }).steps);
  return looksLikeStatus ? (candidate as PipelineRunStatus) : undefined;
}

/**
 * The status of a run, by workflow id: a finished run's from its result or failure (no worker needed), a running
 * (or terminated) one's from the `status` query (which a worker of the run's task queue answers). `CONFIG_INVALID`
 * when the id names a workflow that is not a pipeline run.
 */
export async function getPipelineStatus(client: Client, workflowId: string): Promise<PipelineRunStatus> {
  const handle = client.workflow.getHandle<RunPipelineWorkflow>(workflowId);
  const description = await handle.describe();
  if (description.type !== RUN_PIPELINE_WORKFLOW_TYPE) {
    throw new MloeError('CONFIG_INVALID', `${workflowId} is not a pipeline run (it is a ${description.type} workflow)`);
  }
  if (description.status.name === 'COMPLETED') return handle.result();
  if (description.status.name === 'FAILED' || description.status.name === 'CANCELLED') {
    const fromFailure = await handle.result().then(
      () => undefined,
      (error: unknown) => statusFromFailure(error),
    );
    if (fromFailure !== undefined) return fromFailure;
  }
  return handle.query(pipelineStatusQuery);
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
  handle: WorkflowHandle<RunPipelineWorkflow>,
  options: { pollIntervalMs?: number; onStatus?: (status: PipelineRunStatus) => void } = {},
): Promise<PipelineOutcome> {
  let finished = false;
  const result = handle.result().then(
    (status): PipelineOutcome => ({ status }),
    async (error: unknown): Promise<PipelineOutcome> => ({
      status: statusFromFailure(error) ?? (await handle.query(pipelineStatusQuery)),
      error,
    }),
  );
  for (;;) {
    const settled = await Promise.race([result, delay(options.pollIntervalMs ?? 200, undefined)]);
    if (settled !== undefined) {
      finished = true;
      options.onStatus?.(settled.status);
      return settled;
    }
    const onStatus = options.onStatus;
    if (onStatus !== undefined) {
      // Progress is best effort and never holds up the result: a slow query is left behind when the run ends.
      const progress = handle.query(pipelineStatusQuery).then(
        (status) => {
          if (!finished) onStatus(status);
        },
        () => undefined,
      );
      await Promise.race([progress, result]);
    }
  }
}
