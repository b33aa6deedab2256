/**
 * Content coding for the UI server: which coding a request accepts (`Accept-Encoding`, RFC 9110 §12.5.3), and
 * brotli/gzip compression of bytes (the UI's assets, once each) and of streamed answers (the HTTP API's JSON), as
 * Temporal's ui-server compresses everything it serves (echo's gzip middleware). Brotli is preferred where a client
 * takes both at the same weight: it is 5 to 15% smaller than gzip for the UI's JavaScript and quicker to compress
 * at comparable sizes.
 */
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';

import { parseAccept } from 'hono/utils/accept';

/** A content coding the UI server writes. */
export type ContentCoding = 'br' | 'gzip';

/** The codings in the server's order of preference (used when a request weighs several the same). */
const PREFERENCE: readonly ContentCoding[] = ['br', 'gzip'];

/**
 * The coding to answer with for an `Accept-Encoding` header: the one with the highest weight (`q`) among those the
 * server writes, brotli on a tie; `*` stands for any coding not named; `q=0` refuses one. `undefined` (identity)
 * without the header or when none is acceptable.
 */
export function negotiateCoding(acceptEncoding: string | undefined | null): ContentCoding | undefined {
  if (!acceptEncoding) return undefined;
  const accepts = parseAccept(acceptEncoding);
  const weight = (coding: string): number => {
    const named = accepts.find((a) => a.type.toLowerCase() === coding);
    if (named) return named.q;
    return accepts.find((a) => a.type === '*')?.q ?? 0;
  };
  let best: { coding: ContentCoding; q: number } | undefined;
  for (const coding of PREFERENCE) {
    const q = weight(coding);
    if (q > 0 && (best === undefined || q > best.q)) best = { coding, q };
  }
  return best?.coding;
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * Compresses static bytes once, for keeping: brotli at quality 5 and gzip at level 6 (quality 11 would make the UI's
 * 1.5 MB of text 9% smaller for 30 times the CPU: 2.9 s instead of 0.1 s on the benchmark machine). Runs on libuv's
 * thread pool, so the server keeps answering meanwhile.
 */
export function compressStatic(bytes: Uint8Array, coding: ContentCoding): Promise<Buffer> {
  if (coding === 'gzip') return gzip(bytes, { level: 6 });
  return brotli(bytes, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    },
  });
}

/**
 * Compresses a response body as it streams, at the fastest settings (brotli quality 1, gzip level 1): an answer is
 * compressed once and read once, so CPU time counts more than the last few percent (a 4.2 MB history: 14 ms with
 * brotli 1 to 7% of its size, against 63 ms at quality 4 for 6.4%).
 */
export function compressStream(body: ReadableStream<Uint8Array>, coding: ContentCoding): ReadableStream<Uint8Array> {
  const compressor =
    coding === 'br'
      ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } })
      : zlib.createGzip({ level: 1 });
  const source = Readable.fromWeb(body);
  // pipe() does not pass a source's failure on: end the compressed stream with it instead of leaving it open.
  source.once('error', (error) => compressor.destroy(error));
  return Readable.toWeb(source.pipe(compressor));
}

/** Whether a content type is worth compressing: text, JavaScript, JSON, SVG and icons (not images or video). */
export function isCompressible(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  return /^(text\/|application\/(javascript|json|manifest\+json|xml)|image\/(svg\+xml|x-icon|vnd\.microsoft\.icon))/i.test(
    contentType,
  );
}

/** Answers at least this large are compressed (the threshold of hono's and echo's compression middleware). */
const MIN_COMPRESS_BYTES = 1024;

/**
 * The first chunks of `body` until they hold `bytes` bytes or the body ends; `rest` streams what they held followed
 * by the remainder, so reading ahead loses nothing.
 */
async function peek(
  body: ReadableStream<Uint8Array>,
  bytes: number,
): Promise<{ ended: boolean; head: Uint8Array[]; size: number; rest: ReadableStream<Uint8Array> }> {
  const reader = body.getReader();
  const head: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  while (size < bytes) {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    head.push(value);
    size += value.byteLength;
  }
  const queued = [...head];
  const rest = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = queued.shift();
      if (next !== undefined) return controller.enqueue(next);
      if (ended) return controller.close();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { ended, head, size, rest };
}

/**
 * An API answer (JSON), compressed as it streams when the request accepts brotli or gzip, as Temporal's ui-server
 * compresses every answer. Left alone: answers already encoded, without a body, of types not worth it, marked
 * `no-transform`, or shorter than 1 KiB (read ahead when they do not say their length); each compressible one says
 * `Vary: Accept-Encoding`.
 */
export async function compressResponse(response: Response, acceptEncoding: string | undefined): Promise<Response> {
  const length = response.headers.get('Content-Length');
  if (
    response.body === null ||
    response.headers.has('Content-Encoding') ||
    !isCompressible(response.headers.get('Content-Type')) ||
    (length !== null && Number(length) < MIN_COMPRESS_BYTES) ||
    /(^|,)\s*no-transform\s*(,|$)/i.test(response.headers.get('Cache-Control') ?? '')
  ) {
    return response;
  }
  const headers = new Headers(response.headers);
  const vary = headers.get('Vary');
  if (vary === null) headers.set('Vary', 'Accept-Encoding');
  else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) headers.set('Vary', `${vary}, Accept-Encoding`);
  const init = { status: response.status, statusText: response.statusText, headers };
  const coding = negotiateCoding(acceptEncoding);
  if (coding === undefined) return new Response(response.body, init);
  let body = response.body;
  if (length === null) {
    const ahead = await peek(body, MIN_COMPRESS_BYTES);
    if (ahead.ended && ahead.size < MIN_COMPRESS_BYTES) return new Response(Buffer.concat(ahead.head), init);
    body = ahead.rest;
  }
  headers.delete('Content-Length');
  headers.set('Content-Encoding', coding);
  return new Response(compressStream(body, coding), init);
}
