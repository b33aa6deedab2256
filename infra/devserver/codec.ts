/**
 * JSON encoding for the dev server's persisted state that keeps binary payloads intact: every Uint8Array (including
 * Buffers) is written as `{"$b64": "..."}` and restored as a Buffer, so state blobs never corrupt payload bytes.
 */

/** Serializes a value to JSON, preserving Uint8Array fields as base64. */
export function stringifyState(value: unknown): string {
  return JSON.stringify(value, function replacer(this: Record<string, unknown>, key: string, v: unknown) {
    const raw = key === '' ? v : this[key];
    if (raw instanceof Uint8Array)
      return { $b64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
    return v;
  });
}

/** Parses JSON written by {@link stringifyState}. */
export function parseState<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === 'object' && '$b64' in v && typeof v.$b64 === 'string') {
      return Buffer.from((v as { $b64: string }).$b64, 'base64');
    }
    return v;
  }) as T;
}
