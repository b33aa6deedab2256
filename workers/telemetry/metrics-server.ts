/**
 * The worker's `/metrics` endpoint: mloe's step metrics (prom-client) and the Temporal SDK's own metrics, in one
 * Prometheus text exposition. The SDK's core serves its metrics from Rust on an address of its own; this server
 * scrapes that address (loopback, a port picked at start) on every request and appends what it answers, so a
 * Prometheus scrape config names one target per worker. mloe's names start with `mloe_` and the SDK's with
 * `temporal_`, so the two never clash. If the SDK's endpoint cannot be read, mloe's metrics are still served, with a
 * comment saying why the SDK's are missing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Registry } from 'prom-client';

/** The Prometheus text format's content type. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** How long a scrape waits for the SDK's endpoint. */
const SDK_SCRAPE_TIMEOUT_MS = 5_000;

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  host: string;
  port: number;
  /** mloe's metrics. */
  registry: Registry;
  /** The SDK's Prometheus endpoint (`http://127.0.0.1:<port>/metrics`), when the SDK serves one. */
  sdkMetricsUrl?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The SDK's exposition, or a comment saying why there is none. */
async function sdkMetrics(url: string | undefined): Promise<string> {
  if (url === undefined) return '# Temporal SDK metrics: not enabled in this process\n';
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
    if (!response.ok) return `# Temporal SDK metrics unavailable: HTTP ${response.status}\n`;
    return await response.text();
  } catch (error) {
    return `# Temporal SDK metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`;
  }
}

/** The whole exposition: mloe's metrics, then the SDK's. */
export async function exposition(registry: Registry, sdkMetricsUrl?: string): Promise<string> {
  const [own, sdk] = await Promise.all([registry.metrics(), sdkMetrics(sdkMetricsUrl)]);
  return `${own.endsWith('\n') ? own : `${own}\n`}${sdk}`;
}

async function handle(request: IncomingMessage, response: ServerResponse, options: MetricsServerOptions) {
  const path = (request.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are served at /metrics\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  const body = await exposition(options.registry, options.sdkMetricsUrl);
  response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** Starts serving `/metrics` on `options.host:options.port` (port 0 picks a free one). */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
