/**
 * The tables of the tracking store and the model registry, and the indexes that keep searches fast: a run search
 * with a metric filter and an order_by reads `latest_metrics` by (key, is_nan, value) (a covering range scan), params
 * and tags by (key, value), and runs by (experiment, lifecycle stage, start time).
 */

/** Bumped when the tables change shape; a database written by another version is refused. */
export const SCHEMA_VERSION = 1;

/** DDL run on every open (every statement is `IF NOT EXISTS`). */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS experiments (
  experiment_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS experiments_by_creation ON experiments (creation_time, experiment_id);

CREATE TABLE IF NOT EXISTS experiment_tags (
  experiment_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS runs (
  run_uuid TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  user_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  lifecycle_stage TEXT NOT NULL,
  artifact_uri TEXT NOT NULL,
  deleted_time INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time);

CREATE TABLE IF NOT EXISTS metrics (
  run_uuid TEXT NOT NULL, key TEXT NOT NULL, timestamp INTEGER NOT NULL, step INTEGER NOT NULL,
  value REAL NOT NULL, is_nan INTEGER NOT NULL,
  PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS latest_metrics (
  run_uuid TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL, timestamp INTEGER NOT NULL,
  step INTEGER NOT NULL, is_nan INTEGER NOT NULL,
  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS latest_metrics_by_value ON latest_metrics (key, is_nan, value);

CREATE TABLE IF NOT EXISTS params (
  run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS params_by_value ON params (key, value);

CREATE TABLE IF NOT EXISTS tags (
  run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_value ON tags (key, value);

CREATE TABLE IF NOT EXISTS datasets (
  dataset_uuid TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL, digest TEXT NOT NULL, source_type TEXT NOT NULL, source TEXT NOT NULL,
  schema TEXT, profile TEXT,
  UNIQUE (experiment_id, name, digest)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS inputs (
  input_uuid TEXT PRIMARY KEY,
  dataset_uuid TEXT NOT NULL,
  run_uuid TEXT NOT NULL,
  seq INTEGER NOT NULL,
  UNIQUE (run_uuid, dataset_uuid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inputs_by_dataset ON inputs (dataset_uuid);

CREATE TABLE IF NOT EXISTS input_tags (
  input_uuid TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (input_uuid, name)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS registered_models (
  model_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  description TEXT);

CREATE TABLE IF NOT EXISTS registered_model_tags (
  model_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (model_id, key)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS model_versions (
  model_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  description TEXT,
  user_id TEXT,
  current_stage TEXT NOT NULL,
  source TEXT NOT NULL,
  storage_location TEXT NOT NULL,
  run_id TEXT NOT NULL,
  run_link TEXT NOT NULL,
  status TEXT NOT NULL,
  status_message TEXT,
  PRIMARY KEY (model_id, version)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS model_versions_by_run ON model_versions (run_id);

CREATE TABLE IF NOT EXISTS model_version_tags (
  model_id INTEGER NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (model_id, version, key)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS registered_model_aliases (
  model_id INTEGER NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
  PRIMARY KEY (model_id, alias)) WITHOUT ROWID;
`;
