/**
 * The typed client API of pipeline runs: start one (from a file or a spec object, validated first, so no workflow
 * ever starts for an invalid spec), read its status, wait for it with progress, cancel it. Runs are `runPipeline`
 * workflows with ids `pipeline-<name>-<8 hex>`, the pipeline name and status as search attributes (`MloePipeline`,
 * `MloeStatus`) and the spec hash and parameters in the memo, so the Temporal Web UI can find and explain them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import type { Client, ConnectionLike, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import {
  SpecInvalidError,
  createStepRegistry,
  loadPipelineOrThrow,
  paramValueFromText,
  validatePipeline,
  type PipelineSpec,
  type StepDescriptor,
  type StepRegistry,
  type ValidPipeline,
} from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import {
  PIPELINE_SEARCH_ATTRIBUTE,
  PIPELINE_TASK_QUEUE,
  STATUS_SEARCH_ATTRIBUTE,
  pipelineStatusQuery,
  runPipeline,
  type PipelineRunStatus,
  type RunPipelineInput,
} from '../workflows';
import { ConfigError, ensureError } from './errors';

/** Where the spec comes from: a file (YAML or JSON), or a spec object (parsed or built in code). */
export type PipelineSource = { file: string } | { spec: unknown };

/** Options of {@link startPipeline}. */
export type StartPipelineOptions = PipelineSource & {
  /** Parameter values. */
  params?: Record<string, unknown>;
  /** Parameter values as `name=value` texts (the CLI's `-p`), converted by each parameter's declared type. */
  paramTexts?: readonly string[];
  /** Run every step even if a cached result exists. */
  noCache?: boolean;
  /** Root of the file artifact store; defaults to the current directory. */
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

/** Validates a pipeline from a file or object with parameter values; throws `SPEC_INVALID` listing every problem. */
export async function loadPipelineForRun(
  options: PipelineSource & { params?: Record<string, unknown>; paramTexts?: readonly string[] },
  registry: StepRegistry,
): Promise<ValidPipeline> {
  if ('file' in options) {
    let text: string;
    try {
      text = await readFile(options.file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read ${options.file}: ${ensureError(error).message}`, { cause: error });
    }
    const declared = loadPipelineOrThrow(text, { file: options.file, registry });
    const params = { ...paramsFromTexts(options.paramTexts ?? [], declared.spec), ...options.params };
    return loadPipelineOrThrow(text, { file: options.file, registry, params });
  }
  const declared = validatePipeline(options.spec, { registry });
  if (!declared.ok) throw new SpecInvalidError(declared.issues);
  const params = { ...paramsFromTexts(options.paramTexts ?? [], declared.spec), ...options.params };
  const result = validatePipeline(options.spec, { registry, params });
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

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
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
    artifactRoot: resolve(options.artifactRoot ?? '.'),
    workingDir: resolve(options.workingDir ?? '.'),
    descriptors,
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

/** The status of a run, by workflow id. */
export async function getPipelineStatus(client: Client, workflowId: string): Promise<PipelineRunStatus> {
  return client.workflow.getHandle<typeof runPipeline>(workflowId).query(pipelineStatusQuery);
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
