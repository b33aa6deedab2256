/**
 * Executor settings: a remote executor (`kubernetes`, `batch`) only on `run:` steps, with an image, and with every
 * setting the chosen executor needs (a Batch job queue and job definition), named by field path before anything starts.
 */
import { stepPlacement } from '../executors';
import type { StepSpec } from '../schema';
import type { PathSegment } from '../source-map';
import type { ValidationState } from './state';

/** Checks one step's executor and the settings it needs. */
export function checkExecutor(state: ValidationState, id: string, step: StepSpec, path: PathSegment[]): void {
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
  if (placement.executor === 'batch' && step.kubernetes !== undefined) {
    state.report({
      code: 'INVALID_VALUE',
      message: `step '${id}' runs on the batch executor${from}, so its kubernetes settings would be ignored`,
      hint: "remove 'kubernetes', or set 'executor: kubernetes'",
      path: [...path, 'kubernetes'],
      at: 'key',
    });
  }
  if (placement.executor === 'kubernetes' && step.batch !== undefined) {
    state.report({
      code: 'INVALID_VALUE',
      message: `step '${id}' runs on the kubernetes executor${from}, so its batch settings would be ignored`,
      hint: "remove 'batch', or set 'executor: batch'",
      path: [...path, 'batch'],
      at: 'key',
    });
  }
}
