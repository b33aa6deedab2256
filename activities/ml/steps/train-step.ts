/**
 * `train@2`: fits a model on a training split transformed by `features@1` and writes the model document
 * (`../models/model.ts`, with the features transform inside) as a `model` artifact that `register@1` packages as an
 * MLflow model directory. Softmax regression, random forest (classification or regression) and ridge regression,
 * hyperparameters as an object, a seed; deterministic, so a retry writes the same artifact.
 */
import { z } from 'zod';

import { MloeError } from '../../../core/errors';
import type { JsonValue } from '../../../core/spec';
import { getJson, parseArtifactRef, putJson } from '../../artifacts';
import type { StepContext, StepOutput } from '../../steps/registry';
import {
  describeColumns,
  parquetSource,
  queryRow,
  quoteIdentifier,
  readColumn,
  readFailure,
  readMatrix,
  withDuckDb,
} from '../features/duckdb';
import { featuresTransformSchema } from '../features/transform';
import { trainModel, type TrainRequest } from '../models/train';
import { ALGORITHM_ALIASES } from '../models/hyperparameters';
import { parseStepInputs } from './inputs';
import { TRANSFORMED_BY } from './features-step';

const inputsSchema = z.object({
  train: z.unknown(),
  transform: z.unknown(),
  algorithm: z.enum(Object.keys(ALGORITHM_ALIASES) as [string, ...string[]]),
  task: z.enum(['classification', 'regression']).optional(),
  label: z.string().min(1).optional(),
  hyperparameters: z.record(z.string(), z.json()).default({}),
  seed: z.number().int().default(0),
});

/** Runs `train@2` (see the module doc). */
export async function runTrain(inputs: Readonly<Record<string, JsonValue>>, context: StepContext): Promise<StepOutput> {
  const values = parseStepInputs('train@2', inputsSchema, inputs);
  const trainRef = parseArtifactRef(values.train);
  const transformRef = parseArtifactRef(values.transform);
  const transform = await getJson(
    context.store,
    transformRef,
    featuresTransformSchema,
    'a features transform (features@1)',
  );
  const transformedBy = trainRef.metadata[TRANSFORMED_BY];
  if (typeof transformedBy === 'string' && transformedBy !== transformRef.digest) {
    throw new MloeError(
      'CONFIG_INVALID',
      'train@2: the training split was transformed by another features transform than the one given; pass the train and transform outputs of the same features@1 step',
    );
  }
  const label = values.label ?? transform.label;
  if (label === undefined)
    throw new MloeError('CONFIG_INVALID', 'train@2: input label: the transform names no label; give one');
  const algorithm = ALGORITHM_ALIASES[values.algorithm] ?? 'softmax-regression';
  const data = await withDuckDb(async (session) => {
    const source = parquetSource(await session.localPath(context.store, trainRef));
    const columns = await describeColumns(session.connection, source).catch((error: unknown) => {
      throw readFailure(error, `train@2: the training split ${trainRef.uri}`);
    });
    const names = new Set(columns.map((column) => column.name));
    const missing = [...transform.outputs, label].filter((name) => !names.has(name));
    if (missing.length > 0) {
      throw new MloeError(
        'DATA_INVALID',
        `train@2: the training split lacks column(s) ${missing.join(', ')}: is it the train output of features@1 with this transform?`,
      );
    }
    const labelType = columns.find((column) => column.name === label)?.type ?? 'VARCHAR';
    const nulls = Number(
      (
        await queryRow(
          session.connection,
          `SELECT count(*) AS n FROM ${source} WHERE ${quoteIdentifier(label)} IS NULL`,
        )
      ).n,
    );
    if (nulls > 0)
      throw new MloeError(
        'DATA_INVALID',
        `train@2: label column ${label} has ${nulls} missing value(s); rule: every row needs a label`,
      );
    const matrix = await readMatrix(session.connection, source, transform.outputs);
    const labels = await readColumn(session.connection, source, label);
    return { matrix, labels, labelType };
  });
  const request: TrainRequest = {
    algorithm,
    ...(values.task === undefined ? {} : { task: values.task }),
    label,
    labelType: data.labelType,
    transform,
    data: data.matrix.data,
    rows: data.matrix.rows,
    labels: data.labels,
    hyperparameters: values.hyperparameters,
    seed: values.seed,
  };
  const trained = trainModel(request);
  const document = trained.document;
  const model = await putJson(context.store, document, {
    type: 'model',
    metadata: { kind: document.algorithm, format: 'mloe.model', task: document.task, label, seed: values.seed },
  });
  const metricsRef = await putJson(context.store, trained.metrics, { type: 'metrics' });
  return {
    outputs: {
      model,
      algorithm: document.algorithm,
      task: document.task,
      classes: 'classes' in document && document.classes !== undefined ? document.classes : [],
      trainRows: document.trainRows,
      metrics: metricsRef,
      signatureInputs: trained.signature.inputs,
      signatureOutputs: trained.signature.outputs,
    },
    metrics: document.training,
  };
}
