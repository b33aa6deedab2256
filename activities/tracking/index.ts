/**
 * Every pipeline run tracked in MLflow: the pipeline run as an MLflow run (written by `recordRun`), each step
 * execution a nested run (written by an observer of `runStep`), with params, metrics, tags that lead back to
 * Temporal, datasets, and status and end time that follow the workflow. See docs/tracking.md.
 */
export {
  ACTIVITY_MLFLOW_LIMITS,
  TRACKING_ENV,
  activityMlflowConfig,
  trackingConfigFromEnv,
  type LinkStyle,
  type TrackingConfig,
} from './config';
export {
  MLFLOW_LIMITS,
  checkBatch,
  keyProblem,
  paramText,
  shorten,
  tagValue,
  type CheckedBatch,
  type KeyValue,
} from './limits';
export {
  MAX_METRICS_ARTIFACT_BYTES,
  latestPoints,
  parseMetricsDocument,
  quoteNonFiniteTokens,
  stepMetricPoints,
  type MetricPoint,
  type StepMetricPoints,
} from './metrics';
export {
  MLFLOW_TAGS,
  MLOE_TAGS,
  executionKey,
  modelVersionLink,
  quoted,
  runLink,
  stepRunName,
  tagEquals,
  type RunKind,
} from './names';
export { trackPipelineRun } from './pipeline-runs';
export {
  claimWhileRunning,
  completeStepRun,
  failStepRun,
  logToPipelineRun,
  openStepRun,
  prepareStepRun,
  type StepExecution,
  type StepRun,
  type StepRunData,
} from './step-runs';
export { MlflowTracker, trackedRun, type MlflowTrackerOptions, type TrackedRun } from './tracker';
export type {
  MlflowRunLink,
  ScheduledStep,
  StepTrackingSinks,
  TemporalIdentity,
  TrackedPipelineRun,
  TrackedState,
} from './types';
export { PREPARED_RUN_TTL_MS, PreparedRuns, type PreparedRun } from './prepared-runs';
export { settleRunsOfClosedWorkflows, type SettledClosedRun, type WorkflowOutcome } from './closed-runs';
