/**
 * The Web UI server's content coding and revalidation over real HTTP (node:http, which neither adds an
 * Accept-Encoding header nor decodes answers, so the test sees the bytes on the wire): the committed assets in
 * brotli or gzip as the request accepts, byte-identical once decoded; ETags per coding and 304s for any current
 * one; index.html revalidated; images left alone; API answers compressed as they stream, small ones not; nothing
 * compressed for loopback clients unless asked.
 */
import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';

import { isLoopback } from '../infra/ui/app';
import { negotiateCoding } from '../infra/ui/compression';
import { readUiManifest } from '../infra/ui/manifest';
import { startUiServer, type UiServerHandle } from '../infra/ui/server';

const manifest = readUiManifest();
const bySize = [...manifest.files].sort((a, b) => b.size - a.size);
/** The largest JavaScript file (hashed, so cached for a year). */
const script = bySize.find((file) => file.path.startsWith('_app/immutable/') && file.path.endsWith('.js'))!;
const image = bySize.find((file) => file.path.endsWith('.png'))!;
const tinyScript = [...bySize].reverse().find((file) => file.path.endsWith('.js'))!;

/** A JSON answer of about 20 KB, and a small one. */
const BIG = {
  events: Array.from({ length: 400 }, (_, i) => ({ eventId: String(i), eventType: 'ActivityTaskScheduled' })),
};

async function api(req: Request): Promise<Response> {
  const path = new URL(req.url).pathname;
  if (path.endsWith('/big')) return Response.json(BIG);
  if (path.endsWith('/encoded')) {
    return new Response('already encoded', {
      headers: { 'Content-Encoding': 'identity-ish', 'Content-Type': 'application/json' },
    });
  }
  return Response.json({ small: true });
}

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** GET (or HEAD) with exactly these headers; the body as it came over the wire. */
function raw(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('negotiateCoding', () => {
  it('prefers brotli at equal weight, follows q-values, honours q=0 and the wildcard', () => {
    expect(negotiateCoding('gzip, deflate, br, zstd')).toBe('br');
    expect(negotiateCoding('gzip, deflate')).toBe('gzip');
    expect(negotiateCoding('br;q=0.5, gzip;q=0.8')).toBe('gzip');
    expect(negotiateCoding('br;q=0, gzip')).toBe('gzip');
    expect(negotiateCoding('*')).toBe('br');
    expect(negotiateCoding('*, br;q=0')).toBe('gzip');
    expect(negotiateCoding('identity')).toBeUndefined();
    expect(negotiateCoding('deflate')).toBeUndefined();
    expect(negotiateCoding('')).toBeUndefined();
    expect(negotiateCoding(undefined)).toBeUndefined();
  });
});

describe('the Web UI server: compression and revalidation', () => {
  let server: UiServerHandle;
  beforeAll(async () => {
    // Loopback clients get answers uncompressed by default; this server compresses them as for any client.
    server = await startUiServer({ port: 0, api, compressLoopback: true });
  });
  afterAll(() => server.close());

  it('sends an asset in brotli or gzip as the request accepts, the same bytes once decoded', async () => {
    expect(script.size).toBeGreaterThan(10_000);
    const url = `${server.url}/${script.path}`;
    const br = await raw(url, { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.headers.etag).toBe(`"${script.sha256}-br"`);
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(Number(br.headers['content-length'])).toBe(br.body.byteLength);
    expect(br.body.byteLength).toBeLessThan(script.size / 2);
    expect(sha256(brotliDecompressSync(br.body))).toBe(script.sha256);

    const gz = await raw(url, { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.etag).toBe(`"${script.sha256}-gzip"`);
    expect(sha256(gunzipSync(gz.body))).toBe(script.sha256);

    const plain = await raw(url);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(plain.headers.etag).toBe(`"${script.sha256}"`);
    expect(sha256(plain.body)).toBe(script.sha256);

    // Compressed once, kept: the second answer is the same bytes.
    const again = await raw(url, { 'Accept-Encoding': 'br' });
    expect(again.body.equals(br.body)).toBe(true);
  });

  it('answers 304 for any current ETag of the file (plain or compressed), 200 for a stale one', async () => {
    const url = `${server.url}/${script.path}`;
    for (const tag of [
      `"${script.sha256}"`,
      `"${script.sha256}-br"`,
      `W/"${script.sha256}-gzip"`,
      `"old", "${script.sha256}-br"`,
    ]) {
      const answer = await raw(url, { 'Accept-Encoding': 'br', 'If-None-Match': tag });
      expect(answer.status).toBe(304);
      expect(answer.body.byteLength).toBe(0);
      expect(answer.headers.etag).toBe(`"${script.sha256}-br"`);
      expect(answer.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    const stale = await raw(url, { 'Accept-Encoding': 'br', 'If-None-Match': '"0000"' });
    expect(stale.status).toBe(200);
  });

  it('revalidates index.html (no-cache, an ETag, 304 when unchanged) and compresses it', async () => {
    const first = await raw(`${server.url}/namespaces/default/schedules`, { 'Accept-Encoding': 'br' });
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('no-cache');
    expect(first.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(first.body).toString('utf8')).toContain('__sveltekit_');
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^"[0-9a-f]{64}-br"$/);
    const again = await raw(`${server.url}/namespaces`, { 'Accept-Encoding': 'br', 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.headers['content-security-policy']).toContain("frame-ancestors 'self'");
  });

  it('compresses the workflow list’s page, which embeds its first page of data (never stored, no ETag)', async () => {
    const list = await raw(`${server.url}/namespaces/default/workflows`, { 'Accept-Encoding': 'br' });
    expect(list.status).toBe(200);
    expect(list.headers['cache-control']).toBe('no-store');
    expect(list.headers.etag).toBeUndefined();
    expect(list.headers['content-encoding']).toBe('br');
    expect(list.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(brotliDecompressSync(list.body).toString('utf8')).toContain(
      '<script type="application/json" id="mloe-embedded-answers">',
    );
  });

  it('leaves images and files under 1 KiB uncompressed, and answers HEAD with the length and no body', async () => {
    const png = await raw(`${server.url}/${image.path}`, { 'Accept-Encoding': 'br, gzip' });
    expect(png.headers['content-encoding']).toBeUndefined();
    expect(png.headers.vary).toBeUndefined();
    expect(png.body.byteLength).toBe(image.size);
    expect(tinyScript.size).toBeLessThan(1024);
    const tiny = await raw(`${server.url}/${tinyScript.path}`, { 'Accept-Encoding': 'br' });
    expect(tiny.headers['content-encoding']).toBeUndefined();
    expect(tiny.body.byteLength).toBe(tinyScript.size);
    const head = await raw(`${server.url}/${script.path}`, { 'Accept-Encoding': 'br' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-encoding']).toBe('br');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.body.byteLength).toBe(0);
  });

  it('compresses API answers of 1 KiB or more as they stream, and leaves small or encoded ones alone', async () => {
    const br = await raw(`${server.url}/api/v1/big`, { 'Accept-Encoding': 'gzip, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(brotliDecompressSync(br.body).toString('utf8'))).toEqual(BIG);
    const gz = await raw(`${server.url}/api/v1/big`, { 'Accept-Encoding': 'gzip' });
    expect(JSON.parse(gunzipSync(gz.body).toString('utf8'))).toEqual(BIG);
    const plain = await raw(`${server.url}/api/v1/big`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(plain.body.toString('utf8'))).toEqual(BIG);

    const small = await raw(`${server.url}/api/v1/small`, { 'Accept-Encoding': 'br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(small.body.toString('utf8'))).toEqual({ small: true });
    const encoded = await raw(`${server.url}/api/v1/encoded`, { 'Accept-Encoding': 'br' });
    expect(encoded.headers['content-encoding']).toBe('identity-ish');
    expect(encoded.body.toString('utf8')).toBe('already encoded');
  });
});

describe('the Web UI server: loopback clients', () => {
  let server: UiServerHandle;
  beforeAll(async () => {
    server = await startUiServer({ port: 0, api });
  });
  afterAll(() => server.close());

  it('answers loopback clients uncompressed by default, assets and API alike, still saying Vary', async () => {
    const answer = await raw(`${server.url}/api/v1/big`, { 'Accept-Encoding': 'br, gzip' });
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual(BIG);
    const asset = await raw(`${server.url}/${script.path}`, { 'Accept-Encoding': 'br, gzip' });
    expect(asset.headers['content-encoding']).toBeUndefined();
    expect(asset.headers.vary).toBe('Accept-Encoding');
    expect(asset.headers.etag).toBe(`"${script.sha256}"`);
    expect(sha256(asset.body)).toBe(script.sha256);
  });

  it('tells loopback peers from others', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address)).toBe(true);
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.2', 'fe80::1', undefined]) {
      expect(isLoopback(address)).toBe(false);
    }
  });
});
