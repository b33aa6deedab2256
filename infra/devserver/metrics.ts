/**
 * The dev server's Prometheus metrics (`--metrics-port`, as `temporal server start-dev` has): requests by gRPC method
 * and status code with their durations (long polls included, as Temporal's `service_latency` counts them), and the
 * size of its store at scrape time: workflow executions by namespace and state, namespaces, and the SQLite file.
 */
import { statSync } from 'node:fs';

import { status } from '@grpc/grpc-js';

import { RequestMetrics } from '../metrics';
import type { Engine } from './engine';
import { RpcError } from './errors';
import type { UnaryHandler } from './grpc';

/** The metric name prefix of the dev server. */
export const DEVSERVER_METRICS_PREFIX = 'mloe_devserver';

/** The status name of a handler's error (`INTERNAL` for anything but an {@link RpcError}). */
function codeOf(error: unknown): string {
  const code = error instanceof RpcError ? error.code : status.INTERNAL;
  return status[code] ?? String(code);
}

/** The dev server's metrics over `engine`; `dbFilename` is its SQLite file (absent in memory). */
export function devServerMetrics(engine: Engine, dbFilename?: string): RequestMetrics {
  const metrics = new RequestMetrics(DEVSERVER_METRICS_PREFIX);
  metrics.gauge(
    'workflow_executions',
    'Workflow executions in the store, by namespace and state',
    ['namespace', 'state'],
    () => {
      const counts = new Map<string, { namespace: string; state: string; value: number }>();
      for (const run of engine.runs.values()) {
        const state = run.isOpen ? 'open' : 'closed';
        const key = `${run.state.namespace}\u0000${state}`;
        const entry = counts.get(key) ?? { namespace: run.state.namespace, state, value: 0 };
        entry.value += 1;
        counts.set(key, entry);
      }
      return [...counts.values()].map(({ namespace, state, value }) => ({ labels: { namespace, state }, value }));
    },
  );
  metrics.gauge('namespaces', 'Registered namespaces', [], () => [{ labels: {}, value: engine.namespaces.size }]);
  metrics.gauge('database_bytes', 'Size of the SQLite database file (0 in memory)', [], () => {
    let size = 0;
    if (dbFilename !== undefined) {
      try {
        size = statSync(dbFilename).size;
      } catch {
        size = 0;
      }
    }
    return [{ labels: {}, value: size }];
  });
  return metrics;
}

/** `handlers` with every call counted and timed in `metrics` under `Service/Method`. */
export function instrumentHandlers(
  serviceName: string,
  handlers: Record<string, UnaryHandler>,
  metrics: RequestMetrics,
): Record<string, UnaryHandler> {
  const service = serviceName.split('.').pop() ?? serviceName;
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      async (request: unknown, signal: AbortSignal): Promise<unknown> => {
        const started = performance.now();
        const method = `${service}/${name}`;
        try {
          const response: unknown = await handler(request, signal);
          metrics.observe(method, 'OK', (performance.now() - started) / 1000);
          return response;
        } catch (error) {
          metrics.observe(method, codeOf(error), (performance.now() - started) / 1000);
          throw error;
        }
      },
    ]),
  );
}
