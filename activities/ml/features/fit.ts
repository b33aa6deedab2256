/**
 * Fitting a features transform (`transform.ts`) on a training split in DuckDB: which columns are numeric and which
 * categorical, the imputation values (mean, median, most frequent, constant), the scaling constants (standard: mean
 * and population standard deviation of the imputed column, as scikit-learn's `StandardScaler` after `SimpleImputer`;
 * min-max: minimum and range) and the sorted categories of each one-hot column. Everything is computed in SQL over the
 * training split only; the result is a small JSON document.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

import { MloeError } from '../../../core/errors';
import {
  describeColumns,
  doubleLiteral,
  isCategoricalType,
  isNumericType,
  quoteIdentifier,
  queryRow,
  queryRows,
} from './duckdb';
import {
  FEATURES_FORMAT,
  FEATURES_FORMAT_VERSION,
  categoryOutputName,
  featuresTransformSchema,
  type CATEGORICAL_IMPUTE_STRATEGIES,
  type CategoricalColumn,
  type FeaturesTransform,
  type NUMERIC_IMPUTE_STRATEGIES,
  type NumericColumn,
  type SCALE_METHODS,
  type UNKNOWN_CATEGORY_HANDLING,
} from './transform';

/** At most this many categories per one-hot column: more is almost always an identifier, not a category. */
export const MAX_CATEGORIES = 1000;

/** Per-column settings, overriding the step-wide ones. */
export interface ColumnSettings {
  impute?: (typeof NUMERIC_IMPUTE_STRATEGIES)[number] | undefined;
  fillValue?: number | string | undefined;
  scale?: (typeof SCALE_METHODS)[number] | undefined;
  handleUnknown?: (typeof UNKNOWN_CATEGORY_HANDLING)[number] | undefined;
}

/** What to fit. */
export interface FitOptions {
  /** The label column: passed through, never a feature. */
  label: string;
  /** Numeric feature columns; default: every numeric column but the label. */
  numeric?: readonly string[];
  /** Categorical feature columns; default: every string, boolean or enum column but the label. */
  categorical?: readonly string[];
  impute: (typeof NUMERIC_IMPUTE_STRATEGIES)[number];
  imputeCategorical: (typeof CATEGORICAL_IMPUTE_STRATEGIES)[number];
  fillValue: number;
  fillCategory: string;
  scale: (typeof SCALE_METHODS)[number];
  handleUnknown: (typeof UNKNOWN_CATEGORY_HANDLING)[number];
  columns: Readonly<Record<string, ColumnSettings>>;
}

/** Fits the transform on `relation` (the training split); `DATA_INVALID` naming the column for unusable data. */
export async function fitTransform(
  connection: DuckDBConnection,
  relation: string,
  options: FitOptions,
): Promise<FeaturesTransform> {
  const columns = await describeColumns(connection, relation);
  const types = new Map(columns.map((column) => [column.name, column.type]));
  const available = columns.map((column) => `${column.name} (${column.type})`).join(', ');
  if (!types.has(options.label)) {
    throw new MloeError(
      'DATA_INVALID',
      `the training split has no label column ${options.label}; its columns: ${available}`,
    );
  }
  const pick = (listed: readonly string[] | undefined, fits: (type: string) => boolean, kind: string): string[] => {
    if (listed === undefined) {
      return columns
        .filter((column) => column.name !== options.label && fits(column.type))
        .map((column) => column.name);
    }
    for (const name of listed) {
      const type = types.get(name);
      if (type === undefined) {
        throw new MloeError(
          'DATA_INVALID',
          `${kind} column ${name} is not in the training split; its columns: ${available}`,
        );
      }
      if (name === options.label) throw new MloeError('CONFIG_INVALID', `column ${name} is the label, not a feature`);
      if (kind === 'numeric' && !fits(type)) {
        throw new MloeError(
          'DATA_INVALID',
          `numeric column ${name} has type ${type}; rule: numeric features are numbers (list it under categorical, or cast it upstream)`,
        );
      }
    }
    return [...listed];
  };
  const numeric = pick(options.numeric, isNumericType, 'numeric');
  const categorical = pick(options.categorical, isCategoricalType, 'categorical').filter(
    (name) => !numeric.includes(name),
  );
  for (const name of Object.keys(options.columns)) {
    if (!numeric.includes(name) && !categorical.includes(name)) {
      throw new MloeError('CONFIG_INVALID', `input columns: ${name} is neither a numeric nor a categorical feature`);
    }
  }
  if (numeric.length + categorical.length === 0) {
    throw new MloeError(
      'DATA_INVALID',
      `the training split has no feature columns besides the label; its columns: ${available}`,
    );
  }
  const rows = Number((await queryRow(connection, `SELECT count(*) AS n FROM ${relation}`)).n);
  if (rows === 0) throw new MloeError('DATA_INVALID', 'the training split is empty (0 rows): nothing to fit');

  const fitted: (NumericColumn | CategoricalColumn)[] = [];
  for (const name of [...numeric, ...categorical]) {
    fitted.push(
      numeric.includes(name)
        ? await fitNumeric(connection, relation, name, rows, options)
        : await fitCategorical(connection, relation, name, rows, options),
    );
  }
  const outputs = fitted.flatMap((column) => column.outputs);
  const duplicate = outputs.find((output, index) => outputs.indexOf(output) !== index);
  if (duplicate !== undefined) {
    throw new MloeError(
      'DATA_INVALID',
      `two features would both be called ${JSON.stringify(duplicate)}: rename a column`,
    );
  }
  return featuresTransformSchema.parse({
    format: FEATURES_FORMAT,
    version: FEATURES_FORMAT_VERSION,
    label: options.label,
    columns: fitted,
    outputs,
    fittedRows: rows,
  });
}

async function fitNumeric(
  connection: DuckDBConnection,
  relation: string,
  name: string,
  rows: number,
  options: FitOptions,
): Promise<NumericColumn> {
  const settings = options.columns[name] ?? {};
  const strategy = settings.impute ?? options.impute;
  const method = settings.scale ?? options.scale;
  const raw = `CAST(${quoteIdentifier(name)} AS DOUBLE)`;
  const present = `NOT (${raw} IS NULL OR isnan(${raw}))`;
  const stats = await queryRow(
    connection,
    `SELECT count(*) FILTER (WHERE ${present}) AS present, count(*) FILTER (WHERE isinf(${raw})) AS infinite,
            avg(${raw}) FILTER (WHERE ${present}) AS mean, median(${raw}) FILTER (WHERE ${present}) AS median
       FROM ${relation}`,
  );
  const present_ = Number(stats.present);
  if (Number(stats.infinite) > 0) {
    throw new MloeError(
      'DATA_INVALID',
      `column ${name}: ${Number(stats.infinite)} infinite value(s) in the training split; rule: numbers must be finite`,
    );
  }
  if (present_ === 0) {
    throw new MloeError(
      'DATA_INVALID',
      `column ${name}: every one of the ${rows} training rows is missing (null or NaN); rule: a feature needs values`,
    );
  }
  let impute: NumericColumn['impute'];
  switch (strategy) {
    case 'none':
      if (present_ < rows) {
        throw new MloeError(
          'DATA_INVALID',
          `column ${name}: ${rows - present_} of ${rows} training rows are missing (null or NaN); rule: no missing values without imputation (set impute: mean, median, most_frequent or constant, or drop those rows)`,
        );
      }
      break;
    case 'mean':
      impute = { strategy, value: Number(stats.mean) };
      break;
    case 'median':
      impute = { strategy, value: Number(stats.median) };
      break;
    case 'most_frequent': {
      const row = await queryRow(
        connection,
        `SELECT ${raw} AS value FROM ${relation} WHERE ${present} GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`,
      );
      impute = { strategy, value: Number(row.value) };
      break;
    }
    case 'constant': {
      const value = settings.fillValue ?? options.fillValue;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new MloeError(
          'CONFIG_INVALID',
          `column ${name}: the constant fill of a numeric column must be a finite number, got ${JSON.stringify(value)}`,
        );
      }
      impute = { strategy, value };
      break;
    }
  }
  const filled =
    impute === undefined ? raw : `(CASE WHEN ${present} THEN ${raw} ELSE ${doubleLiteral(impute.value)} END)`;
  let scale: NumericColumn['scale'];
  if (method !== 'none') {
    const moments = await queryRow(
      connection,
      `SELECT avg(${filled}) AS mean, stddev_pop(${filled}) AS std, min(${filled}) AS lo, max(${filled}) AS hi FROM ${relation}`,
    );
    const [center, spread] =
      method === 'standard'
        ? [Number(moments.mean), Number(moments.std)]
        : [Number(moments.lo), Number(moments.hi) - Number(moments.lo)];
    // A constant column: scaled by 1, as scikit-learn does, rather than divided by zero.
    scale = { method, center, scale: spread > 0 && Number.isFinite(spread) ? spread : 1 };
  }
  return {
    name,
    kind: 'numeric',
    ...(impute === undefined ? {} : { impute }),
    ...(scale === undefined ? {} : { scale }),
    outputs: [name],
  };
}

async function fitCategorical(
  connection: DuckDBConnection,
  relation: string,
  name: string,
  rows: number,
  options: FitOptions,
): Promise<CategoricalColumn> {
  const settings = options.columns[name] ?? {};
  const strategy = settings.impute ?? options.imputeCategorical;
  const unknown = settings.handleUnknown ?? options.handleUnknown;
  const value = `CAST(${quoteIdentifier(name)} AS VARCHAR)`;
  const missing = Number(
    (await queryRow(connection, `SELECT count(*) AS n FROM ${relation} WHERE ${value} IS NULL`)).n,
  );
  if (missing === rows) {
    throw new MloeError(
      'DATA_INVALID',
      `column ${name}: every one of the ${rows} training rows is missing; rule: a feature needs values`,
    );
  }
  let impute: CategoricalColumn['impute'];
  switch (strategy) {
    case 'none':
      if (missing > 0) {
        throw new MloeError(
          'DATA_INVALID',
          `column ${name}: ${missing} of ${rows} training rows are missing; rule: no missing values without imputation (set imputeCategorical: most_frequent or constant, or drop those rows)`,
        );
      }
      break;
    case 'most_frequent': {
      const row = await queryRow(
        connection,
        `SELECT ${value} AS value FROM ${relation} WHERE ${value} IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`,
      );
      impute = { strategy, value: String(row.value) };
      break;
    }
    case 'constant':
      impute = { strategy, value: String(settings.fillValue ?? options.fillCategory) };
      break;
    case 'mean':
    case 'median':
      throw new MloeError(
        'CONFIG_INVALID',
        `column ${name} is categorical: impute it with most_frequent or constant, not ${strategy}`,
      );
  }
  const filled = impute === undefined ? value : `COALESCE(${value}, '${impute.value.replaceAll("'", "''")}')`;
  const found = await queryRows(
    connection,
    `SELECT DISTINCT ${filled} AS value FROM ${relation} ORDER BY 1 LIMIT ${MAX_CATEGORIES + 1}`,
  );
  if (found.length > MAX_CATEGORIES) {
    throw new MloeError(
      'DATA_INVALID',
      `column ${name} has more than ${MAX_CATEGORIES} categories; rule: one-hot columns have at most ${MAX_CATEGORIES} (is it an identifier?)`,
    );
  }
  const categories = found.map((row) => String(row.value));
  return {
    name,
    kind: 'categorical',
    ...(impute === undefined ? {} : { impute }),
    categories,
    unknown,
    outputs: categories.map((category) => categoryOutputName(name, category)),
  };
}
