/**
 * The expectations `validate@2` checks, as written in a spec (docs/ml-steps.md), parsed once with zod:
 *
 * ```yaml
 * expectations:
 *   rows: { min: 300, max: 1000000 }
 *   additionalColumns: true
 *   columns:
 *     species: { type: string, values: [Adelie, Chinstrap, Gentoo] }
 *     bill_length_mm: { type: number, min: 25, max: 70, maxNullShare: 0.05 }
 *     id: { type: integer, unique: true }
 * ```
 */
import { z } from 'zod';

import { MloeError } from '../../../core/errors';

/** The column types an expectation can name: families of DuckDB types. */
export const LOGICAL_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'timestamp'] as const;

/** A logical column type. */
export type LogicalType = (typeof LOGICAL_TYPES)[number];

const INTEGER_TYPES = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER'];
const MORE_INTEGER_TYPES = ['UBIGINT', 'UHUGEINT'];

/** Whether a DuckDB type belongs to a logical type (`number` takes integers and decimals too). */
export function typeMatches(duckdbType: string, logical: LogicalType): boolean {
  const integer = [...INTEGER_TYPES, ...MORE_INTEGER_TYPES].includes(duckdbType);
  switch (logical) {
    case 'string':
      return duckdbType === 'VARCHAR';
    case 'integer':
      return integer;
    case 'number':
      return integer || ['FLOAT', 'DOUBLE', 'REAL'].includes(duckdbType) || duckdbType.startsWith('DECIMAL');
    case 'boolean':
      return duckdbType === 'BOOLEAN';
    case 'date':
      return duckdbType === 'DATE';
    case 'timestamp':
      return duckdbType.startsWith('TIMESTAMP');
  }
}

/** Whether a DuckDB type is ordered in a way `min`/`max` make sense for (numbers, dates, times, text). */
export function isNumericType(duckdbType: string): boolean {
  return typeMatches(duckdbType, 'number');
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const bound = z.union([z.number(), z.string()]);

/** Schema of one column's expectations. */
export const columnExpectationSchema = z.strictObject({
  /** The column's type family; any type when absent. */
  type: z.enum(LOGICAL_TYPES).optional(),
  /** The column must exist (default). `false`: its other rules apply only when it does. */
  required: z.boolean().default(true),
  /** The largest share (0 to 1) of rows that may be NULL (or NaN); 0 by default: missing values fail. */
  maxNullShare: z.number().min(0).max(1).default(0),
  /** Inclusive bounds: numbers for numeric columns, ISO text for dates and timestamps, text for strings. */
  min: bound.optional(),
  max: bound.optional(),
  /** The allowed values (categories); NULLs are governed by maxNullShare. */
  values: z.array(scalar).min(1).optional(),
  /** No value may appear twice (NULLs are not compared). */
  unique: z.boolean().default(false),
});

/** One column's expectations, parsed. */
export type ColumnExpectation = z.output<typeof columnExpectationSchema>;

/** Schema of the whole `expectations` input. */
export const expectationsSchema = z.strictObject({
  /** Row count bounds; at least 1 row by default (an empty dataset fails unless `min: 0`). */
  rows: z
    .strictObject({ min: z.number().int().nonnegative().default(1), max: z.number().int().nonnegative().optional() })
    .prefault({}),
  /** Whether columns not listed under `columns` are allowed (default true). */
  additionalColumns: z.boolean().default(true),
  /** Expectations by column name. */
  columns: z.record(z.string().min(1), columnExpectationSchema).default({}),
});

/** The expectations, parsed. */
export type Expectations = z.output<typeof expectationsSchema>;

/**
 * Parses the `expectations` input; `CONFIG_INVALID` lists every problem by its path (`columns.price.min: ...`), so a
 * typo such as `maxNull` is caught rather than ignored.
 */
export function parseExpectations(value: unknown): Expectations {
  const parsed = expectationsSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `expectations.${issue.path.map(String).join('.')}: ${issue.message}`,
    );
    throw new MloeError('CONFIG_INVALID', `validate@2: ${problems.join('; ')}`, { cause: parsed.error });
  }
  const { rows } = parsed.data;
  if (rows.max !== undefined && rows.max < rows.min) {
    throw new MloeError('CONFIG_INVALID', `validate@2: expectations.rows: max ${rows.max} is below min ${rows.min}`);
  }
  return parsed.data;
}
