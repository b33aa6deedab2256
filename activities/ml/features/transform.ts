/**
 * The fitted features transform (`mloe.features`, version 1): a pure, versioned JSON document that says how raw
 * columns become the model's numeric feature vector, and {@link transformRow}, the one function that applies it. The
 * `features@1` step fits it on the training split and applies the same document in SQL (`sql.ts`); evaluation and
 * serving apply it here, so what a model sees at serving is what it saw in training (a test proves both agree to the
 * bit). Format reference: docs/ml-models.md.
 *
 * Per column, in order:
 * - numeric: a missing value (null, undefined, NaN) is replaced by `impute.value`, or is an error without `impute`;
 *   then `(x - scale.center) / scale.scale` when `scale` is present. One output.
 * - categorical: the value as a string (`String(x)`; numbers and booleans are categories too); a missing one takes
 *   `impute.value` or is an error; then one output per category, 1 where it matches and 0 elsewhere. A category not
 *   seen in training gives all zeros (`unknown: "ignore"`) or an error (`unknown: "error"`).
 */
import { z } from 'zod';

/** The `format` field of every features transform. */
export const FEATURES_FORMAT = 'mloe.features';
/** The format version this module writes and reads. */
export const FEATURES_FORMAT_VERSION = 1;

/** How a missing numeric value is filled; `none` makes it an error. */
export const NUMERIC_IMPUTE_STRATEGIES = ['none', 'mean', 'median', 'most_frequent', 'constant'] as const;
/** How a missing category is filled; `none` makes it an error. */
export const CATEGORICAL_IMPUTE_STRATEGIES = ['none', 'most_frequent', 'constant'] as const;
/** How a numeric column is scaled. */
export const SCALE_METHODS = ['none', 'standard', 'minmax'] as const;
/** What a category unseen in training becomes. */
export const UNKNOWN_CATEGORY_HANDLING = ['ignore', 'error'] as const;

const numericColumnSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.literal('numeric'),
  /** The fill for missing values and the strategy that chose it (for reading); absent: missing values are errors. */
  impute: z
    .strictObject({ strategy: z.enum(NUMERIC_IMPUTE_STRATEGIES).exclude(['none']), value: z.number() })
    .optional(),
  /** `(x - center) / scale`; absent: the value as it is. */
  scale: z
    .strictObject({ method: z.enum(SCALE_METHODS).exclude(['none']), center: z.number(), scale: z.number() })
    .optional(),
  /** The one output feature's name (the column's name). */
  outputs: z.array(z.string()).length(1),
});

const categoricalColumnSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.literal('categorical'),
  impute: z
    .strictObject({ strategy: z.enum(CATEGORICAL_IMPUTE_STRATEGIES).exclude(['none']), value: z.string() })
    .optional(),
  /** The categories seen in training, sorted: one output each. */
  categories: z.array(z.string()).min(1),
  unknown: z.enum(UNKNOWN_CATEGORY_HANDLING),
  /** `<column>=<category>` for each category, in order. */
  outputs: z.array(z.string()),
});

/** Schema of a features transform document. */
export const featuresTransformSchema = z
  .strictObject({
    format: z.literal(FEATURES_FORMAT),
    version: z.literal(FEATURES_FORMAT_VERSION),
    /** The label column the transform was fitted beside (never transformed; not needed to apply it). */
    label: z.string().optional(),
    columns: z.array(z.discriminatedUnion('kind', [numericColumnSchema, categoricalColumnSchema])).min(1),
    /** The feature vector's names, in order: every column's outputs, concatenated. */
    outputs: z.array(z.string()).min(1),
    /** Rows of the training split it was fitted on. */
    fittedRows: z.number().int().nonnegative(),
  })
  .superRefine((transform, context) => {
    const expected = transform.columns.flatMap((column) => column.outputs);
    if (expected.join('\u0000') !== transform.outputs.join('\u0000')) {
      context.addIssue({ code: 'custom', message: "outputs must be every column's outputs, in order" });
    }
    transform.columns.forEach((column, index) => {
      if (column.kind === 'categorical' && column.outputs.length !== column.categories.length) {
        context.addIssue({
          code: 'custom',
          path: ['columns', index, 'outputs'],
          message: 'one output per category',
        });
      }
    });
  });

/** A fitted features transform. */
export type FeaturesTransform = z.infer<typeof featuresTransformSchema>;
/** One column of a {@link FeaturesTransform}. */
export type TransformColumn = FeaturesTransform['columns'][number];
/** A numeric column of a {@link FeaturesTransform}. */
export type NumericColumn = Extract<TransformColumn, { kind: 'numeric' }>;
/** A categorical column of a {@link FeaturesTransform}. */
export type CategoricalColumn = Extract<TransformColumn, { kind: 'categorical' }>;

/** A value the transform cannot take: which column, and why (the serving API answers 400 with it). */
export class TransformInputError extends Error {
  /** The raw column (request field) at fault. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.name = 'TransformInputError';
    this.field = field;
  }
}

/** The output name of one category of a column. */
export function categoryOutputName(column: string, category: string): string {
  return `${column}=${category}`;
}

/** Whether a raw value counts as missing: null, undefined or NaN. */
export function isMissing(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value));
}

/** A raw numeric value as a number (numbers and BigInts), or undefined when it is not one. */
function numericValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

/** A raw categorical value as its category string, or undefined when it is not a scalar. */
function categoryValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Category lookups, built once per transform (a `Map` per categorical column): applying stays O(columns) per row.
 * Keyed by the transform object, so a transform must not be mutated after its first use.
 */
const categoryIndexes = new WeakMap<CategoricalColumn, Map<string, number>>();

function categoryIndex(column: CategoricalColumn): Map<string, number> {
  let index = categoryIndexes.get(column);
  if (index === undefined) {
    index = new Map(column.categories.map((category, position) => [category, position]));
    categoryIndexes.set(column, index);
  }
  return index;
}

/**
 * Applies the transform to one raw row: `get(column)` reads a raw value, the features are written to `out` from
 * `offset` (`transform.outputs.length` of them). Throws {@link TransformInputError} naming the column for a missing
 * value without imputation, a value of the wrong kind, or an unknown category under `unknown: "error"`.
 */
export function transformRow(
  transform: FeaturesTransform,
  get: (column: string) => unknown,
  out: Float64Array,
  offset = 0,
): void {
  let at = offset;
  for (const column of transform.columns) {
    const raw = get(column.name);
    if (column.kind === 'numeric') {
      let x: number;
      if (isMissing(raw)) {
        if (column.impute === undefined) {
          throw new TransformInputError(column.name, `column ${column.name}: missing value, and it has no imputation`);
        }
        x = column.impute.value;
      } else {
        const number = numericValue(raw);
        if (number === undefined || !Number.isFinite(number)) {
          throw new TransformInputError(column.name, `column ${column.name}: expected a number, got ${describe(raw)}`);
        }
        x = number;
      }
      out[at] = column.scale === undefined ? x : (x - column.scale.center) / column.scale.scale;
      at += 1;
      continue;
    }
    let category: string;
    if (isMissing(raw)) {
      if (column.impute === undefined) {
        throw new TransformInputError(column.name, `column ${column.name}: missing value, and it has no imputation`);
      }
      category = column.impute.value;
    } else {
      const text = categoryValue(raw);
      if (text === undefined) {
        throw new TransformInputError(
          column.name,
          `column ${column.name}: expected a category (string, number or boolean), got ${describe(raw)}`,
        );
      }
      category = text;
    }
    const position = categoryIndex(column).get(category);
    if (position === undefined && column.unknown === 'error') {
      throw new TransformInputError(
        column.name,
        `column ${column.name}: unknown category ${JSON.stringify(category)} (known: ${column.categories
          .map((known) => JSON.stringify(known))
          .join(', ')})`,
      );
    }
    for (let k = 0; k < column.categories.length; k += 1) out[at + k] = k === position ? 1 : 0;
    at += column.categories.length;
  }
}

/** Applies the transform to row objects: a row-major matrix of `rows.length` × `transform.outputs.length`. */
export function transformRows(
  transform: FeaturesTransform,
  rows: readonly Readonly<Record<string, unknown>>[],
): Float64Array {
  const width = transform.outputs.length;
  const out = new Float64Array(rows.length * width);
  rows.forEach((row, index) => {
    try {
      transformRow(transform, (column) => row[column], out, index * width);
    } catch (error) {
      if (error instanceof TransformInputError) {
        throw new TransformInputError(error.field, `row ${index}: ${error.message}`);
      }
      throw error;
    }
  });
  return out;
}

/** The raw columns a transform reads, in order. */
export function inputColumns(transform: FeaturesTransform): string[] {
  return transform.columns.map((column) => column.name);
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  const text = JSON.stringify(value);
  return text === undefined ? typeof value : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
