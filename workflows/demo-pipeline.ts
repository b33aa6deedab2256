/**
 * The demo pipeline written by hand: the code-first twin of `pipelines/demo/pipeline.yaml` (ingest a housing CSV,
 * validate it, split and standardise it, fit a linear regression and score it), as plain Temporal workflow code that
 * runs the built-in steps through `mloeSteps`. It shares the spec interpreter's step execution: artifacts in the
 * store, the cache, retries, lineage records. Steps exchange artifact references (URI, digest, size), never data.
 */
import { ActivityFailure, ApplicationFailure, defineQuery, setHandler } from '@temporalio/workflow';

import type { ArtifactRef, RegressionMetrics } from '../activities';
import type { RunStepResult } from '../activities/steps';
import type { MloeErrorCode } from '../core/errors';
import type { JsonValue } from '../core/spec';
import { mloeSteps, type StepRunOptions } from './mloe-steps';

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

/** Data steps read and write small files: quick, and worth a few retries on transient I/O errors. */
const DATA_STEP = {
  timeout: '30s',
  retry: { maxAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
} as const;

/** Training and evaluation get more time; they are deterministic, so a retry only helps with infrastructure errors. */
const MODEL_STEP = { ...DATA_STEP, timeout: '5m', retry: { ...DATA_STEP.retry, maxAttempts: 2 } } as const;

const STEP_FAILED: MloeErrorCode = 'PIPELINE_STEP_FAILED';

/**
 * Runs the demo pipeline to completion and returns its summary; `status` answers at any point. A failed step fails
 * the workflow with a non-retryable `PIPELINE_STEP_FAILED` whose cause is the step's activity failure.
 */
export async function demoPipeline(input: DemoPipelineInput): Promise<DemoPipelineSummary> {
  const entries = Object.fromEntries(DEMO_STEPS.map((name) => [name, { name, state: 'pending' }])) as Record<
    DemoStep,
    StepStatus
  >;
  const status: PipelineStatus = { state: 'running', steps: DEMO_STEPS.map((name) => entries[name]) };
  setHandler(statusQuery, () => status);
  const steps = mloeSteps({
    pipeline: 'demo',
    workingDir: input.artifactRoot,
    artifactStore: `${input.artifactRoot}/.mloe/artifacts`,
  });

  /** Runs one step, keeping its status current; `output` names the artifact output the status shows. */
  async function step(
    name: DemoStep,
    inputs: Record<string, JsonValue>,
    output: string,
    options: StepRunOptions,
  ): Promise<RunStepResult> {
    const entry = entries[name];
    entry.state = 'running';
    entry.startedAt = workflowTime();
    try {
      const result = await steps.run(name, `${name}@1`, inputs, options);
      entry.output = result.outputs[output] as unknown as ArtifactRef;
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

  const { dataPath } = input;
  const ingested = await step('ingest', { dataPath }, 'dataset', DATA_STEP);
  const validated = await step(
    'validate',
    { dataset: ingested.outputs.dataset ?? null, columns: [...DEMO_FEATURES, DEMO_TARGET], label: dataPath },
    'report',
    DATA_STEP,
  );
  const features = await step(
    'featurize',
    {
      dataset: validated.outputs.dataset ?? null,
      features: DEMO_FEATURES,
      target: DEMO_TARGET,
      testFraction: DEMO_TEST_FRACTION,
    },
    'train',
    DATA_STEP,
  );
  const trained = await step(
    'train',
    { train: features.outputs.train ?? null, scaler: features.outputs.scaler ?? null },
    'model',
    MODEL_STEP,
  );
  const evaluated = await step(
    'evaluate',
    { model: trained.outputs.model ?? null, test: features.outputs.test ?? null },
    'metrics',
    MODEL_STEP,
  );
  status.state = 'completed';

  const scores = evaluated.metrics as unknown as RegressionMetrics;
  const artifact = (value: JsonValue | undefined): ArtifactRef => value as unknown as ArtifactRef;
  return {
    steps: status.steps,
    metrics: {
      rmse: scores.rmse,
      r2: scores.r2,
      testRows: scores.testRows,
      trainRows: Number(features.outputs.trainRows),
    },
    model: {
      target: DEMO_TARGET,
      intercept: Number(trained.outputs.intercept),
      coefficients: trained.outputs.coefficients as Record<string, number>,
    },
    artifacts: {
      dataset: artifact(ingested.outputs.dataset),
      report: artifact(validated.outputs.report),
      train: artifact(features.outputs.train),
      test: artifact(features.outputs.test),
      scaler: artifact(features.outputs.scaler),
      model: artifact(trained.outputs.model),
      metrics: artifact(evaluated.outputs.metrics),
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
