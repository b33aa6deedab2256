/**
 * Payloads in proto3 JSON, as the Temporal Web UI and CLI send them to a codec server: `{"payloads": [{"metadata":
 * {"encoding": "<base64>"}, "data": "<base64>"}]}`. Every bytes field, each metadata value included, is base64
 * (standard or URL-safe, padding optional, as proto3 JSON parsers accept).
 */
import type { Payload } from '@temporalio/common';
import { z } from 'zod';

const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'not base64 (proto3 JSON writes bytes as base64)')
  .refine((text) => text.replace(/=+$/, '').length % 4 !== 1, 'not base64: a truncated group');

const payloadSchema = z.strictObject({
  metadata: z.record(z.string(), base64).nullish(),
  data: base64.nullish(),
});

/** The body of `POST /encode` and `POST /decode`. */
export const payloadsBodySchema = z.strictObject({ payloads: z.array(payloadSchema) });

/** A payload as proto3 JSON. */
export interface PayloadJson {
  metadata?: Record<string, string>;
  data?: string;
}

/** The decoded payloads of a request body (already checked by {@link payloadsBodySchema}). */
export function payloadsFromJson(body: z.output<typeof payloadsBodySchema>): Payload[] {
  return body.payloads.map((payload) => ({
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, new Uint8Array(Buffer.from(value, 'base64'))]),
    ),
    data: new Uint8Array(Buffer.from(payload.data ?? '', 'base64')),
  }));
}

function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Payloads as proto3 JSON (standard base64, empty fields left out as proto3 JSON does). */
export function payloadsToJson(payloads: readonly Payload[]): { payloads: PayloadJson[] } {
  return {
    payloads: payloads.map((payload) => {
      const metadata = Object.entries(payload.metadata ?? {}).filter(
        (entry): entry is [string, Uint8Array] => entry[1] !== null && entry[1] !== undefined,
      );
      return {
        ...(metadata.length === 0
          ? {}
          : { metadata: Object.fromEntries(metadata.map(([key, value]) => [key, base64Of(value)])) }),
        ...(payload.data === null || payload.data === undefined || payload.data.length === 0
          ? {}
          : { data: base64Of(payload.data) }),
      };
    }),
  };
}
