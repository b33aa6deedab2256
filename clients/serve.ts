/**
 * `mloe serve MODEL`: serves a registered model over HTTP (`activities/serving/`), from the MLflow registry at
 * `MLFLOW_TRACKING_URI` (else `mloe dev`'s on 127.0.0.1:5000).
 *
 * ```
 * mloe serve penguins@champion                 models:/penguins@champion, hot-reloaded when the alias moves
 * mloe serve models:/penguins/3 --port 8080    a fixed version
 * mloe serve penguins@champion --host 0.0.0.0 --poll-interval 2000 --log-sample-rate 0.1
 * ```
 *
 * It prints the URL once listening (and writes `--ready-file`, JSON `{ pid, url, uri, name, version }`, for
 * `deploy@1`), and stops on SIGINT/SIGTERM after in-flight requests finish.
 */
import { rename, writeFile } from 'node:fs/promises';

import { storeForUri } from '../activities/artifacts';
import { ConfigError, ensureError } from '../core/errors';
import { startModelServer, type ModelServer } from '../activities/serving/server';
import { modelUriOf } from '../activities/serving/uris';
import { defaultArtifactStoreUri } from '../workers/config';
import type { ModelsTarget } from './models';
import type { StartDevIo } from './start-dev';

/** Flags of `mloe serve`. */
export interface ServeFlags {
  host: string;
  port: string;
  pollInterval: string;
  logSampleRate?: string;
  artifactStore?: string;
  readyFile?: string;
}

function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`--${name}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/** Starts the server for `reference`; resolves once it listens. */
export async function runServe(
  reference: string,
  flags: ServeFlags,
  target: ModelsTarget,
  io: StartDevIo,
  client: import('../activities/mlflow').MlflowClient,
): Promise<ModelServer> {
  const uri = modelUriOf(reference);
  const port = integerFlag('port', flags.port, 0, 65535);
  const pollIntervalMs = integerFlag('poll-interval', flags.pollInterval, 0, 86_400_000);
  const rate = flags.logSampleRate === undefined ? 0 : Number(flags.logSampleRate);
  if (!(rate >= 0 && rate <= 1))
    throw new ConfigError(`--log-sample-rate: expected a share from 0 to 1, got "${flags.logSampleRate}"`);
  const server = await startModelServer({
    client,
    uri,
    host: flags.host,
    port,
    pollIntervalMs,
    ...(rate > 0
      ? { log: { store: storeForUri(flags.artifactStore ?? defaultArtifactStoreUri()), sampleRate: rate } }
      : {}),
    warn: (message) => io.stderr(`warning: ${message}`),
  });
  const { loaded } = server.holder.current;
  io.stdout(
    `Serving ${loaded.name} version ${loaded.version} (${uri}) at ${server.url} (POST /predict, GET /health); registry ${target.mlflow.trackingUri}`,
  );
  if (flags.readyFile !== undefined) {
    const partial = `${flags.readyFile}.${process.pid}.partial`;
    await writeFile(
      partial,
      JSON.stringify({ pid: process.pid, url: server.url, uri, name: loaded.name, version: loaded.version }),
    );
    await rename(partial, flags.readyFile);
  }
  return server;
}

/** Runs `mloe serve` until SIGINT/SIGTERM; the exit code. */
export async function serveUntilStopped(
  reference: string,
  flags: ServeFlags,
  target: ModelsTarget,
  io: StartDevIo,
  client: import('../activities/mlflow').MlflowClient,
): Promise<number> {
  let server: ModelServer;
  try {
    server = await runServe(reference, flags, target, io, client);
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}
