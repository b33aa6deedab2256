/**
 * Temporal's HTTP API as a hono app, on the dev server's own method handlers: each request is matched against the
 * route table read from the protos' annotations, turned into the RPC's request (path, query, body), run through the
 * same {@link RpcInvoker} as gRPC calls, and answered in proto3 JSON; errors carry the gRPC status mapped to HTTP.
 *
 * Besides the annotated routes it serves two routes of Temporal's UI server: `GET /api/v1/settings` and the raw
 * history download `GET /api/v1/namespaces/{ns}/workflows/{id}/run/{runId}/history.json`.
 */
import { status as Code } from '@grpc/grpc-js';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { stream } from 'hono/streaming';
import type * as protobuf from 'protobufjs';

import { RawResponse } from '../engine';
import { RpcError, invalidArgument } from '../errors';
import type { RpcInvoker } from '../invoker';
import { protoRoot } from '../proto';
import { errorResponse } from './errors';
import { fromProtoJson, toProtoJson } from './protojson';
import { requestJson } from './request';
import { buildRouteTable, type Route, type RouteTable } from './routes';
import { securityMiddleware, type HttpSecurityOptions } from './security';
import { uiSettings, type UiSettingsOptions } from './settings';

/** What the HTTP API runs on: the dev server's handlers (`DevServerHandle.rpc`, or `createInvoker`). */
export interface TemporalHttpApiDeps {
  rpc: RpcInvoker;
}

/** How the HTTP API is served. */
export interface TemporalHttpApiOptions {
  /**
   * Temporal's payload shorthand in answers and requests (`json/plain` payloads as plain JSON). Default false, as
   * the UI server answers (the Web UI decodes payloads itself); the frontend HTTP API (`--http-port`) turns it on,
   * and there `?noPayloadShorthand` turns it off per request.
   */
  payloadShorthand?: boolean;
  /**
   * Also serve the bindings without the `/api/v1` prefix (`/namespaces/...`, `/cluster`), as Temporal's frontend
   * HTTP API does. Default false: on the UI's port those paths are the UI's pages.
   */
  unprefixedRoutes?: boolean;
  /** A path prefix in front of every route (the UI's `--ui-public-path`), e.g. `/temporal`. Default none. */
  basePath?: string;
  /** The answer of `GET /api/v1/settings`; `false` leaves the route out. Default: served with defaults. */
  settings?: UiSettingsOptions | false;
  /** CORS, allowed hosts, and the cross-origin action guard (all closed by default). */
  security?: HttpSecurityOptions;
  /** Largest request body accepted (default 4 MiB, Temporal's HTTP API limit). */
  maxRequestBytes?: number;
  /**
   * The page size of GetWorkflowExecutionHistory(Reverse) requests that ask for none (`maximumPageSize` absent or
   * 0), as Temporal's `frontend.historyMaxPageSize` sets it for its frontend. Default: the dev server's own default.
   * The Web UI asks for none and does work per page it receives over the whole history so far, so fewer, larger
   * pages show a long history sooner (see docs/benchmarks.md, the UI section).
   */
  historyPageSize?: number;
}

const WORKFLOW_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const HISTORY_METHODS = new Set(['GetWorkflowExecutionHistory', 'GetWorkflowExecutionHistoryReverse']);
const RAW_HISTORY = /^\/api\/v1\/namespaces\/([^/]+)\/workflows\/([^/]+)\/run\/([^/]+)\/history\.json$/;

const tables = new Map<boolean, RouteTable>();
/** The route table (built once per process): the `/api/v1` bindings, or all of them. */
export function temporalRouteTable(unprefixed: boolean): RouteTable {
  let table = tables.get(unprefixed);
  if (!table) {
    table = buildRouteTable(undefined, unprefixed ? () => true : (t) => t.startsWith('/api/v1/'));
    tables.set(unprefixed, table);
  }
  return table;
}

/** Output options a request asks for (as Temporal's HTTP API reads them from the query or the Accept header). */
interface OutputOptions {
  pretty: boolean;
  payloadShorthand: boolean;
}

function outputOptions(c: Context, query: URLSearchParams, shorthandDefault: boolean): OutputOptions {
  const accept = c.req.header('accept') ?? '';
  return {
    pretty: query.has('pretty') || accept.includes('+pretty'),
    payloadShorthand: shorthandDefault && !query.has('noPayloadShorthand') && !accept.includes('+no-payload-shorthand'),
  };
}

function jsonResponse(c: Context, status: number, body: unknown, pretty: boolean): Response {
  return c.body(`${JSON.stringify(body, null, pretty ? 2 : undefined)}${pretty ? '\n' : ''}`, status as 200, {
    'Content-Type': 'application/json',
  });
}

function rpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  return new RpcError(Code.INTERNAL, `internal error in the HTTP API: ${e.message}`);
}

/** Decodes a handler's answer (a plain object, or pre-encoded bytes) into a message of `type`. */
function responseMessage(type: protobuf.Type, value: unknown): protobuf.Message {
  return value instanceof RawResponse ? type.decode(value.bytes) : type.fromObject(value ?? {});
}

async function readBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidArgument(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Builds the HTTP API app (mount it with `app.route('/', api)`; its routes include `basePath`). */
export function createTemporalHttpApi(deps: TemporalHttpApiDeps, options: TemporalHttpApiOptions = {}): Hono {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const unprefixed = options.unprefixedRoutes ?? false;
  const shorthand = options.payloadShorthand ?? false;
  const table = temporalRouteTable(unprefixed);
  const settings = options.settings === false ? undefined : (options.settings ?? {});
  const historyType = protoRoot.lookupType('temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse');
  const eventType = protoRoot.lookupType('temporal.api.history.v1.HistoryEvent');

  const app = new Hono();
  const scope = unprefixed ? `${basePath}/*` : `${basePath}/api/v1/*`;
  for (const middleware of securityMiddleware(options.security ?? {})) app.use(scope, middleware);
  app.use(
    scope,
    bodyLimit({
      maxSize: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      onError: (c) => {
        const limit = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
        const { body } = errorResponse(
          new RpcError(Code.RESOURCE_EXHAUSTED, `the request body is larger than the ${limit}-byte limit`),
        );
        return c.json(body, 413);
      },
    }),
  );

  app.all(scope, async (c) => {
    const url = new URL(c.req.url);
    const query = url.searchParams;
    const output = outputOptions(c, query, shorthand);
    let path = url.pathname;
    if (basePath) path = path.slice(basePath.length) || '/';
    try {
      if (settings && path === '/api/v1/settings' && c.req.method === 'GET') {
        return jsonResponse(
          c,
          200,
          uiSettings(settings, (m) => deps.rpc.implemented(WORKFLOW_SERVICE, m)),
          output.pretty,
        );
      }
      const raw = c.req.method === 'GET' ? RAW_HISTORY.exec(path) : null;
      if (raw) return await rawHistory(c, deps.rpc, raw.slice(1) as [string, string, string], historyType, eventType);

      const match = table.match(c.req.method, path);
      if (match.kind === 'bad-path') throw invalidArgument(match.message);
      if (match.kind === 'not-found') {
        throw new RpcError(Code.NOT_FOUND, `Not Found: no Temporal HTTP API route for ${c.req.method} ${path}`);
      }
      if (match.kind === 'method-not-allowed') {
        const { body } = errorResponse(
          new RpcError(
            Code.UNIMPLEMENTED,
            `Method Not Allowed: ${c.req.method} ${path} (this path takes ${match.allowed.join(', ')})`,
          ),
        );
        return c.json(body, 405, { Allow: match.allowed.join(', ') });
      }
      const { route, params } = match;
      const body = route.body === undefined ? undefined : await readBody(c);
      const inputShorthand = shorthand && !(c.req.header('content-type') ?? '').includes('+no-payload-shorthand');
      const request = fromProtoJson(route.requestType, requestJson(route, params, query, body), {
        payloadShorthand: inputShorthand,
      }) as Record<string, unknown>;
      if (
        options.historyPageSize !== undefined &&
        HISTORY_METHODS.has(route.method) &&
        !(Number(request.maximumPageSize) > 0)
      ) {
        request.maximumPageSize = options.historyPageSize;
      }
      const response = await deps.rpc.invoke(route.service, route.method, request, c.req.raw.signal);
      return jsonResponse(c, 200, answer(route, response, output), output.pretty);
    } catch (err) {
      const { status, body } = errorResponse(rpcError(err));
      return jsonResponse(c, status, body, output.pretty);
    }
  });
  return app;
}

function answer(route: Route, response: unknown, output: OutputOptions): unknown {
  return toProtoJson(route.responseType, responseMessage(route.responseType, response), output);
}

/**
 * The UI server's raw history download: every event of a run, all pages, as one JSON array of proto3 JSON events
 * (payloads in full form), streamed page by page. An error before the first event is answered as an error; one
 * after is written as a last `{"error": "..."}` element, as the UI server does.
 */
async function rawHistory(
  c: Context,
  rpc: RpcInvoker,
  [namespace, workflowId, runId]: [string, string, string],
  historyType: protobuf.Type,
  eventType: protobuf.Type,
): Promise<Response> {
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw invalidArgument(`malformed percent-encoding in path segment "${s}"`);
    }
  };
  const signal = c.req.raw.signal;
  const page = async (nextPageToken: Uint8Array | undefined): Promise<protobuf.Message & Record<string, unknown>> =>
    responseMessage(
      historyType,
      await rpc.invoke(
        WORKFLOW_SERVICE,
        'GetWorkflowExecutionHistory',
        {
          namespace: decode(namespace),
          execution: { workflowId: decode(workflowId), runId: decode(runId) },
          ...(nextPageToken ? { nextPageToken } : {}),
        },
        signal,
      ),
    ) as protobuf.Message & Record<string, unknown>;
  const first = await page(undefined);
  c.header('Content-Type', 'application/json');
  return stream(c, async (out) => {
    let written = 0;
    let current: (protobuf.Message & Record<string, unknown>) | undefined = first;
    await out.write('[');
    try {
      while (current) {
        const events = (current.history as { events?: protobuf.Message[] } | undefined)?.events ?? [];
        for (const event of events) {
          const json = toProtoJson(eventType, event, { payloadShorthand: false });
          await out.write(`${written > 0 ? ',' : ''}${JSON.stringify(json)}`);
          written += 1;
        }
        const token = current.nextPageToken as Uint8Array | undefined;
        current = token && token.length > 0 && !signal.aborted ? await page(token) : undefined;
      }
    } catch (err) {
      await out.write(`${written > 0 ? ',' : ''}${JSON.stringify({ error: rpcError(err).message })}`);
    }
    await out.write(']');
  });
}
