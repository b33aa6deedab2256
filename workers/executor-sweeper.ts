/**
 * The orphan job sweep of remote executors (`activities/executors/sweep.ts`), run by `mloe worker` when it has a
 * Kubernetes or Batch executor: once at start, then every interval, it removes the unfinished jobs of runs that have
 * closed (terminated, timed out) in the worker's Temporal namespace, asking Temporal through the worker's own
 * connection. `mloe executors sweep` runs one sweep for operators (`--dry-run` lists without removing). A sweep that
 * fails is reported and tried again at the next interval; it never fails the worker.
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';

import type { Executors } from '../activities/executors';
// The sweep alone: the executors' clients (Kubernetes, AWS SDK) load only in workers that have executors.
import {
  describeSweptJob,
  sweepOrphanJobs,
  type OrphanJobSource,
  type RunState,
  type SweptJob,
} from '../activities/executors/sweep';
import { ensureError } from '../core/errors';
import { startPeriodic } from './periodic';

/** How often the worker sweeps by default: a terminated run's job is gone within this. */
export const EXECUTOR_SWEEP_INTERVAL_MS = 60_000;

/** The prefix of the sweep's log lines. */
export const EXECUTOR_SWEEP_LOG_PREFIX = '[mloe executors]';

/** Asks Temporal about a run by its workflow id: open, closed (with its status name) or unknown. */
export function runStateOf(client: Client): (workflowId: string) => Promise<RunState> {
  return async (workflowId) => {
    try {
      const description = await client.workflow.getHandle(workflowId).describe();
      if (description.status.name === 'RUNNING') return { state: 'open' };
      return { state: 'closed', status: description.status.name };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return { state: 'not-found' };
      throw error;
    }
  };
}

/** The executors a sweep covers: those of the worker, in a fixed order. */
export function sweepSources(executors: Executors): OrphanJobSource[] {
  return [executors.kubernetes, executors.batch].filter((executor) => executor !== undefined);
}

/** Options of {@link startExecutorSweeper}. */
export interface ExecutorSweeperOptions {
  connection: NativeConnection;
  /** The worker's Temporal namespace: only its runs' jobs are swept. */
  namespace?: string;
  executors: Executors;
  intervalMs?: number;
  /** Where removed jobs and failed sweeps are reported; `console.warn` with {@link EXECUTOR_SWEEP_LOG_PREFIX}. */
  report?: (message: string) => void;
}

/** A running sweeper. */
export interface ExecutorSweeper {
  /** Runs one sweep now (after the one in progress, if any); resolves with what it did to each job. */
  sweep(): Promise<SweptJob[]>;
  /** Stops the interval and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** Starts sweeping (see the module doc); a worker without remote executors needs none. */
export function startExecutorSweeper(options: ExecutorSweeperOptions): ExecutorSweeper {
  const report = options.report ?? ((message: string) => console.warn(`${EXECUTOR_SWEEP_LOG_PREFIX} ${message}`));
  const namespace = options.namespace ?? 'default';
  const describe = runStateOf(new Client({ connection: options.connection, namespace }));
  const sources = sweepSources(options.executors);
  const once = (): Promise<SweptJob[]> => sweepOrphanJobs(sources, { namespace, describe, warn: report });
  const periodic = startPeriodic(once, {
    intervalMs: options.intervalMs ?? EXECUTOR_SWEEP_INTERVAL_MS,
    onResult: (swept) => {
      for (const job of swept) if (job.action !== 'kept') report(describeSweptJob(job));
    },
    onError: (error) => report(`sweeping the jobs of closed runs failed: ${ensureError(error).message}`),
  });
  return { sweep: periodic.runNow, stop: periodic.stop };
}
