/**
 * The dev server in its own process for benchmarks, started as users start it (`mloe server start-dev`), so server and
 * worker do not share an event loop. `BENCH_SERVER_NODE_FLAGS` passes flags to its Node (e.g. `--cpu-prof`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

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
  const args = [
    ...(process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    resolve(__dirname, '../bin/mloe.js'),
    'server',
    'start-dev',
    '--port',
    '0',
    '--headless',
    '--log-level',
    'error',
    ...(dbFile === undefined ? [] : ['--db-filename', dbFile]),
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const address = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /running at (\S+)/.exec(out);
      if (match?.[1] !== undefined) ok(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`dev server exited with ${code}: ${out}`)));
  });
  return {
    address,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
