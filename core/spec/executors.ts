/**
 * Where a step runs: its `executor`, `resources`, `kubernetes`, `batch` and `taskQueue` over those of `defaults`
 * (field by field; `nodeSelector` merged key by key). Pure: the workflow builds each `run:` step's request with it and
 * the validator checks the result before anything starts. A `uses:` step runs remotely only when it names an
 * executor itself (`defaults.executor` is for `run:` steps): a built-in step then runs as `mloe step exec` in its
 * `image` (docs/executors.md).
 */
import type { BatchSettings, DefaultsSpec, ExecutorKind, KubernetesSettings, ResourcesSpec, StepSpec } from './schema';

/** A step's placement as the executor receives it. */
export interface StepPlacement {
  executor: ExecutorKind;
  resources?: ResourcesSpec;
  kubernetes?: KubernetesSettings;
  batch?: BatchSettings;
  /** A `uses:` step's own `image` on a remote executor (absent: the worker's built-in step image). */
  image?: string;
}

function merged<T extends object>(base: T | undefined, own: T | undefined): T | undefined {
  if (base === undefined) return own;
  if (own === undefined) return base;
  return { ...base, ...own };
}

/**
 * The settings of one step with `defaults` applied. A `run:` step takes `defaults.executor`; a `uses:` step runs
 * remotely only with an `executor` of its own; a `pipeline:` or `promote:` step always runs `local`ly.
 */
export function stepPlacement(defaults: DefaultsSpec | undefined, step: StepSpec): StepPlacement {
  const executor =
    step.run !== undefined
      ? (step.executor ?? defaults?.executor ?? 'local')
      : step.uses !== undefined && step.pipeline === undefined && step.promote === undefined
        ? (step.executor ?? 'local')
        : 'local';
  const resources = merged(defaults?.resources, step.resources);
  const kubernetes = merged(defaults?.kubernetes, step.kubernetes);
  if (kubernetes !== undefined && defaults?.kubernetes?.nodeSelector && step.kubernetes?.nodeSelector) {
    kubernetes.nodeSelector = { ...defaults.kubernetes.nodeSelector, ...step.kubernetes.nodeSelector };
  }
  const batch = merged(defaults?.batch, step.batch);
  return {
    executor,
    ...(resources === undefined ? {} : { resources }),
    ...(executor === 'kubernetes' && kubernetes !== undefined ? { kubernetes } : {}),
    ...(executor === 'batch' && batch !== undefined ? { batch } : {}),
    ...(executor !== 'local' && step.run === undefined && step.image !== undefined ? { image: step.image } : {}),
  };
}

/** The task queue a step's activity goes to, when the step or `defaults` names one (else the run's own). */
export function stepTaskQueue(defaults: DefaultsSpec | undefined, step: StepSpec): string | undefined {
  return step.taskQueue ?? defaults?.taskQueue;
}
