/**
 * Descriptors of the columnar data steps (`ingest@2`, `validate@2`, `split@1`): datasets as Parquet artifacts,
 * processed in SQL by DuckDB (`activities/ml/data/`). Data only; `core/steps/builtin.ts` appends them to the built-in
 * steps and `activities/ml/data/steps.ts` implements them. Documented in docs/ml-steps.md.
 */
import type { StepDescriptor } from '../spec/registry';

/** The formats `ingest@2` reads. */
export const INGEST_FORMATS = ['csv', 'json', 'parquet'] as const;

/** The formats datasets are written in between steps: Parquet, and CSV for consumers without a Parquet reader. */
export const DATASET_FORMATS = ['parquet', 'csv'] as const;

/** The ways `split@1` splits. */
export const SPLIT_MODES = ['random', 'stratified', 'temporal'] as const;

/** Descriptors of the columnar data steps. */
export const DATA_STEPS: readonly StepDescriptor[] = [
  {
    name: 'ingest',
    version: '2',
    description:
      'Read a CSV, JSON or Parquet file (a path, file://, s3:// or http(s):// URL) into a Parquet dataset artifact, ' +
      'with its row count, schema and the digest of the source bytes.',
    inputs: {
      source: {
        type: 'string',
        description: 'A path (relative to the working directory), file:///abs/path, s3://bucket/key or http(s):// URL.',
      },
      format: {
        type: 'string',
        required: false,
        description:
          'csv, json or parquet; by default from the file name (.csv, .tsv, .json, .jsonl, .ndjson, .parquet).',
      },
      nullValues: {
        type: 'list',
        items: 'string',
        required: false,
        description: 'Text values that mean "missing" (e.g. ".", "NA"): read as NULL.',
      },
      dropNulls: {
        type: 'list',
        items: 'string',
        required: false,
        description: 'Columns in which a NULL (or NaN) drops the row.',
      },
      dropIncomplete: {
        type: 'boolean',
        default: false,
        description: 'Drop every row with a NULL (or NaN) in any column.',
      },
    },
    outputs: {
      dataset: { type: 'dataset', description: 'Parquet; metadata: format, rows, columns (name and type), source.' },
      rows: { type: 'integer', description: 'Rows in the dataset (after any dropped).' },
      droppedRows: { type: 'integer', description: 'Rows dropped by dropNulls / dropIncomplete.' },
      schema: { type: 'list', items: 'object', description: 'The columns: {name, type} with DuckDB type names.' },
      digest: { type: 'string', description: 'sha256:<hex> of the source bytes as read.' },
    },
  },
  {
    name: 'validate',
    version: '2',
    description:
      'Check a dataset against declarative expectations (schema, types, null share, ranges, allowed values, ' +
      'uniqueness, row count) and write a per-column report; fails, not retryably, naming column, rule, observed ' +
      'value and example rows.',
    inputs: {
      dataset: { type: 'dataset' },
      expectations: {
        type: 'object',
        description: 'rows: {min, max}; columns: {<name>: {type, required, maxNullShare, min, max, values, unique}}.',
      },
    },
    outputs: {
      dataset: { type: 'dataset', description: 'The dataset, unchanged: it passed.' },
      report: { type: 'report', description: 'JSON: per-column statistics and every rule with its outcome.' },
      rows: { type: 'integer' },
    },
  },
  {
    name: 'split',
    version: '1',
    description:
      'Split a dataset into train and test datasets: random (seeded), stratified on a column (seeded), or temporal ' +
      'on a column (train before the cutoff, test at or after it). Deterministic for a seed.',
    inputs: {
      dataset: { type: 'dataset' },
      mode: { type: 'string', default: 'random', description: 'random, stratified or temporal.' },
      by: { type: 'string', required: false, description: 'The label (stratified) or time column (temporal).' },
      testFraction: { type: 'number', default: 0.2, description: 'Share of rows held out, between 0 and 1.' },
      seed: { type: 'integer', default: 0, description: 'Seed of the random and stratified modes (0 to 2^32-1).' },
      cutoff: {
        type: 'string',
        required: false,
        description: 'temporal: the first value of the test split (a date, a timestamp or a number, as text).',
      },
      format: { type: 'string', default: 'parquet', description: 'parquet, or csv for consumers without Parquet.' },
    },
    outputs: {
      train: { type: 'dataset' },
      test: { type: 'dataset' },
      trainRows: { type: 'integer' },
      testRows: { type: 'integer' },
    },
  },
];
