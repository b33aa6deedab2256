/**
 * Descriptors of the model steps (issue 10, the model part): `features@1`, `train@2`, `evaluate@2` and `deploy@1`.
 * Data only; the implementations are in `activities/ml/steps/`. Reference: docs/ml-models.md.
 */
import type { StepDescriptor } from '../spec/registry';

/** The model steps' descriptors, appended to the built-in steps. */
export const MODEL_STEPS: readonly StepDescriptor[] = [
  {
    name: 'features',
    version: '1',
    description:
      'Fit a features transform (impute, scale, one-hot) on the training split, apply it to the training and test splits ' +
      '(Parquet in, Parquet out) and write the fitted transform as a JSON artifact that models carry to serving.',
    inputs: {
      train: { type: 'dataset', description: 'The training split (Parquet).' },
      test: { type: 'dataset', required: false, description: 'The test split (Parquet), transformed the same way.' },
      label: { type: 'string', description: 'The label column: passed through, never a feature.' },
      numeric: {
        type: 'list',
        items: 'string',
        required: false,
        description: 'Numeric features (default: every numeric column).',
      },
      categorical: {
        type: 'list',
        items: 'string',
        required: false,
        description: 'Categorical features, one-hot encoded (default: every string or boolean column).',
      },
      impute: {
        type: 'string',
        default: 'none',
        description: 'Numeric missing values: none, mean, median, most_frequent, constant.',
      },
      imputeCategorical: {
        type: 'string',
        default: 'none',
        description: 'Missing categories: none, most_frequent, constant.',
      },
      fillValue: { type: 'number', default: 0, description: 'The constant fill of numeric columns.' },
      fillCategory: { type: 'string', default: 'missing', description: 'The constant fill of categorical columns.' },
      scale: { type: 'string', default: 'standard', description: 'Numeric scaling: standard, minmax or none.' },
      handleUnknown: {
        type: 'string',
        default: 'ignore',
        description: 'An unseen category: ignore (all zeros) or error.',
      },
      columns: {
        type: 'object',
        required: false,
        description: 'Per-column overrides: {impute, fillValue, scale, handleUnknown}.',
      },
    },
    outputs: {
      train: {
        type: 'dataset',
        description: 'The transformed training split (Parquet): the features, then the label.',
      },
      test: { type: 'dataset', description: 'The transformed test split, when a test split was given.' },
      transform: { type: 'file', description: 'The fitted transform (JSON, format mloe.features version 1).' },
      features: { type: 'list', items: 'string', description: "The feature vector's names, in order." },
      trainRows: { type: 'integer' },
      testRows: { type: 'integer' },
    },
  },
  {
    name: 'train',
    version: '2',
    description:
      'Fit a softmax (multinomial logistic) regression, a random forest (classification or regression) or a ridge ' +
      'regression on a split transformed by features@1; the model artifact carries the transform (register@1 packages it).',
    inputs: {
      train: { type: 'dataset', description: 'The train output of features@1.' },
      transform: { type: 'file', description: 'The transform output of the same features@1 step.' },
      algorithm: {
        type: 'string',
        description: 'softmax-regression, random-forest or ridge-regression (or softmax, forest, ridge, linear).',
      },
      task: {
        type: 'string',
        required: false,
        description: 'classification or regression (a forest infers it from the label type).',
      },
      label: { type: 'string', required: false, description: "The label column (default: the transform's)." },
      hyperparameters: { type: 'object', required: false, description: 'Per algorithm; see docs/ml-models.md.' },
      seed: { type: 'integer', default: 0, description: 'Same seed, same model.' },
    },
    outputs: {
      model: { type: 'model', description: 'The model document (JSON, format mloe.model version 1).' },
      algorithm: { type: 'string' },
      task: { type: 'string' },
      classes: { type: 'list', description: 'The classes, in the order of predicted probabilities.' },
      trainRows: { type: 'integer' },
      metrics: { type: 'metrics', description: 'Training loss per iteration (softmax), training accuracy or RMSE.' },
      signatureInputs: { type: 'list', items: 'object', description: "The model's input columns, for register@1." },
      signatureOutputs: { type: 'list', items: 'object', description: "The model's output column, for register@1." },
    },
  },
  {
    name: 'evaluate',
    version: '2',
    description:
      'Score a train@2 model on the raw test split (classification: accuracy, macro F1, per-class precision and recall, ' +
      'confusion matrix, ROC AUC; regression: RMSE, MAE, R²) and compare it with the registered champion on the same rows.',
    inputs: {
      model: { type: 'model', description: 'The model output of train@2.' },
      test: { type: 'dataset', description: 'The raw test split (Parquet): the model applies its own transform.' },
      label: { type: 'string', required: false, description: "The label column (default: the model's)." },
      champion: {
        type: 'string',
        required: false,
        description: 'The registered model to beat: models:/NAME@ALIAS, models:/NAME/VERSION or NAME@ALIAS.',
      },
      primaryMetric: {
        type: 'string',
        required: false,
        description: 'What "beats" compares (default accuracy, or rmse).',
      },
    },
    outputs: {
      metrics: { type: 'metrics', description: "The candidate's metrics." },
      report: { type: 'report', description: 'Every figure of both models, per-class reports and confusion matrices.' },
      champion: {
        type: 'object',
        description: '{status: none | scored | incompatible, uri, name, version, metrics, reason}.',
      },
      beatsChampion: { type: 'boolean', description: 'True when there is no champion or the candidate scores better.' },
      primaryMetric: { type: 'string' },
    },
  },
  {
    name: 'deploy',
    version: '1',
    description:
      'Make a registered model live on the local serving target: start (or reuse) an `mloe serve` process for ' +
      'NAME@ALIAS or a version; a second deploy of the same version changes nothing. Reports the endpoint.',
    inputs: {
      model: { type: 'string', description: 'models:/NAME@ALIAS, models:/NAME/VERSION, NAME@ALIAS or NAME/VERSION.' },
      port: { type: 'integer', default: 0, description: 'The port to serve on (0: any free port).' },
      host: { type: 'string', default: '127.0.0.1', description: 'The address to bind.' },
    },
    outputs: {
      url: { type: 'string', description: 'The endpoint, e.g. http://127.0.0.1:8080 (POST /predict).' },
      name: { type: 'string' },
      version: { type: 'string', description: 'The version being served.' },
      pid: { type: 'integer', description: 'The serving process.' },
      changed: { type: 'boolean', description: 'False when that version was already live there.' },
    },
  },
];
