/**
 * The embedded MLflow-compatible tracking server and model registry: MLflow's REST API 2.0 and artifact proxy, in
 * SQLite (durable) or in memory, for a zero-setup start like `mlflow server`. In production, point mloe at a real
 * MLflow with `MLFLOW_TRACKING_URI` instead. `mloe mlflow server` runs it as a process; see docs/mlflow.md.
 */
export { startMlflowServer, MlflowServerStartError, type MlflowServerHandle } from './server';
export { parseMlflowServerConfig, MlflowConfigError, S3_ENV_VARS, type MlflowServerOptions } from './config';
export { createMlflowBackend, type MlflowBackend } from './backend';
export { DatabaseLockedError } from './store/database';
export { MAX_JSON_BODY_BYTES } from './http/app';
