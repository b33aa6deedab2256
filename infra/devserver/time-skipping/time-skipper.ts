/**
 * Time skipping with the Java test server's semantics (sdk-java `SelfAdvancingTimerImpl`): a lock counter, and
 * whenever it is zero the clock jumps to the next deadline and fires it.
 *
 * The counter is the sum of the explicit locks (LockTimeSkipping / UnlockTimeSkipping, starting at 1 like the Java
 * server without `--enable-time-skipping`) and the work in progress, which Java locks and unlocks as it happens and
 * we count from the engine's state each time:
 * - a workflow task from the moment it is scheduled (ready for a worker, not in a start backoff) until it closes;
 * - an activity from its scheduling until it closes, except while it waits out a retry backoff;
 * - a query waiting for a worker's answer.
 * An unlock from inside an activity (`env.sleep()` in the activity) releases the lock that activity holds, as in
 * Java: that is what lets an activity wait for skipped time. One deliberate difference: in Java that release stays in
 * the single counter after the activity closes (say it timed out), so it cancels the lock of the next workflow task
 * and the clock can skip past that task's start-to-close timeout while a worker is processing it. Here explicit
 * unlocks can only offset activity locks; workflow tasks and queries always hold time.
 */
import type { Engine } from '../engine';
import { failedPrecondition } from '../errors';
import type { SkippingClock } from './skipping-clock';

/** Options of {@link TimeSkipper}. */
export interface TimeSkipperOptions {
  /** Start with one explicit lock (the default, as `@temporalio/testing` expects); false starts unlocked. */
  locked?: boolean;
}

/** Moves a {@link SkippingClock} forward to the engine's next deadline whenever nothing holds time. */
export class TimeSkipper {
  private explicitLocks: number;
  private checkScheduled = false;

  constructor(
    private readonly engine: Engine,
    private readonly clock: SkippingClock,
    options: TimeSkipperOptions = {},
  ) {
    this.explicitLocks = options.locked === false ? 0 : 1;
    engine.onCommitted = () => this.poke();
  }

  /**
   * Work that holds time: started or ready workflow tasks and pending queries (`tasks`), and activities not waiting
   * out a retry backoff (`activities`).
   */
  inProgress(): { tasks: number; activities: number } {
    const now = this.engine.now();
    let tasks = 0;
    let activities = 0;
    for (const run of this.engine.runs.values()) {
      if (!run.isOpen) continue;
      const wft = run.state.wft;
      if (wft && (wft.startedEventId > 0 || wft.notBefore <= now)) tasks++;
      for (const a of Object.values(run.state.activities)) if (a.backoffUntil <= now) activities++;
      tasks += run.queries.size;
    }
    return { tasks, activities };
  }

  /** The lock counter: explicit locks and activities (never below 0), plus workflow tasks. Time skips at 0. */
  lockCount(): number {
    const { tasks, activities } = this.inProgress();
    return Math.max(0, this.explicitLocks + activities) + tasks;
  }

  /** LockTimeSkipping. */
  lock(): void {
    this.explicitLocks++;
  }

  /** UnlockTimeSkipping: FAILED_PRECONDITION when nothing holds a lock, as the .proto asks of unbalanced calls. */
  unlock(): void {
    if (this.lockCount() <= 0)
      throw failedPrecondition('Unbalanced lock and unlock calls: time skipping is not locked.');
    this.explicitLocks--;
    this.poke();
  }

  /**
   * Resolves when the server's clock reaches `at` (skipped or real time). The wait is a deadline like any other, so
   * it is also a point the clock may skip to. Aborting the call cancels the wait and resolves.
   */
  waitUntil(at: number, signal: AbortSignal, onReached: () => void = () => undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.engine.timers.schedule(at, () => {
        signal.removeEventListener('abort', onAbort);
        onReached();
        resolve();
      });
      const onAbort = (): void => {
        timer.cancel();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.poke();
    });
  }

  /**
   * UnlockTimeSkippingWithSleep: releases one lock, and takes it back once the clock has advanced by `durationMs`
   * (also if the caller goes away first, so the counter stays balanced).
   */
  async unlockWithSleep(durationMs: number, signal: AbortSignal): Promise<void> {
    if (this.lockCount() <= 0)
      throw failedPrecondition('Unbalanced lock and unlock calls: time skipping is not locked.');
    let relocked = false;
    const relock = (): void => {
      if (relocked) return;
      relocked = true;
      this.lock();
    };
    const reached = this.waitUntil(this.clock.now() + Math.max(0, durationMs), signal, relock);
    this.explicitLocks--;
    this.poke();
    await reached;
    relock();
  }

  /** Re-checks, once the current turn of the event loop is done, whether the clock may skip. */
  poke(): void {
    if (this.checkScheduled || this.engine.closed) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      this.advance();
    });
  }

  /**
   * While nothing holds time, jumps to the next deadline and fires what is due, one deadline per turn of the event
   * loop so the actions it triggers (a workflow task scheduled, say) are counted before the next jump.
   */
  private advance(): void {
    if (this.engine.closed || this.lockCount() > 0) return;
    const next = this.engine.timers.nextDeadline();
    if (next === undefined) return;
    this.clock.skipTo(next);
    this.engine.timers.runDue();
    this.poke();
  }
}
