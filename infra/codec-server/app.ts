/**
 * A codec server (Temporal's remote codec contract) as a hono app: `POST /encode` and `POST /decode` take and
 * return `{"payloads": [...]}` in proto3 JSON, run through a `PayloadCodec` handed in, so the Temporal Web UI and
 * `temporal --codec-endpoint` show decoded payloads. The same routes answer under a namespace segment
 * (`/{namespace}/decode`) for the CLI's endpoint templating; the UI's `X-Namespace` header and `Authorization` (the
 * UI's "pass access token") reach the optional `authorize` hook. An unknown path is 404, another method 405.
 *
 * CORS is off unless origins are given: the Web UI calls the codec server from the browser, so the UI's origin must
 * be allowed (with credentials, for the UI's "include cross-origin credentials" setting).
 */
import type { PayloadCodec } from '@temporalio/common';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';

import { MloeError, ensureError } from '../../core/errors';
import { payloadsBodySchema, payloadsFromJson, payloadsToJson } from './payload-json';

/** What an `authorize` hook sees of a request. */
export interface CodecRequestInfo {
  /** `encode` or `decode`. */
  operation: 'encode' | 'decode';
  /** The `Authorization` header, as the UI passes the user's access token. */
  authorization?: string;
  /** The namespace: the `X-Namespace` header, or the path's namespace segment. */
  namespace?: string;
}

/** Options of {@link createCodecServerApp}. */
export interface CodecServerAppOptions {
  /** The codec the payloads go through. */
  codec: PayloadCodec;
  /** Origins allowed to call from a browser (the Web UI's, e.g. `http://localhost:8233`); none: no CORS headers. */
  corsOrigins?: readonly string[];
  /** Decides whether a request may use the codec; every request may when absent. */
  authorize?: (request: CodecRequestInfo) => boolean | Promise<boolean>;
  /** The largest request body accepted, in bytes; 16 MiB by default (a long history's payloads). */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 16 * 2 ** 20;
const OPERATIONS = ['encode', 'decode'] as const;

function errorBody(c: Context, status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 422 | 500, message: string) {
  return c.json({ message }, status);
}

/** Builds the codec server's app. */
export function createCodecServerApp(options: CodecServerAppOptions): Hono {
  const app = new Hono();
  const origins = [...(options.corsOrigins ?? [])];
  if (origins.length > 0) {
    app.use(
      '*',
      cors({
        origin: origins,
        allowMethods: ['POST', 'OPTIONS'],
        allowHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
        credentials: true,
        maxAge: 600,
      }),
    );
  }
  app.use(
    '*',
    bodyLimit({
      maxSize: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      onError: (c) => errorBody(c, 413, 'the request body is too large'),
    }),
  );

  const handle = (operation: (typeof OPERATIONS)[number]) => async (c: Context) => {
    const namespace = c.req.param('namespace') ?? c.req.header('X-Namespace');
    const authorization = c.req.header('Authorization');
    if (options.authorize !== undefined) {
      const allowed = await options.authorize({
        operation,
        ...(authorization === undefined ? {} : { authorization }),
        ...(namespace === undefined ? {} : { namespace }),
      });
      if (!allowed) {
        return errorBody(
          c,
          authorization === undefined ? 401 : 403,
          authorization === undefined ? 'an Authorization header is required' : 'not allowed to use this codec',
        );
      }
    }
    const type = c.req.header('Content-Type') ?? '';
    if (!/^application\/json\b/i.test(type)) {
      return errorBody(c, 415, `send the payloads as Content-Type: application/json (got ${JSON.stringify(type)})`);
    }
    let json: unknown;
    try {
      json = await c.req.json();
    } catch (error) {
      return errorBody(c, 400, `the body is not JSON: ${ensureError(error).message}`);
    }
    const parsed = payloadsBodySchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.');
      return errorBody(
        c,
        400,
        `${where}: ${issue?.message ?? 'invalid'}; expected {"payloads": [{"metadata": {"<key>": "<base64>"}, "data": "<base64>"}]}`,
      );
    }
    try {
      const payloads = payloadsFromJson(parsed.data);
      const result =
        operation === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
      return c.json(payloadsToJson(result));
    } catch (error) {
      const cause = ensureError(error);
      if (cause instanceof MloeError && cause.code === 'PAYLOAD_CODEC_FAILED') return errorBody(c, 422, cause.message);
      return errorBody(c, 500, `the codec failed: ${cause.message}`);
    }
  };

  for (const operation of OPERATIONS) {
    app.post(`/${operation}`, handle(operation));
    app.post(`/:namespace/${operation}`, handle(operation));
    app.all(`/${operation}`, (c) => c.text('method not allowed: use POST', 405, { Allow: 'POST' }));
    app.all(`/:namespace/${operation}`, (c) => c.text('method not allowed: use POST', 405, { Allow: 'POST' }));
  }
  app.notFound((c) => errorBody(c, 404, 'not found: the codec server answers POST /encode and POST /decode'));
  app.onError((error, c) => errorBody(c, 500, `internal error: ${error.message}`));
  return app;
}
