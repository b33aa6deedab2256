/**
 * The servers benchmarks measure, each in its own process, started as users start them (`mloe server start-dev`,
 * `mloe mlflow server`), so server and worker do not share an event loop. `BENCH_SERVER_NODE_FLAGS` passes flags to
 * the dev server's Node (e.g. `--cpu-prof`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** A `mloe` server in a process of its own. */
export interface MloeServerProcess {
  /** What its ready line says it runs at (`host:port` or a URL). */
  at: string;
  child: ChildProcess;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `node [nodeFlags] bin/mloe.js <args>` and resolves once it prints its ready line (`… running at <where>`);
 * rejects, with its output, if it exits first. `what` names it in that message.
 */
export async function startMloeProcess(
  args: readonly string[],
  what: string,
  nodeFlags: readonly string[] = [],
): Promise<MloeServerProcess> {
  const child = spawn(process.execPath, [...nodeFlags, resolve(__dirname, '../bin/mloe.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const at = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /running at (\S+)/.exec(out);
      if (match?.[1] !== undefined) ok(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`${what} exited with ${code}: ${out}`)));
  });
  return {
    at,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A dev server process. */
export interface ServerProcess {
  address: string;
  child: ChildProcess;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts a dev server on a free port, in memory or on a SQLite file, with extra `start-dev` flags. */
export async function startServerProcess(
  dbFile: string | undefined,
  extraArgs: readonly string[] = [],
): Promise<ServerProcess> {
  const server = await startMloeProcess(
    [
      'server',
      'start-dev',
      '--port',
      '0',
      '--headless',
      '--log-level',
      'error',
      ...(dbFile === undefined ? [] : ['--db-filename', dbFile]),
      ...extraArgs,
    ],
    'dev server',
    process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [],
  );
  return { address: server.at, child: server.child, stop: () => server.stop() };
}

/**
 * `mloe mlflow server` on a free port, in its own process: in memory, or in the store of `backendStoreUri`
 * (`sqlite:///…`), its proxied artifacts in `artifacts`. `at` is its URL. `BENCH_MLFLOW_NODE_FLAGS` passes flags to its
 * Node (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
export function startMlflowServerProcess(options: {
  backendStoreUri?: string;
  artifacts: string;
}): Promise<MloeServerProcess> {
  return startMloeProcess(
    [
      'mlflow',
      'server',
      '--port',
      '0',
      '--artifacts-destination',
      options.artifacts,
      ...(options.backendStoreUri === undefined ? [] : ['--backend-store-uri', options.backendStoreUri]),
    ],
    'mloe mlflow server',
    process.env.BENCH_MLFLOW_NODE_FLAGS?.split(' ').filter(Boolean) ?? [],
  );
}
