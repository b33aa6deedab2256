/**
 * The data steps of the demo pipeline (`ingest@1`, `validate@1`, `featurize@1`, run by `runStep` through
 * `activities/steps/builtin.ts`): bring a CSV file into the artifact store, check it against a schema, and turn it
 * into standardised train and test splits. Every output is a content-addressed artifact computed deterministically
 * from the inputs, so each step is idempotent: a retry rewrites the same bytes under the same digest and returns the
 * same references.
 */
import { open, type FileHandle } from 'node:fs/promises';

import { z } from 'zod';

import { MloeError } from '../core/errors';
import { checkAbsolutePath, getText, putJson, sha256Hex, type ArtifactRef, type ArtifactStore } from './artifacts';
import { columnScales, standardizeRow, type FeatureScale } from './linear-model';
import { DataError, formatCsv, parseNumericCsv } from './table';

/** Input of {@link ingestInto}. */
export interface IngestInput {
  /** The CSV file to ingest (absolute). */
  dataPath: string;
}

/** Output of {@link ingestInto}. */
export interface IngestOutput {
  /** The file's bytes, unchanged, as an artifact. */
  dataset: ArtifactRef;
}

/**
 * Copies a data file into the artifact store, streaming (the file is never held in memory whole). Idempotent as a
 * snapshot: a retry stores whatever the file holds at that moment, which is the same artifact unless the file changed
 * in between.
 */
export async function ingestInto(store: ArtifactStore, input: IngestInput): Promise<IngestOutput> {
  const dataPath = checkAbsolutePath(input.dataPath, 'data path');
  let handle: FileHandle;
  try {
    handle = await open(dataPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MloeError('ARTIFACT_NOT_FOUND', `data file ${dataPath} does not exist`, { cause: error });
    }
    throw error; // permissions, I/O errors: possibly transient, left retryable
  }
  const stream = handle.createReadStream(); // closes the handle when it ends or is destroyed
  try {
    if (!(await handle.stat()).isFile()) {
      throw new MloeError('PATH_INVALID', `data path ${dataPath} is a directory or special file, not a file`);
    }
    return { dataset: await store.put(stream, { type: 'dataset', metadata: { source: dataPath } }) };
  } finally {
    stream.destroy();
  }
}

/** Input of {@link validateInto}. */
export interface ValidateInput {
  /** The CSV artifact to check. */
  dataset: ArtifactRef;
  /** The columns the file must have (exactly these, in any order), every value numeric. */
  columns: string[];
  /** How error messages name the data, e.g. the file name it was ingested from. */
  label: string;
}

/** Output of {@link validateInto}. */
export interface ValidateOutput {
  /** The dataset, unchanged: downstream steps read it knowing it passed. */
  dataset: ArtifactRef;
  /** A JSON profile of the data: row count and per-column minimum, maximum and mean. */
  report: ArtifactRef;
  rows: number;
}

/**
 * Checks a CSV artifact against the expected columns: all present, no others, every cell a finite number. Bad data
 * fails with a non-retryable `DATA_INVALID` whose message and details name the row, line and column of each problem.
 */
export async function validateInto(store: ArtifactStore, input: ValidateInput): Promise<ValidateOutput> {
  const table = parseNumericCsv(await getText(store, input.dataset), input.columns, input.label);
  const profile = {
    rows: table.rows.length,
    columns: table.columns.map((name, j) => {
      const values = table.rows.map((row) => row[j] ?? Number.NaN);
      return {
        name,
        min: Math.min(...values),
        max: Math.max(...values),
        mean: values.reduce((sum, value) => sum + value, 0) / values.length,
      };
    }),
  };
  const report = await putJson(store, profile, { type: 'report', metadata: { kind: 'data-profile' } });
  return { dataset: input.dataset, report, rows: table.rows.length };
}

/** The scaler artifact {@link featurizeInto} writes: the training split's statistics of every feature. */
export const scalerSchema = z.object({
  kind: z.literal('standard-scaler'),
  target: z.string(),
  features: z.array(z.object({ name: z.string(), mean: z.number(), std: z.number().positive() })),
});

/** A parsed scaler artifact. */
export type Scaler = z.infer<typeof scalerSchema>;

/** Input of {@link featurizeInto}. */
export interface FeaturizeInput {
  /** A CSV artifact that passed {@link validateInto}. */
  dataset: ArtifactRef;
  features: string[];
  target: string;
  /** Share of rows assigned to the test split, strictly between 0 and 1. */
  testFraction: number;
}

/** Output of {@link featurizeInto}. */
export interface FeaturizeOutput {
  /** Training rows as CSV: standardised features, then the raw target. */
  train: ArtifactRef;
  /** Test rows, standardised with the training statistics. */
  test: ArtifactRef;
  /** JSON {@link Scaler}: per-feature mean and standard deviation of the training split. */
  scaler: ArtifactRef;
  trainRows: number;
  testRows: number;
}

/**
 * Splits a dataset into train and test sets and standardises the features with statistics of the training set only
 * (so nothing about the test rows leaks into training). A row goes to the test set when the sha256 of its values
 * falls below `testFraction`: the split is deterministic, independent of row order, and keeps duplicates together.
 */
export async function featurizeInto(store: ArtifactStore, input: FeaturizeInput): Promise<FeaturizeOutput> {
  if (!(input.testFraction > 0 && input.testFraction < 1)) {
    throw new MloeError('CONFIG_INVALID', `testFraction must be between 0 and 1, got ${input.testFraction}`);
  }
  const columns = [...input.features, input.target];
  const table = parseNumericCsv(await getText(store, input.dataset), columns, input.dataset.uri);

  const trainRows: number[][] = [];
  const testRows: number[][] = [];
  for (const row of table.rows) (rowHashFraction(row) < input.testFraction ? testRows : trainRows).push(row);
  const parameters = input.features.length + 1;
  if (trainRows.length <= parameters || testRows.length < 2) {
    throw new DataError(input.dataset.uri, [
      {
        message:
          `too few rows to split: ${trainRows.length} train and ${testRows.length} test rows; ` +
          `need more than ${parameters} train and at least 2 test rows`,
      },
    ]);
  }

  const scales = columnScales(
    input.features,
    trainRows.map((row) => row.slice(0, input.features.length)),
  );
  const constant = scales.filter((scale) => !(scale.std > 0));
  if (constant.length > 0) {
    throw new DataError(
      input.dataset.uri,
      constant.map((scale) => ({
        message: `feature "${scale.name}" is constant on the training split and cannot be standardised`,
        column: scale.name,
      })),
    );
  }

  const scaler: Scaler = { kind: 'standard-scaler', target: input.target, features: scales };
  const [train, test, scalerRef] = await Promise.all([
    store.put(formatCsv({ columns, rows: trainRows.map((row) => scaleRow(row, scales)) }), {
      type: 'dataset',
      metadata: { split: 'train', rows: trainRows.length },
    }),
    store.put(formatCsv({ columns, rows: testRows.map((row) => scaleRow(row, scales)) }), {
      type: 'dataset',
      metadata: { split: 'test', rows: testRows.length },
    }),
    putJson(store, scaler, { type: 'model', metadata: { kind: 'standard-scaler' } }),
  ]);
  return { train, test, scaler: scalerRef, trainRows: trainRows.length, testRows: testRows.length };
}

/** A row's position in [0, 1), from the sha256 of its values: the basis of the deterministic split. */
function rowHashFraction(row: readonly number[]): number {
  return Number.parseInt(sha256Hex(row.join(',')).slice(0, 8), 16) / 2 ** 32;
}

/** Standardises the features of a row (all but the last value) and keeps the target (the last value) as it is. */
function scaleRow(row: readonly number[], scales: readonly FeatureScale[]): number[] {
  return [...standardizeRow(row, scales), row[scales.length] ?? Number.NaN];
}
