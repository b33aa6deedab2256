/**
 * The dev server's notion of time. Everything that reads "now" or waits for a deadline goes through here, so a
 * time-skipping test server can move time forward without touching the rest of the server.
 */

/** A source of the current time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** Wall-clock time. */
export const systemClock: Clock = { now: () => Date.now() };
