/**
 * The demo pipeline: ingest a housing CSV, validate it, split and standardise it, fit a linear regression and score
 * it. A fixed sequence of activities for now; the spec-driven DAG interpreter will replace the hard-coded steps.
 * Steps exchange artifact references (URI, digest, size), never data.
 */
import { ActivityFailure, ApplicationFailure, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';

import type * as activities from '../activities';
import type { ArtifactRef, RegressionMetrics } from '../activities';
import type { MloeErrorCode } from '../clients/errors';

/** Feature columns of `pipelines/demo/data/housing.csv`. */
export const DEMO_FEATURES = ['sqft', 'bedrooms', 'age_years', 'distance_km'];
/** Target column of the demo data: sale price in thousands. */
export const DEMO_TARGET = 'price_k';
/** Share of rows held out for evaluation. */
export const DEMO_TEST_FRACTION = 0.2;

/** The steps, in execution order. */
export const DEMO_STEPS = ['ingest', 'validate', 'featurize', 'train', 'evaluate'] as const;
/** A step of the demo pipeline. */
export type DemoStep = (typeof DEMO_STEPS)[number];

/** Where a step is in its life. */
export type StepState = 'pending' | 'running' | 'completed' | 'failed';

/** One step as the `status` query reports it. Times are workflow times (ISO 8601), identical on replay. */
export interface StepStatus {
  name: DemoStep;
  state: StepState;
  /** When the workflow scheduled the step. */
  startedAt?: string;
  /** When the workflow saw the step complete or fail. */
  finishedAt?: string;
  /** The step's main output: the dataset, the validation report, the train split, the model, the metrics. */
  output?: ArtifactRef;
  /** Why the step failed, with the error code. */
  error?: string;
}

/** The answer to {@link statusQuery}. */
export interface PipelineStatus {
  state: 'running' | 'completed' | 'failed';
  steps: StepStatus[];
}

/** Query: the pipeline's progress, step by step. */
export const statusQuery = defineQuery<PipelineStatus>('status');

/** Input of {@link demoPipeline}. Both paths are absolute and are read and written by the worker, not the client. */
export interface DemoPipelineInput {
  /** The CSV to learn from (`pipelines/demo/data/housing.csv` in the demo). */
  dataPath: string;
  /** Root directory of the artifact store; artifacts go to `<artifactRoot>/.mloe/artifacts`. */
  artifactRoot: string;
}

/** What {@link demoPipeline} returns. */
export interface DemoPipelineSummary {
  steps: StepStatus[];
  metrics: RegressionMetrics & { trainRows: number };
  /** The fitted model in the features' original units. */
  model: { target: string; intercept: number; coefficients: Record<string, number> };
  artifacts: Record<'dataset' | 'report' | 'train' | 'test' | 'scaler' | 'model' | 'metrics', ArtifactRef>;
}

const RETRY_TRANSIENT = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
  maximumAttempts: 3,
} as const;

/** Data steps read and write small files: quick, and worth a few retries on transient I/O errors. */
const dataActivities = proxyActivities<typeof activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: RETRY_TRANSIENT,
});

/** Training and evaluation get more time; they are deterministic, so a retry only helps with infrastructure errors. */
const modelActivities = proxyActivities<typeof activities>({
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '15 minutes',
  retry: { ...RETRY_TRANSIENT, maximumAttempts: 2 },
});

const STEP_FAILED: MloeErrorCode = 'PIPELINE_STEP_FAILED';

/**
 * Runs the demo pipeline to completion and returns its summary; `status` answers at any point. A failed step fails
 * the workflow with a non-retryable `PIPELINE_STEP_FAILED` whose cause is the activity's failure.
 */
export async function demoPipeline(input: DemoPipelineInput): Promise<DemoPipelineSummary> {
  const entries = Object.fromEntries(DEMO_STEPS.map((name) => [name, { name, state: 'pending' }])) as Record<
    DemoStep,
    StepStatus
  >;
  const status: PipelineStatus = { state: 'running', steps: DEMO_STEPS.map((name) => entries[name]) };
  setHandler(statusQuery, () => status);

  /** Runs one step, keeping its status current; `output` picks the artifact the status shows. */
  async function step<T>(name: DemoStep, run: () => Promise<T>, output: (result: T) => ArtifactRef): Promise<T> {
    const entry = entries[name];
    entry.state = 'running';
    entry.startedAt = workflowTime();
    try {
      const result = await run();
      entry.output = output(result);
      entry.state = 'completed';
      return result;
    } catch (error) {
      entry.state = 'failed';
      entry.error = describeFailure(error);
      status.state = 'failed';
      throw ApplicationFailure.create({
        type: STEP_FAILED,
        message: `step ${name} failed: ${entry.error}`,
        nonRetryable: true,
        ...(error instanceof Error ? { cause: error } : {}),
      });
    } finally {
      entry.finishedAt = workflowTime();
    }
  }

  const { artifactRoot, dataPath } = input;
  const ingested = await step(
    'ingest',
    () => dataActivities.ingest({ artifactRoot, dataPath }),
    (r) => r.dataset,
  );
  const validated = await step(
    'validate',
    () =>
      dataActivities.validate({
        artifactRoot,
        dataset: ingested.dataset,
        columns: [...DEMO_FEATURES, DEMO_TARGET],
        label: dataPath,
      }),
    (r) => r.report,
  );
  const features = await step(
    'featurize',
    () =>
      dataActivities.featurize({
        artifactRoot,
        dataset: validated.dataset,
        features: DEMO_FEATURES,
        target: DEMO_TARGET,
        testFraction: DEMO_TEST_FRACTION,
      }),
    (r) => r.train,
  );
  const trained = await step(
    'train',
    () => modelActivities.train({ artifactRoot, train: features.train, scaler: features.scaler }),
    (r) => r.model,
  );
  const evaluated = await step(
    'evaluate',
    () => modelActivities.evaluate({ artifactRoot, model: trained.model, test: features.test }),
    (r) => r.metrics,
  );
  status.state = 'completed';

  return {
    steps: status.steps,
    metrics: {
      rmse: evaluated.rmse,
      r2: evaluated.r2,
      testRows: evaluated.testRows,
      trainRows: features.trainRows,
    },
    model: { target: DEMO_TARGET, intercept: trained.intercept, coefficients: trained.coefficients },
    artifacts: {
      dataset: ingested.dataset,
      report: validated.report,
      train: features.train,
      test: features.test,
      scaler: features.scaler,
      model: trained.model,
      metrics: evaluated.metrics,
    },
  };
}

/**
 * The current workflow time as ISO 8601. In the workflow sandbox `new Date()` is the start time of the current
 * workflow task, recorded in history, so it is the same on replay.
 */
function workflowTime(): string {
  return new Date().toISOString();
}

/** The innermost message of an activity failure, with its error code: what a person needs to fix the step. */
function describeFailure(error: unknown): string {
  let current: unknown = error;
  while (current instanceof ActivityFailure && current.cause !== undefined) current = current.cause;
  if (current instanceof ApplicationFailure && current.type) return `${current.type}: ${current.message}`;
  return current instanceof Error ? current.message : String(current);
}
