/**
 * The embedded Web UI server: {@link createUiApp} on a Node HTTP server, bound to loopback unless told otherwise,
 * as `temporal server start-dev` serves its UI beside the frontend.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { getRequestListener } from '@hono/node-server';

import { createUiApp, normalizePublicPath, type UiAppOptions } from './app';

export { UiConfigError, normalizePublicPath, type FetchHandler, type UiApi, type UiAppOptions } from './app';

/** Options of {@link startUiServer}. */
export interface UiServerOptions extends UiAppOptions {
  /** Address to bind (`--ui-ip`); defaults to 127.0.0.1. */
  host?: string;
  /** Port (`--ui-port`); 0 picks a free one. */
  port: number;
}

/** A running UI server. */
export interface UiServerHandle {
  /** The UI's URL, public path included, e.g. `http://127.0.0.1:8233` or `http://127.0.0.1:8233/temporal`. */
  url: string;
  /** The bound port (the free one picked when 0 was asked for). */
  port: number;
  /** Stops accepting requests, answers those in flight, then closes. */
  close(): Promise<void>;
}

/** The UI server could not start (port in use, address not available). */
export class UiServerStartError extends Error {
  override name = 'UiServerStartError';
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `host` as it goes in a URL (IPv6 in brackets); a wildcard address is shown as loopback, which reaches it. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Starts the UI server; resolves once it accepts connections. */
export async function startUiServer(options: UiServerOptions): Promise<UiServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const publicPath = normalizePublicPath(options.publicPath);
  const listener = getRequestListener(createUiApp(options));
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const server = createServer((request, response) => {
    inFlight.add(response);
    if (closing) response.setHeader('Connection', 'close');
    response.once('close', () => {
      inFlight.delete(response);
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    void listener(request, response);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    const message =
      cause.code === 'EADDRINUSE'
        ? `UI port ${options.port} on ${host} is in use: choose another --ui-port, or --headless for no UI`
        : `cannot serve the UI on ${host}:${options.port}: ${cause.message}`;
    throw new UiServerStartError(message, cause.code, { cause });
  }
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost(host)}:${port}${publicPath}`,
    port,
    close: () =>
      (closed ??= new Promise<void>((resolve, reject) => {
        closing = true;
        for (const response of inFlight) if (!response.headersSent) response.setHeader('Connection', 'close');
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeIdleConnections();
      })),
  };
}
