/**
 * Runs the application on a Node HTTP server (`@hono/node-server`'s request listener) and stops it gracefully:
 * requests in flight are answered (with `Connection: close`), idle keep-alive connections are closed, then pending
 * commits are written and the database closed.
 */
import { getRequestListener } from '@hono/node-server';

import { bracketHost, gracefulServer, listen } from '../http-listen';
import { createMlflowBackend, type MlflowBackend } from './backend';
import { parseMlflowServerConfig, type MlflowServerOptions } from './config';
import { routeTable } from './http/api';
import { createMlflowApp } from './http/app';
import { createJsonFastPath } from './http/fast-path';
import { mlflowServerMetrics } from './metrics';

/** A running server. */
export interface MlflowServerHandle {
  /** `http://<host>:<port>`: what `MLFLOW_TRACKING_URI` should say. */
  url: string;
  /** The bound port (the free one picked when port 0 was asked for). */
  port: number;
  /** The stores behind the server (for in-process use and benchmarks). */
  backend: MlflowBackend;
  /** Stops accepting requests, finishes those in flight, commits and closes the store. */
  close(): Promise<void>;
}

/** The server could not start: the port is taken, the address cannot be bound, or the database is locked. */
export class MlflowServerStartError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MlflowServerStartError';
  }
}

/**
 * Starts the embedded MLflow tracking server and model registry. Resolves once it accepts connections.
 * Throws {@link MlflowServerStartError} (port in use, ...) or `MlflowConfigError` (bad options).
 */
export async function startMlflowServer(options: MlflowServerOptions = {}): Promise<MlflowServerHandle> {
  const config = parseMlflowServerConfig(options);
  let backend: MlflowBackend;
  try {
    backend = createMlflowBackend(config);
  } catch (error) {
    const cause = error as Error & { code?: string };
    throw new MlflowServerStartError(cause.message, cause.code, { cause });
  }
  const logError = options.logError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const shared = { metrics: mlflowServerMetrics(backend), routes: routeTable(backend) };
  const listener = getRequestListener(createMlflowApp(backend, logError, shared).fetch);
  // The JSON endpoints' common requests are answered directly; the rest by hono (`http/fast-path.ts`).
  const fastPath = createJsonFastPath(backend, shared, logError);
  const http = gracefulServer((request, response) => fastPath(request, response) || listener(request, response));
  let port: number;
  try {
    port = await listen(http.server, config.port, config.host);
  } catch (error) {
    backend.close();
    const cause = error as NodeJS.ErrnoException;
    const message =
      cause.code === 'EADDRINUSE'
        ? `port ${config.port} on ${config.host} is in use: stop the server using it or choose another --port`
        : `cannot listen on ${config.host}:${config.port}: ${cause.message}`;
    throw new MlflowServerStartError(message, cause.code, { cause });
  }
  let closed: Promise<void> | undefined;
  return {
    url: `http://${bracketHost(config.host)}:${port}`,
    port,
    backend,
    close: () => (closed ??= http.close().finally(() => backend.close())),
  };
}
