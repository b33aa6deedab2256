/**
 * Lineage: run and step metadata records beside the artifacts, the producer/consumer graph built from them (what
 * `mloe lineage` shows), and OpenLineage events for pipeline runs and steps. See docs/lineage.md.
 */
export {
  WORKFLOW_ID_PATTERN,
  STEP_ID_PATTERN,
  artifactUseSchema,
  artifactUses,
  listRunRecordIds,
  listRunRecords,
  listStepRecordNames,
  listStepRecords,
  parseRunRecord,
  parseStepRecord,
  parseStepRecordName,
  readRunRecord,
  readStepRecord,
  workflowIdSchema,
  runRecordSchema,
  runStepSummarySchema,
  stepCacheSchema,
  stepIdSchema,
  stepRecordName,
  stepRecordSchema,
  writeRunRecord,
  writeStepRecord,
} from './records';
export type { ArtifactUse, ListRecordsOptions, RunRecord, RunStepSummary, StepCache, StepRecord } from './records';
export { DEFAULT_LINEAGE_DEPTH, LineageGraph, MAX_LINEAGE_DEPTH } from './graph';
export type {
  ArtifactLineage,
  ArtifactLineageOptions,
  ArtifactSummary,
  DownstreamEdge,
  DownstreamOutput,
  ExecutionSummary,
  InputSource,
  LineageDirection,
  LineageGraphOptions,
  LineageTarget,
  OutputRelation,
  RunLineage,
  RunStepLineage,
  UpstreamEdge,
  UpstreamInput,
} from './graph';
export {
  FACET_SCHEMA_URLS,
  MLOE_PRODUCER,
  MLOE_UUID_NAMESPACE,
  OPENLINEAGE_SPEC_VERSION,
  RUN_EVENT_SCHEMA_URL,
  datasetNamespace,
  lineageJobName,
  lineageRunId,
  pipelineRunEvent,
  runEventSchema,
  runEventType,
  stepEventType,
  stepRunEvent,
  uuidV5,
} from './openlineage';
export type {
  BaseFacet,
  Dataset,
  LineageEventOptions,
  LineageEventType,
  PipelineRunInfo,
  RunEvent,
  StepExecutionInfo,
} from './openlineage';
export {
  DEFAULT_LINEAGE_ENDPOINT,
  DEFAULT_LINEAGE_NAMESPACE,
  DEFAULT_LINEAGE_TIMEOUT_MS,
  LINEAGE_ENV,
  Secret,
  describeLineageConfig,
  lineageConfigFromEnv,
  redactUrl,
} from './config';
export type { LineageConfig, LineageEnv, LineageTransportConfig } from './config';
export { DEFAULT_FAILURE_COOLDOWN_MS, createLineageEmitter, noopEmitter } from './transport';
export type { LineageEmitter, LineageEmitterOptions, LineageLogger } from './transport';
export {
  artifactStoreUri,
  consoleLineageLogger,
  createLineageActivities,
  emitStepStart,
  recordRun,
  recordStepExecution,
  runRecordFromStatus,
  sharedLineageEmitter,
} from './recorder';
export { reuseSteps } from './reuse';
export type { ReuseDecision, ReuseStepInput, ReuseStepsInput, ReuseStepsOptions, ReuseStepsResult } from './reuse';
export type {
  LineageActivities,
  LineageActivitiesOptions,
  RecordRunInput,
  RecordRunResult,
  RunTracker,
  TemporalIds,
  RecordStepOptions,
  RunStatusSnapshot,
} from './recorder';
