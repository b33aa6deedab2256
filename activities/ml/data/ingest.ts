/**
 * `ingest@2`: reads CSV, JSON or Parquet from a path, `file://`, `s3://` or `http(s)://` into a Parquet dataset
 * artifact, in SQL (DuckDB infers the types: integers arrive as BIGINT, decimals as DOUBLE, ISO dates as DATE).
 * Optionally reads marker values such as "." as NULL and drops incomplete rows. Idempotent: the same source bytes
 * give the same Parquet bytes, hence the same artifact.
 */
import { posix } from 'node:path';

import { MloeError } from '../../../core/errors';
import { INGEST_FORMATS } from '../../../core/steps/data';
import type { ArtifactRef, ArtifactStore, S3StoreConfigInput } from '../../artifacts';
import { DataError } from '../../table';
import { type ColumnSchema, describeColumns, writeDataset } from './dataset';
import { engineError, numberOf, sqlIdentifier, sqlString, withSqlSession, type SqlSessionOptions } from './engine';
import { fetchSource, parseDataSource, sourceFileName, type DataSource } from './sources';

/** A format `ingest@2` reads. */
export type IngestFormat = (typeof INGEST_FORMATS)[number];

/** Options of {@link ingestDataset}. */
export interface IngestOptions {
  /** A path, `file:///…`, `s3://bucket/key` or `http(s)://…`. */
  source: string;
  /** Directory relative paths are resolved against (absolute). */
  workingDir: string;
  /** The format; from the file name when absent. */
  format?: IngestFormat;
  /** Text values read as NULL (CSV: while parsing, so a numeric column with "NA" stays numeric; else in text columns). */
  nullValues?: readonly string[];
  /** Columns in which a NULL or NaN drops the row. */
  dropNulls?: readonly string[];
  /** Drop rows with a NULL or NaN in any column. */
  dropIncomplete?: boolean;
  /** The worker's S3 settings, for `s3://` sources. */
  s3?: S3StoreConfigInput;
  signal?: AbortSignal;
  engine?: SqlSessionOptions;
}

/** What {@link ingestDataset} produced. */
export interface IngestResult {
  dataset: ArtifactRef;
  rows: number;
  droppedRows: number;
  schema: ColumnSchema[];
  /** `sha256:<hex>` of the source bytes. */
  digest: string;
}

/** File name endings of each format (a compression suffix such as `.gz` may follow for CSV and JSON). */
const FORMAT_SUFFIXES: Readonly<Record<IngestFormat, readonly string[]>> = {
  csv: ['.csv', '.tsv'],
  json: ['.json', '.jsonl', '.ndjson'],
  parquet: ['.parquet', '.pq'],
};

/**
 * The format a file name implies, or a `CONFIG_INVALID` saying to set `format`. Compressed CSV and JSON
 * (`.csv.gz`, `.json.zst`) are recognised; DuckDB decompresses them.
 */
export function formatOfName(fileName: string): IngestFormat {
  const lower = fileName.toLowerCase().replace(/\.(gz|zst)$/, '');
  const extension = posix.extname(lower);
  for (const format of INGEST_FORMATS) {
    if (FORMAT_SUFFIXES[format].includes(extension)) return format;
  }
  throw new MloeError(
    'CONFIG_INVALID',
    `cannot tell the format of "${fileName}" from its name (${extension === '' ? 'no extension' : `"${extension}"`}); ` +
      `set the format input to one of ${INGEST_FORMATS.join(', ')}`,
  );
}

/** The DuckDB table function reading a local file. */
function readerSql(path: string, format: IngestFormat, nullValues: readonly string[]): string {
  const file = sqlString(path);
  switch (format) {
    case 'csv': {
      // DuckDB reads empty fields as NULL by default; keep that when more markers are given.
      const markers = nullValues.length === 0 ? '' : `, nullstr = [${['', ...nullValues].map(sqlString).join(', ')}]`;
      return `read_csv(${file}, header = true${markers})`;
    }
    case 'json':
      return `read_json_auto(${file})`;
    case 'parquet':
      return `read_parquet(${file})`;
  }
}

/** Whether a DuckDB type is a floating-point type, where NaN counts as missing. */
export function isFloatType(type: string): boolean {
  return type === 'DOUBLE' || type === 'FLOAT' || type === 'REAL';
}

/** A predicate true when a column is NULL, or NaN for floating-point columns. */
export function missingSql(column: ColumnSchema): string {
  const name = sqlIdentifier(column.name);
  return isFloatType(column.type) ? `(${name} IS NULL OR isnan(${name}))` : `${name} IS NULL`;
}

/** Reads a source into a Parquet dataset artifact. See the module comment. */
export async function ingestDataset(store: ArtifactStore, options: IngestOptions): Promise<IngestResult> {
  const source = parseDataSource(options.source, options.workingDir);
  const format = options.format ?? formatOfName(sourceFileName(source));
  return withSqlSession(async (session) => {
    const local = await fetchSource(source, session.tempDir, {
      ...(options.s3 === undefined ? {} : { s3: options.s3 }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const what = `reading ${source.display} as ${format}`;
    const nullValues = options.nullValues ?? [];
    const reader = readerSql(local.path, format, nullValues);
    let columns: ColumnSchema[];
    try {
      columns = await describeColumns(session, reader);
    } catch (error) {
      throw sourceError(error, what, local.path, source);
    }
    if (columns.length === 0 || local.bytes === 0) {
      throw new DataError(source.display, [{ message: `${source.display} is empty: no columns to read` }]);
    }

    const mapped = columns.map((column) => {
      const name = sqlIdentifier(column.name);
      if (format === 'csv' || nullValues.length === 0 || column.type !== 'VARCHAR') return name;
      return `CASE WHEN ${name} IN (${nullValues.map(sqlString).join(', ')}) THEN NULL ELSE ${name} END AS ${name}`;
    });
    const dropped = dropColumns(columns, options, source);
    const where = dropped.length === 0 ? '' : ` WHERE NOT (${dropped.map(missingSql).join(' OR ')})`;
    const query = `SELECT * FROM (SELECT ${mapped.join(', ')} FROM ${reader})${where}`;

    try {
      const total =
        dropped.length === 0 ? undefined : numberOf((await session.rows(`SELECT count(*) AS n FROM ${reader}`))[0]?.n);
      const written = await writeDataset(session, store, query, 'parquet', {
        source: source.display,
        sourceDigest: local.digest,
        sourceFormat: format,
      });
      return {
        dataset: written.ref,
        rows: written.rows,
        droppedRows: total === undefined ? 0 : total - written.rows,
        schema: written.columns,
        digest: local.digest,
      };
    } catch (error) {
      throw sourceError(error, what, local.path, source);
    }
  }, options.engine);
}

/** The columns whose missing values drop a row; an unknown column is `CONFIG_INVALID`, listing the columns. */
function dropColumns(columns: readonly ColumnSchema[], options: IngestOptions, source: DataSource): ColumnSchema[] {
  if (options.dropIncomplete === true) return [...columns];
  return (options.dropNulls ?? []).map((name) => {
    const column = columns.find((candidate) => candidate.name === name);
    if (column === undefined) {
      throw new MloeError(
        'CONFIG_INVALID',
        `dropNulls names column "${name}", which ${source.display} does not have; its columns are ` +
          columns.map((candidate) => JSON.stringify(candidate.name)).join(', '),
      );
    }
    return column;
  });
}

/** An engine failure while reading a source, naming the source instead of the local copy's path. */
function sourceError(error: unknown, what: string, localPath: string, source: DataSource): MloeError {
  const failure = engineError(error, what);
  const message = failure.message
    .split(localPath)
    .join(source.display)
    .replace(/\n+LINE \d+:[\s\S]*$/, '');
  return new MloeError(failure.code, message, { cause: error, retryable: failure.retryable });
}
