/**
 * Registered models (`/api/2.0/mlflow/registered-models/*`, on the registry server): create, get, rename, update,
 * delete, search, tags, aliases and the legacy latest-versions-per-stage.
 *
 * Aliases follow MLflow: a missing alias is `INVALID_PARAMETER_VALUE` (not `RESOURCE_DOES_NOT_EXIST`), and `latest`
 * and `v<N>` are reserved names the server refuses.
 */
import { z } from 'zod';

import type { MlflowHttpClient } from './http';
import { allPages } from './paging';
import { call, callPage, check, endpoint } from './rest';
import type { ModelVersion, Page, RegisteredModel, TagsInput } from './types';
import { compact, emptySchema, inputs, modelVersionSchema, registeredModelSchema, tagsToWire } from './wire';

/** The registered model endpoints. */
export const REGISTERED_MODEL_ENDPOINTS = {
  create: endpoint('POST', 'registered-models/create', 'registry'),
  get: endpoint('GET', 'registered-models/get', 'registry'),
  rename: endpoint('POST', 'registered-models/rename', 'registry'),
  update: endpoint('PATCH', 'registered-models/update', 'registry'),
  delete: endpoint('DELETE', 'registered-models/delete', 'registry'),
  search: endpoint('GET', 'registered-models/search', 'registry'),
  setTag: endpoint('POST', 'registered-models/set-tag', 'registry'),
  deleteTag: endpoint('DELETE', 'registered-models/delete-tag', 'registry'),
  setAlias: endpoint('POST', 'registered-models/alias', 'registry'),
  deleteAlias: endpoint('DELETE', 'registered-models/alias', 'registry'),
  getByAlias: endpoint('GET', 'registered-models/alias', 'registry'),
  latestVersions: endpoint('POST', 'registered-models/get-latest-versions', 'registry'),
} as const;
const M = REGISTERED_MODEL_ENDPOINTS;

/** What {@link RegisteredModelsApi.create} takes. */
export interface CreateRegisteredModelInput {
  name: string;
  tags?: TagsInput;
  description?: string;
}

/** What {@link RegisteredModelsApi.search} takes. */
export interface SearchRegisteredModelsInput {
  /** E.g. `name LIKE 'churn-%'`, `tags.team = 'ml'`. */
  filter?: string;
  /** Page size: 100 unless given, at most 1,000. */
  maxResults?: number;
  /** E.g. `['name ASC']`, `['last_updated_timestamp DESC']`. */
  orderBy?: readonly string[];
  pageToken?: string;
}

/** A model version number as callers give it: `"3"` or `3`. */
export type VersionInput = string | number;

/** The wire form of a version number. */
export const versionInput = z
  .union([z.string().regex(/^\d+$/, 'expected a version number'), z.number().int().positive()])
  .transform(String);

const createSchema = z.object({ name: inputs.id, tags: inputs.tags.optional(), description: inputs.text.optional() });
const searchSchema = z.object({
  filter: inputs.text.optional(),
  maxResults: inputs.maxResults.optional(),
  orderBy: inputs.orderBy.optional(),
  pageToken: inputs.text.optional(),
});
const modelAnswer = z.object({ registered_model: registeredModelSchema });
const versionAnswer = z.object({ model_version: modelVersionSchema });

/** The registered models API of one MLflow registry. */
export class RegisteredModelsApi {
  readonly #http: MlflowHttpClient;

  constructor(http: MlflowHttpClient) {
    this.#http = http;
  }

  /** Creates a registered model; `RESOURCE_ALREADY_EXISTS` if the name is taken. */
  async create(input: CreateRegisteredModelInput): Promise<RegisteredModel> {
    const value = check(createSchema, input, M.create);
    const fields = { name: value.name, tags: tagsToWire(value.tags), description: value.description };
    return (await call(this.#http, M.create, fields, modelAnswer)).registered_model;
  }

  /** The registered model with its tags, aliases and latest versions; `RESOURCE_DOES_NOT_EXIST` if there is none. */
  async get(name: string): Promise<RegisteredModel> {
    check(inputs.id, name, M.get);
    return (await call(this.#http, M.get, { name }, modelAnswer)).registered_model;
  }

  /** Renames a registered model (its versions follow). */
  async rename(name: string, newName: string): Promise<RegisteredModel> {
    check(z.tuple([inputs.id, inputs.id]), [name, newName], M.rename);
    return (await call(this.#http, M.rename, { name, new_name: newName }, modelAnswer)).registered_model;
  }

  /** Changes a registered model's description. */
  async update(name: string, input: { description: string }): Promise<RegisteredModel> {
    check(z.tuple([inputs.id, inputs.text]), [name, input.description], M.update);
    return (await call(this.#http, M.update, { name, description: input.description }, modelAnswer)).registered_model;
  }

  /** Deletes a registered model and all its versions. */
  async delete(name: string): Promise<void> {
    check(inputs.id, name, M.delete);
    await call(this.#http, M.delete, { name }, emptySchema);
  }

  /** One page of registered models matching `input`. */
  async search(input: SearchRegisteredModelsInput = {}): Promise<Page<RegisteredModel>> {
    const value = check(searchSchema, input, M.search);
    const fields = {
      filter: value.filter,
      max_results: value.maxResults,
      order_by: value.orderBy,
      page_token: value.pageToken,
    };
    return callPage(this.#http, M.search, fields, 'registered_models', registeredModelSchema);
  }

  /** Every registered model matching `input`, page after page. */
  searchAll(
    input: Omit<SearchRegisteredModelsInput, 'pageToken'> = {},
  ): AsyncGenerator<RegisteredModel, void, undefined> {
    return allPages((pageToken) => this.search(compact({ ...input, pageToken })), M.search.name);
  }

  /** Sets (or overwrites) a tag. */
  async setTag(name: string, key: string, value: string): Promise<void> {
    check(z.tuple([inputs.id, inputs.text, inputs.text]), [name, key, value], M.setTag);
    await call(this.#http, M.setTag, { name, key, value }, emptySchema);
  }

  /** Deletes a tag. */
  async deleteTag(name: string, key: string): Promise<void> {
    check(z.tuple([inputs.id, inputs.text]), [name, key], M.deleteTag);
    await call(this.#http, M.deleteTag, { name, key }, emptySchema);
  }

  /** Points `alias` at a version (moving it if it pointed elsewhere); reserved names are refused by the server. */
  async setAlias(name: string, alias: string, version: VersionInput): Promise<void> {
    const [, , wireVersion] = check(
      z.tuple([inputs.id, inputs.text, versionInput]),
      [name, alias, version],
      M.setAlias,
    );
    await call(this.#http, M.setAlias, { name, alias, version: wireVersion }, emptySchema);
  }

  /** Removes an alias. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    check(z.tuple([inputs.id, inputs.text]), [name, alias], M.deleteAlias);
    await call(this.#http, M.deleteAlias, { name, alias }, emptySchema);
  }

  /** The version an alias points at; `INVALID_PARAMETER_VALUE` if the model has no such alias. */
  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    check(z.tuple([inputs.id, inputs.text]), [name, alias], M.getByAlias);
    return (await call(this.#http, M.getByAlias, { name, alias }, versionAnswer)).model_version;
  }

  /**
   * The latest version in each of `stages` (every stage, `None` included, when not given). Legacy: MLflow
   * deprecates stages in favour of aliases but still serves this.
   */
  async getLatestVersions(name: string, stages?: readonly string[]): Promise<ModelVersion[]> {
    check(z.tuple([inputs.id, z.array(inputs.text).optional()]), [name, stages], M.latestVersions);
    const answer = await call(
      this.#http,
      M.latestVersions,
      { name, stages },
      z.object({ model_versions: z.array(modelVersionSchema).default([]) }),
    );
    return answer.model_versions;
  }
}
