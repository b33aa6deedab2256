/**
 * Streaming plumbing shared by the stores: turning whatever a caller puts into a sequence of byte chunks, hashing it
 * on the way through, and a pass-through stream that fails at the end when the bytes do not match their digest.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';

import { MloeError } from '../../core/errors';
import { formatDigest } from './ref';

/** What `put` accepts: bytes, text (stored as UTF-8), a Node stream or any async iterable of chunks. */
export type ArtifactBody = Uint8Array | string | Readable | AsyncIterable<Uint8Array | string>;

/** Whether a body is already in memory, so its digest can be computed before anything is written. */
export function isInMemory(body: ArtifactBody): body is Uint8Array | string {
  return typeof body === 'string' || body instanceof Uint8Array;
}

/** An in-memory body as bytes. */
export function bytesOf(body: Uint8Array | string): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.length);
}

/** A running sha256 and byte count over the chunks of a body. */
export class DigestCounter {
  private readonly hash: Hash = createHash('sha256');
  /** Bytes seen so far. */
  size = 0;

  /** Adds a chunk. */
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
  }

  /** The hex digest; call once, after the last chunk. */
  hex(): string {
    return this.hash.digest('hex');
  }
}

/**
 * The chunks of a streamed body, as Buffers, each passed to `counter` on the way. Chunks are yielded one at a time
 * as the consumer asks for them, so nothing is buffered here beyond the chunk in hand.
 */
export async function* hashedChunks(
  body: Readable | AsyncIterable<Uint8Array | string>,
  counter: DigestCounter,
): AsyncGenerator<Buffer> {
  for await (const chunk of body as AsyncIterable<unknown>) {
    let bytes: Buffer;
    if (typeof chunk === 'string') bytes = Buffer.from(chunk, 'utf8');
    else if (chunk instanceof Uint8Array) bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else throw new MloeError('DATA_INVALID', `artifact streams must yield bytes or strings, got ${typeof chunk}`);
    counter.update(bytes);
    yield bytes;
  }
}

/** A Readable over a streamed body that hashes as it goes (for consumers that want a Node stream). */
export function hashedReadable(body: Readable | AsyncIterable<Uint8Array | string>, counter: DigestCounter): Readable {
  return Readable.from(hashedChunks(body, counter), { objectMode: false });
}

/**
 * A pass-through stream that hashes what flows through it and, at the end, fails with `ARTIFACT_CORRUPT` unless the
 * bytes hash to `hex` (and number `size`, when known). It also fails as soon as more than `size` bytes arrive.
 * Consumers must treat the bytes as untrusted until the stream ends without an error.
 */
export class VerifyingStream extends Transform {
  private readonly counter = new DigestCounter();

  constructor(
    private readonly uri: string,
    private readonly hex: string,
    private readonly size: number | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.counter.update(chunk);
    if (this.size !== undefined && this.counter.size > this.size) {
      callback(this.corrupt(`more than the expected ${this.size} bytes`));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.counter.hex();
    if (actual !== this.hex || (this.size !== undefined && this.counter.size !== this.size)) {
      callback(this.corrupt(`${formatDigest(actual)} (${this.counter.size} bytes)`));
      return;
    }
    callback();
  }

  private corrupt(found: string): MloeError {
    const expected = `${formatDigest(this.hex)}${this.size === undefined ? '' : ` (${this.size} bytes)`}`;
    return new MloeError('ARTIFACT_CORRUPT', `artifact ${this.uri} is corrupt: expected ${expected}, found ${found}`);
  }
}

/** Reads a stream to the end into one Buffer (for small artifacts; large ones should be streamed). */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return Buffer.concat(chunks);
}

/** Reads a stream to the end, discarding the bytes (to let a {@link VerifyingStream} check them). */
export async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream) {
    // nothing to keep
  }
}
