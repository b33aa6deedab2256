/**
 * Training, pure: a feature matrix and label values in, a model document (`model.ts`), its training metrics and its
 * MLflow signature out. The label decides the task where the algorithm does not (a random forest): strings, booleans
 * and integers are classes, other numbers a regression target, unless `task` says otherwise.
 */
import { z } from 'zod';

import { MloeError } from '../../../core/errors';
import type { FeaturesTransform } from '../features/transform';
import { fitForest, type ForestTarget } from './forest';
import { forestHyperparameters, ridgeHyperparameters, softmaxHyperparameters } from './hyperparameters';
import {
  argmaxRows,
  compileModel,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type Algorithm,
  type ClassLabel,
  type ModelDocument,
} from './model';
import { fitRidge } from './ridge';
import { fitSoftmax } from './softmax';

/** What {@link trainModel} fits. */
export interface TrainRequest {
  algorithm: Algorithm;
  task?: 'classification' | 'regression';
  label: string;
  /** The label column's DuckDB type. */
  labelType: string;
  transform: FeaturesTransform;
  /** Row-major rows × `transform.outputs.length`. */
  data: Float64Array;
  rows: number;
  /** The label of each row, as read (strings, numbers, booleans). */
  labels: readonly unknown[];
  hyperparameters: Readonly<Record<string, unknown>>;
  seed: number;
}

/** What {@link trainModel} returns. */
export interface TrainResult {
  document: ModelDocument;
  /** The `metrics` artifact: `trainLoss` per iteration (softmax), the final figures. */
  metrics: Record<string, number | number[]>;
  signature: { inputs: { name: string; type: string; required: boolean }[]; outputs: { name: string; type: string }[] };
}

function hyperparameters<T extends z.ZodType>(algorithm: string, schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${['hyperparameters', ...issue.path.map(String)].join('.')}: ${issue.message}`,
    );
    const known = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';
    throw new MloeError(
      'CONFIG_INVALID',
      `train@2 (${algorithm}): ${problems.join('; ')} (its hyperparameters: ${known})`,
    );
  }
  return parsed.data;
}

function isClassType(type: string): boolean {
  return /^(VARCHAR|BOOLEAN|ENUM|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)/.test(
    type,
  );
}

function classLabel(value: unknown, label: string, row: number): ClassLabel {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new MloeError('DATA_INVALID', `label column ${label}, row ${row}: ${String(value)} is not a class`);
}

/** The sorted classes and each row's class index; `DATA_INVALID` naming the label for fewer than two classes. */
export function encodeClasses(
  labels: readonly unknown[],
  label: string,
): { classes: ClassLabel[]; indices: Int32Array } {
  const values = labels.map((value, row) => classLabel(value, label, row));
  const classes = [...new Set(values)].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0,
  );
  if (classes.length < 2) {
    throw new MloeError(
      'DATA_INVALID',
      `label column ${label} has ${classes.length === 0 ? 'no values' : `one class only (${JSON.stringify(classes[0])})`} in the training split; rule: a classifier needs at least two classes`,
    );
  }
  const index = new Map(classes.map((value, position) => [value, position]));
  return { classes, indices: Int32Array.from(values, (value) => index.get(value) ?? 0) };
}

function regressionTargets(labels: readonly unknown[], label: string): Float64Array {
  return Float64Array.from(labels, (value, row) => {
    const number = typeof value === 'bigint' ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isFinite(number)) {
      throw new MloeError(
        'DATA_INVALID',
        `label column ${label}, row ${row}: ${JSON.stringify(value)} is not a finite number; rule: a regression target is a number`,
      );
    }
    return number;
  });
}

function signatureOf(transform: FeaturesTransform, label: string, outputType: string): TrainResult['signature'] {
  return {
    inputs: transform.columns.map((column) => ({
      name: column.name,
      type: column.kind === 'numeric' ? 'double' : 'string',
      required: column.impute === undefined,
    })),
    outputs: [{ name: label, type: outputType }],
  };
}

/** Fits the requested model (see the module doc). */
export function trainModel(request: TrainRequest): TrainResult {
  const { transform, data, rows } = request;
  const width = transform.outputs.length;
  if (rows === 0) throw new MloeError('DATA_INVALID', 'the training split is empty (0 rows): nothing to fit');
  for (let p = 0; p < data.length; p += 1) {
    if (!Number.isFinite(data[p] ?? 0)) {
      const column = transform.outputs[p % width] ?? '';
      throw new MloeError(
        'DATA_INVALID',
        `feature ${column}, row ${Math.floor(p / width)}: not a finite number; rule: features are finite (was the split transformed by features@1?)`,
      );
    }
  }
  const task =
    request.algorithm === 'softmax-regression'
      ? 'classification'
      : request.algorithm === 'ridge-regression'
        ? 'regression'
        : (request.task ?? (isClassType(request.labelType) ? 'classification' : 'regression'));
  if (request.task !== undefined && request.task !== task) {
    throw new MloeError('CONFIG_INVALID', `train@2: ${request.algorithm} does ${task}, not ${request.task}`);
  }
  const common = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    label: request.label,
    features: transform,
    trainRows: rows,
  } as const;
  let document: ModelDocument;
  const metrics: Record<string, number | number[]> = {};
  if (task === 'classification') {
    const { classes, indices } = encodeClasses(request.labels, request.label);
    if (request.algorithm === 'softmax-regression') {
      const params = hyperparameters(request.algorithm, softmaxHyperparameters, request.hyperparameters);
      const fit = fitSoftmax(data, rows, width, indices, classes.length, params);
      metrics.trainLoss = fit.lossHistory;
      document = {
        ...common,
        algorithm: 'softmax-regression',
        task: 'classification',
        classes,
        hyperparameters: { ...params, seed: request.seed },
        parameters: fit.parameters,
        training: {
          loss: fit.lossHistory[fit.lossHistory.length - 1] ?? 0,
          iterations: fit.iterations,
          converged: fit.converged ? 1 : 0,
        },
      };
    } else {
      const params = hyperparameters(request.algorithm, forestHyperparameters, request.hyperparameters);
      const target: ForestTarget = { kind: 'classification', labels: indices, classes: classes.length };
      const trees = fitForest(data, rows, width, target, {
        ...params,
        maxFeatures: params.maxFeatures ?? 'sqrt',
        seed: request.seed,
      });
      document = {
        ...common,
        algorithm: 'random-forest',
        task: 'classification',
        classes,
        hyperparameters: { ...params, maxFeatures: params.maxFeatures ?? 'sqrt', seed: request.seed },
        parameters: { trees },
        training: { trees: trees.length, nodes: trees.reduce((sum, tree) => sum + tree.feature.length, 0) },
      };
    }
    const model = compileModel(document);
    const probabilities = model.score(data, rows);
    const predicted = argmaxRows(probabilities, rows, classes.length);
    let correct = 0;
    let logLoss = 0;
    for (let i = 0; i < rows; i += 1) {
      const actual = indices[i] ?? 0;
      if (predicted[i] === actual) correct += 1;
      logLoss -= Math.log(Math.max(1e-15, probabilities[i * classes.length + actual] ?? 0));
    }
    document.training.accuracy = correct / rows;
    document.training.logLoss = logLoss / rows;
    const outputType = typeof classes[0] === 'number' ? 'long' : typeof classes[0] === 'boolean' ? 'boolean' : 'string';
    Object.assign(metrics, { trainAccuracy: correct / rows, trainLogLoss: logLoss / rows });
    return { document, metrics, signature: signatureOf(transform, request.label, outputType) };
  }
  const y = regressionTargets(request.labels, request.label);
  if (request.algorithm === 'ridge-regression') {
    const params = hyperparameters(request.algorithm, ridgeHyperparameters, request.hyperparameters);
    const fit = fitRidge(data, rows, width, y, params.alpha, transform.outputs);
    document = {
      ...common,
      algorithm: 'ridge-regression',
      task: 'regression',
      hyperparameters: { ...params, seed: request.seed },
      parameters: fit,
      training: {},
    };
  } else {
    const params = hyperparameters(request.algorithm, forestHyperparameters, request.hyperparameters);
    const trees = fitForest(
      data,
      rows,
      width,
      { kind: 'regression', y },
      { ...params, maxFeatures: params.maxFeatures ?? 'third', seed: request.seed },
    );
    document = {
      ...common,
      algorithm: 'random-forest',
      task: 'regression',
      hyperparameters: { ...params, maxFeatures: params.maxFeatures ?? 'third', seed: request.seed },
      parameters: { trees },
      training: { trees: trees.length, nodes: trees.reduce((sum, tree) => sum + tree.feature.length, 0) },
    };
  }
  const predictions = compileModel(document).score(data, rows);
  let squares = 0;
  let mean = 0;
  for (let i = 0; i < rows; i += 1) mean += y[i] ?? 0;
  mean /= rows;
  let total = 0;
  for (let i = 0; i < rows; i += 1) {
    squares += ((y[i] ?? 0) - (predictions[i] ?? 0)) ** 2;
    total += ((y[i] ?? 0) - mean) ** 2;
  }
  document.training.rmse = Math.sqrt(squares / rows);
  document.training.r2 = total === 0 ? 0 : 1 - squares / total;
  Object.assign(metrics, { trainRmse: document.training.rmse, trainR2: document.training.r2 });
  return { document, metrics, signature: signatureOf(transform, request.label, 'double') };
}
