/**
 * Reading a monitor's reference and current data with DuckDB: both files become views, the features they share are
 * chosen by type (numbers compare as numeric features, text and booleans as categorical ones, dates and times are left
 * out), and each feature's values come back cast to `DOUBLE` or `VARCHAR`, with non-finite numbers as missing.
 */
import { posix } from 'node:path';

import { MloeError } from '../../core/errors';
import {
  compareCategorical,
  compareNumeric,
  type DriftThresholds,
  type FeatureDrift,
} from '../../core/monitoring/drift';
import { sqlIdentifier, sqlString, textOf, withSqlSession, type SqlSession } from '../ml/data/engine';

/** A data file and its format. */
export interface DataFile {
  path: string;
  format: 'parquet' | 'csv' | 'json';
}

/** The format of a file by its name: `.parquet`, `.csv`/`.tsv`, `.json`/`.jsonl`/`.ndjson`. */
export function formatOfPath(path: string): DataFile['format'] {
  const extension = posix.extname(path.toLowerCase());
  if (extension === '.parquet' || extension === '.pq') return 'parquet';
  if (extension === '.csv' || extension === '.tsv') return 'csv';
  if (extension === '.json' || extension === '.jsonl' || extension === '.ndjson') return 'json';
  throw new MloeError(
    'DATA_INVALID',
    `cannot tell the format of ${path}: name a .parquet, .csv or .json (or .jsonl) file`,
  );
}

function readerSql(file: DataFile): string {
  switch (file.format) {
    case 'parquet':
      return `read_parquet(${sqlString(file.path)})`;
    case 'csv':
      return `read_csv(${sqlString(file.path)}, header = true)`;
    case 'json':
      return `read_json_auto(${sqlString(file.path)})`;
  }
}

const NUMERIC_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;
const CATEGORICAL_TYPE = /^(VARCHAR|BOOLEAN|ENUM.*)$/;

/** A column and how it compares. */
export interface FeatureColumn {
  name: string;
  kind: 'numeric' | 'categorical';
}

async function columnsOf(session: SqlSession, view: string): Promise<{ name: string; type: string }[]> {
  const rows = await session.rows(`DESCRIBE ${view}`);
  return rows.map((row) => ({ name: textOf(row['column_name']), type: textOf(row['column_type']) }));
}

/** What {@link compareDatasets} reports besides the features. */
export interface DatasetComparison {
  referenceRows: number;
  currentRows: number;
  features: FeatureDrift[];
  /** Columns left out, with why (`date: type DATE`, `label: excluded`). */
  skipped: string[];
}

/** Options of {@link compareDatasets}. */
export interface CompareOptions {
  features?: readonly string[];
  exclude: readonly string[];
  thresholds: DriftThresholds;
  bins: number;
  signal?: AbortSignal;
}

/**
 * Compares every feature of `current` with `reference`. Named `features` must exist in both (`DATA_INVALID` listing
 * the columns there are); without them, every column they share is compared unless excluded or of another type.
 */
export async function compareDatasets(
  reference: DataFile,
  current: DataFile,
  options: CompareOptions,
): Promise<DatasetComparison> {
  return withSqlSession(
    async (session) => {
      await session.run(`CREATE VIEW reference AS SELECT * FROM ${readerSql(reference)}`);
      await session.run(`CREATE VIEW current AS SELECT * FROM ${readerSql(current)}`);
      const referenceColumns = await columnsOf(session, 'reference');
      const currentNames = new Set((await columnsOf(session, 'current')).map((column) => column.name));
      const skipped: string[] = [];
      const chosen: FeatureColumn[] = [];
      if (options.features !== undefined) {
        const missing = options.features.filter(
          (name) => !currentNames.has(name) || !referenceColumns.some((column) => column.name === name),
        );
        if (missing.length > 0) {
          throw new MloeError(
            'DATA_INVALID',
            `feature(s) ${missing.map((name) => JSON.stringify(name)).join(', ')} missing from the reference or the current data; ` +
              `the reference has ${referenceColumns.map((column) => JSON.stringify(column.name)).join(', ')}, ` +
              `the current data ${[...currentNames].map((name) => JSON.stringify(name)).join(', ')}`,
          );
        }
      }
      for (const column of referenceColumns) {
        if (options.features !== undefined && !options.features.includes(column.name)) continue;
        if (options.exclude.includes(column.name)) {
          skipped.push(`${column.name}: excluded`);
        } else if (!currentNames.has(column.name)) {
          skipped.push(`${column.name}: not in the current data`);
        } else if (NUMERIC_TYPE.test(column.type)) {
          chosen.push({ name: column.name, kind: 'numeric' });
        } else if (CATEGORICAL_TYPE.test(column.type)) {
          chosen.push({ name: column.name, kind: 'categorical' });
        } else {
          skipped.push(`${column.name}: type ${column.type}`);
        }
      }
      const count = async (view: string) => Number((await session.rows(`SELECT count(*) AS n FROM ${view}`))[0]?.['n']);
      const referenceRows = await count('reference');
      const currentRows = await count('current');
      const features: FeatureDrift[] = [];
      if (referenceRows === 0) throw new MloeError('DATA_INVALID', `the reference data ${reference.path} has no rows`);
      for (const column of chosen) {
        const name = sqlIdentifier(column.name);
        if (column.kind === 'numeric') {
          const values = async (view: string) =>
            (
              await session.rows(
                `SELECT CASE WHEN isfinite(v) THEN v END AS v FROM (SELECT TRY_CAST(${name} AS DOUBLE) AS v FROM ${view})`,
              )
            ).map((row) => (typeof row['v'] === 'number' ? row['v'] : null));
          const ref = await values('reference');
          const cur = await values('current');
          if (ref.every((value) => value === null) || cur.every((value) => value === null)) {
            skipped.push(`${column.name}: no values on one side`);
            continue;
          }
          features.push(compareNumeric(column.name, ref, cur, options.thresholds, options.bins));
        } else {
          const values = async (view: string) =>
            (await session.rows(`SELECT CAST(${name} AS VARCHAR) AS v FROM ${view}`)).map((row) =>
              typeof row['v'] === 'string' ? row['v'] : null,
            );
          const ref = await values('reference');
          const cur = await values('current');
          if (ref.every((value) => value === null) || cur.every((value) => value === null)) {
            skipped.push(`${column.name}: no values on one side`);
            continue;
          }
          features.push(compareCategorical(column.name, ref, cur, options.thresholds));
        }
      }
      return { referenceRows, currentRows, features, skipped };
    },
    options.signal === undefined ? {} : { signal: options.signal },
  );
}
