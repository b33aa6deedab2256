/**
 * The numerics of the demo pipeline, pure and dependency-free: feature standardisation, ordinary least squares by the
 * normal equations, and regression metrics. Small dense problems only (a handful of features, thousands of rows).
 */
import { MloeError } from '../core/errors';

/** Mean and (population) standard deviation of one feature, computed on the training split. */
export interface FeatureScale {
  name: string;
  mean: number;
  std: number;
}

/** A fitted linear model: `prediction = intercept + Σ coefficients[j] · x[j]`. */
export interface LinearFit {
  intercept: number;
  coefficients: number[];
}

/** Mean and population standard deviation of every column of `rows`. */
export function columnScales(names: readonly string[], rows: readonly (readonly number[])[]): FeatureScale[] {
  return names.map((name, j) => {
    const values = rows.map((row) => at(row, j));
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
    return { name, mean, std: Math.sqrt(variance) };
  });
}

/** `(x - mean) / std` for every feature of one row. */
export function standardizeRow(row: readonly number[], scales: readonly FeatureScale[]): number[] {
  return scales.map((scale, j) => (at(row, j) - scale.mean) / scale.std);
}

/**
 * Fits `y ≈ intercept + X·β` by ordinary least squares, solving the normal equations `(AᵀA) θ = Aᵀy` (A is X with a
 * leading column of ones) with a Cholesky factorisation. Throws `MODEL_FIT_FAILED` when `AᵀA` is singular, i.e. the
 * features are collinear or there are fewer rows than parameters. Standardised features keep `AᵀA` well conditioned.
 */
export function fitOls(x: readonly (readonly number[])[], y: readonly number[]): LinearFit {
  const first = x[0];
  if (first === undefined || x.length !== y.length) {
    throw new MloeError(
      'MODEL_FIT_FAILED',
      `need as many targets as rows, got ${x.length} rows and ${y.length} targets`,
    );
  }
  const p = first.length + 1;
  if (x.length < p) {
    throw new MloeError('MODEL_FIT_FAILED', `need at least ${p} rows to fit ${p} parameters, got ${x.length}`);
  }

  const gram: number[][] = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const moment = new Array<number>(p).fill(0);
  x.forEach((features, i) => {
    const a = [1, ...features];
    const target = at(y, i);
    for (let j = 0; j < p; j += 1) {
      const aj = at(a, j);
      moment[j] = at(moment, j) + aj * target;
      const gramRow = at(gram, j);
      for (let k = 0; k <= j; k += 1) gramRow[k] = at(gramRow, k) + aj * at(a, k);
    }
  });
  for (let j = 0; j < p; j += 1) for (let k = j + 1; k < p; k += 1) at(gram, j)[k] = at(at(gram, k), j);

  const theta = solveCholesky(gram, moment);
  return { intercept: at(theta, 0), coefficients: theta.slice(1) };
}

/** Solves `M z = b` for a symmetric positive definite `M`; throws `MODEL_FIT_FAILED` when `M` is (nearly) singular. */
function solveCholesky(m: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const largestDiagonal = Math.max(...m.map((row, i) => Math.abs(at(row, i))));
  const lower: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j <= i; j += 1) {
      let sum = at(at(m, i), j);
      for (let k = 0; k < j; k += 1) sum -= at(at(lower, i), k) * at(at(lower, j), k);
      if (i === j) {
        if (!(sum > 1e-12 * largestDiagonal)) {
          throw new MloeError(
            'MODEL_FIT_FAILED',
            'the normal equations are singular: some features are constant or collinear on the training data',
          );
        }
        at(lower, i)[i] = Math.sqrt(sum);
      } else {
        at(lower, i)[j] = sum / at(at(lower, j), j);
      }
    }
  }
  // Forward substitution L w = b, then back substitution Lᵀ z = w.
  const w = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i += 1) {
    let sum = at(b, i);
    for (let k = 0; k < i; k += 1) sum -= at(at(lower, i), k) * at(w, k);
    w[i] = sum / at(at(lower, i), i);
  }
  const z = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i -= 1) {
    let sum = at(w, i);
    for (let k = i + 1; k < n; k += 1) sum -= at(at(lower, k), i) * at(z, k);
    z[i] = sum / at(at(lower, i), i);
  }
  return z;
}

/** The model's prediction for one row of features. */
export function predict(fit: LinearFit, features: readonly number[]): number {
  return fit.coefficients.reduce((sum, coefficient, j) => sum + coefficient * at(features, j), fit.intercept);
}

/** Root mean squared error of predictions against targets. */
export function rootMeanSquaredError(targets: readonly number[], predictions: readonly number[]): number {
  const squared = targets.reduce((sum, target, i) => sum + (target - at(predictions, i)) ** 2, 0);
  return Math.sqrt(squared / targets.length);
}

/** Coefficient of determination, `1 - SS_res / SS_tot`, with the mean of `targets` as the baseline. */
export function rSquared(targets: readonly number[], predictions: readonly number[]): number {
  const mean = targets.reduce((sum, target) => sum + target, 0) / targets.length;
  const residual = targets.reduce((sum, target, i) => sum + (target - at(predictions, i)) ** 2, 0);
  const total = targets.reduce((sum, target) => sum + (target - mean) ** 2, 0);
  return 1 - residual / total;
}

/** Indexing that fails loudly instead of yielding `undefined` (the arrays here are dense by construction). */
function at<T>(values: readonly T[], index: number): T {
  const value = values[index];
  if (value === undefined) throw new MloeError('INTERNAL', `index ${index} out of range (length ${values.length})`);
  return value;
}
