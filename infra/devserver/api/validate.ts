/** Request validation shared by the API areas, with Temporal's limits and messages that name the field. */
import { invalidArgument } from '../errors';
import type { Payloads } from '../proto';

/** Temporal's blob size error limit (2 MB). */
export const MAX_PAYLOAD_BYTES = 2 * 1024 * 1024;
/** Temporal's limit on ids (workflow ids, activity ids, timer ids). */
export const MAX_ID_LENGTH = 1000;

/** Size in bytes of the data and metadata of a set of payloads. */
export function payloadsSize(payloads: Payloads | null | undefined): number {
  let size = 0;
  for (const p of payloads?.payloads ?? []) {
    size += p.data?.length ?? 0;
    for (const v of Object.values(p.metadata ?? {})) size += v?.length ?? 0;
  }
  return size;
}

/** Rejects payloads over Temporal's 2 MB limit. */
export function validatePayloadSize(field: string, payloads: Payloads | null | undefined): void {
  const size = payloadsSize(payloads);
  if (size > MAX_PAYLOAD_BYTES) {
    throw invalidArgument(`${field} blob data size exceeds limit: ${size} bytes > ${MAX_PAYLOAD_BYTES} bytes.`);
  }
}

/** Requires a non-empty id within Temporal's length limit. */
export function validateId(field: string, value: string | null | undefined): asserts value is string {
  if (!value) throw invalidArgument(`${field} is not set on request.`);
  if (value.length > MAX_ID_LENGTH) throw invalidArgument(`${field} exceeds length limit of ${MAX_ID_LENGTH}.`);
}
