/**
 * Step runs created before their step is dispatched. When a pipeline workflow schedules a step on its own task queue,
 * it tells the worker that ran the workflow task (a sink, `workers/tracking-sinks.ts`), and that worker creates the
 * step's MLflow run while Temporal dispatches the activity, which usually comes back to the same worker (eager
 * activity execution). The attempt then finds its run made and takes it: one `runs/create` less on the step's
 * critical path. A preparation is only ever taken by the first attempt on the worker that made it.
 *
 * A prepared run carries every tag of a step run but `mloe.execution`, and `mloe.prepared` (the execution) instead:
 * it becomes the execution's run only when an attempt writes to it (its data, or its failure, with
 * `mloe.execution`), so the search a retry makes never finds a preparation nobody took. One that no attempt takes
 * (the step went to another worker, or never started) is withdrawn (deleted) after {@link PREPARED_RUN_TTL_MS}; the
 * pipeline run's end deletes those still there, and settles those an attempt took but never wrote to.
 */
/** How long a preparation waits for its step before it is withdrawn. */
export const PREPARED_RUN_TTL_MS = 60_000;

/** Preparations kept per worker at most; beyond that, steps are not prepared (their first attempt creates the run). */
const MAX_PREPARED_RUNS = 1_000;

/** A step run created ahead of its step. */
export interface PreparedRun {
  /** The run's id, once created (rejects when the creation failed: the attempt then creates its own). */
  runId: Promise<string>;
  /** The pipeline run it is nested under. */
  parent: { runId: string };
  /** Its start time (ms since the epoch): when the step was scheduled. */
  startTime: number;
}

/** A worker's preparations, by execution key (`<workflowId>/<stepId>[/<index>]`). */
export class PreparedRuns {
  readonly #runs = new Map<string, { run: PreparedRun; timer: NodeJS.Timeout }>();
  readonly #withdraw: (runId: string) => Promise<void>;
  readonly #ttlMs: number;

  /** `withdraw` deletes a run no attempt took; its failures are ignored (the pipeline run's end deletes it). */
  constructor(withdraw: (runId: string) => Promise<void>, ttlMs: number = PREPARED_RUN_TTL_MS) {
    this.#withdraw = withdraw;
    this.#ttlMs = ttlMs;
  }

  /** How many preparations wait for their step. */
  get size(): number {
    return this.#runs.size;
  }

  /** Whether `key` has a preparation, or no more can be held: then nothing is to be prepared for it. */
  refuses(key: string): boolean {
    return this.#runs.has(key) || this.#runs.size >= MAX_PREPARED_RUNS;
  }

  /** Holds a preparation for `key` until an attempt takes it or it is withdrawn. */
  hold(key: string, run: PreparedRun): void {
    // A failed creation leaves nothing to withdraw; the attempt that takes it creates its own.
    run.runId.catch(() => undefined);
    const timer = setTimeout(() => this.withdraw(key), this.#ttlMs);
    timer.unref();
    this.#runs.set(key, { run, timer });
  }

  /** The preparation for `key`, which no one else will take, or undefined when there is none. */
  take(key: string): PreparedRun | undefined {
    const held = this.#runs.get(key);
    if (held === undefined) return undefined;
    this.#runs.delete(key);
    clearTimeout(held.timer);
    return held.run;
  }

  /** Withdraws the preparation for `key` if it is still held: it is forgotten at once and its run deleted. */
  withdraw(key: string): void {
    const run = this.take(key);
    if (run !== undefined) this.discard(run);
  }

  /** Deletes the run of a preparation that was taken but will not be used. */
  discard(run: PreparedRun): void {
    void run.runId.then((runId) => this.#withdraw(runId)).catch(() => undefined);
  }
}
