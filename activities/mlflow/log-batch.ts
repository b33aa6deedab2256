/**
 * `runs/log-batch` limits and the split of a large batch into requests MLflow accepts: at most 1,000 metrics,
 * 100 params, 100 tags and 1,000 items in all per request, and at most 1 MB of JSON. Order within each kind is kept
 * (MLflow writes a request's metrics in order, and requests are sent one after the other).
 */

/** MLflow's documented limits of one `runs/log-batch` request. */
export const LOG_BATCH_LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  total: 1000,
  /** Bytes of the JSON request body. */
  bytes: 1_000_000,
} as const;

/** The limits a split honours (tests shrink them). */
export type LogBatchLimits = { readonly [K in keyof typeof LOG_BATCH_LIMITS]: number };

/** A metric on the wire: the value is a number or `"NaN"`/`"Infinity"`/`"-Infinity"`. */
export interface WireMetric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}

/** A param or tag on the wire. */
export interface WireKeyValue {
  key: string;
  value: string;
}

/** One `runs/log-batch` body without its run id. */
export interface WireBatch {
  metrics: WireMetric[];
  params: WireKeyValue[];
  tags: WireKeyValue[];
}

/** Room kept for `{"run_id": "…", "metrics": [], "params": [], "tags": []}` and separators. */
const ENVELOPE_BYTES = 512;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8') + 1;
}

/** An item of a batch as {@link logBatchBytesAtMost} measures it: a key and a string or numeric value. */
interface SizedItem {
  key: string;
  value: string | number;
}

/**
 * An upper bound of the JSON size (bytes) of a `log-batch` body holding these items, without serialising it: a
 * UTF-16 code unit of a key or value takes at most 6 bytes of JSON (`\u001f`; UTF-8 takes at most 3), and an item's
 * punctuation, field names, number, timestamp and step at most 100.
 */
export function logBatchBytesAtMost(batch: {
  metrics: readonly SizedItem[];
  params: readonly SizedItem[];
  tags: readonly SizedItem[];
}): number {
  let units = 0;
  let items = 0;
  for (const list of [batch.metrics, batch.params, batch.tags]) {
    for (const item of list) {
      units += item.key.length + (typeof item.value === 'string' ? item.value.length : 0);
      items += 1;
    }
  }
  return ENVELOPE_BYTES + 6 * units + 100 * items;
}

/** Whether a batch is one request within `limits` by its counts and {@link logBatchBytesAtMost}. */
function fitsAsIs(batch: WireBatch, limits: LogBatchLimits): boolean {
  const { metrics, params, tags } = batch;
  return (
    metrics.length <= limits.metrics &&
    params.length <= limits.params &&
    tags.length <= limits.tags &&
    metrics.length + params.length + tags.length <= limits.total &&
    logBatchBytesAtMost(batch) <= limits.bytes
  );
}

/**
 * Splits a batch into requests within `limits`, filling each request with params, then tags, then metrics. An
 * empty batch needs no request. A single item larger than the byte limit goes alone (the server then refuses it).
 * A batch that surely fits (the usual step's) is one request as it is, without measuring each item.
 */
export function splitLogBatch(batch: WireBatch, limits: LogBatchLimits = LOG_BATCH_LIMITS): WireBatch[] {
  if (batch.metrics.length + batch.params.length + batch.tags.length === 0) return [];
  if (fitsAsIs(batch, limits)) return [batch];
  const chunks: WireBatch[] = [];
  const next = { params: 0, tags: 0, metrics: 0 };
  const remaining = (): boolean =>
    next.params < batch.params.length || next.tags < batch.tags.length || next.metrics < batch.metrics.length;
  while (remaining()) {
    const chunk: WireBatch = { metrics: [], params: [], tags: [] };
    let count = 0;
    let bytes = ENVELOPE_BYTES;
    const fill = <K extends keyof WireBatch>(kind: K, max: number): void => {
      const items = batch[kind];
      const into = chunk[kind] as WireBatch[K][number][];
      while (next[kind] < items.length && into.length < max && count < limits.total) {
        const item = items[next[kind]] as WireBatch[K][number];
        const size = jsonBytes(item);
        if (count > 0 && bytes + size > limits.bytes) return;
        into.push(item);
        next[kind] += 1;
        count += 1;
        bytes += size;
      }
    };
    fill('params', limits.params);
    fill('tags', limits.tags);
    fill('metrics', limits.metrics);
    chunks.push(chunk);
  }
  return chunks;
}
