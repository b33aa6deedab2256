/**
 * Cache entries in the run's artifact store: `records/cache/<key>.json` holds the outputs an execution produced under
 * a key, and `records/cache/last.<pipeline>.<step>[.<index>].json` the parts of the last key cached for that step, so
 * that a later miss can be explained. An entry is only served when every artifact it names is still in the store and
 * still hashes to its digest: deleted or damaged outputs make the step run again.
 */
import { z } from 'zod';

import type { JsonValue } from '../../core/spec';
import { artifactRefsIn, sha256Hex, shortDigest, type ArtifactStore } from '../artifacts';
import type { CacheKeyParts } from './key';

const keyPartSchema = z.object({ digest: z.string(), preview: z.string().optional() });

const partsSchema = z.object({
  definition: z.object({ ref: z.string(), digest: z.string(), image: z.string().optional() }),
  inputs: z.record(z.string(), keyPartSchema),
  params: z.record(z.string(), keyPartSchema),
  files: z.record(z.string(), keyPartSchema),
});

const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
);

/** Schema of a stored {@link CacheEntry}. */
export const cacheEntrySchema = z.object({
  version: z.literal(1),
  key: z.string(),
  parts: partsSchema,
  outputs: z.record(z.string(), jsonValueSchema),
  metrics: z.record(z.string(), z.number()).optional(),
  logs: z.object({ stdout: jsonValueSchema, stderr: jsonValueSchema }).optional(),
  workflowId: z.string(),
  stepId: z.string(),
  index: z.number().int().optional(),
  createdAt: z.string(),
});

/** What a cached execution produced, and under which key parts. */
export type CacheEntry = z.infer<typeof cacheEntrySchema>;

/** Schema of the pointer to the last key cached for a step. */
const lastKeySchema = z.object({ key: z.string(), parts: partsSchema, workflowId: z.string(), createdAt: z.string() });

/**
 * The record name of the last key cached for a step (or `foreach` iteration) of a pipeline: readable when the names
 * are plain (`last.housing-price.train`), else a digest of them (any name a hand-written workflow passes is safe).
 */
function lastKeyName(pipeline: string, stepId: string, index: number | undefined): string {
  const readable = ['last', pipeline, stepId, ...(index === undefined ? [] : [String(index)])].join('.');
  return /^[A-Za-z0-9._-]{1,200}$/.test(readable) && !readable.includes('..')
    ? readable
    : `last.${sha256Hex(JSON.stringify([pipeline, stepId, index ?? null])).slice(0, 40)}`;
}

/** The entry under a key, or `undefined` when there is none or it is unreadable (then the step simply runs). */
export async function readCacheEntry(store: ArtifactStore, key: string): Promise<CacheEntry | undefined> {
  const stored = await store.getRecord('cache', key).catch(() => undefined);
  const parsed = cacheEntrySchema.safeParse(stored);
  return parsed.success && parsed.data.key === key ? parsed.data : undefined;
}

/** The parts of the last key cached for a step, to explain a miss; `undefined` when it never ran with caching. */
export async function readLastKey(
  store: ArtifactStore,
  pipeline: string,
  stepId: string,
  index: number | undefined,
): Promise<{ key: string; parts: CacheKeyParts; workflowId: string } | undefined> {
  const stored = await store.getRecord('cache', lastKeyName(pipeline, stepId, index)).catch(() => undefined);
  const parsed = lastKeySchema.safeParse(stored);
  return parsed.success ? parsed.data : undefined;
}

/** Stores an entry and points the step's last key at it. */
export async function writeCacheEntry(store: ArtifactStore, pipeline: string, entry: CacheEntry): Promise<void> {
  await Promise.all([
    store.putRecord('cache', entry.key, entry),
    // Advisory: it only makes a later miss's explanation precise, so it is not worth an fsync per step.
    store.putRecord(
      'cache',
      lastKeyName(pipeline, entry.stepId, entry.index),
      { key: entry.key, parts: entry.parts, workflowId: entry.workflowId, createdAt: entry.createdAt },
      { sync: false },
    ),
  ]);
}

/**
 * Why an entry cannot be served, or `undefined` when every artifact it names is present and intact (each is read
 * and hashed in full: a cached result is only as good as its bytes).
 */
export async function unusableOutputs(store: ArtifactStore, entry: CacheEntry): Promise<string | undefined> {
  for (const { port, ref } of artifactRefsIn(entry.outputs)) {
    const status = await store.verify(ref).catch(() => 'unreadable' as const);
    if (status !== 'intact') {
      return `cached output ${port} (${shortDigest(ref.digest)}) of run ${entry.workflowId} is ${status === 'missing' ? 'missing from the store' : status}`;
    }
  }
  return undefined;
}
