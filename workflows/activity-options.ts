/**
 * Activity options the workflows share: the retry policy of calls to a store, a registry or a webhook (exponential
 * backoff from 1 s, doubling, capped), and the options of a quick store or registry call. Pure constants and a pure
 * function: the options a workflow schedules an activity with are part of the commands it issues, so a change here
 * changes recorded histories' commands and must be guarded with `patched()` (docs/versioning.md).
 */
import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';

/** A wait as the workflows spell it (`'1 second'`, `'30 seconds'`, `'5 minutes'`): a Temporal duration string. */
export type Interval = `${number} ${'second' | 'seconds' | 'minute' | 'minutes'}`;

/** What {@link backoffRetry} may vary. */
export interface BackoffRetryOptions {
  /** Attempts in all, the first included. */
  maximumAttempts: number;
  /** The first retry's wait; 1 s unless given. */
  initialInterval?: Interval;
  /** The longest wait between attempts; 30 s unless given. */
  maximumInterval?: Interval;
}

/**
 * A retry policy that backs off exponentially (coefficient 2) from `initialInterval` (1 s) to `maximumInterval`
 * (30 s), for `maximumAttempts` attempts: what every call of the workflows to the outside world retries with.
 */
export function backoffRetry(options: BackoffRetryOptions): RetryPolicy {
  return {
    initialInterval: options.initialInterval ?? '1 second',
    backoffCoefficient: 2,
    maximumInterval: options.maximumInterval ?? '30 seconds',
    maximumAttempts: options.maximumAttempts,
  };
}

/**
 * A quick call to a store or a registry (a monitor's state record, an alias move, a registry tag): a minute per
 * attempt, retried through the store's hiccups for about four minutes (10 attempts, {@link backoffRetry}).
 */
export const QUICK_STORE_CALL: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: backoffRetry({ maximumAttempts: 10 }),
};
