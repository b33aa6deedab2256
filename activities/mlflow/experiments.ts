/**
 * Experiments (`/api/2.0/mlflow/experiments/*`): create, get, get by name, search (a page, or every page as an
 * async iterator), rename, delete, restore, and tags. A deleted experiment keeps its name: creating another with it
 * is `RESOURCE_ALREADY_EXISTS`, and it accepts no runs until restored.
 */
import { z } from 'zod';

import { isMlflowError, MlflowError } from './errors';
import type { MlflowHttpClient } from './http';
import { allPages } from './paging';
import { call, callPage, check, endpoint } from './rest';
import type { Experiment, Page, TagsInput, ViewType } from './types';
import { compact, emptySchema, experimentSchema, inputs, tagsToWire } from './wire';

/** The experiment endpoints. */
export const EXPERIMENT_ENDPOINTS = {
  create: endpoint('POST', 'experiments/create'),
  get: endpoint('GET', 'experiments/get'),
  getByName: endpoint('GET', 'experiments/get-by-name'),
  search: endpoint('POST', 'experiments/search'),
  update: endpoint('POST', 'experiments/update'),
  delete: endpoint('POST', 'experiments/delete'),
  restore: endpoint('POST', 'experiments/restore'),
  setTag: endpoint('POST', 'experiments/set-experiment-tag'),
  deleteTag: endpoint('POST', 'experiments/delete-experiment-tag'),
} as const;
const E = EXPERIMENT_ENDPOINTS;

/** What {@link ExperimentsApi.create} takes. */
export interface CreateExperimentInput {
  name: string;
  /** Where the experiment's artifacts go; the server's default artifact root unless given. */
  artifactLocation?: string;
  tags?: TagsInput;
}

/** What {@link ExperimentsApi.search} takes: MLflow's filter grammar over names, attributes and tags. */
export interface SearchExperimentsInput {
  /** E.g. `name LIKE 'pipeline-%' AND tags.team = 'ml'` (`=`, `!=`, `LIKE`, `ILIKE`, joined by `AND`). */
  filter?: string;
  /** E.g. `['name DESC']`, `['creation_time ASC']`; ties broken by experiment id. */
  orderBy?: readonly string[];
  /** Page size; servers support at least 1,000. */
  maxResults?: number;
  pageToken?: string;
  /** Active experiments only unless given. */
  viewType?: ViewType;
}

const createSchema = z.object({
  name: inputs.text,
  artifactLocation: inputs.text.optional(),
  tags: inputs.tags.optional(),
});

const searchSchema = z.object({
  filter: inputs.text.optional(),
  orderBy: inputs.orderBy.optional(),
  maxResults: inputs.maxResults.optional(),
  pageToken: inputs.text.optional(),
  viewType: inputs.viewType.optional(),
});

const experimentAnswer = z.object({ experiment: experimentSchema });

/** The experiments API of one MLflow server. */
export class ExperimentsApi {
  readonly #http: MlflowHttpClient;

  constructor(http: MlflowHttpClient) {
    this.#http = http;
  }

  /** Creates an experiment and returns its id; `RESOURCE_ALREADY_EXISTS` if the name is taken (deleted ones too). */
  async create(input: CreateExperimentInput): Promise<string> {
    const value = check(createSchema, input, E.create);
    const fields = { name: value.name, artifact_location: value.artifactLocation, tags: tagsToWire(value.tags) };
    return (await call(this.#http, E.create, fields, z.object({ experiment_id: inputs.id }))).experiment_id;
  }

  /** The experiment, deleted or not; `RESOURCE_DOES_NOT_EXIST` if there is none with this id. */
  async get(experimentId: string): Promise<Experiment> {
    check(inputs.id, experimentId, E.get);
    return (await call(this.#http, E.get, { experiment_id: experimentId }, experimentAnswer)).experiment;
  }

  /**
   * The experiment with this name (MLflow prefers an active one over deleted ones sharing the name);
   * `RESOURCE_DOES_NOT_EXIST` if there is none.
   */
  async getByName(name: string): Promise<Experiment> {
    check(inputs.id, name, E.getByName);
    return (await call(this.#http, E.getByName, { experiment_name: name }, experimentAnswer)).experiment;
  }

  /** Like {@link getByName}, but `undefined` when there is none (as `mlflow.get_experiment_by_name`). */
  async findByName(name: string): Promise<Experiment | undefined> {
    try {
      return await this.getByName(name);
    } catch (error) {
      if (isMlflowError(error, 'RESOURCE_DOES_NOT_EXIST')) return undefined;
      throw error;
    }
  }

  /**
   * The active experiment with this name, created (with `input`'s location and tags) if there is none, as
   * `mlflow.set_experiment` does: a concurrent creation is tolerated; a deleted experiment of that name is an
   * `INVALID_PARAMETER_VALUE` error (restore it, or pick another name).
   */
  async ensure(input: CreateExperimentInput): Promise<Experiment> {
    const existing = await this.findByName(input.name);
    if (existing !== undefined) return checkActive(existing);
    try {
      return await this.get(await this.create(input));
    } catch (error) {
      if (!isMlflowError(error, 'RESOURCE_ALREADY_EXISTS')) throw error;
      return checkActive(await this.getByName(input.name));
    }
  }

  /** One page of experiments matching `input`. */
  async search(input: SearchExperimentsInput = {}): Promise<Page<Experiment>> {
    const value = check(searchSchema, input, E.search);
    const fields = {
      filter: value.filter,
      order_by: value.orderBy,
      max_results: value.maxResults,
      page_token: value.pageToken,
      view_type: value.viewType,
    };
    return callPage(this.#http, E.search, fields, 'experiments', experimentSchema);
  }

  /** Every experiment matching `input`, page after page. */
  searchAll(input: Omit<SearchExperimentsInput, 'pageToken'> = {}): AsyncGenerator<Experiment, void, undefined> {
    return allPages((pageToken) => this.search(compact({ ...input, pageToken })), E.search.name);
  }

  /** Renames an experiment; `RESOURCE_ALREADY_EXISTS` if the new name is taken. */
  async rename(experimentId: string, newName: string): Promise<void> {
    check(z.tuple([inputs.id, inputs.text]), [experimentId, newName], E.update);
    await call(this.#http, E.update, { experiment_id: experimentId, new_name: newName }, emptySchema);
  }

  /** Marks an experiment and its runs deleted; the name stays taken until it is permanently removed. */
  async delete(experimentId: string): Promise<void> {
    check(inputs.id, experimentId, E.delete);
    await call(this.#http, E.delete, { experiment_id: experimentId }, emptySchema);
  }

  /** Restores a deleted experiment and its runs. */
  async restore(experimentId: string): Promise<void> {
    check(inputs.id, experimentId, E.restore);
    await call(this.#http, E.restore, { experiment_id: experimentId }, emptySchema);
  }

  /** Sets (or overwrites) a tag. */
  async setTag(experimentId: string, key: string, value: string): Promise<void> {
    check(z.tuple([inputs.id, inputs.text, inputs.text]), [experimentId, key, value], E.setTag);
    await call(this.#http, E.setTag, { experiment_id: experimentId, key, value }, emptySchema);
  }

  /** Deletes a tag. The endpoint arrived in MLflow 3.x (mid-2025): older servers answer `ENDPOINT_NOT_FOUND`. */
  async deleteTag(experimentId: string, key: string): Promise<void> {
    check(z.tuple([inputs.id, inputs.text]), [experimentId, key], E.deleteTag);
    await call(this.#http, E.deleteTag, { experiment_id: experimentId, key }, emptySchema);
  }
}

/** An experiment that is active, or the error `mlflow.set_experiment` raises for a deleted one. */
function checkActive(experiment: Experiment): Experiment {
  if (experiment.lifecycleStage === 'active') return experiment;
  throw new MlflowError(
    `MLflow experiment ${JSON.stringify(experiment.name)} (id ${experiment.experimentId}) is deleted: restore it, or use another name`,
    { errorCode: 'INVALID_PARAMETER_VALUE', endpoint: E.getByName.name, retryable: false },
  );
}
