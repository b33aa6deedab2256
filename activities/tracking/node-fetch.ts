/**
 * A `fetch` for the MLflow client over `node:http`/`node:https` with keep-alive agents, for the calls tracking makes
 * on every step. Node's own `fetch` (undici, in Node 20) spends about 1 ms of CPU per request on a small JSON call,
 * three times what `node:http` does; a tracked step makes about three such calls, and on a busy worker that CPU is
 * what tracking costs (docs/benchmarks.md, "MLflow tracking"). Requests with a streamed body (artifact uploads) and
 * anything but `http:`/`https:` go to Node's `fetch` unchanged.
 *
 * What the client relies on is kept: the answer is a WHATWG `Response` (status, headers, body), an abort signal aborts
 * the request, and a network failure rejects like Node's `fetch` does (`TypeError('fetch failed')` with the socket
 * error, and its code such as `ECONNREFUSED`, as `cause`).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** Sockets kept open per server (a worker runs up to this many steps' calls at once without queueing). */
const MAX_SOCKETS = 64;

/** A `fetch` over `node:http` (see the module doc); its agents keep connections for the life of the process. */
export function createNodeFetch(): typeof fetch {
  const agents = {
    http: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
  };
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
