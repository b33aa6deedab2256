/**
 * Performance drift, when labels arrive: the deployed model (`models:/MODEL@ALIAS`, loaded through the MLflow
 * registry like `mloe serve` does) scores the current batch and its evaluation data (the held-out rows it was
 * evaluated on) in the same tick, and the metric's loss from one to the other is compared with the allowed
 * degradation: accuracy for classifiers, RMSE for regressors.
 */
import { MloeError } from '../../core/errors';
import type { MonitorDefinition } from '../../core/monitoring/definition';
import type { MlflowClient } from '../mlflow';
import { sqlIdentifier, sqlString, textOf, withSqlSession } from '../ml/data/engine';
import { loadRegisteredModel } from '../ml/models/registry';
import { predictRecords, type CompiledModel } from '../ml/models/model';
import type { DataFile } from './data';

/** What a tick found about the model's performance. */
export type PerformanceCheck =
  | { status: 'no-labels' | 'no-model'; reason: string }
  | {
      status: 'measured';
      metric: 'accuracy' | 'rmse';
      version: string;
      current: number;
      evaluation: number;
      currentRows: number;
      evaluationRows: number;
      /** How much worse the current data scores (positive: worse). */
      degradation: number;
      degraded: boolean;
    };

const NUMERIC_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;

function readerSql(file: DataFile): string {
  if (file.format === 'parquet') return `read_parquet(${sqlString(file.path)})`;
  if (file.format === 'csv') return `read_csv(${sqlString(file.path)}, header = true)`;
  return `read_json_auto(${sqlString(file.path)})`;
}

/** The rows of a data file as objects, numbers as numbers (integers cast to DOUBLE), and its column names. */
async function rowsOf(file: DataFile): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  return withSqlSession(async (session) => {
    await session.run(`CREATE VIEW data AS SELECT * FROM ${readerSql(file)}`);
    const columns = (await session.rows('DESCRIBE data')).map((row) => ({
      name: textOf(row['column_name']),
      type: textOf(row['column_type']),
    }));
    const select = columns
      .map((column) =>
        NUMERIC_TYPE.test(column.type)
          ? `CAST(${sqlIdentifier(column.name)} AS DOUBLE) AS ${sqlIdentifier(column.name)}`
          : sqlIdentifier(column.name),
      )
      .join(', ');
    return { columns: columns.map((column) => column.name), rows: await session.rows(`SELECT ${select} FROM data`) };
  });
}

function score(model: CompiledModel, label: string, rows: readonly Record<string, unknown>[]): number {
  const labelled = rows.filter((row) => row[label] !== null && row[label] !== undefined);
  if (labelled.length === 0) throw new MloeError('DATA_INVALID', `no row has a value in the label column ${label}`);
  const { predictions } = predictRecords(model, labelled);
  if (model.task === 'classification') {
    const right = predictions.filter((prediction, i) => String(prediction) === String(labelled[i]?.[label])).length;
    return right / labelled.length;
  }
  const squares = predictions.reduce<number>((sum, prediction, i) => {
    const error = Number(prediction) - Number(labelled[i]?.[label]);
    return sum + error * error;
  }, 0);
  return Math.sqrt(squares / labelled.length);
}

/** Scores the deployed model on the current batch and on its evaluation data; see the module's TSDoc. */
export async function checkPerformance(
  client: MlflowClient,
  definition: MonitorDefinition,
  current: DataFile,
  evaluation: DataFile,
): Promise<PerformanceCheck> {
  const settings = definition.performance;
  if (settings === undefined) throw new MloeError('INTERNAL', 'checkPerformance without performance settings');
  const currentData = await rowsOf(current);
  if (!currentData.columns.includes(settings.label)) {
    return { status: 'no-labels', reason: `the current data has no column ${settings.label}` };
  }
  const uri = `models:/${definition.model}@${definition.alias}`;
  const loaded = await loadRegisteredModel(client, uri);
  if (loaded === undefined) return { status: 'no-model', reason: `nothing is registered as ${uri}` };
  const evaluationData = await rowsOf(evaluation);
  if (!evaluationData.columns.includes(settings.label)) {
    throw new MloeError('DATA_INVALID', `the evaluation data ${evaluation.path} has no label column ${settings.label}`);
  }
  const metric = loaded.model.task === 'classification' ? 'accuracy' : 'rmse';
  const now = score(loaded.model, settings.label, currentData.rows);
  const before = score(loaded.model, settings.label, evaluationData.rows);
  const degradation = metric === 'accuracy' ? before - now : now - before;
  return {
    status: 'measured',
    metric,
    version: loaded.version,
    current: now,
    evaluation: before,
    currentRows: currentData.rows.length,
    evaluationRows: evaluationData.rows.length,
    degradation,
    degraded: degradation > settings.maxDegradation,
  };
}
