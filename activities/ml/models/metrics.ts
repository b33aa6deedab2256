/**
 * Evaluation metrics, pure: classification (accuracy, macro F1, per-class precision, recall, F1 and support, the
 * confusion matrix, ROC AUC: binary, or the macro one-vs-rest average for more classes, as scikit-learn's
 * `roc_auc_score(multi_class="ovr")`; log loss) and regression (RMSE, MAE, R²).
 */
import type { ClassLabel } from './model';

/** Per-class figures. */
export interface ClassReport {
  class: ClassLabel;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Classification metrics of one model on one test set. */
export interface ClassificationMetrics {
  accuracy: number;
  macroF1: number;
  macroPrecision: number;
  macroRecall: number;
  /** Absent when a class has no positive or no negative example in the test set. */
  rocAuc?: number;
  logLoss: number;
  testRows: number;
}

/** Area under the ROC curve of `scores` for binary `positives` (Mann–Whitney, ties averaged); undefined if one class is empty. */
export function rocAuc(scores: Float64Array, positives: Uint8Array): number | undefined {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] ?? 0) - (scores[b] ?? 0));
  let positive = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] ?? 0] === scores[order[i] ?? 0]) j += 1;
    const rank = (i + j + 2) / 2; // 1-based average rank of the tie group
    for (let k = i; k <= j; k += 1) {
      if (positives[order[k] ?? 0] === 1) {
        positive += 1;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negative = n - positive;
  if (positive === 0 || negative === 0) return undefined;
  return (rankSum - (positive * (positive + 1)) / 2) / (positive * negative);
}

/**
 * Classification metrics: `actual` holds each row's true class index into `classes` (-1 for a class the model does
 * not know: always wrong), `probabilities` the model's rows × classes probabilities.
 */
export function classificationMetrics(
  classes: readonly ClassLabel[],
  actual: Int32Array,
  probabilities: Float64Array,
): { metrics: ClassificationMetrics; perClass: ClassReport[]; confusion: number[][] } {
  const k = classes.length;
  const rows = actual.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  let logLoss = 0;
  for (let i = 0; i < rows; i += 1) {
    let best = 0;
    for (let c = 1; c < k; c += 1) if ((probabilities[i * k + c] ?? 0) > (probabilities[i * k + best] ?? 0)) best = c;
    const truth = actual[i] ?? -1;
    if (truth >= 0) {
      const row = confusion[truth] as number[];
      row[best] = (row[best] ?? 0) + 1;
      if (best === truth) correct += 1;
    }
    logLoss -= Math.log(Math.max(1e-15, truth >= 0 ? (probabilities[i * k + truth] ?? 0) : 0));
  }
  const perClass: ClassReport[] = classes.map((label, c) => {
    const tp = confusion[c]?.[c] ?? 0;
    const predicted = confusion.reduce((sum, row) => sum + (row[c] ?? 0), 0);
    const support = confusion[c]?.reduce((sum, n) => sum + n, 0) ?? 0;
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { class: label, precision, recall, f1, support };
  });
  const mean = (values: number[]): number =>
    values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
  let auc: number | undefined;
  if (k === 2) {
    auc = rocAuc(
      Float64Array.from({ length: rows }, (_, i) => probabilities[i * 2 + 1] ?? 0),
      Uint8Array.from(actual, (c) => (c === 1 ? 1 : 0)),
    );
  } else {
    const aucs = classes.map((_, c) =>
      rocAuc(
        Float64Array.from({ length: rows }, (_, i) => probabilities[i * k + c] ?? 0),
        Uint8Array.from(actual, (a) => (a === c ? 1 : 0)),
      ),
    );
    auc = aucs.every((value) => value !== undefined)
      ? mean(aucs.filter((value): value is number => value !== undefined))
      : undefined;
  }
  return {
    metrics: {
      accuracy: rows === 0 ? 0 : correct / rows,
      macroF1: mean(perClass.map((report) => report.f1)),
      macroPrecision: mean(perClass.map((report) => report.precision)),
      macroRecall: mean(perClass.map((report) => report.recall)),
      ...(auc === undefined ? {} : { rocAuc: auc }),
      logLoss: rows === 0 ? 0 : logLoss / rows,
      testRows: rows,
    },
    perClass,
    confusion,
  };
}

/** Regression metrics of one model on one test set. */
export interface RegressionMetrics {
  rmse: number;
  mae: number;
  r2: number;
  testRows: number;
}

/** RMSE, MAE and R² (1 − SSE/SST; 0 when the targets are constant). */
export function regressionMetrics(actual: Float64Array, predicted: Float64Array): RegressionMetrics {
  const rows = actual.length;
  let mean = 0;
  for (const value of actual) mean += value;
  mean /= Math.max(1, rows);
  let squares = 0;
  let absolute = 0;
  let total = 0;
  for (let i = 0; i < rows; i += 1) {
    const error = (actual[i] ?? 0) - (predicted[i] ?? 0);
    squares += error * error;
    absolute += Math.abs(error);
    total += ((actual[i] ?? 0) - mean) ** 2;
  }
  return {
    rmse: Math.sqrt(squares / Math.max(1, rows)),
    mae: absolute / Math.max(1, rows),
    r2: total === 0 ? 0 : 1 - squares / total,
    testRows: rows,
  };
}
