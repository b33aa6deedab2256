/**
 * MLflow's entities as this client hands them out: the messages of `mlflow/protos/service.proto` and
 * `model_registry.proto` with camelCase names over MLflow's snake_case wire names, int64 values as numbers, metric
 * values as numbers (`NaN` and `±Infinity` included, which travel as strings on the wire), and repeated fields as
 * arrays that are empty when MLflow left them out.
 */

/** A key and a value: the shape of run, experiment, input, registered model and model version tags. */
export interface Tag {
  key: string;
  value: string;
}

/** Tags as callers give them: a record, or a list (which keeps order and allows repeated keys). */
export type TagsInput = Readonly<Record<string, string>> | readonly Tag[];

/** `ViewType`: which lifecycle stages a search returns. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

/** The lifecycle stage of an experiment or a run. */
export type LifecycleStage = 'active' | 'deleted';

/** `RunStatus`. */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** `Experiment`. */
export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: LifecycleStage;
  /** Milliseconds since the epoch. */
  lastUpdateTime?: number;
  /** Milliseconds since the epoch. */
  creationTime?: number;
  tags: Tag[];
}

/** `Metric`: one logged value; a key logged many times has many. */
export interface Metric {
  key: string;
  /** May be `NaN`, `Infinity` or `-Infinity`. */
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

/** `Param`: immutable once logged. */
export interface Param {
  key: string;
  value: string;
}

/** `RunInfo`. */
export interface RunInfo {
  runId: string;
  runName: string;
  experimentId: string;
  /** Deprecated by MLflow in favour of the `mlflow.user` tag; empty when not set. */
  userId: string;
  status: RunStatus;
  /** Milliseconds since the epoch. */
  startTime?: number;
  /** Milliseconds since the epoch; absent while the run has not ended. */
  endTime?: number;
  /** Where the run's artifacts live, e.g. `mlflow-artifacts:/<experiment>/<run>/artifacts`. */
  artifactUri: string;
  lifecycleStage: LifecycleStage;
}

/** `RunData`: `metrics` holds each key's current value (the one at the highest step). */
export interface RunData {
  metrics: Metric[];
  params: Param[];
  tags: Tag[];
}

/** `Dataset`: a reference to data a run used. */
export interface Dataset {
  name: string;
  /** Identifies this version of the data among datasets of the same name (e.g. a hash). */
  digest: string;
  /** E.g. `local`, `s3`, `http`, `delta_table`. */
  sourceType: string;
  /** JSON describing where the data came from. */
  source: string;
  /** JSON (e.g. an MLflow ColSpec schema). */
  schema?: string;
  /** JSON summary statistics (e.g. `{"num_rows": 100}`). */
  profile?: string;
}

/** `DatasetInput`: a dataset and its input tags (e.g. `mlflow.data.context=training`). */
export interface DatasetInput {
  tags: Tag[];
  dataset: Dataset;
}

/** `RunInputs`. */
export interface RunInputs {
  datasetInputs: DatasetInput[];
}

/** `Run`. */
export interface Run {
  info: RunInfo;
  data: RunData;
  inputs: RunInputs;
}

/** `FileInfo`: an artifact file or directory. */
export interface FileInfo {
  /** Relative to the listed directory (the artifact proxy) or to the run's artifact root (`artifacts/list`). */
  path: string;
  isDir: boolean;
  /** Bytes; absent for directories. */
  fileSize?: number;
}

/** One page of a search, and the token of the next one (absent on the last page). */
export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/** `ModelVersionStatus`. */
export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

/** The legacy registry stages (deprecated by MLflow in favour of aliases, still served). */
export type ModelStage = 'None' | 'Staging' | 'Production' | 'Archived';

/** `ModelVersion`: versions are decimal strings (`"1"`), as in MLflow's protos. */
export interface ModelVersion {
  name: string;
  version: string;
  /** Milliseconds since the epoch. */
  creationTimestamp?: number;
  /** Milliseconds since the epoch. */
  lastUpdatedTimestamp?: number;
  userId?: string;
  /** One of {@link ModelStage}; `None` for a version never transitioned. */
  currentStage: string;
  description?: string;
  /** Where the model's artifacts are (`runs:/…`, `mlflow-artifacts:/…`, `s3://…`, `file://…`). */
  source: string;
  runId?: string;
  status: ModelVersionStatus;
  statusMessage?: string;
  tags: Tag[];
  runLink?: string;
  /** The aliases that point at this version. */
  aliases: string[];
}

/** `RegisteredModelAlias`. */
export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

/** `RegisteredModel`. */
export interface RegisteredModel {
  name: string;
  /** Milliseconds since the epoch. */
  creationTimestamp?: number;
  /** Milliseconds since the epoch. */
  lastUpdatedTimestamp?: number;
  userId?: string;
  description?: string;
  /** The latest version in each stage. */
  latestVersions: ModelVersion[];
  tags: Tag[];
  aliases: RegisteredModelAlias[];
}
