/**
 * The codec server on a Node HTTP server ({@link createCodecServerApp}), bound to loopback unless told otherwise.
 */
import { createServer } from 'node:http';

import { getRequestListener } from '@hono/node-server';

import { bracketHost, listen } from '../http-listen';
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
  const port = await listen(server, options.port, host);
  const shownHost = host === '0.0.0.0' ? '127.0.0.1' : bracketHost(host);
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
