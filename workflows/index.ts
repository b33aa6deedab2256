/**
 * The workflows entry file: everything a worker's workflow bundle contains. Workers point at it with
 * `workflowsPath: require.resolve('../workflows')`.
 */
export { demoPipeline, statusQuery } from './demo-pipeline';
export type { DemoPipelineInput, DemoPipelineSummary, PipelineStatus, StepState, StepStatus } from './demo-pipeline';
