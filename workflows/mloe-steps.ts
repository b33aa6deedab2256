/**
 * Running mloe steps from a hand-written Temporal workflow. {@link mloeSteps} gives a workflow the same step execution
 * the spec interpreter uses: one `runStep` activity per step, content-addressed artifacts in the run's store, the
 * cache (a step whose key is unchanged and whose outputs still verify is not executed again), retries and timeouts
 * mapped onto activity options, command steps through the local runner, and lineage records. Only the orchestration
 * is yours: ordinary TypeScript control flow between `await`s.
 *
 * ```ts
 * export async function housing(input: { dataPath: string; workingDir: string }) {
 *   const steps = mloeSteps({ pipeline: 'housing', workingDir: input.workingDir });
 *   const { outputs } = await steps.run('ingest', 'ingest@1', { dataPath: input.dataPath });
 *   const checked = await steps.run('validate', 'validate@1', { dataset: outputs.dataset, columns: ['a', 'b'] });
 *   return checked.outputs.report;
 * }
 * ```
 */
import { workflowInfo } from '@temporalio/workflow';

import type { RunStepRequest, RunStepResult } from '../activities/steps';
import { STEP_ID_PATTERN, workflowIdProblem } from '../core/run-ids';
import { PIPELINE_NAME_PATTERN, type JsonValue, type RetrySpec } from '../core/spec';
import { ActivitySlots, executeStep, stepActivityOptions } from './step-execution';

/** What a step run hands back (outputs, metrics, cache decision, attempts). */
export type { RunStepResult };

/** Options of {@link mloeSteps}: what every step of the workflow shares. */
export interface MloeStepsOptions {
  /** A name for the workflow's steps in cache explanations and lineage, like a spec's `metadata.name` (`housing`). */
  pipeline: string;
  /**
   * The run's id in lineage records and step requests; the workflow id by default. Set it when the workflow id has
   * characters records cannot use (anything but letters, digits, `_` and `-`, or over 160 characters).
   */
  workflowId?: string;
  /** Directory relative paths in inputs and command working directories resolve against (absolute, on the worker). */
  workingDir: string;
  /** The artifact store (`file:///…`, `s3://…`); the worker's default store when absent. */
  artifactStore?: string;
  /** Turn the cache off for every step (recorded as `--no-cache`). */
  noCache?: boolean;
  /** Parameters command steps receive in `params.json` (and that join their cache keys). */
  params?: Record<string, JsonValue>;
  /** Retry and timeout of every step unless it sets its own (spec syntax: `'5m'`, `{ maxAttempts: 3 }`). */
  defaults?: StepRunOptions;
  /** In-flight step activities at most (Temporal's limit is 2,000 pending activities per workflow). */
  maxInFlight?: number;
}

/** Per-step execution options, in the spec's syntax. */
export interface StepRunOptions {
  retry?: RetrySpec;
  /** Start-to-close timeout of one attempt, e.g. `'10m'`. */
  timeout?: string;
  /** Turn the cache off for this step (recorded as `cache: false`). */
  cache?: boolean;
  /** A `foreach`-style index, so iterations of one step id are told apart in cache explanations and lineage. */
  index?: number;
}

/** A command step: argv (no shell), and its typed outputs. Inputs are materialised as files, as for spec steps. */
export interface CommandStep {
  command: string[];
  env?: Record<string, string>;
  /** Run in this directory (relative to `workingDir`) instead of a fresh one. */
  workingDir?: string;
  image?: string;
  /** Declared outputs, e.g. `{ model: { type: 'model' }, accuracy: { type: 'number' } }`. */
  outputs?: Record<string, { type: string }>;
}

/** What {@link mloeSteps} returns. */
export interface MloeSteps {
  /**
   * Runs a registered step (`name@version`, exactly as the worker registers it) with these input values (artifact
   * references as returned by earlier steps, or literals). Resolves with its outputs, metrics, cache decision and
   * attempts; rejects with the activity failure when it fails for good.
   */
  run(
    stepId: string,
    uses: string,
    inputs: Record<string, JsonValue>,
    options?: StepRunOptions,
  ): Promise<RunStepResult>;
  /** Runs a command step (see `docs/command-steps.md` for the process's side). */
  command(
    stepId: string,
    step: CommandStep,
    inputs?: Record<string, JsonValue>,
    options?: StepRunOptions,
  ): Promise<RunStepResult>;
}

/**
 * Step execution for a hand-written workflow; call it in the workflow function (it reads `workflowInfo()`). Throws a
 * `TypeError` (failing the workflow task, so the fix can be deployed) for a pipeline name or run id records cannot use.
 */
export function mloeSteps(options: MloeStepsOptions): MloeSteps {
  const info = workflowInfo();
  const workflowId = options.workflowId ?? info.workflowId;
  const { firstExecutionRunId } = info;
  if (!PIPELINE_NAME_PATTERN.test(options.pipeline) || options.pipeline.length > 63) {
    throw new TypeError(
      `mloeSteps: pipeline ${JSON.stringify(options.pipeline)} must be lowercase letters, digits and '-' (at most 63)`,
    );
  }
  const idProblem = workflowIdProblem(workflowId);
  if (idProblem !== undefined) throw new TypeError(`mloeSteps: ${idProblem}; pass a usable workflowId option`);
  const slots = new ActivitySlots(options.maxInFlight ?? 1_000);

  const execute = (
    stepId: string,
    body: Pick<RunStepRequest, 'uses' | 'run' | 'outputs'>,
    inputs: Record<string, JsonValue>,
    stepOptions: StepRunOptions,
  ): Promise<RunStepResult> => {
    if (!STEP_ID_PATTERN.test(stepId)) {
      throw new TypeError(`step id ${JSON.stringify(stepId)} must be an identifier (letters, digits and _)`);
    }
    const merged: StepRunOptions = { ...options.defaults, ...stepOptions };
    const noCache = options.noCache === true ? '--no-cache' : merged.cache === false ? 'cache: false' : undefined;
    const request: RunStepRequest = {
      stepId,
      workflowId,
      firstExecutionRunId,
      pipeline: options.pipeline,
      ...body,
      inputs,
      params: options.params ?? {},
      workingDir: options.workingDir,
      ...(options.artifactStore === undefined ? {} : { artifactStore: options.artifactStore }),
      ...(noCache === undefined ? {} : { noCache }),
      ...(merged.index === undefined ? {} : { index: merged.index }),
    };
    const activityOptions = stepActivityOptions(
      { defaults: {} },
      {
        ...(merged.retry === undefined ? {} : { retry: merged.retry }),
        ...(merged.timeout === undefined ? {} : { timeout: merged.timeout }),
      },
    );
    return executeStep(request, activityOptions, slots);
  };

  return {
    run: (stepId, uses, inputs, stepOptions = {}) => execute(stepId, { uses, outputs: {} }, inputs, stepOptions),
    command: (stepId, step, inputs = {}, stepOptions = {}) => {
      const { outputs, ...run } = step;
      return execute(stepId, { run, outputs: outputs ?? {} }, inputs, stepOptions);
    },
  };
}
