/**
 * The model document (`mloe.model`, version 1) that `train@2` writes and `evaluate@2`, `mloe serve` and `deploy@1`
 * read: the algorithm, its fitted parameters, the label's classes, the hyperparameters and seed, and the fitted
 * features transform, so a model answers raw rows on its own. {@link predictRecords} is the one prediction path: the
 * transform (`transformRow`), then the algorithm. Pure: no I/O. Reference: docs/ml-models.md.
 */
import { z } from 'zod';

import {
  featuresTransformSchema,
  transformRow,
  TransformInputError,
  type FeaturesTransform,
} from '../features/transform';
import { compileTree, forestPredict, forestProbabilities, type CompiledTree } from './forest';
import { ridgePredict } from './ridge';
import { softmaxProbabilities } from './softmax';

/** The `format` field of every model document. */
export const MODEL_FORMAT = 'mloe.model';
/** The format version this module writes and reads. */
export const MODEL_FORMAT_VERSION = 1;
/** The algorithms `train@2` fits. */
export const ALGORITHMS = ['softmax-regression', 'random-forest', 'ridge-regression'] as const;
/** An algorithm `train@2` fits. */
export type Algorithm = (typeof ALGORITHMS)[number];

const classSchema = z.union([z.string(), z.number(), z.boolean()]);
const treeSchema = z.strictObject({
  feature: z.array(z.number().int()),
  threshold: z.array(z.number()),
  left: z.array(z.number().int()),
  right: z.array(z.number().int()),
  values: z.array(z.number()),
});

const common = {
  format: z.literal(MODEL_FORMAT),
  version: z.literal(MODEL_FORMAT_VERSION),
  label: z.string(),
  features: featuresTransformSchema,
  hyperparameters: z.record(z.string(), z.json()),
  trainRows: z.number().int().positive(),
  /** Training figures: final loss, training accuracy or RMSE, iterations. */
  training: z.record(z.string(), z.number()),
};

/** Schema of a model document. */
export const modelDocumentSchema = z.discriminatedUnion('algorithm', [
  z.strictObject({
    ...common,
    algorithm: z.literal('softmax-regression'),
    task: z.literal('classification'),
    classes: z.array(classSchema).min(2),
    parameters: z.strictObject({ weights: z.array(z.number()), intercepts: z.array(z.number()) }),
  }),
  z.strictObject({
    ...common,
    algorithm: z.literal('random-forest'),
    task: z.enum(['classification', 'regression']),
    classes: z.array(classSchema).min(2).optional(),
    parameters: z.strictObject({ trees: z.array(treeSchema).min(1) }),
  }),
  z.strictObject({
    ...common,
    algorithm: z.literal('ridge-regression'),
    task: z.literal('regression'),
    parameters: z.strictObject({ coefficients: z.array(z.number()), intercept: z.number() }),
  }),
]);

/** A model document. */
export type ModelDocument = z.infer<typeof modelDocumentSchema>;
/** A class label as the label column holds it. */
export type ClassLabel = z.infer<typeof classSchema>;

/** A model ready to predict: parameters as typed arrays. */
export interface CompiledModel {
  document: ModelDocument;
  task: 'classification' | 'regression';
  classes: readonly ClassLabel[];
  transform: FeaturesTransform;
  /** Probabilities (classification, rows × classes) or values (regression) of a row-major feature matrix. */
  score(data: Float64Array, rows: number): Float64Array;
}

/** Compiles a checked document for prediction. */
export function compileModel(document: ModelDocument): CompiledModel {
  const width = document.features.outputs.length;
  const base = { document, transform: document.features };
  switch (document.algorithm) {
    case 'softmax-regression': {
      const parameters = {
        weights: Float64Array.from(document.parameters.weights),
        intercepts: Float64Array.from(document.parameters.intercepts),
      };
      return {
        ...base,
        task: 'classification',
        classes: document.classes,
        score: (data, rows) => softmaxProbabilities(parameters, data, rows, width),
      };
    }
    case 'random-forest': {
      const trees: CompiledTree[] = document.parameters.trees.map(compileTree);
      const classes = document.classes ?? [];
      return document.task === 'classification'
        ? {
            ...base,
            task: 'classification',
            classes,
            score: (data, rows) => forestProbabilities(trees, classes.length, data, rows, width),
          }
        : { ...base, task: 'regression', classes: [], score: (data, rows) => forestPredict(trees, data, rows, width) };
    }
    case 'ridge-regression': {
      const parameters = {
        coefficients: Float64Array.from(document.parameters.coefficients),
        intercept: document.parameters.intercept,
      };
      return {
        ...base,
        task: 'regression',
        classes: [],
        score: (data, rows) => ridgePredict(parameters, data, rows, width),
      };
    }
  }
}

/** Parses and compiles a model document from JSON text; throws the zod error's message for a malformed one. */
export function parseModelDocument(value: unknown): ModelDocument {
  return modelDocumentSchema.parse(value);
}

/** Predictions of raw rows. */
export interface Predictions {
  /** The predicted class (classification) or value (regression) of each row. */
  predictions: (ClassLabel | number)[];
  /** Per row, the probability of each class (classification only), in `classes` order. */
  probabilities?: number[][];
}

/** The index of each row's most probable class (the first on ties). */
export function argmaxRows(probabilities: Float64Array, rows: number, classes: number): Int32Array {
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i += 1) {
    let best = 0;
    for (let k = 1; k < classes; k += 1) {
      if ((probabilities[i * classes + k] ?? 0) > (probabilities[i * classes + best] ?? 0)) best = k;
    }
    out[i] = best;
  }
  return out;
}

/**
 * Predicts raw rows (objects keyed by column): the features transform, then the model. Throws
 * `TransformInputError` (with the field) for a row the transform refuses, prefixed with the row's index.
 */
export function predictRecords(
  model: CompiledModel,
  records: readonly Readonly<Record<string, unknown>>[],
): Predictions {
  const width = model.transform.outputs.length;
  const data = new Float64Array(records.length * width);
  records.forEach((record, index) => {
    try {
      transformRow(model.transform, (column) => record[column], data, index * width);
    } catch (error) {
      if (error instanceof TransformInputError) {
        throw new TransformInputError(error.field, `row ${index}: ${error.message}`);
      }
      throw error;
    }
  });
  const scores = model.score(data, records.length);
  if (model.task === 'regression') return { predictions: Array.from(scores) };
  const classes = model.classes.length;
  const best = argmaxRows(scores, records.length, classes);
  return {
    predictions: Array.from(best, (index) => model.classes[index] ?? index),
    probabilities: Array.from({ length: records.length }, (_, i) =>
      Array.from(scores.subarray(i * classes, (i + 1) * classes)),
    ),
  };
}
