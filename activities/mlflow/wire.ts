/**
 * MLflow's JSON on the wire, both ways: zod schemas that validate answers (snake_case, empty fields left out, int64
 * as numbers or decimal strings, `"NaN"`/`"Infinity"` for non-finite doubles) and turn them into the camelCase
 * entities of `types.ts`, and the helpers that write requests the way MLflow reads them.
 */
import { z } from 'zod';

import { MlflowError } from './errors';
import type {
  Dataset,
  DatasetInput,
  Experiment,
  FileInfo,
  Metric,
  ModelVersion,
  Param,
  RegisteredModel,
  Run,
  RunInfo,
  Tag,
  TagsInput,
} from './types';

/** `T` with its possibly-undefined properties made optional and left out when undefined. */
type Compact<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** Drops the undefined properties of an object (exact optional properties stay absent rather than `undefined`). */
export function compact<T extends object>(value: T): Compact<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Compact<T>;
}

/** An int64: a JSON number (MLflow's servers) or a decimal string (proto3 JSON), as a number. */
export const int64 = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d+$/, 'expected an integer')
    .transform(Number),
]);

const NON_FINITE = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };

/** A double: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"` as MLflow writes non-finite values. */
export const double = z.union([
  z.number(),
  z.enum(['NaN', 'Infinity', '-Infinity']).transform((text) => NON_FINITE[text]),
]);

/** A double as MLflow reads it: non-finite values as strings. */
export function doubleToWire(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

const tagSchema = z.object({ key: z.string(), value: z.string().default('') });

/** A repeated tag field: empty when left out. */
export const tagsSchema = z.array(tagSchema).default([]);

/** Tags as MLflow takes them: a list of `{key, value}`. */
export function tagsToWire(tags: TagsInput | undefined): Tag[] | undefined {
  if (tags === undefined) return undefined;
  if (Array.isArray(tags)) return (tags as readonly Tag[]).map(({ key, value }) => ({ key, value }));
  return Object.entries(tags as Readonly<Record<string, string>>).map(([key, value]) => ({ key, value }));
}

const lifecycleStage = z.enum(['active', 'deleted']);

/** `Experiment`. */
export const experimentSchema: z.ZodType<Experiment> = z
  .object({
    experiment_id: z.string().min(1),
    name: z.string(),
    artifact_location: z.string().default(''),
    lifecycle_stage: lifecycleStage,
    last_update_time: int64.optional(),
    creation_time: int64.optional(),
    tags: tagsSchema,
  })
  .transform((wire) =>
    compact({
      experimentId: wire.experiment_id,
      name: wire.name,
      artifactLocation: wire.artifact_location,
      lifecycleStage: wire.lifecycle_stage,
      lastUpdateTime: wire.last_update_time,
      creationTime: wire.creation_time,
      tags: wire.tags,
    }),
  );

/** `Metric`. */
export const metricSchema: z.ZodType<Metric> = z
  .object({ key: z.string(), value: double, timestamp: int64, step: int64.default(0) })
  .transform((wire) => ({ key: wire.key, value: wire.value, timestamp: wire.timestamp, step: wire.step }));

const paramSchema: z.ZodType<Param> = z.object({ key: z.string(), value: z.string().default('') });

/** `RunInfo`: `run_id`, or the deprecated `run_uuid` when only that is sent. */
export const runInfoSchema: z.ZodType<RunInfo> = z
  .object({
    run_id: z.string().min(1).optional(),
    run_uuid: z.string().min(1).optional(),
    run_name: z.string().default(''),
    experiment_id: z.string().min(1),
    user_id: z.string().default(''),
    status: z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']),
    start_time: int64.optional(),
    end_time: int64.optional(),
    artifact_uri: z.string().default(''),
    lifecycle_stage: lifecycleStage,
  })
  .refine((wire) => wire.run_id !== undefined || wire.run_uuid !== undefined, {
    message: 'run_id is missing',
    path: ['run_id'],
  })
  .transform((wire) =>
    compact({
      runId: wire.run_id ?? wire.run_uuid ?? '',
      runName: wire.run_name,
      experimentId: wire.experiment_id,
      userId: wire.user_id,
      status: wire.status,
      startTime: wire.start_time,
      endTime: wire.end_time,
      artifactUri: wire.artifact_uri,
      lifecycleStage: wire.lifecycle_stage,
    }),
  );

const datasetSchema: z.ZodType<Dataset> = z
  .object({
    name: z.string(),
    digest: z.string(),
    source_type: z.string(),
    source: z.string(),
    schema: z.string().optional(),
    profile: z.string().optional(),
  })
  .transform((wire) =>
    compact({
      name: wire.name,
      digest: wire.digest,
      sourceType: wire.source_type,
      source: wire.source,
      schema: wire.schema,
      profile: wire.profile,
    }),
  );

const datasetInputSchema: z.ZodType<DatasetInput> = z.object({ tags: tagsSchema, dataset: datasetSchema });

/** `Run`: data and inputs are empty when left out. */
export const runSchema: z.ZodType<Run> = z
  .object({
    info: runInfoSchema,
    data: z
      .object({
        metrics: z.array(metricSchema).default([]),
        params: z.array(paramSchema).default([]),
        tags: tagsSchema,
      })
      .default({ metrics: [], params: [], tags: [] }),
    inputs: z.object({ dataset_inputs: z.array(datasetInputSchema).default([]) }).default({ dataset_inputs: [] }),
  })
  .transform((wire) => ({
    info: wire.info,
    data: wire.data,
    inputs: { datasetInputs: wire.inputs.dataset_inputs },
  }));

/** `FileInfo`. */
export const fileInfoSchema: z.ZodType<FileInfo> = z
  .object({ path: z.string(), is_dir: z.boolean().default(false), file_size: int64.optional() })
  .transform((wire) => compact({ path: wire.path, isDir: wire.is_dir, fileSize: wire.file_size }));

/** `ModelVersion`. */
export const modelVersionSchema: z.ZodType<ModelVersion> = z
  .object({
    name: z.string(),
    version: z.union([z.string().min(1), z.number().int().transform(String)]),
    creation_timestamp: int64.optional(),
    last_updated_timestamp: int64.optional(),
    user_id: z.string().optional(),
    current_stage: z.string().default('None'),
    description: z.string().optional(),
    source: z.string().default(''),
    run_id: z.string().optional(),
    status: z.enum(['PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY']),
    status_message: z.string().optional(),
    tags: tagsSchema,
    run_link: z.string().optional(),
    aliases: z.array(z.string()).default([]),
  })
  .transform((wire) =>
    compact({
      name: wire.name,
      version: wire.version,
      creationTimestamp: wire.creation_timestamp,
      lastUpdatedTimestamp: wire.last_updated_timestamp,
      userId: wire.user_id,
      currentStage: wire.current_stage,
      description: wire.description,
      source: wire.source,
      runId: wire.run_id,
      status: wire.status,
      statusMessage: wire.status_message,
      tags: wire.tags,
      runLink: wire.run_link,
      aliases: wire.aliases,
    }),
  );

/** `RegisteredModel`. */
export const registeredModelSchema: z.ZodType<RegisteredModel> = z
  .object({
    name: z.string(),
    creation_timestamp: int64.optional(),
    last_updated_timestamp: int64.optional(),
    user_id: z.string().optional(),
    description: z.string().optional(),
    latest_versions: z.array(modelVersionSchema).default([]),
    tags: tagsSchema,
    aliases: z
      .array(z.object({ alias: z.string(), version: z.union([z.string(), z.number().int().transform(String)]) }))
      .default([]),
  })
  .transform((wire) =>
    compact({
      name: wire.name,
      creationTimestamp: wire.creation_timestamp,
      lastUpdatedTimestamp: wire.last_updated_timestamp,
      userId: wire.user_id,
      description: wire.description,
      latestVersions: wire.latest_versions,
      tags: wire.tags,
      aliases: wire.aliases,
    }),
  );

/** An answer with no fields of interest (`{}`); extra fields are ignored. */
export const emptySchema = z.object({}).transform(() => undefined);

/** `next_page_token`, absent (or empty) on the last page. */
export const pageTokenSchema = z
  .string()
  .optional()
  .transform((token) => (token === undefined || token === '' ? undefined : token));

/**
 * Checks a request's input before it is sent; a failure is an `INVALID_REQUEST` {@link MlflowError} naming the
 * endpoint and the field (never its value).
 */
export function checkInput<T>(schema: z.ZodType<T>, input: unknown, endpoint: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`)
    .join('; ');
  throw new MlflowError(`MLflow ${endpoint}: invalid request, not sent: ${issues}`, {
    errorCode: 'INVALID_REQUEST',
    endpoint,
    retryable: false,
    attempts: 0,
    cause: parsed.error,
  });
}

/** Input schemas shared by the API modules. */
export const inputs = {
  /** An identifier or name: a non-empty string (MLflow checks the rest). */
  id: z.string().min(1, 'must not be empty'),
  /** A string MLflow checks itself (keys, values, names): any string. */
  text: z.string(),
  /** Tags, as a record or a list. */
  tags: z.union([z.record(z.string(), z.string()), z.array(z.object({ key: z.string(), value: z.string() }))]),
  /** Milliseconds since the epoch, or a step: a whole number. */
  int64: z.number().int('must be a whole number').refine(Number.isSafeInteger, 'must be a safe integer'),
  /** A metric value: any number, `NaN` and infinities included (zod's `number()` refuses those). */
  double: z.custom<number>((value) => typeof value === 'number', 'expected a number'),
  /** A page size. */
  maxResults: z.number().int().positive(),
  /** `order_by` clauses. */
  orderBy: z.array(z.string()),
  /** `ViewType`. */
  viewType: z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']),
} as const;
