/**
 * The embedded Temporal-compatible dev server: `startDevServer()` runs it in-process (tests, `mloe dev`), the
 * `mloe server start-dev` command runs it as a process. The official `@temporalio/client` and `@temporalio/worker`
 * use it unchanged.
 */
import * as grpc from '@grpc/grpc-js';
import { enqueueActivity } from './api/activity';
import { armDeadlines } from './api/deadlines';
import { onRunClosed } from './api/lifecycle';
import type { Handler } from './api/handler';
import { healthHandlers, workflowServiceHandlers } from './api/service';
import { runTransferTasks } from './api/transfer';
import { dispatchWorkflowTask } from './api/workflow-task';
import { DEFAULT_RETENTION_MS } from './api/namespace';
import { systemClock, type Clock } from './clock';
import { Engine } from './engine';
import { buildService, type UnaryHandler } from './grpc';
import { startHttpApiServer, type HttpApiServerHandle } from './http/server';
import { createInvoker, type RpcInvoker } from './invoker';
import { apiKeyInterceptor, serverCredentials, type DevServerTls } from './tls';
import { createLogger, type LogLevel } from './logger';
import { Store } from './store';
import type { Limits } from './limits';
import { initVisibility, operatorServiceHandlers } from './visibility';
import { initSchedules } from './schedules/scheduler';
import { serveMetrics, type MetricsListener } from '../metrics';
import { devServerMetrics, instrumentHandlers } from './metrics';

export { DatabaseLockedError } from './store';
export type { Handler } from './api/handler';
export type { RpcInvoker } from './invoker';
export type { Logger } from './logger';
export type { DevServerTls } from './tls';

const NO_COMMIT_WAIT = new Set([
  'PollWorkflowTaskQueue',
  'PollActivityTaskQueue',
  'GetSystemInfo',
  'DescribeNamespace',
]);

/** Options of {@link startDevServer}, mirroring `temporal server start-dev`. */
export interface DevServerOptions {
  /** Address to bind (default 127.0.0.1). */
  ip?: string;
  /** Port (default 7233; 0 picks a free one). */
  port?: number;
  /** SQLite file for durable mode; in memory when absent. */
  dbFilename?: string;
  /** Namespaces to create besides `default`. */
  namespaces?: string[];
  /** Log level (default 'warn' when embedded). */
  logLevel?: LogLevel;
  /** Custom search attributes to register (name → type), as `--search-attribute` passes them. */
  searchAttributes?: Record<string, string>;
  /** SQLite pragmas for durable mode (`--sqlite-pragma`), e.g. `{ synchronous: 'NORMAL' }`. */
  sqlitePragmas?: Record<string, string>;
  /** Lower Temporal's per-workflow limits (tests); Temporal's defaults otherwise. */
  limits?: Partial<Limits>;
  /** Time source (tests and the time-skipping server inject their own). */
  clock?: Clock;
  /** Long-poll timeout for task polls in ms (default 55 s, below the SDK's 70 s deadline). */
  pollTimeoutMs?: number;
  /**
   * Eager workflow start (Temporal's `system.enableEagerWorkflowStart`, on in `temporal server start-dev`): a start
   * that asks for it gets the first workflow task in its response. Default true; false refuses it in every namespace
   * (DescribeNamespace then reports the capability off, and the SDK polls as usual).
   */
  eagerWorkflowStart?: boolean;
  /**
   * Extra gRPC services (full service name → method handlers), built once the engine is ready. The time-skipping
   * test server adds `temporal.api.testservice.v1.TestService` this way.
   */
  extraServices?: (engine: Engine) => Record<string, Record<string, Handler>>;
  /**
   * Port of Temporal's frontend HTTP API (`--http-port`; 0 picks a free one). Off when absent, as in the Temporal
   * CLI. It binds `ip`, like the gRPC service.
   */
  httpPort?: number;
  /** Origins allowed cross-origin calls to the HTTP API (`--http-cors-origins`); none by default. */
  httpCorsOrigins?: readonly string[];
  /** Serve Prometheus metrics at `http://ip:port/metrics` (`--metrics-port`; 0 picks a port); off when absent. */
  metricsPort?: number;
  /**
   * Serve gRPC over TLS (`--tls-cert`, `--tls-key`), requiring client certificates signed by `ca` when it is given
   * (`--tls-ca`: mutual TLS). Plaintext when absent.
   */
  tls?: DevServerTls;
  /**
   * Require `authorization: Bearer <key>` with one of these keys on every gRPC call, as Temporal Cloud does for API
   * keys (UNAUTHENTICATED otherwise). Not checked when absent.
   */
  apiKeys?: readonly string[];
}

/** A running dev server. */
export interface DevServerHandle {
  /** `host:port` to give `Connection.connect({ address })` / `NativeConnection.connect`. */
  address: string;
  port: number;
  /** `host:port` of the frontend HTTP API, when `httpPort` was given. */
  httpAddress?: string;
  /** `http://host:port/metrics`, when `metricsPort` was given. */
  metricsUrl?: string;
  /** The server's method handlers, callable in-process (the HTTP API and the Web UI's server run on them). */
  rpc: RpcInvoker;
  /** Stops serving, answers pending long polls and closes the database. */
  close(): Promise<void>;
}

/** Starts the dev server and resolves once it accepts connections. */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServerHandle> {
  const ip = options.ip ?? '127.0.0.1';
  const logger = createLogger(options.logLevel ?? 'warn');
  const store = new Store(options.dbFilename, options.sqlitePragmas);
  const engine = new Engine({
    clock: options.clock ?? systemClock,
    store,
    logger,
    pollTimeoutMs: options.pollTimeoutMs ?? 55_000,
    ...(options.eagerWorkflowStart === undefined ? {} : { eagerWorkflowStart: options.eagerWorkflowStart }),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  engine.hooks = {
    dispatchWorkflowTask: (run) => dispatchWorkflowTask(engine, run),
    armDeadlines: (run) => armDeadlines(engine, run),
    runTransferTasks: (run) => runTransferTasks(engine, run),
    onClosed: (run) => onRunClosed(engine, run),
  };
  try {
    engine.recover();
    // Registers the visibility index's commit listener (before the first commit below) and backfills missing rows.
    initVisibility(engine, options.searchAttributes);
    initSchedules(engine);
    // Activity attempts that were waiting for a worker go back on their queues (started ones time out and retry).
    for (const run of engine.runs.values()) {
      if (!run.isOpen) continue;
      for (const a of Object.values(run.state.activities)) if (a.startedTime === 0) enqueueActivity(engine, run, a);
    }
    for (const name of ['default', ...(options.namespaces ?? [])]) {
      if (!engine.namespaces.has(name)) {
        engine.addNamespace({ name, description: '', ownerEmail: '', retentionMs: DEFAULT_RETENTION_MS, data: {} });
      }
    }
    await engine.commit();
  } catch (err) {
    engine.close();
    store.close();
    throw err;
  }

  const server = new grpc.Server({
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.max_send_message_length': 128 * 1024 * 1024,
    ...(options.apiKeys === undefined ? {} : { interceptors: [apiKeyInterceptor(options.apiKeys)] }),
  });
  const bind = (table: Record<string, Handler>): Record<string, UnaryHandler> =>
    Object.fromEntries(
      Object.entries(table).map(([k, h]) => [
        k,
        (req: unknown, signal: AbortSignal) => h(engine, req as never, signal),
      ]),
    );
  // Changes are committed before the answer, so anything acknowledged is on disk. Task polls do not wait: handing
  // out a task acknowledges nothing, and if the start of the task is lost in a crash the worker's completion is
  // refused as stale and the task is dispatched again.
  const commit = (method: string): Promise<void> => {
    const done = engine.commit();
    if (!NO_COMMIT_WAIT.has(method)) return done;
    done.catch(() => undefined);
    return Promise.resolve();
  };
  const metrics = options.metricsPort === undefined ? undefined : devServerMetrics(engine, options.dbFilename);
  const services = new Map<string, Record<string, UnaryHandler>>();
  for (const [name, table] of [
    ['temporal.api.workflowservice.v1.WorkflowService', workflowServiceHandlers],
    ['temporal.api.operatorservice.v1.OperatorService', operatorServiceHandlers],
    ['grpc.health.v1.Health', healthHandlers],
    ...Object.entries(options.extraServices?.(engine) ?? {}),
  ] as const) {
    const bound = metrics === undefined ? bind(table) : instrumentHandlers(name, bind(table), metrics);
    services.set(name, bound);
    const { definition, implementation } = buildService(name, bound, logger, commit);
    server.addService(definition, implementation);
  }
  const rpc = createInvoker(services, commit, logger);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${ip.includes(':') ? `[${ip}]` : ip}:${options.port ?? 7233}`,
      serverCredentials(options.tls),
      (err, p) => (err ? reject(err) : resolve(p)),
    );
  }).catch((err: unknown) => {
    engine.close();
    store.close();
    throw err;
  });
  let http: HttpApiServerHandle | undefined;
  if (options.httpPort !== undefined) {
    try {
      http = await startHttpApiServer(rpc, {
        ip,
        port: options.httpPort,
        ...(options.httpCorsOrigins ? { corsOrigins: options.httpCorsOrigins } : {}),
      });
    } catch (err) {
      server.forceShutdown();
      engine.close();
      store.close();
      throw err;
    }
  }
  let metricsListener: MetricsListener | undefined;
  if (metrics !== undefined && options.metricsPort !== undefined) {
    try {
      metricsListener = await serveMetrics(metrics, ip, options.metricsPort);
    } catch (err) {
      await http?.close();
      server.forceShutdown();
      engine.close();
      store.close();
      throw err;
    }
  }
  logger.info('dev server started', {
    address: `${ip}:${port}`,
    db: options.dbFilename ?? ':memory:',
    ...(http ? { http: http.address } : {}),
  });

  let closed = false;
  return {
    address: `${ip.includes(':') ? `[${ip}]` : ip}:${port}`,
    port,
    ...(http ? { httpAddress: http.address } : {}),
    ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
    rpc,
    close: async () => {
      if (closed) return;
      closed = true;
      await http?.close();
      await metricsListener?.close();
      engine.close();
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      });
      try {
        engine.flush();
      } finally {
        store.close();
      }
    },
  };
}
