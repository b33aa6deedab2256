/**
 * A running model server: the serving app (`app.ts`) on `@hono/node-server`, bound to 127.0.0.1 unless told
 * otherwise, with the hot-reload poll (`holder.ts`) on a timer and an optional sampled prediction log. `mloe serve`
 * (`clients/serve.ts`) and the `deploy@1` step start it.
 */
import type { AddressInfo } from 'node:net';

import { serve, type ServerType } from '@hono/node-server';

import type { ArtifactStore } from '../artifacts';
import type { MlflowClient } from '../mlflow';
import { createServingApp } from './app';
import { ModelHolder } from './holder';
import { RequestLog } from './request-log';

/** Options of {@link startModelServer}. */
export interface ModelServerOptions {
  client: MlflowClient;
  /** `models:/NAME@ALIAS` or `models:/NAME/VERSION`. */
  uri: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** How often the alias is resolved again, in ms (default 5,000; 0 turns hot reload off). */
  pollIntervalMs?: number;
  /** Sampled prediction logging. */
  log?: { store: ArtifactStore; sampleRate: number; flushRows?: number };
  warn?: (message: string) => void;
}

/** A started server. */
export interface ModelServer {
  url: string;
  host: string;
  port: number;
  holder: ModelHolder;
  log?: RequestLog;
  /** Stops polling, lets in-flight requests finish, closes the port and flushes the prediction log. */
  close(): Promise<void>;
}

/** Loads the model (failing if nothing is registered under the URI), then listens. */
export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const holder = new ModelHolder(options.client, options.uri);
  await holder.load();
  const log =
    options.log === undefined
      ? undefined
      : new RequestLog({ ...options.log, ...(options.warn === undefined ? {} : { warn: options.warn }) });
  const app = createServingApp({ holder, ...(log === undefined ? {} : { log }) });
  const host = options.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, () => resolve(started));
    started.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const interval = options.pollIntervalMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  if (interval > 0 && !holder.pinned) {
    const poll = (): void => {
      timer = setTimeout(() => {
        void holder.refresh().then(() => {
          if (timer !== undefined) poll();
        });
      }, interval);
      timer.unref();
    };
    poll();
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`,
    host,
    port,
    holder,
    ...(log === undefined ? {} : { log }),
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await log?.flush();
    },
  };
}
