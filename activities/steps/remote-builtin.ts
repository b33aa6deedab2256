/**
 * Built-in (`uses:`) steps on a remote executor: the step runs as a Kubernetes Job or an AWS Batch job whose command
 * is `mloe step exec NAME@VERSION` in the mloe image (`clients/step-exec.ts`), under the same command-step contract
 * as `run:` steps (inputs staged as files, outputs and `metrics.json` written back, digests verified). The outputs it
 * hands back are stored with the types and metadata the step gave them, so the references equal those the step stores
 * when it runs on the worker; the cache key adds the image (the code that ran is the image's).
 */
import packageJson from '../../package.json';
import { MloeError, type MloeErrorCode } from '../../core/errors';
import type { JsonValue, StepPlacement } from '../../core/spec';
import type { ExecutionContext, Executors, RemoteCommandRequest } from '../executors';
import type { StepContext, StepImplementation, StepOutput } from './registry';
import { stepRef } from './registry';
import type { RunStepRequest, StepLogs } from './types';

/**
 * The image remote built-in steps run in unless the step or the worker names another: the published mloe image of
 * this version, as infra/docker builds it and infra/helm deploys it (a pinned tag, never `latest`).
 */
export const DEFAULT_BUILTIN_STEP_IMAGE = `ghcr.io/mloe/mloe-worker:${packageJson.version}`;

/** The command a remote built-in step runs (`mloe` is on the image's PATH). */
export function builtinStepCommand(ref: string): string[] {
  return ['mloe', 'step', 'exec', ref];
}

/**
 * The last line `mloe step exec` prints when the step fails: its error code and whether a retry could help, which
 * the worker reads back from the job's log tail (see {@link stepExecFailure}).
 */
export function stepExecFailureLine(code: string, retryable: boolean): string {
  return `mloe step exec: failed with ${code} (${retryable ? 'retryable' : 'not retryable'})`;
}

/**
 * The step's own error from a failed job: a `STEP_COMMAND_FAILED` whose log tail ends with
 * {@link stepExecFailureLine} becomes an error with the step's code and retryability (the message keeps the tail), so
 * a step that fails for good (`DATA_INVALID`, `CONFIG_INVALID`) is not retried, as on the worker. Anything else is
 * returned as it is.
 */
export function stepExecFailure(error: unknown): unknown {
  if (!(error instanceof MloeError) || error.code !== 'STEP_COMMAND_FAILED') return error;
  const matches = [
    ...error.message.matchAll(/mloe step exec: failed with ([A-Z][A-Z_]{1,63}) \((not retryable|retryable)\)/g),
  ];
  const last = matches.at(-1);
  if (last === undefined) return error;
  // The code comes from this version's `mloe step exec`, which prints `MloeError` codes only.
  return new MloeError(last[1] as MloeErrorCode, error.message, { retryable: last[2] === 'retryable', cause: error });
}

/** The worker's settings for remote built-in steps (`MLOE_BUILTIN_*`, workers/config.ts). */
export interface BuiltinStepSettings {
  /** The image of built-in steps that name none; {@link DEFAULT_BUILTIN_STEP_IMAGE} when absent. */
  image?: string;
  /** The Batch job queue and job definition of built-in steps whose spec names none. */
  batch?: { jobQueue?: string; jobDefinition?: string };
}

/** A `uses:` step's request on a remote executor. */
export type RemoteBuiltinRequest = RunStepRequest & { uses: string; placement: StepPlacement };

/** Whether a request is a `uses:` step on a remote executor. */
export function isRemoteBuiltin(request: RunStepRequest): request is RemoteBuiltinRequest {
  return (
    request.uses !== undefined &&
    request.run === undefined &&
    request.placement !== undefined &&
    request.placement.executor !== 'local'
  );
}

/** The image a remote built-in step runs in: the step's `image`, else the worker's, else the published one. */
export function builtinImageOf(request: RemoteBuiltinRequest, settings: BuiltinStepSettings = {}): string {
  return request.placement.image ?? settings.image ?? DEFAULT_BUILTIN_STEP_IMAGE;
}

/**
 * The placement with the worker's Batch defaults filled in; `CONFIG_INVALID` (not retried, before any job is
 * submitted) when a Batch step still lacks its job queue or job definition.
 */
function placementOf(request: RemoteBuiltinRequest, settings: BuiltinStepSettings): StepPlacement {
  const { placement } = request;
  if (placement.executor !== 'batch') return placement;
  const jobQueue = placement.batch?.jobQueue ?? settings.batch?.jobQueue;
  const jobDefinition = placement.batch?.jobDefinition ?? settings.batch?.jobDefinition;
  const missing = (
    [
      ['jobQueue', jobQueue, 'MLOE_BUILTIN_BATCH_JOB_QUEUE'],
      ['jobDefinition', jobDefinition, 'MLOE_BUILTIN_BATCH_JOB_DEFINITION'],
    ] as const
  ).find(([, value]) => value === undefined);
  if (missing !== undefined) {
    throw new MloeError(
      'CONFIG_INVALID',
      `step ${request.stepId} (${request.uses}) runs on the batch executor without batch.${missing[0]}: set it on ` +
        `the step or in defaults, or start the worker with ${missing[2]} (docs/executors.md)`,
      { retryable: false },
    );
  }
  return { ...placement, batch: { ...placement.batch, jobQueue, jobDefinition } };
}

/** The command-step request of a built-in step: `mloe step exec`, its inputs, the ports its descriptor declares. */
export function builtinCommandRequest(
  implementation: StepImplementation,
  request: RemoteBuiltinRequest,
  artifactRoot: string,
  settings: BuiltinStepSettings = {},
): RemoteCommandRequest {
  const ref = stepRef(implementation.descriptor);
  return {
    stepId: request.index === undefined ? request.stepId : `${request.stepId}-${request.index}`,
    ...(request.index === undefined ? {} : { index: request.index }),
    workflowId: request.workflowId,
    command: builtinStepCommand(ref),
    params: {},
    inputs: request.inputs,
    outputs: Object.fromEntries(
      Object.entries(implementation.descriptor.outputs).map(([name, port]) => [name, { type: port.type }]),
    ),
    artifactRoot,
    image: builtinImageOf(request, settings),
    placement: placementOf(request, settings),
    builtinStep: ref,
  };
}

/** Runs a built-in step on its remote executor and returns what the step returns on the worker, plus its log. */
export async function runBuiltinRemotely(
  implementation: StepImplementation,
  request: RemoteBuiltinRequest,
  context: StepContext,
  executors: Executors,
  execution: Pick<ExecutionContext, 'progress' | 'previous' | 'timeoutMs'>,
  settings: BuiltinStepSettings = {},
): Promise<StepOutput & { logs: StepLogs }> {
  const kind = request.placement.executor;
  if (kind === 'local') throw new MloeError('INTERNAL', 'runBuiltinRemotely called for a local step');
  const executor = executors[kind];
  if (executor === undefined) {
    throw new MloeError(
      'CONFIG_INVALID',
      `step ${request.stepId} (${request.uses}) runs on the ${kind} executor, and this worker has none: start its ` +
        `workers with 'mloe worker --executor ${kind}' and route the step to them with 'taskQueue' (docs/executors.md)`,
      { retryable: false },
    );
  }
  const result = await executor
    .run(builtinCommandRequest(implementation, request, context.store.rootUri, settings), {
      attempt: context.attempt,
      signal: context.signal,
      store: context.store,
      progress: execution.progress,
      ...(execution.previous === undefined ? {} : { previous: execution.previous }),
      ...(execution.timeoutMs === undefined ? {} : { timeoutMs: execution.timeoutMs }),
    })
    .catch((error: unknown) => {
      throw stepExecFailure(error);
    });
  return {
    outputs: result.outputs as Record<string, JsonValue>,
    ...(result.metrics === undefined ? {} : { metrics: result.metrics }),
    logs: result.logs as StepLogs,
  };
}
