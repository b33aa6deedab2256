/**
 * A task a worker process runs beside its worker every so often (the sweeps of `./tracking-sweeper.ts` and
 * `./executor-sweeper.ts`): once at start, then every interval, one run at a time, never failing the worker.
 */

/** A running periodic task. */
export interface Periodic<T> {
  /** Runs the task now (after the run in progress, if any); resolves with its result. */
  runNow: () => Promise<T>;
  /** Stops the interval and waits for a run in progress. */
  stop: () => Promise<void>;
}

/**
 * Starts `task`: at once, then every `intervalMs` (an unref'd timer: it never keeps the process alive). Each
 * scheduled run's result goes to `onResult`, its error to `onError`; runs never overlap.
 */
export function startPeriodic<T>(
  task: () => Promise<T>,
  options: { intervalMs: number; onResult: (result: T) => void; onError: (error: unknown) => void },
): Periodic<T> {
  let running: Promise<T> | undefined;
  const runNow = (): Promise<T> => {
    const next = running === undefined ? task() : running.then(task, task);
    running = next;
    return next;
  };
  const scheduled = (): void => {
    runNow().then(options.onResult, options.onError);
  };
  scheduled();
  const timer = setInterval(scheduled, options.intervalMs);
  timer.unref();
  return {
    runNow,
    stop: async () => {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
