/**
 * The run's status, as the `status` query answers it and the run returns it: one entry per step, in declaration
 * order, moved through its states with workflow-time timings, and the pipeline's own state once it ends. Times are
 * workflow times, identical on replay.
 */
import type { RunStepResult } from '../activities/steps';
import { summarizeCache } from '../core/cache-summary';
import { MloeError } from '../core/errors';
import type { PipelineDefinition } from './pipeline-definition';
import type { PipelineRunStatus, ReusedStep, RunPipelineInput, StepRunStatus, StepState } from './types';

/** How a run ended, as {@link RunStatus.close} needs it. */
export interface RunEnding {
  /** The run was cancelled. */
  cancelled: boolean;
  /** A failure stopped the pipeline (fail-fast): what had not started is cancelled. */
  failFast: boolean;
  /** Steps whose failure fails the pipeline, in the order they failed. */
  failures: readonly string[];
  /** Steps that failed or were cancelled. */
  stopped: ReadonlySet<string>;
}

/** A run's status and the bookkeeping of its steps' entries. */
export class RunStatus {
  /** The status itself: entries are updated in place, so a query always sees the latest. */
  readonly status: PipelineRunStatus;
  private readonly entries = new Map<string, StepRunStatus>();

  constructor(
    private readonly definition: PipelineDefinition,
    input: RunPipelineInput,
    workflowId: string,
  ) {
    const { spec, graph } = definition;
    for (const id of graph.ids) {
      const step = definition.step(id);
      this.entries.set(id, {
        id,
        ...(step.name === undefined ? {} : { name: step.name }),
        needs: [...(graph.needs.get(id) ?? [])],
        uses: definition.uses(id),
        state: 'pending',
        attempts: 0,
        cache: definition.noCacheReason(id) === undefined ? 'unchecked' : 'disabled',
      });
    }
    this.status = {
      pipeline: spec.metadata.name,
      workflowId,
      specHash: input.specHash,
      state: 'running',
      params: input.params,
      ...(input.artifactStore === undefined ? {} : { artifactStore: input.artifactStore }),
      metadata: input.metadata ?? {},
      startedAt: workflowTime(),
      steps: [...this.entries.values()],
      ...(input.rerun === undefined
        ? {}
        : { rerunOf: { workflowId: input.rerun.sourceWorkflowId, fromSteps: [...input.rerun.fromSteps] } }),
    };
  }

  /** The entry of a step. */
  entry(id: string): StepRunStatus {
    const found = this.entries.get(id);
    if (found === undefined) throw new MloeError('INTERNAL', `no status entry for step ${id}`);
    return found;
  }

  /** Marks a step running, from now; returns its entry. */
  start(id: string): StepRunStatus {
    const current = this.entry(id);
    current.state = 'running';
    current.startedAt = workflowTime();
    return current;
  }

  /** Settles a step; a step that had started gets its finish time and duration. */
  finish(id: string, state: StepState, detail: { error?: string; reason?: string } = {}): void {
    const current = this.entry(id);
    current.state = state;
    if (detail.error !== undefined) current.error = detail.error;
    if (detail.reason !== undefined) current.reason = detail.reason;
    if (current.startedAt !== undefined) {
      current.finishedAt = workflowTime();
      current.durationMs = Date.parse(current.finishedAt) - Date.parse(current.startedAt);
    }
  }

  /** Settles a step a rerun took from the run it repeats: completed, with that run's outputs, nothing executed. */
  reuse(id: string, sourceWorkflowId: string, step: ReusedStep, fromSteps: readonly string[]): void {
    const current = this.entry(id);
    current.state = 'completed';
    current.cache = 'reused';
    current.cacheReasons = [`reused the outputs of run ${sourceWorkflowId} (mloe rerun --from ${fromSteps.join(',')})`];
    current.reusedFrom = sourceWorkflowId;
    current.outputs = step.outputs;
    if (step.metrics !== undefined) current.metrics = step.metrics;
    if (step.iterations !== undefined) {
      current.foreach = { total: step.iterations, completed: step.iterations, failed: 0, batches: 0 };
    }
    if (step.childWorkflow !== undefined) current.childWorkflow = step.childWorkflow;
  }

  /**
   * Ends the run's status before any step started (a rerun whose source outputs could not be checked): every step
   * is skipped, the run failed with `error`.
   */
  failBeforeSteps(error: string): void {
    for (const current of this.status.steps) {
      current.state = 'skipped';
      current.reason = 'the run failed before any step started';
    }
    this.status.finishedAt = workflowTime();
    this.status.state = 'failed';
    this.status.error = error;
  }

  /**
   * Ends the run's status: what never started is cancelled with the run (or by a fail-fast failure), or skipped
   * because something it needs did not complete; then the pipeline's state, its finish time and its error.
   */
  close(ending: RunEnding): void {
    for (const current of this.status.steps) {
      if (current.state !== 'pending') continue;
      if (ending.cancelled || ending.failFast) {
        current.state = 'cancelled';
      } else {
        const blocker = upstreamBlocker(this.definition.graph.needs, current.id, ending.stopped);
        current.state = 'skipped';
        current.reason = blocker === undefined ? 'not reached' : `needs ${blocker}, which did not complete`;
      }
    }
    this.status.finishedAt = workflowTime();
    if (ending.cancelled) this.status.state = 'cancelled';
    else if (ending.failures.length > 0) {
      this.status.state = 'failed';
      const first = ending.failures[0] ?? '';
      this.status.error = `step ${first} failed: ${this.entry(first).error ?? 'unknown error'}`;
    } else this.status.state = 'completed';
  }
}

/** Records the cache decisions of a step's executions (one, or every `foreach` iteration) in its status entry. */
export function recordCacheDecisions(entry: StepRunStatus, results: readonly RunStepResult[]): void {
  const summary = summarizeCache(results.map((result) => result.cache));
  if (summary !== undefined) Object.assign(entry, summary);
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
