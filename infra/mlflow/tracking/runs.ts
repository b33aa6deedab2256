/**
 * Runs: create, get, update, delete and restore; params (immutable: the same value again is fine, another one is
 * refused), metrics (appended; an identical point is kept once, and the run's current value is the one at the highest
 * step, then timestamp, then value, as MLflow's SQL store keeps `latest_metrics`), tags (overwritten;
 * `mlflow.runName` is the run's name), log-batch (atomic here: all or nothing), log-inputs (datasets with their input
 * tags), log-model (the `mlflow.log-model.history` tag) and metric history pages.
 */
import { randomUUID } from 'node:crypto';

import type Database from 'better-sqlite3';

import { doesNotExist, invalidParameter } from '../errors';
import { jsonDouble, withList, type JsonDouble, type KeyValueJson } from '../proto-json';
import { pageToken, parsePageToken } from '../search/page-token';
import type { MlflowDatabase } from '../store/database';
import { appendToUriPath } from '../uris';
import {
  validateBatchLimits,
  validateDataset,
  validateInputTag,
  validateMetric,
  validateParam,
  validateParamKeysUnique,
  validateRunId,
  validateRunTag,
  type DatasetInput,
  type MetricInput,
} from '../validation';
import type { ExperimentStore, LifecycleStage } from './experiments';
import { randomRunName } from './run-names';

/** The tag that holds a run's name. */
export const RUN_NAME_TAG = 'mlflow.runName';
/** The tag log-model appends the logged models' descriptions to. */
export const LOGGED_MODELS_TAG = 'mlflow.log-model.history';
/** The input tag that says what a dataset was used for (training, evaluation, ...). */
export const DATASET_CONTEXT_TAG = 'mlflow.data.context';

/** A run's status. */
export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
/** A run's status. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A run's metadata as MLflow's JSON carries it. */
export interface RunInfoJson {
  run_uuid: string;
  run_id: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

/** A metric point as MLflow's JSON carries it. */
export interface MetricJson {
  key: string;
  value: JsonDouble;
  timestamp: number;
  step: number;
}

/** A dataset used by a run, with the input's tags. */
export interface DatasetInputJson {
  tags?: KeyValueJson[];
  dataset: {
    name: string;
    digest: string;
    source_type: string;
    source: string;
    schema?: string;
    profile?: string;
  };
}

/** A run as MLflow's JSON carries it. */
export interface RunJson {
  info: RunInfoJson;
  data: { metrics?: MetricJson[]; params?: KeyValueJson[]; tags?: KeyValueJson[] };
  inputs: { dataset_inputs?: DatasetInputJson[] };
}

/** A dataset input as log-inputs carries it. */
export interface DatasetInputRequest {
  dataset: DatasetInput;
  tags: KeyValueJson[];
}

interface RunRow {
  run_uuid: string;
  experiment_id: number;
  name: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: LifecycleStage;
  artifact_uri: string;
}

interface MetricRow {
  run_uuid: string;
  key: string;
  value: number;
  timestamp: number;
  step: number;
  is_nan: number;
}

/** Options of {@link RunStore.create}. */
export interface CreateRunOptions {
  experimentId: string;
  userId: string;
  startTime: number | undefined;
  tags: readonly KeyValueJson[];
  runName: string;
}

/** Changes of {@link RunStore.update}; absent fields keep their value. */
export interface UpdateRunOptions {
  status?: RunStatus;
  endTime?: number;
  runName?: string;
}

/** What a metric point is stored as: SQLite has no NaN, so NaN is 0 with `is_nan` set (as in MLflow's schema). */
function stored(value: number): { value: number; isNan: 0 | 1 } {
  return Number.isNaN(value) ? { value: 0, isNan: 1 } : { value, isNan: 0 };
}

/** Whether metric point `a` supersedes `b` as the run's current value: higher (step, timestamp, value) wins. */
function isNewer(a: { step: number; timestamp: number; value: number }, b: MetricRow): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return a.value > b.value;
}

/** A run's data as MLflow's JSON carries it, from rows of one query. */
function metricJson(row: Pick<MetricRow, 'key' | 'value' | 'timestamp' | 'step' | 'is_nan'>): MetricJson {
  return {
    key: row.key,
    value: row.is_nan === 1 ? 'NaN' : jsonDouble(row.value),
    timestamp: row.timestamp,
    step: row.step,
  };
}

/** The runs of the tracking store. */
export class RunStore {
  private readonly db: Database.Database;
  private readonly statements: {
    run: Database.Statement<[string], RunRow>;
    param: Database.Statement<[string, string], { value: string }>;
    insertParam: Database.Statement<[string, string, string]>;
    insertMetric: Database.Statement<[string, string, number, number, number, number]>;
    latest: Database.Statement<[string, string], MetricRow>;
    upsertLatest: Database.Statement<[string, string, number, number, number, number]>;
    tag: Database.Statement<[string, string], { value: string }>;
    upsertTag: Database.Statement<[string, string, string]>;
    setName: Database.Statement<[string, string]>;
    insertRun: Database.Statement<[string, number, string, string, number, string]>;
    /** Sets the status and the end time, each unless null. */
    setStatusAndEnd: Database.Statement<[string | null, number | null, string]>;
    runsIn: Database.Statement<[string], RunRow>;
    metricsIn: Database.Statement<[string], MetricRow>;
    paramsIn: Database.Statement<[string], KeyValueJson & { run_uuid: string }>;
    tagsIn: Database.Statement<[string], KeyValueJson & { run_uuid: string }>;
    inputsIn: Database.Statement<[string], InputRow>;
  };

  constructor(
    private readonly database: MlflowDatabase,
    private readonly experiments: ExperimentStore,
    private readonly now: () => number,
  ) {
    const db = (this.db = database.db);
    this.statements = {
      run: db.prepare('SELECT * FROM runs WHERE run_uuid = ?'),
      param: db.prepare('SELECT value FROM params WHERE run_uuid = ? AND key = ?'),
      insertParam: db.prepare('INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)'),
      insertMetric: db.prepare(
        'INSERT OR IGNORE INTO metrics (run_uuid, key, timestamp, step, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      latest: db.prepare('SELECT * FROM latest_metrics WHERE run_uuid = ? AND key = ?'),
      upsertLatest: db.prepare(
        'INSERT OR REPLACE INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      tag: db.prepare('SELECT value FROM tags WHERE run_uuid = ? AND key = ?'),
      upsertTag: db.prepare('INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)'),
      setName: db.prepare('UPDATE runs SET name = ? WHERE run_uuid = ?'),
      insertRun: db.prepare(
        'INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, ' +
          "artifact_uri, deleted_time) VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, 'active', ?, NULL)",
      ),
      setStatusAndEnd: db.prepare(
        'UPDATE runs SET status = coalesce(?, status), end_time = coalesce(?, end_time) WHERE run_uuid = ?',
      ),
      runsIn: db.prepare('SELECT * FROM runs WHERE run_uuid IN (SELECT value FROM json_each(?))'),
      metricsIn: db.prepare('SELECT * FROM latest_metrics WHERE run_uuid IN (SELECT value FROM json_each(?))'),
      paramsIn: db.prepare(
        'SELECT run_uuid, key, value FROM params WHERE run_uuid IN (SELECT value FROM json_each(?))',
      ),
      tagsIn: db.prepare('SELECT run_uuid, key, value FROM tags WHERE run_uuid IN (SELECT value FROM json_each(?))'),
      inputsIn: db.prepare(
        'SELECT i.run_uuid, i.input_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, ' +
          "(SELECT json_group_array(json_object('key', t.name, 'value', t.value)) FROM input_tags t " +
          '  WHERE t.input_uuid = i.input_uuid) AS tags ' +
          'FROM inputs i JOIN datasets d ON d.dataset_uuid = i.dataset_uuid ' +
          'WHERE i.run_uuid IN (SELECT value FROM json_each(?)) ORDER BY i.run_uuid, i.seq',
      ),
    };
  }

  /** Creates a run in an active experiment, RUNNING, with its name also in the `mlflow.runName` tag. */
  create(options: CreateRunOptions): Promise<RunJson> {
    for (const tag of options.tags) validateRunTag(tag.key, tag.value);
    const nameTag = [...options.tags].reverse().find((t) => t.key === RUN_NAME_TAG)?.value;
    if (options.runName !== '' && nameTag !== undefined && nameTag !== '' && options.runName !== nameTag) {
      throw invalidParameter(
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values " +
          `(run_name='${options.runName}', mlflow.runName='${nameTag}').`,
      );
    }
    const runUuid = randomUUID().replaceAll('-', '');
    return this.database.write(() => {
      const experiment = this.experiments.activeForNewRun(options.experimentId);
      const name = options.runName || nameTag || randomRunName();
      const row: RunRow = {
        run_uuid: runUuid,
        experiment_id: experiment.experimentId,
        name,
        user_id: options.userId,
        status: 'RUNNING',
        start_time: options.startTime ?? this.now(),
        end_time: null,
        lifecycle_stage: 'active',
        artifact_uri: appendToUriPath(experiment.artifactLocation, runUuid, 'artifacts'),
      };
      this.statements.insertRun.run(
        runUuid,
        experiment.experimentId,
        name,
        row.user_id,
        row.start_time,
        row.artifact_uri,
      );
      const tags = new Map<string, string>();
      for (const tag of options.tags) {
        this.statements.upsertTag.run(runUuid, tag.key, tag.value);
        tags.set(tag.key, tag.value);
      }
      if (nameTag === undefined || nameTag === '') {
        this.statements.upsertTag.run(runUuid, RUN_NAME_TAG, name);
        tags.set(RUN_NAME_TAG, name);
      }
      // The new run as `get` would read it back (its tags in key order, as SQLite keeps them), without reading it.
      const data = [...tags]
        .map(([key, value]) => ({ key, value }))
        .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
      return { info: infoJson(row), data: { tags: data }, inputs: {} };
    });
  }

  /** A run (active or deleted) with its current metrics, params, tags and inputs. */
  get(runId: string): RunJson {
    const run = this.load([this.row(runId).run_uuid])[0];
    if (run === undefined) throw doesNotExist(`Run with id=${runId} not found`);
    return run;
  }

  /** A run's metadata (active or deleted). */
  info(runId: string): RunInfoJson {
    return infoJson(this.row(runId));
  }

  /** Updates an active run's status, end time and name. */
  update(runId: string, changes: UpdateRunOptions): Promise<RunInfoJson> {
    return this.database.write(() => {
      const row = this.activeRow(runId);
      const { status, endTime, runName } = changes;
      if (status !== undefined || endTime !== undefined) {
        this.statements.setStatusAndEnd.run(status ?? null, endTime ?? null, row.run_uuid);
      }
      if (runName !== undefined && runName !== '') {
        this.rename(row.run_uuid, runName);
        return infoJson(this.row(runId));
      }
      // The row as it now is, without reading it back (one statement less on every step's end).
      return infoJson({ ...row, status: status ?? row.status, end_time: endTime ?? row.end_time });
    });
  }

  /** Marks a run deleted (it stays readable by id). */
  delete(runId: string): Promise<void> {
    return this.database.write(() => {
      const row = this.row(runId);
      this.db
        .prepare("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?")
        .run(this.now(), row.run_uuid);
    });
  }

  /** Restores a deleted run. */
  restore(runId: string): Promise<void> {
    return this.database.write(() => {
      const row = this.row(runId);
      this.db
        .prepare("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?")
        .run(row.run_uuid);
    });
  }

  /** Appends one metric point. */
  logMetric(runId: string, metric: MetricInput): Promise<void> {
    validateMetric(metric);
    return this.database.write(() => this.applyMetrics(this.activeRow(runId).run_uuid, [metric]));
  }

  /** Logs a param; logging the value it already has is fine, another value is refused. */
  logParam(runId: string, key: string, value: string): Promise<void> {
    validateParam(key, value);
    return this.database.write(() => {
      const runUuid = this.activeRow(runId).run_uuid;
      const existing = this.statements.param.get(runUuid, key);
      if (existing === undefined) this.statements.insertParam.run(runUuid, key, value);
      else if (existing.value !== value) {
        throw invalidParameter(
          `Changing param values is not allowed. Param with key='${key}' was already logged with ` +
            `value='${existing.value}' for run ID='${runUuid}'. Attempted logging new value '${value}'.`,
        );
      }
    });
  }

  /** Sets (or overwrites) a tag; `mlflow.runName` renames the run. */
  setTag(runId: string, key: string, value: string): Promise<void> {
    validateRunTag(key, value);
    return this.database.write(() => this.applyTags(this.activeRow(runId).run_uuid, [{ key, value }]));
  }

  /** Deletes a tag; a tag the run does not have is RESOURCE_DOES_NOT_EXIST. */
  deleteTag(runId: string, key: string): Promise<void> {
    return this.database.write(() => {
      const runUuid = this.activeRow(runId).run_uuid;
      const { changes } = this.db.prepare('DELETE FROM tags WHERE run_uuid = ? AND key = ?').run(runUuid, key);
      if (changes === 0) throw doesNotExist(`No tag with name: ${key} in run with id ${runId}`);
    });
  }

  /**
   * Logs metrics, params and tags in one transaction after MLflow's checks (names, values, limits, unique param
   * keys); nothing is written when any of them is refused.
   */
  logBatch(
    runId: string,
    metrics: readonly MetricInput[],
    params: readonly KeyValueJson[],
    tags: readonly KeyValueJson[],
  ): Promise<void> {
    validateRunId(runId);
    for (const metric of metrics) validateMetric(metric);
    for (const param of params) validateParam(param.key, param.value);
    for (const tag of tags) validateRunTag(tag.key, tag.value);
    validateBatchLimits(metrics.length, params.length, tags.length);
    validateParamKeysUnique(params.map((p) => p.key));
    return this.database.write(() => {
      const runUuid = this.activeRow(runId).run_uuid;
      const conflicts: string[] = [];
      const fresh: KeyValueJson[] = [];
      for (const param of params) {
        const existing = this.statements.param.get(runUuid, param.key);
        if (existing === undefined) fresh.push(param);
        else if (existing.value !== param.value) {
          conflicts.push(`{'key': '${param.key}', 'old_value': '${existing.value}', 'new_value': '${param.value}'}`);
        }
      }
      if (conflicts.length > 0) {
        throw invalidParameter(
          `Changing param values is not allowed. Params were already logged='[${conflicts.join(', ')}]' for run ` +
            `ID='${runUuid}'.`,
        );
      }
      for (const param of fresh) this.statements.insertParam.run(runUuid, param.key, param.value);
      this.applyMetrics(runUuid, metrics);
      this.applyTags(runUuid, tags);
    });
  }

  /** Records datasets a run used (each name and digest once per run), with the inputs' tags. */
  logInputs(runId: string, inputs: readonly DatasetInputRequest[]): Promise<void> {
    validateRunId(runId);
    for (const input of inputs) {
      validateDataset(input.dataset);
      for (const tag of input.tags) validateInputTag(tag.key, tag.value);
    }
    return this.database.write(() => {
      const row = this.activeRow(runId);
      const findDataset = this.db.prepare(
        'SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?',
      );
      const findInput = this.db.prepare('SELECT 1 FROM inputs WHERE run_uuid = ? AND dataset_uuid = ?');
      const nextSeq = this.db.prepare('SELECT coalesce(max(seq), 0) + 1 AS seq FROM inputs WHERE run_uuid = ?');
      const seen = new Set<string>();
      for (const { dataset, tags } of inputs) {
        const identity = JSON.stringify([dataset.name, dataset.digest]);
        if (seen.has(identity)) continue;
        seen.add(identity);
        let datasetUuid = (
          findDataset.get(row.experiment_id, dataset.name, dataset.digest) as { dataset_uuid: string } | undefined
        )?.dataset_uuid;
        if (datasetUuid === undefined) {
          datasetUuid = randomUUID().replaceAll('-', '');
          this.db
            .prepare('INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
            .run(
              datasetUuid,
              row.experiment_id,
              dataset.name,
              dataset.digest,
              dataset.sourceType,
              dataset.source,
              dataset.schema ?? null,
              dataset.profile ?? null,
            );
        }
        if (findInput.get(row.run_uuid, datasetUuid) !== undefined) continue;
        const inputUuid = randomUUID().replaceAll('-', '');
        const { seq } = nextSeq.get(row.run_uuid) as { seq: number };
        this.db.prepare('INSERT INTO inputs VALUES (?, ?, ?, ?)').run(inputUuid, datasetUuid, row.run_uuid, seq);
        const insertTag = this.db.prepare('INSERT OR REPLACE INTO input_tags VALUES (?, ?, ?)');
        for (const tag of tags) insertTag.run(inputUuid, tag.key, tag.value);
      }
    });
  }

  /** Appends a logged model's description (MLmodel as JSON) to the run's `mlflow.log-model.history` tag. */
  logModel(runId: string, modelJson: string): Promise<void> {
    let model: unknown;
    try {
      model = JSON.parse(modelJson);
    } catch {
      throw invalidParameter(`Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
    }
    if (typeof model !== 'object' || model === null || Array.isArray(model)) {
      throw invalidParameter(`Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
    }
    const missing = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'].filter((f) => !(f in model));
    if (missing.length > 0) {
      throw invalidParameter(`Model json is missing mandatory fields: {${missing.map((f) => `'${f}'`).join(', ')}}`);
    }
    return this.database.write(() => {
      const runUuid = this.activeRow(runId).run_uuid;
      const previous = this.statements.tag.get(runUuid, LOGGED_MODELS_TAG);
      let history: unknown[] = [];
      if (previous !== undefined) {
        try {
          const parsed: unknown = JSON.parse(previous.value);
          if (Array.isArray(parsed)) history = parsed;
        } catch {
          history = [];
        }
      }
      const value = JSON.stringify([...history, model]);
      validateRunTag(LOGGED_MODELS_TAG, value);
      this.statements.upsertTag.run(runUuid, LOGGED_MODELS_TAG, value);
    });
  }

  /**
   * Every logged point of one metric, by timestamp then step, a page at a time when `maxResults` is given (all at
   * once otherwise, as MLflow 2's SQL store answers). A run without the metric (or no such run) has none.
   */
  metricHistory(
    runId: string,
    key: string,
    page: { maxResults?: number; pageToken?: string },
  ): { metrics: MetricJson[]; nextPageToken?: string } {
    const offset = parsePageToken(page.pageToken);
    const limit = page.maxResults === undefined ? -1 : page.maxResults + 1;
    if (page.maxResults !== undefined && (!Number.isSafeInteger(page.maxResults) || page.maxResults < 1)) {
      throw invalidParameter(
        `Invalid value for max_results. It must be a positive integer, but got ${page.maxResults}`,
      );
    }
    const rows = this.db
      .prepare(
        'SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND key = ? ' +
          'ORDER BY timestamp, step, is_nan, value LIMIT ? OFFSET ?',
      )
      .all(runId, key, limit, offset) as MetricRow[];
    if (page.maxResults !== undefined && rows.length > page.maxResults) {
      return {
        metrics: rows.slice(0, page.maxResults).map(metricJson),
        nextPageToken: pageToken(offset + page.maxResults),
      };
    }
    return { metrics: rows.map(metricJson) };
  }

  /**
   * Runs by id, in the order given (ids that name no run are left out). Each run's metrics, params and tags come in
   * key order: the lookups walk each run's primary key (run, key).
   */
  load(runUuids: readonly string[]): RunJson[] {
    if (runUuids.length === 0) return [];
    const ids = JSON.stringify(runUuids);
    const byId = new Map<string, RunJson>();
    for (const row of this.statements.runsIn.all(ids)) {
      byId.set(row.run_uuid, { info: infoJson(row), data: {}, inputs: {} });
    }
    const push = <K extends 'metrics' | 'params' | 'tags'>(
      runUuid: string,
      field: K,
      item: NonNullable<RunJson['data'][K]>[number],
    ): void => {
      const run = byId.get(runUuid);
      if (run === undefined) return;
      const list = (run.data[field] ??= []) as (typeof item)[];
      list.push(item);
    };
    for (const row of this.statements.metricsIn.all(ids)) push(row.run_uuid, 'metrics', metricJson(row));
    for (const row of this.statements.paramsIn.all(ids))
      push(row.run_uuid, 'params', { key: row.key, value: row.value });
    for (const row of this.statements.tagsIn.all(ids)) push(row.run_uuid, 'tags', { key: row.key, value: row.value });
    for (const row of this.statements.inputsIn.all(ids)) {
      const run = byId.get(row.run_uuid);
      if (run === undefined) continue;
      const dataset: DatasetInputJson['dataset'] = {
        name: row.name,
        digest: row.digest,
        source_type: row.source_type,
        source: row.source,
      };
      if (row.schema !== null) dataset.schema = row.schema;
      if (row.profile !== null) dataset.profile = row.profile;
      const tags = JSON.parse(row.tags) as KeyValueJson[];
      (run.inputs.dataset_inputs ??= []).push(
        withList<DatasetInputJson, 'tags', KeyValueJson>({ dataset }, 'tags', tags),
      );
    }
    return runUuids.flatMap((id) => byId.get(id) ?? []);
  }

  private row(runId: string): RunRow {
    const row = this.statements.run.get(runId);
    if (row === undefined) throw doesNotExist(`Run with id=${runId} not found`);
    return row;
  }

  private activeRow(runId: string): RunRow {
    const row = this.row(runId);
    if (row.lifecycle_stage !== 'active') {
      throw invalidParameter(
        `The run ${row.run_uuid} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
      );
    }
    return row;
  }

  private rename(runUuid: string, name: string): void {
    this.statements.setName.run(name, runUuid);
    this.statements.upsertTag.run(runUuid, RUN_NAME_TAG, name);
  }

  private applyTags(runUuid: string, tags: readonly KeyValueJson[]): void {
    for (const tag of tags) {
      if (tag.key === RUN_NAME_TAG) this.rename(runUuid, tag.value);
      else this.statements.upsertTag.run(runUuid, tag.key, tag.value);
    }
  }

  private applyMetrics(runUuid: string, metrics: readonly MetricInput[]): void {
    const newest = new Map<string, { step: number; timestamp: number; value: number; isNan: 0 | 1 }>();
    for (const metric of metrics) {
      const { value, isNan } = stored(metric.value);
      this.statements.insertMetric.run(runUuid, metric.key, metric.timestamp, metric.step, value, isNan);
      const point = { step: metric.step, timestamp: metric.timestamp, value, isNan };
      const best = newest.get(metric.key);
      if (best === undefined || isNewer(point, { ...best, run_uuid: runUuid, key: metric.key, is_nan: best.isNan })) {
        newest.set(metric.key, point);
      }
    }
    for (const [key, point] of newest) {
      const latest = this.statements.latest.get(runUuid, key);
      if (latest === undefined || isNewer(point, latest)) {
        this.statements.upsertLatest.run(runUuid, key, point.value, point.timestamp, point.step, point.isNan);
      }
    }
  }
}

interface InputRow {
  run_uuid: string;
  input_uuid: string;
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string | null;
  profile: string | null;
  tags: string;
}

function infoJson(row: RunRow): RunInfoJson {
  const info: RunInfoJson = {
    run_uuid: row.run_uuid,
    run_id: row.run_uuid,
    run_name: row.name,
    experiment_id: String(row.experiment_id),
    user_id: row.user_id,
    status: row.status,
    start_time: row.start_time,
    artifact_uri: row.artifact_uri,
    lifecycle_stage: row.lifecycle_stage,
  };
  if (row.end_time !== null && row.end_time !== 0) info.end_time = row.end_time;
  return info;
}

/** Whether `value` names a run status. */
export function isRunStatus(value: string): value is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(value);
}
