/**
 * Ridge regression (linear least squares with an L2 penalty `alpha` on the coefficients, the intercept unpenalised,
 * as scikit-learn's `Ridge`): centre the data, solve `(XᵀX + αI) w = Xᵀy` by Cholesky (`ml-matrix`), and
 * `b = ȳ − x̄·w`. `alpha = 0` is ordinary least squares.
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';

import { MloeError } from '../../../core/errors';

/** The fitted parameters. */
export interface RidgeParameters {
  coefficients: number[];
  intercept: number;
}

/** Fits on a row-major `rows` × `width` matrix and targets `y`; `MODEL_FIT_FAILED` for a singular system. */
export function fitRidge(
  data: Float64Array,
  rows: number,
  width: number,
  y: Float64Array,
  alpha: number,
  featureNames: readonly string[],
): RidgeParameters {
  const means = new Float64Array(width);
  let yMean = 0;
  for (let i = 0; i < rows; i += 1) {
    for (let j = 0; j < width; j += 1) means[j] = (means[j] ?? 0) + (data[i * width + j] ?? 0);
    yMean += y[i] ?? 0;
  }
  for (let j = 0; j < width; j += 1) means[j] = (means[j] ?? 0) / rows;
  yMean /= rows;
  const gram = Matrix.zeros(width, width);
  const moment = Matrix.zeros(width, 1);
  const centred = new Float64Array(width);
  for (let i = 0; i < rows; i += 1) {
    for (let j = 0; j < width; j += 1) centred[j] = (data[i * width + j] ?? 0) - (means[j] ?? 0);
    const target = (y[i] ?? 0) - yMean;
    for (let a = 0; a < width; a += 1) {
      const xa = centred[a] ?? 0;
      moment.set(a, 0, moment.get(a, 0) + xa * target);
      for (let b = a; b < width; b += 1) gram.set(a, b, gram.get(a, b) + xa * (centred[b] ?? 0));
    }
  }
  for (let a = 0; a < width; a += 1) {
    for (let b = 0; b < a; b += 1) gram.set(a, b, gram.get(b, a));
    gram.set(a, a, gram.get(a, a) + alpha);
  }
  const cholesky = new CholeskyDecomposition(gram);
  // Singular to working precision: a pivot tiny beside the diagonal it came from (rounding hides exact zeros).
  const lower = cholesky.lowerTriangularMatrix;
  let singular = !cholesky.isPositiveDefinite();
  for (let j = 0; j < width && !singular; j += 1) {
    if (lower.get(j, j) ** 2 <= 1e-10 * Math.max(gram.get(j, j), Number.MIN_VALUE)) singular = true;
  }
  if (singular) {
    throw new MloeError(
      'MODEL_FIT_FAILED',
      `the features (${featureNames.join(', ')}) are collinear or constant: the least-squares system is singular; set alpha > 0 (ridge) or drop a feature`,
    );
  }
  const solution = cholesky.solve(moment);
  const coefficients = Array.from({ length: width }, (_, j) => solution.get(j, 0));
  const intercept = coefficients.reduce((sum, w, j) => sum - w * (means[j] ?? 0), yMean);
  return { coefficients, intercept };
}

/** Predictions of `rows` rows. */
export function ridgePredict(
  parameters: { coefficients: Float64Array; intercept: number },
  data: Float64Array,
  rows: number,
  width: number,
): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i += 1) {
    let sum = parameters.intercept;
    for (let j = 0; j < width; j += 1) sum += (parameters.coefficients[j] ?? 0) * (data[i * width + j] ?? 0);
    out[i] = sum;
  }
  return out;
}
