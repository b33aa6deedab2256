/**
 * Pipeline steps on the worker side: the `runStep` activity, its request and result, and step implementations.
 */
export {
  BUILTIN_STEP_IMPLEMENTATIONS,
  createRunStep,
  runStep,
  type ExecutionObserver,
  type ExecutionReport,
  type RunStepActivity,
  type RunStepOptions,
} from './run-step';
export { BUILTIN_IMPLEMENTATIONS } from './builtin';
export {
  createListManifestActivities,
  expandListManifests,
  readListManifest,
  type ListManifestActivities,
  type WriteListManifestInput,
  type WriteListPartInput,
} from './list-manifests';
export {
  createStepImplementations,
  stepRef,
  type StepContext,
  type StepImplementation,
  type StepImplementations,
  type StepOutput,
} from './registry';
export type { CacheOutcome, RunStepRequest, RunStepResult, StepFailureDetails, StepLogs } from './types';
