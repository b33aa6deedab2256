/**
 * The {@link ArtifactStore} contract every store implements (`file://` and `s3://` today), and the helpers built on
 * it: buffered reads for small artifacts, JSON in and out with a schema, and the record logic the stores share.
 */
import type { Readable } from 'node:stream';

import { z } from 'zod';

import { MloeError } from '../../core/errors';
import {
  artifactMetadataSchema,
  artifactRecordSchema,
  artifactTypeSchema,
  digestHex,
  formatDigest,
  sameMetadata,
  type ArtifactMetadata,
  type ArtifactRecord,
  type ArtifactRef,
  type ArtifactType,
} from './ref';
import type { RecordCollection } from './keys';
import { drain, readAll, type ArtifactBody } from './streams';

/** What `put` records about the bytes besides their digest. */
export interface PutOptions {
  /** Defaults to `file`. */
  type?: ArtifactType;
  /** Defaults to `{}`. */
  metadata?: ArtifactMetadata;
}

/**
 * How a caller names an artifact to read: its URI alone (the URI carries the digest), or a reference, whose digest
 * and size must then agree with the URI and the stored bytes.
 */
export type ArtifactLocator = string | { uri: string; digest?: string; size?: number };

/** Options of {@link ArtifactStore.putRecord}. */
export interface PutRecordOptions {
  /**
   * Flush the record to disk before resolving (the default). `false` for advisory records whose loss in a crash
   * costs nothing but a less precise explanation (a file store then skips the fsync; S3 writes are always durable).
   */
  sync?: boolean;
}

/** One artifact as a listing returns it; {@link ArtifactStore.head} gives the full reference. */
export interface ArtifactEntry {
  uri: string;
  digest: string;
  size: number;
}

/** Options of {@link ArtifactStore.list}. */
export interface ListOptions {
  /** Only artifacts whose digest starts with this: `sha256:` (optional) and up to 64 hex digits. Default: all. */
  prefix?: string;
  /**
   * How many keys to ask the backend for per request (S3 `MaxKeys`): an integer from 1 to 1000, default 1000,
   * anything else `CONFIG_INVALID` in every store. Results are the same whatever it is.
   */
  pageSize?: number;
}

/** The page size of a listing, checked the same way by every store (see {@link ListOptions.pageSize}). */
export function checkPageSize(pageSize: number | undefined): number {
  const size = pageSize ?? 1000;
  if (!Number.isInteger(size) || size < 1 || size > 1000) {
    throw new MloeError('CONFIG_INVALID', `list page size must be an integer from 1 to 1000, got ${size}`);
  }
  return size;
}

/** The outcome of {@link ArtifactStore.verify}. */
export type ArtifactStatus = 'intact' | 'missing' | 'corrupt';

/**
 * A content-addressed artifact store. Bytes are stored under their sha256, so `put` is idempotent and a reference
 * is verifiable; next to each blob the store keeps a record of its type, metadata and creation time.
 *
 * The record belongs to the content: putting the same bytes again with the same type and metadata returns the same
 * reference (creation time included), with a different type or metadata it replaces the record.
 */
export interface ArtifactStore {
  /** Where the store keeps its artifacts, as a URI (`file:///…/.mloe/artifacts`, `s3://bucket/artifacts`). */
  readonly rootUri: string;

  /**
   * Stores bytes from a buffer, a string or a stream (hashed while it is written, never held in memory whole) and
   * returns their reference. Readers never see a partial artifact.
   */
  put(body: ArtifactBody, options?: PutOptions): Promise<ArtifactRef>;

  /**
   * Opens an artifact for reading. Rejects with `ARTIFACT_NOT_FOUND`, `PATH_INVALID` (a URI outside this store or
   * inconsistent with the reference) or `ARTIFACT_CORRUPT` when the size is known to be wrong; the stream itself
   * fails with `ARTIFACT_CORRUPT` at its end when the bytes do not hash to the digest.
   */
  get(locator: ArtifactLocator): Promise<Readable>;

  /** The stored reference of an artifact (without reading its bytes); `ARTIFACT_NOT_FOUND` when it is absent. */
  head(locator: ArtifactLocator): Promise<ArtifactRef>;

  /** Whether the blob is present (its bytes are not checked; see {@link ArtifactStore.verify}). */
  exists(locator: ArtifactLocator): Promise<boolean>;

  /** Reads the whole artifact and says whether it is intact, missing or corrupt. */
  verify(locator: ArtifactLocator): Promise<ArtifactStatus>;

  /** Every artifact whose digest starts with a prefix, in digest order. */
  list(options?: ListOptions): AsyncIterable<ArtifactEntry>;

  /**
   * Writes a JSON record (run metadata, cache entries) under `records/<collection>/<name>.json`, replacing any
   * previous one atomically. Records are small, mutable bookkeeping beside the immutable artifacts. A value JSON
   * cannot represent (`undefined`, a function, a BigInt, a cycle) is `DATA_INVALID` and nothing is written.
   */
  putRecord(collection: RecordCollection, name: string, value: unknown, options?: PutRecordOptions): Promise<void>;

  /** Reads a record back; `undefined` when there is none. `ARTIFACT_CORRUPT` when it is not JSON. */
  getRecord(collection: RecordCollection, name: string): Promise<unknown>;

  /** The names of a collection's records, in name order (not the order of their `<name>.json` keys). */
  listRecords(collection: RecordCollection): AsyncIterable<string>;

  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** The parsed parts of a locator, once a store has resolved its URI. */
export interface ResolvedLocator {
  uri: string;
  hex: string;
  /** The size the caller expects, when it gave one. */
  size: number | undefined;
}

/**
 * Checks that a locator's digest and size (when given) agree with the hex digest its URI names.
 * A reference whose digest differs from its URI was tampered with or mixed up: `PATH_INVALID`.
 */
export function resolveLocator(locator: ArtifactLocator, uriHex: string): ResolvedLocator {
  if (typeof locator === 'string') return { uri: locator, hex: uriHex, size: undefined };
  if (locator.digest !== undefined && digestHex(locator.digest) !== uriHex) {
    throw new MloeError(
      'PATH_INVALID',
      `artifact reference digest ${locator.digest} does not match its URI ${locator.uri}`,
    );
  }
  if (locator.size !== undefined && !(Number.isSafeInteger(locator.size) && locator.size >= 0)) {
    throw new MloeError('PATH_INVALID', `artifact size must be a non-negative integer, got ${String(locator.size)}`);
  }
  return { uri: locator.uri, hex: uriHex, size: locator.size };
}

/** The URI part of a locator. */
export function locatorUri(locator: ArtifactLocator): string {
  return typeof locator === 'string' ? locator : locator.uri;
}

/** Validated type and metadata of a put, with defaults applied. */
export function checkPutOptions(options: PutOptions): { type: ArtifactType; metadata: ArtifactMetadata } {
  const type = artifactTypeSchema.safeParse(options.type ?? 'file');
  const metadata = artifactMetadataSchema.safeParse(options.metadata ?? {});
  if (!type.success || !metadata.success) {
    const error = type.error ?? metadata.error;
    throw new MloeError('DATA_INVALID', `invalid artifact type or metadata: ${error ? z.prettifyError(error) : ''}`, {
      cause: error,
    });
  }
  return { type: type.data, metadata: metadata.data };
}

/**
 * The record to keep after storing `hex`: the existing one when it already describes the same bytes with the same
 * type and metadata (so a repeated put returns an identical reference), else a new one stamped `now`.
 * `changed` says whether it has to be written.
 */
export function nextRecord(
  existing: ArtifactRecord | undefined,
  hex: string,
  size: number,
  options: { type: ArtifactType; metadata: ArtifactMetadata },
  now: Date,
): { record: ArtifactRecord; changed: boolean } {
  const digest = formatDigest(hex);
  if (
    existing !== undefined &&
    existing.digest === digest &&
    existing.size === size &&
    existing.type === options.type &&
    sameMetadata(existing.metadata, options.metadata)
  ) {
    return { record: existing, changed: false };
  }
  return {
    record: { version: 1, digest, size, type: options.type, metadata: options.metadata, createdAt: now.toISOString() },
    changed: true,
  };
}

/** Serialises a record for storage. */
export function serializeRecord(record: ArtifactRecord): Buffer {
  return Buffer.from(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
}

/**
 * Parses a stored record; a record that is not valid JSON of the right shape, or describes other bytes, means the
 * store was tampered with: `ARTIFACT_CORRUPT`.
 */
export function parseRecord(bytes: Buffer, uri: string, hex: string): ArtifactRecord {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new MloeError('ARTIFACT_CORRUPT', `the record of artifact ${uri} is not JSON`, { cause: error });
  }
  const parsed = artifactRecordSchema.safeParse(value);
  if (!parsed.success) {
    throw new MloeError('ARTIFACT_CORRUPT', `the record of artifact ${uri} is invalid: ${parsed.error.message}`, {
      cause: parsed.error,
    });
  }
  if (parsed.data.digest !== formatDigest(hex)) {
    throw new MloeError('ARTIFACT_CORRUPT', `the record of artifact ${uri} describes ${parsed.data.digest}`);
  }
  return parsed.data;
}

/**
 * For `put`, which rewrites the record anyway: a record that is corrupt or not a regular file counts as absent.
 * Use as `.catch(unusableRecord)`; other errors are rethrown.
 */
export function unusableRecord(error: unknown): undefined {
  if (error instanceof MloeError && (error.code === 'ARTIFACT_CORRUPT' || error.code === 'PATH_INVALID')) {
    return undefined;
  }
  throw error;
}

/** A reference from a record and the URI the store serves it at. */
export function refFromRecord(uri: string, record: ArtifactRecord): ArtifactRef {
  return {
    uri,
    digest: record.digest,
    size: record.size,
    type: record.type,
    metadata: record.metadata,
    createdAt: record.createdAt,
  };
}

/**
 * {@link ArtifactStore.verify} in terms of `get`: reads the whole artifact through its verifying stream.
 */
export async function verifyByReading(store: ArtifactStore, locator: ArtifactLocator): Promise<ArtifactStatus> {
  try {
    await drain(await store.get(locator));
    return 'intact';
  } catch (error) {
    if (error instanceof MloeError && error.code === 'ARTIFACT_NOT_FOUND') return 'missing';
    if (error instanceof MloeError && error.code === 'ARTIFACT_CORRUPT') return 'corrupt';
    throw error;
  }
}

/** Reads a whole artifact into memory, verified. Meant for small artifacts (reports, metrics, models). */
export async function getBytes(store: ArtifactStore, locator: ArtifactLocator): Promise<Buffer> {
  return readAll(await store.get(locator));
}

/** Reads a whole artifact as UTF-8 text, verified. */
export async function getText(store: ArtifactStore, locator: ArtifactLocator): Promise<string> {
  return (await getBytes(store, locator)).toString('utf8');
}

/**
 * Reads a JSON artifact and checks its shape against `schema`. An intact artifact of the wrong shape means a step
 * was handed the wrong reference: `DATA_INVALID`, naming `what` was expected.
 */
export async function getJson<T>(
  store: ArtifactStore,
  locator: ArtifactLocator,
  schema: z.ZodType<T>,
  what: string,
): Promise<T> {
  const uri = locatorUri(locator);
  const text = await getText(store, locator);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MloeError('DATA_INVALID', `artifact ${uri} is not JSON (expected ${what})`, { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new MloeError('DATA_INVALID', `artifact ${uri} is not ${what}: ${parsed.error.message}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/**
 * Stores a value as pretty-printed JSON (deterministic for the same value, so the digest is too). A value JSON cannot
 * represent is `DATA_INVALID`.
 */
export async function putJson(store: ArtifactStore, value: unknown, options?: PutOptions): Promise<ArtifactRef> {
  return store.put(serializeJsonRecord(value), options);
}

/**
 * A record as stored: pretty JSON with a final newline. `DATA_INVALID` for what JSON cannot represent: a value that
 * serialises to nothing (`undefined`, a function, a symbol) would be stored as the text `undefined`, which no read
 * could parse; a BigInt or a cycle makes `JSON.stringify` throw a TypeError.
 */
export function serializeJsonRecord(value: unknown): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2); // undefined for undefined, functions and symbols, whatever its type says
  } catch (error) {
    throw new MloeError('DATA_INVALID', `value is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (text === undefined) throw new MloeError('DATA_INVALID', `value is not JSON: ${typeof value}`);
  return Buffer.from(`${text}\n`, 'utf8');
}

/** Parses a stored record; a record that is not JSON was damaged: `ARTIFACT_CORRUPT`, naming it. */
export function parseJsonRecord(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw new MloeError('ARTIFACT_CORRUPT', `record ${where} is not JSON`, { cause: error });
  }
}
