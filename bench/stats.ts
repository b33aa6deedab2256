/**
 * The figures benchmarks print, computed one way: percentiles of sorted samples and the median. Shared by the
 * benchmarks so that a p99 means the same in every table of docs/benchmarks.md.
 */

/** The `p`th percentile (0–100) of ascending `sorted` samples, nearest rank; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The median of `values` (the upper middle one of an even count); NaN when there are none. */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
