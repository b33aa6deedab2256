/**
 * Numeric tables as CSV: parsing with precise, row-and-column error reports, and deterministic formatting.
 * Only the CSV subset numeric data needs is supported: comma-separated, one header line, no quoted fields.
 */
import { MloeError } from '../core/errors';

/** A table whose every cell is a finite number, with named columns. */
export interface NumericTable {
  columns: string[];
  /** One array per data row, values in `columns` order. */
  rows: number[][];
}

/** One problem found in input data. `row` is 1-based over data rows (the header is not a row); `line` is 1-based. */
export interface DataIssue {
  message: string;
  row?: number;
  line?: number;
  column?: string;
}

/** Invalid input data (`DATA_INVALID`), carrying every issue found (up to a limit) for error details. */
export class DataError extends MloeError {
  /** The problems found, in file order. */
  readonly issues: DataIssue[];

  constructor(source: string, issues: DataIssue[], totalIssues = issues.length) {
    const listed = issues.map((issue) => `  - ${issue.message}`).join('\n');
    const more = totalIssues > issues.length ? `\n  ... and ${totalIssues - issues.length} more` : '';
    const count = totalIssues === 1 ? '1 problem' : `${totalIssues} problems`;
    super('DATA_INVALID', `${source} failed validation (${count}):\n${listed}${more}`, { retryable: false });
    this.issues = issues;
  }
}

/** At most this many issues are reported; a broken file should not produce a megabyte-long message. */
export const MAX_REPORTED_ISSUES = 10;

const NUMBER_PATTERN = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses CSV text into a numeric table with exactly the `expected` columns (in any order in the file; the table
 * uses the `expected` order). Throws a {@link DataError} naming row, line and column of every problem: a missing or
 * unexpected column, a row with the wrong number of fields, an empty cell, a value that is not a finite number.
 */
export function parseNumericCsv(text: string, expected: readonly string[], source: string): NumericTable {
  const issues: DataIssue[] = [];
  let total = 0;
  const report = (issue: DataIssue): void => {
    total += 1;
    if (issues.length < MAX_REPORTED_ISSUES) issues.push(issue);
  };

  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  const headerLine = lines[0] ?? '';
  if (headerLine.trim() === '')
    throw new DataError(source, [{ message: 'the file is empty (no header line)', line: 1 }]);
  if (headerLine.includes('"')) {
    throw new DataError(source, [{ message: 'quoted fields are not supported', line: 1 }]);
  }

  const header = headerLine.split(',').map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) report({ message: `column "${name}" appears twice in the header`, line: 1, column: name });
    seen.add(name);
  }
  for (const name of expected) {
    if (!seen.has(name)) report({ message: `missing column "${name}"`, line: 1, column: name });
  }
  for (const name of header) {
    if (!expected.includes(name)) {
      report({ message: `unexpected column "${name}" (expected ${expected.join(', ')})`, line: 1, column: name });
    }
  }
  if (total > 0) throw new DataError(source, issues, total);

  const positions = expected.map((name) => header.indexOf(name));
  const rows: number[][] = [];
  let row = 0;
  for (let index = 1; index < lines.length; index += 1) {
    const raw = lines[index] ?? '';
    if (raw.trim() === '') continue; // blank lines, including the one after the final newline
    row += 1;
    const line = index + 1;
    const cells = raw.split(',');
    if (cells.length !== header.length) {
      report({
        message: `row ${row} (line ${line}): expected ${header.length} fields, found ${cells.length}`,
        row,
        line,
      });
      continue;
    }
    const values: number[] = [];
    expected.forEach((column, at) => {
      const cell = (cells[positions[at] ?? -1] ?? '').trim();
      if (cell === '') {
        report({ message: `row ${row} (line ${line}), column "${column}": missing value`, row, line, column });
      } else if (!NUMBER_PATTERN.test(cell) || !Number.isFinite(Number(cell))) {
        report({
          message: `row ${row} (line ${line}), column "${column}": "${cell}" is not a number`,
          row,
          line,
          column,
        });
      } else {
        values.push(Number(cell));
      }
    });
    if (values.length === expected.length) rows.push(values);
  }
  if (total > 0) throw new DataError(source, issues, total);
  if (rows.length === 0) throw new DataError(source, [{ message: 'the file has a header but no data rows' }]);
  return { columns: [...expected], rows };
}

/**
 * Formats a numeric table as CSV with a header and a final newline. Numbers use JavaScript's shortest round-trip
 * form, so the same table always yields the same bytes (and the same artifact digest).
 */
export function formatCsv(table: NumericTable): string {
  const lines = [table.columns.join(','), ...table.rows.map((values) => values.map(formatNumber).join(','))];
  return `${lines.join('\n')}\n`;
}

function formatNumber(value: number): string {
  return Object.is(value, -0) ? '0' : String(value);
}
