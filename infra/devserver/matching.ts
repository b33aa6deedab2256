/**
 * Task queues: ready tasks meet long-polling workers. A task is a closure that checks, at dispatch time, that it is
 * still valid and records the start in the execution; stale tasks are dropped. Pollers whose call was cancelled are
 * removed so no task is handed to a dead worker.
 */

/** Who is polling, as reported in the poll request. */
export interface Poller {
  identity: string;
}

/** A task waiting in a queue; `dispatch` returns the poll response, or undefined if the task went stale. */
export interface QueuedTask<R> {
  dispatch(poller: Poller): R | undefined;
}

interface Waiter<R> {
  poller: Poller;
  resolve(response: R | undefined): void;
}

/** One task queue of one kind (workflow or activity) in one namespace. */
class TaskQueue<R> {
  readonly backlog: QueuedTask<R>[] = [];
  readonly waiters: Waiter<R>[] = [];
  lastPollTime = 0;
  readonly pollerIdentities = new Map<string, number>();
}

/** Long-poll dispatcher for one kind of task. */
export class Matching<R> {
  private readonly queues = new Map<string, TaskQueue<R>>();

  constructor(private readonly pollTimeoutMs: number) {}

  private queue(namespace: string, name: string): TaskQueue<R> {
    const key = `${namespace}\u0000${name}`;
    let q = this.queues.get(key);
    if (!q) {
      q = new TaskQueue<R>();
      this.queues.set(key, q);
    }
    return q;
  }

  /** Adds a task; hands it straight to a waiting poller when there is one. */
  enqueue(namespace: string, name: string, task: QueuedTask<R>): void {
    const q = this.queue(namespace, name);
    const waiter = q.waiters[0];
    if (!waiter) {
      q.backlog.push(task);
      return;
    }
    const response = task.dispatch(waiter.poller);
    if (response === undefined) return; // stale task: dropped, the poller keeps waiting
    q.waiters.shift();
    waiter.resolve(response);
  }

  /**
   * Long-polls for a task: resolves with a response, or undefined after the poll timeout or when `signal` aborts.
   */
  poll(namespace: string, name: string, poller: Poller, signal: AbortSignal, now: number): Promise<R | undefined> {
    const q = this.queue(namespace, name);
    q.lastPollTime = now;
    q.pollerIdentities.set(poller.identity, now);
    while (q.backlog.length) {
      const task = q.backlog.shift()!;
      const response = task.dispatch(poller);
      if (response !== undefined) return Promise.resolve(response);
    }
    return new Promise((resolve) => {
      let settled = false;
      const waiter: Waiter<R> = {
        poller,
        resolve: (r) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
      };
      const remove = (): void => {
        const i = q.waiters.indexOf(waiter);
        if (i >= 0) q.waiters.splice(i, 1);
      };
      const onAbort = (): void => {
        remove();
        waiter.resolve(undefined);
      };
      const timer = setTimeout(onAbort, this.pollTimeoutMs);
      signal.addEventListener('abort', onAbort);
      q.waiters.push(waiter);
    });
  }

  /** Number of tasks waiting in a queue (the backlog count hint). */
  backlogCount(namespace: string, name: string): number {
    return this.queues.get(`${namespace}\u0000${name}`)?.backlog.length ?? 0;
  }

  /** Pollers seen on a queue with the time of their last poll (for DescribeTaskQueue). */
  pollers(namespace: string, name: string): Map<string, number> {
    return this.queues.get(`${namespace}\u0000${name}`)?.pollerIdentities ?? new Map<string, number>();
  }

  /** Answers every waiting poller with an empty response (on shutdown). */
  close(): void {
    for (const q of this.queues.values()) {
      for (const w of q.waiters.splice(0)) w.resolve(undefined);
    }
  }
}
