/**
 * The sweep that ends MLflow runs of workflows that closed without telling it (terminated, timed out;
 * `activities/tracking/closed-runs.ts`), run by `mloe worker` and `mloe dev` beside their worker: once at start, then
 * every interval. It asks Temporal through the worker's own connection and never fails the worker: a sweep that
 * fails is reported and tried again at the next interval.
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';

import {
  MlflowTracker,
  settleRunsOfClosedWorkflows,
  type SettledClosedRun,
  type TrackingConfig,
  type WorkflowOutcome,
} from '../activities/tracking';
import { ensureError } from '../core/errors';
import { startPeriodic } from './periodic';

/** How often the sweep runs by default: terminated runs show as ended in MLflow within this. */
export const TRACKING_SWEEP_INTERVAL_MS = 60_000;

/** Options of {@link startTrackingSweeper}. */
export interface TrackingSweeperOptions {
  connection: NativeConnection;
  namespace?: string;
  tracking: TrackingConfig | MlflowTracker;
  intervalMs?: number;
  /** Where a failed sweep and the runs it ended are reported; `console.warn` by default. */
  report?: (message: string) => void;
}

/** A running sweeper. */
export interface TrackingSweeper {
  /** Runs one sweep now (after the one in progress, if any); resolves with the runs it ended. */
  sweep(): Promise<SettledClosedRun[]>;
  /** Stops the interval and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** Starts sweeping (see the module doc). */
export function startTrackingSweeper(options: TrackingSweeperOptions): TrackingSweeper {
  const report = options.report ?? ((message: string) => console.warn(`[mloe tracking] ${message}`));
  const tracker =
    options.tracking instanceof MlflowTracker
      ? options.tracking
      : new MlflowTracker(options.tracking, { warn: report });
  const namespace = options.namespace ?? 'default';
  const client = new Client({ connection: options.connection, namespace });
  const describe = async (workflowId: string): Promise<WorkflowOutcome> => {
    try {
      const description = await client.workflow.getHandle(workflowId).describe();
      if (description.status.name === 'RUNNING') return { state: 'open' };
      return {
        state: 'closed',
        status: description.status.name,
        ...(description.closeTime === undefined ? {} : { closeTime: description.closeTime }),
      };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return { state: 'not-found' };
      throw error;
    }
  };
  const periodic = startPeriodic(() => settleRunsOfClosedWorkflows(tracker, namespace, describe), {
    intervalMs: options.intervalMs ?? TRACKING_SWEEP_INTERVAL_MS,
    onResult: (settled) => {
      for (const run of settled) {
        report(
          `ended MLflow run ${run.runId} of ${run.workflowId} as ${run.status}: its workflow is ${run.temporalStatus}`,
        );
      }
    },
    onError: (error) => report(`sweeping runs of closed workflows failed: ${ensureError(error).message}`),
  });
  return { sweep: periodic.runNow, stop: periodic.stop };
}
