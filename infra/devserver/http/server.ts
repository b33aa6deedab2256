/**
 * Temporal's frontend HTTP API on a port of its own (`mloe server start-dev --http-port`), as the Temporal CLI's
 * dev server runs it: the annotated routes with and without the `/api/v1` prefix, payload shorthand on, bound to the
 * gRPC service's address (loopback by default).
 */
import { getRequestListener } from '@hono/node-server';

import { bracketHost, gracefulServer, listen } from '../../http-listen';
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
  // Long polls wait on the engine, which stops after this server: end them rather than wait for their answers.
  const http = gracefulServer(getRequestListener(app.fetch), { inFlight: 'end' });
  let port: number;
  try {
    port = await listen(http.server, options.port, ip);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    throw new Error(
      err.code === 'EADDRINUSE'
        ? `HTTP API port ${options.port} on ${ip} is in use: choose another --http-port`
        : `cannot listen on ${ip}:${options.port} for the HTTP API: ${err.message}`,
      { cause: error },
    );
  }
  return { address: `${bracketHost(ip)}:${port}`, port, close: () => http.close() };
}
