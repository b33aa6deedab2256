/**
 * `mloe rerun RUN --from STEP` and {@link rerunPipeline}: a new run of the pipeline a finished run ran — the same
 * spec, sub-pipelines, parameters, artifact store and working directory, read from that run's input in Temporal, so
 * the spec file need not exist any more — in which STEP and every step downstream of it run again (without the
 * cache), and every other step the first run completed is taken from it: its outputs, verified by digest as a cache
 * hit's are, before any step starts. It works against any Temporal (nothing is reset; the new run has its own
 * workflow id and links back through its memo, its status and its run record). docs/rerun.md says when to use it and
 * when a Temporal reset is the better tool.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';

import { ConfigError, MloeError, ensureError } from '../core/errors';
import { workflowIdProblem } from '../core/run-ids';
import { buildGraph, downstreamOf } from '../core/spec';
import packageJson from '../package.json';
import type { ConnectionConfig } from '../workers/config';
import {
  MAX_STATUS_FOREACH_OUTPUTS,
  RUN_PIPELINE_WORKFLOW_TYPE,
  type PipelineRunStatus,
  type RerunInput,
  type ReusedStep,
  type RunPipelineInput,
} from '../workflows/types';
import { withConnectedClient } from './connection';
import { getPipelineStatus, startPipelineRun, type IdConflictPolicy, type PipelineRun } from './pipelines';
import type { StartDevIo } from './start-dev';

/** Options of {@link rerunPipeline}. */
export interface RerunPipelineOptions {
  /** The run to repeat: its workflow id. It must have ended (completed, failed, cancelled, terminated, timed out). */
  workflowId: string;
  /** The step to start from: it and every step downstream of it run again. A step of the run's own spec. */
  fromStep: string;
  /** The rerun's workflow id; a new `<pipeline>-<ULID>` by default. */
  newWorkflowId?: string;
  /** When `newWorkflowId` already names a run; `Fail` by default. */
  idConflictPolicy?: IdConflictPolicy;
  /** The task queue of the rerun; the repeated run's by default. */
  taskQueue?: string;
}

/** What a rerun will do with each step of the pipeline. */
export interface RerunPlan {
  sourceWorkflowId: string;
  fromStep: string;
  /** Steps taken from the source run (each once its outputs verify), in declaration order. */
  reused: string[];
  /** The `--from` step and every step downstream of it: they run again, without the cache. */
  runAgain: string[];
  /**
   * Steps the source run did not complete (skipped, failed, cancelled, never reached) that are not downstream of the
   * `--from` step: there is nothing to take, so they are decided afresh, as in any run (the cache may serve them).
   */
  notCompleted: string[];
}

/** A started rerun, with its plan. */
export interface RerunRun extends PipelineRun {
  plan: RerunPlan;
}

/** A rerun's input may not pass this many bytes: Temporal refuses a start whose input passes 2 MB. */
const MAX_RERUN_INPUT_BYTES = 1536 * 1024;

/**
 * Starts a rerun of a finished pipeline run from one of its steps. Refuses, before anything starts:
 * `RUN_NOT_FOUND` for an unknown run (or one past the namespace's retention), `RUN_NOT_FINISHED` for a run still
 * running, `STEP_NOT_FOUND` for a step the pipeline does not have (listing those it has), `RERUN_UNSUPPORTED` for a
 * run whose steps cannot be taken as asked (a `foreach` whose outputs the status leaves out, a workflow that is not a
 * pipeline run).
 */
export async function rerunPipeline(client: Client, options: RerunPipelineOptions): Promise<RerunRun> {
  const { workflowId: sourceWorkflowId, fromStep } = options;
  for (const [what, id] of [
    ['run id', sourceWorkflowId],
    ['--id', options.newWorkflowId],
  ] as const) {
    const problem = id === undefined ? undefined : workflowIdProblem(id);
    if (problem !== undefined) throw new ConfigError(`${what}: ${problem}`);
  }
  const namespace = client.options.namespace;
  const handle = client.workflow.getHandle(sourceWorkflowId);
  const description = await handle.describe().catch((error: unknown) => {
    if (error instanceof WorkflowNotFoundError) {
      throw new MloeError(
        'RUN_NOT_FOUND',
        `no run ${sourceWorkflowId} in namespace ${namespace}: check the id (mloe list shows runs); a run past the ` +
          "namespace's retention period cannot be rerun",
        { cause: error },
      );
    }
    throw error;
  });
  if (description.type !== RUN_PIPELINE_WORKFLOW_TYPE) {
    throw new MloeError(
      'RERUN_UNSUPPORTED',
      `${sourceWorkflowId} is a ${description.type} workflow, not a pipeline run: rerun the run that started it`,
    );
  }
  if (description.status.name === 'RUNNING') {
    throw new MloeError(
      'RUN_NOT_FINISHED',
      `run ${sourceWorkflowId} is still running, so what its steps produced is not final: wait for it to end ` +
        `(mloe status ${sourceWorkflowId}) or cancel it (mloe cancel ${sourceWorkflowId}), then rerun it`,
    );
  }
  const input = await startInput(client, sourceWorkflowId, description.runId);
  const status = await getPipelineStatus(client, sourceWorkflowId).catch((error: unknown) => {
    throw new MloeError(
      'RERUN_UNSUPPORTED',
      `could not read the status of run ${sourceWorkflowId} (a run that did not complete answers through the ` +
        `status query, which a pipeline worker of task queue ${description.taskQueue} must be running to answer): ` +
        ensureError(error).message,
      { cause: error },
    );
  });
  const { rerun, plan } = planRerun(input, status, sourceWorkflowId, fromStep);
  const { rerun: _previous, ...inherited } = input;
  const rerunInput: RunPipelineInput = {
    ...inherited,
    metadata: { ...input.metadata, mloeVersion: packageJson.version },
    rerun,
  };
  const bytes = Buffer.byteLength(JSON.stringify(rerunInput));
  if (bytes > MAX_RERUN_INPUT_BYTES) {
    throw new MloeError(
      'RERUN_UNSUPPORTED',
      `the outputs to take from run ${sourceWorkflowId} make the rerun's input ${(bytes / 1024 / 1024).toFixed(1)} ` +
        'MB, more than Temporal accepts (2 MB): rerun from an earlier step',
    );
  }
  const run = await startPipelineRun(client, rerunInput, {
    ...(options.newWorkflowId === undefined ? {} : { workflowId: options.newWorkflowId }),
    ...(options.idConflictPolicy === undefined ? {} : { idConflictPolicy: options.idConflictPolicy }),
    taskQueue: options.taskQueue ?? description.taskQueue,
    memo: { rerunOf: sourceWorkflowId, fromStep },
    staticSummary: `pipeline ${input.spec.metadata.name} (rerun of ${sourceWorkflowId} from ${fromStep})`,
  });
  return { ...run, plan };
}

/** The input a run was started with, from the first event of its history (decoded as the client decodes payloads). */
async function startInput(client: Client, workflowId: string, runId: string): Promise<RunPipelineInput> {
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const started = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const [input] = await decodeArrayFromPayloads(client.options.loadedDataConverter, started?.input?.payloads);
  if (!isRunInput(input)) {
    throw new MloeError('RERUN_UNSUPPORTED', `run ${workflowId} was not started with a pipeline run's input`);
  }
  return input;
}

function isRunInput(value: unknown): value is RunPipelineInput {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<RunPipelineInput>;
  return (
    typeof candidate.spec === 'object' &&
    typeof candidate.spec.steps === 'object' &&
    typeof candidate.workingDir === 'string' &&
    typeof candidate.params === 'object'
  );
}

/**
 * What a rerun from `fromStep` does, from the source run's input and final status: `fromStep` and everything
 * downstream of it run again; every other step the source run completed is taken from it; what it did not complete
 * is decided afresh. Throws `STEP_NOT_FOUND` for a step the pipeline lacks, `RERUN_UNSUPPORTED` for a completed step
 * whose outputs the status does not hold (a `foreach` over more than `MAX_STATUS_FOREACH_OUTPUTS` items).
 */
export function planRerun(
  input: Pick<RunPipelineInput, 'spec'>,
  status: Pick<PipelineRunStatus, 'steps'>,
  sourceWorkflowId: string,
  fromStep: string,
): { rerun: RerunInput; plan: RerunPlan } {
  const ids = Object.keys(input.spec.steps);
  if (!ids.includes(fromStep)) {
    const nested = fromStep.includes('.') || fromStep.includes('/');
    throw new MloeError(
      'STEP_NOT_FOUND',
      `pipeline ${input.spec.metadata.name} (run ${sourceWorkflowId}) has no step ${JSON.stringify(fromStep)}; its ` +
        `steps are ${ids.join(', ')}${
          nested
            ? ' (a step inside a sub-pipeline cannot be chosen: rerun from the step that runs the sub-pipeline)'
            : ''
        }`,
    );
  }
  const graph = buildGraph(input.spec.steps);
  const again = new Set([fromStep, ...downstreamOf(graph, fromStep)]);
  const byId = new Map(status.steps.map((step) => [step.id, step]));
  const reuse: Record<string, ReusedStep> = {};
  const plan: RerunPlan = { sourceWorkflowId, fromStep, reused: [], runAgain: [], notCompleted: [] };
  for (const id of ids) {
    const step = byId.get(id);
    if (again.has(id)) plan.runAgain.push(id);
    else if (step?.state !== 'completed') plan.notCompleted.push(id);
    else {
      if (step.outputs === undefined) {
        throw new MloeError(
          'RERUN_UNSUPPORTED',
          `step ${id} of run ${sourceWorkflowId} completed, but its outputs are not in the run's status ` +
            `(${step.outputsOmitted ?? 'none recorded'}): a foreach of more than ${MAX_STATUS_FOREACH_OUTPUTS} items ` +
            `cannot be taken from a run; rerun from ${id} or a step before it`,
        );
      }
      reuse[id] = {
        uses: step.uses,
        outputs: step.outputs,
        ...(step.metrics === undefined ? {} : { metrics: step.metrics }),
        ...(step.foreach === undefined ? {} : { iterations: step.foreach.total }),
        ...(step.childWorkflow === undefined ? {} : { childWorkflow: step.childWorkflow }),
      };
      plan.reused.push(id);
    }
  }
  return { rerun: { sourceWorkflowId, fromSteps: [fromStep], reuse }, plan };
}

/** Options of {@link runRerun}. */
export interface RerunCommandOptions {
  /** `--from STEP`. */
  from: string;
  /** `--id`: the rerun's workflow id. */
  id?: string;
  idConflictPolicy?: IdConflictPolicy;
  /** Wait for the rerun to end, printing progress and the summary. */
  wait?: boolean;
  pollIntervalMs?: number;
}

/** `mloe rerun RUN --from STEP`: prints the plan, starts the rerun, and with `--wait` follows it to the end. */
export async function runRerun(
  workflowId: string,
  options: RerunCommandOptions,
  config: ConnectionConfig,
  io: StartDevIo,
): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    const run = await rerunPipeline(client, {
      workflowId,
      fromStep: options.from,
      ...(options.id === undefined ? {} : { newWorkflowId: options.id }),
      ...(options.idConflictPolicy === undefined ? {} : { idConflictPolicy: options.idConflictPolicy }),
    });
    const { plan } = run;
    const list = (ids: readonly string[]): string => (ids.length === 0 ? '(none)' : ids.join(', '));
    io.stdout(`rerun of ${plan.sourceWorkflowId} from ${plan.fromStep}`);
    io.stdout(`  taken from ${plan.sourceWorkflowId} (once their outputs verify): ${list(plan.reused)}`);
    io.stdout(`  run again, without the cache: ${list(plan.runAgain)}`);
    if (plan.notCompleted.length > 0) {
      io.stdout(`  not completed in ${plan.sourceWorkflowId}, decided afresh: ${list(plan.notCompleted)}`);
    }
    io.stdout(`${run.existing ? 'found existing run' : 'started'} ${run.workflowId} (pipeline ${run.pipeline})`);
    if (options.wait !== true) {
      io.stdout(`follow it with: mloe status ${run.workflowId}`);
      return 0;
    }
    // Loaded only to follow a run: the progress printer and summary table of `mloe run`.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { followRun } = require('./run') as typeof import('./run');
    const startedAt = performance.now();
    const outcome = await followRun(
      run,
      io,
      () => `${((performance.now() - startedAt) / 1000).toFixed(2)}s`,
      options.pollIntervalMs,
    );
    for (const line of reuseSummary(outcome.status)) io.stdout(line);
    return outcome.error === undefined ? 0 : 1;
  });
}

/** Which steps a rerun took from its source run, and which it could not (and why). */
export function reuseSummary(status: PipelineRunStatus): string[] {
  const reused = status.steps.filter((step) => step.cache === 'reused');
  const lines =
    reused.length === 0
      ? []
      : [`reused from ${reused[0]?.reusedFrom ?? '?'}: ${reused.map((step) => step.id).join(', ')}`];
  for (const step of status.steps) {
    if (step.notReused !== undefined) lines.push(`not reused, ran again: ${step.id} (${step.notReused})`);
  }
  return lines;
}
