/**
 * Pipeline steps on the worker side: the `runStep` activity, its request and result, and step implementations.
 */
export { BUILTIN_STEP_IMPLEMENTATIONS, createRunStep, runStep, type RunStepActivity } from './run-step';
export { BUILTIN_IMPLEMENTATIONS } from './builtin';
export {
  createStepImplementations,
  stepRef,
  type StepContext,
  type StepImplementation,
  type StepImplementations,
  type StepOutput,
} from './registry';
export type { RunStepRequest, RunStepResult, StepFailureDetails } from './types';
