/**
 * A typed client of MLflow's REST API (tracking, artifact proxy, model registry) over `fetch`, validated with zod
 * both ways: the `mlflow-client-ts` of mloe's design. See docs/mlflow-client.md.
 */
export { MlflowClient, createMlflowClient } from './client';
export {
  MLFLOW_ENV,
  MLFLOW_HTTP_DEFAULTS,
  Secret,
  describeMlflowConfig,
  mlflowConfig,
  mlflowConfigFromEnv,
  optionalMlflowConfigFromEnv,
  parseTrackingUri,
  type MlflowAuth,
  type MlflowConfig,
  type MlflowConfigInput,
  type MlflowEnv,
  type MlflowRetryConfig,
} from './config';
export {
  MlflowError,
  errorCodeForStatus,
  isMlflowError,
  isRetryableStatus,
  type MlflowClientErrorCode,
  type MlflowErrorCode,
  type MlflowServerErrorCode,
} from './errors';
export {
  MlflowHttpClient,
  backoffDelayMs,
  retryAfterMs,
  type HttpAnswer,
  type HttpHooks,
  type HttpRequest,
  type JsonTransport,
  type TransportRequest,
} from './http';
export {
  ExperimentsApi,
  EXPERIMENT_ENDPOINTS,
  type CreateExperimentInput,
  type SearchExperimentsInput,
} from './experiments';
export {
  RunsApi,
  RUN_ENDPOINTS,
  type CreateRunInput,
  type DatasetInputInput,
  type LogBatchInput,
  type LogBatchOptions,
  type MetricInput,
  type SearchRunsInput,
  type UpdateRunInput,
} from './runs';
export { LOG_BATCH_LIMITS, logBatchBytesAtMost, splitLogBatch, type LogBatchLimits, type WireBatch } from './log-batch';
export {
  ARTIFACT_PROXY,
  ArtifactsApi,
  normalizeArtifactPath,
  parseRunsUri,
  proxyLocationOf,
  type ArtifactTarget,
  type ProxyLocation,
  type UploadOptions,
} from './artifacts';
export {
  RegisteredModelsApi,
  REGISTERED_MODEL_ENDPOINTS,
  type CreateRegisteredModelInput,
  type SearchRegisteredModelsInput,
  type VersionInput,
} from './registered-models';
export {
  ModelVersionsApi,
  MODEL_VERSION_ENDPOINTS,
  MODEL_VERSION_READY_TIMEOUT_MS,
  type CreateModelVersionInput,
  type SearchModelVersionsInput,
} from './model-versions';
export { UriResolver, parseModelUri, type ModelUri, type ResolvedModelUri, type ResolvedRunUri } from './uris';
export { allPages, collect } from './paging';
export { MLFLOW_API } from './rest';
export type * from './types';
