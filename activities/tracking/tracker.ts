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
  createMlflowClient,
  isMlflowError,
  type MlflowClient,
  type MetricInput,
  type Run,
  type RunStatus,
} from '../mlflow';
import { activityMlflowConfig, type TrackingConfig } from './config';
import { checkBatch, tagValue, type KeyValue } from './limits';
import { MLOE_TAGS, runLink, tagEquals } from './names';
import type { MlflowRunLink } from './types';

/** A run this tracker knows: enough to log to it, nest under it and link to it. */
export interface TrackedRun {
  runId: string;
  experimentId: string;
  /** Its start time (ms since the epoch): the timestamp of the points logged to it, the same on every retry. */
  startTime: number;
  status: RunStatus;
}

/** Options of {@link MlflowTracker}. */
export interface MlflowTrackerOptions {
  /** A client to use instead of one made from `config` (tests). */
  client?: MlflowClient;
  /** Where problems with the data (refused keys, non-finite values) are reported; `console.warn` by default. */
  warn?: (message: string) => void;
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

  constructor(config: TrackingConfig, options: MlflowTrackerOptions = {}) {
    this.config = config;
    this.client = options.client ?? createMlflowClient(activityMlflowConfig(config.mlflow));
    this.serverUrl = config.mlflow.trackingUri;
    this.user = osUser();
    this.#warn = options.warn ?? ((message) => console.warn(`[mloe tracking] ${message}`));
  }

  /** Reports a problem with tracked data (it was left out; the rest was logged). */
  warn(message: string): void {
    this.#warn(message);
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
  ): Promise<string[]> {
    const checked = checkBatch(batch);
    const { metrics, params, tags } = checked;
    if (metrics.length + params.length + tags.length === 0) return checked.problems;
    try {
      await this.client.runs.logBatch(runId, { metrics, params, tags });
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
    const cause = ensureError(error);
    const retryable = cause instanceof MloeError ? cause.retryable : true;
    return new MloeError(
      'MLFLOW_REQUEST_FAILED',
      `${what}: MLflow tracking server ${this.serverUrl}: ${cause.message}`,
      { retryable, cause },
    );
  }
}

/** What this tracker keeps of a run it found. */
export function trackedRun(run: Run): TrackedRun {
  return {
    runId: run.info.runId,
    experimentId: run.info.experimentId,
    startTime: run.info.startTime ?? 0,
    status: run.info.status,
  };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
