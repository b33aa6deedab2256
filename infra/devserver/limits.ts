/**
 * Temporal's per-workflow limits, with Temporal's defaults. Embedders (tests) may lower them through
 * `startDevServer({ limits })` to exercise limit behaviour without writing 51,200 events.
 */
export interface Limits {
  /** Pending activities, children, or signals to other workflows per run (Temporal: 2,000 each). */
  maxPending: number;
  /** History event count that suggests continue-as-new (Temporal: 4 Ki). */
  suggestContinueAsNewCount: number;
  /** History size in bytes that suggests continue-as-new (Temporal: 4 MiB). */
  suggestContinueAsNewBytes: number;
  /** Event count and size at which a warning is logged (Temporal: 10 Ki events, 10 MiB). */
  warnHistoryCount: number;
  warnHistoryBytes: number;
  /** Event count and size past which the run is terminated (Temporal: 50 Ki = 51,200 events, 50 MiB). */
  maxHistoryCount: number;
  maxHistoryBytes: number;
  /**
   * Blob size limits of one payload set (an input, a result, signal input, failure, heartbeat details, a query
   * answer, the attributes of one command), as encoded (Temporal's `limit.blobSize.error` 2 MiB and
   * `limit.blobSize.warn` 512 KiB): above the error limit the call is refused or the workflow task command
   * terminates the run, above the warning limit a warning is logged.
   */
  blobSizeLimitError: number;
  blobSizeLimitWarn: number;
  /** Memo size limits, as encoded (Temporal's `limit.memoSize.error` 2 MiB and `limit.memoSize.warn` 2 KiB). */
  memoSizeLimitError: number;
  memoSizeLimitWarn: number;
  /**
   * A query task of its own (the legacy `query` field of a poll response) that no worker answered within this many
   * ms is handed out again, until the query times out. Not a Temporal setting: the dev server's guard against a task
   * lost on its way to a worker (a long poll the worker gave up just as the task was handed to it).
   */
  queryRedeliveryMs: number;
}

/** Temporal's defaults. */
export const DEFAULT_LIMITS: Limits = {
  maxPending: 2000,
  suggestContinueAsNewCount: 4 * 1024,
  suggestContinueAsNewBytes: 4 * 1024 * 1024,
  warnHistoryCount: 10 * 1024,
  warnHistoryBytes: 10 * 1024 * 1024,
  maxHistoryCount: 50 * 1024,
  maxHistoryBytes: 50 * 1024 * 1024,
  blobSizeLimitError: 2 * 1024 * 1024,
  blobSizeLimitWarn: 512 * 1024,
  memoSizeLimitError: 2 * 1024 * 1024,
  memoSizeLimitWarn: 2 * 1024,
  queryRedeliveryMs: 5_000,
};
