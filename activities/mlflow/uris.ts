/**
 * MLflow's model and run URIs resolved through the registry: `models:/<name>/<version>`, `models:/<name>@<alias>`,
 * `models:/<name>/<stage>` (legacy), `models:/<name>/latest`, and `runs:/<run_id>/<path>`, parsed by the rules of
 * MLflow's Python client (`mlflow/store/artifact/utils/models.py`).
 */
import { parseRunsUri } from './artifacts';
import { MlflowError } from './errors';
import type { ModelVersionsApi } from './model-versions';
import type { RegisteredModelsApi } from './registered-models';
import type { RunsApi } from './runs';
import type { ModelVersion } from './types';

/** A `models:/` URI, parsed. */
export type ModelUri =
  | { kind: 'version'; name: string; version: string }
  | { kind: 'alias'; name: string; alias: string }
  | { kind: 'stage'; name: string; stage: string }
  | { kind: 'latest'; name: string };

/** A model URI resolved to its version and where its artifacts are. */
export interface ResolvedModelUri {
  uri: string;
  modelVersion: ModelVersion;
  /** The version's `source` as registered (`runs:/…`, `mlflow-artifacts:/…`, `s3://…`). */
  source: string;
  /** Where its artifacts can be downloaded from (`get-download-uri`): the source with `runs:/` resolved. */
  artifactUri: string;
}

/** A `runs:/` URI resolved to the run's artifact location. */
export interface ResolvedRunUri {
  uri: string;
  runId: string;
  /** The path under the run's artifact root (empty for the root). */
  path: string;
  /** The run's artifact root joined with the path. */
  artifactUri: string;
}

function invalid(uri: string, why: string): MlflowError {
  return new MlflowError(`MLflow URI ${JSON.stringify(uri)}: ${why}`, {
    errorCode: 'INVALID_REQUEST',
    endpoint: 'resolve URI',
    retryable: false,
    attempts: 0,
  });
}

/**
 * Parses a `models:/` URI as MLflow does: `models:/name/3` (a version), `models:/name/latest` (any case),
 * `models:/name/Production` (a stage), `models:/name@champion` (an alias). Throws `INVALID_REQUEST` otherwise.
 */
export function parseModelUri(uri: string): ModelUri {
  const match = /^models:(\/\/[^/]*)?(\/.*)?$/.exec(uri);
  if (match === null) throw invalid(uri, 'not a models:/ URI');
  if (match[1] !== undefined && match[1] !== '//') {
    throw invalid(
      uri,
      'a registry host in the URI (models://profile@…) is not supported; configure MLFLOW_REGISTRY_URI',
    );
  }
  const path = match[2] ?? '';
  if (path.length <= 1 || path.includes('?') || path.includes('#')) {
    throw invalid(uri, 'expected models:/<name>/<version>, models:/<name>/<stage> or models:/<name>@<alias>');
  }
  const parts = path.replace(/^\/+/, '').split('/');
  const [name = '', suffix] = parts;
  if (parts.length > 2 || name.trim() === '') {
    throw invalid(uri, 'expected models:/<name>/<version>, models:/<name>/<stage> or models:/<name>@<alias>');
  }
  if (suffix !== undefined) {
    if (suffix.trim() === '') throw invalid(uri, 'the version or stage is empty');
    if (/^\d+$/.test(suffix)) return { kind: 'version', name, version: String(Number(suffix)) };
    if (suffix.toLowerCase() === 'latest') return { kind: 'latest', name };
    return { kind: 'stage', name, stage: suffix };
  }
  const at = name.lastIndexOf('@');
  const alias = at < 0 ? '' : name.slice(at + 1);
  if (at <= 0 || alias.trim() === '') {
    throw invalid(uri, 'expected models:/<name>/<version>, models:/<name>/<stage> or models:/<name>@<alias>');
  }
  return { kind: 'alias', name: name.slice(0, at), alias };
}

/** The highest version number of a list, or undefined when it is empty. */
function newest(versions: readonly ModelVersion[]): ModelVersion | undefined {
  return versions.reduce<ModelVersion | undefined>(
    (best, version) => (best === undefined || Number(version.version) > Number(best.version) ? version : best),
    undefined,
  );
}

/** Resolves `models:/` and `runs:/` URIs against one MLflow server. */
export class UriResolver {
  readonly #models: RegisteredModelsApi;
  readonly #versions: ModelVersionsApi;
  readonly #runs: RunsApi;

  constructor(models: RegisteredModelsApi, versions: ModelVersionsApi, runs: RunsApi) {
    this.#models = models;
    this.#versions = versions;
    this.#runs = runs;
  }

  /**
   * The model version a `models:/` URI names and where its artifacts are. A missing version is
   * `RESOURCE_DOES_NOT_EXIST`, a missing alias `INVALID_PARAMETER_VALUE` (as MLflow answers); a stage (or `latest`)
   * with no version in it is `RESOURCE_DOES_NOT_EXIST`.
   */
  async resolveModel(uri: string): Promise<ResolvedModelUri> {
    const parsed = parseModelUri(uri);
    let modelVersion: ModelVersion;
    switch (parsed.kind) {
      case 'version':
        modelVersion = await this.#versions.get(parsed.name, parsed.version);
        break;
      case 'alias':
        modelVersion = await this.#models.getVersionByAlias(parsed.name, parsed.alias);
        break;
      case 'stage':
      case 'latest': {
        const stages = parsed.kind === 'stage' ? [parsed.stage] : undefined;
        const found = newest(await this.#models.getLatestVersions(parsed.name, stages));
        if (found === undefined) {
          const where = parsed.kind === 'stage' ? `in stage ${parsed.stage}` : 'at all';
          throw new MlflowError(`MLflow URI ${JSON.stringify(uri)}: model ${parsed.name} has no version ${where}`, {
            errorCode: 'RESOURCE_DOES_NOT_EXIST',
            endpoint: 'resolve URI',
            retryable: false,
          });
        }
        modelVersion = found;
        break;
      }
    }
    const artifactUri = await this.#versions.getDownloadUri(modelVersion.name, modelVersion.version);
    return { uri, modelVersion, source: modelVersion.source, artifactUri };
  }

  /** The artifact location a `runs:/<run_id>/<path>` URI names; `RESOURCE_DOES_NOT_EXIST` if the run is missing. */
  async resolveRun(uri: string): Promise<ResolvedRunUri> {
    const parsed = parseRunsUri(uri);
    if (parsed === undefined || parsed.runId === '') throw invalid(uri, 'expected runs:/<run_id>/<path>');
    const root = (await this.#runs.get(parsed.runId)).info.artifactUri.replace(/\/+$/, '');
    return {
      uri,
      runId: parsed.runId,
      path: parsed.path,
      artifactUri: parsed.path === '' ? root : `${root}/${parsed.path}`,
    };
  }
}
