/**
 * Loading a registered model: a `models:/<name>@<alias>` or `models:/<name>/<version>` URI resolved through the MLflow
 * client, its MLflow model directory read (`MLmodel`, then the data file its `mloe` flavor names, checked against the
 * flavor's digest) and the model document parsed and compiled. The directory may be behind the tracking server's
 * artifact proxy (`mlflow-artifacts:/`, `runs:/`, http(s)), in S3 (`s3://`) or on this machine (`file://`).
 * Shared by `evaluate@2` (the champion) and `mloe serve`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import { parse } from 'yaml';
import { z } from 'zod';

import { MloeError, ensureError } from '../../../core/errors';
import { S3ArtifactStore, parseS3StoreConfig, parseS3Uri } from '../../artifacts';
import { isMlflowError, type MlflowClient, type ModelVersion } from '../../mlflow';
import { compileModel, parseModelDocument, type CompiledModel } from './model';

/** A column of an MLflow signature. */
export interface SignatureColumn {
  name: string;
  type: string;
  required: boolean;
}

/** A registered model loaded for prediction. */
export interface LoadedModel {
  /** The registered model's name and the version loaded. */
  name: string;
  version: string;
  /** The URI it was loaded by (`models:/…`). */
  uri: string;
  /** The version's `source`. */
  source: string;
  /** sha256 of the model document. */
  digest: string;
  /** The `MLmodel` signature's inputs, when it has one. */
  signature?: SignatureColumn[];
  model: CompiledModel;
}

const mlmodelSchema = z.object({
  flavors: z.record(z.string(), z.object({ data: z.string().optional(), digest: z.string().optional() }).loose()),
  signature: z.object({ inputs: z.string().optional() }).loose().nullish(),
});

const signatureSchema = z.array(
  z.object({ name: z.string(), type: z.string(), required: z.boolean().optional() }).loose(),
);

/**
 * Resolves `uri` (a `models:/` URI) to a version, or `undefined` when the registered model, the alias or the version
 * does not exist (MLflow's `RESOURCE_DOES_NOT_EXIST`, and `INVALID_PARAMETER_VALUE` for a missing alias).
 */
export async function resolveVersion(
  client: MlflowClient,
  uri: string,
): Promise<{ version: ModelVersion; artifactUri: string } | undefined> {
  try {
    const resolved = await client.uris.resolveModel(uri);
    return { version: resolved.modelVersion, artifactUri: resolved.artifactUri };
  } catch (error) {
    if (isMlflowError(error, 'RESOURCE_DOES_NOT_EXIST') || isMlflowError(error, 'INVALID_PARAMETER_VALUE')) {
      return undefined;
    }
    throw error;
  }
}

/** Reads one file of a model directory, wherever the directory is. */
async function readModelFile(client: MlflowClient, directory: string, file: string): Promise<Buffer> {
  const base = directory.replace(/\/+$/, '');
  if (base.startsWith('file:')) return readFile(join(fileURLToPath(base), file));
  if (base.startsWith('s3:')) {
    const { bucket, key } = parseS3Uri(`${base}/${file}`);
    const store = new S3ArtifactStore({ bucket, prefix: 'mloe', config: parseS3StoreConfig({}) });
    try {
      const answer = await store.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (answer.Body === undefined) throw new MloeError('ARTIFACT_NOT_FOUND', `${base}/${file} is empty`);
      return Buffer.from(await answer.Body.transformToByteArray());
    } finally {
      await store.close();
    }
  }
  return Buffer.from(await client.artifacts.downloadBytes({ uri: base, path: file }));
}

/** Loads the model version `version` (its files under `artifactUri`) as a {@link LoadedModel}. */
export async function loadModelVersion(
  client: MlflowClient,
  uri: string,
  version: ModelVersion,
  artifactUri: string,
): Promise<LoadedModel> {
  const where = `model ${version.name} version ${version.version} (${version.source})`;
  let mlmodel: z.infer<typeof mlmodelSchema>;
  try {
    mlmodel = mlmodelSchema.parse(parse((await readModelFile(client, artifactUri, 'MLmodel')).toString('utf8')));
  } catch (error) {
    throw new MloeError('ARTIFACT_NOT_FOUND', `${where}: no readable MLmodel file: ${ensureError(error).message}`, {
      cause: error,
    });
  }
  const flavor = mlmodel.flavors.mloe;
  if (flavor?.data === undefined) {
    throw new MloeError(
      'CONFIG_INVALID',
      `${where}: its MLmodel has no mloe flavor (flavors: ${Object.keys(mlmodel.flavors).join(', ')}); mloe serves models trained by train@2`,
    );
  }
  const bytes = await readModelFile(client, artifactUri, flavor.data);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (flavor.digest !== undefined && flavor.digest !== digest) {
    throw new MloeError(
      'ARTIFACT_CORRUPT',
      `${where}: ${flavor.data} hashes to ${digest}, its MLmodel says ${flavor.digest}`,
    );
  }
  let model: CompiledModel;
  try {
    model = compileModel(parseModelDocument(JSON.parse(bytes.toString('utf8'))));
  } catch (error) {
    throw new MloeError(
      'CONFIG_INVALID',
      `${where}: ${flavor.data} is not an mloe.model document (train@2 writes them): ${ensureError(error).message.slice(0, 300)}`,
      { cause: error },
    );
  }
  const inputs = mlmodel.signature?.inputs;
  const signature =
    inputs === undefined
      ? undefined
      : signatureSchema
          .parse(JSON.parse(inputs))
          .map((column) => ({ name: column.name, type: column.type, required: column.required ?? true }));
  return {
    name: version.name,
    version: version.version,
    uri,
    source: version.source,
    digest,
    ...(signature === undefined ? {} : { signature }),
    model,
  };
}

/** Resolves and loads `uri`; `undefined` when nothing is registered under it. */
export async function loadRegisteredModel(client: MlflowClient, uri: string): Promise<LoadedModel | undefined> {
  const resolved = await resolveVersion(client, uri);
  if (resolved === undefined) return undefined;
  return loadModelVersion(client, uri, resolved.version, resolved.artifactUri);
}
