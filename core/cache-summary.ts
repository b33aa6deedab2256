/**
 * How a step's cache decisions are summarised: one per execution (one, or one per `foreach` iteration) into the
 * step's decision, key, reasons and counts. Shared by the interpreter's `status` (from activity results) and
 * `mloe explain` (from step records), so both say the same thing.
 */

/** What the cache did for one execution. */
export interface ExecutionCacheOutcome {
  decision: 'hit' | 'miss' | 'disabled';
  key?: string | undefined;
  reasons: string[];
}

/** A step's summary: `partial` when some `foreach` iterations hit and some missed. */
export interface StepCacheSummary {
  cache: 'hit' | 'miss' | 'disabled' | 'partial';
  /** The key of the execution explained: the first that missed, else the first. */
  cacheKey?: string;
  cacheReasons: string[];
  /** For more than one execution. */
  cacheCounts?: { hits: number; misses: number };
}

/** Summarises a step's executions' cache outcomes; `undefined` when there were none. */
export function summarizeCache(outcomes: readonly ExecutionCacheOutcome[]): StepCacheSummary | undefined {
  const first = outcomes[0];
  if (first === undefined) return undefined;
  const hits = outcomes.filter((outcome) => outcome.decision === 'hit').length;
  const misses = outcomes.filter((outcome) => outcome.decision === 'miss').length;
  const explained = outcomes.find((outcome) => outcome.decision === 'miss') ?? first;
  const cache = first.decision === 'disabled' ? 'disabled' : misses === 0 ? 'hit' : hits === 0 ? 'miss' : 'partial';
  return {
    cache,
    ...(explained.key === undefined ? {} : { cacheKey: explained.key }),
    cacheReasons: explained.reasons,
    ...(outcomes.length > 1 ? { cacheCounts: { hits, misses } } : {}),
  };
}
