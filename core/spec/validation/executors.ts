/**
 * Executor settings: a remote executor (`kubernetes`, `batch`) only on `run:` steps, with an image, and with every
 * setting the chosen executor needs (a Batch job queue and job definition), named by field path before anything starts.
 */
import { CONTAINER_BUILTIN_STEPS, runsInContainer } from '../../steps/remote';
import { stepPlacement } from '../executors';
import type { StepSpec } from '../schema';
import type { PathSegment } from '../source-map';
import type { ValidationState } from './state';

/** Checks one step's executor and the settings it needs. */
export function checkExecutor(state: ValidationState, id: string, step: StepSpec, path: PathSegment[]): void {
  if (step.image !== undefined && step.uses === undefined) {
    state.report({
      code: 'INVALID_STEP',
      message: `step '${id}' has 'image', which only a registered ('uses') step takes`,
      hint:
        step.run === undefined
          ? "remove 'image'"
          : "move it into the step's run: `run: { image: ..., command: [...] }`",
      path: [...path, 'image'],
      at: 'key',
    });
  }
  if (step.run === undefined && step.uses !== undefined && step.pipeline === undefined && step.promote === undefined) {
    checkBuiltinExecutor(state, id, step, step.uses, path);
    return;
  }
  if (step.run === undefined) {
    if (step.executor !== undefined && step.executor !== 'local') {
      state.report({
        code: 'INVALID_STEP',
        message: `step '${id}' is not a 'run' step, so it cannot use the ${step.executor} executor`,
        hint: `registered ('uses') and 'pipeline' steps run on the worker: remove 'executor', or write the step as 'run: { image: ..., command: [...] }'`,
        path: [...path, 'executor'],
        at: 'key',
      });
    }
    return;
  }
  const placement = stepPlacement(state.defaults, step);
  const from = step.executor === undefined ? ' (from defaults.executor)' : '';
  if (placement.executor === 'local') return;
  if (step.run.image === undefined) {
    state.report({
      code: 'MISSING_FIELD',
      message: `step '${id}' runs on the ${placement.executor} executor${from}, which needs a container image`,
      hint: "add 'image' to the step's run, e.g. `run: { image: 'python:3.12-slim', command: [...] }`",
      path: [...path, 'run'],
      at: 'key',
    });
  }
  if (placement.executor === 'batch') {
    for (const field of ['jobQueue', 'jobDefinition'] as const) {
      if (placement.batch?.[field] !== undefined) continue;
      state.report({
        code: 'MISSING_FIELD',
        message: `step '${id}' runs on the batch executor${from}, which needs batch.${field}`,
        hint:
          field === 'jobQueue'
            ? 'set `batch: { jobQueue: <queue name or ARN> }` on the step or in defaults'
            : 'set `batch: { jobDefinition: <name[:revision] or ARN> }` on the step or in defaults',
        path: step.batch === undefined ? [...path, 'batch'] : [...path, 'batch', field],
        ...(step.batch === undefined ? {} : { at: 'key' as const }),
      });
    }
  }
  checkIgnoredSettings(state, id, step, placement.executor, from, path);
}

/**
 * A `uses:` step on a remote executor: only built-in steps that run in a container (`core/steps/remote.ts`), as
 * `mloe step exec`. Its image defaults to the worker's built-in step image, and on Batch its job queue and job
 * definition may come from the worker's settings (`MLOE_BUILTIN_BATCH_JOB_QUEUE`, `MLOE_BUILTIN_BATCH_JOB_DEFINITION`),
 * which the spec cannot see: a worker without them fails the step before submitting anything.
 */
function checkBuiltinExecutor(
  state: ValidationState,
  id: string,
  step: StepSpec,
  uses: string,
  path: PathSegment[],
): void {
  const placement = stepPlacement(state.defaults, step);
  if (placement.executor === 'local') return;
  const resolved = state.registry.resolve(uses);
  // An unknown step is reported at `uses` already.
  if (!resolved.ok) return;
  const ref = `${resolved.descriptor.name}@${resolved.descriptor.version}`;
  if (!runsInContainer(ref)) {
    state.report({
      code: 'INVALID_STEP',
      message: `step '${id}' (${ref}) cannot run on the ${placement.executor} executor: it runs on the worker`,
      hint: `remove 'executor'; built-in steps that run remotely (as 'mloe step exec'): ${CONTAINER_BUILTIN_STEPS.join(', ')}`,
      path: [...path, 'executor'],
      at: 'key',
    });
  }
  checkIgnoredSettings(state, id, step, placement.executor, '', path);
}

/** The other remote executor's settings on a step would be ignored: reported at them. `from` says where the executor came from. */
function checkIgnoredSettings(
  state: ValidationState,
  id: string,
  step: StepSpec,
  executor: 'kubernetes' | 'batch',
  from: string,
  path: PathSegment[],
): void {
  const other = executor === 'batch' ? 'kubernetes' : 'batch';
  if (step[other] === undefined) return;
  state.report({
    code: 'INVALID_VALUE',
    message: `step '${id}' runs on the ${executor} executor${from}, so its ${other} settings would be ignored`,
    hint: `remove '${other}', or set 'executor: ${other}'`,
    path: [...path, other],
    at: 'key',
  });
}
