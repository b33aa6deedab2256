/**
 * `split@1`: train and test datasets from one dataset, in SQL, deterministically.
 *
 * - `random`: each row gets a 32-bit key from the seed and its position in the file (MurmurHash3's `fmix32`, in SQL
 *   on integers, so it does not depend on DuckDB's version or thread count); the `ceil(testFraction × rows)` rows with
 *   the smallest (key, position) are the test split.
 * - `stratified`: the same within each class of the `by` column: `round(testFraction × class rows)` of each class,
 *   at least 1 and leaving at least 1 for training. A class needs 2 rows, the column 2 classes and no NULLs.
 * - `temporal`: rows whose `by` value is before `cutoff` train, the rest (at or after it) test; without a cutoff it
 *   is the value below which `1 - testFraction` of the rows fall.
 *
 * Rows keep their file order within each split. The k-th smallest key is found without sorting the table: a
 * histogram of the keys' top 12 bits, then a sort of only the rows in the bucket holding the boundary.
 */
import { MloeError } from '../../../core/errors';
import { SPLIT_MODES } from '../../../core/steps/data';
import type { ArtifactRef, ArtifactStore } from '../../artifacts';
import { DataError } from '../../table';
import { ROW_COLUMN, openDataset, writeDataset, type ColumnSchema, type DatasetFormat } from './dataset';
import {
  engineError,
  numberOf,
  sqlIdentifier,
  textOf,
  sqlString,
  withSqlSession,
  type SqlRow,
  type SqlSession,
  type SqlSessionOptions,
} from './engine';
import { missingSql } from './ingest';

/** A split mode. */
export type SplitMode = (typeof SPLIT_MODES)[number];

/** Options of {@link splitDataset}. */
export interface SplitOptions {
  mode: SplitMode;
  /** The class column (stratified) or time column (temporal). */
  by?: string;
  /** Share of rows held out, strictly between 0 and 1 (random, stratified, and temporal without a cutoff). */
  testFraction: number;
  /** 0 to 2^32 - 1. */
  seed: number;
  /** temporal: the first value of the test split, as text cast to the column's type. */
  cutoff?: string;
  format: DatasetFormat;
  engine?: SqlSessionOptions;
}

/** What {@link splitDataset} produced. */
export interface SplitResult {
  train: ArtifactRef;
  test: ArtifactRef;
  trainRows: number;
  testRows: number;
}

/** The most classes a stratified split takes. */
export const MAX_STRATA = 1000;

/** The table of each row's position, class and key, in file order (computed once: the key is many operations). */
const KEYS_TABLE = 'mloe_keys';

/** Bits of the key that pick its histogram bucket. */
const BUCKET_SHIFT = 20;

/** MurmurHash3's 32-bit finaliser, as the SQL macro computes it: the seed's mix. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** SQL macros: `fmix32` on UBIGINT holding 32-bit values (products stay below 2^64), and the row key. */
async function createMacros(session: SqlSession): Promise<void> {
  await session.run(
    'CREATE MACRO mloe_fmix_a(h) AS (xor(h, h >> 16) * 2246822507::UBIGINT) & 4294967295::UBIGINT;' +
      'CREATE MACRO mloe_fmix_b(h) AS (xor(h, h >> 13) * 3266489909::UBIGINT) & 4294967295::UBIGINT;' +
      'CREATE MACRO mloe_fmix32(h) AS xor(mloe_fmix_b(mloe_fmix_a(h)), mloe_fmix_b(mloe_fmix_a(h)) >> 16);' +
      'CREATE MACRO mloe_row_key(r, seedmix) AS mloe_fmix32(xor(mloe_fmix32(xor(r::UBIGINT & 4294967295::UBIGINT, ' +
      'seedmix::UBIGINT)), r::UBIGINT >> 32));',
  );
}

/** Checks options that do not depend on the data; `CONFIG_INVALID` names the input. */
export function checkSplitOptions(options: SplitOptions): void {
  const fail = (message: string): never => {
    throw new MloeError('CONFIG_INVALID', `split@1: ${message}`);
  };
  if (!SPLIT_MODES.includes(options.mode)) fail(`mode must be one of ${SPLIT_MODES.join(', ')}, got "${options.mode}"`);
  if (!(options.testFraction > 0 && options.testFraction < 1)) {
    fail(`testFraction must be between 0 and 1 (exclusive), got ${options.testFraction}`);
  }
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    fail(`seed must be an integer from 0 to 4294967295, got ${options.seed}`);
  }
  if (options.mode !== 'random' && (options.by === undefined || options.by === '')) {
    fail(`mode ${options.mode} needs the column to split by: set by`);
  }
  if (options.mode === 'random' && options.by !== undefined)
    fail('by is used by the stratified and temporal modes only');
  if (options.mode !== 'temporal' && options.cutoff !== undefined) fail('cutoff is used by the temporal mode only');
}

/** Splits a dataset. See the module comment. */
export async function splitDataset(
  store: ArtifactStore,
  dataset: ArtifactRef,
  options: SplitOptions,
): Promise<SplitResult> {
  checkSplitOptions(options);
  return withSqlSession(async (session) => {
    const data = await openDataset(session, store, dataset, 'dataset');
    const by = options.by === undefined ? undefined : findColumn(data.columns, options.by, data.label);
    let testPredicate: string;
    let extra: Record<string, string | number>;
    /** The rows to split: the dataset, or (random, stratified) the dataset beside its keys, row by row. */
    let from = `${data.view} AS d`;
    try {
      if (options.mode === 'temporal' && by !== undefined) {
        await rejectMissing(session, data.view, by, data.label, 'temporal');
        const cutoff = await temporalCutoff(session, data.view, by, options);
        testPredicate = `d.${sqlIdentifier(by.name)} >= ${cutoff.sql}`;
        extra = { cutoff: cutoff.text };
      } else {
        await createMacros(session);
        testPredicate = await hashedTestPredicate(session, data.view, by, options, data.label);
        from = `${data.view} AS d POSITIONAL JOIN ${KEYS_TABLE} AS k`;
        extra = { seed: options.seed, testFraction: options.testFraction };
      }
    } catch (error) {
      throw engineError(error, `splitting ${data.label}`);
    }
    const metadata = (split: string) => ({
      split,
      mode: options.mode,
      ...(by === undefined ? {} : { by: by.name }),
      ...extra,
      parent: dataset.digest,
    });
    const select = (predicate: string): string => `SELECT d.* EXCLUDE (${ROW_COLUMN}) FROM ${from} WHERE ${predicate}`;
    const test = await writeDataset(session, store, select(testPredicate), options.format, metadata('test'));
    const train = await writeDataset(
      session,
      store,
      select(`NOT (${testPredicate})`),
      options.format,
      metadata('train'),
    );
    if (train.rows === 0 || test.rows === 0) {
      const empty = train.rows === 0 ? 'train' : 'test';
      throw new DataError(data.label, [
        {
          message:
            `the ${empty} split is empty (${train.rows} train, ${test.rows} test rows)` +
            (options.mode === 'temporal' ? `; column "${options.by ?? ''}" at cutoff ${String(extra.cutoff)}` : ''),
          ...(options.by === undefined ? {} : { column: options.by }),
        },
      ]);
    }
    return { train: train.ref, test: test.ref, trainRows: train.rows, testRows: test.rows };
  }, options.engine);
}

/** The column named `name`, or `DATA_INVALID` listing the columns there are. */
function findColumn(columns: readonly ColumnSchema[], name: string, label: string): ColumnSchema {
  const column = columns.find((candidate) => candidate.name === name);
  if (column === undefined) {
    throw new DataError(label, [
      {
        message: `column "${name}" (split by) does not exist; columns: ${columns.map((c) => JSON.stringify(c.name)).join(', ')}`,
        column: name,
      },
    ]);
  }
  return column;
}

/** `DATA_INVALID` when the split column has missing values, naming the first rows. */
async function rejectMissing(
  session: SqlSession,
  view: string,
  column: ColumnSchema,
  label: string,
  mode: SplitMode,
): Promise<void> {
  const rows = await session.rows(
    `SELECT ${ROW_COLUMN} AS r, count(*) OVER () AS n FROM ${view} WHERE ${missingSql(column)} ORDER BY ${ROW_COLUMN} LIMIT 3`,
  );
  if (rows.length === 0) return;
  const positions = rows.map((row) => numberOf(row.r) + 1);
  throw new DataError(label, [
    {
      message:
        `column "${column.name}": rule ${mode} split: expected no missing values, observed ${numberOf(rows[0]?.n)} ` +
        `rows with NULL or NaN (e.g. rows ${positions.join(', ')})`,
      column: column.name,
      row: positions[0] ?? 0,
    },
  ]);
}

/** The temporal cutoff as SQL of the column's type and as text. */
async function temporalCutoff(
  session: SqlSession,
  view: string,
  column: ColumnSchema,
  options: SplitOptions,
): Promise<{ sql: string; text: string }> {
  const name = sqlIdentifier(column.name);
  if (options.cutoff !== undefined) {
    const sql = `TRY_CAST(${sqlString(options.cutoff)} AS ${column.type})`;
    const [row] = await session.rows(`SELECT CAST(${sql} AS VARCHAR) AS c`);
    if (row?.c === null || row?.c === undefined) {
      throw new MloeError(
        'CONFIG_INVALID',
        `split@1: cutoff "${options.cutoff}" is not a value of column "${column.name}" (${column.type})`,
      );
    }
    return { sql, text: textOf(row.c) };
  }
  const [row] = await session.rows(
    `SELECT CAST(quantile_disc(${name}, ${1 - options.testFraction}) AS VARCHAR) AS c FROM ${view}`,
  );
  const text = textOf(row?.c ?? '');
  return { sql: `CAST(${sqlString(text)} AS ${column.type})`, text };
}

/**
 * The predicate of a test row for the random and stratified modes, over {@link KEYS_TABLE} (as `k`), which it
 * creates: the row's (key, position) at or below its class's threshold. Checks the classes first (stratified): no
 * NULLs, at least 2 classes, at least 2 rows each.
 */
async function hashedTestPredicate(
  session: SqlSession,
  view: string,
  by: ColumnSchema | undefined,
  options: SplitOptions,
  label: string,
): Promise<string> {
  const seedmix = fmix32(options.seed);
  const key = `mloe_row_key(${ROW_COLUMN}, ${seedmix})`;
  const stratum = by === undefined ? `''` : `CAST(${sqlIdentifier(by.name)} AS VARCHAR)`;
  if (by !== undefined) await rejectMissing(session, view, by, label, 'stratified');
  // Insertion order is preserved: row i of the table is row i of the dataset, for the POSITIONAL JOIN.
  await session.run(
    `CREATE TEMP TABLE ${KEYS_TABLE} AS SELECT ${ROW_COLUMN} AS r, ${stratum} AS s, ${key} AS h FROM ${view}`,
  );

  const classes = await session.rows(`SELECT s, count(*) AS n FROM ${KEYS_TABLE} GROUP BY s ORDER BY s`);
  const counts = new Map(classes.map((row) => [textOf(row.s), numberOf(row.n)]));
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const targets = new Map<string, number>();
  if (by === undefined) {
    const k = Math.ceil(options.testFraction * total);
    if (total < 2 || k >= total) {
      throw new DataError(label, [
        { message: `too few rows to split: ${total} rows, testFraction ${options.testFraction}; need at least 2 rows` },
      ]);
    }
    targets.set('', k);
  } else {
    checkClasses(counts, by.name, label);
    for (const [value, n] of counts) {
      targets.set(value, Math.min(n - 1, Math.max(1, Math.round(options.testFraction * n))));
    }
  }

  // The bucket holding each class's k-th smallest key, and how many of its rows are below the threshold.
  const histogram = await session.rows(
    `SELECT s, h >> ${BUCKET_SHIFT} AS b, count(*) AS n FROM ${KEYS_TABLE} GROUP BY ALL ORDER BY s, b`,
  );
  const bounds = new Map<string, { bucket: number; within: number }>();
  const seen = new Map<string, number>();
  for (const row of histogram) {
    const value = textOf(row.s);
    if (bounds.has(value)) continue;
    const before = seen.get(value) ?? 0;
    const n = numberOf(row.n);
    const k = targets.get(value) ?? 0;
    if (before + n >= k) bounds.set(value, { bucket: numberOf(row.b), within: k - before });
    else seen.set(value, before + n);
  }
  const boundValues = [...bounds].map(
    ([value, bound]) => `(${sqlString(value)}, ${bound.bucket}::UBIGINT, ${bound.within}::BIGINT)`,
  );
  const thresholds = await session.rows(
    `SELECT s, CAST(h AS VARCHAR) AS h, CAST(r AS VARCHAR) AS r FROM (` +
      `SELECT k.s, k.h, k.r, b.j, row_number() OVER (PARTITION BY k.s ORDER BY k.h, k.r) AS rn ` +
      `FROM ${KEYS_TABLE} k JOIN (VALUES ${boundValues.join(', ')}) AS b(s, bucket, j) ` +
      `ON k.s = b.s AND (k.h >> ${BUCKET_SHIFT}) = b.bucket) WHERE rn = j`,
  );
  const below = (row: SqlRow): string =>
    `(k.h < ${textOf(row.h)}::UBIGINT OR (k.h = ${textOf(row.h)}::UBIGINT AND k.r <= ${textOf(row.r)}))`;
  const [only] = thresholds;
  if (by === undefined && only !== undefined) return below(only);
  const cases = thresholds.map((row) => `WHEN ${sqlString(textOf(row.s))} THEN ${below(row)}`);
  return `(CASE k.s ${cases.join(' ')} ELSE FALSE END)`;
}

/** `DATA_INVALID` unless the class column has 2 to {@link MAX_STRATA} classes of at least 2 rows each. */
function checkClasses(counts: ReadonlyMap<string, number>, column: string, label: string): void {
  const fail = (message: string): never => {
    throw new DataError(label, [{ message: `column "${column}": rule stratified split: ${message}`, column }]);
  };
  if (counts.size < 2) {
    fail(`expected at least 2 classes, observed ${counts.size} (${JSON.stringify([...counts.keys()])})`);
  }
  if (counts.size > MAX_STRATA) fail(`expected at most ${MAX_STRATA} classes, observed ${counts.size}`);
  const small = [...counts].filter(([, n]) => n < 2);
  if (small.length > 0) {
    fail(
      `every class needs at least 2 rows (one to train, one to test), observed ` +
        small
          .slice(0, 5)
          .map(([value, n]) => `${JSON.stringify(value)} with ${n}`)
          .join(', '),
    );
  }
}
