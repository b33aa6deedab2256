/**
 * What the embedded HTTP servers (the Web UI, the MLflow server, the codec server, `/metrics`, the dev server's HTTP
 * API) share about their socket: binding a host and port (0 picks a free one) with the listen error passed on as it
 * came, so each server can say in its own words that its port is in use (`EADDRINUSE`); closing gracefully; and the
 * host as a URL shows it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Binds `server` to `host:port` (0 picks a free port) and resolves with the bound port once it accepts connections.
 * Rejects with the listen error itself (`NodeJS.ErrnoException`, its `code` e.g. `EADDRINUSE` or `EADDRNOTAVAIL`),
 * for the caller to explain in its own terms.
 */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** A Node HTTP server that stops gracefully: see {@link gracefulServer}. */
export interface GracefulServer {
  /** The server, not yet listening: bind it with {@link listen}. */
  server: Server;
  /**
   * Stops accepting connections, answers the requests in flight (with `Connection: close`), closes idle keep-alive
   * connections, and resolves once the server has closed. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** Options of {@link gracefulServer}. */
export interface GracefulServerOptions {
  /**
   * What `close` does with the requests in flight: `answer` (the default) lets them finish, with `Connection: close`;
   * `end` ends them at once (destroys their sockets), for a server whose requests may wait long (long polls) on
   * something that stops only after the server has closed.
   */
  inFlight?: 'answer' | 'end';
}

/** A Node HTTP server for `handle` (e.g. `@hono/node-server`'s request listener) that closes gracefully. */
export function gracefulServer(
  handle: (request: IncomingMessage, response: ServerResponse) => unknown,
  options: GracefulServerOptions = {},
): GracefulServer {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const server = createServer((request, response) => {
    inFlight.add(response);
    if (closing) response.setHeader('Connection', 'close');
    response.once('close', () => {
      inFlight.delete(response);
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    void handle(request, response);
  });
  let closed: Promise<void> | undefined;
  return {
    server,
    close: () =>
      (closed ??= new Promise<void>((resolve, reject) => {
        closing = true;
        for (const response of inFlight) if (!response.headersSent) response.setHeader('Connection', 'close');
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeIdleConnections();
        if (options.inFlight === 'end') for (const response of inFlight) response.destroy();
      })),
  };
}

/** `host` as it goes in a URL: an IPv6 address in brackets, anything else as it is. */
export function bracketHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
