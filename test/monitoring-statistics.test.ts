/**
 * The drift statistics of `core/monitoring/` against known values. The expected figures were computed once with
 * scipy 1.10.1 and numpy (Debian's python3-scipy, /usr/bin/python3) and written here:
 *
 * - `scipy.stats.ks_2samp(a, b)` (method "auto": exact for these sizes) for the small samples;
 * - for the Seattle weather samples (366 × 365, past the exact method's size), the statistic of `ks_2samp` and
 *   `scipy.stats.kstwobign.sf(sqrt(n·m/(n+m))·D)`, the limiting distribution our asymptotic p-value uses;
 * - `scipy.stats.chi2_contingency(table, correction=False)[:3]` and `scipy.stats.chi2.sf(x, k)`;
 * - PSI as `np.sum((cp - rp) * np.log(cp / rp))` over `np.unique(np.quantile(ref, np.arange(1, 10) / 10))` edges, bins
 *   assigned with `np.searchsorted(edges, x, side="left")` and proportions clamped at 1e-4.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { compareCategorical, compareNumeric, UNSEEN_CATEGORY } from '../core/monitoring/drift';
import {
  binCounts,
  chiSquareHomogeneity,
  chiSquareSurvival,
  fitQuantileEdges,
  kolmogorovSurvival,
  ksTwoSample,
  populationStabilityIndex,
} from '../core/monitoring/statistics';

/** seattle-weather.csv of vega-datasets: date, precipitation, temp_max, temp_min, wind, weather. */
function seattleWeather(): { date: string; [column: string]: string | number }[] {
  const text = readFileSync(
    join(__dirname, '..', 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv'),
    'utf8',
  ).trim();
  const [header = '', ...lines] = text.split('\n');
  const names = header.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(
      names.map((name, i) => [name, name === 'date' || name === 'weather' ? (cells[i] ?? '') : Number(cells[i])]),
    ) as { date: string };
  });
}

const rows = seattleWeather();
const year = (y: string) => rows.filter((row) => row.date.startsWith(y));
const column = (part: typeof rows, name: string) => part.map((row) => row[name] as number);

describe('two-sample Kolmogorov–Smirnov', () => {
  it('matches scipy ks_2samp on small samples (exact p-value)', () => {
    const a = [
      0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28,
      2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47,
    ];
    const b = [2.2, 1.1, 0.9, 1.7, 0.3, 2.9, 1.4, 0.8, 1.9, 2.5, 0.1, 1.2, 1.6, 3.1, 0.7, 1.3, 2.0, 1.8];
    const result = ksTwoSample(a, b);
    expect(result.method).toBe('exact');
    expect(result.statistic).toBeCloseTo(0.6088888888888889, 12);
    expect(result.pValue).toBeCloseTo(0.00037146346826993936, 12);
  });

  it('matches scipy with ties', () => {
    const result = ksTwoSample([1, 1, 2, 2, 2, 3, 3, 4, 5, 5], [2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 6, 7]);
    expect(result.statistic).toBeCloseTo(0.4166666666666667, 12);
    expect(result.pValue).toBeCloseTo(0.23373839782508513, 10);
  });

  it('uses the limiting distribution for large samples (Seattle 2012 vs 2015)', () => {
    const y2012 = year('2012');
    const y2015 = year('2015');
    expect([y2012.length, y2015.length]).toEqual([366, 365]);
    const expected: Record<string, [number, number]> = {
      temp_max: [0.15254135788606935, 0.0004050065259242906],
      wind: [0.07620330863088554, 0.23906849296356963],
      precipitation: [0.09485739950595107, 0.07459807275249666],
    };
    for (const [feature, [statistic, pValue]] of Object.entries(expected)) {
      const result = ksTwoSample(column(y2012, feature), column(y2015, feature));
      expect(result.method).toBe('asymptotic');
      expect(result.statistic).toBeCloseTo(statistic, 12);
      expect(result.pValue).toBeCloseTo(pValue, 10);
    }
  });

  it('is 0 with p-value 1 for identical samples, and the survival function is monotone', () => {
    expect(ksTwoSample([1, 2, 3], [3, 2, 1])).toEqual({ statistic: 0, pValue: 1, method: 'exact' });
    expect(kolmogorovSurvival(0)).toBe(1);
    let previous = 1;
    for (let lambda = 0.1; lambda < 3; lambda += 0.05) {
      const value = kolmogorovSurvival(lambda);
      expect(value).toBeLessThanOrEqual(previous);
      previous = value;
    }
    // Both series agree where they meet.
    expect(kolmogorovSurvival(0.9999999)).toBeCloseTo(kolmogorovSurvival(1.0000001), 6);
  });
});

describe('chi-square test of homogeneity', () => {
  it('matches scipy chi2_contingency without correction', () => {
    const result = chiSquareHomogeneity([10, 20, 30], [15, 15, 40]);
    expect(result.statistic).toBeCloseTo(2.3877551020408165, 12);
    expect(result.pValue).toBeCloseTo(0.30304391468510006, 12);
    expect(result.degreesOfFreedom).toBe(2);
  });

  it('matches scipy on the Seattle weather labels, 2012 vs 2015, leaving out empty categories', () => {
    // drizzle, fog, rain, snow, sun
    const result = chiSquareHomogeneity([31, 5, 191, 21, 118, 0], [7, 52, 144, 0, 162, 0]);
    expect(result.statistic).toBeCloseTo(88.4193937452583, 10);
    expect(result.pValue / 2.8523590754883294e-18).toBeCloseTo(1, 8);
    expect(result.degreesOfFreedom).toBe(4);
  });

  it('has the survival function of scipy.stats.chi2', () => {
    expect(chiSquareSurvival(3.5, 1)).toBeCloseTo(0.0613688291394023, 12);
    expect(chiSquareSurvival(250, 4) / 6.509689997375721e-53).toBeCloseTo(1, 8);
    expect(chiSquareSurvival(0.2, 7)).toBeCloseTo(0.9999748437491691, 12);
  });
});

function expectCloseList(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((value, i) => expect(actual[i]).toBeCloseTo(value, 10));
}

describe('population stability index', () => {
  it('fits quantile edges on the reference and matches numpy (Seattle temp_max, 2012 vs 2015)', () => {
    const reference = column(year('2012'), 'temp_max');
    const current = column(year('2015'), 'temp_max');
    const edges = fitQuantileEdges(reference, 10);
    expectCloseList(edges, [6.7, 8.3, 10.0, 12.2, 14.7, 17.2, 19.4, 22.2, 24.4]);
    expect(binCounts(edges, reference)).toEqual([41, 37, 40, 29, 36, 42, 36, 37, 32, 36]);
    expect(binCounts(edges, current)).toEqual([20, 16, 26, 49, 39, 51, 36, 30, 24, 74]);
    expect(populationStabilityIndex(binCounts(edges, reference), binCounts(edges, current))).toBeCloseTo(
      0.22526787900838424,
      10,
    );
  });

  it('gives ties one bin (precipitation: half the days are dry)', () => {
    const reference = column(year('2012'), 'precipitation');
    const edges = fitQuantileEdges(reference, 10);
    expectCloseList(edges, [0, 1, 2.65, 5.6, 11.05]);
    expect(binCounts(edges, reference)).toEqual([189, 34, 33, 38, 35, 37]);
    const psi = populationStabilityIndex(
      binCounts(edges, reference),
      binCounts(edges, column(year('2015'), 'precipitation')),
    );
    expect(psi).toBeCloseTo(0.04383762425012261, 10);
  });

  it('is 0 for identical histograms and clamps empty bins', () => {
    expect(populationStabilityIndex([5, 5], [50, 50])).toBe(0);
    // (0.5 − 1)·ln(0.5/1) + (0.5 − 1e-4)·ln(0.5/1e-4): the empty reference bin counts as 1e-4
    expect(populationStabilityIndex([10, 0], [5, 5])).toBeCloseTo(
      (0.5 - 1) * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4),
      12,
    );
    expect(() => populationStabilityIndex([0, 0], [1, 1])).toThrow(/at least one value/);
  });
});

describe('per-feature comparison', () => {
  it('flags temp_max of 2015 against 2012 by PSI and KS, but not wind', () => {
    const thresholds = { psi: 0.2, ksPValue: 0.01 };
    const y2012 = year('2012');
    const y2015 = year('2015');
    const temp = compareNumeric('temp_max', column(y2012, 'temp_max'), column(y2015, 'temp_max'), thresholds);
    expect(temp.drifted).toBe(true);
    expect(temp.reasons).toEqual(['psi 0.2253 >= 0.2', 'ks p-value 0.000405 < 0.01 (D = 0.1525)']);
    const wind = compareNumeric('wind', column(y2012, 'wind'), column(y2015, 'wind'), thresholds);
    expect(wind.drifted).toBe(false);
    expect(wind.psi).toBeCloseTo(0.07052082431085634, 10);
  });

  it('counts missing values apart and compares categories with an unseen bucket', () => {
    const numeric = compareNumeric('x', [1, 2, 3, null, Number.NaN, 4, 5, 6, 7, 8, 9, 10], [1, 2, null], { psi: 0.2 });
    expect(numeric.missing).toEqual({ reference: 2, current: 1 });
    expect(numeric.referenceRows).toBe(10);
    const categorical = compareCategorical('c', ['a', 'b', 'a', null], ['a', 'c', 'c', 'b'], {
      psi: 0.2,
      chiSquarePValue: 0.05,
    });
    expect(categorical.bins).toEqual({
      categories: ['a', 'b', UNSEEN_CATEGORY],
      reference: [2, 1, 0],
      current: [1, 1, 2],
    });
    expect(categorical.missing).toEqual({ reference: 1, current: 0 });
    expect(categorical.drifted).toBe(true);
  });
});
