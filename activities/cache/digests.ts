/**
 * The digests cache keys are made of: sha256 of canonical JSON (key order never matters), of files (streamed), and
 * of source files (the code hash of built-in steps).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';

import { canonicalJson } from '../../core/canonical-json';
import { MloeError } from '../../core/errors';
import { sha256Hex } from '../artifacts/ref';

/** sha256 of a value's canonical JSON. */
export function valueDigest(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
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
  for (const path of paths) hash.update(sha256Hex(readFileSync(path)));
  return `sha256:${hash.digest('hex')}`;
}
