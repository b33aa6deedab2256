/**
 * Model versions (`/api/2.0/mlflow/model-versions/*`, on the registry server): create (waiting until `READY` as
 * MLflow's Python client does), get, update, delete, search, tags, the artifacts' download URI and the legacy stage
 * transitions.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';

import { z } from 'zod';

import { MlflowError } from './errors';
import type { MlflowHttpClient } from './http';
import { allPages } from './paging';
import { versionInput, type VersionInput } from './registered-models';
import { call, callPage, check, endpoint } from './rest';
import type { ModelStage, ModelVersion, Page, TagsInput } from './types';
import { compact, emptySchema, inputs, modelVersionSchema, tagsToWire } from './wire';

/** The model version endpoints. */
export const MODEL_VERSION_ENDPOINTS = {
  create: endpoint('POST', 'model-versions/create', 'registry'),
  get: endpoint('GET', 'model-versions/get', 'registry'),
  update: endpoint('PATCH', 'model-versions/update', 'registry'),
  delete: endpoint('DELETE', 'model-versions/delete', 'registry'),
  search: endpoint('GET', 'model-versions/search', 'registry'),
  setTag: endpoint('POST', 'model-versions/set-tag', 'registry'),
  deleteTag: endpoint('DELETE', 'model-versions/delete-tag', 'registry'),
  downloadUri: endpoint('GET', 'model-versions/get-download-uri', 'registry'),
  transitionStage: endpoint('POST', 'model-versions/transition-stage', 'registry'),
} as const;
const V = MODEL_VERSION_ENDPOINTS;

/** What {@link ModelVersionsApi.create} takes. */
export interface CreateModelVersionInput {
  /** The registered model (it must exist). */
  name: string;
  /** Where the model's artifacts are: `runs:/<run>/<path>`, `mlflow-artifacts:/…`, `s3://…`, `file://…`. */
  source: string;
  runId?: string;
  tags?: TagsInput;
  /** A link to the run when it lives on another tracking server. */
  runLink?: string;
  description?: string;
}

/** What {@link ModelVersionsApi.search} takes. */
export interface SearchModelVersionsInput {
  /** E.g. `name = 'churn'`, `run_id = '…'`, `tags.validated = 'true'`. */
  filter?: string;
  maxResults?: number;
  /** E.g. `['version_number DESC']`, `['creation_timestamp ASC']`. */
  orderBy?: readonly string[];
  pageToken?: string;
}

/** How long {@link ModelVersionsApi.create} waits for a pending version to become `READY` (MLflow's 300 s). */
export const MODEL_VERSION_READY_TIMEOUT_MS = 300_000;

const createSchema = z.object({
  name: inputs.id,
  source: inputs.text,
  runId: inputs.text.optional(),
  tags: inputs.tags.optional(),
  runLink: inputs.text.optional(),
  description: inputs.text.optional(),
});
const searchSchema = z.object({
  filter: inputs.text.optional(),
  maxResults: inputs.maxResults.optional(),
  orderBy: inputs.orderBy.optional(),
  pageToken: inputs.text.optional(),
});
const versionAnswer = z.object({ model_version: modelVersionSchema });
const nameAndVersion = z.tuple([inputs.id, versionInput]);

/** The model versions API of one MLflow registry. */
export class ModelVersionsApi {
  readonly #http: MlflowHttpClient;

  constructor(http: MlflowHttpClient) {
    this.#http = http;
  }

  /**
   * Creates the next version of a registered model. A server that answers `PENDING_REGISTRATION` is polled until
   * the version is `READY` (within `readyTimeoutMs`, 300 s unless given); `FAILED_REGISTRATION` is an error.
   */
  async create(input: CreateModelVersionInput, options: { readyTimeoutMs?: number } = {}): Promise<ModelVersion> {
    const value = check(createSchema, input, V.create);
    const fields = {
      name: value.name,
      source: value.source,
      run_id: value.runId,
      tags: tagsToWire(value.tags),
      run_link: value.runLink,
      description: value.description,
    };
    const created = (await call(this.#http, V.create, fields, versionAnswer)).model_version;
    return created.status === 'READY' ? created : this.#waitUntilReady(created, options.readyTimeoutMs);
  }

  async #waitUntilReady(created: ModelVersion, timeoutMs = MODEL_VERSION_READY_TIMEOUT_MS): Promise<ModelVersion> {
    const deadline = Date.now() + timeoutMs;
    let version = created;
    while (version.status === 'PENDING_REGISTRATION' && Date.now() < deadline) {
      await sleepFor(1000);
      version = await this.get(version.name, version.version);
    }
    if (version.status === 'READY') return version;
    const why = version.status === 'FAILED_REGISTRATION' ? 'failed' : `was still pending after ${timeoutMs} ms`;
    const detail = version.statusMessage === undefined ? '' : `: ${version.statusMessage}`;
    throw new MlflowError(`MLflow model ${version.name} version ${version.version} registration ${why}${detail}`, {
      errorCode: version.status === 'FAILED_REGISTRATION' ? 'INVALID_STATE' : 'DEADLINE_EXCEEDED',
      endpoint: V.get.name,
      retryable: false,
    });
  }

  /** A version; `RESOURCE_DOES_NOT_EXIST` if there is none. */
  async get(name: string, version: VersionInput): Promise<ModelVersion> {
    const [, wire] = check(nameAndVersion, [name, version], V.get);
    return (await call(this.#http, V.get, { name, version: wire }, versionAnswer)).model_version;
  }

  /** Changes a version's description. */
  async update(name: string, version: VersionInput, input: { description: string }): Promise<ModelVersion> {
    const [, wire] = check(nameAndVersion, [name, version], V.update);
    check(inputs.text, input.description, V.update);
    const fields = { name, version: wire, description: input.description };
    return (await call(this.#http, V.update, fields, versionAnswer)).model_version;
  }

  /** Deletes a version (its aliases go with it). */
  async delete(name: string, version: VersionInput): Promise<void> {
    const [, wire] = check(nameAndVersion, [name, version], V.delete);
    await call(this.#http, V.delete, { name, version: wire }, emptySchema);
  }

  /** One page of versions matching `input`. */
  async search(input: SearchModelVersionsInput = {}): Promise<Page<ModelVersion>> {
    const value = check(searchSchema, input, V.search);
    const fields = {
      filter: value.filter,
      max_results: value.maxResults,
      order_by: value.orderBy,
      page_token: value.pageToken,
    };
    return callPage(this.#http, V.search, fields, 'model_versions', modelVersionSchema);
  }

  /** Every version matching `input`, page after page. */
  searchAll(input: Omit<SearchModelVersionsInput, 'pageToken'> = {}): AsyncGenerator<ModelVersion, void, undefined> {
    return allPages((pageToken) => this.search(compact({ ...input, pageToken })), V.search.name);
  }

  /** Sets (or overwrites) a tag. */
  async setTag(name: string, version: VersionInput, key: string, value: string): Promise<void> {
    const [, wire] = check(nameAndVersion, [name, version], V.setTag);
    check(z.tuple([inputs.text, inputs.text]), [key, value], V.setTag);
    await call(this.#http, V.setTag, { name, version: wire, key, value }, emptySchema);
  }

  /** Deletes a tag. */
  async deleteTag(name: string, version: VersionInput, key: string): Promise<void> {
    const [, wire] = check(nameAndVersion, [name, version], V.deleteTag);
    check(inputs.text, key, V.deleteTag);
    await call(this.#http, V.deleteTag, { name, version: wire, key }, emptySchema);
  }

  /** Where the version's artifacts can be downloaded from (its resolved source). */
  async getDownloadUri(name: string, version: VersionInput): Promise<string> {
    const [, wire] = check(nameAndVersion, [name, version], V.downloadUri);
    const answer = await call(
      this.#http,
      V.downloadUri,
      { name, version: wire },
      z.object({ artifact_uri: z.string() }),
    );
    return answer.artifact_uri;
  }

  /**
   * Moves a version to a stage (legacy: MLflow deprecates stages in favour of aliases); with
   * `archiveExistingVersions` the versions already in that stage move to `Archived`.
   */
  async transitionStage(
    name: string,
    version: VersionInput,
    stage: ModelStage | (string & {}),
    archiveExistingVersions = false,
  ): Promise<ModelVersion> {
    const [, wire] = check(nameAndVersion, [name, version], V.transitionStage);
    check(inputs.text, stage, V.transitionStage);
    const fields = { name, version: wire, stage, archive_existing_versions: archiveExistingVersions };
    return (await call(this.#http, V.transitionStage, fields, versionAnswer)).model_version;
  }
}
