/**
 * The embedded stack: the mloe dev server, a client connection, a worker connection and a worker, all in this
 * process, and, unless the user's MLFLOW_TRACKING_URI names another, the embedded MLflow server the worker tracks runs
 * in. `mloe demo`, `mloe run` (without TEMPORAL_ADDRESS) and `mloe dev` run on it; they differ only in the
 * worker they create and in how long they keep it running. The worker is created in the background (about half a
 * second: the SDK starts its workflow thread and loads the bundle there), so a command can start its run meanwhile.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkflowBundle } from '@temporalio/worker';

import type { DevServerOptions } from '../infra/devserver';
import type { MlflowServerOptions } from '../infra/mlflow';
import type { TrackingConfig } from '../activities/tracking/config';
import type { WorkflowBundleConfig } from '../workers/config';
import { loadWorkflowBundle } from '../workers/workflow-bundle';
import { PIPELINE_SEARCH_ATTRIBUTE, STATUS_SEARCH_ATTRIBUTE } from '../workflows/types';
import { MloeError, ensureError } from '../core/errors';
import { dataConverterOptions, type CodecConfig } from '../workers/codec/config';
import { startEmbeddedDevServer } from './start-dev';
import { startEmbeddedUi, type EmbeddedUiOptions } from './ui';

/** Options of {@link startEmbeddedStack}. */
export interface EmbeddedStackOptions {
  /** Address to bind; defaults to 127.0.0.1. */
  ip?: string;
  /** Defaults to 0: a free port. */
  port?: number;
  /** SQLite file for durable state; in memory when absent. */
  dbFilename?: string;
  /** Namespaces to create besides `default`. */
  namespaces?: string[];
  /** Namespace of the client; defaults to `default`. */
  namespace?: string;
  /**
   * Custom search attributes to register at start (name → type) besides mloe's own (`MloePipeline`, `MloeStatus`),
   * which are registered before the worker is, so that runs can start while it is created.
   */
  searchAttributes?: Record<string, string>;
  /** The server's log level; defaults to `warn`. */
  logLevel?: DevServerOptions['logLevel'];
  /** Where the worker's workflow bundle comes from; it is read (or built) while the server starts. */
  workflowBundle: WorkflowBundleConfig;
  /**
   * Starts the embedded MLflow server beside the dev server, with these options (`host`, `port`, `backendStoreUri`,
   * `artifactsDestination`); none when absent (the user's MLFLOW_TRACKING_URI is used, or tracking is off).
   */
  mlflow?: Pick<MlflowServerOptions, 'host' | 'port' | 'backendStoreUri' | 'artifactsDestination'>;
  /** Serves the Temporal Web UI beside the dev server with these options; none when absent. */
  ui?: EmbeddedUiOptions;
  /** Payload encryption: the stack's client encrypts with it, and the UI serves it as its codec endpoint. */
  codec?: CodecConfig;
  /**
   * Where the worker tracks runs, given the embedded MLflow server's URL when one was started (e.g. through
   * `withEmbeddedTracking`); `undefined`: tracking is off. Called once, after the servers start and before the UI
   * and the worker do: the pipeline view finds step runs in exactly this MLflow, with its credentials, and
   * `createWorker` gets it as `embedded.tracking`. Absent: tracking is off.
   */
  tracking?: (embedded: { mlflowUrl?: string }) => TrackingConfig | undefined;
  /**
   * Creates (but does not run) the worker, on the stack's worker connection, running `workflowBundle`;
   * `embedded.mlflowUrl` is the embedded MLflow server's URL when one was started, `embedded.tracking` what
   * {@link EmbeddedStackOptions.tracking} resolved to.
   */
  createWorker: (
    connection: NativeConnection,
    workflowBundle: WorkflowBundle,
    embedded: { mlflowUrl?: string; tracking?: TrackingConfig },
  ) => Promise<Worker>;
}

/** A running embedded stack. */
export interface EmbeddedStack {
  /** `host:port` of the dev server (the real port when 0 was asked for). */
  address: string;
  /** The embedded MLflow server's URL (`http://127.0.0.1:<port>`), when the stack started one. */
  mlflowUrl?: string;
  /** The Web UI's URL, when the stack serves one. */
  uiUrl?: string;
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  /**
   * The worker, being created when the stack is returned; rejects when it cannot be created. Runs started before it
   * resolves wait in the task queue.
   */
  worker: Promise<Worker>;
  /**
   * Runs the worker, once created, until `body` settles (or the worker fails), then shuts it down and waits for it,
   * as `Worker.runUntil`: running steps get the worker's `shutdownGraceTime` to finish.
   */
  runWorkerUntil<T>(body: Promise<T> | (() => Promise<T>)): Promise<T>;
  /**
   * Stops the worker if it never ran, then closes the connections and the server, in that order. Every part is
   * closed even if one fails; the first failure is then rethrown.
   */
  close(): Promise<void>;
}

/**
 * Starts the dev server, connects a client and a worker connection to it, and starts creating the worker
 * ({@link EmbeddedStack.worker}). When the server or a connection fails to start, what already started is stopped
 * before the error is rethrown; a worker that fails is reported by `worker`, and `close` still stops the rest.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    let first: unknown;
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw ensureError(first);
  };

  // Loaded beside the server's start (the cache check is mostly file reads); awaited once the worker is created.
  const workflowBundle = loadWorkflowBundle(options.workflowBundle);
  workflowBundle.catch(() => undefined); // a failure surfaces where it is awaited, not as an unhandled rejection
  try {
    // The MLflow server starts beside the dev server; whichever fails, what started is stopped.
    const [devServer, mlflowServer] = await Promise.allSettled([
      startEmbeddedDevServer({
        ip: options.ip ?? '127.0.0.1',
        port: options.port ?? 0,
        logLevel: options.logLevel ?? 'warn',
        ...(options.dbFilename === undefined ? {} : { dbFilename: options.dbFilename }),
        ...(options.namespaces === undefined ? {} : { namespaces: options.namespaces }),
        searchAttributes: {
          [PIPELINE_SEARCH_ATTRIBUTE.name]: 'Keyword',
          [STATUS_SEARCH_ATTRIBUTE.name]: 'Keyword',
          ...options.searchAttributes,
        },
      }),
      options.mlflow === undefined ? Promise.resolve(undefined) : startEmbeddedMlflow(options.mlflow),
    ]);
    if (devServer.status === 'fulfilled') closers.push(() => devServer.value.close());
    if (mlflowServer.status === 'fulfilled' && mlflowServer.value !== undefined) {
      const mlflow = mlflowServer.value;
      closers.push(() => mlflow.close());
    }
    if (devServer.status === 'rejected') throw ensureError(devServer.reason);
    if (mlflowServer.status === 'rejected') throw ensureError(mlflowServer.reason);
    const server = devServer.value;
    const embedded = mlflowServer.value === undefined ? {} : { mlflowUrl: mlflowServer.value.url };
    const tracking = options.tracking?.(embedded);
    const ui =
      options.ui === undefined
        ? undefined
        : await startEmbeddedUi(server, {
            ...options.ui,
            ...(options.codec === undefined ? {} : { codec: options.codec.codec }),
            ...(tracking === undefined ? {} : { mlflow: tracking.mlflow }),
          });
    if (ui !== undefined) closers.push(() => ui.close());
    const connection = await Connection.connect({ address: server.address });
    closers.push(() => connection.close());
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    closers.push(() => nativeConnection.close());
    const worker = workflowBundle.then((bundle) =>
      options.createWorker(nativeConnection, bundle, { ...embedded, ...(tracking === undefined ? {} : { tracking }) }),
    );
    worker.catch(() => undefined); // reported to whoever awaits `worker`, not as an unhandled rejection
    // A created worker holds its connection until it has run: let a worker that never ran go first.
    closers.push(async () => {
      const created = await worker.catch(() => undefined);
      if (created?.getState() === 'INITIALIZED') await created.runUntil(Promise.resolve());
    });
    const client = new Client({
      connection,
      namespace: options.namespace ?? 'default',
      ...dataConverterOptions(options.codec),
    });
    return {
      address: server.address,
      ...embedded,
      ...(ui === undefined ? {} : { uiUrl: ui.url }),
      client,
      connection,
      nativeConnection,
      worker,
      runWorkerUntil: async (body) => (await worker).runUntil(body),
      close: closeAll,
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
}

/**
 * Starts the embedded MLflow server (loaded on first use: hono and SQLite). A port in use or a locked database is a
 * `SERVER_START_FAILED` error naming it.
 */
async function startEmbeddedMlflow(
  options: NonNullable<EmbeddedStackOptions['mlflow']>,
): Promise<{ url: string; close: () => Promise<void> }> {
  // `require`, not `import()`: bin/mloe.js registers tsx's CommonJS hooks only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startMlflowServer } = require('../infra/mlflow') as typeof import('../infra/mlflow');
  try {
    return await startMlflowServer({ host: '127.0.0.1', port: 0, ...options });
  } catch (error) {
    const hint =
      'mloe dev --mlflow-port picks another port (0: a free one); MLFLOW_TRACKING_URI uses a server of yours';
    throw new MloeError(
      'SERVER_START_FAILED',
      `the embedded MLflow server could not start: ${ensureError(error).message}; ${hint}`,
      { cause: error },
    );
  }
}
