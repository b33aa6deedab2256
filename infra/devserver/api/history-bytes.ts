/**
 * Assembles encoded responses that carry a history from already-encoded events (protobuf messages concatenate:
 * a `History` is the sequence of its `events` fields), so a long history is never re-encoded per task.
 */
import type { StoredEvent } from '../engine';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** Encodes a `temporal.api.history.v1.History` message from stored events (and extra, not stored, events). */
export function encodeHistory(events: readonly { bytes: Uint8Array }[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const e of events) {
    parts.push(Uint8Array.from([0x0a, ...varint(e.bytes.length)]), e.bytes);
  }
  return Buffer.concat(parts);
}

/** Appends a length-delimited field holding `body` to an encoded message. */
export function appendField(message: Uint8Array, fieldNumber: number, body: Uint8Array): Buffer {
  const tag = varint((fieldNumber << 3) | 2);
  return Buffer.concat([message, Uint8Array.from([...tag, ...varint(body.length)]), body]);
}

export type { StoredEvent };
