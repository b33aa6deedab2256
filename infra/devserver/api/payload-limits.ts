/**
 * Temporal's blob and memo size limits, measured as Temporal measures them (the encoded size of the message, or for
 * the attribute maps of upserts, memo changes and markers the sum of key and value sizes) and with its warning and
 * error thresholds from {@link Limits}. Each API area decides what a payload over the limit means, as Temporal
 * does: a refused client call, a failed activity, a failed query, or a terminated run.
 */
import type { Engine } from '../engine';
import { invalidArgument } from '../errors';
import { temporal, type Failure, type Memo, type Payloads } from '../proto';

const PayloadsMessage = temporal.api.common.v1.Payloads;
const FailureMessage = temporal.api.failure.v1.Failure;
const MemoMessage = temporal.api.common.v1.Memo;

/** Temporal's `ErrBlobSizeExceedsLimit`. */
export const BLOB_SIZE_EXCEEDS_LIMIT = 'Blob data size exceeds limit.';
/** Temporal's `ErrMemoSizeExceedsLimit`. */
export const MEMO_SIZE_EXCEEDS_LIMIT = 'Memo size exceeds limit.';

/** The encoded size of a set of payloads (Temporal's `Payloads.Size()`). */
export function payloadsSize(payloads: Payloads | null | undefined): number {
  return payloads ? PayloadsMessage.encode(payloads as never).finish().length : 0;
}

/** The encoded size of a failure. */
export function failureSize(failure: Failure | null | undefined): number {
  return failure ? FailureMessage.encode(failure as never).finish().length : 0;
}

/** The encoded size of a memo. */
export function memoSize(memo: Memo | null | undefined): number {
  return memo ? MemoMessage.encode(memo as never).finish().length : 0;
}

/** Key plus data sizes of a map of single payloads (Temporal's `payloadsMapSize`: upserts, memo changes). */
export function payloadMapSize(
  fields: Record<string, { data?: Uint8Array | null | undefined } | null | undefined> | null | undefined,
): number {
  let size = 0;
  for (const [key, payload] of Object.entries(fields ?? {})) size += key.length + (payload?.data?.length ?? 0);
  return size;
}

/** Key plus encoded sizes of a map of payload sets (Temporal's `GetPayloadsMapSize`: marker details). */
export function payloadsMapSize(fields: Record<string, Payloads | null | undefined> | null | undefined): number {
  let size = 0;
  for (const [key, payloads] of Object.entries(fields ?? {})) size += key.length + payloadsSize(payloads);
  return size;
}

/** Where a size was measured, for the warning Temporal logs. */
export interface SizeContext {
  operation: string;
  workflowId?: string | undefined;
  runId?: string | undefined;
}

/**
 * Temporal's `CheckEventBlobSizeLimit` against the blob limits: logs a warning above the warning limit and returns
 * true above the error limit.
 */
export function blobTooLarge(engine: Engine, size: number, where: SizeContext): boolean {
  return overLimit(engine, size, engine.limits.blobSizeLimitWarn, engine.limits.blobSizeLimitError, where);
}

/** The same check against the memo limits. */
export function memoTooLarge(engine: Engine, memo: Memo | null | undefined, where: SizeContext): boolean {
  const l = engine.limits;
  return overLimit(engine, memoSize(memo), l.memoSizeLimitWarn, l.memoSizeLimitError, where);
}

function overLimit(engine: Engine, size: number, warn: number, error: number, where: SizeContext): boolean {
  if (size <= warn) return false;
  engine.logger.warn('Blob size exceeds limit.', { ...where, size, warnLimit: warn, errorLimit: error });
  return size > error;
}

/** Refuses a client call whose payloads are over the blob limit: INVALID_ARGUMENT "Blob data size exceeds limit.". */
export function assertBlobSize(engine: Engine, payloads: Payloads | null | undefined, where: SizeContext): void {
  if (blobTooLarge(engine, payloadsSize(payloads), where)) throw invalidArgument(BLOB_SIZE_EXCEEDS_LIMIT);
}

/** Refuses a client call whose memo is over the memo limit: INVALID_ARGUMENT "Memo size exceeds limit.". */
export function assertMemoSize(engine: Engine, memo: Memo | null | undefined, where: SizeContext): void {
  if (memoTooLarge(engine, memo, where)) throw invalidArgument(MEMO_SIZE_EXCEEDS_LIMIT);
}
