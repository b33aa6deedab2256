/**
 * Run metadata records: what each pipeline run and each step execution did, kept as small JSON records beside the
 * artifacts (`records/runs/<workflowId>.json`, `records/steps/<workflowId>.<stepId>[.<index>].json`, see
 * {@link ArtifactStore.putRecord}). They are the source of `mloe lineage` and of the lineage graph
 * (`./graph.ts`): which step execution produced and consumed which artifact, and which cache hit reused whose outputs.
 *
 * Every record names the Temporal execution that owns it (`firstExecutionRunId`): a writer never replaces a record
 * owned by another execution that happens to share the workflow id; it fails with `RECORD_CONFLICT` instead.
 *
 * Records hold what the user passed (parameters) and what mloe decided, never environment values or secrets.
 */
import { z } from 'zod';

import { MloeError } from '../../core/errors';
import { STEP_ID_PATTERN, WORKFLOW_ID_PATTERN } from '../../core/run-ids';
import { artifactDigestSchema, artifactRefSchema, artifactRefsIn, artifactTypeSchema } from '../artifacts/ref';
import type { ArtifactStore } from '../artifacts/store';

export { STEP_ID_PATTERN, WORKFLOW_ID_PATTERN };

/** Schema of a run's workflow id (see `core/run-ids.ts`). */
export const workflowIdSchema = z
  .string()
  .regex(WORKFLOW_ID_PATTERN, 'expected a run id (workflow id) such as housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D');

/** Schema of a Temporal run id. */
const temporalRunIdSchema = z.string().min(1).max(128);

/** Schema of a step id. */
export const stepIdSchema = z.string().regex(STEP_ID_PATTERN, 'expected a step id (an identifier)');

const timestampSchema = z.iso.datetime({ offset: true });

/** Schema of {@link ArtifactUse}. */
export const artifactUseSchema = z
  .object({
    /** The input or output port the artifact was bound to. */
    port: z.string().min(1).max(128),
    uri: artifactRefSchema.shape.uri,
    digest: artifactDigestSchema,
    type: artifactTypeSchema,
    size: artifactRefSchema.shape.size,
  })
  .strict();

/**
 * One artifact a step execution read or wrote, on one port. A port holding a list of artifacts gives one use per
 * element, all with the same port.
 */
export type ArtifactUse = z.infer<typeof artifactUseSchema>;

/** Schema of {@link StepCache}. */
export const stepCacheSchema = z
  .object({
    decision: z.enum(['hit', 'miss', 'disabled']),
    /** The cache key (64 hex digits); absent when the cache is disabled. */
    key: z.string().min(1).max(256).optional(),
    /** Why: whose outputs a hit reused, what changed for a miss, why the cache is disabled. */
    reasons: z.array(z.string().max(2000)).max(100),
    /** The run whose outputs a hit reused. */
    sourceWorkflowId: workflowIdSchema.optional(),
  })
  .strict();

/** What the cache did for one execution. */
export type StepCache = z.infer<typeof stepCacheSchema>;

/** Schema of {@link StepRecord}. */
export const stepRecordSchema = z
  .object({
    version: z.literal(2),
    workflowId: workflowIdSchema,
    /** The Temporal run id of the run's first execution: the owner of the record. */
    firstExecutionRunId: temporalRunIdSchema,
    /** The pipeline's `metadata.name`. */
    pipeline: z.string().min(1).max(128),
    stepId: stepIdSchema,
    /** The `foreach` iteration. */
    index: z.number().int().nonnegative().max(1_000_000).optional(),
    /** `name@version` of a registered step, or `run` for a command. */
    uses: z.string().min(1).max(256),
    /** The attempt that completed or failed (1 for the first; 1 for a cache hit). */
    attempt: z.number().int().positive(),
    startedAt: timestampSchema,
    finishedAt: timestampSchema,
    durationMs: z.number().nonnegative(),
    state: z.enum(['completed', 'failed']),
    cache: stepCacheSchema,
    inputs: z.array(artifactUseSchema),
    /** For a cache hit, the reused outputs (produced by `cache.sourceWorkflowId`). */
    outputs: z.array(artifactUseSchema),
    error: z.string().max(10_000).optional(),
  })
  .strict()
  .superRefine((record, context) => {
    if (record.cache.decision === 'hit' && record.cache.sourceWorkflowId === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['cache', 'sourceWorkflowId'],
        message: 'a cache hit names its source run',
      });
    }
    if (record.state === 'failed' && record.error === undefined) {
      context.addIssue({ code: 'custom', path: ['error'], message: 'a failed execution says why' });
    }
  });

/** One execution of one step (or one `foreach` iteration), as `records/steps/<workflowId>.<stepId>[.<index>].json`. */
export type StepRecord = z.infer<typeof stepRecordSchema>;

/** Schema of one step of a {@link RunRecord}. */
export const runStepSummarySchema = z
  .object({
    id: stepIdSchema,
    uses: z.string().min(1).max(256),
    state: z.enum(['pending', 'running', 'completed', 'failed', 'skipped', 'cancelled']),
    attempts: z.number().int().nonnegative(),
    startedAt: timestampSchema.optional(),
    finishedAt: timestampSchema.optional(),
    durationMs: z.number().nonnegative().optional(),
    /** The cache decision (`hit`, `miss`, `disabled`, `unchecked`). */
    cache: z.string().min(1).max(32),
    error: z.string().max(10_000).optional(),
  })
  .strict();

/** One step of a run, as the run record summarises it. */
export type RunStepSummary = z.infer<typeof runStepSummarySchema>;

/** Schema of a JSON parameter value. */
const paramsSchema = z.record(z.string(), z.json());

/** Schema of {@link RunRecord}. */
export const runRecordSchema = z
  .object({
    version: z.literal(2),
    workflowId: workflowIdSchema,
    /** The Temporal run id of the execution that wrote the record. */
    temporalRunId: temporalRunIdSchema,
    /** The Temporal run id of the run's first execution (a reset keeps it): the owner of the record. */
    firstExecutionRunId: temporalRunIdSchema,
    /** The Temporal namespace. */
    namespace: z.string().min(1).max(256),
    pipeline: z.string().min(1).max(128),
    /** sha256 of the spec. */
    specHash: z.string().min(1).max(128),
    mloeVersion: z.string().min(1).max(64),
    /** The git commit of the spec's directory; `-dirty` when it had local changes. */
    gitCommit: z
      .string()
      .regex(/^[0-9a-f]{7,64}(-dirty)?$/, 'expected a git commit hash')
      .optional(),
    /** The spec file the run was started from, as the client named it. */
    specFile: z.string().min(1).max(4096).optional(),
    /** The parameter values of the run, defaults applied: what the user passed, nothing from the environment. */
    params: paramsSchema,
    state: z.enum(['running', 'completed', 'failed', 'cancelled']),
    startedAt: timestampSchema,
    finishedAt: timestampSchema.optional(),
    /** Root URI of the run's artifact store. */
    artifactStore: z.string().min(1).max(2048),
    error: z.string().max(10_000).optional(),
    /** For a rerun (`mloe rerun RUN --from STEP`): the run it repeats and the steps it started from. */
    rerunOf: z
      .object({ workflowId: workflowIdSchema, fromSteps: z.array(stepIdSchema).min(1).max(1000) })
      .strict()
      .optional(),
    /** The run's MLflow run, when the worker tracks runs (`activities/tracking`). */
    mlflow: z
      .object({
        runId: z.string().min(1).max(256),
        experimentId: z.string().min(1).max(256),
        url: z.string().max(4096),
      })
      .strict()
      .optional(),
    steps: z.array(runStepSummarySchema),
  })
  .strict();

/** One pipeline run, as `records/runs/<workflowId>.json`; rewritten as the run progresses. */
export type RunRecord = z.infer<typeof runRecordSchema>;

/** The record name of a step execution: `<workflowId>.<stepId>` or `<workflowId>.<stepId>.<index>`. */
export function stepRecordName(workflowId: string, stepId: string, index?: number): string {
  checkName(workflowIdSchema, workflowId, 'run id');
  checkName(stepIdSchema, stepId, 'step id');
  if (index === undefined) return `${workflowId}.${stepId}`;
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new MloeError('DATA_INVALID', `a foreach index must be a non-negative integer, got ${String(index)}`);
  }
  return `${workflowId}.${stepId}.${index}`;
}

/** The parts of a step record name, or undefined when it is not one. */
export function parseStepRecordName(name: string): { workflowId: string; stepId: string; index?: number } | undefined {
  const [workflowId, stepId, index, extra] = name.split('.');
  if (workflowId === undefined || stepId === undefined || extra !== undefined) return undefined;
  if (!WORKFLOW_ID_PATTERN.test(workflowId) || !STEP_ID_PATTERN.test(stepId)) return undefined;
  if (index === undefined) return { workflowId, stepId };
  if (!/^(0|[1-9]\d{0,6})$/.test(index)) return undefined;
  return { workflowId, stepId, index: Number(index) };
}

function checkName(schema: z.ZodType<string>, value: string, what: string): void {
  if (!schema.safeParse(value).success) {
    throw new MloeError('DATA_INVALID', `invalid ${what} ${JSON.stringify(value)} for a lineage record`);
  }
}

/**
 * The artifact references in a step's port values (inputs or outputs), one {@link ArtifactUse} per reference, in
 * port order. A value counts when it parses as an `ArtifactRef`; lists are searched element by element (nested lists
 * too), other values (numbers, strings, objects that are not references) are ignored.
 */
export function artifactUses(values: Readonly<Record<string, unknown>>): ArtifactUse[] {
  return artifactRefsIn(values).map(({ port, ref }) => ({
    port,
    uri: ref.uri,
    digest: ref.digest,
    type: ref.type,
    size: ref.size,
  }));
}

/** Validates a value as a record of `schema`; `DATA_INVALID` (a bug in the writer) listing what is wrong. */
function validated<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new MloeError('DATA_INVALID', `invalid ${what}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** Parses a stored record; one of the wrong shape was damaged or written by another tool: `ARTIFACT_CORRUPT`. */
function stored<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new MloeError('ARTIFACT_CORRUPT', `record ${where} is invalid: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Parses a step record read from anywhere (a file, a store); `ARTIFACT_CORRUPT` naming `where` when invalid. */
export function parseStepRecord(value: unknown, where: string): StepRecord {
  return stored(stepRecordSchema, value, where);
}

/** Parses a run record read from anywhere; `ARTIFACT_CORRUPT` naming `where` when invalid. */
export function parseRunRecord(value: unknown, where: string): RunRecord {
  return stored(runRecordSchema, value, where);
}

/**
 * Validates and writes a step record under its name, replacing an earlier one of the same run (a retried activity
 * writes the same name again). `DATA_INVALID` for a record of the wrong shape, `RECORD_CONFLICT` when the name holds
 * a record of another run with the same workflow id; store failures propagate.
 */
export async function writeStepRecord(store: ArtifactStore, record: StepRecord): Promise<void> {
  const checked = validated(stepRecordSchema, record, `step record ${record.workflowId}.${record.stepId}`);
  const name = stepRecordName(checked.workflowId, checked.stepId, checked.index);
  await refuseForeignOwner(store, 'steps', name, checked.firstExecutionRunId);
  await store.putRecord('steps', name, checked);
}

/**
 * Fails with `RECORD_CONFLICT` when `collection/name` holds a record owned by another Temporal execution than
 * `firstExecutionRunId`. A record that cannot be read as one of ours is left alone too: it is not ours to replace.
 * (Temporal refuses a second run under a workflow id that has one (mloe starts runs with `REJECT_DUPLICATE`), so
 * this guards against runs started past that policy, or stores shared between Temporal namespaces or clusters.)
 */
async function refuseForeignOwner(
  store: ArtifactStore,
  collection: 'steps' | 'runs',
  name: string,
  firstExecutionRunId: string,
): Promise<void> {
  const existing: unknown = await store.getRecord(collection, name);
  if (existing === undefined) return;
  const owner =
    typeof existing === 'object' && existing !== null && 'firstExecutionRunId' in existing
      ? existing.firstExecutionRunId
      : undefined;
  if (owner === firstExecutionRunId) return;
  const whose = typeof owner === 'string' ? `Temporal run ${owner}` : 'a record of an older mloe or another tool';
  throw new MloeError(
    'RECORD_CONFLICT',
    `records/${collection}/${name}.json belongs to ${whose}, not to this run (Temporal run ${firstExecutionRunId}): ` +
      `two runs share the workflow id ${name.split('.')[0] ?? name}. Nothing was overwritten; start runs with ` +
      `distinct ids (mloe generates them; a chosen --id must not be reused).`,
    { retryable: false },
  );
}

/** Reads one step record; `undefined` when there is none, `ARTIFACT_CORRUPT` when it is not a valid record. */
export async function readStepRecord(
  store: ArtifactStore,
  workflowId: string,
  stepId: string,
  index?: number,
): Promise<StepRecord | undefined> {
  const name = stepRecordName(workflowId, stepId, index);
  const value = await store.getRecord('steps', name);
  return value === undefined ? undefined : parseStepRecord(value, `steps/${name}`);
}

/**
 * Validates and writes a run record (the workflow rewrites it as the run progresses); `RECORD_CONFLICT` when the
 * workflow id's record belongs to another run with the same workflow id.
 */
export async function writeRunRecord(store: ArtifactStore, record: RunRecord): Promise<void> {
  const checked = validated(runRecordSchema, record, `run record ${record.workflowId}`);
  await refuseForeignOwner(store, 'runs', checked.workflowId, checked.firstExecutionRunId);
  await store.putRecord('runs', checked.workflowId, checked);
}

/** Reads a run record; `undefined` when there is none, `ARTIFACT_CORRUPT` when it is not a valid record. */
export async function readRunRecord(store: ArtifactStore, workflowId: string): Promise<RunRecord | undefined> {
  checkName(workflowIdSchema, workflowId, 'run id');
  const value = await store.getRecord('runs', workflowId);
  return value === undefined ? undefined : parseRunRecord(value, `runs/${workflowId}`);
}

/** Options of the list functions. */
export interface ListRecordsOptions {
  /**
   * Called for a record that is not valid, which is then skipped; without it the listing fails with
   * `ARTIFACT_CORRUPT`. A tool showing history should skip; code that relies on the records should not.
   */
  onInvalid?: (name: string, error: MloeError) => void;
  /** Records read at once (default 16). */
  concurrency?: number;
}

/** The names of the step records, of one run when `workflowId` is given, in name order. */
export async function listStepRecordNames(store: ArtifactStore, workflowId?: string): Promise<string[]> {
  if (workflowId !== undefined) checkName(workflowIdSchema, workflowId, 'run id');
  const names: string[] = [];
  for await (const name of store.listRecords('steps')) {
    const parts = parseStepRecordName(name);
    if (parts !== undefined && (workflowId === undefined || parts.workflowId === workflowId)) names.push(name);
  }
  return names;
}

/** Every step record (of one run when `workflowId` is given), in name order. */
export async function listStepRecords(
  store: ArtifactStore,
  workflowId?: string,
  options: ListRecordsOptions = {},
): Promise<StepRecord[]> {
  const names = await listStepRecordNames(store, workflowId);
  return readAll(store, 'steps', names, parseStepRecord, options);
}

/** The ids of the runs that have a run record, in name order. */
export async function listRunRecordIds(store: ArtifactStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const name of store.listRecords('runs')) if (WORKFLOW_ID_PATTERN.test(name)) ids.push(name);
  return ids;
}

/** Every run record, in run id order. */
export async function listRunRecords(store: ArtifactStore, options: ListRecordsOptions = {}): Promise<RunRecord[]> {
  return readAll(store, 'runs', await listRunRecordIds(store), parseRunRecord, options);
}

async function readAll<T>(
  store: ArtifactStore,
  collection: 'steps' | 'runs',
  names: readonly string[],
  parse: (value: unknown, where: string) => T,
  options: ListRecordsOptions,
): Promise<T[]> {
  const results: (T | undefined)[] = new Array<T | undefined>(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const position = next++;
      const name = names[position] ?? '';
      try {
        const value = await store.getRecord(collection, name);
        // Removed between listing and reading: not an error.
        if (value !== undefined) results[position] = parse(value, `${collection}/${name}`);
      } catch (error) {
        if (options.onInvalid !== undefined && error instanceof MloeError && error.code === 'ARTIFACT_CORRUPT') {
          options.onInvalid(name, error);
        } else {
          throw error;
        }
      }
    }
  };
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 16, names.length));
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results.filter((result): result is T => result !== undefined);
}
