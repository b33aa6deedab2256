/**
 * The time-skipping server's clock: wall-clock time plus an offset that only grows. Between skips it moves at the
 * real pace (as the Java test server's clock does while time skipping is locked); a skip jumps it forward.
 */
import type { Clock } from '../clock';

/** Real time plus a forward-only offset. */
export class SkippingClock implements Clock {
  private offsetMs = 0;

  constructor(private readonly realNow: () => number = () => Date.now()) {}

  now(): number {
    return this.realNow() + this.offsetMs;
  }

  /** Jumps to `at` (ms since epoch); a time in the past is ignored, so the clock never goes backwards. */
  skipTo(at: number): void {
    const now = this.now();
    if (at > now) this.offsetMs += at - now;
  }

  /** How far ahead of real time the clock is, in ms. */
  get skippedMs(): number {
    return this.offsetMs;
  }
}
