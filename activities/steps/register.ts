/**
 * `register@1`: puts a model artifact in the MLflow model registry of the worker's tracking server.
 *
 * 1. The model directory (`MLmodel` and the model file, `model-package.ts`) is written to the artifact store,
 *    content-addressed: a retry finds it.
 * 2. The registered model is created unless it exists.
 * 3. The version is looked up by its `mloe.execution` tag (`<workflowId>/<stepId>[/<index>]`: this step execution);
 *    only when there is none is it created, with its source (the model directory), its run (the pipeline's MLflow
 *    run) and every tag in the one `create` call, so no version ever exists without its tags. A create whose answer
 *    was lost and that the client resent can leave two versions with the tag; the higher is deleted (no alias points
 *    at it yet).
 * 4. The alias, if any, is set: setting it again to the same version changes nothing.
 *
 * A retry after any failure therefore completes the same version instead of making another. The step is never served
 * from the cache (`cacheable: false`): a cached result could name a version of a registry that no longer has it.
 */
import { z } from 'zod';

import type { JsonValue } from '../../core/spec';
import { MloeError } from '../../core/errors';
import { parseArtifactRef } from '../artifacts';
import { isMlflowError, type MlflowClient, type ModelVersion } from '../mlflow';
import {
  MLOE_TAGS,
  executionKey,
  keyProblem,
  modelVersionLink,
  quoted,
  tagEquals,
  type MlflowTracker,
} from '../tracking';
import { COLUMN_TYPES, writeModelPackage, type ColumnSpec, type ModelPackage } from './model-package';
import type { StepContext, StepOutput } from './registry';

/** MLflow's limit on a registry tag's value. */
const MAX_TAG_VALUE = 5000;

const columnSchema = z.union([
  z
    .string()
    .min(1)
    .transform((name) => ({ name, type: 'double' })),
  z.strictObject({
    name: z.string().min(1),
    type: z.enum(COLUMN_TYPES as [string, ...string[]]),
    required: z.boolean().optional(),
  }),
]);

const inputsSchema = z.object({
  model: z.unknown(),
  name: z.string().min(1, 'must not be empty'),
  alias: z.string().min(1).optional(),
  description: z.string().optional(),
  flavor: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a flavor is a name: letters, digits, _ . -')
    .default('mloe'),
  fileName: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a file name without directories')
    .refine((name) => name !== 'MLmodel', 'MLmodel is the description file')
    .default('model'),
  signatureInputs: z.array(columnSchema).optional(),
  signatureOutputs: z.array(columnSchema).optional(),
  tags: z.record(z.string(), z.string()).optional(),
});

type RegisterInputs = z.output<typeof inputsSchema>;

/** The step's inputs, checked: `CONFIG_INVALID` naming the input for a bad one. */
function parseInputs(inputs: Readonly<Record<string, JsonValue>>): RegisterInputs {
  const parsed = inputsSchema.safeParse(inputs);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `input ${issue.path.join('.')}: ${issue.message}`);
    throw new MloeError('CONFIG_INVALID', `register@1: ${problems.join('; ')}`, { cause: parsed.error });
  }
  const { signatureInputs, signatureOutputs } = parsed.data;
  if ((signatureInputs === undefined) !== (signatureOutputs === undefined)) {
    throw new MloeError('CONFIG_INVALID', 'register@1: give both signatureInputs and signatureOutputs, or neither');
  }
  for (const [key, value] of Object.entries(parsed.data.tags ?? {})) {
    const problem =
      keyProblem(key) ?? (value.length > MAX_TAG_VALUE ? `a value of ${value.length} characters` : undefined);
    if (problem !== undefined) {
      throw new MloeError('CONFIG_INVALID', `register@1: tag ${JSON.stringify(key)}: ${problem}`);
    }
  }
  return parsed.data;
}

/** Registers the step's model (see the module doc); returns its version, URI, source and link. */
export async function registerModel(
  inputs: Readonly<Record<string, JsonValue>>,
  context: StepContext,
): Promise<StepOutput> {
  const tracker = context.tracking;
  if (tracker === undefined) {
    throw new MloeError(
      'TRACKING_NOT_CONFIGURED',
      `step ${context.stepId} (register@1) needs an MLflow model registry, and this worker tracks nothing: start it with MLFLOW_TRACKING_URI set (mloe dev and mloe run start an embedded one)`,
    );
  }
  const values = parseInputs(inputs);
  const model = parseArtifactRef(values.model);
  const signature =
    values.signatureInputs === undefined || values.signatureOutputs === undefined
      ? undefined
      : { inputs: values.signatureInputs as ColumnSpec[], outputs: values.signatureOutputs as ColumnSpec[] };
  const modelPackage = await writeModelPackage(context.store, model, {
    flavor: values.flavor,
    fileName: values.fileName,
    ...(signature === undefined ? {} : { signature }),
  });
  const execution = executionKey(context.workflowId, context.stepId, context.index);
  try {
    const client = tracker.client.withSignal(context.signal);
    const parent =
      context.pipeline === undefined ? undefined : await tracker.findPipelineRun(context.workflowId, context.pipeline);
    if (parent === undefined) {
      tracker.warn(
        `step ${context.stepId}: registering ${values.name} without a run (the pipeline run is not tracked)`,
      );
    }
    await ensureRegisteredModel(client, values.name);
    let version = await findVersion(client, values.name, execution);
    if (version === undefined) {
      const source = await versionSource(client, modelPackage, parent?.runId);
      await client.modelVersions.create({
        name: values.name,
        source,
        ...(parent === undefined ? {} : { runId: parent.runId }),
        ...(values.description === undefined ? {} : { description: values.description }),
        tags: {
          ...values.tags,
          [MLOE_TAGS.execution]: execution,
          [MLOE_TAGS.workflowId]: context.workflowId,
          [MLOE_TAGS.stepId]: context.stepId,
          ...(context.pipeline === undefined ? {} : { [MLOE_TAGS.pipeline]: context.pipeline }),
          [MLOE_TAGS.artifactDigest]: model.digest,
          [MLOE_TAGS.artifactUri]: model.uri,
          [MLOE_TAGS.modelPackage]: modelPackage.uri,
        },
      });
      version = await keepOneVersion(client, values.name, execution);
    }
    if (values.alias !== undefined) await client.registeredModels.setAlias(values.name, values.alias, version.version);
    return {
      outputs: {
        version: version.version,
        modelUri: `models:/${values.name}/${version.version}`,
        source: version.source,
        url: modelVersionLink(tracker.serverUrl, tracker.config.links, values.name, version.version),
      },
    };
  } catch (error) {
    throw registryFailure(tracker, error, `step ${context.stepId}: registering model ${JSON.stringify(values.name)}`);
  }
}

/** A failure of the registry: the tracker's (naming the server), but a refused request is not retried. */
function registryFailure(tracker: MlflowTracker, error: unknown, what: string): MloeError {
  if (error instanceof MloeError && error.code !== 'MLFLOW_REQUEST_FAILED') return error;
  return tracker.failure(error, what);
}

/**
 * Where the version's `source` points. An `s3://` package is the source itself. MLflow refuses `file://` sources
 * outside a run's local artifact directory, so a file store's package is uploaded (`MLmodel` and the model file,
 * content-addressed paths: an upload repeated by a retry writes the same bytes) to the pipeline run's artifacts under
 * `models/sha256/<hex>`, through the server's artifact proxy, and that location is the source.
 */
async function versionSource(
  client: MlflowClient,
  modelPackage: ModelPackage,
  runId: string | undefined,
): Promise<string> {
  if (!modelPackage.uri.startsWith('file:')) return modelPackage.uri;
  if (runId === undefined) {
    throw new MloeError(
      'TRACKING_NOT_CONFIGURED',
      `a model in a file:// artifact store is registered through its pipeline run's MLflow artifacts, and this run has no MLflow run (its start was not tracked); use an s3:// store or track the run from its start`,
    );
  }
  const path = `models/sha256/${modelPackage.digest.replace(/^sha256:/, '')}`;
  for (const file of modelPackage.files) {
    if (file.path !== undefined) await client.artifacts.uploadFile({ runId, path: `${path}/${file.name}` }, file.path);
  }
  const run = await client.runs.get(runId);
  return `${run.info.artifactUri.replace(/\/+$/, '')}/${path}`;
}

/** Creates the registered model unless it exists (a concurrent creation is fine). */
async function ensureRegisteredModel(client: MlflowClient, name: string): Promise<void> {
  try {
    await client.registeredModels.create({ name });
  } catch (error) {
    if (!isMlflowError(error, 'RESOURCE_ALREADY_EXISTS')) throw error;
  }
}

/** The versions of `name` this execution registered, oldest first. */
async function versionsOf(client: MlflowClient, name: string, execution: string): Promise<ModelVersion[]> {
  const page = await client.modelVersions.search({
    filter: `name = ${quoted(name)} and ${tagEquals(MLOE_TAGS.execution, execution)}`,
    maxResults: 10,
  });
  return page.items.sort((a, b) => Number(a.version) - Number(b.version));
}

/** The version this execution registered, if an earlier attempt did. */
async function findVersion(client: MlflowClient, name: string, execution: string): Promise<ModelVersion | undefined> {
  return (await versionsOf(client, name, execution))[0];
}

/** The oldest version this execution registered; any later duplicate (a resent create) is deleted. */
async function keepOneVersion(client: MlflowClient, name: string, execution: string): Promise<ModelVersion> {
  const [kept, ...duplicates] = await versionsOf(client, name, execution);
  if (kept === undefined) {
    throw new MloeError('MLFLOW_REQUEST_FAILED', `model ${name}: the version just created is not found`, {
      retryable: true,
    });
  }
  for (const duplicate of duplicates) await client.modelVersions.delete(name, duplicate.version);
  return kept;
}
