/**
 * The index of prediction logs: next to each log artifact `mloe serve` writes, a record in the store's
 * `prediction-logs` collection named `<first time>-<digest prefix>` (compact UTC time, so names sort by time) that
 * says which model and versions it holds and when. Monitors list it to find a model's recent serving inputs without
 * reading every artifact in the store.
 */
import { z } from 'zod';

import { digestHex, type ArtifactRef, type ArtifactStore } from '../artifacts';

/** The record of one prediction log. */
export const predictionLogEntrySchema = z.object({
  uri: z.string(),
  digest: z.string(),
  model: z.string(),
  versions: z.array(z.string()),
  rows: z.number().int(),
  from: z.string(),
  to: z.string(),
});

/** {@link predictionLogEntrySchema}'s type. */
export type PredictionLogEntry = z.infer<typeof predictionLogEntrySchema>;

/** A time as record names sort it: `YYYYMMDDTHHMMSSmmmZ`. */
export function compactTime(iso: string): string {
  return iso.replace(/[-:.]/g, '');
}

/**
 * Writes the index record of a log artifact whose JSON lines are `lines` (each `{ time, model, version, … }`). A log
 * of several models (never, from one server) is indexed under the first line's.
 */
export async function indexPredictionLog(
  store: ArtifactStore,
  ref: ArtifactRef,
  lines: readonly string[],
): Promise<void> {
  const entries = lines.map((line) => JSON.parse(line) as { time: string; model: string; version: string });
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (first === undefined || last === undefined) return;
  const entry: PredictionLogEntry = {
    uri: ref.uri,
    digest: ref.digest,
    model: first.model,
    versions: [...new Set(entries.map((item) => item.version))],
    rows: entries.length,
    from: first.time,
    to: last.time,
  };
  await store.putRecord('prediction-logs', `${compactTime(first.time)}-${digestHex(ref.digest).slice(0, 16)}`, entry, {
    sync: false,
  });
}

/** The index entries of `model`'s logs with a row at or after `since` (ISO), oldest first. */
export async function predictionLogsSince(
  store: ArtifactStore,
  model: string,
  since: string,
): Promise<PredictionLogEntry[]> {
  const found: PredictionLogEntry[] = [];
  const names: string[] = [];
  for await (const name of store.listRecords('prediction-logs')) names.push(name);
  for (const name of names) {
    const value = predictionLogEntrySchema.safeParse(await store.getRecord('prediction-logs', name));
    if (value.success && value.data.model === model && value.data.to >= since) found.push(value.data);
  }
  return found.sort((a, b) => a.from.localeCompare(b.from));
}
