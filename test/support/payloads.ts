/**
 * Payloads as the tests of payload encryption look at them: every payload in a history, and a payload in the
 * proto3 JSON form Temporal's remote codec protocol (`/encode`, `/decode`) carries.
 */
import type { Payload } from '@temporalio/common';

/** A payload in proto3 JSON: metadata values and data in base64. */
export interface PayloadJson {
  metadata: Record<string, string>;
  data: string;
}

/** `payload` in proto3 JSON, as a codec server receives it. */
export function payloadJson(payload: Payload): PayloadJson {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value ?? []).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

/** Every payload in a history (search attributes and headers aside: Temporal never passes those to codecs). */
export function payloadsOf(value: unknown, found: Payload[] = []): Payload[] {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return found;
  const record = value as Record<string, unknown>;
  if (record.metadata !== undefined && record.metadata !== null && record.data instanceof Uint8Array) {
    found.push(record);
    return found;
  }
  for (const [key, child] of Object.entries(record)) {
    if (key !== 'searchAttributes' && key !== 'header') payloadsOf(child, found);
  }
  return found;
}
