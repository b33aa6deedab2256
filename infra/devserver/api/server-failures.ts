/**
 * Failures the server itself writes (Temporal's `failure.NewServerFailure`) and the truncation Temporal applies to a
 * failure that is too large to record (`failure.Truncate`): failure info reduced to what retries need, then type,
 * source, message and stack trace in that order of importance within a byte budget, then causes.
 */
import type { Failure } from '../proto';

/** Temporal's messages for an activity completion whose payload is over the blob limit. */
export const COMPLETE_RESULT_EXCEEDS_LIMIT = 'Complete result exceeds size limit.';
export const FAILURE_EXCEEDS_LIMIT = 'Failure exceeds size limit.';
export const CANCEL_DETAILS_EXCEED_LIMIT = 'Cancel details exceed size limit.';
export const HEARTBEAT_EXCEEDS_LIMIT = 'Heartbeat details exceed size limit.';

/** A failure raised by the server, with a `ServerFailureInfo` (non-retryable ones end retries). */
export function serverFailure(message: string, nonRetryable: boolean): Failure {
  return { message, serverFailureInfo: { nonRetryable } };
}

/** The longest prefix of `text` within `maxBytes` UTF-8 bytes that does not split a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

/** A copy of `failure` that fits in about `maxSize` bytes, with at most `maxDepth` causes (Temporal: 20). */
export function truncateFailure(
  failure: Failure | null | undefined,
  maxSize: number,
  maxDepth = 20,
): Failure | undefined {
  if (!failure) return undefined;
  let budget = maxSize;
  const trunc = (text: string | null | undefined): string => {
    const kept = truncateUtf8(text ?? '', budget);
    budget -= Buffer.byteLength(kept);
    if (kept) budget -= 4; // proto overhead
    return kept;
  };
  const out: Failure = {};
  if (failure.applicationFailureInfo) {
    out.applicationFailureInfo = {
      nonRetryable: failure.applicationFailureInfo.nonRetryable ?? false,
      type: trunc(failure.applicationFailureInfo.type),
    };
    budget -= 8;
  } else if (failure.serverFailureInfo) {
    out.serverFailureInfo = { nonRetryable: failure.serverFailureInfo.nonRetryable ?? false };
    budget -= 4;
  }
  out.source = trunc(failure.source);
  out.message = trunc(failure.message);
  out.stackTrace = trunc(failure.stackTrace);
  if (failure.cause && budget > 4 && maxDepth > 0) out.cause = truncateFailure(failure.cause, budget - 4, maxDepth - 1);
  return out;
}
