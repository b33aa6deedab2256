/**
 * Dataset artifacts, the currency of the data steps: Parquet files (the house format between steps; CSV where a
 * consumer has no Parquet reader) whose artifact metadata says `format`, `rows` and `columns` (name and DuckDB type).
 * This module writes a SQL query's result as such an artifact and opens one as a DuckDB view with a hidden row
 * number (`__mloe_row`, the row's position in the file), which is what makes splits reproducible.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { z } from 'zod';

import { MloeError } from '../../../core/errors';
import { DATASET_FORMATS } from '../../../core/steps/data';
import { FileArtifactStore, MAX_METADATA_BYTES, type ArtifactMetadata, type ArtifactRef } from '../../artifacts';
import type { ArtifactStore } from '../../artifacts';
import { engineError, numberOf, sqlIdentifier, sqlString, textOf, type SqlSession } from './engine';

/** A dataset's format. */
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** One column: its name and DuckDB type (`VARCHAR`, `BIGINT`, `DOUBLE`, `DATE`, ...). */
export interface ColumnSchema {
  name: string;
  type: string;
}

/** The hidden column holding a row's position in its file. */
export const ROW_COLUMN = '__mloe_row';

/** Schema of the metadata the data steps read back from a dataset artifact (other keys are kept, unread). */
export const datasetMetadataSchema = z.looseObject({
  format: z.enum(DATASET_FORMATS).optional(),
  rows: z.number().int().nonnegative().optional(),
});

/** Room left in the artifact metadata for the column list (the rest is kept for `format`, `rows`, `source`, ...). */
const MAX_COLUMNS_METADATA_BYTES = MAX_METADATA_BYTES - 2048;

/**
 * The metadata of a dataset artifact: format, rows and, when it fits, the columns (a very wide table records its
 * column count instead; the schema is always in the file itself).
 */
export function datasetMetadata(
  format: DatasetFormat,
  rows: number,
  columns: readonly ColumnSchema[],
  extra: ArtifactMetadata = {},
): ArtifactMetadata {
  const listed = Buffer.byteLength(JSON.stringify(columns)) <= MAX_COLUMNS_METADATA_BYTES;
  return {
    format,
    rows,
    ...(listed ? { columns: columns.map((column) => ({ ...column })) } : { columnCount: columns.length }),
    ...extra,
  };
}

/** MLflow's column type (`ColSpec`) of a DuckDB type; `string` for what MLflow has no type for. */
export function mlflowColumnType(duckdbType: string): string {
  if (duckdbType === 'BIGINT' || duckdbType === 'UBIGINT' || duckdbType === 'UINTEGER') return 'long';
  if (['INTEGER', 'SMALLINT', 'TINYINT', 'USMALLINT', 'UTINYINT'].includes(duckdbType)) return 'integer';
  if (duckdbType === 'DOUBLE' || duckdbType.startsWith('DECIMAL')) return 'double';
  if (duckdbType === 'FLOAT' || duckdbType === 'REAL') return 'float';
  if (duckdbType === 'BOOLEAN') return 'boolean';
  if (duckdbType === 'DATE' || duckdbType.startsWith('TIMESTAMP')) return 'datetime';
  if (duckdbType === 'BLOB') return 'binary';
  return 'string';
}

/**
 * The schema and profile of a dataset artifact as MLflow records a dataset input (`{"mlflow_colspec": [...]}`,
 * `{"num_rows": n, ...}`), from its metadata; nothing for an artifact without `rows` and `columns` (not a dataset
 * the data steps wrote).
 */
export function mlflowDatasetFacts(metadata: unknown): { schema?: string; rows?: number } {
  const parsed = datasetMetadataSchema
    .extend({ columns: z.array(z.object({ name: z.string(), type: z.string() })).optional() })
    .safeParse(metadata ?? {});
  if (!parsed.success) return {};
  const { rows, columns } = parsed.data;
  return {
    ...(rows === undefined ? {} : { rows }),
    ...(columns === undefined
      ? {}
      : {
          schema: JSON.stringify({
            mlflow_colspec: columns.map((column) => ({
              type: mlflowColumnType(column.type),
              name: column.name,
              required: false,
            })),
          }),
        }),
  };
}

/** The columns of a relation (a query or a view), in order. */
export async function describeColumns(session: SqlSession, relation: string): Promise<ColumnSchema[]> {
  const rows = await session.rows(`DESCRIBE SELECT * FROM ${relation}`);
  return rows.map((row) => ({ name: textOf(row.column_name), type: textOf(row.column_type) }));
}

/** A dataset written to the store. */
export interface WrittenDataset {
  ref: ArtifactRef;
  rows: number;
  columns: ColumnSchema[];
}

/**
 * Writes the result of `query` (a SELECT) as a dataset artifact in `format`, with its metadata plus `extra`. The
 * bytes depend only on the rows and their order (DuckDB writes Parquet and CSV deterministically whatever the number
 * of threads), so a retry stores the same artifact.
 */
export async function writeDataset(
  session: SqlSession,
  store: ArtifactStore,
  query: string,
  format: DatasetFormat,
  extra: ArtifactMetadata = {},
): Promise<WrittenDataset> {
  const columns = await describeColumns(session, `(${query})`);
  const path = join(session.tempDir, `dataset-${randomUUID()}.${format}`);
  // Snappy (DuckDB's default): ZSTD made splitting 3 million rows about three times slower.
  const options = format === 'parquet' ? 'FORMAT parquet, COMPRESSION snappy' : 'FORMAT csv, HEADER true';
  let rows: number;
  try {
    const [result] = await session.rows(`COPY (${query}) TO ${sqlString(path)} (${options})`);
    rows = numberOf(result?.Count);
  } catch (error) {
    throw engineError(error, 'writing the dataset');
  }
  const ref = await store.put(createReadStream(path), {
    type: 'dataset',
    metadata: datasetMetadata(format, rows, columns, extra),
  });
  return { ref, rows, columns };
}

/** A dataset opened for SQL: a view with its columns and {@link ROW_COLUMN}. */
export interface OpenDataset {
  /** The view's name, quoted for SQL. */
  view: string;
  format: DatasetFormat;
  /** The dataset's own columns (without the row number). */
  columns: ColumnSchema[];
  /** What messages call it: the artifact URI. */
  label: string;
}

/**
 * Opens a dataset artifact as a view named `name`: its bytes are verified against their digest, read in place from
 * a file store and downloaded into the session's directory from any other. The format comes from the artifact's
 * metadata, or from the file's magic bytes (Parquet starts with `PAR1`) for a dataset written by another step
 * (`ingest@1` stores the CSV file as it was). Columns and row numbers come from the file, so the same artifact gives
 * the same rows in the same order on every worker.
 */
export async function openDataset(
  session: SqlSession,
  store: ArtifactStore,
  ref: ArtifactRef,
  name: string,
): Promise<OpenDataset> {
  const path = await localCopy(session, store, ref);
  const metadata = datasetMetadataSchema.safeParse(ref.metadata ?? {});
  const format = (metadata.success ? metadata.data.format : undefined) ?? (await sniffFormat(path));
  const view = sqlIdentifier(name);
  try {
    if (format === 'parquet') {
      await session.run(
        `CREATE VIEW ${view} AS SELECT * EXCLUDE (file_row_number), file_row_number AS ${ROW_COLUMN} ` +
          `FROM read_parquet(${sqlString(path)}, file_row_number = true)`,
      );
    } else {
      // CSV has no row numbers of its own: load it in file order (insertion order is preserved) and number it.
      const table = sqlIdentifier(`${name}_rows`);
      await session.run(`CREATE TEMP TABLE ${table} AS SELECT * FROM read_csv(${sqlString(path)}, header = true)`);
      await session.run(`CREATE VIEW ${view} AS SELECT *, rowid AS ${ROW_COLUMN} FROM ${table}`);
    }
  } catch (error) {
    throw engineError(error, `reading dataset ${ref.uri} (${format})`);
  }
  const columns = (await describeColumns(session, view)).filter((column) => column.name !== ROW_COLUMN);
  return { view, format, columns, label: ref.uri };
}

/** A verified local file with the artifact's bytes. */
async function localCopy(session: SqlSession, store: ArtifactStore, ref: ArtifactRef): Promise<string> {
  if (ref.type !== 'dataset') {
    throw new MloeError('DATA_INVALID', `artifact ${ref.uri} is a ${ref.type}, not a dataset`);
  }
  if (store instanceof FileArtifactStore) {
    const { path } = store.locate(ref);
    const status = await store.verify(ref); // size and digest; then DuckDB reads the file in place
    if (status === 'missing') throw new MloeError('ARTIFACT_NOT_FOUND', `dataset ${ref.uri} is not in the store`);
    if (status === 'corrupt') throw new MloeError('ARTIFACT_CORRUPT', `dataset ${ref.uri} does not match its digest`);
    return path;
  }
  const path = join(session.tempDir, `input-${randomUUID()}`);
  await pipeline(await store.get(ref), createWriteStream(path));
  return path;
}

/** `parquet` when the file starts with Parquet's magic bytes, `csv` otherwise. */
async function sniffFormat(path: string): Promise<DatasetFormat> {
  const handle = await open(path);
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return bytesRead === 4 && head.toString('latin1') === 'PAR1' ? 'parquet' : 'csv';
  } finally {
    await handle.close();
  }
}
