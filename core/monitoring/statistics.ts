/**
 * Drift statistics, pure: quantile binning fitted on reference data, the population stability index (PSI), the
 * two-sample Kolmogorov–Smirnov test and Pearson's chi-square test of homogeneity. Definitions follow scipy
 * (`numpy.quantile` linear interpolation, `scipy.stats.ks_2samp`, `scipy.stats.chi2_contingency` without Yates'
 * correction) so results can be checked against it; see docs/monitoring.md.
 */
import { MloeError } from '../errors';

/** Proportions below this are clamped to it in the PSI, so an empty bin contributes a large but finite term. */
export const PSI_EPSILON = 1e-4;

/** Samples whose size product is at most this use the exact Kolmogorov–Smirnov distribution (as scipy's `auto`). */
export const KS_EXACT_MAX_PRODUCT = 10_000;

/**
 * The `q` quantile of sorted values, linearly interpolated between order statistics (`numpy.quantile`'s default,
 * DuckDB's `quantile_cont`).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new MloeError('DATA_INVALID', 'the quantile of an empty sample is undefined');
  const position = (n - 1) * q;
  const low = Math.floor(position);
  const high = Math.min(low + 1, n - 1);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (position - low);
}

/** Sorts numbers ascending into a new typed array. */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * Bin edges fitted on a reference sample: the interior quantile cut points at `1/bins, 2/bins, …`, duplicates
 * removed (a value repeated across several quantiles, such as a mass of zeros, gets one bin). Bins are
 * `(-∞, e₀], (e₀, e₁], …, (eₖ, ∞)`: `bins` at most, fewer when the reference has ties.
 */
export function fitQuantileEdges(reference: ArrayLike<number>, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 2)
    throw new MloeError('CONFIG_INVALID', `bins must be an integer ≥ 2, got ${bins}`);
  const sorted = sortedCopy(reference);
  const edges: number[] = [];
  for (let i = 1; i < bins; i += 1) {
    const edge = quantileSorted(sorted, i / bins);
    if (edges.length === 0 || edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  return edges;
}

/** The bin of `x` for `edges` (see {@link fitQuantileEdges}): how many edges are strictly below it. */
export function binOf(edges: readonly number[], x: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((edges[middle] as number) < x) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Counts of `values` per bin of `edges` (`edges.length + 1` bins). */
export function binCounts(edges: readonly number[], values: ArrayLike<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i += 1) {
    const bin = binOf(edges, values[i] as number);
    counts[bin] = (counts[bin] as number) + 1;
  }
  return counts;
}

function total(counts: readonly number[]): number {
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * The population stability index of two histograms over the same bins: `Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)` with `e` the
 * reference (expected) and `a` the current (actual) proportions, each clamped below at {@link PSI_EPSILON}. Common
 * reading: < 0.1 stable, 0.1–0.2 some shift, > 0.2 a significant shift.
 */
export function populationStabilityIndex(
  expected: readonly number[],
  actual: readonly number[],
  epsilon = PSI_EPSILON,
): number {
  if (expected.length !== actual.length) {
    throw new MloeError('INTERNAL', `PSI over ${expected.length} and ${actual.length} bins`);
  }
  const expectedTotal = total(expected);
  const actualTotal = total(actual);
  if (expectedTotal === 0 || actualTotal === 0) {
    throw new MloeError('DATA_INVALID', 'the population stability index needs at least one value on each side');
  }
  let psi = 0;
  for (let i = 0; i < expected.length; i += 1) {
    const e = Math.max((expected[i] as number) / expectedTotal, epsilon);
    const a = Math.max((actual[i] as number) / actualTotal, epsilon);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** The outcome of a statistical test. */
export interface TestResult {
  statistic: number;
  pValue: number;
}

/** The outcome of {@link ksTwoSample}: `method` says which distribution gave the p-value. */
export interface KsResult extends TestResult {
  method: 'exact' | 'asymptotic';
}

/**
 * The two-sample Kolmogorov–Smirnov test, two-sided: `D = sup |F₁(x) − F₂(x)|` over the empirical distribution
 * functions, and the probability of a `D` at least as large under the null hypothesis of one distribution. The
 * p-value is exact (lattice path counting) when `n₁·n₂ ≤ 10,000`, as scipy's `ks_2samp(method="auto")`, and
 * otherwise Kolmogorov's limiting distribution at `√(n₁n₂/(n₁+n₂))·D` (scipy's `kstwobign.sf`).
 */
export function ksTwoSample(first: ArrayLike<number>, second: ArrayLike<number>): KsResult {
  const a = sortedCopy(first);
  const b = sortedCopy(second);
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) throw new MloeError('DATA_INVALID', 'the Kolmogorov–Smirnov test needs values on both sides');
  // D·n·m is an integer; counting in integers keeps ties exact.
  let i = 0;
  let j = 0;
  let largest = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i] as number, b[j] as number);
    while (i < n && (a[i] as number) <= x) i += 1;
    while (j < m && (b[j] as number) <= x) j += 1;
    largest = Math.max(largest, Math.abs(i * m - j * n));
  }
  const statistic = largest / (n * m);
  if (n * m <= KS_EXACT_MAX_PRODUCT) {
    return { statistic, pValue: ksExactPValue(n, m, largest), method: 'exact' };
  }
  const effective = Math.sqrt((n * m) / (n + m));
  return { statistic, pValue: kolmogorovSurvival(effective * statistic), method: 'asymptotic' };
}

/**
 * P(D ≥ h/(n·m)) for samples of sizes n and m under the null hypothesis: one minus the share of monotone lattice
 * paths from (0,0) to (n,m) that keep `|i·m − j·n| < h` throughout. Counts are kept as shares of the binomial
 * coefficient, which stay in [0, 1].
 */
function ksExactPValue(n: number, m: number, h: number): number {
  if (h === 0) return 1;
  const inside = (i: number, j: number) => Math.abs(i * m - j * n) < h;
  // row[j] = paths to (i, j) staying inside / C(i + j, j)
  let row = new Float64Array(m + 1);
  row[0] = 1;
  for (let j = 1; j <= m; j += 1) row[j] = inside(0, j) ? (row[j - 1] as number) : 0;
  for (let i = 1; i <= n; i += 1) {
    const next = new Float64Array(m + 1);
    next[0] = inside(i, 0) ? (row[0] as number) : 0;
    for (let j = 1; j <= m; j += 1) {
      next[j] = inside(i, j) ? ((row[j] as number) * i + (next[j - 1] as number) * j) / (i + j) : 0;
    }
    row = next;
  }
  return Math.min(1, Math.max(0, 1 - (row[m] as number)));
}

/** The survival function of Kolmogorov's distribution, `Q(λ) = 2 Σₖ (−1)^(k−1) e^(−2k²λ²)`. */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 1) {
    // The Jacobi theta form converges fast for small λ: 1 − √(2π)/λ Σ e^(−(2k−1)²π²/(8λ²)).
    let sum = 0;
    for (let k = 1; k <= 20; k += 1) sum += Math.exp((-((2 * k - 1) ** 2) * Math.PI ** 2) / (8 * lambda * lambda));
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum));
  }
  let sum = 0;
  for (let k = 1; k <= 100; k += 1) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += k % 2 === 1 ? term : -term;
    if (term < 1e-18) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** The outcome of {@link chiSquareHomogeneity}. */
export interface ChiSquareResult extends TestResult {
  degreesOfFreedom: number;
}

/**
 * Pearson's chi-square test that two count vectors over the same categories come from one distribution (a 2 × k
 * contingency table; categories empty on both sides are left out), without Yates' correction:
 * `scipy.stats.chi2_contingency([expected, actual], correction=False)`.
 */
export function chiSquareHomogeneity(expected: readonly number[], actual: readonly number[]): ChiSquareResult {
  const columns: [number, number][] = [];
  for (let i = 0; i < expected.length; i += 1) {
    const e = expected[i] as number;
    const a = actual[i] ?? 0;
    if (e + a > 0) columns.push([e, a]);
  }
  const rowTotals = [total(columns.map(([e]) => e)), total(columns.map(([, a]) => a))] as const;
  const grand = rowTotals[0] + rowTotals[1];
  if (rowTotals[0] === 0 || rowTotals[1] === 0) {
    throw new MloeError('DATA_INVALID', 'the chi-square test needs values on both sides');
  }
  const degreesOfFreedom = columns.length - 1;
  if (degreesOfFreedom === 0) return { statistic: 0, pValue: 1, degreesOfFreedom };
  let statistic = 0;
  for (const column of columns) {
    const columnTotal = column[0] + column[1];
    for (let r = 0; r < 2; r += 1) {
      const expectedCount = (rowTotals[r as 0 | 1] * columnTotal) / grand;
      statistic += (column[r as 0 | 1] - expectedCount) ** 2 / expectedCount;
    }
  }
  return { statistic, pValue: chiSquareSurvival(statistic, degreesOfFreedom), degreesOfFreedom };
}

/** P(X ≥ x) for a chi-square variable with `k` degrees of freedom: the regularised upper incomplete gamma Q(k/2, x/2). */
export function chiSquareSurvival(x: number, k: number): number {
  if (x <= 0) return 1;
  return upperRegularizedGamma(k / 2, x / 2);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = c[0] as number;
  for (let i = 1; i < 9; i += 1) sum += (c[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Q(a, x) = Γ(a, x)/Γ(a): a series below x < a + 1, a continued fraction (modified Lentz) above. */
export function upperRegularizedGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const logPrefix = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000; n += 1) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.min(1, Math.max(0, 1 - sum * Math.exp(logPrefix)));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i += 1) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.min(1, Math.max(0, Math.exp(logPrefix) * h));
}
