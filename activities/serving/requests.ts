/**
 * The `/predict` request body, in the shapes of MLflow's scoring protocol (`mlflow models serve`): `dataframe_records`
 * (a list of row objects), `dataframe_split` (`columns` and `data` rows), `instances` (row objects) and `inputs` (row
 * objects, or an object of column arrays). Rows are checked against the model's MLflow signature: a required column
 * missing, or a value of the wrong type, is a {@link RequestError} that names the field (HTTP 400).
 */
import type { SignatureColumn } from '../ml/models/registry';

/** A request the server refuses (HTTP 400, MLflow's `BAD_REQUEST`), naming the field when one is at fault. */
export class RequestError extends Error {
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(message);
    this.name = 'RequestError';
    this.field = field;
  }
}

/** At most this many rows per request. */
export const MAX_ROWS_PER_REQUEST = 100_000;

type Row = Record<string, unknown>;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function recordsOf(value: unknown, key: string): Row[] {
  if (!Array.isArray(value)) throw new RequestError(`${key} must be a list of row objects`, key);
  value.forEach((row, index) => {
    if (!isObject(row))
      throw new RequestError(`${key}[${index}] must be an object of column values`, `${key}[${index}]`);
  });
  return value as Row[];
}

function splitOf(value: unknown): Row[] {
  if (!isObject(value))
    throw new RequestError('dataframe_split must be an object with columns and data', 'dataframe_split');
  const { columns, data } = value;
  if (!Array.isArray(columns) || !columns.every((column) => typeof column === 'string')) {
    throw new RequestError('dataframe_split.columns must be a list of column names', 'dataframe_split.columns');
  }
  if (!Array.isArray(data))
    throw new RequestError('dataframe_split.data must be a list of rows', 'dataframe_split.data');
  return data.map((row: unknown, index) => {
    if (!Array.isArray(row) || row.length !== columns.length) {
      throw new RequestError(
        `dataframe_split.data[${index}] must be a list of ${columns.length} values (one per column)`,
        `dataframe_split.data[${index}]`,
      );
    }
    return Object.fromEntries(columns.map((column: string, position) => [column, row[position] as unknown]));
  });
}

function columnarOf(value: Record<string, unknown>): Row[] {
  const entries = Object.entries(value);
  const lengths = new Set(entries.map(([, column]) => (Array.isArray(column) ? column.length : -1)));
  if (lengths.has(-1) || lengths.size !== 1) {
    throw new RequestError(
      'inputs as an object must map each column to a list of values, all of the same length',
      'inputs',
    );
  }
  const rows = entries[0] === undefined ? 0 : (entries[0][1] as unknown[]).length;
  return Array.from({ length: rows }, (_, i) =>
    Object.fromEntries(entries.map(([name, column]) => [name, (column as unknown[])[i]])),
  );
}

/** The rows of a request body (parsed JSON); {@link RequestError} for any other shape. */
export function parseRows(body: unknown): Row[] {
  if (!isObject(body)) {
    throw new RequestError(
      'the body must be a JSON object with dataframe_records, dataframe_split, instances or inputs',
    );
  }
  const keys = ['dataframe_records', 'dataframe_split', 'instances', 'inputs'].filter((key) => key in body);
  if (keys.length !== 1) {
    throw new RequestError(
      keys.length === 0
        ? `the body needs one of dataframe_records, dataframe_split, instances or inputs (got ${Object.keys(body).join(', ') || 'no keys'})`
        : `the body has ${keys.join(' and ')}: give exactly one`,
    );
  }
  const key = keys[0] ?? '';
  let rows: Row[];
  if (key === 'dataframe_split') rows = splitOf(body.dataframe_split);
  else if (key === 'inputs' && isObject(body.inputs)) rows = columnarOf(body.inputs);
  else rows = recordsOf(body[key], key);
  if (rows.length === 0) throw new RequestError(`${key} holds no rows`, key);
  if (rows.length > MAX_ROWS_PER_REQUEST) {
    throw new RequestError(`${rows.length} rows in one request; at most ${MAX_ROWS_PER_REQUEST}`, key);
  }
  return rows;
}

function typeProblem(type: string, value: unknown): string | undefined {
  switch (type) {
    case 'double':
    case 'float':
      return typeof value === 'number' ? undefined : 'a number';
    case 'long':
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : 'an integer';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'a boolean';
    case 'string':
      return typeof value === 'string' ? undefined : 'a string';
    default:
      return undefined;
  }
}

/** Checks rows against a signature: required columns present, values of the column's type. */
export function checkSignature(rows: readonly Row[], signature: readonly SignatureColumn[]): void {
  rows.forEach((row, index) => {
    for (const column of signature) {
      const value = row[column.name];
      if (value === undefined || value === null) {
        if (column.required) {
          throw new RequestError(
            `row ${index}: field ${JSON.stringify(column.name)} is required (${column.type})`,
            column.name,
          );
        }
        continue;
      }
      const expected = typeProblem(column.type, value);
      if (expected !== undefined) {
        throw new RequestError(
          `row ${index}: field ${JSON.stringify(column.name)} must be ${expected} (${column.type}), got ${JSON.stringify(value)}`,
          column.name,
        );
      }
    }
  });
}
