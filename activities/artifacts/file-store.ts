/**
 * The `file://` artifact store: blobs at `<root>/sha256/<ab>/<hex>` with a record beside each (`<hex>.json`), the root
 * defaulting to `<working directory>/.mloe/artifacts`. Writes go to `<root>/tmp/` first, are hashed while they are
 * written, flushed to disk and renamed into place, so a reader sees a whole artifact or none.
 */
import { randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import { MloeError } from '../../core/errors';
import {
  checkAbsolutePath,
  checkDigestPrefix,
  contentKey,
  parseFileUri,
  recordKey,
  splitContentKey,
  type RecordCollection,
} from './keys';
import { digestHex, formatDigest, type ArtifactRecord, type ArtifactRef } from './ref';
import {
  checkPageSize,
  checkPutOptions,
  nextRecord,
  parseJsonRecord,
  serializeJsonRecord,
  parseRecord,
  refFromRecord,
  resolveLocator,
  serializeRecord,
  unusableRecord,
  verifyByReading,
  type ArtifactEntry,
  type ArtifactLocator,
  type ArtifactStatus,
  type ArtifactStore,
  type ListOptions,
  type PutOptions,
  type PutRecordOptions,
  type ResolvedLocator,
} from './store';
import { DigestCounter, VerifyingStream, bytesOf, hashedChunks, isInMemory, type ArtifactBody } from './streams';

/** Where artifacts live below a working directory. */
export const DEFAULT_ARTIFACTS_SUBDIRECTORY = join('.mloe', 'artifacts');

/** Options of {@link FileArtifactStore}. */
export interface FileArtifactStoreOptions {
  /** The store's root directory (absolute); it is created on the first put. */
  root: string;
}

/** The `file://` store. See the module comment for the layout. */
export class FileArtifactStore implements ArtifactStore {
  /** The absolute, normalised root directory. */
  readonly root: string;
  readonly rootUri: string;
  /** Directories this instance has created (or found): `putRecord` makes each only once. */
  private readonly directories = new Set<string>();

  constructor(options: FileArtifactStoreOptions) {
    this.root = checkAbsolutePath(options.root, 'artifact store root');
    this.rootUri = pathToFileURL(this.root).href;
  }

  /** The store mloe uses by default: `<directory>/.mloe/artifacts`, the directory defaulting to the working one. */
  static inWorkingDirectory(directory: string = process.cwd()): FileArtifactStore {
    return new FileArtifactStore({
      root: join(checkAbsolutePath(directory, 'working directory'), DEFAULT_ARTIFACTS_SUBDIRECTORY),
    });
  }

  /** The file a blob with this digest (`sha256:<hex>` or hex) is stored in. */
  pathOf(digest: string): string {
    return join(this.root, contentKey(digestHex(digest)));
  }

  async put(body: ArtifactBody, options: PutOptions = {}): Promise<ArtifactRef> {
    const checked = checkPutOptions(options);
    const temporaryDirectory = join(this.root, 'tmp');
    await fsCall(() => mkdir(temporaryDirectory, { recursive: true }), `create ${temporaryDirectory}`);
    const temporary = join(temporaryDirectory, `${randomUUID()}.part`);
    try {
      const counter = new DigestCounter();
      const what = `write ${temporary}`;
      const handle = await fsCall(() => open(temporary, 'wx', 0o644), what);
      try {
        if (isInMemory(body)) {
          const bytes = bytesOf(body);
          counter.update(bytes);
          await fsCall(() => handle.writeFile(bytes), what);
        } else {
          // An error of the body's own stream propagates as it is; only the writes are the store's failures.
          for await (const chunk of hashedChunks(body, counter)) await fsCall(() => writeFully(handle, chunk), what);
        }
        await fsCall(() => handle.sync(), what);
      } finally {
        await handle.close();
      }
      const hex = counter.hex();
      const path = join(this.root, contentKey(hex));
      await fsCall(() => mkdir(dirname(path), { recursive: true }), `create ${dirname(path)}`);
      // Replacing an existing copy is harmless (same bytes) and repairs a corrupted one.
      await fsCall(() => rename(temporary, path), `rename ${temporary} to ${path}`);

      const uri = pathToFileURL(path).href;
      const existing = await this.readRecord(path, uri, hex).catch(unusableRecord);
      const { record, changed } = nextRecord(existing, hex, counter.size, checked, new Date());
      if (changed) await this.writeAtomically(`${path}.json`, serializeRecord(record));
      return refFromRecord(uri, record);
    } finally {
      await rm(temporary, { force: true });
    }
  }

  async get(locator: ArtifactLocator): Promise<Readable> {
    const { path, resolved } = this.locate(locator);
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: a symbolic link planted at an artifact's location is refused, not followed.
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      throw notFoundOr(error, resolved.uri);
    }
    try {
      const stats = await handle.stat();
      checkBlobStats(stats, resolved);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const verifier = new VerifyingStream(resolved.uri, resolved.hex, resolved.size);
    // Errors of the file stream reach the consumer through `verifier`, which pipeline destroys with them.
    pipeline(handle.createReadStream(), verifier, () => undefined);
    return verifier;
  }

  async head(locator: ArtifactLocator): Promise<ArtifactRef> {
    const { path, resolved } = this.locate(locator);
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      throw notFoundOr(error, resolved.uri);
    }
    checkBlobStats(stats, resolved);
    const record = await this.readRecord(path, resolved.uri, resolved.hex);
    if (record !== undefined && record.size !== stats.size) {
      throw new MloeError(
        'ARTIFACT_CORRUPT',
        `artifact ${resolved.uri} is corrupt: ${stats.size} bytes, recorded ${record.size}`,
      );
    }
    // A blob without a record (copied in by hand) is described as a plain file.
    return refFromRecord(
      resolved.uri,
      record ?? {
        version: 1,
        digest: formatDigest(resolved.hex),
        size: stats.size,
        type: 'file',
        metadata: {},
        createdAt: stats.mtime.toISOString(),
      },
    );
  }

  async exists(locator: ArtifactLocator): Promise<boolean> {
    const { path, resolved } = this.locate(locator);
    try {
      return (await lstat(path)).isFile();
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
      throw storeFailure(error, `check ${resolved.uri}`);
    }
  }

  verify(locator: ArtifactLocator): Promise<ArtifactStatus> {
    return verifyByReading(this, locator);
  }

  async *list(options: ListOptions = {}): AsyncGenerator<ArtifactEntry> {
    const hex = checkDigestPrefix(options.prefix ?? '');
    checkPageSize(options.pageSize); // nothing to page here, but the same options are valid in every store
    const shardsDirectory = join(this.root, 'sha256');
    const shards = (await listDirectory(shardsDirectory))
      .filter((name) => /^[0-9a-f]{2}$/.test(name) && name.startsWith(hex.slice(0, 2)))
      .sort();
    for (const shard of shards) {
      const names = (await listDirectory(join(shardsDirectory, shard)))
        .filter((name) => /^[0-9a-f]{64}$/.test(name) && name.startsWith(shard) && name.startsWith(hex))
        .sort();
      for (const name of names) {
        const path = join(shardsDirectory, shard, name);
        let stats: Stats;
        try {
          stats = await lstat(path);
        } catch (error) {
          if (isErrno(error, 'ENOENT')) continue; // removed while listing
          throw storeFailure(error, `stat ${path}`);
        }
        if (!stats.isFile()) continue;
        yield { uri: pathToFileURL(path).href, digest: formatDigest(name), size: stats.size };
      }
    }
  }

  async putRecord(
    collection: RecordCollection,
    name: string,
    value: unknown,
    options: PutRecordOptions = {},
  ): Promise<void> {
    const path = join(this.root, recordKey(collection, name));
    const bytes = serializeJsonRecord(value);
    const write = async (): Promise<void> => {
      await this.ensureDirectory(join(this.root, 'tmp'));
      await this.ensureDirectory(dirname(path));
      await this.writeAtomically(path, bytes, options.sync ?? true);
    };
    try {
      await write();
    } catch {
      // A directory made earlier may have been removed behind the store's back: make them again, once.
      this.directories.clear();
      await write();
    }
  }

  /** Creates a directory once per store instance (records are written per step: the mkdir calls add up). */
  private async ensureDirectory(path: string): Promise<void> {
    if (this.directories.has(path)) return;
    await fsCall(() => mkdir(path, { recursive: true }), `create ${path}`);
    this.directories.add(path);
  }

  async getRecord(collection: RecordCollection, name: string): Promise<unknown> {
    const path = join(this.root, recordKey(collection, name));
    let bytes: Buffer;
    try {
      bytes = await readFile(path, { flag: constants.O_RDONLY | constants.O_NOFOLLOW });
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
      if (isErrno(error, 'ELOOP')) throw new MloeError('PATH_INVALID', `record ${path} is a symbolic link`);
      throw storeFailure(error, `read ${path}`);
    }
    return parseJsonRecord(bytes, path);
  }

  async *listRecords(collection: RecordCollection): AsyncGenerator<string> {
    const directory = dirname(join(this.root, recordKey(collection, 'x')));
    const names = (await listDirectory(directory))
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .sort(); // by name: sorted with the suffix, `a-b.json` would come before `a.json`
    for (const name of names) yield name;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The file path of a locator, accepted only when its URI is exactly where this store keeps that digest: anything
   * else (another directory, `..` tricks, a non-`file:` URI, a digest that disagrees with the URI) is `PATH_INVALID`.
   */
  locate(locator: ArtifactLocator): { path: string; resolved: ResolvedLocator } {
    const uri = typeof locator === 'string' ? locator : locator.uri;
    const path = parseFileUri(uri);
    const split = splitContentKey(path);
    if (split === undefined || split.root !== this.root) {
      throw new MloeError('PATH_INVALID', `artifact URI "${uri}" is not an artifact of the store at ${this.root}`);
    }
    return { path, resolved: resolveLocator(locator, split.hex) };
  }

  /** The record beside a blob, or undefined when there is none. */
  private async readRecord(path: string, uri: string, hex: string): Promise<ArtifactRecord | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(`${path}.json`, { flag: constants.O_RDONLY | constants.O_NOFOLLOW });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      if (isErrno(error, 'ELOOP')) throw new MloeError('PATH_INVALID', `the record of ${uri} is a symbolic link`);
      throw storeFailure(error, `read the record of ${uri}`);
    }
    return parseRecord(bytes, uri, hex);
  }

  /** Writes a small file through a temporary file and a rename (flushed first unless `sync` is false). */
  private async writeAtomically(path: string, bytes: Buffer, sync = true): Promise<void> {
    const temporary = join(this.root, 'tmp', `${randomUUID()}.part`);
    try {
      await fsCall(async () => {
        const handle = await open(temporary, 'wx', 0o644);
        try {
          await handle.writeFile(bytes);
          if (sync) await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temporary, path);
      }, `write ${path}`);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}

/** Writes a whole chunk (FileHandle.write may write less than asked). */
async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Refuses anything but a regular file of the expected size at a blob's location. */
function checkBlobStats(stats: Stats, resolved: ResolvedLocator): void {
  if (!stats.isFile()) throw new MloeError('PATH_INVALID', `artifact ${resolved.uri} is not a regular file`);
  if (resolved.size !== undefined && stats.size !== resolved.size) {
    throw new MloeError(
      'ARTIFACT_CORRUPT',
      `artifact ${resolved.uri} is corrupt: expected ${resolved.size} bytes, found ${stats.size}`,
    );
  }
}

/** Names of a directory's entries; none when it does not exist. */
async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return [];
    throw storeFailure(error, `list ${path}`);
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && codes.includes(code);
}

/** The error for a failed open or stat of a blob. */
function notFoundOr(error: unknown, uri: string): MloeError {
  if (isErrno(error, 'ENOENT', 'ENOTDIR')) {
    return new MloeError('ARTIFACT_NOT_FOUND', `artifact ${uri} does not exist`, { cause: error });
  }
  if (isErrno(error, 'ELOOP')) {
    return new MloeError('PATH_INVALID', `artifact ${uri} is a symbolic link, not a regular file`, { cause: error });
  }
  return storeFailure(error, `open ${uri}`);
}

/**
 * A file-system error as `ARTIFACT_STORE_FAILED`. Left retryable: permissions, a full disk or a flaky mount can be
 * fixed while Temporal retries.
 */
function storeFailure(error: unknown, what: string): MloeError {
  if (error instanceof MloeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new MloeError('ARTIFACT_STORE_FAILED', `artifact store could not ${what}: ${message}`, {
    cause: error,
    retryable: true,
  });
}

/** Runs a file-system operation, reporting its failure as {@link storeFailure} (an MloeError passes through). */
async function fsCall<T>(operation: () => Promise<T>, what: string): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw storeFailure(error, what);
  }
}
