/**
 * Runs (`/api/2.0/mlflow/runs/*`, `metrics/get-history`): create, get, update, delete, restore, search with
 * MLflow's filter strings and `order_by`, metrics, params, tags, batches split to MLflow's limits, dataset inputs,
 * and a metric's whole history.
 *
 * Params are immutable (logging another value for a key is `INVALID_PARAMETER_VALUE`, the same value again is
 * fine), metrics append, tags overwrite. A metric's timestamp is fixed before the first attempt, so a retried
 * request carries identical rows.
 */
import { z } from 'zod';

import type { MlflowHttpClient } from './http';
import { LOG_BATCH_LIMITS, splitLogBatch, type LogBatchLimits, type WireBatch } from './log-batch';
import { allPages } from './paging';
import { call, callPage, check, endpoint } from './rest';
import type { Dataset, Metric, Page, Run, RunInfo, RunStatus, TagsInput, ViewType } from './types';
import { compact, doubleToWire, emptySchema, inputs, metricSchema, runInfoSchema, runSchema, tagsToWire } from './wire';

/** The run endpoints. */
export const RUN_ENDPOINTS = {
  create: endpoint('POST', 'runs/create'),
  get: endpoint('GET', 'runs/get'),
  update: endpoint('POST', 'runs/update'),
  delete: endpoint('POST', 'runs/delete'),
  restore: endpoint('POST', 'runs/restore'),
  search: endpoint('POST', 'runs/search'),
  logMetric: endpoint('POST', 'runs/log-metric'),
  logParam: endpoint('POST', 'runs/log-parameter'),
  setTag: endpoint('POST', 'runs/set-tag'),
  deleteTag: endpoint('POST', 'runs/delete-tag'),
  logBatch: endpoint('POST', 'runs/log-batch'),
  logInputs: endpoint('POST', 'runs/log-inputs'),
  metricHistory: endpoint('GET', 'metrics/get-history'),
} as const;
const R = RUN_ENDPOINTS;

/** What {@link RunsApi.create} takes. */
export interface CreateRunInput {
  experimentId: string;
  runName?: string;
  /** Milliseconds since the epoch; now unless given. */
  startTime?: number;
  /** E.g. `mlflow.parentRunId` for a nested run, `mlflow.source.name`, `mlflow.user`. */
  tags?: TagsInput;
}

/** What {@link RunsApi.update} changes. */
export interface UpdateRunInput {
  status?: RunStatus;
  /** Milliseconds since the epoch. */
  endTime?: number;
  runName?: string;
}

/** What {@link RunsApi.search} takes. */
export interface SearchRunsInput {
  experimentIds: readonly string[];
  /**
   * MLflow's filter grammar, clauses joined by `and`: `metrics.rmse < 1 and params.model = 'ridge'`,
   * `tags.stage = 'train'`, `attributes.status = 'FINISHED'`, `attributes.run_name LIKE 'x%'`,
   * `attributes.run_id IN ('a', 'b')`.
   */
  filter?: string;
  /** Active runs only unless given. */
  runViewType?: ViewType;
  /** Page size: 1,000 unless given; servers support at least 50,000. */
  maxResults?: number;
  /** E.g. `['metrics.rmse ASC', 'params.alpha DESC', 'attributes.start_time DESC']`. */
  orderBy?: readonly string[];
  pageToken?: string;
}

/** A metric to log: `timestamp` is now and `step` 0 unless given. `value` may be `NaN` or infinite. */
export interface MetricInput {
  key: string;
  value: number;
  timestamp?: number;
  step?: number;
}

/** What {@link RunsApi.logBatch} takes. */
export interface LogBatchInput {
  metrics?: readonly MetricInput[];
  /** Params as a record or a list. */
  params?: TagsInput;
  tags?: TagsInput;
}

/** Options of {@link RunsApi.logBatch}. */
export interface LogBatchOptions {
  /** Split into requests within MLflow's limits (the default); `false` sends one request whatever its size. */
  split?: boolean;
  /** The limits to split by; MLflow's unless given. */
  limits?: LogBatchLimits;
}

/** A dataset input of {@link RunsApi.logInputs}. */
export interface DatasetInputInput {
  dataset: Dataset;
  /** E.g. `{ 'mlflow.data.context': 'training' }`. */
  tags?: TagsInput;
}

const metricInputSchema = z.object({
  key: inputs.text,
  value: inputs.double,
  timestamp: inputs.int64.optional(),
  step: inputs.int64.optional(),
});

const createSchema = z.object({
  experimentId: inputs.id,
  runName: inputs.text.optional(),
  startTime: inputs.int64.optional(),
  tags: inputs.tags.optional(),
});

const updateSchema = z.object({
  status: z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']).optional(),
  endTime: inputs.int64.optional(),
  runName: inputs.text.optional(),
});

const searchSchema = z.object({
  experimentIds: z.array(inputs.id),
  filter: inputs.text.optional(),
  runViewType: inputs.viewType.optional(),
  maxResults: inputs.maxResults.optional(),
  orderBy: inputs.orderBy.optional(),
  pageToken: inputs.text.optional(),
});

const batchSchema = z.object({
  metrics: z.array(metricInputSchema).optional(),
  params: inputs.tags.optional(),
  tags: inputs.tags.optional(),
});

const datasetInputSchema = z.object({
  dataset: z.object({
    name: inputs.text,
    digest: inputs.text,
    sourceType: inputs.text,
    source: inputs.text,
    schema: inputs.text.optional(),
    profile: inputs.text.optional(),
  }),
  tags: inputs.tags.optional(),
});

const runAnswer = z.object({ run: runSchema });

// Schemas are built once: zod compiles a schema on its first use, which costs far more than a parse.
const runInfoAnswer = z.object({ run_info: runInfoSchema });
/** Of an update's answer, only that it is one (an object); what it holds is what the request set. */
const updatedAnswer = z.object({}).transform(() => undefined);
const idKeyValue = z.tuple([inputs.id, inputs.text, inputs.text]);
const idKey = z.tuple([inputs.id, inputs.text]);
const datasetInputsSchema = z.array(datasetInputSchema);

/** Of a created run's answer, only its id (`run_id`, or `run_uuid` from older servers). */
const runIdAnswer = z
  .object({
    run: z.object({
      info: z
        .object({ run_id: z.string().min(1).optional(), run_uuid: z.string().min(1).optional() })
        .refine((info) => info.run_id !== undefined || info.run_uuid !== undefined, 'expected run_id or run_uuid'),
    }),
  })
  .transform((answer) => answer.run.info.run_id ?? answer.run.info.run_uuid ?? '');

/** A metric as MLflow takes it, its timestamp fixed now when not given. */
function metricToWire(metric: z.output<typeof metricInputSchema>, now: number): WireBatch['metrics'][number] {
  return {
    key: metric.key,
    value: doubleToWire(metric.value),
    timestamp: metric.timestamp ?? now,
    step: metric.step ?? 0,
  };
}

/** The runs API of one MLflow server. */
export class RunsApi {
  readonly #http: MlflowHttpClient;
  readonly #now: () => number;

  constructor(http: MlflowHttpClient, now: () => number = Date.now) {
    this.#http = http;
    this.#now = now;
  }

  /** Creates a run (status `RUNNING`) in an active experiment. */
  async create(input: CreateRunInput): Promise<Run> {
    return (await call(this.#http, R.create, this.#createFields(input), runAnswer)).run;
  }

  /**
   * {@link RunsApi.create}, answering the new run's id only: the rest of the answer (the run's tags, its info) is not
   * validated or kept, which saves a caller that creates a run per step the cost of reading it back.
   */
  async createId(input: CreateRunInput): Promise<string> {
    return call(this.#http, R.create, this.#createFields(input), runIdAnswer);
  }

  /** The checked fields of a `runs/create` request; the start time is now unless given. */
  #createFields(input: CreateRunInput): Record<string, unknown> {
    const value = check(createSchema, input, R.create);
    return {
      experiment_id: value.experimentId,
      run_name: value.runName,
      start_time: value.startTime ?? this.#now(),
      tags: tagsToWire(value.tags),
    };
  }

  /** The run with its current metrics, params, tags and inputs; `RESOURCE_DOES_NOT_EXIST` if there is none. */
  async get(runId: string): Promise<Run> {
    check(inputs.id, runId, R.get);
    return (await call(this.#http, R.get, { run_id: runId }, runAnswer)).run;
  }

  /** Changes a run's status, end time or name; returns its info. */
  async update(runId: string, input: UpdateRunInput): Promise<RunInfo> {
    check(inputs.id, runId, R.update);
    const value = check(updateSchema, input, R.update);
    const fields = { run_id: runId, status: value.status, end_time: value.endTime, run_name: value.runName };
    return (await call(this.#http, R.update, fields, runInfoAnswer)).run_info;
  }

  /**
   * Sets a run's status and end time, like {@link RunsApi.update} but reading nothing of the answer (the run's info,
   * which the caller knows): what a tracker writes at the end of every step.
   */
  async setStatus(runId: string, status: RunStatus, endTime: number): Promise<void> {
    check(inputs.id, runId, R.update);
    const value = check(updateSchema, { status, endTime }, R.update);
    await call(this.#http, R.update, { run_id: runId, status: value.status, end_time: value.endTime }, updatedAnswer);
  }

  /** Ends a run: `FINISHED` (or the status given) at `endTime` (now unless given). */
  async terminate(runId: string, status: RunStatus = 'FINISHED', endTime?: number): Promise<RunInfo> {
    return this.update(runId, { status, endTime: endTime ?? this.#now() });
  }

  /** Marks a run deleted. */
  async delete(runId: string): Promise<void> {
    check(inputs.id, runId, R.delete);
    await call(this.#http, R.delete, { run_id: runId }, emptySchema);
  }

  /** Restores a deleted run. */
  async restore(runId: string): Promise<void> {
    check(inputs.id, runId, R.restore);
    await call(this.#http, R.restore, { run_id: runId }, emptySchema);
  }

  /** One page of runs matching `input`. */
  async search(input: SearchRunsInput): Promise<Page<Run>> {
    const value = check(searchSchema, input, R.search);
    const fields = {
      experiment_ids: value.experimentIds,
      filter: value.filter,
      run_view_type: value.runViewType,
      max_results: value.maxResults,
      order_by: value.orderBy,
      page_token: value.pageToken,
    };
    return callPage(this.#http, R.search, fields, 'runs', runSchema);
  }

  /** Every run matching `input`, page after page. */
  searchAll(input: Omit<SearchRunsInput, 'pageToken'>): AsyncGenerator<Run, void, undefined> {
    return allPages((pageToken) => this.search(compact({ ...input, pageToken })), R.search.name);
  }

  /** Logs one metric value (appended to the key's history). */
  async logMetric(runId: string, metric: MetricInput): Promise<void> {
    check(inputs.id, runId, R.logMetric);
    const wire = metricToWire(check(metricInputSchema, metric, R.logMetric), this.#now());
    await call(this.#http, R.logMetric, { run_id: runId, ...wire }, emptySchema);
  }

  /** Logs a param; `INVALID_PARAMETER_VALUE` if the key already has another value. */
  async logParam(runId: string, key: string, value: string): Promise<void> {
    check(idKeyValue, [runId, key, value], R.logParam);
    await call(this.#http, R.logParam, { run_id: runId, key, value }, emptySchema);
  }

  /** Sets (or overwrites) a tag. */
  async setTag(runId: string, key: string, value: string): Promise<void> {
    check(idKeyValue, [runId, key, value], R.setTag);
    await call(this.#http, R.setTag, { run_id: runId, key, value }, emptySchema);
  }

  /** Deletes a tag; `RESOURCE_DOES_NOT_EXIST` if the run has no such tag. */
  async deleteTag(runId: string, key: string): Promise<void> {
    check(idKey, [runId, key], R.deleteTag);
    await call(this.#http, R.deleteTag, { run_id: runId, key }, emptySchema);
  }

  /**
   * Logs metrics, params and tags, split into as many requests as MLflow's limits need (sent one after the other);
   * returns how many requests were sent. If one fails, the earlier ones stay logged; sending the same batch again
   * is safe (same params, same tags, metrics with the same timestamps).
   */
  async logBatch(runId: string, batch: LogBatchInput, options: LogBatchOptions = {}): Promise<number> {
    check(inputs.id, runId, R.logBatch);
    const value = check(batchSchema, batch, R.logBatch);
    const now = this.#now();
    const wire: WireBatch = {
      metrics: (value.metrics ?? []).map((metric) => metricToWire(metric, now)),
      params: tagsToWire(value.params) ?? [],
      tags: tagsToWire(value.tags) ?? [],
    };
    const chunks = options.split === false ? [wire] : splitLogBatch(wire, options.limits ?? LOG_BATCH_LIMITS);
    for (const chunk of chunks) await call(this.#http, R.logBatch, { run_id: runId, ...chunk }, emptySchema);
    return chunks.length;
  }

  /** Records the datasets a run used, with their digests and input tags. */
  async logInputs(runId: string, datasets: readonly DatasetInputInput[]): Promise<void> {
    check(inputs.id, runId, R.logInputs);
    const value = check(datasetInputsSchema, datasets, R.logInputs);
    const wire = value.map((input) => ({
      tags: tagsToWire(input.tags) ?? [],
      dataset: compact({
        name: input.dataset.name,
        digest: input.dataset.digest,
        source_type: input.dataset.sourceType,
        source: input.dataset.source,
        schema: input.dataset.schema,
        profile: input.dataset.profile,
      }),
    }));
    await call(this.#http, R.logInputs, { run_id: runId, datasets: wire }, emptySchema);
  }

  /** One page of a metric's history. */
  async metricHistoryPage(
    runId: string,
    key: string,
    options: { maxResults?: number; pageToken?: string } = {},
  ): Promise<Page<Metric>> {
    check(idKey, [runId, key], R.metricHistory);
    const fields = { run_id: runId, metric_key: key, max_results: options.maxResults, page_token: options.pageToken };
    return callPage(this.#http, R.metricHistory, fields, 'metrics', metricSchema);
  }

  /** Every logged value of a metric, following page tokens (`pageSize` per request when given). */
  async metricHistory(runId: string, key: string, options: { pageSize?: number } = {}): Promise<Metric[]> {
    const all: Metric[] = [];
    const pages = allPages(
      (pageToken) => this.metricHistoryPage(runId, key, compact({ maxResults: options.pageSize, pageToken })),
      R.metricHistory.name,
    );
    for await (const metric of pages) all.push(metric);
    return all;
  }
}
