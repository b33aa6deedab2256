/**
 * Workflow bundle cache entries on disk: one file per cache key holding a one-line JSON manifest (the key, the
 * bundle's sha256 and its inputs) followed by the bundle's code. Entries are written to a temporary file and renamed
 * into place, so concurrent processes (jest workers, CLI spawns) see either the old entry or the new one, never half
 * of one; an entry that does not parse or whose code does not hash as its manifest says is treated as absent. An
 * entry is touched when it is used, and entries unused for two weeks are removed when another one is written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { z } from 'zod';

import type { BundleInput } from './bundle-inputs';

/** The format of entries this module writes; entries of another format are ignored (and overwritten). */
export const BUNDLE_CACHE_FORMAT = 'mloe-workflow-bundle/1';

const inputSchema = z.discriminatedUnion('kind', [
  z.object({ path: z.string(), kind: z.literal('file'), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.object({ path: z.string(), kind: z.literal('directory') }),
  z.object({ path: z.string(), kind: z.literal('missing') }),
]);

const manifestSchema = z.object({
  format: z.literal(BUNDLE_CACHE_FORMAT),
  key: z.string(),
  createdAt: z.string(),
  codeSha256: z.string().regex(/^[0-9a-f]{64}$/),
  inputs: z.array(inputSchema),
});

/** What a cache entry says about its bundle. */
export type BundleManifest = z.output<typeof manifestSchema>;

/** A cache entry as read back. */
export interface BundleCacheEntry {
  manifest: BundleManifest;
  code: string;
}

/** Entries unused this long are removed when another entry is written (a removed entry is only rebuilt). */
export const STALE_ENTRY_MS = 14 * 24 * 3600 * 1000;
/** Temporary files of writers that died are removed after this long. */
const STALE_TEMPORARY_MS = 3600 * 1000;

const ENTRY_NAME = /^workflow-bundle-[0-9a-f]{32}\.bundle$/;

/** The entry file of `key` in `cacheDir`. */
export function cacheEntryPath(cacheDir: string, key: string): string {
  return join(cacheDir, `workflow-bundle-${key.slice(0, 32)}.bundle`);
}

/** Marks the entry at `path` as used now, so that {@link pruneCacheEntries} keeps it; best effort. */
export async function touchCacheEntry(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}

/**
 * Removes from `cacheDir` the entries unused for {@link STALE_ENTRY_MS} (other checkouts' or old SDK versions') and
 * the temporary files of writers that died, except `keep`. Best effort: a failure leaves files behind, nothing else.
 */
export async function pruneCacheEntries(cacheDir: string, keep: string, now: number = Date.now()): Promise<void> {
  const names = await readdir(cacheDir).catch(() => []);
  await Promise.all(
    names.map(async (name) => {
      const path = join(cacheDir, name);
      const maxAge = ENTRY_NAME.test(name) ? STALE_ENTRY_MS : name.endsWith('.tmp') ? STALE_TEMPORARY_MS : undefined;
      if (maxAge === undefined || path === keep) return;
      const modified = await stat(path).then(
        (stats) => stats.mtimeMs,
        () => now,
      );
      if (now - modified > maxAge) await rm(path, { force: true }).catch(() => undefined);
    }),
  );
}

/** The sha256 of a bundle's code, hex. */
export function codeSha256(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/**
 * Reads the entry at `path`: undefined when there is none, or when it is not a complete entry of this format for
 * `key` (a damaged entry is rebuilt, not an error).
 */
export async function readCacheEntry(path: string, key: string): Promise<BundleCacheEntry | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const newline = text.indexOf('\n');
  if (newline < 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(text.slice(0, newline));
  } catch {
    return undefined;
  }
  const manifest = manifestSchema.safeParse(header);
  if (!manifest.success || manifest.data.key !== key) return undefined;
  const code = text.slice(newline + 1);
  if (codeSha256(code) !== manifest.data.codeSha256) return undefined;
  return { manifest: manifest.data, code };
}

/** Writes `data` to `path` through a temporary file in the same directory and a rename (atomic on POSIX). */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Writes the entry of `key` for `code` built from `inputs`, replacing any entry there. */
export async function writeCacheEntry(
  path: string,
  entry: { key: string; code: string; inputs: readonly BundleInput[] },
): Promise<BundleManifest> {
  const manifest: BundleManifest = {
    format: BUNDLE_CACHE_FORMAT,
    key: entry.key,
    createdAt: new Date().toISOString(),
    codeSha256: codeSha256(entry.code),
    inputs: [...entry.inputs],
  };
  await writeFileAtomic(path, `${JSON.stringify(manifest)}\n${entry.code}`);
  return manifest;
}
