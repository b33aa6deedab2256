/**
 * `validate@2`: checks a dataset against declarative expectations (`./expectations.ts`) in SQL: one aggregate pass
 * computes every column's statistics and every rule's count of failing rows; only for failed rules is a second,
 * small query made for example rows. It always writes the per-column report; when a rule failed it then fails with a
 * non-retryable `DATA_INVALID` whose message names, for each failure, the column, the rule, what was expected, what
 * was observed and a few example rows (1-based row numbers in file order), and points at the report.
 */
import type { Json } from '@duckdb/node-api';

import { MloeError } from '../../../core/errors';
import { putJson, type ArtifactRef, type ArtifactStore } from '../../artifacts';
import { DataError, MAX_REPORTED_ISSUES, type DataIssue } from '../../table';
import { ROW_COLUMN, openDataset, type ColumnSchema } from './dataset';
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
import { isNumericType, typeMatches, type ColumnExpectation, type Expectations } from './expectations';
import { missingSql } from './ingest';

/** Example rows shown per failed rule. */
const EXAMPLE_ROWS = 3;
/** Columns shown per example row: the rule's column first. */
const EXAMPLE_COLUMNS = 4;

/** A rule's name as reports and messages call it. */
export type RuleName =
  | 'rows.min'
  | 'rows.max'
  | 'additionalColumns'
  | 'required'
  | 'type'
  | 'maxNullShare'
  | 'min'
  | 'max'
  | 'values'
  | 'unique';

/** One example of a failing row: its 1-based position in the file and some of its values. */
export interface ExampleRow {
  row: number;
  values: Record<string, Json>;
}

/** The outcome of one rule. */
export interface RuleOutcome {
  rule: RuleName;
  column?: string;
  passed: boolean;
  expected: Json;
  observed: Json;
  /** Rows breaking the rule, for row-level rules. */
  failingRows?: number;
  examples?: ExampleRow[];
}

/** A column of the report: statistics over all rows, and the rules checked on it. */
export interface ColumnReport {
  name: string;
  /** The DuckDB type; absent for a declared column the dataset lacks. */
  type?: string;
  present: boolean;
  nulls?: number;
  nullShare?: number;
  /** Minimum and maximum of the non-missing values (numbers for numeric columns, text otherwise). */
  min?: Json;
  max?: Json;
  rules: RuleOutcome[];
}

/** The report artifact `validate@2` writes. */
export interface ValidationReport {
  kind: 'validation-report';
  dataset: string;
  rows: number;
  passed: boolean;
  failures: number;
  table: RuleOutcome[];
  columns: ColumnReport[];
}

/** A data issue of a failed rule: the {@link DataIssue} of every `DATA_INVALID` plus the rule's facts. */
export interface RuleIssue extends DataIssue {
  rule: RuleName;
  expected: Json;
  observed: Json;
  examples?: ExampleRow[];
}

/** Result of {@link validateDataset} when every rule passed. */
export interface ValidateResult {
  dataset: ArtifactRef;
  report: ArtifactRef;
  rows: number;
}

/** A rule that needs a count of failing rows: its predicate over the view. */
interface RowRule {
  outcome: RuleOutcome;
  /** True for a row breaking the rule. */
  failing: string;
}

/** Validates a dataset. See the module comment. */
export async function validateDataset(
  store: ArtifactStore,
  dataset: ArtifactRef,
  expectations: Expectations,
  engine?: SqlSessionOptions,
): Promise<ValidateResult> {
  return withSqlSession(async (session) => {
    const data = await openDataset(session, store, dataset, 'dataset');
    const report = await checkAll(session, data.view, data.columns, expectations, data.label);
    const reportRef = await putJson(store, report, {
      type: 'report',
      metadata: { kind: 'validation-report', passed: report.passed, failures: report.failures },
    });
    if (!report.passed) throw validationError(report, reportRef);
    return { dataset, report: reportRef, rows: report.rows };
  }, engine);
}

async function checkAll(
  session: SqlSession,
  view: string,
  columns: readonly ColumnSchema[],
  expectations: Expectations,
  label: string,
): Promise<ValidationReport> {
  const byName = new Map(columns.map((column) => [column.name, column]));
  const rowRules: RowRule[] = [];
  const stats: string[] = ['count(*) AS "rows"'];
  const reports: ColumnReport[] = columns.map((column, index) => {
    stats.push(`count(*) FILTER (WHERE ${missingSql(column)}) AS "n${index}"`);
    if (isScalarType(column.type)) {
      const name = sqlIdentifier(column.name);
      const present = `FILTER (WHERE NOT ${missingSql(column)})`;
      const cast = isNumericType(column.type) ? 'DOUBLE' : 'VARCHAR';
      stats.push(`CAST(min(${name}) ${present} AS ${cast}) AS "lo${index}"`);
      stats.push(`CAST(max(${name}) ${present} AS ${cast}) AS "hi${index}"`);
    }
    return { name: column.name, type: column.type, present: true, rules: [] };
  });

  const table: RuleOutcome[] = [];
  const declared = Object.entries(expectations.columns);
  if (!expectations.additionalColumns) {
    const extra = columns.filter((column) => expectations.columns[column.name] === undefined).map((c) => c.name);
    table.push({
      rule: 'additionalColumns',
      passed: extra.length === 0,
      expected: declared.map(([name]) => name),
      observed: extra,
    });
  }
  for (const [name, expectation] of declared) {
    const column = byName.get(name);
    if (column === undefined) {
      reports.push({
        name,
        present: false,
        rules: expectation.required
          ? [{ rule: 'required', column: name, passed: false, expected: 'present', observed: 'absent' }]
          : [],
      });
      continue;
    }
    const report = reports[columns.indexOf(column)];
    if (report === undefined) throw new MloeError('INTERNAL', `no report for column ${name}`);
    rowRules.push(...columnRules(column, expectation, view, report));
  }

  rowRules.forEach((rule, index) => {
    const column = sqlIdentifier(rule.outcome.column ?? '');
    stats.push(
      rule.outcome.rule === 'unique'
        ? `count(${column}) - count(DISTINCT ${column}) AS "r${index}"`
        : `count(*) FILTER (WHERE ${rule.failing}) AS "r${index}"`,
    );
  });
  let row: SqlRow;
  try {
    row = (await session.rows(`SELECT ${stats.join(', ')} FROM ${view}`))[0] ?? {};
  } catch (error) {
    throw engineError(error, `validating ${label}`);
  }
  const rows = numberOf(row.rows);
  table.unshift(
    { rule: 'rows.min', passed: rows >= expectations.rows.min, expected: expectations.rows.min, observed: rows },
    ...(expectations.rows.max === undefined
      ? []
      : [
          {
            rule: 'rows.max' as const,
            passed: rows <= expectations.rows.max,
            expected: expectations.rows.max,
            observed: rows,
          },
        ]),
  );

  columns.forEach((column, index) => {
    const report = reports[index];
    if (report === undefined) return;
    report.nulls = numberOf(row[`n${index}`]);
    report.nullShare = rows === 0 ? 0 : report.nulls / rows;
    if (isScalarType(column.type)) {
      report.min = row[`lo${index}`] ?? null;
      report.max = row[`hi${index}`] ?? null;
    }
  });

  for (const [index, rule] of rowRules.entries()) {
    const failing = numberOf(row[`r${index}`]);
    const outcome = rule.outcome;
    outcome.failingRows = failing;
    if (outcome.rule === 'maxNullShare') {
      const share = rows === 0 ? 0 : failing / rows;
      outcome.observed = share;
      outcome.passed = share <= numberOf(outcome.expected);
    } else if (outcome.rule === 'unique') {
      outcome.passed = failing === 0;
      outcome.observed = failing === 0 ? 'unique' : `${failing} rows repeat a value of an earlier row`;
    } else if (outcome.rule === 'type') {
      // Decided from the schema; the count only finds the offending values for the examples.
      outcome.failingRows = failing;
    } else {
      outcome.passed = failing === 0;
      if (outcome.rule === 'min' || outcome.rule === 'max') {
        const report = reports.find((candidate) => candidate.name === outcome.column);
        outcome.observed = (outcome.rule === 'min' ? report?.min : report?.max) ?? null;
      }
    }
    if (!outcome.passed && failing > 0) {
      outcome.examples = await examples(session, view, columns, outcome.column ?? '', rule.failing);
    }
  }

  const all = [...table, ...reports.flatMap((report) => report.rules)];
  const failures = all.filter((outcome) => !outcome.passed).length;
  return { kind: 'validation-report', dataset: label, rows, passed: failures === 0, failures, table, columns: reports };
}

/** The rules of one present column, each with the predicate of a failing row; the type rule is decided here. */
function columnRules(
  column: ColumnSchema,
  expectation: ColumnExpectation,
  view: string,
  report: ColumnReport,
): RowRule[] {
  const name = sqlIdentifier(column.name);
  const rules: RowRule[] = [];
  const add = (outcome: Omit<RuleOutcome, 'column'>, failing: string): void => {
    const full: RuleOutcome = { ...outcome, column: column.name };
    report.rules.push(full);
    rules.push({ outcome: full, failing });
  };

  if (expectation.type !== undefined && !typeMatches(column.type, expectation.type)) {
    // Values of the wrong type make the value rules meaningless: report the type and stop here.
    const numeric = expectation.type === 'number' || expectation.type === 'integer';
    const offending =
      numeric && (column.type === 'VARCHAR' || column.type === 'JSON')
        ? `(${name} IS NOT NULL AND TRY_CAST(${name} AS DOUBLE) IS NULL)`
        : `${ROW_COLUMN} < ${EXAMPLE_ROWS}`;
    add({ rule: 'type', passed: false, expected: expectation.type, observed: column.type }, offending);
    return rules;
  }
  if (expectation.type !== undefined) {
    report.rules.push({
      rule: 'type',
      column: column.name,
      passed: true,
      expected: expectation.type,
      observed: column.type,
    });
  }

  add({ rule: 'maxNullShare', passed: true, expected: expectation.maxNullShare, observed: 0 }, missingSql(column));
  const present = `NOT ${missingSql(column)}`;
  for (const [rule, bound, operator] of [
    ['min', expectation.min, '<'],
    ['max', expectation.max, '>'],
  ] as const) {
    if (bound === undefined) continue;
    add(
      { rule, passed: true, expected: bound, observed: null },
      `(${present} AND ${name} ${operator} ${boundSql(column, bound, rule)})`,
    );
  }
  if (expectation.values !== undefined) {
    const allowed = expectation.values.map((value) => valueSql(column, value)).join(', ');
    const comparable =
      column.type === 'VARCHAR' || isNumericType(column.type) || column.type === 'BOOLEAN'
        ? name
        : `CAST(${name} AS VARCHAR)`;
    add(
      { rule: 'values', passed: true, expected: expectation.values, observed: null },
      `(${present} AND ${comparable} NOT IN (${allowed}))`,
    );
  }
  if (expectation.unique) {
    // Counted as count - count(DISTINCT) in the shared aggregate (see checkAll); this predicate, a semi-join, only
    // finds the examples of a failure.
    add(
      { rule: 'unique', passed: true, expected: true, observed: null },
      `(${name} IN (SELECT ${name} FROM ${view} WHERE ${name} IS NOT NULL GROUP BY ${name} HAVING count(*) > 1))`,
    );
  }
  return rules;
}

/** Whether a DuckDB type is a scalar (statistics make sense), not a LIST, STRUCT, MAP or the like. */
function isScalarType(type: string): boolean {
  return !/[[\]()<>]|^(STRUCT|MAP|UNION|LIST)/.test(type) || type.startsWith('DECIMAL');
}

/** A `min`/`max` bound as SQL of the column's type; `CONFIG_INVALID` for a bound of the wrong kind. */
function boundSql(column: ColumnSchema, bound: number | string, rule: string): string {
  if (isNumericType(column.type)) {
    const value = typeof bound === 'number' ? bound : Number(bound);
    if (!Number.isFinite(value)) {
      throw new MloeError(
        'CONFIG_INVALID',
        `expectations.columns.${column.name}.${rule}: column "${column.name}" is numeric (${column.type}); ${JSON.stringify(bound)} is not a number`,
      );
    }
    return `${value}::DOUBLE`;
  }
  if (column.type === 'VARCHAR') return sqlString(String(bound));
  return `TRY_CAST(${sqlString(String(bound))} AS ${column.type})`;
}

/** An allowed value as SQL comparable with the column (see `values`). */
function valueSql(column: ColumnSchema, value: string | number | boolean): string {
  if (isNumericType(column.type)) {
    const number = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(number) || typeof value === 'boolean') {
      throw new MloeError(
        'CONFIG_INVALID',
        `expectations.columns.${column.name}.values: column "${column.name}" is numeric (${column.type}); ${JSON.stringify(value)} is not a number`,
      );
    }
    return `${number}::DOUBLE`;
  }
  if (column.type === 'BOOLEAN' && typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return sqlString(String(value));
}

/** A few rows breaking a rule, in file order: the rule's column first, then others up to {@link EXAMPLE_COLUMNS}. */
async function examples(
  session: SqlSession,
  view: string,
  columns: readonly ColumnSchema[],
  column: string,
  failing: string,
): Promise<ExampleRow[]> {
  const shown = [column, ...columns.map((candidate) => candidate.name).filter((name) => name !== column)].slice(
    0,
    EXAMPLE_COLUMNS,
  );
  const list = shown.map((name) => `${sqlIdentifier(name)} AS ${sqlIdentifier(name)}`).join(', ');
  const rows = await session.rows(
    `SELECT ${ROW_COLUMN} AS "__row", ${list} FROM ${view} WHERE ${failing} ORDER BY ${ROW_COLUMN} LIMIT ${EXAMPLE_ROWS}`,
  );
  return rows.map((row) => {
    const { __row: position, ...values } = row;
    return { row: numberOf(position) + 1, values };
  });
}

/** The `DATA_INVALID` of a failed validation: one issue per failed rule. */
function validationError(report: ValidationReport, reportRef: ArtifactRef): DataError {
  const failed = [...report.table, ...report.columns.flatMap((column) => column.rules)].filter((rule) => !rule.passed);
  const issues: RuleIssue[] = failed.map((outcome) => ({
    message: describeFailure(outcome, report.rows),
    rule: outcome.rule,
    expected: outcome.expected,
    observed: outcome.observed,
    ...(outcome.column === undefined ? {} : { column: outcome.column }),
    ...(outcome.examples === undefined ? {} : { examples: outcome.examples, row: outcome.examples[0]?.row ?? 0 }),
  }));
  return new DataError(
    `dataset ${report.dataset} (report: ${reportRef.uri})`,
    issues.slice(0, MAX_REPORTED_ISSUES),
    issues.length,
  );
}

/** One failure in words: column, rule, expected, observed, failing rows and examples. */
export function describeFailure(outcome: RuleOutcome, rows: number): string {
  const where = outcome.column === undefined ? 'dataset' : `column "${outcome.column}"`;
  let text: string;
  switch (outcome.rule) {
    case 'rows.min':
      text = `expected at least ${textOf(outcome.expected)} rows, observed ${textOf(outcome.observed)}`;
      break;
    case 'rows.max':
      text = `expected at most ${textOf(outcome.expected)} rows, observed ${textOf(outcome.observed)}`;
      break;
    case 'additionalColumns':
      text = `expected only the declared columns, observed also ${JSON.stringify(outcome.observed)}`;
      break;
    case 'required':
      text = 'expected the column to exist, observed no such column';
      break;
    case 'type':
      text = `expected type ${textOf(outcome.expected)}, observed ${textOf(outcome.observed)}`;
      break;
    case 'maxNullShare':
      text =
        `expected at most ${share(numberOf(outcome.expected))} missing (NULL or NaN), observed ` +
        `${share(numberOf(outcome.observed))} (${outcome.failingRows ?? 0} of ${rows} rows)`;
      break;
    case 'min':
    case 'max':
      text =
        `expected values ${outcome.rule === 'min' ? '>=' : '<='} ${JSON.stringify(outcome.expected)}, observed ` +
        `${outcome.rule} ${JSON.stringify(outcome.observed)} (${outcome.failingRows ?? 0} rows out of range)`;
      break;
    case 'values':
      text = `expected one of ${JSON.stringify(outcome.expected)}, observed ${outcome.failingRows ?? 0} rows with other values`;
      break;
    case 'unique':
      text = `expected unique values, observed ${textOf(outcome.observed)}`;
      break;
  }
  const shown = (outcome.examples ?? []).map((example) => `row ${example.row} ${JSON.stringify(example.values)}`);
  return `${where}: rule ${outcome.rule}: ${text}${shown.length === 0 ? '' : `; e.g. ${shown.join(', ')}`}`;
}

function share(value: number): string {
  return `${Number((value * 100).toPrecision(3))}%`;
}
