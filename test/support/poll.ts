/**
 * The one way tests wait for state they can only observe by asking (history, describe, list, files, processes):
 * poll with a deadline, never sleep a fixed time and hope.
 */

/** How long `pollUntil` keeps trying and how long it waits between attempts. */
export interface PollOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Wait this long between attempts (default 50 ms). */
  intervalMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_INTERVAL_MS = 50;

/**
 * Calls `check` until it returns a value other than `undefined` or `false`, and returns that value.
 *
 * A `check` that throws is retried like one that returned `undefined`; the last error it threw becomes the `cause`
 * of the `timed out after N ms waiting for <what>` error thrown when `timeoutMs` passes, so a timeout says both what
 * never happened and why the last attempt failed. `check` always runs at least once, and once more at the deadline.
 */
export async function pollUntil<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: PollOptions = {},
): Promise<T> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = DEFAULT_INTERVAL_MS } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}`,
        lastError === undefined ? undefined : { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, remaining)));
  }
}
