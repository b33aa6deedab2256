/**
 * DuckDB for the model steps (`@duckdb/node-api`): an in-memory database per step execution, Parquet artifacts read
 * in place (a file store's blob) or through a temporary copy (S3), query results written back to the store as Parquet,
 * and the quoting that keeps column names and fitted constants exact in SQL. Rows stay in SQL; models get typed
 * arrays (`readMatrix`).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

import { MloeError, ensureError } from '../../../core/errors';
import type { ArtifactMetadata, ArtifactRef, ArtifactStore } from '../../artifacts';

/** A column of a table as DuckDB describes it. */
export interface TableColumn {
  name: string;
  /** DuckDB's type name: `DOUBLE`, `BIGINT`, `VARCHAR`, `DECIMAL(9,2)`, ... */
  type: string;
}

/** An open DuckDB session with a scratch directory for temporary Parquet files. */
export interface DuckSession {
  connection: DuckDBConnection;
  /** A fresh path in the session's scratch directory. */
  scratchPath(suffix: string): string;
  /** A local Parquet path for an artifact (the blob itself in a file store, else a downloaded copy). */
  localPath(store: ArtifactStore, ref: ArtifactRef): Promise<string>;
}

/** Runs `work` with an in-memory DuckDB and a scratch directory, both removed afterwards. */
export async function withDuckDb<T>(work: (session: DuckSession) => Promise<T>): Promise<T> {
  const scratch = await mkdtemp(join(tmpdir(), 'mloe-ml-'));
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  const session: DuckSession = {
    connection,
    scratchPath: (suffix) => join(scratch, `${randomUUID()}${suffix}`),
    async localPath(store, ref) {
      if (ref.uri.startsWith('file:')) return fileURLToPath(ref.uri);
      const path = join(scratch, `${randomUUID()}.parquet`);
      await pipeline(await store.get(ref), createWriteStream(path));
      return path;
    },
  };
  try {
    return await work(session);
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A SQL identifier: double-quoted, inner quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal: single-quoted, inner quotes doubled. */
export function quoteString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * A DOUBLE literal that is exactly `value`: JavaScript's shortest round-trip decimal, parsed by DuckDB as a DOUBLE
 * (a bare `0.1` would be a DECIMAL in DuckDB).
 */
export function doubleLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new MloeError('INTERNAL', `not a finite number: ${value}`);
  return `CAST('${Object.is(value, -0) ? '-0.0' : String(value)}' AS DOUBLE)`;
}

/** `read_parquet('<path>')`. */
export function parquetSource(path: string): string {
  return `read_parquet(${quoteString(path)})`;
}

/** The columns of a Parquet file (or any relation), in order. */
export async function describeColumns(connection: DuckDBConnection, relation: string): Promise<TableColumn[]> {
  const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
  return reader.getRowObjectsJS().map((row) => ({ name: text(row.column_name), type: text(row.column_type) }));
}

/** A value DuckDB returned as text (names, types). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** Whether a DuckDB type is a number (integers, floating point, decimals). */
export function isNumericType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/.test(
    type,
  );
}

/** Whether a DuckDB type is read as categories: strings, booleans and enums. */
export function isCategoricalType(type: string): boolean {
  return type === 'VARCHAR' || type === 'BOOLEAN' || type.startsWith('ENUM');
}

/** Reads a scalar query's first row as plain JavaScript values (integers as numbers). */
export async function queryRow(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>> {
  const rows = await queryRows(connection, sql);
  return rows[0] ?? {};
}

/** Reads a small query's rows as plain JavaScript values (BigInt integers as numbers). */
export async function queryRows(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader
    .getRowObjectsJS()
    .map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value]),
      ),
    );
}

/**
 * Reads `columns` of a query as DOUBLE into one row-major matrix (`rows` × `columns.length`), chunk by chunk: no
 * JavaScript object per row. A NULL reads as NaN.
 */
export async function readMatrix(
  connection: DuckDBConnection,
  relation: string,
  columns: readonly string[],
): Promise<{ rows: number; data: Float64Array }> {
  const select = columns.map((column) => `CAST(${quoteIdentifier(column)} AS DOUBLE)`).join(', ');
  const count = Number((await queryRow(connection, `SELECT count(*) AS n FROM ${relation}`)).n);
  const width = columns.length;
  const data = new Float64Array(count * width);
  const result = await connection.stream(`SELECT ${select} FROM ${relation}`);
  let row = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    for (let j = 0; j < width; j += 1) {
      const vector = chunk.getColumnVector(j);
      for (let i = 0; i < chunk.rowCount; i += 1) {
        const value = vector.getItem(i);
        data[(row + i) * width + j] = typeof value === 'number' ? value : Number.NaN;
      }
    }
    row += chunk.rowCount;
  }
  if (row !== count) throw new MloeError('INTERNAL', `read ${row} rows of ${count}`);
  return { rows: count, data };
}

/** Reads one column of a query as JavaScript values (BigInt integers as numbers, NULL as null). */
export async function readColumn(connection: DuckDBConnection, relation: string, column: string): Promise<unknown[]> {
  const reader = await connection.runAndReadAll(`SELECT ${quoteIdentifier(column)} FROM ${relation}`);
  const [values = []] = reader.getColumnsJS();
  return values.map((value) => (typeof value === 'bigint' ? Number(value) : value));
}

/** Writes a query's result to the store as a Parquet `dataset` artifact. */
export async function putParquet(
  session: DuckSession,
  store: ArtifactStore,
  query: string,
  metadata: ArtifactMetadata,
): Promise<ArtifactRef> {
  const path = session.scratchPath('.parquet');
  try {
    await session.connection.run(`COPY (${query}) TO ${quoteString(path)} (FORMAT parquet, COMPRESSION zstd)`);
  } catch (error) {
    throw new MloeError('INTERNAL', `could not write a Parquet dataset: ${ensureError(error).message}`, {
      cause: error,
    });
  }
  try {
    return await store.put(createReadStream(path), { type: 'dataset', metadata: { format: 'parquet', ...metadata } });
  } finally {
    await rm(path, { force: true });
  }
}

/** A DuckDB failure reading a dataset, as `DATA_INVALID` naming it. */
export function readFailure(error: unknown, what: string): MloeError {
  if (error instanceof MloeError) return error;
  return new MloeError('DATA_INVALID', `${what}: ${ensureError(error).message}`, { cause: error });
}
