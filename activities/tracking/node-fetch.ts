/**
 * A `fetch` and a JSON transport for the MLflow client over `node:http`/`node:https` with keep-alive agents, for the
 * calls tracking makes on every step. Node's own `fetch` (undici, in Node 20) spends about 1 ms of CPU per request on a small JSON call,
 * three times what `node:http` does; a tracked step makes about three such calls, and on a busy worker that CPU is
 * what tracking costs (docs/benchmarks.md, "MLflow tracking"). Requests with a streamed body (artifact uploads) and
 * anything but `http:`/`https:` go to Node's `fetch` unchanged.
 *
 * What the client relies on is kept: the answer is a WHATWG `Response` (status, headers, body), an abort signal aborts
 * the request, and a network failure rejects like Node's `fetch` does (`TypeError('fetch failed')` with the socket
 * error, and its code such as `ECONNREFUSED`, as `cause`).
 *
 * The JSON transport (`createNodeTransport`, the client's `transport` hook) goes further for the small JSON calls
 * every step makes: no `Response`, `Headers` or `AbortController` per call, the deadline a timer that destroys the
 * request, the answer's text read from its buffer. In the `bench:tracking` chain a step's tracking code runs warm,
 * not hot (a few hundred calls, mostly in V8's baseline tier), so every object and listener a call makes costs
 * several times what a micro-benchmark shows.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import type { HttpAnswer, JsonTransport, TransportRequest } from '../mlflow';

/** Sockets kept open per server (a worker runs up to this many steps' calls at once without queueing). */
const MAX_SOCKETS = 64;

/** The MLflow client's `fetch` and `transport` hooks over `node:http`, sharing one pair of agents. */
export function nodeHttpHooks(): { fetch: typeof fetch; transport: JsonTransport } {
  const agents = createNodeAgents();
  return { fetch: createNodeFetch(agents), transport: createNodeTransport(agents) };
}

/** Keep-alive agents for `http:` and `https:`, shared by a fetch and a transport. */
export interface NodeAgents {
  http: HttpAgent;
  https: HttpsAgent;
}

/** Agents that keep connections for the life of the process. */
export function createNodeAgents(): NodeAgents {
  return {
    http: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
  };
}

/** A `fetch` over `node:http` (see the module doc). */
export function createNodeFetch(agents: NodeAgents = createNodeAgents()): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = init?.body;
    const plain = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (!plain || input instanceof Request || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      return fetch(input, init);
    }
    const signal = init?.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      const failed = (error: unknown): void => {
        reject(
          signal?.aborted === true
            ? new DOMException('This operation was aborted', 'AbortError')
            : new TypeError('fetch failed', { cause: error }),
        );
      };
      const secure = url.protocol === 'https:';
      const send = secure ? httpsRequest : httpRequest;
      const request = send(
        url,
        {
          method: init?.method ?? 'GET',
          headers: headersOf(init?.headers, body),
          agent: secure ? agents.https : agents.http,
          ...(signal === undefined ? {} : { signal }),
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('error', failed);
          answer.on('end', () => resolve(responseOf(answer, Buffer.concat(chunks))));
        },
      );
      request.on('error', failed);
      request.end(body ?? undefined);
    });
  };
}

/** The request's headers as `node:http` takes them, with the body's length. */
function headersOf(
  given: RequestInit['headers'],
  body: string | Uint8Array | null | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (given === undefined || given instanceof Headers || Array.isArray(given)) {
    new Headers(given).forEach((value, key) => {
      headers[key] = value;
    });
  } else {
    // A plain record (what the MLflow client passes): copied as it is, without a `Headers` in between.
    for (const [key, value] of Object.entries(given as Record<string, string>)) headers[key.toLowerCase()] = value;
  }
  if (body !== undefined && body !== null) {
    headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  }
  return headers;
}

/** A WHATWG `Response` of a complete `node:http` answer. */
function responseOf(answer: IncomingMessage, body: Buffer): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const status = answer.statusCode ?? 500;
  const empty = status === 204 || status === 205 || status === 304;
  return new BufferedResponse(empty ? null : body, { status, statusText: answer.statusMessage ?? '', headers });
}

/**
 * A `Response` whose body is already in memory. Its text, JSON and bytes are read from the buffer directly; Node's
 * own `Response` would put the buffer in a `ReadableStream` and read it back through a reader, which costs more than
 * the rest of a small JSON call on the worker. The stream (`body`) is made only when asked for (a streamed download).
 * Reading the body twice fails, as it does on any `Response`.
 */
class BufferedResponse extends Response {
  readonly #buffer: Buffer | null;
  /** The stream-backed `Response` made when `body` was asked for; reads go through it from then on. */
  #streamed: Response | undefined;
  #used = false;

  constructor(buffer: Buffer | null, init: ResponseInit) {
    super(null, init);
    this.#buffer = buffer;
  }

  // The readers replace `Response`'s on the prototype: the DOM typings declare them as properties, which a class
  // cannot override with methods.
  static {
    const readers: Record<string, (this: BufferedResponse) => unknown> = {
      text(this: BufferedResponse) {
        return this.#take().then((bytes) => bytes.toString('utf8'));
      },
      json(this: BufferedResponse) {
        return this.#take().then((bytes) => JSON.parse(bytes.toString('utf8')) as unknown);
      },
      arrayBuffer(this: BufferedResponse) {
        return this.#take().then((bytes) => {
          const copy = new ArrayBuffer(bytes.byteLength);
          new Uint8Array(copy).set(bytes);
          return copy;
        });
      },
      blob(this: BufferedResponse) {
        return this.#take().then((bytes) => new Blob([bytes], { type: this.headers.get('content-type') ?? '' }));
      },
      clone(this: BufferedResponse) {
        if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
        const buffer = this.#buffer === null ? null : Buffer.from(this.#buffer);
        return new BufferedResponse(buffer, {
          status: this.status,
          statusText: this.statusText,
          headers: this.headers,
        });
      },
    };
    Object.defineProperties(BufferedResponse.prototype, {
      ...Object.fromEntries(Object.entries(readers).map(([name, value]) => [name, { value, configurable: true }])),
      body: {
        get(this: BufferedResponse) {
          return this.#body();
        },
        configurable: true,
      },
      bodyUsed: {
        get(this: BufferedResponse) {
          return this.#used || (this.#streamed?.bodyUsed ?? false);
        },
        configurable: true,
      },
    });
  }

  #body(): ReadableStream<Uint8Array> | null {
    if (this.#buffer === null) return null;
    this.#streamed ??= new Response(this.#used ? null : this.#buffer);
    return this.#streamed.body;
  }

  /** The body's bytes, once. */
  #take(): Promise<Buffer> {
    if (this.#streamed !== undefined) return this.#streamed.arrayBuffer().then((bytes) => Buffer.from(bytes));
    if (this.#used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    this.#used = true;
    return Promise.resolve(this.#buffer ?? Buffer.alloc(0));
  }
}

/**
 * The MLflow client's JSON transport over `node:http`/`node:https` (see the module doc); an `https:` URL goes through
 * `node:https`, anything else through `node:http`.
 */
export function createNodeTransport(agents: NodeAgents = createNodeAgents()): JsonTransport {
  const origins = new Map<string, Origin>();
  return {
    send: (request) => sendJson(agents, origins, request),
  };
}

/** A server's address as `node:http` takes it, parsed once per origin. */
interface Origin {
  secure: boolean;
  hostname: string;
  port: number;
}

/**
 * Where a request goes, without parsing its whole URL again for every request: the origin (parsed once) and the
 * path with its query. A path with characters `node:http` would refuse unescaped gives undefined (the URL is then
 * handed to `node:http` whole, which escapes them).
 */
function targetOf(origins: Map<string, Origin>, url: string): { origin: Origin; path: string } | undefined {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  const path = slash < 0 ? '/' : url.slice(slash);
  if (!/^[\x21-\x7e]*$/.test(path)) return undefined;
  const key = slash < 0 ? url : url.slice(0, slash);
  let origin = origins.get(key);
  if (origin === undefined) {
    const parsed = new URL(key);
    const secure = parsed.protocol === 'https:';
    origin = {
      secure,
      // `[::1]` → `::1`, as `node:http` wants an IPv6 host.
      hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: parsed.port === '' ? (secure ? 443 : 80) : Number(parsed.port),
    };
    origins.set(key, origin);
  }
  return { origin, path };
}

function sendJson(agents: NodeAgents, origins: Map<string, Origin>, given: TransportRequest): Promise<HttpAnswer> {
  const { signal, timeoutMs } = given;
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.destroy();
      settle(undefined);
    }, timeoutMs);
    // The request keeps the process alive while it is open; its clock must not on its own.
    timer.unref();
    const settle = (error: unknown, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (answer !== undefined) resolve(answer);
      else if (timedOut) reject(new DOMException('MLflow request timed out', 'TimeoutError'));
      else if (signal?.aborted === true) reject(new DOMException('This operation was aborted', 'AbortError'));
      else reject(new TypeError('fetch failed', { cause: error }));
    };
    const target = targetOf(origins, given.url);
    const secure = target === undefined ? given.url.startsWith('https:') : target.origin.secure;
    const headers = given.headers;
    if (given.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(given.body));
    const options: RequestOptions = {
      method: given.method,
      headers,
      agent: secure ? agents.https : agents.http,
      ...(target === undefined
        ? {}
        : { hostname: target.origin.hostname, port: target.origin.port, path: target.path }),
      ...(signal === undefined ? {} : { signal }),
    };
    const send = secure ? httpsRequest : httpRequest;
    const onAnswer = (answer: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', (error) => settle(error));
      answer.on('end', () => {
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        settle(undefined, new NodeAnswer(answer, body.toString('utf8')));
      });
    };
    const request = target === undefined ? send(given.url, options, onAnswer) : send(options, onAnswer);
    request.on('error', (error) => settle(error));
    request.end(given.body);
  });
}

/** A complete `node:http` answer, as the MLflow client reads JSON answers. */
class NodeAnswer implements HttpAnswer {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly #text: string;

  constructor(answer: IncomingMessage, text: string) {
    this.status = answer.statusCode ?? 500;
    this.ok = this.status >= 200 && this.status < 300;
    const raw = answer.headers;
    this.headers = {
      get: (name) => {
        const value = raw[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    };
    this.#text = text;
  }

  text(): Promise<string> {
    return Promise.resolve(this.#text);
  }
}
