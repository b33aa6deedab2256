/**
 * `runPipeline`: the interpreter of a validated pipeline spec. It starts every step whose needs are settled, up to
 * the spec's `maxParallel`, through the one `runStep` activity with options built from the step (retry, timeout,
 * heartbeat, a summary naming the step); evaluates `when`, `with`, `foreach` and `run` templates deterministically
 * with the outputs of finished steps; fans `foreach` steps out (in this workflow, or over `foreachBatch` children for
 * large lists); and answers the `status` query at any time. Cancelling the workflow cancels its running steps,
 * records them as cancelled and ends the workflow cancelled.
 *
 * Failure semantics: by default the first failure cancels the running steps and fails the pipeline. With the
 * pipeline's `continueOnFailure`, a failure fails only the steps downstream of it (recorded as skipped) and the
 * pipeline fails at the end. A step's own `continueOnFailure` keeps its failure from failing the pipeline at all.
 *
 * Skipping: a step whose `when` is false is skipped, and so is every step that needs a skipped step, unless that step
 * has a `when` of its own: it then decides for itself (a skipped step has no outputs; test with `has(steps.x)`).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  executeChild,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import type { LineageActivities, RunStatusSnapshot } from '../activities/lineage';
import type { RunStepRequest, RunStepResult } from '../activities/steps';
import { summarizeCache } from '../core/cache-summary';
import { MloeError } from '../core/errors';
import {
  evaluateCondition,
  evaluateTemplate,
  interpolate,
  resolveTemplates,
  type ExpressionBindings,
} from '../core/expressions';
import {
  buildGraph,
  createStepRegistry,
  parseOutputReference,
  readySteps,
  stepBindings,
  stepPorts,
  type JsonValue,
  type OutputReference,
  type PipelineSpec,
  type ScopeContext,
  type StepPorts,
  type StepSpec,
} from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { foreachBatch } from './foreach-batch';
import { runSubPipeline, subPipelineLookup } from './sub-pipeline';
import {
  DEFAULT_FOREACH_BATCH_SIZE,
  DEFAULT_FOREACH_PARALLEL,
  MAX_IN_FLIGHT_ACTIVITIES,
  MAX_STATUS_FOREACH_OUTPUTS,
  PIPELINE_SEARCH_ATTRIBUTE,
  PIPELINE_STATUS_VALUES,
  STATUS_SEARCH_ATTRIBUTE,
  pipelineStatusQuery,
  type PipelineRunStatus,
  type RunPipelineInput,
  type StepRunStatus,
  type StepState,
} from './types';
import {
  ActivitySlots,
  describeFailure,
  executeStep,
  failedAttempts,
  runIterations,
  stepActivityOptions,
  type ExecutionOutcome,
  type StepActivityOptions,
} from './step-execution';

/** Runs a validated pipeline; returns the final status, or fails with `PIPELINE_STEP_FAILED`. */
export async function runPipeline(input: RunPipelineInput): Promise<PipelineRunStatus> {
  const { spec, params } = input;
  const info = workflowInfo();
  const registry = createStepRegistry(input.descriptors ?? BUILTIN_STEPS);
  const graph = buildGraph(spec.steps);
  const pipelines = subPipelineLookup(input);
  const scope: ScopeContext = { spec, registry, graph, pipelines };
  const workingDir = input.workingDir;
  const batchSize = Math.max(1, input.foreachBatchSize ?? DEFAULT_FOREACH_BATCH_SIZE);
  const slots = new ActivitySlots(MAX_IN_FLIGHT_ACTIVITIES);

  const ports = new Map<string, StepPorts>();
  const entries = new Map<string, StepRunStatus>();
  for (const id of graph.ids) {
    const step = stepOf(spec, id);
    const stepPortsOf = stepPorts(step, registry, pipelines);
    if (stepPortsOf === undefined) {
      throw invalidSpec(`step ${id} uses ${step.uses ?? step.pipeline ?? ''}, which is not registered or not loaded`);
    }
    ports.set(id, stepPortsOf);
    const descriptor = stepPortsOf.descriptor;
    entries.set(id, {
      id,
      ...(step.name === undefined ? {} : { name: step.name }),
      needs: [...(graph.needs.get(id) ?? [])],
      uses:
        step.pipeline !== undefined
          ? `pipeline:${step.pipeline}`
          : descriptor === undefined
            ? 'run'
            : `${descriptor.name}@${descriptor.version}`,
      state: 'pending',
      attempts: 0,
      cache: noCacheReason(input, step) === undefined ? 'unchecked' : 'disabled',
    });
  }
  const status: PipelineRunStatus = {
    pipeline: spec.metadata.name,
    workflowId: info.workflowId,
    specHash: input.specHash,
    state: 'running',
    params,
    ...(input.artifactStore === undefined ? {} : { artifactStore: input.artifactStore }),
    metadata: input.metadata ?? {},
    startedAt: workflowTime(),
    steps: [...entries.values()],
  };
  setHandler(pipelineStatusQuery, () => status);
  upsertSearchAttributes([
    { key: PIPELINE_SEARCH_ATTRIBUTE, value: spec.metadata.name },
    { key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.running },
  ]);
  // The run record (and OpenLineage START) is written before any step starts: a run whose workflow id already names
  // another run's records fails here (RECORD_CONFLICT) with nothing run and nothing overwritten.
  try {
    await recordRunSafely(status, info.firstExecutionRunId);
  } catch (error) {
    upsertSearchAttributes([{ key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.failed }]);
    throw error;
  }

  /** Stored outputs by step: what downstream steps receive (artifact references, scalars). */
  const outputs: Record<string, Record<string, JsonValue>> = {};
  /** Outputs as expressions see them: a `metrics` output reads as its map of numbers. */
  const expressionOutputs: Record<string, Record<string, JsonValue>> = {};
  const done = new Set<string>();
  const skipped = new Set<string>();
  /** Failed or cancelled: settled, and blocking their dependents. */
  const stopped = new Set<string>();
  /** Steps started and not yet settled. */
  const running = new Set<string>();
  /** How many started steps have settled: the main loop wakes when it moves (one condition, not a race over all). */
  let settledCount = 0;
  const failures: string[] = [];
  const stepsScope = new CancellationScope();
  const rootScope = CancellationScope.current();
  let failFast = false;

  const entry = (id: string): StepRunStatus => {
    const found = entries.get(id);
    if (found === undefined) throw new MloeError('INTERNAL', `no status entry for step ${id}`);
    return found;
  };
  const bindings = (id: string, field: 'with' | 'when' | 'foreach' | 'run', extra: object = {}): ExpressionBindings =>
    stepBindings(scope, id, field, { params, outputs: expressionOutputs, ...extra });

  const finish = (id: string, state: StepState, detail: { error?: string; reason?: string } = {}): void => {
    const current = entry(id);
    current.state = state;
    if (detail.error !== undefined) current.error = detail.error;
    if (detail.reason !== undefined) current.reason = detail.reason;
    if (current.startedAt !== undefined) {
      current.finishedAt = workflowTime();
      current.durationMs = Date.parse(current.finishedAt) - Date.parse(current.startedAt);
    }
  };

  const onFailure = (id: string, error: string): void => {
    finish(id, 'failed', { error });
    stopped.add(id);
    if (stepOf(spec, id).continueOnFailure === true) return;
    failures.push(id);
    if (spec.continueOnFailure !== true) {
      failFast = true;
      stepsScope.cancel();
    }
  };

  /** Whether a ready step runs, is skipped (and why), or fails evaluating its condition. */
  const gate = (id: string): { run: true } | { run: false; reason: string } => {
    const step = stepOf(spec, id);
    const skippedNeed = (graph.needs.get(id) ?? []).find((need) => skipped.has(need));
    if (step.when === undefined) {
      return skippedNeed === undefined
        ? { run: true }
        : { run: false, reason: `needs ${skippedNeed}, which was skipped` };
    }
    return evaluateCondition(step.when, bindings(id, 'when'))
      ? { run: true }
      : { run: false, reason: `when is false: ${String(step.when)}` };
  };

  /** The output references among each step's `with` values, parsed once per step (not once per `foreach` item). */
  const withReferences = new Map<string, ReadonlyMap<string, OutputReference>>();
  const referencesOf = (id: string): ReadonlyMap<string, OutputReference> => {
    let found = withReferences.get(id);
    if (found === undefined) {
      const references = new Map<string, OutputReference>();
      for (const [name, value] of Object.entries(stepOf(spec, id).with ?? {})) {
        const reference = parseOutputReference(value);
        if (reference !== undefined) references.set(name, reference);
      }
      found = references;
      withReferences.set(id, found);
    }
    return found;
  };

  /** The input values of one execution: port defaults, then `with` (an output reference passes the stored value). */
  const resolveInputs = (id: string, base: ExpressionBindings, item?: JsonValue): Record<string, JsonValue> => {
    const step = stepOf(spec, id);
    const references = referencesOf(id);
    const withBindings: ExpressionBindings =
      item === undefined || base.item === undefined ? base : { ...base, item: { type: base.item.type, value: item } };
    const values: Record<string, JsonValue> = {};
    for (const [name, port] of Object.entries(ports.get(id)?.inputs ?? {})) {
      if (port.default !== undefined) values[name] = port.default;
    }
    for (const [name, value] of Object.entries(step.with ?? {})) {
      const reference = references.get(name);
      const stored = reference === undefined ? undefined : outputs[reference.step]?.[reference.output];
      values[name] = stored !== undefined ? stored : resolveTemplates(value, withBindings);
    }
    return values;
  };

  /** The request of one execution: `run` templates resolved with the inputs (and `item`). */
  const buildRequest = (
    id: string,
    inputs: Record<string, JsonValue>,
    runBase: ExpressionBindings | undefined,
    foreach?: { item: JsonValue; index: number },
  ): RunStepRequest => {
    const step = stepOf(spec, id);
    const stepEntry = entry(id);
    const noCache = noCacheReason(input, step);
    const request: RunStepRequest = {
      stepId: id,
      workflowId: info.workflowId,
      firstExecutionRunId: info.firstExecutionRunId,
      pipeline: spec.metadata.name,
      inputs,
      params,
      outputs: Object.fromEntries(
        Object.entries(ports.get(id)?.outputs ?? {}).map(([name, port]) => [name, { type: port.type }]),
      ),
      ...(input.artifactStore === undefined ? {} : { artifactStore: input.artifactStore }),
      workingDir,
      ...(noCache === undefined ? {} : { noCache }),
      ...(foreach === undefined ? {} : { index: foreach.index }),
    };
    // A registered step knows its outputs and sees only its inputs: no parameters (they are not in its cache key, and
    // a large parameter would otherwise be copied into every `foreach` iteration's request).
    if (step.run === undefined) return { ...request, params: {}, outputs: {}, uses: stepEntry.uses };
    let runBindings: ExpressionBindings = {
      ...(runBase ?? {}),
      inputs: { type: runBase?.inputs?.type ?? 'dyn', value: inputs },
    };
    if (foreach !== undefined && runBindings.item !== undefined) {
      runBindings = { ...runBindings, item: { type: runBindings.item.type, value: foreach.item } };
    }
    const text = (value: string | number | boolean): string =>
      typeof value === 'string' ? interpolate(evaluateTemplate(value, runBindings)) : String(value);
    const { command, env, ...rest } = step.run;
    return {
      ...request,
      run: {
        ...rest,
        command: command.map(text),
        ...(env === undefined ? {} : { env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, text(v)])) }),
      },
    };
  };

  /** Records a completed execution's outputs (stored and as expressions see them). */
  const recordOutputs = (id: string, stored: Record<string, JsonValue>, metrics: JsonValue | undefined): void => {
    outputs[id] = stored;
    const visible: Record<string, JsonValue> = { ...stored };
    for (const [name, port] of Object.entries(ports.get(id)?.outputs ?? {})) {
      if (port.type === 'metrics' && metrics !== undefined) visible[name] = metrics;
    }
    expressionOutputs[id] = visible;
  };

  const runSingle = async (id: string, options: StepActivityOptions): Promise<void> => {
    const inputs = resolveInputs(id, bindings(id, 'with'));
    const request = buildRequest(id, inputs, stepOf(spec, id).run === undefined ? undefined : bindings(id, 'run'));
    let result: RunStepResult;
    try {
      result = await executeStep(request, options, slots);
    } catch (error) {
      entry(id).attempts = failedAttempts(error, options);
      throw error;
    }
    const current = entry(id);
    current.attempts = result.attempt;
    recordCache(current, [result]);
    if (result.logs !== undefined) current.logs = result.logs;
    current.outputs = result.outputs;
    if (result.metrics !== undefined) current.metrics = result.metrics;
    recordOutputs(id, result.outputs, result.metrics);
  };

  const runForeach = async (id: string, options: StepActivityOptions): Promise<void> => {
    const step = stepOf(spec, id);
    const foreachValue = step.foreach ?? [];
    const items =
      typeof foreachValue === 'string'
        ? evaluateTemplate(foreachValue, bindings(id, 'foreach'))
        : resolveTemplates(foreachValue, bindings(id, 'foreach'));
    if (!Array.isArray(items)) {
      throw new MloeError('EXPRESSION_FAILED', `foreach of step ${id} gave ${JSON.stringify(items)}, not a list`);
    }
    const withBase = bindings(id, 'with');
    const runBase = step.run === undefined ? undefined : bindings(id, 'run');
    const requests = items.map((item, index) =>
      buildRequest(id, resolveInputs(id, withBase, item), runBase, { item, index }),
    );
    const concurrency = Math.max(1, step.maxParallel ?? DEFAULT_FOREACH_PARALLEL);
    const progress = { total: requests.length, completed: 0, failed: 0, batches: 0 };
    const current = entry(id);
    current.foreach = progress;
    const count = (outcome: ExecutionOutcome | null | undefined): void => {
      if (outcome?.ok === true) progress.completed += 1;
      else if (outcome?.ok === false && !outcome.cancelled) progress.failed += 1;
    };

    let outcomes: (ExecutionOutcome | null | undefined)[];
    if (requests.length <= batchSize) {
      outcomes = await runIterations(requests, options, concurrency, slots, count);
    } else {
      outcomes = await runBatches(id, requests, options, concurrency, (batch) => {
        progress.batches += 1;
        batch.forEach(count);
      });
    }

    current.attempts = Math.max(
      0,
      ...outcomes.map((outcome) => (outcome === null || outcome === undefined ? 0 : attemptsOf(outcome))),
    );
    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('step cancelled');
    const failed = outcomes.flatMap((outcome, index) => (outcome?.ok === false ? [{ index, outcome }] : []));
    const first = failed[0];
    if (first !== undefined) {
      throw new MloeError(
        'PIPELINE_STEP_FAILED',
        `${failed.length} of ${requests.length} iterations failed; ${id}[${first.index}]: ${first.outcome.error}`,
      );
    }
    const results = outcomes.map((outcome) => (outcome?.ok === true ? outcome.result : undefined));
    recordCache(
      current,
      results.filter((result) => result !== undefined),
    );
    const stored: Record<string, JsonValue> = {};
    for (const name of Object.keys(ports.get(id)?.outputs ?? {})) {
      stored[name] = results.map((result) => result?.outputs[name] ?? null);
    }
    const metrics = results.map((result) => result?.metrics ?? {});
    // The status (the query's answer and the run's result) keeps a large fan-out's lists out: at a few hundred bytes
    // per artifact reference they would pass Temporal's 2 MB payload limit. Downstream steps still receive them, and
    // every iteration's outputs are in its step record.
    if (requests.length <= MAX_STATUS_FOREACH_OUTPUTS) {
      current.outputs = stored;
      if (results.some((result) => result?.metrics !== undefined)) current.metrics = metrics;
    } else {
      current.outputsOmitted =
        `${requests.length} items, more than the status shows (${MAX_STATUS_FOREACH_OUTPUTS}): ` +
        `see each iteration's step record (mloe lineage ${info.workflowId})`;
    }
    recordOutputs(id, stored, metrics);
  };

  /** Runs iterations over `foreachBatch` children, `batchSize` items each, within the step's concurrency. */
  const runBatches = async (
    id: string,
    requests: RunStepRequest[],
    options: StepActivityOptions,
    concurrency: number,
    onBatch: (outcomes: (ExecutionOutcome | null)[]) => void,
  ): Promise<(ExecutionOutcome | null | undefined)[]> => {
    const perChild = Math.min(concurrency, batchSize);
    const parallelChildren = Math.max(1, Math.floor(concurrency / perChild));
    const batches: RunStepRequest[][] = [];
    for (let start = 0; start < requests.length; start += batchSize)
      batches.push(requests.slice(start, start + batchSize));
    const outcomes: (ExecutionOutcome | null | undefined)[] = requests.map(() => undefined);
    const scopeOfStep = CancellationScope.current();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < batches.length && !scopeOfStep.consideredCancelled) {
        const number = next;
        next += 1;
        const batch = batches[number] ?? [];
        const result = await executeChild(foreachBatch, {
          args: [{ requests: batch, options, concurrency: perChild }],
          workflowId: `${info.workflowId}-${id}-batch-${number}`,
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
  };

  const runStepTask = async (id: string): Promise<void> => {
    const current = entry(id);
    current.state = 'running';
    current.startedAt = workflowTime();
    const step = stepOf(spec, id);
    const options = stepActivityOptions(spec, step);
    try {
      if (step.pipeline !== undefined) {
        const params = resolveInputs(id, bindings(id, 'with'));
        const result = await runSubPipeline({ parent: input, stepId: id, step, params, entry: current, registry });
        recordOutputs(id, result.outputs, result.metrics);
      } else if (step.foreach === undefined) await runSingle(id, options);
      else await runForeach(id, options);
      finish(id, 'completed');
      done.add(id);
    } catch (error) {
      if (isCancellation(error)) {
        finish(id, 'cancelled');
        stopped.add(id);
      } else {
        onFailure(id, describeFailure(error));
      }
    }
  };

  const maxParallel = spec.maxParallel ?? Number.POSITIVE_INFINITY;
  for (;;) {
    let changed = true;
    while (changed && !failFast && !rootScope.consideredCancelled) {
      changed = false;
      for (const id of readySteps(graph, done, running, skipped, stopped)) {
        if (running.size >= maxParallel) break;
        let decision: ReturnType<typeof gate>;
        try {
          decision = gate(id);
        } catch (error) {
          onFailure(id, describeFailure(error));
          changed = true;
          continue;
        }
        if (!decision.run) {
          finish(id, 'skipped', { reason: decision.reason });
          skipped.add(id);
          changed = true;
          continue;
        }
        running.add(id);
        // runStepTask records every outcome itself and never rejects.
        void stepsScope
          .run(() => runStepTask(id))
          .finally(() => {
            running.delete(id);
            settledCount += 1;
          });
      }
    }
    if (running.size === 0) break;
    const seen = settledCount;
    // Not cancellable: on cancellation the loop still waits for the running steps to report how they ended.
    await CancellationScope.nonCancellable(() => condition(() => settledCount !== seen));
  }

  // What never started: cancelled with the run, or skipped because something it needs failed.
  const cancelled = rootScope.consideredCancelled;
  for (const current of status.steps) {
    if (current.state !== 'pending') continue;
    if (cancelled || failFast) {
      current.state = 'cancelled';
    } else {
      const blocker = upstreamBlocker(graph.needs, current.id, stopped);
      current.state = 'skipped';
      current.reason = blocker === undefined ? 'not reached' : `needs ${blocker}, which did not complete`;
    }
  }
  status.finishedAt = workflowTime();

  if (cancelled) status.state = 'cancelled';
  else if (failures.length > 0) {
    status.state = 'failed';
    const first = failures[0] ?? '';
    status.error = `step ${first} failed: ${entry(first).error ?? 'unknown error'}`;
  } else status.state = 'completed';
  upsertSearchAttributes([{ key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES[status.state] }]);
  await recordRunSafely(status, info.firstExecutionRunId);

  if (status.state === 'cancelled') throw new CancelledFailure('pipeline cancelled');
  if (status.state === 'failed') {
    throw ApplicationFailure.create({
      type: 'PIPELINE_STEP_FAILED',
      message: status.error ?? 'a step failed',
      nonRetryable: true,
    });
  }
  return status;
}

/**
 * Writes the run record and emits the pipeline's OpenLineage event, even when the run was cancelled. A failure to
 * record is logged, never the run's failure (the steps' own records and the history still tell what happened),
 * except a refusal to overwrite another run's record: that fails the run with `RECORD_CONFLICT`.
 */
async function recordRunSafely(status: PipelineRunStatus, firstExecutionRunId: string): Promise<void> {
  const { recordRun } = proxyActivities<LineageActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 3 },
    summary: `record run (${status.state})`,
  });
  // The run as its record needs it: no outputs (they are in the step records), so the payload stays small.
  const snapshot: RunStatusSnapshot = {
    ...status,
    steps: status.steps.map((step) => ({
      id: step.id,
      uses: step.uses,
      state: step.state,
      attempts: step.attempts,
      ...(step.startedAt === undefined ? {} : { startedAt: step.startedAt }),
      ...(step.finishedAt === undefined ? {} : { finishedAt: step.finishedAt }),
      ...(step.durationMs === undefined ? {} : { durationMs: step.durationMs }),
      cache: step.cache,
      ...(step.error === undefined ? {} : { error: step.error }),
    })),
  };
  try {
    await CancellationScope.nonCancellable(() => recordRun({ status: snapshot, firstExecutionRunId }));
  } catch (error) {
    if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) {
      if (error.cause.type === 'RECORD_CONFLICT') {
        throw ApplicationFailure.create({ type: 'RECORD_CONFLICT', message: error.cause.message, nonRetryable: true });
      }
    }
    log.warn('could not record the run', { workflowId: status.workflowId, error: describeFailure(error) });
  }
}

/** Why the cache is off for a step (`--no-cache` for the run, `cache: false` on it or in `defaults`), if it is. */
function noCacheReason(input: RunPipelineInput, step: StepSpec): string | undefined {
  if (input.noCache === true) return '--no-cache';
  if (step.cache === false) return 'cache: false';
  if (step.cache === undefined && input.spec.defaults?.cache === false) return 'defaults.cache: false';
  return undefined;
}

/** Records the cache decisions of a step's executions (one, or every `foreach` iteration) in its status entry. */
function recordCache(entry: StepRunStatus, results: readonly RunStepResult[]): void {
  const summary = summarizeCache(results.map((result) => result.cache));
  if (summary !== undefined) Object.assign(entry, summary);
}

function stepOf(spec: PipelineSpec, id: string): StepSpec {
  const step = spec.steps[id];
  if (step === undefined) throw invalidSpec(`no step ${id}`);
  return step;
}

function invalidSpec(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'SPEC_INVALID', message, nonRetryable: true });
}

function attemptsOf(outcome: ExecutionOutcome): number {
  return outcome.ok ? outcome.result.attempt : outcome.attempts;
}

/** The first step a step needs, directly or not, that failed or was cancelled. */
function upstreamBlocker(
  needs: ReadonlyMap<string, readonly string[]>,
  id: string,
  stopped: ReadonlySet<string>,
): string | undefined {
  const queue = [...(needs.get(id) ?? [])];
  const seen = new Set<string>();
  for (let head = 0; head < queue.length; head += 1) {
    const need = queue[head] ?? '';
    if (seen.has(need)) continue;
    seen.add(need);
    if (stopped.has(need)) return need;
    queue.push(...(needs.get(need) ?? []));
  }
  return undefined;
}

/** The workflow time as ISO 8601: the start of the current workflow task, the same on replay. */
function workflowTime(): string {
  return new Date().toISOString();
}
