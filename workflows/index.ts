/**
 * The workflows entry file: everything a worker's workflow bundle contains. Workers point at it with
 * `workflowsPath: require.resolve('../workflows')`.
 */
export { demoPipeline, statusQuery } from './demo-pipeline';
export type { DemoPipelineInput, DemoPipelineSummary, PipelineStatus, StepState, StepStatus } from './demo-pipeline';
export {
  DEFAULT_FOREACH_BATCH_SIZE,
  DEFAULT_FOREACH_PARALLEL,
  PIPELINE_SEARCH_ATTRIBUTE,
  PIPELINE_TASK_QUEUE,
  STATUS_SEARCH_ATTRIBUTE,
  pipelineStatusQuery,
  runPipeline,
} from './run-pipeline';
export type {
  CacheDecision,
  PipelineRunStatus,
  PipelineState,
  RunMetadata,
  RunPipelineInput,
  StepRunStatus,
  StepState as PipelineStepState,
} from './run-pipeline';
export { foreachBatch } from './foreach-batch';
export type { ForeachBatchInput, ForeachBatchResult } from './foreach-batch';
