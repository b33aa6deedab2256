/**
 * The reuse of a rerun (`mloe rerun RUN --from STEP`): before any step of the rerun starts, the steps it takes from
 * the run it repeats are checked the way a cache hit is — every artifact among their outputs must still be in the
 * store and hash to its digest — and each one that passes gets step records in the rerun, as a cache hit whose source
 * is the repeated run, so `mloe lineage` follows the reused outputs back to where they were made. A step whose
 * outputs do not verify is not reused, and neither is any step that needs it: they run again.
 */
import { artifactRefsIn, shortDigest } from '../artifacts/ref';
import type { ArtifactStatus, ArtifactStore } from '../artifacts/store';
import { MloeError } from '../../core/errors';
import type { JsonValue } from '../../core/spec';
import { stepRunEvent } from './openlineage';
import { artifactUses, readStepRecord, writeStepRecord, type ArtifactUse, type StepRecord } from './records';
import type { LineageEmitter, LineageLogger } from './transport';

/** One step a rerun would take from the run it repeats. */
export interface ReuseStepInput {
  stepId: string;
  /** What it ran: `name@version`, `run`, `pipeline:<path>`. */
  uses: string;
  /** Its outputs in the source run (lists, one element per iteration, for `foreach`). */
  outputs: Record<string, JsonValue>;
  /** For a `foreach` step: its iterations (their records are `<source>.<step>.<index>`). */
  iterations?: number;
  /** The steps among those being reused that it needs: if one of them is not reused, it is not either. */
  needs: string[];
  /** For a `pipeline` step: the child run that produced its outputs. */
  childWorkflowId?: string;
}

/** Input of the `reuseSteps` activity. */
export interface ReuseStepsInput {
  /** The rerun's artifact store (the source run's); the worker's default when absent. */
  artifactStore?: string;
  /** The run repeated. */
  sourceWorkflowId: string;
  /** The rerun's `--from` steps, for the records' reasons. */
  fromSteps: string[];
  /** The rerun: its workflow id, the owner of its records, its pipeline. */
  workflowId: string;
  firstExecutionRunId: string;
  pipeline: string;
  /** The steps to reuse, each after the steps it needs. */
  steps: ReuseStepInput[];
}

/** Whether a step was reused, and if not, why. */
export type ReuseDecision = { stepId: string; reused: true } | { stepId: string; reused: false; reason: string };

/** What the `reuseSteps` activity returns: a decision per step, in the order given. */
export interface ReuseStepsResult {
  decisions: ReuseDecision[];
}

/** Options of {@link reuseSteps}. */
export interface ReuseStepsOptions {
  emitter: LineageEmitter;
  logger?: LineageLogger;
  /** Called as work progresses (the activity heartbeats). */
  progress?: () => void;
  /** Where a record that could not be written is reported (records never decide a reuse). */
  warn?: (message: string) => void;
}

/** Record writes at once. */
const RECORD_WRITES = 16;

/**
 * Checks the outputs of every step to reuse, decides, and writes the records of the steps reused. Idempotent: a
 * retry checks again and writes the same records. `RECORD_CONFLICT` (a record of another run under the rerun's id)
 * fails it; other record failures are reported to `warn`.
 */
export async function reuseSteps(
  store: ArtifactStore,
  input: ReuseStepsInput,
  options: ReuseStepsOptions,
): Promise<ReuseStepsResult> {
  const checked = new Map<string, ArtifactStatus | 'unreadable'>();
  const decisions: ReuseDecision[] = [];
  const refused = new Set<string>();
  for (const step of input.steps) {
    const blocker = step.needs.find((need) => refused.has(need));
    let reason: string | undefined;
    if (blocker !== undefined) reason = `it needs ${blocker}, which could not be reused`;
    else reason = await unusableOutput(store, step, input.sourceWorkflowId, checked, options.progress);
    if (reason === undefined) decisions.push({ stepId: step.stepId, reused: true });
    else {
      refused.add(step.stepId);
      decisions.push({ stepId: step.stepId, reused: false, reason });
    }
  }
  const records = input.steps
    .filter((step) => !refused.has(step.stepId))
    .flatMap((step) => executionsOf(step).map((execution) => ({ step, ...execution })));
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < records.length) {
      const item = records[next++];
      if (item === undefined) continue;
      const record = await reusedRecord(store, input, item.step, item.index, item.outputs);
      try {
        await recordReuse(store, record, options);
      } catch (error) {
        if (error instanceof MloeError && error.code === 'RECORD_CONFLICT') throw error;
        options.warn?.(`could not record the reuse of ${item.step.stepId}: ${(error as Error).message}`);
      }
      options.progress?.();
    }
  };
  await Promise.all(Array.from({ length: Math.min(RECORD_WRITES, records.length) }, writer));
  return { decisions };
}

/**
 * Writes the record of a reused execution, then reports it to OpenLineage as a cache hit is reported: START and
 * COMPLETE together (it had no start of its own).
 */
async function recordReuse(store: ArtifactStore, record: StepRecord, options: ReuseStepsOptions): Promise<void> {
  await writeStepRecord(store, record);
  const { emitter } = options;
  if (!emitter.enabled) return;
  for (const type of ['START', 'COMPLETE'] as const) {
    await emitter.emit(stepRunEvent(record, type, { namespace: emitter.namespace }), options.logger);
  }
}

/** Why a step's outputs cannot be reused (the first artifact missing or damaged), or `undefined` when all verify. */
async function unusableOutput(
  store: ArtifactStore,
  step: ReuseStepInput,
  sourceWorkflowId: string,
  checked: Map<string, ArtifactStatus | 'unreadable'>,
  progress: (() => void) | undefined,
): Promise<string | undefined> {
  for (const { port, ref } of artifactRefsIn(step.outputs)) {
    let status = checked.get(ref.digest);
    if (status === undefined) {
      status = await store.verify(ref).catch(() => 'unreadable' as const);
      checked.set(ref.digest, status);
      progress?.();
    }
    if (status !== 'intact') {
      const what = status === 'missing' ? 'missing from the store' : status;
      return `output ${port} (${shortDigest(ref.digest)}) of run ${sourceWorkflowId} is ${what}`;
    }
  }
  return undefined;
}

/** The executions a reused step stands for: one, or one per `foreach` iteration with its slice of the outputs. */
function executionsOf(step: ReuseStepInput): { index?: number; outputs: Record<string, JsonValue> }[] {
  if (step.iterations === undefined) return [{ outputs: step.outputs }];
  return Array.from({ length: step.iterations }, (_, index) => ({
    index,
    outputs: Object.fromEntries(
      Object.entries(step.outputs).map(([port, values]) => [
        port,
        Array.isArray(values) ? (values[index] ?? null) : values,
      ]),
    ),
  }));
}

/**
 * The rerun's record of a reused execution: a cache hit whose source is the repeated run (for a `pipeline` step, the
 * child run that produced the outputs), with the inputs the source execution recorded.
 */
async function reusedRecord(
  store: ArtifactStore,
  input: ReuseStepsInput,
  step: ReuseStepInput,
  index: number | undefined,
  outputs: Record<string, JsonValue>,
): Promise<StepRecord> {
  const source =
    step.childWorkflowId === undefined
      ? await readStepRecord(store, input.sourceWorkflowId, step.stepId, index).catch(() => undefined)
      : undefined;
  const inputs: ArtifactUse[] = source?.inputs ?? [];
  const now = new Date().toISOString();
  const sourceWorkflowId = step.childWorkflowId ?? input.sourceWorkflowId;
  const via = step.childWorkflowId === undefined ? '' : ` (its sub-pipeline ran as ${step.childWorkflowId})`;
  return {
    version: 2,
    workflowId: input.workflowId,
    firstExecutionRunId: input.firstExecutionRunId,
    pipeline: input.pipeline,
    stepId: step.stepId,
    ...(index === undefined ? {} : { index }),
    uses: step.uses,
    attempt: 1,
    startedAt: now,
    finishedAt: now,
    durationMs: 0,
    state: 'completed',
    cache: {
      decision: 'hit',
      ...(source?.cache.key === undefined ? {} : { key: source.cache.key }),
      reasons: [`reused from run ${input.sourceWorkflowId}${via} by mloe rerun --from ${input.fromSteps.join(',')}`],
      sourceWorkflowId,
    },
    inputs,
    outputs: artifactUses(outputs),
  };
}
