/**
 * The codec server on a Node HTTP server ({@link createCodecServerApp}), bound to loopback unless told otherwise.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { getRequestListener } from '@hono/node-server';

import { createCodecServerApp, type CodecServerAppOptions } from './app';

export { createCodecServerApp, type CodecRequestInfo, type CodecServerAppOptions } from './app';

/** Options of {@link startCodecServer}. */
export interface CodecServerOptions extends CodecServerAppOptions {
  /** Address to bind; 127.0.0.1 by default. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
}

/** A running codec server. */
export interface CodecServerHandle {
  /** Its base URL, e.g. `http://127.0.0.1:8081`: the Web UI's codec endpoint. */
  url: string;
  /** The bound port. */
  port: number;
  /** Stops accepting connections and closes once requests in flight are answered. */
  close(): Promise<void>;
}

/** Starts the codec server; resolves once it accepts connections. */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const app = createCodecServerApp(options);
  const listener = getRequestListener(app.fetch);
  const server = createServer((request, response) => {
    void listener(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeIdleConnections();
      }),
  };
}
