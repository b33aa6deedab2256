/**
 * The MLflow client's transport: one request over Node's `fetch` (or, for JSON calls, a lean {@link JsonTransport}
 * when one is given) with a deadline per attempt, authentication,
 * bounded retries with exponential backoff and jitter (429, 5xx but 501/505, connection failures and timeouts only;
 * never another 4xx), `Retry-After` honoured, and every answer turned into a zod-validated value or an
 * {@link MlflowError}.
 *
 * Retries resend the same request, as MLflow's Python client does (urllib3's `Retry` with every method allowed).
 * Requests that create things can therefore meet their own earlier success (`RESOURCE_ALREADY_EXISTS`); metrics are
 * sent with their timestamps fixed before the first attempt, so a resent batch carries identical rows.
 *
 * Nothing here logs. Messages name `METHOD /path` only: no host credentials, query strings or bodies.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';

import { z } from 'zod';

import type { MlflowConfig, MlflowRetryConfig } from './config';
import { MlflowError, errorCodeForStatus, isRetryableStatus, type MlflowErrorCode } from './errors';

/** The HTTP methods MLflow's REST API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';

/** Which server a request goes to. */
export type MlflowService = 'tracking' | 'registry';

/** A query string value: repeated keys for arrays (`order_by=a&order_by=b`), as MLflow's clients send them. */
export type QueryValue = string | number | boolean | readonly string[] | undefined;

/** A request body that can be sent again on a retry. */
export type ReplayableBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'bytes'; bytes: Uint8Array; contentType?: string }
  /** A stream (or a file opened anew for each attempt) made by `open()`; `replayable: false` allows one attempt. */
  | {
      kind: 'stream';
      open: () => ReadableStream<Uint8Array>;
      replayable: boolean;
      contentType?: string;
      /** The body's size when known (a file): sent as `Content-Length` instead of chunked encoding. */
      contentLength?: number;
    };

/** One request, before retries. */
export interface HttpRequest {
  method: HttpMethod;
  /** The path under the server's base URL, starting with `/api/2.0/`. */
  path: string;
  service?: MlflowService;
  /** Another server than the service's (an artifact URI naming its own host); the same credentials are sent. */
  baseUrl?: string;
  query?: Readonly<Record<string, QueryValue>>;
  body?: ReplayableBody;
  /** Aborts the request and any wait between attempts; an aborted request is never retried. */
  signal?: AbortSignal;
}

/**
 * What a JSON call reads of an answer. A WHATWG `Response` has it, and so does the answer of a {@link JsonTransport},
 * which need not build one.
 */
export interface HttpAnswer {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /** The whole body as text (read once). */
  text(): Promise<string>;
}

/** One request of a JSON call, as a {@link JsonTransport} sends it. */
export interface TransportRequest {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  /** The JSON text, if the call has a body. */
  body: string | undefined;
  /** The attempt's deadline, from sending to the end of the answer. */
  timeoutMs: number;
  /** The caller's abort, if any. */
  signal: AbortSignal | undefined;
}

/**
 * A transport for small JSON calls (every call but artifact transfers): sends a request and answers with its whole
 * body, without the WHATWG `Request`/`Response`/`AbortController` machinery `fetch` needs, which on a busy worker
 * costs more than the call itself. It rejects as `fetch` does: a `TypeError('fetch failed')` with the network error
 * as `cause` (its `code`, e.g. `ECONNREFUSED`), an `AbortError` when `signal` aborts, and a `TimeoutError`
 * (`DOMException`) when `timeoutMs` passes first.
 */
export interface JsonTransport {
  send(request: TransportRequest): Promise<HttpAnswer>;
}

/** Test seams: the wait between attempts and the randomness of the jitter. */
export interface HttpHooks {
  /** Waits `ms` milliseconds (or rejects when `signal` aborts); tests pass a recorder that returns at once. */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  /** A number in [0, 1) for the jitter; `Math.random` unless given. */
  random?: () => number;
  /** The `fetch` to use; Node's global one unless given. */
  fetch?: typeof fetch;
  /** The transport of JSON calls; they go through {@link HttpHooks.fetch} unless given. */
  transport?: JsonTransport;
}

const USER_AGENT = 'mloe-mlflow-client/0.1';

/** A message's worth of the server's text: whitespace collapsed, at most 500 characters. */
function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 500 ? `${flat.slice(0, 500)}…` : flat;
}

const errorBodySchema = z.object({ error_code: z.string().min(1), message: z.string().optional() });

/** The wait a `Retry-After` header asks for, in milliseconds (seconds or an HTTP date), if it is readable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The wait before retry number `retry` (1 for the first retry): `base · 2^(retry-1)` plus up to `jitter`, never more
 * than `maxDelayMs`; a `Retry-After` longer than that (and within the cap) wins.
 */
export function backoffDelayMs(
  policy: MlflowRetryConfig,
  retry: number,
  random: () => number,
  retryAfter?: number,
): number {
  const exponential = policy.backoffBaseMs * 2 ** (retry - 1) + random() * policy.backoffJitterMs;
  const wanted = policy.respectRetryAfter && retryAfter !== undefined ? Math.max(exponential, retryAfter) : exponential;
  return Math.round(Math.min(policy.maxDelayMs, wanted));
}

/** The value of the `Authorization` header, if any. */
function authorization(config: MlflowConfig): string | undefined {
  const { auth } = config;
  switch (auth.type) {
    case 'none':
      return undefined;
    case 'bearer':
      return `Bearer ${auth.token.reveal()}`;
    case 'basic':
      return `Basic ${Buffer.from(`${auth.username}:${auth.password.reveal()}`).toString('base64')}`;
  }
}

/** `a=1&b=x&b=y`, skipping undefined values and empty arrays. */
function queryString(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value as readonly string[]) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Why a `fetch` (or a transport) rejected: the caller's abort, our deadline, or the network. */
function transportFailure(
  error: unknown,
  signal: AbortSignal | undefined,
  deadline: { expired: boolean; ms: number },
): { errorCode: MlflowErrorCode; retryable: boolean; detail: string } {
  if (signal?.aborted === true) return { errorCode: 'ABORTED', retryable: false, detail: 'aborted by the caller' };
  if (deadline.expired) {
    return { errorCode: 'TIMEOUT', retryable: true, detail: `no progress within the ${deadline.ms} ms timeout` };
  }
  // Duck-typed: fetch's errors come from Node's own realm, which is not always the caller's (jest, vm contexts).
  const described =
    typeof error === 'object' && error !== null ? (error as { message?: unknown; cause?: unknown }) : {};
  const cause =
    typeof described.cause === 'object' && described.cause !== null ? (described.cause as { code?: unknown }) : {};
  const code = typeof cause.code === 'string' ? cause.code : undefined;
  const message = typeof described.message === 'string' ? described.message : String(error);
  return {
    errorCode: 'CONNECTION_FAILED',
    retryable: true,
    detail: code === undefined ? message : `${message} (${code})`,
  };
}

/**
 * The deadline of one attempt: `total` runs from the start of the request to the end of its answer (JSON calls);
 * `idle` restarts whenever a chunk of a streamed body goes out or comes in (artifact transfers, which may be large),
 * so it bounds silence rather than size.
 */
class Deadline {
  readonly ms: number;
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.ms = ms;
    this.touch();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get expired(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Starts the clock again (a chunk moved). */
  touch(): void {
    if (this.expired) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#controller.abort(new DOMException('MLflow request timed out', 'TimeoutError')),
      this.ms,
    );
    // The request itself keeps the process alive while it is open; its clock must not on its own.
    this.#timer.unref();
  }

  /** Stops the clock for good. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** A stream that calls `onChunk` for every chunk passing through and `onEnd` when it ends, fails or is cancelled. */
function watched(
  stream: ReadableStream<Uint8Array>,
  onChunk: () => void,
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          onEnd();
          controller.close();
          return;
        }
        onChunk();
        controller.enqueue(value);
      } catch (error) {
        onEnd();
        controller.error(error);
      }
    },
    async cancel(reason) {
      onEnd();
      await reader.cancel(reason);
    },
  });
}

/** How an attempt's deadline and answer are handled. */
type Reading<T> =
  /** Read the answer within a total deadline (through the JSON transport when there is one). */
  | { deadline: 'total'; read: (response: HttpAnswer, attempts: number) => Promise<T> }
  /** Read the answer with an idle deadline (restarted by every chunk); `read` gets a watched body. */
  | { deadline: 'idle'; read: (response: Response, attempts: number) => Promise<T> }
  /** Hand the answer over unread; its body keeps the idle deadline until it ends. */
  | { deadline: 'handover' };

/**
 * Sends MLflow REST requests for one configuration. One instance per process is enough: it keeps no connection
 * state of its own (Node's `fetch` pools connections).
 */
export class MlflowHttpClient {
  readonly config: MlflowConfig;
  readonly #sleep: NonNullable<HttpHooks['sleep']>;
  readonly #random: () => number;
  readonly #fetch: typeof fetch;
  readonly #hooks: HttpHooks;
  readonly #signal: AbortSignal | undefined;

  constructor(config: MlflowConfig, hooks: HttpHooks = {}, signal?: AbortSignal) {
    this.config = config;
    this.#hooks = hooks;
    this.#signal = signal;
    this.#sleep = hooks.sleep ?? ((ms, abort) => sleepFor(ms, undefined, abort === undefined ? {} : { signal: abort }));
    this.#random = hooks.random ?? Math.random;
    this.#fetch = hooks.fetch ?? fetch;
  }

  /**
   * The same client, with `signal` aborting every request that names no signal of its own (e.g. an activity's
   * cancellation signal).
   */
  withSignal(signal: AbortSignal): MlflowHttpClient {
    return new MlflowHttpClient(this.config, this.#hooks, signal);
  }

  /** The base URL a service's requests go to. */
  baseUrl(service: MlflowService = 'tracking'): string {
    return service === 'registry' ? this.config.registryUri : this.config.trackingUri;
  }

  /** `METHOD /path`: how errors name a request. */
  static endpointOf(request: Pick<HttpRequest, 'method' | 'path'>): string {
    return `${request.method} ${request.path}`;
  }

  /**
   * Sends a JSON request and validates the JSON answer with `schema`. An empty answer body counts as `{}` (MLflow
   * leaves out empty fields, so an empty search answers `{}`).
   */
  async json<T>(request: HttpRequest, schema: z.ZodType<T>): Promise<T> {
    return this.#run(request, {
      deadline: 'total',
      read: async (response, attempts) => {
        const text = await response.text();
        let value: unknown;
        try {
          value = text.trim() === '' ? {} : JSON.parse(text);
        } catch (error) {
          throw this.#invalidResponse(request, attempts, `the answer is not JSON: ${excerpt(text)}`, error);
        }
        const parsed = schema.safeParse(value);
        if (!parsed.success) {
          const issues = parsed.error.issues
            .slice(0, 5)
            .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
            .join('; ');
          throw this.#invalidResponse(
            request,
            attempts,
            `the answer does not match MLflow's schema: ${issues}`,
            parsed.error,
          );
        }
        return parsed.data;
      },
    });
  }

  /**
   * Sends a request and hands the successful answer to `read` inside the retry loop, with an idle deadline: if the
   * body breaks off (connection error, silence longer than the timeout), the whole request is tried again, so `read`
   * must start over cleanly (artifact downloads to memory or to a file).
   */
  async transfer<T>(request: HttpRequest, read: (response: Response) => Promise<T>): Promise<T> {
    return this.#run(request, { deadline: 'idle', read: (response) => read(response) });
  }

  /**
   * Sends a request and returns the successful answer unread (streamed downloads). Its body keeps an idle deadline:
   * it fails if no chunk arrives (or the caller reads none) for longer than the timeout.
   */
  async open(request: HttpRequest): Promise<Response> {
    return this.#run(request, { deadline: 'handover' });
  }

  async #run<T>(request: HttpRequest, reading: Reading<T>): Promise<T>;
  async #run(request: HttpRequest, reading: { deadline: 'handover' }): Promise<Response>;
  async #run<T>(given: HttpRequest, reading: Reading<T>): Promise<T | Response> {
    const request: HttpRequest =
      given.signal === undefined && this.#signal !== undefined ? { ...given, signal: this.#signal } : given;
    const policy = this.config.retry;
    const transport = this.#hooks.transport;
    const lean =
      transport !== undefined &&
      reading.deadline === 'total' &&
      (request.body === undefined || request.body.kind === 'json');
    for (let attempt = 1; ; attempt += 1) {
      if (lean) {
        const outcome = await this.#leanAttempt(transport, request, reading, attempt);
        if (outcome.done) return outcome.value;
        const { failure, retryAfter } = outcome;
        if (!failure.retryable || attempt > policy.maxRetries) throw failure;
        await this.#wait(request, attempt, retryAfter);
        continue;
      }
      const deadline = new Deadline(this.config.timeoutMs);
      const signal =
        request.signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, request.signal]);
      const idle = reading.deadline !== 'total';
      let handedOver = false;
      let failure: MlflowError;
      let retryAfter: number | undefined;
      try {
        const response = await this.#attempt(request, signal, idle ? () => deadline.touch() : undefined);
        if (response.ok) {
          if (idle) deadline.touch();
          const body =
            idle && response.body !== null
              ? new Response(
                  watched(
                    response.body,
                    () => deadline.touch(),
                    () => deadline.clear(),
                  ),
                  { status: response.status, statusText: response.statusText, headers: response.headers },
                )
              : response;
          if (reading.deadline === 'handover') {
            handedOver = true;
            if (response.body === null) deadline.clear();
            return body;
          }
          return await reading.read(body, attempt);
        }
        failure = await this.#httpFailure(request, response, attempt);
        retryAfter = retryAfterMs(response.headers.get('retry-after'));
      } catch (error) {
        if (error instanceof MlflowError || isLocalFileError(error)) throw error;
        const { errorCode, retryable, detail } = transportFailure(error, request.signal, deadline);
        failure = this.#failure(request, attempt, errorCode, retryable, detail, error);
      } finally {
        if (!handedOver) deadline.clear();
      }
      if (!failure.retryable || attempt > policy.maxRetries || !canResend(request)) throw failure;
      await this.#wait(request, attempt, retryAfter);
    }
  }

  /** Waits before retry number `attempt` (the backoff, or a longer `Retry-After`), unless the caller aborts. */
  async #wait(request: HttpRequest, attempt: number, retryAfter: number | undefined): Promise<void> {
    try {
      await this.#sleep(backoffDelayMs(this.config.retry, attempt, this.#random, retryAfter), request.signal);
    } catch (error) {
      throw this.#failure(request, attempt, 'ABORTED', false, 'aborted by the caller while waiting to retry', error);
    }
  }

  /**
   * One attempt of a JSON call through the transport, which keeps the deadline itself: the value read, or the
   * failure (and the wait a `Retry-After` asks for) to retry or throw.
   */
  async #leanAttempt<T>(
    transport: JsonTransport,
    request: HttpRequest,
    reading: Extract<Reading<T>, { deadline: 'total' }>,
    attempt: number,
  ): Promise<{ done: true; value: T } | { done: false; failure: MlflowError; retryAfter: number | undefined }> {
    const timeoutMs = this.config.timeoutMs;
    const given = request.body;
    const body = given?.kind === 'json' ? JSON.stringify(given.value) : undefined;
    const headers = this.#headers(body === undefined ? undefined : 'application/json');
    let answer: HttpAnswer;
    try {
      answer = await transport.send({
        url: this.#url(request),
        method: request.method,
        headers,
        body,
        timeoutMs,
        signal: request.signal,
      });
    } catch (error) {
      // Duck-typed, like `transportFailure`: the error may come from another realm (jest, vm contexts).
      const expired =
        typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TimeoutError';
      const { errorCode, retryable, detail } = transportFailure(error, request.signal, { expired, ms: timeoutMs });
      return {
        done: false,
        failure: this.#failure(request, attempt, errorCode, retryable, detail, error),
        retryAfter: undefined,
      };
    }
    if (answer.ok) return { done: true, value: await reading.read(answer, attempt) };
    const failure = await this.#httpFailure(request, answer, attempt);
    return { done: false, failure, retryAfter: retryAfterMs(answer.headers.get('retry-after')) };
  }

  /** The headers of every request: the client's name, JSON accepted, credentials, and the body's type if any. */
  #headers(contentType: string | undefined): Record<string, string> {
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: 'application/json' };
    const auth = authorization(this.config);
    if (auth !== undefined) headers.Authorization = auth;
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    return headers;
  }

  /** The URL a request goes to. */
  #url(request: HttpRequest): string {
    return `${request.baseUrl ?? this.baseUrl(request.service)}${request.path}${queryString(request.query)}`;
  }

  /** One `fetch`; `progress` is called for every chunk of a streamed request body that goes out. */
  async #attempt(request: HttpRequest, signal: AbortSignal, progress: (() => void) | undefined): Promise<Response> {
    const headers = this.#headers(undefined);
    const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers, signal };
    const given = request.body;
    if (given?.kind === 'json') {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(given.value);
    } else if (given?.kind === 'bytes') {
      headers['Content-Type'] = given.contentType ?? 'application/octet-stream';
      init.body = given.bytes;
    } else if (given?.kind === 'stream') {
      headers['Content-Type'] = given.contentType ?? 'application/octet-stream';
      if (given.contentLength !== undefined) headers['Content-Length'] = String(given.contentLength);
      const stream = given.open();
      init.body = progress === undefined ? stream : watched(stream, progress, () => undefined);
      init.duplex = 'half';
    }
    return this.#fetch(this.#url(request), init);
  }

  /** The error of a non-2xx answer: MLflow's `error_code` when the body carries one, else the status's code. */
  async #httpFailure(request: HttpRequest, response: HttpAnswer, attempts: number): Promise<MlflowError> {
    let text = '';
    try {
      text = await response.text();
    } catch {
      // The status says enough.
    }
    let errorCode: MlflowErrorCode = errorCodeForStatus(response.status);
    let message = excerpt(text);
    try {
      const body = errorBodySchema.safeParse(JSON.parse(text));
      if (body.success) {
        errorCode = body.data.error_code;
        message = excerpt(body.data.message ?? '');
      }
    } catch {
      // Not JSON: keep the status's code, as MLflow's Python client does.
    }
    const endpoint = MlflowHttpClient.endpointOf(request);
    const suffix = message === '' ? '' : `: ${message}`;
    return new MlflowError(`MLflow ${endpoint} failed with ${errorCode} (HTTP ${response.status})${suffix}`, {
      errorCode,
      httpStatus: response.status,
      endpoint,
      retryable: isRetryableStatus(response.status),
      attempts,
    });
  }

  #invalidResponse(request: HttpRequest, attempts: number, detail: string, cause: unknown): MlflowError {
    const endpoint = MlflowHttpClient.endpointOf(request);
    return new MlflowError(`MLflow ${endpoint}: ${detail}`, {
      errorCode: 'INVALID_RESPONSE',
      endpoint,
      retryable: false,
      attempts,
      cause,
    });
  }

  #failure(
    request: HttpRequest,
    attempts: number,
    errorCode: MlflowErrorCode,
    retryable: boolean,
    detail: string,
    cause: unknown,
  ): MlflowError {
    const endpoint = MlflowHttpClient.endpointOf(request);
    return new MlflowError(
      `MLflow ${endpoint} at ${request.baseUrl ?? this.baseUrl(request.service)} failed with ${errorCode}: ${detail}`,
      { errorCode, endpoint, retryable, attempts, cause },
    );
  }
}

/**
 * Whether an error came from the local file system (a download's target, an upload's source: `ENOSPC`, `EACCES`,
 * ...), which no retry of the request can fix; such errors name a system call and a path.
 */
function isLocalFileError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { syscall, path } = error as { syscall?: unknown; path?: unknown };
  return typeof syscall === 'string' && typeof path === 'string';
}

/** Whether a request may be sent again: not when its body was a one-shot stream. */
function canResend(request: HttpRequest): boolean {
  return request.body?.kind !== 'stream' || request.body.replayable;
}
