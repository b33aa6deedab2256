/**
 * The SQL engine of the data steps: an in-memory DuckDB (`@duckdb/node-api`) per step execution, with a private
 * temporary directory for downloads, spills and the files a step writes before they go to the artifact store. Rows
 * stay in DuckDB: callers read back aggregates and a few example rows only (JSON-converted, so BIGINT arrives as
 * text), never whole tables.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { DuckDBConnection, DuckDBInstance, Json } from '@duckdb/node-api';

import { MloeError, ensureError } from '../../../core/errors';

/** One row as the engine hands it back: column name to a JSON value (BIGINT, HUGEINT and DECIMAL as text). */
export type SqlRow = Record<string, Json>;

/** An open engine: run statements, read small results, and a directory for files that die with it. */
export interface SqlSession {
  /** Runs a statement whose result is not needed (COPY, CREATE, SET). */
  run(sql: string): Promise<void>;
  /** Runs a query and returns its rows; meant for aggregates and a handful of rows. */
  rows(sql: string): Promise<SqlRow[]>;
  /** A private directory, removed when the session ends. */
  readonly tempDir: string;
}

/** Options of {@link withSqlSession}. */
export interface SqlSessionOptions {
  /** DuckDB worker threads; DuckDB's default (the number of cores) when absent. Results never depend on it. */
  threads?: number;
  /** DuckDB's memory limit, e.g. `1GB`; beyond it operators spill to the session's directory. */
  memoryLimit?: string;
  /** Interrupts the running query when aborted (the step was cancelled), so DuckDB stops working for nobody. */
  signal?: AbortSignal;
}

/**
 * Opens an in-memory DuckDB, runs `body` with it and closes it, removing its temporary directory whatever happens.
 * Insertion order is preserved (DuckDB's default, set explicitly): the data steps rely on it for deterministic output.
 */
export async function withSqlSession<T>(
  body: (session: SqlSession) => Promise<T>,
  options: SqlSessionOptions = {},
): Promise<T> {
  const tempDir = await mkdtemp(join(tmpdir(), 'mloe-data-'));
  let instance: DuckDBInstance | undefined;
  let connection: DuckDBConnection | undefined;
  try {
    // Loaded on first use: the native library costs a worker (and every `mloe run`) a few hundred ms at start-up.
    const { DuckDBInstance: Instance } = await import('@duckdb/node-api');
    instance = await Instance.create(':memory:', {
      preserve_insertion_order: 'true',
      temp_directory: join(tempDir, 'spill'),
      ...(options.threads === undefined ? {} : { threads: String(options.threads) }),
      ...(options.memoryLimit === undefined ? {} : { memory_limit: options.memoryLimit }),
    });
    const open = await instance.connect();
    connection = open;
    options.signal?.throwIfAborted();
    options.signal?.addEventListener('abort', () => open.interrupt(), { once: true });
    return await body({
      tempDir,
      run: async (sql) => {
        await open.run(sql);
      },
      rows: async (sql) => (await open.runAndReadAll(sql)).getRowObjectsJson(),
    });
  } finally {
    connection?.closeSync();
    instance?.closeSync();
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** A SQL identifier, double-quoted (any column name is safe). */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal. */
export function sqlString(text: string): string {
  if (text.includes('\u0000')) throw new MloeError('DATA_INVALID', 'a SQL text value must not contain NUL bytes');
  return `'${text.replaceAll("'", "''")}'`;
}

/** A SQL literal for a JSON scalar from a spec (a number, a string or a boolean). */
export function sqlLiteral(value: string | number | boolean): string {
  if (typeof value === 'string') return sqlString(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (!Number.isFinite(value)) throw new MloeError('CONFIG_INVALID', `expected a finite number, got ${value}`);
  return `${value}::DOUBLE`;
}

/** A number from an engine value (counts arrive as text, being BIGINT); `NaN` for anything else. */
export function numberOf(value: Json | undefined): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return Number.NaN;
}

/** The text of an engine value: strings as they are, other scalars printed, NULL as '', nested values as JSON. */
export function textOf(value: Json | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * An engine failure as an `MloeError`: the engine's own message (it names the problem and, for a file, the line or
 * column) after what was being done. A file that cannot be read or parsed is bad data (`DATA_INVALID`, not
 * retryable); running out of memory may pass on a retry.
 */
export function engineError(error: unknown, what: string): MloeError {
  if (error instanceof MloeError) return error;
  // DuckDB's errors may come from another realm (a VM context), where `instanceof Error` is false.
  const own = (error as { message?: unknown } | undefined)?.message;
  const message = typeof own === 'string' ? own : ensureError(error).message;
  if (/Out of Memory/i.test(message)) {
    return new MloeError('INTERNAL', `${what}: DuckDB ran out of memory: ${message}`, {
      cause: error,
      retryable: true,
    });
  }
  return new MloeError('DATA_INVALID', `${what}: ${message}`, { cause: error, retryable: false });
}
