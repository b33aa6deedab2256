/**
 * Strict validation of everything a user can hand an artifact store: absolute paths, `file://` and `s3://` URIs,
 * bucket names, key prefixes and digest prefixes. The rule is to reject rather than normalise: a URI with `..`, an
 * encoded slash, a backslash or a NUL byte is an attack or a bug, and silently resolving it (as WHATWG `URL` does)
 * would hide both.
 */
import { isAbsolute, normalize, posix } from 'node:path';

import { MloeError } from '../../core/errors';
import { DIGEST_ALGORITHM } from './ref';

/** Characters that have no business in a path or key: C0 controls (NUL included), DEL and the backslash. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f\\]/;

function invalid(message: string): MloeError {
  return new MloeError('PATH_INVALID', message);
}

/**
 * Checks that `path` is absolute, free of `..` and `.` segments, NUL bytes, control characters and backslashes, and
 * returns it normalised (no duplicate or trailing slashes). Paths reach activities from workflow inputs, so a relative
 * path would depend on the worker's working directory.
 */
export function checkAbsolutePath(path: string, what: string): string {
  if (path === '') throw invalid(`${what} must be a non-empty path`);
  if (FORBIDDEN_CHARACTERS.test(path)) {
    throw invalid(`${what} must not contain NUL bytes, control characters or backslashes, got ${JSON.stringify(path)}`);
  }
  if (!isAbsolute(path)) throw invalid(`${what} must be an absolute path, got "${path}"`);
  if (path.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw invalid(`${what} must not contain "." or ".." segments, got "${path}"`);
  }
  const normalised = normalize(path);
  return normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised;
}

/**
 * Decodes one percent-encoded URI path segment and checks it: no `/` or `\` (encoded or not), no control characters,
 * not `.` or `..` (encoded or not), not empty.
 */
function decodeSegment(segment: string, uri: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch (error) {
    throw new MloeError('PATH_INVALID', `URI "${uri}" has a malformed percent-encoding`, { cause: error });
  }
  if (decoded === '' || decoded === '.' || decoded === '..') {
    throw invalid(`URI "${uri}" must not contain empty, "." or ".." path segments`);
  }
  if (decoded.includes('/') || FORBIDDEN_CHARACTERS.test(decoded)) {
    throw invalid(`URI "${uri}" must not contain encoded slashes, backslashes, NUL bytes or control characters`);
  }
  return decoded;
}

/** Rejects what no URI we accept may contain anywhere: whitespace, controls, backslashes, queries, fragments. */
function checkUriCharacters(uri: string): void {
  if (uri.length > 2048) throw invalid(`URI is too long (${uri.length} characters, at most 2048)`);
  if (/[\s]/.test(uri) || FORBIDDEN_CHARACTERS.test(uri)) {
    throw invalid(`URI ${JSON.stringify(uri)} must not contain whitespace, control characters or backslashes`);
  }
  if (uri.includes('?') || uri.includes('#')) throw invalid(`URI "${uri}" must not have a query or fragment`);
}

/** The scheme of a URI (lowercase, without the colon), or undefined when `uri` does not start with one. */
export function uriScheme(uri: string): string | undefined {
  return /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
}

/**
 * The absolute path a `file:` URI names. Only `file:///absolute/path` is accepted (no host, not even `localhost`);
 * each segment is percent-decoded and checked by itself, so `%2e%2e` and `%2f` cannot smuggle traversal in.
 */
export function parseFileUri(uri: string): string {
  checkUriCharacters(uri);
  if (!uri.startsWith('file:///')) {
    throw invalid(`expected a file URI of the form file:///absolute/path, got "${uri}"`);
  }
  const rawPath = uri.slice('file://'.length);
  if (rawPath === '/') return '/';
  const rawSegments = rawPath.slice(1).split('/');
  // A single trailing slash names the same directory; anything else empty is a `//` and rejected below.
  if (rawSegments.length > 1 && rawSegments[rawSegments.length - 1] === '') rawSegments.pop();
  return `/${rawSegments.map((segment) => decodeSegment(segment, uri)).join('/')}`;
}

/**
 * Checks an S3 bucket name against AWS's rules for general purpose buckets: 3–63 characters of lowercase letters,
 * digits, dots and hyphens, starting and ending with a letter or digit, no `..`, not an IP address, and none of the
 * reserved prefixes and suffixes.
 */
export function checkBucketName(bucket: string): string {
  const problems: string[] = [];
  if (bucket.length < 3 || bucket.length > 63) problems.push('must be 3 to 63 characters long');
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket)) {
    problems.push('must be lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit');
  }
  if (bucket.includes('..')) problems.push('must not contain two adjacent dots');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bucket)) problems.push('must not look like an IP address');
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(bucket)) problems.push('must not start with xn--, sthree- or amzn-s3-demo-');
  if (/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(bucket)) problems.push('must not end with a reserved suffix');
  if (problems.length > 0) {
    throw invalid(`invalid S3 bucket name ${JSON.stringify(bucket)}: ${problems.join('; ')}`);
  }
  return bucket;
}

/** Characters allowed in one segment of a key prefix we build keys under: S3's "safe characters" minus a few. */
const KEY_SEGMENT_PATTERN = /^[A-Za-z0-9._-]+$/;

/** The longest object key S3 accepts, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/**
 * The longest suffix a store appends to its prefix: a record, `/records/cache/<250-character name>.json` (270 bytes);
 * a blob's record `/sha256/<ab>/<hex>.json` takes 80.
 */
const MAX_STORE_SUFFIX_BYTES = '/records/cache/'.length + 250 + '.json'.length;

/** Checks `/`-separated key segments of `[A-Za-z0-9._-]` (none empty, `.` or `..`) and a length; `what` names them. */
function checkKeySegments(key: string, what: string, maxBytes: number): string {
  const segments = key.split('/');
  if (key === '' || segments.some((segment) => !KEY_SEGMENT_PATTERN.test(segment))) {
    throw invalid(`${what} must be "/"-separated segments of letters, digits, ".", "_" and "-"`);
  }
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw invalid(`${what} must not contain "." or ".." segments`);
  }
  const bytes = Buffer.byteLength(key);
  if (bytes > maxBytes) throw invalid(`${what} is too long (${bytes} bytes, at most ${maxBytes})`);
  return key;
}

/**
 * Checks a key prefix (the folder a store keeps its artifacts under, e.g. `artifacts` or `team-a/artifacts`):
 * `/`-separated segments of `[A-Za-z0-9._-]`, none empty, `.` or `..`; no leading or trailing slash; short enough that
 * every key the store makes under it fits S3's 1,024 bytes.
 */
export function checkKeyPrefix(prefix: string): string {
  return checkKeySegments(prefix, `key prefix ${JSON.stringify(prefix)}`, MAX_KEY_BYTES - MAX_STORE_SUFFIX_BYTES);
}

/** An `s3://bucket/key` URI, split. */
export interface S3Location {
  bucket: string;
  /** The key, without a leading slash; empty for `s3://bucket` and `s3://bucket/`. */
  key: string;
}

/**
 * Splits an `s3://bucket/key` URI and validates both halves: the bucket against {@link checkBucketName}, the key's
 * segments like {@link checkKeyPrefix} and its length against S3's limit (percent-encoding is rejected outright: our
 * keys never need it).
 */
export function parseS3Uri(uri: string): S3Location {
  checkUriCharacters(uri);
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(uri);
  if (match === null) throw invalid(`expected an S3 URI of the form s3://bucket/key, got "${uri}"`);
  let bucket: string;
  try {
    bucket = checkBucketName(match[1] ?? '');
  } catch (error) {
    throw new MloeError('PATH_INVALID', `S3 URI "${uri}": ${(error as Error).message}`, { cause: error });
  }
  let key = match[2] ?? '';
  if (key.includes('%')) throw invalid(`S3 URI "${uri}" must not contain percent-encoded characters`);
  if (key.endsWith('/')) key = key.slice(0, -1);
  if (key !== '') checkKeySegments(key, `S3 URI "${uri}": its key`, MAX_KEY_BYTES);
  return { bucket, key };
}

/** Where a blob lives relative to a store's root: `sha256/<first two hex digits>/<hex>`. */
export function contentKey(hex: string): string {
  return posix.join(DIGEST_ALGORITHM, hex.slice(0, 2), hex);
}

/** Matches a root-relative content key at the end of a path or key, capturing what precedes it and the hex. */
export const CONTENT_KEY_SUFFIX = /^(.*)\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

/**
 * Splits a path or key ending in `/sha256/<ab>/<hex>` into the root before it and the hex digest, or returns
 * undefined when it does not end so (or the shard does not match the digest).
 */
export function splitContentKey(pathOrKey: string): { root: string; hex: string } | undefined {
  const match = CONTENT_KEY_SUFFIX.exec(pathOrKey);
  if (match === null) return undefined;
  const [, root = '', shard = '', hex = ''] = match;
  return hex.startsWith(shard) ? { root, hex } : undefined;
}

/**
 * Checks a digest prefix for listing (`sha256:` optional, then 0–64 lowercase hex digits) and returns the hex part.
 */
export function checkDigestPrefix(prefix: string): string {
  const hex = prefix.startsWith(`${DIGEST_ALGORITHM}:`) ? prefix.slice(DIGEST_ALGORITHM.length + 1) : prefix;
  if (!/^[0-9a-f]{0,64}$/.test(hex)) {
    throw invalid(`a list prefix must be sha256:<up to 64 lowercase hex digits>, got ${JSON.stringify(prefix)}`);
  }
  return hex;
}

/**
 * The root-relative key prefix that holds every blob whose hex digest starts with `hex`:
 * `sha256/`, `sha256/a`, or `sha256/ab/ab…`.
 */
export function contentKeyPrefix(hex: string): string {
  if (hex.length === 0) return `${DIGEST_ALGORITHM}/`;
  if (hex.length === 1) return `${DIGEST_ALGORITHM}/${hex}`;
  return `${DIGEST_ALGORITHM}/${hex.slice(0, 2)}/${hex}`;
}

/** Collections of JSON records a store keeps beside its artifacts (see `ArtifactStore.putRecord`). */
export const RECORD_COLLECTIONS = ['runs', 'cache', 'steps', 'monitors', 'prediction-logs'] as const;

/** A collection of records. */
export type RecordCollection = (typeof RECORD_COLLECTIONS)[number];

/**
 * A record's name: one safe segment, so it can never climb out of its collection. `:` for the ids of scheduled runs
 * (`nightly-2026-01-01T00:00:00Z`, see `core/run-ids.ts`).
 */
const RECORD_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,249}$/;

/**
 * Checks a record's collection and name and returns its key below the store's root:
 * `records/<collection>/<name>.json`. `PATH_INVALID` for an unknown collection or an unsafe name.
 */
export function recordKey(collection: RecordCollection, name: string): string {
  if (!(RECORD_COLLECTIONS as readonly string[]).includes(collection)) {
    throw invalid(
      `unknown record collection ${JSON.stringify(collection)}: expected one of ${RECORD_COLLECTIONS.join(', ')}`,
    );
  }
  if (!RECORD_NAME_PATTERN.test(name) || name.includes('..')) {
    throw invalid(
      `invalid record name ${JSON.stringify(name)}: use letters, digits, ".", "_", ":" and "-" (at most 250, no "..")`,
    );
  }
  return `records/${collection}/${name}.json`;
}
