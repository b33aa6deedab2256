/** Waiting between polls of a remote job, cut short by the activity's cancellation. */

/** Resolves after `ms`, or at once when `signal` aborts (never rejects; the caller checks `signal.aborted`). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
