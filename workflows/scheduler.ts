/**
 * The interpreter's main loop: start every step whose needs are settled, up to the pipeline's `maxParallel`, skip
 * the ones whose gate says so, then wait until a running step settles and look again; stop starting steps after a
 * fail-fast failure or a cancellation, and return once nothing runs.
 */
import { CancellationScope, condition } from '@temporalio/workflow';

import { readySteps, type StepGraph } from '../core/spec';

/** Where a run's steps are: what the scheduler and the step tasks share. */
export class StepProgress {
  /** Completed. */
  readonly done = new Set<string>();
  readonly skipped = new Set<string>();
  /** Failed or cancelled: settled, and blocking their dependents. */
  readonly stopped = new Set<string>();
  /** Started and not yet settled. */
  readonly running = new Set<string>();
  /** Steps whose failure fails the pipeline, in the order they failed. */
  readonly failures: string[] = [];
  /** A failure stopped the pipeline: no further step starts. */
  failFast = false;
}

/** Whether a ready step runs, or is skipped and why. */
export type StepGate = { run: true } | { run: false; reason: string };

/** What the scheduler asks of the steps. */
export interface StepTaskRunner {
  /** Whether a ready step runs; throws when its condition cannot be evaluated. */
  gate(id: string): StepGate;
  /** Records a step skipped by its gate. */
  skip(id: string, reason: string): void;
  /** Records a step whose gate could not be evaluated as failed. */
  fail(id: string, error: unknown): void;
  /** Runs a step to the end and records how it ended; never rejects. */
  run(id: string): Promise<void>;
}

/** Options of {@link runSteps}. */
export interface SchedulerOptions {
  /** Steps running at once at most. */
  maxParallel: number;
  /** The scope steps run in: cancelling it cancels every running step. */
  stepsScope: CancellationScope;
  /** The workflow's scope: once it is cancelled, no step starts. */
  rootScope: CancellationScope;
}

/** Runs the pipeline's steps until none runs and none can start. */
export async function runSteps(
  graph: StepGraph,
  progress: StepProgress,
  tasks: StepTaskRunner,
  options: SchedulerOptions,
): Promise<void> {
  const { done, skipped, stopped, running } = progress;
  /** How many started steps have settled: the loop wakes when it moves (one condition, not a race over all). */
  let settledCount = 0;
  for (;;) {
    let changed = true;
    while (changed && !progress.failFast && !options.rootScope.consideredCancelled) {
      changed = false;
      for (const id of readySteps(graph, done, running, skipped, stopped)) {
        if (running.size >= options.maxParallel) break;
        let decision: StepGate;
        try {
          decision = tasks.gate(id);
        } catch (error) {
          tasks.fail(id, error);
          changed = true;
          continue;
        }
        if (!decision.run) {
          tasks.skip(id, decision.reason);
          changed = true;
          continue;
        }
        running.add(id);
        // The task records every outcome itself and never rejects.
        void options.stepsScope
          .run(() => tasks.run(id))
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
}
