/**
 * The embedded Web UI server: {@link createUiApp} on a Node HTTP server, bound to loopback unless told otherwise,
 * as `temporal server start-dev` serves its UI beside the frontend.
 */
import { getRequestListener } from '@hono/node-server';

import { bracketHost, gracefulServer, listen } from '../http-listen';
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
  return bracketHost(host);
}

/** Starts the UI server; resolves once it accepts connections. */
export async function startUiServer(options: UiServerOptions): Promise<UiServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const publicPath = normalizePublicPath(options.publicPath);
  const http = gracefulServer(getRequestListener(createUiApp(options)));
  let port: number;
  try {
    port = await listen(http.server, options.port, host);
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    const message =
      cause.code === 'EADDRINUSE'
        ? `UI port ${options.port} on ${host} is in use: choose another --ui-port, or --headless for no UI`
        : `cannot serve the UI on ${host}:${options.port}: ${cause.message}`;
    throw new UiServerStartError(message, cause.code, { cause });
  }
  return { url: `http://${urlHost(host)}:${port}${publicPath}`, port, close: () => http.close() };
}
