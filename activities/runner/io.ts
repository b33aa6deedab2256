/**
 * The file side of the contract: inputs streamed from the artifact store into `inputs/<name>` (digest-verified on the
 * way), declared outputs collected from the outputs directory into the store, and `outputs.json` / `metrics.json`
 * parsed and checked.
 */
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { lstat, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { MloeError } from '../../core/errors';
import { z } from 'zod';

import {
  artifactMetadataSchema,
  artifactTypeSchema,
  parseArtifactRef,
  storeForUri,
  type ArtifactMetadata,
  type ArtifactRef,
  type ArtifactStore,
  type ArtifactType,
} from '../artifacts';
import { BUILTIN_ARTIFACTS_KEY, isArtifactType } from './contract';

/** `outputs.json` and `metrics.json` travel in Temporal payloads: anything bigger belongs in an artifact. */
export const MAX_JSON_FILE_BYTES = 1024 * 1024;

/** An object that claims to be an artifact reference (it has a URI and a digest) must be a valid one. */
function looksLikeRef(value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'uri' in value && 'digest' in value;
}

/**
 * Writes every input to `inputs/<name>`: an ArtifactRef as its bytes (streamed and verified against its digest and
 * size), a string as its UTF-8 text, anything else as JSON. Returns what `inputs.json` records: each scalar's value
 * and each artifact's reference plus its `path`.
 */
export async function materialiseInputs(
  inputs: Record<string, unknown>,
  inputsDir: string,
  store: ArtifactStore,
  signal: AbortSignal | undefined,
): Promise<Record<string, unknown>> {
  const described: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(inputs)) {
    const path = join(inputsDir, name);
    if (looksLikeRef(value)) {
      const ref = parseArtifactRef(value);
      await copyArtifact(ref, path, store, signal);
      described[name] = { ...ref, path };
    } else {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if (text === undefined) {
        throw new MloeError('STEP_COMMAND_INVALID', `input ${name} is not a JSON value`, { retryable: false });
      }
      await writeFile(path, text, { flag: 'wx' });
      described[name] = value;
    }
  }
  return described;
}

/** Streams one artifact to a file, from the request's store or, for a URI outside it, from the store that owns it. */
async function copyArtifact(
  ref: ArtifactRef,
  path: string,
  store: ArtifactStore,
  signal: AbortSignal | undefined,
): Promise<void> {
  const own = ref.uri.startsWith(`${store.rootUri}/`);
  const source = own ? store : storeForUri(ref.uri);
  try {
    const stream = await source.get({ uri: ref.uri, digest: ref.digest, size: ref.size });
    await pipeline(stream, createWriteStream(path, { flags: 'wx' }), signal ? { signal } : {});
  } finally {
    if (!own) await source.close();
  }
}

/** Provenance recorded on everything a step stores. */
export interface StepProvenance {
  stepId: string;
  workflowId: string;
}

/** What `mloe step exec` lists under {@link BUILTIN_ARTIFACTS_KEY}: each artifact output's type and metadata. */
const builtinArtifactsSchema = z.record(
  z.string(),
  z.strictObject({ type: artifactTypeSchema, metadata: artifactMetadataSchema }),
);

/**
 * Stores each declared artifact output (`outputs/<name>`, a regular file, not a link) and returns the references
 * together with the declared scalar outputs read from `outputs.json`. With `builtin` (the outputs of `mloe step
 * exec`), see {@link collectBuiltinOutputs}.
 */
export async function collectOutputs(
  declared: Record<string, { type: string }>,
  outputsDir: string,
  store: ArtifactStore,
  provenance: StepProvenance,
  options: { builtin?: boolean } = {},
): Promise<Record<string, unknown>> {
  const collected: Record<string, unknown> = {};
  const values = await readJsonObject(join(outputsDir, 'outputs.json'), 'outputs.json');
  if (options.builtin === true) return collectBuiltinOutputs(declared, outputsDir, store, provenance, values);

  for (const [name, port] of Object.entries(declared)) {
    if (isArtifactType(port.type)) {
      collected[name] = await storeOutputFile(join(outputsDir, name), name, port.type, store, provenance);
      continue;
    }
    if (values === undefined || !(name in values)) {
      throw new MloeError(
        'STEP_OUTPUT_MISSING',
        `step ${provenance.stepId} did not write its ${port.type} output "${name}" (expected in $MLOE_OUTPUTS_DIR/outputs.json)`,
      );
    }
    collected[name] = checkScalar(values[name], port.type, name, provenance.stepId);
  }
  for (const name of Object.keys(values ?? {})) {
    if (!(name in declared) || isArtifactType(declared[name]?.type ?? '')) {
      throw new MloeError(
        'STEP_OUTPUT_INVALID',
        `step ${provenance.stepId} wrote "${name}" to outputs.json, which is not a declared ${
          name in declared ? 'scalar ' : ''
        }output`,
      );
    }
  }
  return collected;
}

/**
 * The outputs of a built-in step run by `mloe step exec`: the artifact outputs `outputs.json` lists under
 * {@link BUILTIN_ARTIFACTS_KEY} are stored with the type and metadata the step gave them (so the references equal
 * those the worker would store), every other key must be a declared scalar output, and declared outputs the step did
 * not produce are left out, as the worker leaves them out.
 */
async function collectBuiltinOutputs(
  declared: Record<string, { type: string }>,
  outputsDir: string,
  store: ArtifactStore,
  provenance: StepProvenance,
  values: Record<string, unknown> | undefined,
): Promise<Record<string, unknown>> {
  if (values === undefined) {
    throw new MloeError(
      'STEP_OUTPUT_MISSING',
      `step ${provenance.stepId} (mloe step exec) wrote no $MLOE_OUTPUTS_DIR/outputs.json`,
    );
  }
  const { [BUILTIN_ARTIFACTS_KEY]: listed, ...scalars } = values;
  const artifacts = builtinArtifactsSchema.safeParse(listed ?? {});
  if (!artifacts.success) {
    throw new MloeError(
      'STEP_OUTPUT_INVALID',
      `step ${provenance.stepId}: "${BUILTIN_ARTIFACTS_KEY}" in outputs.json: ${z.prettifyError(artifacts.error)}`,
    );
  }
  const collected: Record<string, unknown> = {};
  for (const [name, artifact] of Object.entries(artifacts.data)) {
    if (!isArtifactType(declared[name]?.type ?? '')) {
      throw new MloeError(
        'STEP_OUTPUT_INVALID',
        `step ${provenance.stepId} listed "${name}" as an artifact output in outputs.json, which it does not declare as one`,
      );
    }
    collected[name] = await storeOutputFile(
      join(outputsDir, name),
      name,
      artifact.type,
      store,
      provenance,
      artifact.metadata,
    );
  }
  for (const [name, value] of Object.entries(scalars)) {
    const port = declared[name];
    if (port === undefined || isArtifactType(port.type)) {
      throw new MloeError(
        'STEP_OUTPUT_INVALID',
        `step ${provenance.stepId} wrote "${name}" to outputs.json, which is not a declared ${
          port === undefined ? '' : 'scalar '
        }output`,
      );
    }
    collected[name] = checkScalar(value, port.type, name, provenance.stepId);
  }
  return collected;
}

/** Stores one output file; `STEP_OUTPUT_MISSING` when it is absent, `STEP_OUTPUT_INVALID` when not a regular file. */
async function storeOutputFile(
  path: string,
  name: string,
  type: ArtifactType,
  store: ArtifactStore,
  provenance: StepProvenance,
  metadata?: ArtifactMetadata,
): Promise<ArtifactRef> {
  let handle;
  try {
    // O_NOFOLLOW: a link could make the step export any file the worker can read.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new MloeError(
        'STEP_OUTPUT_MISSING',
        `step ${provenance.stepId} did not write its ${type} output "${name}" (expected the file $MLOE_OUTPUTS_DIR/${name})`,
        { cause: error },
      );
    }
    throw new MloeError('STEP_OUTPUT_INVALID', `output "${name}" of step ${provenance.stepId} is not a regular file`, {
      cause: error,
    });
  }
  try {
    if (!(await handle.stat()).isFile()) {
      throw new MloeError('STEP_OUTPUT_INVALID', `output "${name}" of step ${provenance.stepId} is not a regular file`);
    }
    return await store.put(handle.createReadStream({ autoClose: false }), {
      type,
      metadata: metadata ?? { stepId: provenance.stepId, workflowId: provenance.workflowId, output: name },
    });
  } finally {
    await handle.close();
  }
}

/** Checks a scalar output against its declared type. */
function checkScalar(value: unknown, type: string, name: string, stepId: string): unknown {
  const ok = (() => {
    switch (type) {
      case 'string':
        return typeof value === 'string';
      case 'number':
        return typeof value === 'number' && Number.isFinite(value);
      case 'integer':
        return typeof value === 'number' && Number.isSafeInteger(value);
      case 'boolean':
        return typeof value === 'boolean';
      case 'list':
        return Array.isArray(value);
      case 'object':
        return value !== null && typeof value === 'object' && !Array.isArray(value);
      default:
        // A type this runner does not know (e.g. a newer spec): passed through as the JSON it is.
        return value !== undefined;
    }
  })();
  if (!ok) {
    throw new MloeError(
      'STEP_OUTPUT_INVALID',
      `output "${name}" of step ${stepId} must be a ${type}, got ${JSON.stringify(value)?.slice(0, 200) ?? 'nothing'}`,
    );
  }
  return value;
}

/** `metrics.json` as a map of finite numbers; undefined when the process did not write one. */
export async function readMetrics(outputsDir: string, stepId: string): Promise<Record<string, number> | undefined> {
  const values = await readJsonObject(join(outputsDir, 'metrics.json'), 'metrics.json');
  if (values === undefined) return undefined;
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(values)) {
    if (key === '' || key.length > 256) {
      throw new MloeError('STEP_OUTPUT_INVALID', `metrics.json of step ${stepId} has an empty or over-long key`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new MloeError(
        'STEP_OUTPUT_INVALID',
        `metric "${key}" of step ${stepId} must be a finite number, got ${JSON.stringify(value)?.slice(0, 200)}`,
      );
    }
    metrics[key] = value;
  }
  return metrics;
}

/** A JSON object file of at most {@link MAX_JSON_FILE_BYTES}; undefined when absent. */
async function readJsonObject(path: string, what: string): Promise<Record<string, unknown> | undefined> {
  try {
    const stats = await lstat(path);
    if (!stats.isFile()) throw new MloeError('STEP_OUTPUT_INVALID', `${what} is not a regular file`);
    if (stats.size > MAX_JSON_FILE_BYTES) {
      throw new MloeError(
        'STEP_OUTPUT_INVALID',
        `${what} is ${stats.size} bytes, more than ${MAX_JSON_FILE_BYTES}: write large results as artifact outputs`,
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW }));
  } catch (error) {
    throw new MloeError('STEP_OUTPUT_INVALID', `${what} is not valid JSON`, { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MloeError('STEP_OUTPUT_INVALID', `${what} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Stores a log file as an artifact. */
export function storeLog(
  path: string,
  stream: 'stdout' | 'stderr',
  store: ArtifactStore,
  provenance: StepProvenance,
): Promise<ArtifactRef> {
  return store.put(createReadStream(path), {
    type: 'file',
    metadata: { stepId: provenance.stepId, workflowId: provenance.workflowId, log: stream },
  });
}
