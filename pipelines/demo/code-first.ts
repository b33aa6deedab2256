/**
 * The demo pipeline written as code: `pipeline.yaml` beside it as a hand-written Temporal workflow. It runs the same
 * registered steps (ingest → validate → featurize → train → evaluate) with the same timeouts and retries through
 * `mloeSteps`, so it gets what the spec interpreter gives a step: artifacts in the run's store, the cache, lineage
 * records. Only the orchestration is written by hand: plain TypeScript between `await`s.
 *
 * A worker runs it from its own workflows bundle (`workflowsPath: require.resolve('./pipelines/demo/code-first')`)
 * with the pipeline worker's activities; `test/code-first.test.ts` does exactly that.
 */
import { mloeSteps, type RunStepResult, type StepRunOptions } from '../../workflows/mloe-steps';

/** The steps, in execution order (the same as `pipeline.yaml`'s). */
export const DEMO_STEPS = ['ingest', 'validate', 'featurize', 'train', 'evaluate'] as const;
/** A step of the demo pipeline. */
export type DemoStep = (typeof DEMO_STEPS)[number];

/** Feature columns of `data/housing.csv` (the spec's `features` default). */
export const DEMO_FEATURES = ['sqft', 'bedrooms', 'age_years', 'distance_km'];
/** The target column: sale price in thousands (the spec's `target` default). */
export const DEMO_TARGET = 'price_k';

/** Input of {@link housingPrice}: the spec's parameters and the run's settings. */
export interface HousingPriceInput {
  /** The CSV to learn from, absolute or relative to `workingDir` (on the worker). */
  dataPath: string;
  /** Share of rows held out for evaluation; 0.2 when absent. */
  testFraction?: number;
  /** Directory relative paths resolve against (absolute, on the worker). */
  workingDir: string;
  /** The artifact store (`file:///…`, `s3://…`); the worker's default store when absent. */
  artifactStore?: string;
  /** Run every step even if a cached result exists. */
  noCache?: boolean;
}

/** What {@link housingPrice} returns: every step's result (outputs, metrics, cache decision, attempts), by step. */
export type HousingPriceResult = Record<DemoStep, RunStepResult>;

/** Data steps read and write small files: quick, and retried on transient I/O errors (the spec's `defaults`). */
const DATA_STEP: StepRunOptions = {
  timeout: '30s',
  retry: { maxAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
};

/** Training and evaluation are deterministic: a retry only helps with infrastructure errors. */
const MODEL_STEP: StepRunOptions = {
  timeout: '5m',
  retry: { maxAttempts: 2, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
};

/** Runs the demo pipeline; fails with the failing step's activity failure. */
export async function housingPrice(input: HousingPriceInput): Promise<HousingPriceResult> {
  const steps = mloeSteps({
    pipeline: 'housing-price',
    workingDir: input.workingDir,
    ...(input.artifactStore === undefined ? {} : { artifactStore: input.artifactStore }),
    ...(input.noCache === undefined ? {} : { noCache: input.noCache }),
    defaults: DATA_STEP,
  });
  const ingest = await steps.run('ingest', 'ingest@1', { dataPath: input.dataPath });
  const validate = await steps.run('validate', 'validate@1', {
    dataset: ingest.outputs.dataset ?? null,
    columns: [...DEMO_FEATURES, DEMO_TARGET],
    label: input.dataPath,
  });
  const featurize = await steps.run('featurize', 'featurize@1', {
    dataset: validate.outputs.dataset ?? null,
    features: DEMO_FEATURES,
    target: DEMO_TARGET,
    testFraction: input.testFraction ?? 0.2,
  });
  const train = await steps.run(
    'train',
    'train@1',
    { train: featurize.outputs.train ?? null, scaler: featurize.outputs.scaler ?? null },
    MODEL_STEP,
  );
  const evaluate = await steps.run(
    'evaluate',
    'evaluate@1',
    { model: train.outputs.model ?? null, test: featurize.outputs.test ?? null },
    MODEL_STEP,
  );
  return { ingest, validate, featurize, train, evaluate };
}
