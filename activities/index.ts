/**
 * The activities workers register. Only activity functions are exported as values here: a worker passes this whole
 * module as its `activities`, and workflows import it as types only.
 */
export { featurize, ingest, validate } from './data';
export type { FeaturizeInput, FeaturizeOutput, IngestInput, IngestOutput, ValidateInput, ValidateOutput } from './data';
export { evaluate, train } from './training';
export type { EvaluateInput, EvaluateOutput, RegressionMetrics, TrainInput, TrainOutput } from './training';
export type { ArtifactRef } from './artifacts';
export { runStep } from './steps/run-step';
export type { RunStepRequest, RunStepResult } from './steps/types';
