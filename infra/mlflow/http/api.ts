/**
 * What both request paths of the REST API share (hono's, `app.ts`, and the direct one of the JSON endpoints,
 * `fast-path.ts`): the table of endpoints by path and method, and the answer to a failure (MLflow's error body and
 * status, logged when it is the server's fault).
 */
import type { MlflowBackend } from '../backend';
import { MlflowError } from '../errors';
import { registryRoutes } from './registry-routes';
import type { Route } from './routes';
import { trackingRoutes } from './tracking-routes';

/** The REST API's endpoints: path under `/api/2.0/mlflow/` → HTTP method → route. */
export type RouteTable = ReadonlyMap<string, ReadonlyMap<string, Route>>;

/** The prefixes the REST API is served under (the second is what MLflow's web UI calls). */
export const API_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

/**
 * The largest JSON request body accepted: 20 MiB. The largest request MLflow's limits allow is a log-inputs carrying
 * one dataset with a maximal profile (16 MiB - 1 characters), schema (1 MiB - 1) and source (64 KiB - 1); 20 MiB
 * admits it with room for JSON escapes, and no valid log-batch comes near it (1,000 items of at most 6,000
 * characters). Anything larger is refused before it is buffered. Artifact uploads are streamed and not limited.
 */
export const MAX_JSON_BODY_BYTES = 20 * 1024 * 1024;

/** The tracking and registry endpoints over a backend, by path and method. */
export function routeTable(backend: MlflowBackend): RouteTable {
  const byPath = new Map<string, Map<string, Route>>();
  for (const route of [...trackingRoutes(backend), ...registryRoutes(backend)]) {
    const methods = byPath.get(route.path) ?? new Map<string, Route>();
    methods.set(route.method, route);
    byPath.set(route.path, methods);
  }
  return byPath;
}

/**
 * The status and body a failed request is answered with: an {@link MlflowError} with its own status (logged when it
 * is INTERNAL_ERROR), anything else 500 INTERNAL_ERROR, logged with its stack.
 */
export function failureAnswer(
  error: Error,
  request: { method: string; path: string },
  logError: (line: string) => void,
): { status: number; body: ReturnType<MlflowError['toJson']> } {
  if (error instanceof MlflowError) {
    if (error.errorCode === 'INTERNAL_ERROR')
      logError(`MLflow server: ${request.method} ${request.path}: ${error.message}`);
    return { status: error.httpStatus, body: error.toJson() };
  }
  logError(`MLflow server: ${request.method} ${request.path} failed: ${error.stack ?? error.message}`);
  return { status: 500, body: new MlflowError('INTERNAL_ERROR', `Internal server error: ${error.message}`).toJson() };
}
