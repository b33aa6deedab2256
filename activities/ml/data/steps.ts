/**
 * The implementations of the columnar data steps (`core/steps/data.ts`): `ingest@2`, `validate@2` and `split@1`,
 * thin adapters from a step's inputs (checked with zod, `CONFIG_INVALID` naming the input) to `./ingest.ts`,
 * `./validate.ts` and `./split.ts`. `activities/steps/builtin.ts` appends them to the built-in steps.
 */
import { z } from 'zod';

import { MloeError } from '../../../core/errors';
import type { JsonValue, StepDescriptor } from '../../../core/spec';
import { DATA_STEPS, DATASET_FORMATS, INGEST_FORMATS, SPLIT_MODES } from '../../../core/steps/data';
import { parseArtifactRef } from '../../artifacts';
import { sourceDigest } from '../../cache/digests';
import type { StepContext, StepImplementation } from '../../steps/registry';
import { parseExpectations } from './expectations';
import { ingestDataset } from './ingest';
import { parseDataSource, sourceFingerprint } from './sources';
import { splitDataset } from './split';
import { validateDataset } from './validate';

type Inputs = Readonly<Record<string, JsonValue>>;

function descriptor(name: string, version: string): StepDescriptor {
  const found = DATA_STEPS.find((step) => step.name === name && step.version === version);
  if (found === undefined) throw new MloeError('INTERNAL', `no data step descriptor ${name}@${version}`);
  return found;
}

/** Parses a step's inputs; `CONFIG_INVALID` naming each bad input. */
function parseInputs<T extends z.ZodType>(step: string, schema: T, inputs: Inputs): z.output<T> {
  const parsed = schema.safeParse(inputs);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `input ${issue.path.map(String).join('.')}: ${issue.message}`);
    throw new MloeError('CONFIG_INVALID', `${step}: ${problems.join('; ')}`, { cause: parsed.error });
  }
  return parsed.data;
}

const ingestInputs = z.object({
  source: z.string().min(1, 'must not be empty'),
  format: z.enum(INGEST_FORMATS).optional(),
  nullValues: z.array(z.string()).optional(),
  dropNulls: z.array(z.string().min(1)).optional(),
  dropIncomplete: z.boolean().default(false),
});

const splitInputs = z.object({
  dataset: z.unknown(),
  mode: z.enum(SPLIT_MODES).default('random'),
  by: z.string().min(1).optional(),
  testFraction: z.number().default(0.2),
  seed: z.number().int().default(0),
  cutoff: z.string().min(1).optional(),
  format: z.enum(DATASET_FORMATS).default('parquet'),
});

/** The S3 settings and cancellation signal a source needs from the context. */
function sourceOptions(context: StepContext) {
  return { ...(context.s3 === undefined ? {} : { s3: context.s3 }), signal: context.signal };
}

/** The code hash of the data steps: every module of `activities/ml/data`. */
const DATA_CODE_HASH = sourceDigest([
  __filename,
  ...['./engine', './dataset', './sources', './ingest', './expectations', './validate', './split'].map((module) =>
    require.resolve(module),
  ),
]);

/** `ingest@2`, `validate@2` and `split@1`. */
export const DATA_STEP_IMPLEMENTATIONS: readonly StepImplementation[] = (
  [
    {
      descriptor: descriptor('ingest', '2'),
      async run(inputs, context) {
        const options = parseInputs('ingest@2', ingestInputs, inputs);
        const result = await ingestDataset(context.store, {
          source: options.source,
          workingDir: context.workingDir,
          ...(options.format === undefined ? {} : { format: options.format }),
          ...(options.nullValues === undefined ? {} : { nullValues: options.nullValues }),
          ...(options.dropNulls === undefined ? {} : { dropNulls: options.dropNulls }),
          dropIncomplete: options.dropIncomplete,
          ...sourceOptions(context),
          engine: { signal: context.signal },
        });
        return {
          outputs: {
            dataset: result.dataset,
            rows: result.rows,
            droppedRows: result.droppedRows,
            schema: result.schema.map((column) => ({ name: column.name, type: column.type })),
            digest: result.digest,
          },
        };
      },
      // The source's content (or, remotely, its validators), not its name, decides whether a result is reused.
      async cacheInputs(inputs, context) {
        const { source } = parseInputs('ingest@2', ingestInputs, inputs);
        return { source: await sourceFingerprint(parseDataSource(source, context.workingDir), sourceOptions(context)) };
      },
    },
    {
      descriptor: descriptor('validate', '2'),
      async run(inputs, context) {
        const dataset = parseArtifactRef(inputs.dataset);
        const result = await validateDataset(context.store, dataset, parseExpectations(inputs.expectations), {
          signal: context.signal,
        });
        return { outputs: { dataset: result.dataset, report: result.report, rows: result.rows } };
      },
    },
    {
      descriptor: descriptor('split', '1'),
      async run(inputs, context) {
        const options = parseInputs('split@1', splitInputs, inputs);
        const result = await splitDataset(context.store, parseArtifactRef(options.dataset), {
          mode: options.mode,
          testFraction: options.testFraction,
          seed: options.seed,
          format: options.format,
          ...(options.by === undefined ? {} : { by: options.by }),
          ...(options.cutoff === undefined ? {} : { cutoff: options.cutoff }),
          engine: { signal: context.signal },
        });
        return {
          outputs: {
            train: result.train,
            test: result.test,
            trainRows: result.trainRows,
            testRows: result.testRows,
          },
        };
      },
    },
  ] satisfies StepImplementation[]
).map((implementation): StepImplementation => ({ ...implementation, codeHash: DATA_CODE_HASH }));
