/**
 * The steps mloe ships, as registry descriptors: the five data and model steps of the demo pipeline
 * (`activities/data.ts`, `activities/training.ts`) and `register`, which puts a model in the MLflow model registry
 * (`activities/steps/register.ts`). Data only; `runStep` maps each to its implementation
 * (`activities/steps/builtin.ts`) and supplies the run's artifact store.
 */
import type { StepDescriptor } from '../spec/registry';
import { MODEL_STEPS } from './models';
import { DATA_STEPS } from './data';

/** Descriptors of the built-in steps, in pipeline order; the model steps (`./models.ts`) come last. */
export const BUILTIN_STEPS: readonly StepDescriptor[] = [
  {
    name: 'ingest',
    version: '1',
    description: 'Copy a data file into the artifact store, unchanged.',
    inputs: {
      dataPath: { type: 'string', description: 'The file to ingest (a path the worker can read).' },
    },
    outputs: {
      dataset: { type: 'dataset', description: "The file's bytes as a content-addressed artifact." },
    },
  },
  {
    name: 'validate',
    version: '1',
    description: 'Check a CSV dataset against the expected columns: all present, no others, every cell numeric.',
    inputs: {
      dataset: { type: 'dataset' },
      columns: { type: 'list', items: 'string', description: 'The columns the data must have, in any order.' },
      label: {
        type: 'string',
        required: false,
        description: 'How error messages name the data (defaults to the artifact URI).',
      },
    },
    outputs: {
      dataset: { type: 'dataset', description: 'The dataset, unchanged: it passed.' },
      report: { type: 'report', description: 'A JSON profile: row count, per-column minimum, maximum and mean.' },
      rows: { type: 'integer' },
    },
  },
  {
    name: 'featurize',
    version: '1',
    description: 'Split a dataset into train and test sets (by row hash) and standardise the features.',
    inputs: {
      dataset: { type: 'dataset' },
      features: { type: 'list', items: 'string' },
      target: { type: 'string' },
      testFraction: { type: 'number', default: 0.2, description: 'Share of rows held out, between 0 and 1.' },
    },
    outputs: {
      train: { type: 'dataset' },
      test: { type: 'dataset' },
      scaler: { type: 'file', description: 'JSON: per-feature mean and standard deviation of the training split.' },
      trainRows: { type: 'integer' },
      testRows: { type: 'integer' },
    },
  },
  {
    name: 'train',
    version: '1',
    description: 'Fit an ordinary least squares linear regression on the training split.',
    inputs: {
      train: { type: 'dataset' },
      scaler: { type: 'file' },
    },
    outputs: {
      model: { type: 'model' },
      intercept: { type: 'number', description: "The fitted intercept in the target's units." },
      coefficients: { type: 'object', description: "Per-feature coefficients in the features' original units." },
    },
  },
  {
    name: 'evaluate',
    version: '1',
    description: 'Score a regression model on the test split.',
    inputs: {
      model: { type: 'model' },
      test: { type: 'dataset' },
    },
    outputs: {
      metrics: { type: 'metrics', description: 'rmse, r2 and testRows.' },
    },
  },
  {
    name: 'register',
    version: '1',
    description:
      'Register a model artifact in the MLflow model registry (the worker needs MLFLOW_TRACKING_URI): an MLflow model ' +
      'directory (MLmodel and the model) in the artifact store, the registered model if missing, a version whose ' +
      "source is that directory and whose run is the pipeline's MLflow run, lineage tags, and an optional alias. " +
      'Never served from the cache; a retry completes what an earlier attempt began.',
    inputs: {
      model: { type: 'model' },
      name: { type: 'string', description: 'The registered model.' },
      alias: { type: 'string', required: false, description: 'An alias to point at the new version (e.g. champion).' },
      description: { type: 'string', required: false, description: "The version's description." },
      flavor: { type: 'string', default: 'mloe', description: "The MLmodel flavor naming the model's format." },
      fileName: { type: 'string', default: 'model', description: 'The model file name inside the model directory.' },
      signatureInputs: {
        type: 'list',
        required: false,
        description: 'Input columns: names (type double) or {name, type} objects with an MLflow column type.',
      },
      signatureOutputs: { type: 'list', required: false, description: 'Output columns, as signatureInputs.' },
      tags: { type: 'object', required: false, description: 'More tags of the version (string values).' },
    },
    outputs: {
      version: { type: 'string', description: 'The model version, e.g. "3".' },
      modelUri: { type: 'string', description: 'models:/<name>/<version>' },
      source: { type: 'string', description: 'The MLflow model directory in the artifact store.' },
      url: { type: 'string', description: "The version's page in the MLflow UI (its REST answer without one)." },
    },
  },
  ...MODEL_STEPS,
  // ingest@2, validate@2, split@1: the columnar data steps (core/steps/data.ts).
  ...DATA_STEPS,
];
