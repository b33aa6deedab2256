/**
 * Prometheus metrics of the embedded servers (the Temporal-compatible dev server, the MLflow-compatible server):
 * request counts and durations by method, and store sizes read on each scrape, in a prom-client registry of their
 * own; and a small HTTP server for `/metrics` where a server has no HTTP listener of its own (the dev server's gRPC).
 */
import { createServer, type Server } from 'node:http';

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { bracketHost, listen } from '../http-listen';

/** The Prometheus text format's content type. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Request duration buckets in seconds: from an in-memory lookup to a long poll (about a minute). */
const REQUEST_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 90];

/** The request metrics of one server. */
export class RequestMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'code'>;
  private readonly duration: Histogram<'method'>;

  /** `prefix` names the server: `mloe_devserver`, `mloe_mlflow`. */
  constructor(readonly prefix: string) {
    this.requests = new Counter({
      name: `${prefix}_requests_total`,
      help: 'Requests answered, by method and status code',
      labelNames: ['method', 'code'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: `${prefix}_request_duration_seconds`,
      help: 'Time to answer a request, by method',
      labelNames: ['method'],
      buckets: REQUEST_BUCKETS,
      registers: [this.registry],
    });
  }

  /** Records one answered request. */
  observe(method: string, code: string, seconds: number): void {
    this.requests.inc({ method, code });
    this.duration.observe({ method }, seconds);
  }

  /**
   * Adds a gauge whose values are read at scrape time: `read` returns one value per label set (store sizes, counts
   * of records).
   */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: () => { labels: Partial<Record<L, string>>; value: number }[],
  ): void {
    new Gauge<L>({
      name: `${this.prefix}_${name}`,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels, value } of read()) this.set(labels, value);
      },
    });
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** A running `/metrics` listener. */
export interface MetricsListener {
  /** `http://host:port/metrics`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `metrics` at `/metrics` on `ip:port` (0 picks a port); 404 elsewhere, 405 for other methods. */
export async function serveMetrics(metrics: RequestMetrics, ip: string, port: number): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    if ((request.url ?? '/').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are served at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    metrics.text().then(
      (text) =>
        response
          .writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE })
          .end(request.method === 'HEAD' ? undefined : text),
      (error: unknown) =>
        response
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`error: ${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  const bound = await listen(server, port, ip);
  return {
    url: `http://${bracketHost(ip)}:${bound}/metrics`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
