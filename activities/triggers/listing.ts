/**
 * Listing a trigger's watched location: every object under an `s3://` prefix (ListObjectsV2, page by page) or every
 * file under a `file://` directory, filtered by the trigger's pattern (and, in partition mode, to marker objects),
 * and the new ones among them by the cursor.
 *
 * The cursor is a watermark (the newest `LastModified` seen) and the short digests of the objects seen within the
 * settle window before it. An object is new when its `LastModified` is past the watermark, or within the settle window
 * and not seen: an upload that started before others but finished after them (S3 stamps `LastModified` at the start)
 * is still found, while the cursor stays small. An object rewritten under the same key has a new ETag, so a new
 * digest: it is new again. Files use an nginx-style ETag, `<mtime>-<size>` in hex; names starting with `.` are
 * skipped (write a file under a hidden name and rename it into place, so a half-written file is never seen).
 */
import { readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pathToFileURL } from 'node:url';

import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

import { MloeError } from '../../core/errors';
import { compileGlob } from '../../core/triggers/glob';
import { parseFileUri, parseS3Uri, uriScheme } from '../artifacts/keys';
import { sha256Hex } from '../artifacts/ref';
import type { FoundObject, ListCursor, ListNewObjectsInput, ListNewObjectsResult } from '../../workflows/trigger-types';

/** One object as listed, before the cursor decides whether it is new. */
export interface ListedObject {
  /** Relative to the watched location. */
  key: string;
  etag: string;
  lastModifiedMs: number;
  size: number;
}

/** Lists every object under a location (relative keys); `onPage` is called after each page (for heartbeats). */
export type ObjectLister = (on: string, onPage: () => void) => Promise<ListedObject[]>;

/** The lister of `s3://` and `file://` locations; `s3` gives the S3 client (made on first use). */
export function createObjectLister(s3: () => S3Client): ObjectLister {
  return async (on, onPage) => {
    const scheme = uriScheme(on);
    if (scheme === 's3') return listS3(s3(), on, onPage);
    if (scheme === 'file') return listFiles(parseFileUri(on), onPage);
    throw new MloeError('PATH_INVALID', `a trigger watches s3://bucket/prefix/ or file:///dir/, got "${on}"`);
  };
}

async function listS3(client: S3Client, on: string, onPage: () => void): Promise<ListedObject[]> {
  const { bucket, key } = parseS3Uri(on);
  const prefix = key === '' ? '' : `${key}/`;
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
      throw new MloeError('TRIGGER_LISTING_FAILED', `listing ${on} failed: ${name} ${(error as Error).message}`, {
        cause: error,
        retryable: status === 0 || status >= 500 || status === 429,
      });
    }
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined || object.Key.endsWith('/')) continue;
      objects.push({
        key: object.Key.slice(prefix.length),
        etag: (object.ETag ?? '').replace(/^"|"$/g, ''),
        lastModifiedMs: object.LastModified?.getTime() ?? 0,
        size: object.Size ?? 0,
      });
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    onPage();
  } while (token !== undefined);
  return objects;
}

async function listFiles(root: string, onPage: () => void): Promise<ListedObject[]> {
  let names: string[];
  try {
    names = await readdir(root, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MloeError('TRIGGER_LISTING_FAILED', `listing ${root} failed: ${(error as Error).message}`, {
      cause: error,
      retryable: code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES',
    });
  }
  const objects: ListedObject[] = [];
  for (const [index, name] of names.entries()) {
    const key = name.split('\\').join('/');
    if (key.split('/').some((segment) => segment.startsWith('.'))) continue;
    const info = await stat(join(root, name)).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    const mtime = Math.floor(info.mtimeMs);
    objects.push({
      key,
      etag: `${mtime.toString(16)}-${info.size.toString(16)}`,
      lastModifiedMs: mtime,
      size: info.size,
    });
    if (index % 1000 === 999) onPage();
  }
  onPage();
  return objects;
}

/** The URI of a relative key under the watched location (a partition's ends in `/`). */
export function objectUri(on: string, key: string): string {
  if (uriScheme(on) === 'file') {
    const root = parseFileUri(on);
    const uri = pathToFileURL(join(root, key)).href;
    return key.endsWith('/') && !uri.endsWith('/') ? `${uri}/` : uri;
  }
  const { bucket, key: prefix } = parseS3Uri(on);
  return `s3://${bucket}/${prefix === '' ? '' : `${prefix}/`}${key}`;
}

/**
 * Picks the new objects out of a listing by the cursor (see the module comment), oldest first, at most `limit`, and
 * the cursor after them. Pure, apart from hashing.
 */
export function newObjects(listed: readonly ListedObject[], input: ListNewObjectsInput): ListNewObjectsResult {
  const matcher = input.pattern === undefined ? undefined : compileGlob(input.pattern);
  const found: FoundObject[] = [];
  for (const object of listed) {
    if (input.marker !== undefined && posix.basename(object.key) !== input.marker) continue;
    if (matcher !== undefined && !matcher.matches(object.key)) continue;
    const partition = input.marker === undefined ? undefined : posix.dirname(object.key);
    const uri = objectUri(input.on, partition === undefined ? object.key : partition === '.' ? '' : `${partition}/`);
    const digest = sha256Hex(`${uri}\n${object.etag}`);
    found.push({
      key: object.key,
      uri,
      etag: object.etag,
      lastModifiedMs: object.lastModifiedMs,
      size: object.size,
      seenId: digest.slice(0, 16),
      runId: `${input.trigger}-${digest.slice(0, 32)}`,
    });
  }
  const previous = input.cursor;
  if (previous === undefined && !input.includeExisting) {
    // The first listing of a trigger for new objects only: everything there now is the baseline.
    const watermarkMs = Math.max(0, ...found.map((object) => object.lastModifiedMs));
    return { objects: [], cursor: pruned({ watermarkMs, seen: seenOf(found) }, input.settleMs), listed: listed.length };
  }
  const floor = previous === undefined ? Number.NEGATIVE_INFINITY : previous.watermarkMs - input.settleMs;
  const fresh = found
    .filter((object) => object.lastModifiedMs >= floor && previous?.seen[object.seenId] === undefined)
    .sort((a, b) => a.lastModifiedMs - b.lastModifiedMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, input.limit);
  const watermarkMs = Math.max(previous?.watermarkMs ?? 0, ...fresh.map((object) => object.lastModifiedMs));
  const cursor = pruned({ watermarkMs, seen: { ...previous?.seen, ...seenOf(fresh) } }, input.settleMs);
  return { objects: fresh, cursor, listed: listed.length };
}

function seenOf(objects: readonly FoundObject[]): Record<string, number> {
  return Object.fromEntries(objects.map((object) => [object.seenId, object.lastModifiedMs]));
}

/** Drops what the settle window no longer needs. */
function pruned(cursor: ListCursor, settleMs: number): ListCursor {
  const floor = cursor.watermarkMs - settleMs;
  return {
    watermarkMs: cursor.watermarkMs,
    seen: Object.fromEntries(Object.entries(cursor.seen).filter(([, modified]) => modified >= floor)),
  };
}
