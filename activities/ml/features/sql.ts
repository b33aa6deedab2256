/**
 * A features transform (`transform.ts`) in SQL: the select list that computes exactly what `transformRow` computes
 * (the same IEEE double operations on the same constants, which `doubleLiteral` writes exactly), and the checks that
 * find, before anything is written, the rows `transformRow` would refuse (a missing value without imputation, a
 * non-finite number, an unknown category under `unknown: "error"`), naming the column, the count and examples.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

import { MloeError } from '../../../core/errors';
import { doubleLiteral, quoteIdentifier, quoteString, queryRow, queryRows } from './duckdb';
import type { FeaturesTransform, TransformColumn } from './transform';

/** The raw value of a numeric column as a DOUBLE. */
function numericValue(column: string): string {
  return `CAST(${quoteIdentifier(column)} AS DOUBLE)`;
}

/** Whether a DOUBLE expression is missing (NULL or NaN), as `isMissing` decides. */
function missing(value: string): string {
  return `(${value} IS NULL OR isnan(${value}))`;
}

/** The raw value of a categorical column as its category string. */
function categoryValue(column: string): string {
  return `CAST(${quoteIdentifier(column)} AS VARCHAR)`;
}

/** The select list of the transform's outputs, each aliased with its output name. */
export function transformSelect(transform: FeaturesTransform): string {
  return transform.columns.flatMap((column) => columnSelect(column)).join(', ');
}

function columnSelect(column: TransformColumn): string[] {
  if (column.kind === 'numeric') {
    const raw = numericValue(column.name);
    const filled =
      column.impute === undefined
        ? raw
        : `(CASE WHEN ${missing(raw)} THEN ${doubleLiteral(column.impute.value)} ELSE ${raw} END)`;
    const scaled =
      column.scale === undefined
        ? filled
        : `((${filled} - ${doubleLiteral(column.scale.center)}) / ${doubleLiteral(column.scale.scale)})`;
    return [`${scaled} AS ${quoteIdentifier(column.outputs[0] ?? column.name)}`];
  }
  const raw = categoryValue(column.name);
  const filled = column.impute === undefined ? raw : `COALESCE(${raw}, ${quoteString(column.impute.value)})`;
  return column.categories.map(
    (category, index) =>
      `(CASE WHEN ${filled} = ${quoteString(category)} THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END) AS ${quoteIdentifier(column.outputs[index] ?? category)}`,
  );
}

/**
 * Checks that every row of `relation` can be transformed; throws `DATA_INVALID` naming the first column at fault,
 * how many rows, and example values or row numbers. `what` names the data (e.g. "the test split").
 */
export async function checkTransformable(
  connection: DuckDBConnection,
  transform: FeaturesTransform,
  relation: string,
  what: string,
): Promise<void> {
  for (const column of transform.columns) {
    const name = quoteIdentifier(column.name);
    if (column.kind === 'numeric') {
      const raw = numericValue(column.name);
      const counts = await queryRow(
        connection,
        `SELECT count(*) FILTER (WHERE ${missing(raw)}) AS missing, count(*) FILTER (WHERE isinf(${raw})) AS infinite FROM ${relation}`,
      );
      if (Number(counts.infinite) > 0) {
        throw new MloeError(
          'DATA_INVALID',
          `${what}: column ${column.name} has ${Number(counts.infinite)} infinite value(s); rule: numbers must be finite`,
        );
      }
      if (column.impute === undefined && Number(counts.missing) > 0) {
        const rows = await exampleRows(connection, relation, missing(raw));
        throw new MloeError(
          'DATA_INVALID',
          `${what}: column ${column.name} has ${Number(counts.missing)} missing value(s) (null or NaN), e.g. at row(s) ${rows}; rule: no missing values without imputation (set impute for it, or drop those rows)`,
        );
      }
      continue;
    }
    if (column.impute === undefined) {
      const count = Number(
        (await queryRow(connection, `SELECT count(*) AS n FROM ${relation} WHERE ${name} IS NULL`)).n,
      );
      if (count > 0) {
        const rows = await exampleRows(connection, relation, `${name} IS NULL`);
        throw new MloeError(
          'DATA_INVALID',
          `${what}: column ${column.name} has ${count} missing value(s), e.g. at row(s) ${rows}; rule: no missing values without imputation (set imputeCategorical for it, or drop those rows)`,
        );
      }
    }
    if (column.unknown === 'error') {
      const known = column.categories.map(quoteString).join(', ');
      const unknown = await queryRows(
        connection,
        `SELECT ${categoryValue(column.name)} AS value, count(*) AS n FROM ${relation} WHERE ${name} IS NOT NULL AND ${categoryValue(column.name)} NOT IN (${known}) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`,
      );
      if (unknown.length > 0) {
        const examples = unknown.map((row) => `${JSON.stringify(row.value)} (${Number(row.n)} rows)`).join(', ');
        throw new MloeError(
          'DATA_INVALID',
          `${what}: column ${column.name} has categories not seen in training: ${examples}; rule: unknown categories are errors (handleUnknown: error; use ignore to encode them as all zeros)`,
        );
      }
    }
  }
}

/** Up to five 0-based row numbers where `condition` holds, as text. */
async function exampleRows(connection: DuckDBConnection, relation: string, condition: string): Promise<string> {
  const rows = await queryRows(
    connection,
    `SELECT row_number - 1 AS r FROM (SELECT *, row_number() OVER () AS row_number FROM ${relation}) WHERE ${condition} LIMIT 5`,
  );
  return rows.map((row) => String(row.r)).join(', ');
}
