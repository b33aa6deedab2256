/**
 * Sampled request and prediction logging for monitoring: a share of `/predict` calls (each row with its prediction,
 * the model version and the time) is buffered and written to the artifact store as JSON-lines artifacts (type `file`,
 * metadata `kind: prediction-log`), one per flush. Logging never fails a request: a failed write is reported and
 * dropped.
 */
import type { ArtifactRef, ArtifactStore } from '../artifacts';
import { indexPredictionLog } from './prediction-log-index';

/** Options of {@link RequestLog}. */
export interface RequestLogOptions {
  store: ArtifactStore;
  /** The share of requests logged, in [0, 1]. */
  sampleRate: number;
  /** Write once this many rows are buffered. */
  flushRows?: number;
  /** Draws in [0, 1): `Math.random` unless given (tests). */
  random?: () => number;
  /** The time a row is logged at, in ms since the epoch: `Date.now` unless given (tests under simulated time). */
  now?: () => number;
  warn?: (message: string) => void;
}

/** One logged row. */
export interface LoggedPrediction {
  time: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  prediction: unknown;
}

/** A buffer of sampled predictions, flushed to the artifact store. */
export class RequestLog {
  readonly #options: RequestLogOptions;
  #buffer: string[] = [];
  #writes: Promise<unknown> = Promise.resolve();
  /** The artifacts written so far. */
  readonly written: ArtifactRef[] = [];

  constructor(options: RequestLogOptions) {
    this.#options = options;
  }

  /** Logs a request's rows if it is sampled. */
  record(
    model: { name: string; version: string },
    rows: readonly Record<string, unknown>[],
    predictions: readonly unknown[],
  ): void {
    if ((this.#options.random ?? Math.random)() >= this.#options.sampleRate) return;
    const time = new Date((this.#options.now ?? Date.now)()).toISOString();
    rows.forEach((input, index) => {
      const entry: LoggedPrediction = {
        time,
        model: model.name,
        version: model.version,
        input,
        prediction: predictions[index],
      };
      this.#buffer.push(JSON.stringify(entry));
    });
    if (this.#buffer.length >= (this.#options.flushRows ?? 1000)) void this.flush();
  }

  /** Writes what is buffered as one artifact (nothing when empty); resolves when every write so far ended. */
  flush(): Promise<void> {
    if (this.#buffer.length > 0) {
      const lines = this.#buffer;
      this.#buffer = [];
      this.#writes = this.#writes.then(async () => {
        try {
          const ref = await this.#options.store.put(`${lines.join('\n')}\n`, {
            type: 'file',
            metadata: { kind: 'prediction-log', format: 'jsonl', rows: lines.length },
          });
          this.written.push(ref);
          await indexPredictionLog(this.#options.store, ref, lines);
        } catch (error) {
          this.#options.warn?.(`prediction log: could not write ${lines.length} rows: ${String(error)}`);
        }
      });
    }
    return this.#writes.then(() => undefined);
  }
}
