/**
 * `features@1`: fits a features transform (`../features/fit.ts`) on the training split, applies it in SQL
 * (`../features/sql.ts`) to the training split and, when given, the test split, and writes both as Parquet datasets
 * (the features, then the label column unchanged) beside the transform as a JSON artifact. Deterministic in its
 * inputs, so a retry writes the same artifacts.
 */
import { z } from 'zod';

import { MloeError } from '../../../core/errors';
import type { JsonValue } from '../../../core/spec';
import { parseArtifactRef, putJson, type ArtifactRef } from '../../artifacts';
import type { StepContext, StepOutput } from '../../steps/registry';
import {
  describeColumns,
  parquetSource,
  putParquet,
  quoteIdentifier,
  readFailure,
  withDuckDb,
} from '../features/duckdb';
import { fitTransform } from '../features/fit';
import { checkTransformable, transformSelect } from '../features/sql';
import {
  CATEGORICAL_IMPUTE_STRATEGIES,
  NUMERIC_IMPUTE_STRATEGIES,
  SCALE_METHODS,
  UNKNOWN_CATEGORY_HANDLING,
} from '../features/transform';
import { parseStepInputs } from './inputs';

/** Artifact metadata key of a transformed dataset: the digest of the transform that made it. */
export const TRANSFORMED_BY = 'featuresTransform';

const columnSettingsSchema = z.strictObject({
  impute: z.enum(NUMERIC_IMPUTE_STRATEGIES).optional(),
  fillValue: z.union([z.number(), z.string()]).optional(),
  scale: z.enum(SCALE_METHODS).optional(),
  handleUnknown: z.enum(UNKNOWN_CATEGORY_HANDLING).optional(),
});

const inputsSchema = z.object({
  train: z.unknown(),
  test: z.unknown().optional(),
  label: z.string().min(1),
  numeric: z.array(z.string().min(1)).optional(),
  categorical: z.array(z.string().min(1)).optional(),
  impute: z.enum(NUMERIC_IMPUTE_STRATEGIES).default('none'),
  imputeCategorical: z.enum(CATEGORICAL_IMPUTE_STRATEGIES).default('none'),
  fillValue: z.number().default(0),
  fillCategory: z.string().default('missing'),
  scale: z.enum(SCALE_METHODS).default('standard'),
  handleUnknown: z.enum(UNKNOWN_CATEGORY_HANDLING).default('ignore'),
  columns: z.record(z.string(), columnSettingsSchema).default({}),
});

/** Runs `features@1` (see the module doc). */
export async function runFeatures(
  inputs: Readonly<Record<string, JsonValue>>,
  context: StepContext,
): Promise<StepOutput> {
  const values = parseStepInputs('features@1', inputsSchema, inputs);
  const train = parseArtifactRef(values.train);
  const test = values.test === undefined || values.test === null ? undefined : parseArtifactRef(values.test);
  return withDuckDb(async (session) => {
    const { connection } = session;
    const trainSource = parquetSource(await session.localPath(context.store, train));
    const transform = await fitTransform(connection, trainSource, {
      label: values.label,
      ...(values.numeric === undefined ? {} : { numeric: values.numeric }),
      ...(values.categorical === undefined ? {} : { categorical: values.categorical }),
      impute: values.impute,
      imputeCategorical: values.imputeCategorical,
      fillValue: values.fillValue,
      fillCategory: values.fillCategory,
      scale: values.scale,
      handleUnknown: values.handleUnknown,
      columns: values.columns,
    }).catch((error: unknown) => {
      throw readFailure(error, `features@1: the training split ${train.uri}`);
    });
    const transformRef = await putJson(context.store, transform, {
      type: 'file',
      metadata: { format: 'mloe.features', version: 1, label: values.label, features: transform.outputs.length },
    });
    const apply = async (
      ref: ArtifactRef,
      source: string,
      what: string,
    ): Promise<{ ref: ArtifactRef; rows: number }> => {
      await checkTransformable(connection, transform, source, what);
      const labelMissing = await connection.runAndReadAll(
        `SELECT count(*) AS n FROM ${source} WHERE ${quoteIdentifier(values.label)} IS NULL`,
      );
      const missing = Number(labelMissing.getRowObjectsJS()[0]?.n ?? 0);
      if (missing > 0) {
        throw new MloeError(
          'DATA_INVALID',
          `${what}: label column ${values.label} has ${missing} missing value(s); rule: every row needs a label`,
        );
      }
      const count = await connection.runAndReadAll(`SELECT count(*) AS n FROM ${source}`);
      const rows = Number(count.getRowObjectsJS()[0]?.n ?? 0);
      const out = await putParquet(
        session,
        context.store,
        `SELECT ${transformSelect(transform)}, ${quoteIdentifier(values.label)} FROM ${source}`,
        { [TRANSFORMED_BY]: transformRef.digest, rows, label: values.label, source: ref.digest },
      );
      return { ref: out, rows };
    };
    const trainOut = await apply(train, trainSource, 'the training split');
    const testOut =
      test === undefined
        ? undefined
        : await (async () => {
            const source = parquetSource(await session.localPath(context.store, test));
            const names = new Set((await describeColumns(connection, source)).map((column) => column.name));
            const missing = [...transform.columns.map((column) => column.name), values.label].filter(
              (name) => !names.has(name),
            );
            if (missing.length > 0) {
              throw new MloeError(
                'DATA_INVALID',
                `features@1: the test split lacks column(s) ${missing.join(', ')} that the training split has`,
              );
            }
            return apply(test, source, 'the test split');
          })();
    return {
      outputs: {
        train: trainOut.ref,
        ...(testOut === undefined ? {} : { test: testOut.ref, testRows: testOut.rows }),
        transform: transformRef,
        features: transform.outputs,
        trainRows: trainOut.rows,
      },
    };
  });
}
