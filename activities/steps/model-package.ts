/**
 * An MLflow model directory in mloe's artifact store, for a model version's `source`: `MLmodel` (MLflow's model
 * format: flavor, signature of inputs and outputs, the artifact's digest) beside a copy of the model artifact, under
 * `<store root>/models/sha256/<hex>/`, where `<hex>` is the sha256 of the `MLmodel` file. The directory is therefore
 * content-addressed like the blobs beside it: the same model with the same description always lands in the same
 * place, and writing it again changes nothing.
 *
 * A file store writes the directory under a temporary name and renames it into place (readers never see half of
 * it); an S3 store writes the model file first and `MLmodel` last, so a package with an `MLmodel` is complete.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';

import { MloeError, ensureError } from '../../core/errors';
import packageJson from '../../package.json';
import {
  FileArtifactStore,
  S3ArtifactStore,
  digestHex,
  sha256Hex,
  type ArtifactRef,
  type ArtifactStore,
} from '../artifacts';

/** MLflow's name of the model description file. */
export const MLMODEL_FILE_NAME = 'MLmodel';

/** One column of a signature, as MLflow's `ColSpec` writes it. */
export interface ColumnSpec {
  name: string;
  /** `double`, `float`, `long`, `integer`, `boolean`, `string`, `binary` or `datetime`. */
  type: string;
  required?: boolean;
}

/** What the `MLmodel` file says besides the model itself. */
export interface ModelDescription {
  /** The flavor's name (`mloe` unless given): MLflow tools list it; loading needs a loader that knows it. */
  flavor: string;
  /** The model file's name inside the directory. */
  fileName: string;
  signature?: { inputs: readonly ColumnSpec[]; outputs: readonly ColumnSpec[] };
}

/** A written model directory. */
export interface ModelPackage {
  /** `file:///…/models/sha256/<hex>` or `s3://bucket/prefix/models/sha256/<hex>`. */
  uri: string;
  /** The `MLmodel` file's text. */
  mlmodel: string;
  /** sha256 of the `MLmodel` file: the directory's name. */
  digest: string;
  /** The files in it (`MLmodel` and the model), with their local paths when the store is a file store. */
  files: { name: string; path?: string }[];
}

/** The column types MLflow's `DataType` has. */
export const COLUMN_TYPES = ['double', 'float', 'long', 'integer', 'boolean', 'string', 'binary', 'datetime'];

/**
 * The `MLmodel` text of a model artifact: deterministic (no clock, no random id: `model_uuid` comes from the digest,
 * `utc_time_created` from when the store first recorded the artifact), so that it content-addresses the directory.
 */
export function mlmodelText(model: ArtifactRef, description: ModelDescription): string {
  const hex = digestHex(model.digest);
  const created = new Date(model.createdAt).toISOString().replace('T', ' ').replace('Z', '000');
  const columns = (specs: readonly ColumnSpec[]): string =>
    JSON.stringify(specs.map((spec) => ({ type: spec.type, name: spec.name, required: spec.required ?? true })));
  const document = {
    artifact_path: 'model',
    flavors: {
      [description.flavor]: {
        data: description.fileName,
        digest: model.digest,
        ...(typeof model.metadata.kind === 'string' ? { kind: model.metadata.kind } : {}),
        mloe_version: packageJson.version,
      },
    },
    metadata: { mloe_artifact_digest: model.digest, mloe_artifact_size: model.size },
    model_size_bytes: model.size,
    model_uuid: hex.slice(0, 32),
    ...(description.signature === undefined
      ? {}
      : {
          signature: {
            inputs: columns(description.signature.inputs),
            outputs: columns(description.signature.outputs),
            params: null,
          },
        }),
    utc_time_created: created,
  };
  return stringify(document, { lineWidth: 0 });
}

/** Writes (or finds) the model directory of `model` in `store`; returns where it is. */
export async function writeModelPackage(
  store: ArtifactStore,
  model: ArtifactRef,
  description: ModelDescription,
): Promise<ModelPackage> {
  const mlmodel = mlmodelText(model, description);
  const digest = sha256Hex(mlmodel);
  if (store instanceof FileArtifactStore) {
    const directory = join(store.root, 'models', 'sha256', digest);
    await writeFileDirectory(store, directory, model, description.fileName, mlmodel);
    return {
      uri: pathToFileURL(directory).href,
      mlmodel,
      digest: `sha256:${digest}`,
      files: [MLMODEL_FILE_NAME, description.fileName].map((name) => ({ name, path: join(directory, name) })),
    };
  }
  if (store instanceof S3ArtifactStore) {
    const prefix = `${store.prefix}/models/sha256/${digest}`;
    await writeS3Directory(store, prefix, model, description.fileName, mlmodel);
    return {
      uri: `s3://${store.bucket}/${prefix}`,
      mlmodel,
      digest: `sha256:${digest}`,
      files: [{ name: MLMODEL_FILE_NAME }, { name: description.fileName }],
    };
  }
  throw new MloeError(
    'CONFIG_INVALID',
    `a model package needs a file:// or s3:// artifact store, not ${store.rootUri}`,
  );
}

async function writeFileDirectory(
  store: ArtifactStore,
  directory: string,
  model: ArtifactRef,
  fileName: string,
  mlmodel: string,
): Promise<void> {
  if (
    await readFile(join(directory, MLMODEL_FILE_NAME), 'utf8').then(
      (text) => text === mlmodel,
      () => false,
    )
  )
    return;
  const staging = `${directory}.${randomUUID()}.tmp`;
  try {
    await mkdir(staging, { recursive: true });
    await pipeline(await store.get(model), createWriteStream(join(staging, fileName), { flags: 'wx' }));
    await writeFile(join(staging, MLMODEL_FILE_NAME), mlmodel, { flag: 'wx' });
    await rm(directory, { recursive: true, force: true }); // a damaged earlier package (its MLmodel differed)
    await rename(staging, directory).catch((error: NodeJS.ErrnoException) => {
      // Another writer got there first with the same content.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } catch (error) {
    if (error instanceof MloeError) throw error;
    throw new MloeError(
      'ARTIFACT_STORE_FAILED',
      `could not write the model package ${directory}: ${ensureError(error).message}`,
      {
        retryable: true,
        cause: error,
      },
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function writeS3Directory(
  store: S3ArtifactStore,
  prefix: string,
  model: ArtifactRef,
  fileName: string,
  mlmodel: string,
): Promise<void> {
  const mlmodelKey = `${prefix}/${MLMODEL_FILE_NAME}`;
  const exists = await store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: mlmodelKey })).then(
    () => true,
    () => false,
  );
  if (exists) return;
  try {
    await store.client.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: `${prefix}/${fileName}`,
        Body: await store.get(model),
        ContentLength: model.size,
      }),
    );
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: mlmodelKey, Body: mlmodel }));
  } catch (error) {
    if (error instanceof MloeError) throw error;
    throw new MloeError('ARTIFACT_STORE_FAILED', `could not write the model package s3://${store.bucket}/${prefix}`, {
      retryable: true,
      cause: error,
    });
  }
}
