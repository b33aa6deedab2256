/**
 * The training and evaluation steps of the demo pipeline (`train@1`, `evaluate@1`, run by `runStep` through
 * `activities/steps/builtin.ts`): linear regression. Both are deterministic functions of their input artifacts and
 * write content-addressed outputs, so they are idempotent: a retry produces the same artifacts.
 */
import { z } from 'zod';

import { artifactRefSchema, getJson, getText, putJson, type ArtifactRef, type ArtifactStore } from './artifacts';
import { scalerSchema } from './data';
import { fitOls, predict, rSquared, rootMeanSquaredError } from './linear-model';
import { parseNumericCsv, type NumericTable } from './table';

/** The model artifact {@link trainInto} writes. */
export const modelSchema = z.object({
  kind: z.literal('linear-regression'),
  target: z.string(),
  features: z.array(z.string()),
  /** Fitted on standardised features: apply to rows transformed with `scaler`. */
  standardized: z.object({ intercept: z.number(), coefficients: z.array(z.number()) }),
  /** The same model in the features' original units, for reading (and scoring raw rows). */
  original: z.object({ intercept: z.number(), coefficients: z.record(z.string(), z.number()) }),
  /** The scaler the standardised coefficients expect. */
  scaler: artifactRefSchema,
  trainRows: z.number().int(),
});

/** A parsed model artifact. */
export type LinearModel = z.infer<typeof modelSchema>;

/** Input of {@link trainInto}. */
export interface TrainInput {
  /** The training split written by `featurize`. */
  train: ArtifactRef;
  /** The scaler written by `featurize` alongside it. */
  scaler: ArtifactRef;
}

/** Output of {@link trainInto}. */
export interface TrainOutput {
  /** JSON {@link LinearModel}. */
  model: ArtifactRef;
  /** The fitted model in original units (a few numbers, returned for display). */
  intercept: number;
  coefficients: Record<string, number>;
}

/**
 * Fits ordinary least squares on the training split (normal equations, see `fitOls`). Collinear or constant features
 * fail with a non-retryable `MODEL_FIT_FAILED`.
 */
export async function trainInto(store: ArtifactStore, input: TrainInput): Promise<TrainOutput> {
  const scaler = await getJson(store, input.scaler, scalerSchema, 'a scaler');
  const features = scaler.features.map((feature) => feature.name);
  const table = await readSplit(store, input.train, features, scaler.target);
  const fit = fitOls(
    table.rows.map((row) => row.slice(0, features.length)),
    table.rows.map((row) => row[features.length] ?? Number.NaN),
  );

  // Undo the standardisation: β_j (x_j - μ_j) / σ_j = (β_j / σ_j) x_j - β_j μ_j / σ_j.
  const coefficients: Record<string, number> = {};
  let intercept = fit.intercept;
  scaler.features.forEach((feature, j) => {
    const perUnit = (fit.coefficients[j] ?? Number.NaN) / feature.std;
    coefficients[feature.name] = perUnit;
    intercept -= perUnit * feature.mean;
  });

  const model: LinearModel = {
    kind: 'linear-regression',
    target: scaler.target,
    features,
    standardized: fit,
    original: { intercept, coefficients },
    scaler: input.scaler,
    trainRows: table.rows.length,
  };
  const modelRef = await putJson(store, model, {
    type: 'model',
    metadata: { kind: 'linear-regression', target: scaler.target },
  });
  return { model: modelRef, intercept, coefficients };
}

/** The metrics artifact {@link evaluateInto} writes. */
export interface RegressionMetrics {
  /** Root mean squared error on the test split, in the target's units. */
  rmse: number;
  /** Coefficient of determination on the test split. */
  r2: number;
  testRows: number;
}

/** Input of {@link evaluateInto}. */
export interface EvaluateInput {
  model: ArtifactRef;
  /** The test split written by `featurize`, standardised with the model's scaler. */
  test: ArtifactRef;
}

/** Output of {@link evaluateInto}. */
export interface EvaluateOutput extends RegressionMetrics {
  /** JSON {@link RegressionMetrics}. */
  metrics: ArtifactRef;
}

/** Scores the model on the test split: RMSE and R². */
export async function evaluateInto(store: ArtifactStore, input: EvaluateInput): Promise<EvaluateOutput> {
  const model = await getJson(store, input.model, modelSchema, 'a linear-regression model');
  const table = await readSplit(store, input.test, model.features, model.target);
  const targets = table.rows.map((row) => row[model.features.length] ?? Number.NaN);
  const predictions = table.rows.map((row) => predict(model.standardized, row.slice(0, model.features.length)));
  const metrics: RegressionMetrics = {
    rmse: rootMeanSquaredError(targets, predictions),
    r2: rSquared(targets, predictions),
    testRows: table.rows.length,
  };
  return { ...metrics, metrics: await putJson(store, metrics, { type: 'metrics' }) };
}

/** Reads a split written by `featurize`: the features, then the target. */
async function readSplit(
  store: ArtifactStore,
  ref: ArtifactRef,
  features: readonly string[],
  target: string,
): Promise<NumericTable> {
  return parseNumericCsv(await getText(store, ref), [...features, target], ref.uri);
}
