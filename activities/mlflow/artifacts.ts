/**
 * Run artifacts through the tracking server's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts`, served by
 * `mlflow server` with `--serve-artifacts`, the default since MLflow 2.0): list, upload from bytes, a stream or a
 * file, download to bytes, a stream or a file.
 *
 * A target names a run (`{ runId, path }`, resolved through the run's `artifact_uri`) or an artifact URI
 * (`{ uri }`): `mlflow-artifacts:/…`, `mlflow-artifacts://host:port/…`, `runs:/<run>/<path>`, or an
 * `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…` URL. Artifacts stored elsewhere (`s3://`, `file://`, ...) are
 * not reachable through the proxy and are refused with an `INVALID_REQUEST` error: this client does not talk to
 * object stores directly.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { z } from 'zod';

import { MlflowError } from './errors';
import type { MlflowHttpClient } from './http';
import type { RunsApi } from './runs';
import type { FileInfo } from './types';
import { fileInfoSchema } from './wire';

/** The artifact proxy's path under a server's base URL. */
export const ARTIFACT_PROXY = '/api/2.0/mlflow-artifacts/artifacts';

/** Which artifact (or directory) a call is about. */
export type ArtifactTarget =
  /** A path under a run's artifact root (the root itself when `path` is empty or absent). */
  | { runId: string; path?: string }
  /** An artifact URI, and optionally a path under it. */
  | { uri: string; path?: string };

/** Where an artifact lives on the proxy: the server and the path under `/api/2.0/mlflow-artifacts/artifacts`. */
export interface ProxyLocation {
  baseUrl: string;
  /** Slash-separated, no leading or trailing slash; empty for the proxy's root. */
  path: string;
}

/** Checks a relative artifact path: no leading slash, no `.` or `..` segments, no empty segments, no NUL. */
export function normalizeArtifactPath(path: string | undefined, endpoint: string): string {
  if (path === undefined || path === '') return '';
  const trimmed = path.replace(/\/+$/, '');
  const segments = trimmed.split('/');
  const bad = segments.find(
    (segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\0'),
  );
  if (trimmed.startsWith('/') || bad !== undefined) {
    throw new MlflowError(
      `MLflow ${endpoint}: artifact path ${JSON.stringify(path)} must be relative, without empty, "." or ".." segments`,
      { errorCode: 'INVALID_REQUEST', endpoint, retryable: false, attempts: 0 },
    );
  }
  return trimmed;
}

/** `a/b` + `c` → `a/b/c`, skipping empty parts. */
function joinPath(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}

/** The URL path of a proxy location, each segment percent-encoded. */
function proxyUrlPath(path: string): string {
  return path === '' ? ARTIFACT_PROXY : `${ARTIFACT_PROXY}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Where an artifact URI lives on the proxy, relative to the tracking server `trackingUri`: `mlflow-artifacts:/p`
 * (that server), `mlflow-artifacts://host:port/p` (that host, the tracking server's scheme), or an http(s) URL of
 * the proxy itself. Anything else is an `INVALID_REQUEST` error.
 */
export function proxyLocationOf(artifactUri: string, trackingUri: string, endpoint: string): ProxyLocation {
  const refuse = (why: string): never => {
    throw new MlflowError(`MLflow ${endpoint}: artifact URI ${JSON.stringify(artifactUri)} ${why}`, {
      errorCode: 'INVALID_REQUEST',
      endpoint,
      retryable: false,
      attempts: 0,
    });
  };
  const proxied = /^mlflow-artifacts:(\/\/([^/]*))?(\/.*)?$/i.exec(artifactUri);
  if (proxied !== null) {
    const authority = proxied[2];
    const path = decodeURIComponent((proxied[3] ?? '').replace(/^\/+/, '').replace(/\/+$/, ''));
    const tracking = new URL(trackingUri);
    const baseUrl =
      authority === undefined || authority === '' || authority === tracking.host
        ? trackingUri
        : `${tracking.protocol}//${authority}`;
    return { baseUrl, path };
  }
  if (/^https?:\/\//i.test(artifactUri)) {
    const url = new URL(artifactUri);
    const at = url.pathname.indexOf(ARTIFACT_PROXY);
    if (at < 0) return refuse(`is an http(s) URL outside MLflow's artifact proxy (${ARTIFACT_PROXY})`);
    const path = decodeURIComponent(
      url.pathname
        .slice(at + ARTIFACT_PROXY.length)
        .replace(/^\/+/, '')
        .replace(/\/+$/, ''),
    );
    return { baseUrl: `${url.origin}${url.pathname.slice(0, at)}`, path };
  }
  return refuse(
    "is not served by the tracking server's artifact proxy: mloe's MLflow client transfers artifacts through `mlflow server --serve-artifacts` only (run artifacts under mlflow-artifacts:/), not directly from object stores or file systems",
  );
}

/** `runs:/<run_id>/<path>` split, or undefined for another URI. */
export function parseRunsUri(uri: string): { runId: string; path: string } | undefined {
  const match = /^runs:\/(\/)?([^/]+)(?:\/(.*))?$/.exec(uri);
  if (match === null) return undefined;
  return { runId: match[2] ?? '', path: (match[3] ?? '').replace(/\/+$/, '') };
}

const listAnswer = z.object({ files: z.array(fileInfoSchema).default([]) });

/** The artifact API of one MLflow tracking server. */
export class ArtifactsApi {
  readonly #http: MlflowHttpClient;
  readonly #runs: RunsApi;
  readonly #roots = new Map<string, string>();

  constructor(http: MlflowHttpClient, runs: RunsApi) {
    this.#http = http;
    this.#runs = runs;
  }

  /** A run's artifact root URI, read once per run (it never changes). */
  async runArtifactUri(runId: string): Promise<string> {
    const known = this.#roots.get(runId);
    if (known !== undefined) return known;
    const uri = (await this.#runs.get(runId)).info.artifactUri;
    this.#roots.set(runId, uri);
    return uri;
  }

  /** Where a target lives on the proxy. */
  async locate(target: ArtifactTarget, endpoint: string): Promise<ProxyLocation> {
    const path = normalizeArtifactPath(target.path, endpoint);
    if ('runId' in target) {
      const root = proxyLocationOf(await this.runArtifactUri(target.runId), this.#http.config.trackingUri, endpoint);
      return { baseUrl: root.baseUrl, path: joinPath(root.path, path) };
    }
    const run = parseRunsUri(target.uri);
    if (run !== undefined) return this.locate({ runId: run.runId, path: joinPath(run.path, path) }, endpoint);
    const root = proxyLocationOf(target.uri, this.#http.config.trackingUri, endpoint);
    return { baseUrl: root.baseUrl, path: joinPath(root.path, path) };
  }

  /**
   * The files and directories directly under a target. Paths are the target's own path joined with each name
   * (listing `{ runId, path: 'model' }` gives `model/MLmodel`), as MLflow's Python client lists them; the proxy
   * itself answers bare names. An empty or missing directory lists nothing.
   */
  async list(target: ArtifactTarget, options: { signal?: AbortSignal } = {}): Promise<FileInfo[]> {
    const endpoint = `GET ${ARTIFACT_PROXY}`;
    const location = await this.locate(target, endpoint);
    const answer = await this.#http.json(
      {
        method: 'GET',
        path: ARTIFACT_PROXY,
        baseUrl: location.baseUrl,
        query: { path: location.path === '' ? undefined : location.path },
        ...signalOf(options),
      },
      listAnswer,
    );
    const prefix = normalizeArtifactPath(target.path, endpoint);
    return answer.files.map((file) => ({ ...file, path: joinPath(prefix, basename(file.path)) }));
  }

  /** Uploads bytes (or UTF-8 text) to a target path, replacing what was there. */
  async uploadBytes(target: ArtifactTarget, bytes: Uint8Array | string, options: UploadOptions = {}): Promise<void> {
    const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    await this.#put(target, { kind: 'bytes', bytes: body, ...contentTypeOf(options) }, options);
  }

  /**
   * Uploads a stream to a target path. The stream can be read only once, so the upload is not retried: a failure
   * is thrown to the caller (whose own retry must supply a fresh stream).
   */
  async uploadStream(
    target: ArtifactTarget,
    stream: Readable | ReadableStream<Uint8Array>,
    options: UploadOptions = {},
  ): Promise<void> {
    const web = stream instanceof Readable ? (Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>) : stream;
    await this.#put(target, { kind: 'stream', open: () => web, replayable: false, ...contentTypeOf(options) }, options);
  }

  /** Uploads a local file to a target path; the file is reopened for each attempt, so retries are safe. */
  async uploadFile(target: ArtifactTarget, file: string, options: UploadOptions = {}): Promise<void> {
    const { size } = await stat(file);
    await this.#put(
      target,
      {
        kind: 'stream',
        open: () => Readable.toWeb(createReadStream(file)),
        replayable: true,
        contentLength: size,
        ...contentTypeOf(options),
      },
      options,
    );
  }

  /** Downloads an artifact into memory. */
  async downloadBytes(target: ArtifactTarget, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const request = await this.#getRequest(target, options);
    return this.#http.transfer(request, async (response) => new Uint8Array(await response.arrayBuffer()));
  }

  /**
   * Downloads an artifact as a Node stream. Once the answer has started, a broken connection is an error of the
   * stream (it cannot be retried transparently); so is a pause of more than the timeout between chunks.
   */
  async downloadStream(target: ArtifactTarget, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const request = await this.#getRequest(target, options);
    const response = await this.#http.open(request);
    if (response.body === null) return Readable.from([]);
    return Readable.fromWeb(response.body);
  }

  /**
   * Downloads an artifact to a local file, written beside it under a temporary name and renamed into place, so the
   * file is either complete or absent; a broken download is retried from the start.
   */
  async downloadFile(target: ArtifactTarget, file: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const request = await this.#getRequest(target, options);
    const partial = join(dirname(file), `.${basename(file)}.${randomUUID()}.partial`);
    try {
      await this.#http.transfer(request, async (response) => {
        const source = response.body === null ? Readable.from([]) : Readable.fromWeb(response.body);
        await pipeline(source, createWriteStream(partial));
      });
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async #getRequest(
    target: ArtifactTarget,
    options: { signal?: AbortSignal },
  ): Promise<Parameters<MlflowHttpClient['open']>[0]> {
    const location = await this.locate(target, `GET ${ARTIFACT_PROXY}/<path>`);
    requireFilePath(location, `GET ${ARTIFACT_PROXY}/<path>`);
    return { method: 'GET', path: proxyUrlPath(location.path), baseUrl: location.baseUrl, ...signalOf(options) };
  }

  async #put(
    target: ArtifactTarget,
    body: NonNullable<Parameters<MlflowHttpClient['open']>[0]['body']>,
    options: UploadOptions,
  ): Promise<void> {
    const endpoint = `PUT ${ARTIFACT_PROXY}/<path>`;
    const location = await this.locate(target, endpoint);
    requireFilePath(location, endpoint);
    const request = { method: 'PUT', path: proxyUrlPath(location.path), baseUrl: location.baseUrl, body } as const;
    await this.#http.transfer({ ...request, ...signalOf(options) }, async (response) => {
      await response.arrayBuffer();
    });
  }
}

/** Options of the uploads. */
export interface UploadOptions {
  /** The `Content-Type` sent; `application/octet-stream` unless given. */
  contentType?: string;
  signal?: AbortSignal;
}

function contentTypeOf(options: UploadOptions): { contentType?: string } {
  return options.contentType === undefined ? {} : { contentType: options.contentType };
}

function signalOf(options: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}

function requireFilePath(location: ProxyLocation, endpoint: string): void {
  if (location.path === '') {
    throw new MlflowError(`MLflow ${endpoint}: an upload or download needs a file path, not the artifact root`, {
      errorCode: 'INVALID_REQUEST',
      endpoint,
      retryable: false,
      attempts: 0,
    });
  }
}
