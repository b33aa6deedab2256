/**
 * MLflow's checks of names, values and sizes, with its messages (`mlflow/utils/validation.py`): metric, param and
 * tag keys, value lengths, batch limits, run and experiment identifiers, registry names, versions and aliases,
 * datasets and input tags.
 */
import { invalidParameter } from './errors';

/** At most this many params, and as many tags, in one log-batch. */
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
/** At most this many metrics in one log-batch. */
export const MAX_METRICS_PER_BATCH = 1000;
/** At most this many metrics, params and tags together in one log-batch. */
export const MAX_ENTITIES_PER_BATCH = 1000;
/** Longest param value. */
export const MAX_PARAM_VAL_LENGTH = 6000;
/** Longest run tag value. */
export const MAX_TAG_VAL_LENGTH = 5000;
/** Longest experiment name. */
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
/** Longest experiment tag key. */
export const MAX_EXPERIMENT_TAG_KEY_LENGTH = 250;
/** Longest experiment tag value. */
export const MAX_EXPERIMENT_TAG_VAL_LENGTH = 5000;
/** Longest metric, param or run tag key. */
export const MAX_ENTITY_KEY_LENGTH = 250;
/** Longest registered model or model version tag key. */
export const MAX_MODEL_REGISTRY_TAG_KEY_LENGTH = 250;
/** Longest registered model or model version tag value. */
export const MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH = 5000;
/** Longest dataset name. */
export const MAX_DATASET_NAME_SIZE = 500;
/** Longest dataset digest. */
export const MAX_DATASET_DIGEST_SIZE = 36;
/** Longest dataset schema. */
export const MAX_DATASET_SCHEMA_SIZE = 1_048_575;
/** Longest dataset source. */
export const MAX_DATASET_SOURCE_SIZE = 65_535;
/** Longest dataset profile. */
export const MAX_DATASET_PROFILE_SIZE = 16_777_215;
/** Longest input tag key. */
export const MAX_INPUT_TAG_KEY_SIZE = 255;
/** Longest input tag value. */
export const MAX_INPUT_TAG_VALUE_SIZE = 500;
/** Longest registered model alias. */
export const MAX_REGISTERED_MODEL_ALIAS_LENGTH = 255;

// Python's `\w` on str: letters and numbers of any script, and the underscore.
const VALID_PARAM_AND_METRIC_NAMES = /^[/\p{L}\p{N}_.\- ]*$/u;
const RUN_ID_REGEX = /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,255}$/u;
const REGISTERED_MODEL_ALIAS_REGEX = /^[\p{L}\p{N}_-]*$/u;
const REGISTERED_MODEL_ALIAS_VERSION_REGEX = /^[vV]\d+$/;

const BAD_CHARACTERS_MESSAGE =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).';
const BAD_ALIAS_CHARACTERS_MESSAGE = 'Names may only contain alphanumerics, underscores (_), and dashes (-).';

/** Python's `posixpath.normpath`: what a name would resolve to as a file path. */
export function normpath(path: string): string {
  if (path === '') return '.';
  let initialSlashes = path.startsWith('/') ? 1 : 0;
  if (path.startsWith('//') && !path.startsWith('///')) initialSlashes = 2;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..' || (initialSlashes === 0 && out.length === 0) || out[out.length - 1] === '..') out.push(part);
    else if (out.length > 0) out.pop();
  }
  const joined = '/'.repeat(initialSlashes) + out.join('/');
  return joined === '' ? '.' : joined;
}

function pathNotUnique(name: string): boolean {
  const norm = normpath(name);
  return norm !== name || norm === '.' || norm.startsWith('..') || norm.startsWith('/');
}

function validateName(kind: 'metric' | 'parameter' | 'tag', name: string): void {
  if (!VALID_PARAM_AND_METRIC_NAMES.test(name)) {
    throw invalidParameter(`Invalid ${kind} name: '${name}'. ${BAD_CHARACTERS_MESSAGE}`);
  }
  if (pathNotUnique(name)) {
    throw invalidParameter(
      `Invalid ${kind} name: '${name}'. Names may be treated as files in certain cases, and must not resolve to ` +
        `other names when treated as such. This name would resolve to '${normpath(name)}'`,
    );
  }
}

/** Refuses a value longer than `limit` characters (counted as Python counts them: code points). */
export function validateLengthLimit(entityName: string, limit: number, value: string): void {
  const length = codePointLength(value);
  if (length <= limit) return;
  throw invalidParameter(
    `${entityName} '${[...value].slice(0, 250).join('')}' had length ${length}, which exceeded length limit of ${limit}`,
  );
}

function codePointLength(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) i++;
    n++;
  }
  return n;
}

/** A metric as a request carries it. */
export interface MetricInput {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** MLflow's `_validate_metric`: name, finite-or-not double value, non-negative timestamp, key length. */
export function validateMetric(metric: MetricInput): void {
  validateName('metric', metric.key);
  if (!Number.isInteger(metric.timestamp) || metric.timestamp < 0) {
    throw invalidParameter(
      `Got invalid timestamp ${metric.timestamp} for metric '${metric.key}' (value=${metric.value}). ` +
        'Timestamp must be a nonnegative long (64-bit integer) ',
    );
  }
  if (!Number.isInteger(metric.step)) {
    throw invalidParameter(
      `Got invalid step ${metric.step} for metric '${metric.key}' (value=${metric.value}). ` +
        'Step must be a valid long (64-bit integer).',
    );
  }
  validateLengthLimit('Metric name', MAX_ENTITY_KEY_LENGTH, metric.key);
}

/** MLflow's `_validate_param`: name, key length, value length. */
export function validateParam(key: string, value: string): void {
  validateName('parameter', key);
  validateLengthLimit('Param key', MAX_ENTITY_KEY_LENGTH, key);
  validateLengthLimit('Param value', MAX_PARAM_VAL_LENGTH, value);
}

/** MLflow's `_validate_tag` for run tags. */
export function validateRunTag(key: string, value: string): void {
  validateName('tag', key);
  validateLengthLimit('Tag key', MAX_ENTITY_KEY_LENGTH, key);
  validateLengthLimit('Tag value', MAX_TAG_VAL_LENGTH, value);
}

/** MLflow's `_validate_tag_name` alone (tag deletion). */
export function validateTagName(key: string): void {
  validateName('tag', key);
}

/** MLflow's `_validate_experiment_tag`. */
export function validateExperimentTag(key: string, value: string): void {
  validateName('tag', key);
  validateLengthLimit('Tag key', MAX_EXPERIMENT_TAG_KEY_LENGTH, key);
  validateLengthLimit('Tag value', MAX_EXPERIMENT_TAG_VAL_LENGTH, value);
}

/** MLflow's `_validate_registered_model_tag`. */
export function validateRegisteredModelTag(key: string, value: string): void {
  validateName('tag', key);
  validateLengthLimit('Registered model key', MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key);
  validateLengthLimit('Registered model value', MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value);
}

/** MLflow's `_validate_model_version_tag`. */
export function validateModelVersionTag(key: string, value: string): void {
  validateName('tag', key);
  validateLengthLimit('Model version key', MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key);
  validateLengthLimit('Model version value', MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value);
}

/** MLflow's `_validate_run_id` (log-batch and log-inputs check it before looking the run up). */
export function validateRunId(runId: string): void {
  if (!RUN_ID_REGEX.test(runId)) throw invalidParameter(`Invalid run ID: '${runId}'`);
}

/** MLflow's `_validate_experiment_name`. */
export function validateExperimentName(name: string): void {
  if (name === '') throw invalidParameter(`Invalid experiment name: '${name}'`);
  if (codePointLength(name) > MAX_EXPERIMENT_NAME_LENGTH) {
    throw invalidParameter(`Experiment name exceeds the maximum length of ${MAX_EXPERIMENT_NAME_LENGTH} characters`);
  }
}

/** MLflow's `_validate_model_name`. */
export function validateModelName(name: string): void {
  if (name === '') throw invalidParameter('Registered model name cannot be empty.');
}

/** MLflow's `_validate_model_version`: a version is an integer; returns it. */
export function parseModelVersion(version: string): number {
  const trimmed = version.trim();
  if (!/^[-+]?\d+$/.test(trimmed)) throw invalidParameter(`Model version must be an integer, got '${version}'`);
  return Number(trimmed);
}

/** MLflow's `_validate_model_alias_name`: characters, length, and the reserved `latest` and `v<N>`. */
export function validateAliasName(alias: string): void {
  if (alias === '') throw invalidParameter('Registered model alias name cannot be empty.');
  if (!REGISTERED_MODEL_ALIAS_REGEX.test(alias)) {
    throw invalidParameter(`Invalid alias name: '${alias}'. ${BAD_ALIAS_CHARACTERS_MESSAGE}`);
  }
  validateLengthLimit('Registered model alias name', MAX_REGISTERED_MODEL_ALIAS_LENGTH, alias);
  if (alias.toLowerCase() === 'latest') throw invalidParameter("'latest' alias name (case insensitive) is reserved.");
  if (REGISTERED_MODEL_ALIAS_VERSION_REGEX.test(alias)) {
    throw invalidParameter(`Version alias name '${alias}' is reserved.`);
  }
}

function batchLimit(entityName: string, limit: number, length: number): void {
  if (length <= limit) return;
  throw invalidParameter(
    `A batch logging request can contain at most ${limit} ${entityName}. Got ${length} ${entityName}. ` +
      `Please split up ${entityName} across multiple requests and try again.`,
  );
}

/** MLflow's `_validate_batch_log_limits`. */
export function validateBatchLimits(metrics: number, params: number, tags: number): void {
  batchLimit('metrics', MAX_METRICS_PER_BATCH, metrics);
  batchLimit('params', MAX_PARAMS_TAGS_PER_BATCH, params);
  batchLimit('tags', MAX_PARAMS_TAGS_PER_BATCH, tags);
  batchLimit('metrics, params, and tags', MAX_ENTITIES_PER_BATCH, metrics + params + tags);
}

/** MLflow's `_validate_param_keys_unique`: one value per param key in a batch. */
export function validateParamKeysUnique(keys: readonly string[]): void {
  const seen = new Set<string>();
  const dupes: string[] = [];
  for (const key of keys) {
    if (seen.has(key)) dupes.push(key);
    seen.add(key);
  }
  if (dupes.length > 0) {
    throw invalidParameter(
      `Duplicate parameter keys have been submitted: ${pyList(dupes)}. Please ensure the request contains only ` +
        'one param value per param key.',
    );
  }
}

/** A dataset as log-inputs carries it. */
export interface DatasetInput {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string;
  profile?: string;
}

/** MLflow's `_validate_dataset`. */
export function validateDataset(dataset: DatasetInput): void {
  const checks: [string, string | undefined, number][] = [
    ['name', dataset.name, MAX_DATASET_NAME_SIZE],
    ['digest', dataset.digest, MAX_DATASET_DIGEST_SIZE],
    ['source', dataset.source, MAX_DATASET_SOURCE_SIZE],
    ['schema', dataset.schema, MAX_DATASET_SCHEMA_SIZE],
    ['profile', dataset.profile, MAX_DATASET_PROFILE_SIZE],
  ];
  for (const [field, value, limit] of checks) {
    if (value !== undefined && codePointLength(value) > limit) {
      throw invalidParameter(`Dataset ${field} exceeds the maximum length of ${limit}`);
    }
  }
}

/** MLflow's `_validate_input_tag`. */
export function validateInputTag(key: string, value: string): void {
  if (codePointLength(key) > MAX_INPUT_TAG_KEY_SIZE) {
    throw invalidParameter(`InputTag key exceeds the maximum length of ${MAX_INPUT_TAG_KEY_SIZE}`);
  }
  if (codePointLength(value) > MAX_INPUT_TAG_VALUE_SIZE) {
    throw invalidParameter(`InputTag value exceeds the maximum length of ${MAX_INPUT_TAG_VALUE_SIZE}`);
  }
}

/** A list of strings as Python prints it (`['a', 'b']`), for messages that quote MLflow's. */
export function pyList(values: readonly string[]): string {
  return `[${values.map((v) => `'${v}'`).join(', ')}]`;
}
