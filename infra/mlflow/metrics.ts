/**
 * The MLflow-compatible server's Prometheus metrics at `/metrics` on its own port (as `mlflow server
 * --expose-prometheus` serves them on MLflow's): requests by method, route and status code with their durations, and
 * the size of its store at scrape time (experiments, runs, logged metric values, registered models, model versions,
 * and the SQLite file).
 */
import { statSync } from 'node:fs';

import type { Context, Next } from 'hono';

import { RequestMetrics } from '../metrics';
import type { MlflowBackend } from './backend';

/** The metric name prefix of the MLflow server. */
export const MLFLOW_METRICS_PREFIX = 'mloe_mlflow';

/** Tables counted by the `store_rows` gauge, by what they hold. */
const COUNTED_TABLES = {
  experiments: 'experiments',
  runs: 'runs',
  metric_values: 'metrics',
  registered_models: 'registered_models',
  model_versions: 'model_versions',
} as const;

/** The MLflow server's metrics over `backend`. */
export function mlflowServerMetrics(backend: MlflowBackend): RequestMetrics {
  const metrics = new RequestMetrics(MLFLOW_METRICS_PREFIX);
  const statements = Object.entries(COUNTED_TABLES).map(
    ([kind, table]) => [kind, backend.database.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`)] as const,
  );
  metrics.gauge('store_rows', 'Records in the tracking and registry store, by kind', ['kind'], () =>
    statements.map(([kind, statement]) => ({ labels: { kind }, value: (statement.get() as { n: number }).n })),
  );
  metrics.gauge('database_bytes', 'Size of the SQLite database file (0 in memory)', [], () => {
    const file = backend.database.filename;
    let size = 0;
    if (file !== undefined && file !== ':memory:') {
      try {
        size = statSync(file).size;
      } catch {
        size = 0;
      }
    }
    return [{ labels: {}, value: size }];
  });
  return metrics;
}

/** Requests that matched no route (answered by the not-found handler), labelled `unmatched`, not by their path. */
const unmatched = new WeakSet<Context>();

/** Marks a request as matching no route (the application's not-found handler calls it). */
export function markUnmatched(c: Context): void {
  unmatched.add(c);
}

/** A hono middleware counting and timing every request under its HTTP method and route (not its raw path). */
export function requestMetricsMiddleware(metrics: RequestMetrics) {
  return async (c: Context, next: Next): Promise<void> => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = unmatched.has(c) ? 'unmatched' : c.req.routePath;
      metrics.observe(`${c.req.method} ${route}`, String(c.res.status), (performance.now() - started) / 1000);
    }
  };
}
