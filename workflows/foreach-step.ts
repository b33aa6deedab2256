/**
 * A `foreach` step: its list evaluated, one request per item, the iterations run in this workflow up to the batch
 * size and over `foreachBatch` child workflows beyond it (so a large fan-out stays within Temporal's limits on pending
 * activities and history), then the outcomes gathered into the step's list outputs, attempts, cache decisions and
 * status entry.
 */
import { CancellationScope, CancelledFailure, executeChild } from '@temporalio/workflow';

import type { RunStepRequest } from '../activities/steps';
import { MloeError } from '../core/errors';
import { evaluateTemplate, resolveTemplates } from '../core/expressions';
import type { JsonValue } from '../core/spec';
import { foreachBatch } from './foreach-batch';
import type { ListManifests } from './list-manifests';
import type { PipelineDefinition } from './pipeline-definition';
import { recordCacheDecisions } from './run-status';
import { runIterations, type ActivitySlots, type ExecutionOutcome, type StepActivityOptions } from './step-execution';
import type { StepOutputs } from './step-outputs';
import type { StepRequests } from './step-requests';
import { DEFAULT_FOREACH_PARALLEL, MAX_STATUS_FOREACH_OUTPUTS, type StepRunStatus } from './types';

/** What a `foreach` step runs with: the run's pipeline, requests, outputs and limits. */
export interface ForeachContext {
  definition: PipelineDefinition;
  requests: StepRequests;
  outputs: StepOutputs;
  slots: ActivitySlots;
  /** Iterations run in this workflow up to this many items; beyond, in children of this many each. */
  batchSize: number;
  /** The run's workflow id: batch children are `<id>-<step>-batch-<n>`. */
  workflowId: string;
  /** Large list inputs, sent as manifests. */
  manifests: ListManifests;
}

/** An iteration's outcome; `null`: a batch child did not start it, `undefined`: it never ran. */
type IterationOutcome = ExecutionOutcome | null | undefined;

/**
 * Runs a `foreach` step to the end, recording its progress, outputs and cache decisions in `entry`. Throws
 * `PIPELINE_STEP_FAILED` naming the first failed iteration, or a cancellation when the step was cancelled.
 */
export async function runForeachStep(
  context: ForeachContext,
  id: string,
  entry: StepRunStatus,
  options: StepActivityOptions,
): Promise<void> {
  const { definition, requests: builder } = context;
  const step = definition.step(id);
  const items = foreachItems(context, id);
  const withBase = builder.bindings(id, 'with');
  const runBase = step.run === undefined ? undefined : builder.bindings(id, 'run');
  let requests = items.map((item, index) =>
    builder.request(id, builder.inputs(id, withBase, item), runBase, { item, index }),
  );
  const { manifests } = context;
  if (requests.some((request) => manifests.needsManifests(request))) {
    requests = await Promise.all(
      requests.map((request) =>
        manifests.needsManifests(request) ? manifests.compact(request) : Promise.resolve(request),
      ),
    );
  }
  const concurrency = Math.max(1, step.maxParallel ?? DEFAULT_FOREACH_PARALLEL);
  const progress = { total: requests.length, completed: 0, failed: 0, batches: 0 };
  entry.foreach = progress;
  const count = (outcome: IterationOutcome): void => {
    if (outcome?.ok === true) progress.completed += 1;
    else if (outcome?.ok === false && !outcome.cancelled) progress.failed += 1;
  };

  let outcomes: IterationOutcome[];
  if (requests.length <= context.batchSize) {
    outcomes = await runIterations(requests, options, concurrency, context.slots, count);
  } else {
    outcomes = await runBatches(context, id, requests, options, concurrency, (batch) => {
      progress.batches += 1;
      batch.forEach(count);
    });
  }
  gatherOutcomes(context, id, entry, outcomes);
}

/** The items of a `foreach` step: its list literal or expression, evaluated. */
function foreachItems(context: ForeachContext, id: string): JsonValue[] {
  const foreachValue = context.definition.step(id).foreach ?? [];
  const bindings = context.requests.bindings(id, 'foreach');
  const items =
    typeof foreachValue === 'string'
      ? evaluateTemplate(foreachValue, bindings)
      : resolveTemplates(foreachValue, bindings);
  if (!Array.isArray(items)) {
    throw new MloeError('EXPRESSION_FAILED', `foreach of step ${id} gave ${JSON.stringify(items)}, not a list`);
  }
  return items;
}

/** Runs iterations over `foreachBatch` children, `batchSize` items each, within the step's concurrency. */
async function runBatches(
  context: ForeachContext,
  id: string,
  requests: RunStepRequest[],
  options: StepActivityOptions,
  concurrency: number,
  onBatch: (outcomes: (ExecutionOutcome | null)[]) => void,
): Promise<IterationOutcome[]> {
  const { batchSize } = context;
  const perChild = Math.min(concurrency, batchSize);
  const parallelChildren = Math.max(1, Math.floor(concurrency / perChild));
  const batches: RunStepRequest[][] = [];
  for (let start = 0; start < requests.length; start += batchSize)
    batches.push(requests.slice(start, start + batchSize));
  const outcomes: IterationOutcome[] = requests.map(() => undefined);
  const scopeOfStep = CancellationScope.current();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length && !scopeOfStep.consideredCancelled) {
      const number = next;
      next += 1;
      const batch = batches[number] ?? [];
      const result = await executeChild(foreachBatch, {
        args: [{ requests: batch, options, concurrency: perChild }],
        workflowId: `${context.workflowId}-${id}-batch-${number}`,
        staticSummary: `${id} batch ${number + 1} of ${batches.length}`,
      });
      result.outcomes.forEach((outcome, offset) => {
        outcomes[number * batchSize + offset] = outcome;
      });
      onBatch(result.outcomes);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelChildren, batches.length) }, lane));
  return outcomes;
}

/**
 * Gathers the iterations' outcomes into the step: the most attempts any made, the first failure, the cache decisions,
 * and one list per output. The status (the query's answer and the run's result) keeps a large fan-out's lists out:
 * at a few hundred bytes per artifact reference they would pass Temporal's 2 MB payload limit. Downstream steps still
 * receive them, and every iteration's outputs are in its step record.
 */
function gatherOutcomes(context: ForeachContext, id: string, entry: StepRunStatus, outcomes: IterationOutcome[]): void {
  entry.attempts = Math.max(
    0,
    ...outcomes.map((outcome) => (outcome === null || outcome === undefined ? 0 : attemptsOf(outcome))),
  );
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('step cancelled');
  const failed = outcomes.flatMap((outcome, index) => (outcome?.ok === false ? [{ index, outcome }] : []));
  const first = failed[0];
  if (first !== undefined) {
    throw new MloeError(
      'PIPELINE_STEP_FAILED',
      `${failed.length} of ${outcomes.length} iterations failed; ${id}[${first.index}]: ${first.outcome.error}`,
    );
  }
  const results = outcomes.map((outcome) => (outcome?.ok === true ? outcome.result : undefined));
  recordCacheDecisions(
    entry,
    results.filter((result) => result !== undefined),
  );
  const ports = context.definition.portsOf(id);
  const stored: Record<string, JsonValue> = {};
  for (const name of Object.keys(ports.outputs)) {
    stored[name] = results.map((result) => result?.outputs[name] ?? null);
  }
  const metrics = results.map((result) => result?.metrics ?? {});
  if (outcomes.length <= MAX_STATUS_FOREACH_OUTPUTS) {
    entry.outputs = stored;
    if (results.some((result) => result?.metrics !== undefined)) entry.metrics = metrics;
  } else {
    entry.outputsOmitted =
      `${outcomes.length} items, more than the status shows (${MAX_STATUS_FOREACH_OUTPUTS}): ` +
      `see each iteration's step record (mloe lineage ${context.workflowId})`;
  }
  context.outputs.record(id, stored, metrics, ports);
}

function attemptsOf(outcome: ExecutionOutcome): number {
  return outcome.ok ? outcome.result.attempt : outcome.attempts;
}
