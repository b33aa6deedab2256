/**
 * A content-addressed artifact store on the local file system. Every artifact is a file named by the sha256 of its
 * bytes, under `<root>/.mloe/artifacts/<first two hex digits>/<sha256>`, and is handed between pipeline steps as an
 * {@link ArtifactRef} (URI, digest, size), never by content: Temporal payloads stay small and every read is verified.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { z } from 'zod';

import { MloeError, ensureError } from '../clients/errors';

/** A stored artifact, as steps pass it to each other: where it is and what its bytes must hash to. */
export interface ArtifactRef {
  /** `file:///absolute/path` of the artifact. */
  uri: string;
  /** sha256 of the artifact's bytes, 64 lowercase hex digits. */
  digest: string;
  /** Size in bytes. */
  size: number;
}

/** Where artifacts live below the store's root directory. */
export const ARTIFACTS_SUBDIRECTORY = join('.mloe', 'artifacts');

const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

/** The sha256 of some bytes, as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Checks that `path` is absolute and free of `..` segments, and returns it normalised.
 * Paths reach activities from workflow inputs, so a relative path would depend on the worker's working directory.
 */
export function checkAbsolutePath(path: string, what: string): string {
  if (path === '' || path.includes('\0')) {
    throw new MloeError('PATH_INVALID', `${what} must be a non-empty path without NUL bytes`);
  }
  if (!isAbsolute(path)) {
    throw new MloeError('PATH_INVALID', `${what} must be an absolute path, got "${path}"`);
  }
  if (path.split(/[\\/]/).includes('..')) {
    throw new MloeError('PATH_INVALID', `${what} must not contain ".." segments, got "${path}"`);
  }
  const normalised = normalize(path);
  return normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised;
}

/**
 * The artifact store rooted at one directory. `put` is idempotent (same bytes, same file, same reference) and
 * `get` only returns bytes that match the reference's digest and size.
 */
export class ArtifactStore {
  /** The absolute, normalised root directory. */
  readonly root: string;
  /** The directory that holds the artifact files, `<root>/.mloe/artifacts`. */
  readonly directory: string;

  constructor(root: string) {
    this.root = checkAbsolutePath(root, 'artifact root');
    this.directory = join(this.root, ARTIFACTS_SUBDIRECTORY);
  }

  /** The file an artifact with this digest is stored in. */
  pathOf(digest: string): string {
    if (!DIGEST_PATTERN.test(digest)) {
      throw new MloeError('PATH_INVALID', `artifact digest must be 64 lowercase hex digits, got "${digest}"`);
    }
    return join(this.directory, digest.slice(0, 2), digest);
  }

  /**
   * Stores bytes and returns their reference. Writes through a temporary file and a rename, so readers never see a
   * partial artifact; an intact copy already in the store is left alone, a corrupted one is replaced.
   */
  async put(bytes: Uint8Array | string): Promise<ArtifactRef> {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const digest = sha256Hex(data);
    const path = this.pathOf(digest);
    const ref: ArtifactRef = { uri: pathToFileURL(path).href, digest, size: data.byteLength };
    if (await this.holds(ref)) return ref;

    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, data, { flag: 'wx' });
      await rename(temporary, path);
    } finally {
      await rm(temporary, { force: true });
    }
    return ref;
  }

  /** Stores a value as pretty-printed JSON (deterministic for the same value, so the digest is too). */
  putJson(value: unknown): Promise<ArtifactRef> {
    return this.put(`${JSON.stringify(value, null, 2)}\n`);
  }

  /**
   * Reads an artifact, checking that its URI is this store's location for its digest and that the bytes still hash
   * to that digest. Throws `PATH_INVALID`, `ARTIFACT_NOT_FOUND` or `ARTIFACT_CORRUPT`.
   */
  async get(ref: ArtifactRef): Promise<Buffer> {
    const path = this.locate(ref);
    await this.checkRegularFile(path, ref);
    const bytes = await readFile(path);
    const actual = sha256Hex(bytes);
    if (actual !== ref.digest || bytes.byteLength !== ref.size) {
      throw new MloeError(
        'ARTIFACT_CORRUPT',
        `artifact ${ref.uri} is corrupt: expected sha256 ${ref.digest} (${ref.size} bytes), ` +
          `found sha256 ${actual} (${bytes.byteLength} bytes)`,
      );
    }
    return bytes;
  }

  /** Reads an artifact as UTF-8 text, verified like {@link ArtifactStore.get}. */
  async getText(ref: ArtifactRef): Promise<string> {
    return (await this.get(ref)).toString('utf8');
  }

  /**
   * Reads a JSON artifact and checks its shape against `schema`. An intact artifact of the wrong shape means a step
   * was handed the wrong reference: `DATA_INVALID`, naming `what` was expected.
   */
  async getJson<T>(ref: ArtifactRef, schema: z.ZodType<T>, what: string): Promise<T> {
    const text = await this.getText(ref);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new MloeError('DATA_INVALID', `artifact ${ref.uri} is not JSON (expected ${what})`, { cause: error });
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new MloeError('DATA_INVALID', `artifact ${ref.uri} is not ${what}: ${parsed.error.message}`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  /**
   * The file path of a reference, accepted only when the URI is exactly where this store keeps that digest:
   * anything else (another directory, `..` tricks, a non-`file:` URI) is `PATH_INVALID`.
   */
  locate(ref: ArtifactRef): string {
    const expected = this.pathOf(ref.digest);
    if (!Number.isSafeInteger(ref.size) || ref.size < 0) {
      throw new MloeError('PATH_INVALID', `artifact size must be a non-negative integer, got ${String(ref.size)}`);
    }
    let path: string;
    try {
      const url = new URL(ref.uri);
      if (url.protocol !== 'file:') throw new Error(`unsupported scheme ${url.protocol}`);
      path = fileURLToPath(url);
    } catch (error) {
      throw new MloeError(
        'PATH_INVALID',
        `artifact URI "${ref.uri}" is not a file URI: ${ensureError(error).message}`,
        {
          cause: error,
        },
      );
    }
    if (path !== expected) {
      throw new MloeError(
        'PATH_INVALID',
        `artifact URI "${ref.uri}" is not where store ${this.root} keeps sha256 ${ref.digest} (${expected})`,
      );
    }
    return path;
  }

  /** Whether the store already holds an intact copy of the artifact. */
  private async holds(ref: ArtifactRef): Promise<boolean> {
    try {
      await this.get(ref);
      return true;
    } catch (error) {
      if (error instanceof MloeError && (error.code === 'ARTIFACT_NOT_FOUND' || error.code === 'ARTIFACT_CORRUPT')) {
        return false;
      }
      throw error;
    }
  }

  /** Rejects symbolic links and directories at an artifact's location: the store only ever writes regular files. */
  private async checkRegularFile(path: string, ref: ArtifactRef): Promise<void> {
    try {
      const stats = await lstat(path);
      if (!stats.isFile()) {
        throw new MloeError('PATH_INVALID', `artifact ${ref.uri} is not a regular file`);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new MloeError('ARTIFACT_NOT_FOUND', `artifact ${ref.uri} does not exist`, { cause: error });
      }
      throw error;
    }
  }
}
