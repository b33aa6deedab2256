/**
 * The HTTP application (hono): MLflow's REST API under `/api/2.0/mlflow/` and `/ajax-api/2.0/mlflow/`, the artifact
 * proxy, and `/health`. Every failure is answered with MLflow's error body: MLflow's own errors with their status,
 * unknown paths 404 ENDPOINT_NOT_FOUND, known paths with another method 405, bodies over
 * {@link MAX_JSON_BODY_BYTES} 413, anything unexpected 500 INTERNAL_ERROR (and logged). No answer leaves before the
 * group commit it may depend on.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';

import type { MlflowBackend } from '../backend';
import { MlflowError } from '../errors';
import { registerArtifactRoutes } from './artifact-routes';
import { API_PREFIXES, MAX_JSON_BODY_BYTES, failureAnswer, routeTable, type RouteTable } from './api';
import { readRequest } from './request';
import { PROMETHEUS_CONTENT_TYPE, type RequestMetrics } from '../../metrics';
import { markUnmatched, mlflowServerMetrics, requestMetricsMiddleware } from '../metrics';

export { API_PREFIXES, MAX_JSON_BODY_BYTES } from './api';

/**
 * What `/version` answers, as `mlflow server` answers its own version: the MLflow release whose REST API this
 * server follows, with a PEP 440 local label saying it is mloe's (`2.12.0+mloe`).
 */
export const MLFLOW_COMPATIBLE_VERSION = '2.12.0+mloe';

function errorBody(c: Context, error: MlflowError, status: number): Response {
  return c.json(error.toJson(), status as 400);
}

function methodNotAllowed(c: Context, allowed: readonly string[]): Response {
  const { pathname } = new URL(c.req.url);
  const response = errorBody(
    c,
    new MlflowError(
      'BAD_REQUEST',
      `The method ${c.req.method} is not allowed for ${pathname}; it accepts ${allowed.join(', ')}`,
    ),
    405,
  );
  response.headers.set('Allow', allowed.join(', '));
  return response;
}

/** What {@link createMlflowApp} shares with the server's other request path (`fast-path.ts`). */
export interface MlflowAppShared {
  metrics: RequestMetrics;
  routes: RouteTable;
}

/**
 * Builds the application over a backend; `logError` receives failures answered with 500. `/metrics` serves the
 * server's Prometheus metrics (`../metrics.ts`); `shared` passes the metrics and endpoints when another request path
 * serves some requests too.
 */
export function createMlflowApp(
  backend: MlflowBackend,
  logError: (line: string) => void,
  shared: MlflowAppShared = { metrics: mlflowServerMetrics(backend), routes: routeTable(backend) },
): Hono {
  const app = new Hono();
  const { metrics } = shared;
  app.use('*', requestMetricsMiddleware(metrics));
  app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE }));
  const settled = (): Promise<void> => backend.database.settled().catch(() => undefined);

  app.onError(async (error, c) => {
    await settled();
    const { status, body } = failureAnswer(error, { method: c.req.method, path: c.req.path }, logError);
    return c.json(body, status as 400);
  });

  app.notFound((c) => {
    markUnmatched(c);
    const { pathname } = new URL(c.req.url);
    return errorBody(
      c,
      new MlflowError('ENDPOINT_NOT_FOUND', `No API endpoint found for ${c.req.method} ${pathname}`),
      404,
    );
  });

  app.get('/health', (c) => c.text('OK'));
  app.get('/version', (c) => c.text(MLFLOW_COMPATIBLE_VERSION));

  for (const prefix of API_PREFIXES) {
    app.use(
      `${prefix}/*`,
      bodyLimit({
        maxSize: MAX_JSON_BODY_BYTES,
        onError: (c) => {
          const response = errorBody(
            c,
            new MlflowError(
              'BAD_REQUEST',
              `Request body too large: the limit is ${MAX_JSON_BODY_BYTES} bytes (20 MiB); split the request`,
            ),
            413,
          );
          // The rest of the body is not read: the connection cannot carry another request.
          response.headers.set('Connection', 'close');
          return response;
        },
      }),
    );
  }

  for (const [path, methods] of shared.routes) {
    for (const prefix of API_PREFIXES) {
      app.all(`${prefix}/${path}`, async (c) => {
        const route = methods.get(c.req.method);
        if (route === undefined) return methodNotAllowed(c, [...methods.keys()]);
        const fields = await readRequest(c, route.repeated ?? []);
        const body = await route.handle(fields);
        await backend.database.settled();
        return c.json(body as Record<string, unknown>);
      });
    }
  }

  registerArtifactRoutes(app, backend, methodNotAllowed);
  return app;
}
