/**
 * The redactor: every secret value this worker process resolved, replaced by `***` wherever text leaves a step
 * (captured stdout and stderr, error messages, warnings). Process-wide, because a value resolved for one step must
 * not leak through another's error either; values are held in memory only.
 */
import { Transform, type TransformCallback } from 'node:stream';

import { ApplicationFailure } from '@temporalio/common';

import { MloeError, ensureError } from '../../core/errors';

/** What a secret's value is replaced with. */
export const REDACTED = '***';

/** A set of secret values and the replacement of their occurrences. */
export class SecretRedactor {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  /** Registers a value (empty values are ignored: they occur everywhere). */
  add(value: string): void {
    if (value === '' || this.values.has(value)) return;
    this.values.add(value);
    // Longest first, so that a secret containing another is replaced whole.
    const sorted = [...this.values].sort((a, b) => b.length - a.length);
    this.pattern = new RegExp(sorted.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }

  /** The longest registered value's length in bytes (what a stream must hold back between chunks). */
  get longest(): number {
    let max = 0;
    for (const value of this.values) max = Math.max(max, Buffer.byteLength(value));
    return max;
  }

  /** Whether any value is registered. */
  get empty(): boolean {
    return this.values.size === 0;
  }

  /** `text` with every registered value replaced by {@link REDACTED}. */
  redact(text: string): string {
    return this.pattern === undefined ? text : text.replace(this.pattern, REDACTED);
  }

  /**
   * An error whose message (and causes' messages) are redacted; the same error when nothing needs it. Keeps the
   * code, retryability and, for `ApplicationFailure`s, the type and details.
   */
  redactError(error: unknown): unknown {
    if (this.empty) return error;
    const original = ensureError(error);
    const message = this.redact(original.message);
    const causeOf = (e: Error): Error | undefined =>
      e.cause === undefined ? undefined : ensureError(this.redactError(e.cause));
    if (original instanceof MloeError) {
      const cause = causeOf(original);
      const copy = new MloeError(original.code, message, {
        retryable: original.retryable,
        ...(cause === undefined ? {} : { cause }),
      });
      copy.stack = this.redact(original.stack ?? '');
      return copy;
    }
    if (original instanceof ApplicationFailure) {
      const cause = causeOf(original);
      return ApplicationFailure.create({
        message,
        ...(original.type === undefined || original.type === null ? {} : { type: original.type }),
        nonRetryable: original.nonRetryable ?? false,
        details: original.details ?? [],
        ...(cause === undefined ? {} : { cause }),
      });
    }
    if (message === original.message && original.cause === undefined) return original;
    const copy = new Error(message);
    copy.name = original.name;
    copy.stack = this.redact(original.stack ?? '');
    return copy;
  }

  /**
   * A stream that redacts what passes through it, holding back the last `longest - 1` bytes of each chunk so that a
   * value split across chunks is still found. Text is treated as UTF-8.
   */
  stream(): Transform {
    let pending = '';
    const hold = Math.max(0, this.longest - 1);
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback: TransformCallback) => {
        const text = this.redact(pending + chunk.toString('utf8'));
        // Keep the tail that could be the start of a value (never split a redaction marker).
        const cut = Math.max(0, text.length - hold);
        pending = text.slice(cut);
        callback(null, Buffer.from(text.slice(0, cut)));
      },
      flush: (callback: TransformCallback) => callback(null, Buffer.from(this.redact(pending))),
    });
  }
}

/** The redactor of this process: the values of every secret resolved in it. */
export const processRedactor = new SecretRedactor();
