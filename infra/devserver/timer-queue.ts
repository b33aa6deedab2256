/**
 * A min-heap of deadlines driven by one Node timer. Each entry names an action; the engine re-validates the action
 * against current state when it fires, so stale entries (an activity that already completed, say) are harmless.
 */
import type { Clock } from './clock';

interface Entry {
  at: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

/** Handle returned by {@link TimerQueue.schedule}. */
export interface TimerHandle {
  cancel(): void;
}

const MAX_DELAY_MS = 2 ** 31 - 1;

/** Deadline scheduler used for timers, timeouts and retry backoffs. */
export class TimerQueue {
  private heap: Entry[] = [];
  private seq = 0;
  private handle: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private closed = false;

  constructor(private readonly clock: Clock) {}

  /** Runs `fire` at `at` (ms since epoch); at once (on the next tick) if `at` is in the past. */
  schedule(at: number, fire: () => void): TimerHandle {
    const entry: Entry = { at, seq: this.seq++, fire, cancelled: false };
    this.push(entry);
    this.arm();
    return { cancel: () => (entry.cancelled = true) };
  }

  /** The earliest pending deadline, if any (used by time skipping). */
  nextDeadline(): number | undefined {
    while (this.heap.length && this.heap[0]!.cancelled) this.pop();
    return this.heap[0]?.at;
  }

  /** Fires every entry that is due now; called by the Node timer and after the clock jumps. */
  runDue(): void {
    const now = this.clock.now();
    while (this.heap.length && this.heap[0]!.at <= now) {
      const e = this.pop()!;
      if (!e.cancelled) e.fire();
    }
    this.armedAt = Infinity;
    this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.handle) clearTimeout(this.handle);
    this.heap = [];
  }

  private arm(): void {
    if (this.closed) return;
    const next = this.nextDeadline();
    if (next === undefined || next >= this.armedAt) return;
    if (this.handle) clearTimeout(this.handle);
    this.armedAt = next;
    const delay = Math.min(Math.max(0, next - this.clock.now()), MAX_DELAY_MS);
    this.handle = setTimeout(() => {
      this.handle = undefined;
      this.armedAt = Infinity;
      this.runDue();
    }, delay);
    this.handle.unref();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
