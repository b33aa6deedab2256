/**
 * Multinomial (softmax) logistic regression: minimises the mean cross-entropy plus `l2 / 2` times the squared weights
 * (intercepts unpenalised) with L-BFGS (`lbfgs.ts`), from zero weights, so the fit is deterministic. Written here
 * because `ml-logistic-regression` has no intercept, a diverging fixed-step descent and a wrong `predict`
 * (/work/shared/ml-notes.md).
 */
import { minimize } from './lbfgs';

/** Hyperparameters of the softmax regression. */
export interface SoftmaxParams {
  /** L2 penalty on the weights (on the mean loss). */
  l2: number;
  maxIterations: number;
  /** Stop when the largest gradient component is below this. */
  tolerance: number;
}

/** The fitted parameters: `weights` is classes × features, row-major. */
export interface SoftmaxParameters {
  weights: number[];
  intercepts: number[];
}

/** What fitting reports besides the parameters. */
export interface SoftmaxFit {
  parameters: SoftmaxParameters;
  /** The objective (mean cross-entropy + penalty) after each iteration. */
  lossHistory: number[];
  iterations: number;
  converged: boolean;
}

/** Fits on a row-major `rows` × `width` matrix and class indices `labels` (0 … classes-1). */
export function fitSoftmax(
  data: Float64Array,
  rows: number,
  width: number,
  labels: Int32Array,
  classes: number,
  params: SoftmaxParams,
): SoftmaxFit {
  const size = classes * width + classes;
  const logits = new Float64Array(classes);
  const objective = (theta: Float64Array, gradient: Float64Array): number => {
    gradient.fill(0);
    let loss = 0;
    for (let i = 0; i < rows; i += 1) {
      const row = i * width;
      let top = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < classes; k += 1) {
        let z = theta[classes * width + k] ?? 0;
        const w = k * width;
        for (let j = 0; j < width; j += 1) z += (theta[w + j] ?? 0) * (data[row + j] ?? 0);
        logits[k] = z;
        if (z > top) top = z;
      }
      let sum = 0;
      for (let k = 0; k < classes; k += 1) {
        const e = Math.exp((logits[k] ?? 0) - top);
        logits[k] = e;
        sum += e;
      }
      const label = labels[i] ?? 0;
      loss -= Math.log((logits[label] ?? 0) / sum);
      for (let k = 0; k < classes; k += 1) {
        const delta = (logits[k] ?? 0) / sum - (k === label ? 1 : 0);
        const w = k * width;
        for (let j = 0; j < width; j += 1) gradient[w + j] = (gradient[w + j] ?? 0) + delta * (data[row + j] ?? 0);
        gradient[classes * width + k] = (gradient[classes * width + k] ?? 0) + delta;
      }
    }
    let penalty = 0;
    for (let p = 0; p < size; p += 1) {
      gradient[p] = (gradient[p] ?? 0) / rows;
      if (p < classes * width) {
        const value = theta[p] ?? 0;
        penalty += value * value;
        gradient[p] = (gradient[p] ?? 0) + params.l2 * value;
      }
    }
    return loss / rows + (params.l2 / 2) * penalty;
  };
  const result = minimize(objective, new Float64Array(size), {
    maxIterations: params.maxIterations,
    gradientTolerance: params.tolerance,
  });
  return {
    parameters: {
      weights: Array.from(result.x.subarray(0, classes * width)),
      intercepts: Array.from(result.x.subarray(classes * width)),
    },
    lossHistory: result.history,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/** Class probabilities of `rows` rows (row-major `rows` × classes). */
export function softmaxProbabilities(
  parameters: { weights: Float64Array; intercepts: Float64Array },
  data: Float64Array,
  rows: number,
  width: number,
): Float64Array {
  const classes = parameters.intercepts.length;
  const out = new Float64Array(rows * classes);
  for (let i = 0; i < rows; i += 1) {
    const row = i * width;
    const at = i * classes;
    let top = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < classes; k += 1) {
      let z = parameters.intercepts[k] ?? 0;
      const w = k * width;
      for (let j = 0; j < width; j += 1) z += (parameters.weights[w + j] ?? 0) * (data[row + j] ?? 0);
      out[at + k] = z;
      if (z > top) top = z;
    }
    let sum = 0;
    for (let k = 0; k < classes; k += 1) {
      const e = Math.exp((out[at + k] ?? 0) - top);
      out[at + k] = e;
      sum += e;
    }
    for (let k = 0; k < classes; k += 1) out[at + k] = (out[at + k] ?? 0) / sum;
  }
  return out;
}
