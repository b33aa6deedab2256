/**
 * `MlflowTracker`: one worker's connection to the MLflow server it tracks runs in. It holds the client (with the
 * activity retry limits of `config.ts`), the experiments it resolved and the pipeline runs it found or created (so
 * that a step looks its pipeline's MLflow run up once per worker, not once per execution), and the two primitives
 * every tracking call goes through: logging a batch of which MLflow would refuse nothing (the rest is reported), and
 * turning a failure into an error that names the server. Pipeline runs and step runs are in `pipeline-runs.ts` and
 * `step-runs.ts`.
 */
import { userInfo } from 'node:os';

import { MloeError, ensureError } from '../../core/errors';
import {
  LOG_BATCH_LIMITS,
  createMlflowClient,
  logBatchBytesAtMost,
  isMlflowError,
  type MlflowClient,
  type MetricInput,
  type Run,
  type RunStatus,
} from '../mlflow';
import { activityMlflowConfig, type TrackingConfig } from './config';
import { checkBatch, tagValue, type KeyValue } from './limits';
import { nodeHttpHooks } from './node-fetch';
import { MLOE_TAGS, runLink, tagEquals } from './names';
import { PreparedRuns } from './prepared-runs';
import type { MlflowRunLink } from './types';

/** A run this tracker knows: enough to log to it, nest under it and link to it. */
export interface TrackedRun {
  runId: string;
  experimentId: string;
  /** Its start time (ms since the epoch): the timestamp of the points logged to it, the same on every retry. */
  startTime: number;
  status: RunStatus;
  /** Its tags, when it was found (not created) by this tracker. */
  tags?: Readonly<Record<string, string>>;
  /** Its metrics' current values (the highest step of each), when it was found. */
  metrics?: readonly { key: string; value: number; step: number }[];
}

/** Options of {@link MlflowTracker}. */
export interface MlflowTrackerOptions {
  /** A client to use instead of one made from `config` (tests). */
  client?: MlflowClient;
  /** Where problems with the data (refused keys, non-finite values) are reported; `console.warn` by default. */
  warn?: (message: string) => void;
  /** How long a step run prepared ahead of its step waits for it before it is withdrawn (`prepared-runs.ts`). */
  preparedRunTtlMs?: number;
  /**
   * Whether step runs are prepared while their steps are dispatched (`prepared-runs.ts`); true unless false. Off,
   * each first attempt creates its run (benchmarks compare both).
   */
  prepareStepRuns?: boolean;
}

/** Pipeline runs remembered per worker; the oldest are forgotten first (a forgotten one is searched for again). */
const REMEMBERED_PIPELINE_RUNS = 1_000;

/** The MLflow server a worker tracks pipeline runs in. */
export class MlflowTracker {
  readonly client: MlflowClient;
  readonly config: TrackingConfig;
  /** The server's base URL, without credentials: what messages name. */
  readonly serverUrl: string;
  /** The worker's OS user, for MLflow's `mlflow.user` tag. */
  readonly user: string;
  readonly #warn: (message: string) => void;
  readonly #experiments = new Map<string, Promise<string>>();
  readonly #pipelineRuns = new Map<string, TrackedRun>();
  readonly #behind = new Map<string, WorkflowWrites>();
  /** Step runs created before their steps were dispatched, waiting for their first attempt. */
  readonly prepared: PreparedRuns;
  /** Whether this tracker prepares step runs (see {@link MlflowTrackerOptions.prepareStepRuns}). */
  readonly preparesStepRuns: boolean;

  constructor(config: TrackingConfig, options: MlflowTrackerOptions = {}) {
    this.config = config;
    this.client = options.client ?? createMlflowClient(activityMlflowConfig(config.mlflow), nodeHttpHooks());
    this.serverUrl = config.mlflow.trackingUri;
    this.user = osUser();
    this.#warn = options.warn ?? ((message) => console.warn(`[mloe tracking] ${message}`));
    this.prepared = new PreparedRuns(async (runId) => {
      await this.client.runs.delete(runId);
    }, options.preparedRunTtlMs);
    this.preparesStepRuns = options.prepareStepRuns ?? true;
  }

  /** Reports a problem with tracked data (it was left out; the rest was logged). */
  warn(message: string): void {
    this.#warn(message);
  }

  /**
   * Writes behind a step: `write` starts now and the step completes without waiting for it. The next execution of
   * the same pipeline run that starts on this worker, and the run's end, wait for it ({@link MlflowTracker.barrier});
   * a write that failed is tried again there, and fails that step (or the run's end) if it fails again.
   */
  writeBehind(workflowId: string, what: string, write: () => Promise<void>): void {
    let writes = this.#behind.get(workflowId);
    if (writes === undefined) {
      writes = { pending: new Set(), failed: [] };
      this.#behind.set(workflowId, writes);
    }
    const state = writes;
    const running: Promise<void> = write().then(
      () => undefined,
      (error: unknown) => {
        state.failed.push({ what, write, error });
      },
    );
    state.pending.add(running);
    void running.finally(() => {
      state.pending.delete(running);
      if (state.pending.size === 0 && state.failed.length === 0) this.#behind.delete(workflowId);
    });
  }

  /**
   * Waits for the writes behind a pipeline run's steps on this worker, and tries the failed ones again: the first
   * that fails again is thrown (naming the server), and stays to be tried at the next barrier.
   */
  async barrier(workflowId: string): Promise<void> {
    const writes = this.#behind.get(workflowId);
    if (writes === undefined) return;
    while (writes.pending.size > 0) await Promise.all([...writes.pending]);
    while (writes.failed.length > 0) {
      const [first] = writes.failed;
      if (first === undefined) break;
      try {
        await first.write();
      } catch (error) {
        first.error = error;
        throw this.failure(error, first.what);
      }
      writes.failed.shift();
    }
    if (writes.pending.size === 0 && writes.failed.length === 0) this.#behind.delete(workflowId);
  }

  /** Waits for every write behind (a worker's shutdown, tests); failures stay for the next barrier. */
  async flush(): Promise<void> {
    for (const writes of [...this.#behind.values()]) {
      while (writes.pending.size > 0) await Promise.all([...writes.pending]);
    }
  }

  /** The experiment a pipeline's runs go to: `MLFLOW_EXPERIMENT_NAME`, else the pipeline's name. */
  experimentName(pipeline: string): string {
    return this.config.experimentName ?? pipeline;
  }

  /** The id of a pipeline's experiment, created when missing (once per worker and name). */
  experimentId(pipeline: string): Promise<string> {
    const name = this.experimentName(pipeline);
    let id = this.#experiments.get(name);
    if (id === undefined) {
      id = this.client.experiments
        .ensure({ name, tags: { [MLOE_TAGS.pipeline]: pipeline } })
        .then((experiment) => experiment.experimentId);
      this.#experiments.set(name, id);
      // A failure is not remembered: the next call tries again.
      id.catch(() => this.#experiments.delete(name));
    }
    return id;
  }

  /** The link to a run, in the configured style. */
  link(run: Pick<TrackedRun, 'runId' | 'experimentId'>): MlflowRunLink {
    return runLink(this.serverUrl, this.config.links, run.experimentId, run.runId);
  }

  /** Remembers a pipeline run for the steps of its workflow. */
  rememberPipelineRun(workflowId: string, run: TrackedRun): void {
    this.#pipelineRuns.delete(workflowId);
    this.#pipelineRuns.set(workflowId, run);
    if (this.#pipelineRuns.size > REMEMBERED_PIPELINE_RUNS) {
      const oldest = this.#pipelineRuns.keys().next();
      if (oldest.done !== true) this.#pipelineRuns.delete(oldest.value);
    }
  }

  /** The MLflow run of a pipeline run as this worker knows it, without asking the server. */
  knownPipelineRun(workflowId: string): TrackedRun | undefined {
    return this.#pipelineRuns.get(workflowId);
  }

  /** The MLflow run of a pipeline run (by its workflow id), or undefined when there is none (yet). */
  async findPipelineRun(workflowId: string, pipeline: string): Promise<TrackedRun | undefined> {
    const known = this.#pipelineRuns.get(workflowId);
    if (known !== undefined) return known;
    const experimentId = await this.experimentId(pipeline);
    const found = await this.findRun(
      experimentId,
      `${tagEquals(MLOE_TAGS.workflowId, workflowId)} and ${tagEquals(MLOE_TAGS.kind, 'pipeline')}`,
    );
    if (found !== undefined) this.rememberPipelineRun(workflowId, found);
    return found;
  }

  /** The oldest run of an experiment matching `filter` (deleted runs ignored), or undefined. */
  async findRun(experimentId: string, filter: string): Promise<TrackedRun | undefined> {
    const page = await this.client.runs.search({
      experimentIds: [experimentId],
      filter,
      orderBy: ['attributes.start_time ASC'],
      maxResults: 1,
    });
    const run = page.items[0];
    return run === undefined ? undefined : trackedRun(run);
  }

  /**
   * Logs metrics, params and tags to a run: what MLflow would refuse is left out and returned as problems (one line
   * per item). If the server still refuses the batch (a rule this check does not know), the items are logged one by
   * one and the refused ones join the problems. Other failures are thrown.
   */
  async logChecked(
    runId: string,
    batch: { metrics?: readonly MetricInput[]; params?: readonly KeyValue[]; tags?: readonly KeyValue[] },
    options: { marker?: KeyValue } = {},
  ): Promise<string[]> {
    const checked = checkBatch(batch);
    const { metrics, params, tags } = checked;
    const { marker } = options;
    if (metrics.length + params.length + tags.length === 0 && marker === undefined) return checked.problems;
    // The marker says the data is all there: in the same request when it fits in one (MLflow writes a log-batch
    // in one transaction), else after the last one.
    const oneRequest = fitsOneRequest({ metrics, params, tags: marker === undefined ? tags : [...tags, marker] });
    try {
      const withMarker = marker !== undefined && oneRequest ? [...tags, marker] : tags;
      await this.client.runs.logBatch(runId, { metrics, params, tags: withMarker });
      if (marker !== undefined && !oneRequest) await this.client.runs.setTag(runId, marker.key, marker.value);
      return checked.problems;
    } catch (error) {
      if (!isMlflowError(error, 'INVALID_PARAMETER_VALUE')) throw error;
    }
    const problems = [...checked.problems];
    const one = async (what: string, log: () => Promise<unknown>): Promise<void> => {
      try {
        await log();
      } catch (error) {
        if (!isMlflowError(error, 'INVALID_PARAMETER_VALUE')) throw error;
        problems.push(`${what}: refused by MLflow: ${ensureError(error).message}`);
      }
    };
    for (const param of params) {
      await one(`param ${JSON.stringify(param.key)}`, () => this.client.runs.logBatch(runId, { params: [param] }));
    }
    for (const tag of tags) {
      await one(`tag ${JSON.stringify(tag.key)}`, () => this.client.runs.logBatch(runId, { tags: [tag] }));
    }
    for (const metric of metrics) {
      await one(`metric ${JSON.stringify(metric.key)}`, () => this.client.runs.logBatch(runId, { metrics: [metric] }));
    }
    if (marker !== undefined) await this.client.runs.setTag(runId, marker.key, marker.value);
    return problems;
  }

  /**
   * Reports what was left out of a run: a warning per line on the worker, and the lines in the run's
   * `mloe.tracking.problems` tag.
   */
  async reportProblems(runId: string, what: string, problems: readonly string[]): Promise<void> {
    for (const problem of problems) this.#warn(`${what}: not logged to MLflow: ${problem}`);
    await this.client.runs.setTag(runId, MLOE_TAGS.problems, tagValue(problems.join('\n')));
  }

  /**
   * The error to fail with when a call to the server failed: `MLFLOW_REQUEST_FAILED`, naming what was being done and
   * the server, retryable when the failure was (a server that is down, a 5xx).
   */
  failure(error: unknown, what: string): MloeError {
    if (error instanceof TrackingFailure) return error;
    const cause = ensureError(error);
    const retryable = cause instanceof MloeError ? cause.retryable : true;
    return new TrackingFailure(`${what}: MLflow tracking server ${this.serverUrl}: ${cause.message}`, {
      retryable,
      cause,
    });
  }
}

/** A tracking call that failed, said once (what was done, the server, why): never wrapped again. */
class TrackingFailure extends MloeError {
  constructor(message: string, options: { retryable: boolean; cause: unknown }) {
    super('MLFLOW_REQUEST_FAILED', message, options);
  }
}

/** The writes behind the steps of one pipeline run: under way, and failed (to be tried again). */
interface WorkflowWrites {
  pending: Set<Promise<void>>;
  failed: { what: string; write: () => Promise<void>; error: unknown }[];
}

/** Whether a batch (the marker among its tags) goes to MLflow in one `log-batch` request (its count and size limits). */
function fitsOneRequest(batch: {
  metrics: readonly MetricInput[];
  params: readonly KeyValue[];
  tags: readonly KeyValue[];
}): boolean {
  const limits = LOG_BATCH_LIMITS;
  const metrics = batch.metrics.length;
  const params = batch.params.length;
  const tags = batch.tags.length;
  const counts =
    metrics <= limits.metrics &&
    params <= limits.params &&
    tags <= limits.tags &&
    metrics + params + tags <= limits.total;
  // An upper bound of the JSON, not the JSON itself: the client serialises the batch once, to send it.
  return counts && logBatchBytesAtMost(batch) <= limits.bytes;
}

/** What this tracker keeps of a run it found. */
export function trackedRun(run: Run): TrackedRun {
  return {
    runId: run.info.runId,
    experimentId: run.info.experimentId,
    startTime: run.info.startTime ?? 0,
    status: run.info.status,
    tags: Object.fromEntries(run.data.tags.map((tag) => [tag.key, tag.value])),
    metrics: run.data.metrics.map((metric) => ({ key: metric.key, value: metric.value, step: metric.step })),
  };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
