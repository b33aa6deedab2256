/**
 * The UI's static files served from memory: each file is read once, compressed once per coding on its first request
 * (brotli or gzip, as the request accepts), and answered with its strong ETag (the sha256 of its bytes, with the
 * coding appended for a compressed copy) so a browser that has it gets a 304 instead of the bytes again.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { compressStatic, isCompressible, negotiateCoding, type ContentCoding } from './compression';

/** Files smaller than this go uncompressed: the coding's framing would eat most of the gain. */
const MIN_COMPRESS_BYTES = 1024;

/** How a file is described to {@link StaticFiles.add}. */
export interface StaticFileInfo {
  contentType: string;
  /** Hex sha256 of the bytes (the manifest's), or absent to hash them. */
  sha256?: string;
  cacheControl: string;
  /** The bytes, when they do not come from the folder (e.g. a rewritten index.html). */
  bytes?: Buffer;
}

interface Entry extends StaticFileInfo {
  path: string;
  encoded: Map<ContentCoding, Promise<Buffer>>;
}

/** What a request asks of a static file. */
export interface StaticRequest {
  method: string;
  acceptEncoding?: string | undefined;
  ifNoneMatch?: string | undefined;
}

/** An answer for the server to send: status, headers and body (none for HEAD and 304). */
export interface StaticAnswer {
  status: 200 | 304;
  headers: Record<string, string>;
  body: Buffer | null;
}

/** The entity tags an `If-None-Match` header lists (weak or strong: GET compares them weakly), or `*`. */
function listedTags(header: string): string[] {
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
}

/** The static files of one folder, in memory. */
export class StaticFiles {
  private readonly files = new Map<string, Entry>();

  constructor(private readonly dir: string) {}

  /** Registers `path` (relative, no leading slash). */
  add(path: string, info: StaticFileInfo): void {
    this.files.set(path, { ...info, path, encoded: new Map() });
  }

  /** The answer for `path` (`undefined` when it is not a file here). */
  async answer(path: string, request: StaticRequest): Promise<StaticAnswer | undefined> {
    const entry = this.files.get(path);
    if (entry === undefined) return undefined;
    const bytes = this.bytesOf(entry);
    const sha256 = (entry.sha256 ??= createHash('sha256').update(bytes).digest('hex'));
    const compressible = isCompressible(entry.contentType) && bytes.byteLength >= MIN_COMPRESS_BYTES;
    const coding = compressible ? negotiateCoding(request.acceptEncoding) : undefined;
    const etag = coding === undefined ? `"${sha256}"` : `"${sha256}-${coding}"`;
    const headers: Record<string, string> = {
      'Content-Type': entry.contentType,
      ETag: etag,
      'Cache-Control': entry.cacheControl,
    };
    if (compressible) headers.Vary = 'Accept-Encoding';
    if (request.ifNoneMatch !== undefined) {
      // Every copy of the file (plain or compressed) is current, so any of their tags means the browser has it.
      const current = new Set([`"${sha256}"`, `"${sha256}-br"`, `"${sha256}-gzip"`, '*']);
      if (listedTags(request.ifNoneMatch).some((tag) => current.has(tag))) return { status: 304, headers, body: null };
    }
    const body = coding === undefined ? bytes : await this.encodedOf(entry, bytes, coding);
    if (coding !== undefined) headers['Content-Encoding'] = coding;
    headers['Content-Length'] = String(body.byteLength);
    return { status: 200, headers, body: request.method === 'HEAD' ? null : body };
  }

  private bytesOf(entry: Entry): Buffer {
    return (entry.bytes ??= readFileSync(join(this.dir, entry.path)));
  }

  private encodedOf(entry: Entry, bytes: Buffer, coding: ContentCoding): Promise<Buffer> {
    let encoded = entry.encoded.get(coding);
    if (encoded === undefined) {
      encoded = compressStatic(bytes, coding);
      entry.encoded.set(coding, encoded);
      // A failed compression is not kept: the next request tries again.
      encoded.catch(() => entry.encoded.delete(coding));
    }
    return encoded;
  }
}
