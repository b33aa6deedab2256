/**
 * Where `ingest@2` reads from: a local path (relative ones resolved against the run's working directory, checked as
 * `ingest@1` checks them), `file:///abs/path`, `s3://bucket/key` (with the worker's S3 settings: endpoint, region,
 * path style; credentials from the AWS SDK's default chain unless configured) or an `http(s)://` URL. Remote sources
 * are downloaded into the step's temporary directory (DuckDB's own `httpfs` extension is not bundled and would be
 * downloaded at run time), hashing the bytes on the way, so the digest is always that of the bytes actually read.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';

import { MloeError, ensureError } from '../../../core/errors';
import {
  checkAbsolutePath,
  parseFileUri,
  parseS3StoreConfig,
  parseS3Uri,
  s3ClientConfig,
  type S3StoreConfigInput,
} from '../../artifacts';
import { uriScheme } from '../../artifacts/keys';

/** The schemes a source may have (a plain path has none). */
export const SOURCE_SCHEMES = ['file', 's3', 'http', 'https'] as const;

/** A parsed source. `display` names it in messages and metadata: never a URL's credentials or query string. */
export type DataSource =
  | { kind: 'file'; path: string; display: string }
  | { kind: 's3'; bucket: string; key: string; display: string }
  | { kind: 'http'; url: URL; display: string };

/**
 * Parses a source. Throws `PATH_INVALID` for a path or URI the artifact stores would reject (traversal in a URI,
 * control characters, a bad bucket) and `CONFIG_INVALID` for an unknown scheme, naming the ones accepted.
 */
export function parseDataSource(source: string, workingDir: string): DataSource {
  const scheme = uriScheme(source);
  if (scheme === undefined) {
    const path = checkAbsolutePath(isAbsolute(source) ? source : resolve(workingDir, source), 'source path');
    return { kind: 'file', path, display: path };
  }
  switch (scheme) {
    case 'file': {
      const path = parseFileUri(source);
      return { kind: 'file', path, display: path };
    }
    case 's3': {
      const { bucket, key } = parseS3Uri(source);
      if (key === '') throw new MloeError('PATH_INVALID', `source "${source}" names a bucket, not an object`);
      return { kind: 's3', bucket, key, display: `s3://${bucket}/${key}` };
    }
    case 'http':
    case 'https': {
      let url: URL;
      try {
        url = new URL(source);
      } catch (error) {
        throw new MloeError('PATH_INVALID', `source is not a valid URL: ${ensureError(error).message}`, {
          cause: error,
        });
      }
      return { kind: 'http', url, display: `${url.protocol}//${url.host}${url.pathname}` };
    }
    default:
      throw new MloeError(
        'CONFIG_INVALID',
        `source has the unsupported scheme "${scheme}:"; use a path, file:///abs/path, s3://bucket/key or an ` +
          'http(s):// URL',
      );
  }
}

/** The name of a source's file (its last path segment), for format detection. */
export function sourceFileName(source: DataSource): string {
  switch (source.kind) {
    case 'file':
      return posix.basename(source.path);
    case 's3':
      return posix.basename(source.key);
    case 'http':
      return posix.basename(source.url.pathname);
  }
}

/** Options of {@link fetchSource} and {@link sourceFingerprint}. */
export interface SourceOptions {
  /** The worker's S3 settings, for `s3://` sources. */
  s3?: S3StoreConfigInput;
  /** Aborts a download (the step was cancelled). */
  signal?: AbortSignal;
}

/** A source as a local file, with the sha256 of its bytes. */
export interface LocalSource {
  path: string;
  /** `sha256:<hex>`. */
  digest: string;
  bytes: number;
}

/**
 * Makes a source readable as a local file: a local file as it is, anything else downloaded into `directory`.
 * `ARTIFACT_NOT_FOUND` (not retryable) when the file or object does not exist or the server says 404/410; other
 * HTTP and S3 failures are retryable.
 */
export async function fetchSource(
  source: DataSource,
  directory: string,
  options: SourceOptions = {},
): Promise<LocalSource> {
  switch (source.kind) {
    case 'file': {
      await checkRegularFile(source.path);
      const { digest, bytes } = await hashStream(createReadStream(source.path));
      return { path: source.path, digest, bytes };
    }
    case 's3':
      return withS3Client(options, async (client) => {
        const target = join(directory, localName(source));
        try {
          const answer = await client.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }), {
            ...(options.signal === undefined ? {} : { abortSignal: options.signal }),
          });
          if (!(answer.Body instanceof Readable)) throw new MloeError('INTERNAL', 'S3 answered without a body stream');
          return { path: target, ...(await writeHashed(answer.Body, target)) };
        } catch (error) {
          throw s3Failure(error, source.display);
        }
      });
    case 'http': {
      const target = join(directory, localName(source));
      let response: Response;
      try {
        response = await fetch(source.url, {
          redirect: 'follow',
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
      } catch (error) {
        throw new MloeError('ARTIFACT_STORE_FAILED', `could not fetch ${source.display}: ${describeCause(error)}`, {
          cause: error,
          retryable: true,
        });
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        const missing = response.status === 404 || response.status === 410;
        throw new MloeError(
          missing ? 'ARTIFACT_NOT_FOUND' : 'ARTIFACT_STORE_FAILED',
          `fetching ${source.display} answered HTTP ${response.status} ${response.statusText}`.trimEnd(),
          { retryable: !missing && (response.status >= 500 || response.status === 429 || response.status === 408) },
        );
      }
      return { path: target, ...(await writeHashed(Readable.fromWeb(response.body), target)) };
    }
  }
}

/**
 * What decides whether an earlier ingest of a source can be reused (a cache input): a local file's sha256; an S3
 * object's ETag, size, modification time and version; an HTTP resource's ETag, Last-Modified and length. An HTTP
 * resource that offers neither validator gets a fresh value, so it is fetched again on every run.
 */
export async function sourceFingerprint(source: DataSource, options: SourceOptions = {}): Promise<string> {
  switch (source.kind) {
    case 'file':
      await checkRegularFile(source.path);
      return (await hashStream(createReadStream(source.path))).digest;
    case 's3':
      return withS3Client(options, async (client) => {
        try {
          const head = await client.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key }));
          return ['s3', head.ETag, head.ContentLength, head.LastModified?.toISOString(), head.VersionId]
            .map((part) => String(part ?? ''))
            .join('|');
        } catch (error) {
          throw s3Failure(error, source.display);
        }
      });
    case 'http': {
      const response = await fetch(source.url, {
        method: 'HEAD',
        redirect: 'follow',
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      }).catch(() => undefined);
      const etag = response?.ok === true ? response.headers.get('etag') : null;
      const modified = response?.ok === true ? response.headers.get('last-modified') : null;
      if (etag === null && modified === null) return `unversioned|${randomUUID()}`;
      return ['http', etag, modified, response?.headers.get('content-length')].map((part) => part ?? '').join('|');
    }
  }
}

/**
 * The name of a downloaded source: unique, ending in the source's own file name (made safe), so that DuckDB still
 * recognises a compression suffix such as `.gz`.
 */
function localName(source: DataSource): string {
  const safe = sourceFileName(source)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(-100);
  return `source-${randomUUID()}-${safe}`;
}

async function checkRegularFile(path: string): Promise<void> {
  try {
    if (!(await stat(path)).isFile()) {
      throw new MloeError('PATH_INVALID', `source ${path} is a directory or special file, not a file`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MloeError('ARTIFACT_NOT_FOUND', `source file ${path} does not exist`, { cause: error });
    }
    throw error; // permissions, I/O: possibly transient, left retryable
  }
}

async function withS3Client<T>(options: SourceOptions, body: (client: S3Client) => Promise<T>): Promise<T> {
  const client = new S3Client(s3ClientConfig(parseS3StoreConfig(options.s3)));
  try {
    return await body(client);
  } finally {
    client.destroy();
  }
}

function s3Failure(error: unknown, display: string): MloeError {
  if (error instanceof MloeError) return error;
  const name = (error as { name?: unknown }).name;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new MloeError('ARTIFACT_NOT_FOUND', `source object ${display} does not exist`, { cause: error });
  }
  if (name === 'NoSuchBucket') {
    return new MloeError('ARTIFACT_NOT_FOUND', `the bucket of ${display} does not exist`, { cause: error });
  }
  return new MloeError('ARTIFACT_STORE_FAILED', `could not read ${display} from S3: ${describeCause(error)}`, {
    cause: error,
    retryable: status !== 403,
  });
}

function describeCause(error: unknown): string {
  const failure = ensureError(error);
  const cause = failure.cause instanceof Error ? `: ${failure.cause.message}` : '';
  return `${failure.message}${cause}`;
}

/** sha256 and length of a stream, consumed. */
async function hashStream(stream: Readable): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    bytes += buffer.byteLength;
  }
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}

/** Writes a stream to a file, hashing it on the way. */
async function writeHashed(stream: Readable, path: string): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      callback(null, chunk);
    },
  });
  await pipeline(stream, tap, createWriteStream(path));
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}
