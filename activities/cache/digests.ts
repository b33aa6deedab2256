/**
 * The digests cache keys are made of: sha256 of canonical JSON (key order never matters), of files (streamed), and
 * of source files (the code hash of built-in steps).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';

import { MloeError } from '../../core/errors';

/** sha256 of a string or bytes, as 64 hex digits. */
export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted at every level, so equal values always serialise (and hash) the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** sha256 of a value's canonical JSON. */
export function valueDigest(value: unknown): string {
  return `sha256:${sha256(canonicalJson(value))}`;
}

/** sha256 of a file's bytes, streamed. `ARTIFACT_NOT_FOUND` when it does not exist. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MloeError('ARTIFACT_NOT_FOUND', `file ${path} does not exist`, { cause: error });
    }
    throw error;
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * sha256 over source files (each file's path-independent bytes, in the order given), read once when a module is
 * loaded: a step implementation's code hash.
 */
export function sourceDigest(paths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) hash.update(sha256(readFileSync(path)));
  return `sha256:${hash.digest('hex')}`;
}
