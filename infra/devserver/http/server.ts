/**
 * Temporal's frontend HTTP API on a port of its own (`mloe server start-dev --http-port`), as the Temporal CLI's
 * dev server runs it: the annotated routes with and without the `/api/v1` prefix, payload shorthand on, bound to the
 * gRPC service's address (loopback by default).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { getRequestListener } from '@hono/node-server';

import type { RpcInvoker } from '../invoker';
import { createTemporalHttpApi } from './app';
import { defaultAllowedHosts } from './security';

/** Options of {@link startHttpApiServer}. */
export interface HttpApiServerOptions {
  /** Address to bind (default 127.0.0.1). */
  ip?: string;
  /** Port (0 picks a free one). */
  port: number;
  /** Origins allowed cross-origin reads and actions (`--http-cors-origins`); none by default. */
  corsOrigins?: readonly string[];
}

/** A running HTTP API server. */
export interface HttpApiServerHandle {
  /** `host:port` it listens on. */
  address: string;
  port: number;
  /** Stops accepting requests and ends those in flight (long polls included). */
  close(): Promise<void>;
}

/** Starts the frontend HTTP API server on `rpc`; resolves once it listens. Rejects on a port in use. */
export async function startHttpApiServer(rpc: RpcInvoker, options: HttpApiServerOptions): Promise<HttpApiServerHandle> {
  const ip = options.ip ?? '127.0.0.1';
  const app = createTemporalHttpApi(
    { rpc },
    {
      payloadShorthand: true,
      unprefixedRoutes: true,
      settings: false,
      security: { corsOrigins: options.corsOrigins ?? [], allowedHosts: defaultAllowedHosts(ip) },
    },
  );
  const listener = getRequestListener(app.fetch);
  const inFlight = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    inFlight.add(response);
    response.once('close', () => inFlight.delete(response));
    void listener(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `HTTP API port ${options.port} on ${ip} is in use: choose another --http-port`
            : `cannot listen on ${ip}:${options.port} for the HTTP API: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    server.listen(options.port, ip, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    address: `${ip.includes(':') ? `[${ip}]` : ip}:${port}`,
    port,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        for (const response of inFlight) response.destroy();
      })),
  };
}
