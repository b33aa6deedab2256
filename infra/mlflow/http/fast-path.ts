/**
 * The direct path of the REST API's JSON endpoints: a request to a known endpoint with a method it accepts and a body
 * of announced length within {@link MAX_JSON_BODY_BYTES} is read and answered straight on `node:http`, without the
 * WHATWG `Request`, body stream, `Response` and middleware chain hono's adapter builds for each request. Those cost
 * most of the server's CPU on the small calls tracking makes on every step (docs/benchmarks.md, "MLflow tracking").
 *
 * The answer is the one hono's path gives (`app.ts`): the same message reading (`parseRequest`), route, group-commit
 * wait, JSON body and headers, the same error bodies and statuses ({@link failureAnswer}), and the same request
 * metrics. Everything else goes to hono: other paths, methods an endpoint does not accept (405), chunked bodies and
 * bodies announced over the limit (413), percent-encoded paths.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { MlflowBackend } from '../backend';
import type { RequestMetrics } from '../../metrics';
import { API_PREFIXES, MAX_JSON_BODY_BYTES, failureAnswer, type RouteTable } from './api';
import { parseRequest } from './request';
import type { Route } from './routes';

/** A request this path serves: its endpoint, and the parts of its URL. */
interface Matched {
  route: Route;
  /** `/api/2.0/mlflow/runs/create`: the metrics' route label, as hono's route path. */
  routePath: string;
  /** The URL's path, for error logs. */
  path: string;
  query: string;
}

/** The endpoint a request is for, if this path serves it. */
function match(request: IncomingMessage, routes: RouteTable): Matched | undefined {
  const url = request.url ?? '';
  const mark = url.indexOf('?');
  const path = mark < 0 ? url : url.slice(0, mark);
  if (path.includes('%') || url.includes('#')) return undefined;
  for (const prefix of API_PREFIXES) {
    if (path.length <= prefix.length + 1 || !path.startsWith(prefix) || path[prefix.length] !== '/') continue;
    const route = routes.get(path.slice(prefix.length + 1))?.get(request.method ?? '');
    if (route === undefined) return undefined;
    const { headers } = request;
    if (headers['transfer-encoding'] !== undefined) return undefined;
    const length = headers['content-length'];
    if (length !== undefined && !(/^\d+$/.test(length) && Number(length) <= MAX_JSON_BODY_BYTES)) return undefined;
    return { route, routePath: `${prefix}/${route.path}`, path, query: mark < 0 ? '' : url.slice(mark + 1) };
  }
  return undefined;
}

/** The client went away before its body was read: nobody is left to answer. */
class RequestAborted extends Error {}

/** The request's body as text (UTF-8, a byte order mark dropped, as `Request.text()` reads it). */
function bodyText(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('error', () => reject(new RequestAborted()));
    request.once('close', () => {
      if (!request.complete) reject(new RequestAborted());
    });
    request.once('end', () => resolve(new TextDecoder().decode(Buffer.concat(chunks))));
  });
}

/**
 * The direct path over `backend`'s endpoints: returns a handler that answers a request and returns true when it
 * serves it, and returns false (touching nothing) when hono should.
 */
export function createJsonFastPath(
  backend: MlflowBackend,
  shared: { routes: RouteTable; metrics: RequestMetrics },
  logError: (line: string) => void,
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const { routes, metrics } = shared;
  const serve = async (request: IncomingMessage, response: ServerResponse, matched: Matched): Promise<void> => {
    const started = performance.now();
    const method = request.method ?? '';
    let status = 200;
    let text: string;
    try {
      const fields = await parseRequest(
        {
          method,
          query: matched.query,
          contentType: request.headers['content-type'],
          body: () => bodyText(request),
        },
        matched.route.repeated ?? [],
      );
      const body = await matched.route.handle(fields);
      await backend.database.settled();
      text = JSON.stringify(body);
    } catch (error) {
      if (error instanceof RequestAborted) return;
      await backend.database.settled().catch(() => undefined);
      const failure = failureAnswer(
        error instanceof Error ? error : new Error(String(error)),
        { method, path: matched.path },
        logError,
      );
      status = failure.status;
      text = JSON.stringify(failure.body);
    }
    metrics.observe(`${method} ${matched.routePath}`, String(status), (performance.now() - started) / 1000);
    if (response.destroyed) return;
    response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
  };
  return (request, response) => {
    const matched = match(request, routes);
    if (matched === undefined) return false;
    serve(request, response, matched).catch((error: unknown) => {
      logError(`MLflow server: ${request.method ?? ''} ${matched.path} failed: ${String(error)}`);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
    return true;
  };
}
