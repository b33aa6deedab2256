/**
 * Per-feature drift between a reference sample and a current one, pure: numeric features by PSI over quantile bins
 * fitted on the reference and the two-sample Kolmogorov–Smirnov test; categorical features by PSI over the
 * reference's categories (plus one bucket for categories it never saw) and Pearson's chi-square test. Missing values
 * are counted and left out of the statistics.
 */
import {
  binCounts,
  chiSquareHomogeneity,
  fitQuantileEdges,
  ksTwoSample,
  populationStabilityIndex,
  type ChiSquareResult,
  type KsResult,
} from './statistics';

/** The bucket of categories the reference never had. */
export const UNSEEN_CATEGORY = '(unseen)';

/** When a feature counts as drifted; a test without a threshold is computed and reported but decides nothing. */
export interface DriftThresholds {
  /** PSI at or above this is drift (0.2 is the usual "significant shift"). */
  psi: number;
  /** A numeric feature whose Kolmogorov–Smirnov p-value is below this is drifted. */
  ksPValue?: number | undefined;
  /** A categorical feature whose chi-square p-value is below this is drifted. */
  chiSquarePValue?: number | undefined;
}

/** One feature's comparison, as the drift report holds it. */
export interface FeatureDrift {
  feature: string;
  kind: 'numeric' | 'categorical';
  referenceRows: number;
  currentRows: number;
  /** Missing values (null, NaN) left out on each side. */
  missing: { reference: number; current: number };
  psi: number;
  /** The bins: interior edges of a numeric feature, or the categories of a categorical one; counts per bin. */
  bins: { edges?: number[]; categories?: string[]; reference: number[]; current: number[] };
  ks?: KsResult;
  chiSquare?: ChiSquareResult;
  drifted: boolean;
  /** Why it drifted, one line per test past its threshold (`psi 0.31 >= 0.2`). */
  reasons: string[];
}

function finite(values: readonly (number | null)[]): { values: Float64Array; missing: number } {
  const kept = values.filter((value): value is number => value !== null && Number.isFinite(value));
  return { values: Float64Array.from(kept), missing: values.length - kept.length };
}

function round(value: number): string {
  return Number(value.toPrecision(4)).toString();
}

/**
 * Compares a numeric feature: quantile bins (`bins` at most) fitted on the reference, PSI over them, and the KS test.
 * `null`, `NaN` and infinities count as missing.
 */
export function compareNumeric(
  feature: string,
  reference: readonly (number | null)[],
  current: readonly (number | null)[],
  thresholds: DriftThresholds,
  bins = 10,
): FeatureDrift {
  const ref = finite(reference);
  const cur = finite(current);
  const edges = fitQuantileEdges(ref.values, bins);
  const referenceCounts = binCounts(edges, ref.values);
  const currentCounts = binCounts(edges, cur.values);
  const psi = populationStabilityIndex(referenceCounts, currentCounts);
  const ks = ksTwoSample(ref.values, cur.values);
  const reasons: string[] = [];
  if (psi >= thresholds.psi) reasons.push(`psi ${round(psi)} >= ${thresholds.psi}`);
  if (thresholds.ksPValue !== undefined && ks.pValue < thresholds.ksPValue) {
    reasons.push(`ks p-value ${round(ks.pValue)} < ${thresholds.ksPValue} (D = ${round(ks.statistic)})`);
  }
  return {
    feature,
    kind: 'numeric',
    referenceRows: ref.values.length,
    currentRows: cur.values.length,
    missing: { reference: ref.missing, current: cur.missing },
    psi,
    bins: { edges, reference: referenceCounts, current: currentCounts },
    ks,
    drifted: reasons.length > 0,
    reasons,
  };
}

function categoryCounts(categories: readonly string[], values: readonly string[]): number[] {
  const index = new Map(categories.map((category, i) => [category, i]));
  const counts = new Array<number>(categories.length + 1).fill(0);
  for (const value of values) {
    const bin = index.get(value) ?? categories.length;
    counts[bin] = (counts[bin] as number) + 1;
  }
  return counts;
}

/**
 * Compares a categorical feature: the reference's categories (sorted) plus {@link UNSEEN_CATEGORY}, PSI over them and
 * the chi-square test of homogeneity. `null` counts as missing; other values compare as strings.
 */
export function compareCategorical(
  feature: string,
  reference: readonly (string | null)[],
  current: readonly (string | null)[],
  thresholds: DriftThresholds,
): FeatureDrift {
  const ref = reference.filter((value): value is string => value !== null);
  const cur = current.filter((value): value is string => value !== null);
  const categories = [...new Set(ref)].sort();
  const referenceCounts = categoryCounts(categories, ref);
  const currentCounts = categoryCounts(categories, cur);
  const psi = populationStabilityIndex(referenceCounts, currentCounts);
  const chiSquare = chiSquareHomogeneity(referenceCounts, currentCounts);
  const reasons: string[] = [];
  if (psi >= thresholds.psi) reasons.push(`psi ${round(psi)} >= ${thresholds.psi}`);
  if (thresholds.chiSquarePValue !== undefined && chiSquare.pValue < thresholds.chiSquarePValue) {
    reasons.push(`chi-square p-value ${round(chiSquare.pValue)} < ${thresholds.chiSquarePValue}`);
  }
  return {
    feature,
    kind: 'categorical',
    referenceRows: ref.length,
    currentRows: cur.length,
    missing: { reference: reference.length - ref.length, current: current.length - cur.length },
    psi,
    bins: { categories: [...categories, UNSEEN_CATEGORY], reference: referenceCounts, current: currentCounts },
    chiSquare,
    drifted: reasons.length > 0,
    reasons,
  };
}
