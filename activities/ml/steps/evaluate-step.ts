/**
 * `evaluate@2`: scores a `train@2` model on the raw test split (the model applies its own features transform, as it
 * will at serving), and, when `champion` names a registered model (`models:/penguins@champion`), the model behind it
 * on the same rows. A registry with no such model or alias is the outcome "no champion", not an error. Writes a report
 * artifact (every figure, per-class reports, confusion matrices) and returns the candidate's metrics, the champion's
 * and whether the candidate beats it on the primary metric (accuracy, or RMSE for regression, unless given).
 *
 * Never served from the cache: the champion behind an alias changes without any input changing.
 */
import { z } from 'zod';

import { MloeError } from '../../../core/errors';
import type { JsonValue } from '../../../core/spec';
import { getJson, parseArtifactRef, putJson } from '../../artifacts';
import type { StepContext, StepOutput } from '../../steps/registry';
import { describeColumns, parquetSource, quoteIdentifier, readFailure, withDuckDb } from '../features/duckdb';
import { TransformInputError, transformRow } from '../features/transform';
import { classificationMetrics, regressionMetrics } from '../models/metrics';
import { compileModel, modelDocumentSchema, type ClassLabel, type CompiledModel } from '../models/model';
import { loadRegisteredModel } from '../models/registry';
import { TRANSFORMED_BY } from './features-step';
import { parseStepInputs } from './inputs';

const inputsSchema = z.object({
  model: z.unknown(),
  test: z.unknown(),
  label: z.string().min(1).optional(),
  champion: z.string().min(1).optional(),
  primaryMetric: z.string().min(1).optional(),
});

/** Metrics where lower is better. */
const LOWER_IS_BETTER = new Set(['rmse', 'mae', 'logLoss']);

/** The test split's columns as JavaScript values (BigInt integers as numbers). */
type Columns = Map<string, unknown[]>;

/** `models:/…` as is; `name@alias` or `name/version` as a `models:/` URI. */
export function championUri(value: string): string {
  return value.startsWith('models:') ? value : `models:/${value}`;
}

/** Scores `model` on the test columns; `DATA_INVALID` naming the column and row for a row it cannot take. */
function score(model: CompiledModel, columns: Columns, rows: number, label: string, who: string) {
  const width = model.transform.outputs.length;
  const data = new Float64Array(rows * width);
  for (let i = 0; i < rows; i += 1) {
    try {
      transformRow(model.transform, (column) => columns.get(column)?.[i], data, i * width);
    } catch (error) {
      if (error instanceof TransformInputError) {
        throw new MloeError('DATA_INVALID', `evaluate@2: the test split, row ${i}, for the ${who}: ${error.message}`);
      }
      throw error;
    }
  }
  const scores = model.score(data, rows);
  const labels = columns.get(label) ?? [];
  if (model.task === 'classification') {
    const index = new Map<unknown, number>(model.classes.map((value, position) => [value, position]));
    const actual = Int32Array.from(labels, (value) => index.get(value) ?? -1);
    const result = classificationMetrics(model.classes, actual, scores);
    const unknownClasses = [...new Set(labels.filter((value) => !index.has(value)))] as ClassLabel[];
    return {
      metrics: result.metrics as unknown as Record<string, number>,
      detail: {
        perClass: result.perClass,
        confusion: { classes: model.classes, matrix: result.confusion },
        unknownClasses,
      },
    };
  }
  const actual = Float64Array.from(labels, (value, row) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new MloeError(
        'DATA_INVALID',
        `evaluate@2: label column ${label}, row ${row}: ${JSON.stringify(value)} is not a finite number`,
      );
    }
    return value;
  });
  return { metrics: regressionMetrics(actual, scores) as unknown as Record<string, number>, detail: {} };
}

/** Runs `evaluate@2` (see the module doc). */
export async function runEvaluate(
  inputs: Readonly<Record<string, JsonValue>>,
  context: StepContext,
): Promise<StepOutput> {
  const values = parseStepInputs('evaluate@2', inputsSchema, inputs);
  const modelRef = parseArtifactRef(values.model);
  const testRef = parseArtifactRef(values.test);
  if (typeof testRef.metadata[TRANSFORMED_BY] === 'string') {
    throw new MloeError(
      'CONFIG_INVALID',
      'evaluate@2: input test is a split already transformed by features@1; give the raw test split (the model applies its own features transform, as at serving)',
    );
  }
  const candidate = compileModel(await getJson(context.store, modelRef, modelDocumentSchema, 'a train@2 model'));
  const label = values.label ?? candidate.document.label;
  let champion: Awaited<ReturnType<typeof loadRegisteredModel>>;
  let unreadable: string | undefined;
  const uri = values.champion === undefined ? undefined : championUri(values.champion);
  if (uri !== undefined) {
    const tracker = context.tracking;
    if (tracker === undefined) {
      throw new MloeError(
        'TRACKING_NOT_CONFIGURED',
        `step ${context.stepId} (evaluate@2) compares with ${uri}, which needs an MLflow model registry: start the worker with MLFLOW_TRACKING_URI set`,
      );
    }
    champion = await loadRegisteredModel(tracker.client.withSignal(context.signal), uri).catch((error: unknown) => {
      // A champion of another format (no mloe flavor, not an mloe.model document) cannot be scored: an outcome.
      if (error instanceof MloeError && error.code === 'CONFIG_INVALID') {
        unreadable = error.message;
        return undefined;
      }
      throw tracker.failure(error, `step ${context.stepId}: loading the champion ${uri}`);
    });
  }
  const compatible =
    champion === undefined
      ? undefined
      : champion.model.task !== candidate.task
        ? `the champion does ${champion.model.task}, the candidate ${candidate.task}`
        : champion.model.document.label !== label
          ? `the champion predicts ${champion.model.document.label}, the candidate ${label}`
          : undefined;
  const needed = new Set([label, ...candidate.transform.columns.map((column) => column.name)]);
  if (champion !== undefined && compatible === undefined) {
    for (const column of champion.model.transform.columns) needed.add(column.name);
  }
  const { columns, rows } = await withDuckDb(async (session) => {
    const source = parquetSource(await session.localPath(context.store, testRef));
    const present = new Set(
      (
        await describeColumns(session.connection, source).catch((error: unknown) => {
          throw readFailure(error, `evaluate@2: the test split ${testRef.uri}`);
        })
      ).map((column) => column.name),
    );
    const missing = [...needed].filter((name) => !present.has(name));
    if (missing.length > 0) {
      throw new MloeError('DATA_INVALID', `evaluate@2: the test split lacks column(s) ${missing.join(', ')}`);
    }
    const names = [...needed];
    const reader = await session.connection.runAndReadAll(
      `SELECT ${names.map(quoteIdentifier).join(', ')} FROM ${source}`,
    );
    const read: Columns = new Map();
    reader.getColumnsJS().forEach((values_, index) => {
      read.set(
        names[index] ?? '',
        values_.map((value) => (typeof value === 'bigint' ? Number(value) : value)),
      );
    });
    return { columns: read, rows: reader.currentRowCount };
  });
  if (rows === 0) throw new MloeError('DATA_INVALID', 'evaluate@2: the test split is empty (0 rows)');
  const mine = score(candidate, columns, rows, label, 'candidate');
  const primary = values.primaryMetric ?? (candidate.task === 'classification' ? 'accuracy' : 'rmse');
  if (mine.metrics[primary] === undefined) {
    throw new MloeError(
      'CONFIG_INVALID',
      `evaluate@2: input primaryMetric: ${primary} is not one of ${Object.keys(mine.metrics).join(', ')}`,
    );
  }
  let championOutput: Record<string, JsonValue>;
  let championDetail: unknown;
  let beats: boolean;
  if (uri !== undefined && unreadable !== undefined) {
    championOutput = { status: 'incompatible', uri, reason: unreadable };
    beats = false;
  } else if (uri === undefined || champion === undefined) {
    championOutput = {
      status: 'none',
      ...(uri === undefined ? {} : { uri }),
      reason: uri === undefined ? 'no champion given' : `nothing is registered as ${uri}`,
    };
    beats = true;
  } else if (compatible !== undefined) {
    championOutput = {
      status: 'incompatible',
      uri,
      name: champion.name,
      version: champion.version,
      reason: compatible,
    };
    beats = false;
  } else {
    const theirs = score(champion.model, columns, rows, label, `champion ${champion.name} version ${champion.version}`);
    championDetail = theirs.detail;
    const mineValue = mine.metrics[primary] ?? 0;
    const theirValue = theirs.metrics[primary];
    beats =
      theirValue === undefined ? true : LOWER_IS_BETTER.has(primary) ? mineValue < theirValue : mineValue > theirValue;
    championOutput = {
      status: 'scored',
      uri,
      name: champion.name,
      version: champion.version,
      sameModel: champion.digest === modelRef.digest,
      metrics: theirs.metrics,
    };
  }
  const report = await putJson(
    context.store,
    {
      task: candidate.task,
      label,
      testRows: rows,
      primaryMetric: primary,
      candidate: { algorithm: candidate.document.algorithm, metrics: mine.metrics, ...mine.detail },
      champion: { ...championOutput, ...(championDetail === undefined ? {} : { detail: championDetail }) },
      beatsChampion: beats,
    },
    { type: 'report', metadata: { kind: 'evaluation', task: candidate.task } },
  );
  const metricsRef = await putJson(context.store, mine.metrics, { type: 'metrics' });
  return {
    outputs: { metrics: metricsRef, report, champion: championOutput, beatsChampion: beats, primaryMetric: primary },
    metrics: mine.metrics,
  };
}
