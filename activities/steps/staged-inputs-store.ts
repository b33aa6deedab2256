/**
 * The artifact store a built-in step sees inside a container (`mloe step exec`): its staged input files, served under
 * the references the worker gave it (the same URI, digest, type and metadata, so a step that records an input's URI
 * writes the same bytes as on the worker), and a local file store for everything it writes. The worker stores the
 * outputs in the run's store afterwards (the command-step contract), so nothing here outlives the step.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';

import { MloeError } from '../../core/errors';
import type {
  ArtifactBody,
  ArtifactEntry,
  ArtifactLocator,
  ArtifactRef,
  ArtifactStatus,
  ArtifactStore,
  ListOptions,
  PutOptions,
  PutRecordOptions,
} from '../artifacts';
import type { RecordCollection } from '../artifacts/keys';

/** An input as the step knows it and where its bytes are now. */
interface StagedInput {
  original: ArtifactRef;
  local: ArtifactRef;
}

/** Staged inputs by their original URI, over a local store (see the module doc). */
export class StagedInputStore implements ArtifactStore {
  readonly rootUri: string;
  private readonly inputs = new Map<string, StagedInput>();

  /** `local` keeps the staged inputs' bytes and whatever the step writes; `close` closes it. */
  constructor(private readonly local: ArtifactStore) {
    this.rootUri = local.rootUri;
  }

  /**
   * Adds the staged file of input `name` under its reference: `ARTIFACT_NOT_FOUND` when the file is not there,
   * `ARTIFACT_CORRUPT` when its bytes do not hash to the reference's digest (or have another size).
   */
  async stage(name: string, ref: ArtifactRef, path: string): Promise<void> {
    const isFile = await stat(path).then(
      (stats) => stats.isFile(),
      () => false,
    );
    if (!isFile) {
      throw new MloeError(
        'ARTIFACT_NOT_FOUND',
        `input ${name}: the staged file ${path} is missing (inputs.json names it; the stage-in step did not write it)`,
      );
    }
    const local = await this.local.put(createReadStream(path), { type: ref.type, metadata: ref.metadata });
    if (local.digest !== ref.digest || local.size !== ref.size) {
      throw new MloeError(
        'ARTIFACT_CORRUPT',
        `input ${name}: the staged file ${path} is ${local.digest} (${local.size} bytes), expected ${ref.digest} (${ref.size} bytes)`,
      );
    }
    this.inputs.set(ref.uri, { original: ref, local });
  }

  private staged(locator: ArtifactLocator): StagedInput | undefined {
    return this.inputs.get(typeof locator === 'string' ? locator : locator.uri);
  }

  /** The locator in the local store: a staged input's local copy, anything else as given. */
  private localLocator(locator: ArtifactLocator): ArtifactLocator {
    const input = this.staged(locator);
    if (input === undefined) return locator;
    if (typeof locator !== 'string' && (locator.digest ?? input.original.digest) !== input.original.digest) {
      throw new MloeError('PATH_INVALID', `artifact reference digest ${locator.digest} does not match ${locator.uri}`);
    }
    return { uri: input.local.uri, digest: input.local.digest, size: input.local.size };
  }

  put(body: ArtifactBody, options?: PutOptions): Promise<ArtifactRef> {
    return this.local.put(body, options);
  }

  get(locator: ArtifactLocator): Promise<Readable> {
    return this.local.get(this.localLocator(locator));
  }

  async head(locator: ArtifactLocator): Promise<ArtifactRef> {
    const input = this.staged(locator);
    if (input === undefined) return this.local.head(locator);
    await this.local.head(this.localLocator(locator));
    return input.original;
  }

  exists(locator: ArtifactLocator): Promise<boolean> {
    return this.local.exists(this.localLocator(locator));
  }

  verify(locator: ArtifactLocator): Promise<ArtifactStatus> {
    return this.local.verify(this.localLocator(locator));
  }

  list(options?: ListOptions): AsyncIterable<ArtifactEntry> {
    return this.local.list(options);
  }

  putRecord(collection: RecordCollection, name: string, value: unknown, options?: PutRecordOptions): Promise<void> {
    return this.local.putRecord(collection, name, value, options);
  }

  getRecord(collection: RecordCollection, name: string): Promise<unknown> {
    return this.local.getRecord(collection, name);
  }

  listRecords(collection: RecordCollection): AsyncIterable<string> {
    return this.local.listRecords(collection);
  }

  close(): Promise<void> {
    return this.local.close();
  }
}
