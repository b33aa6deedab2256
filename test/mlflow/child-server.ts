/**
 * `mloe mlflow server` as a child process for the durability and CLI suites: spawn it through the real CLI, wait for
 * its ready line (an event, never a sleep), signal it, and see how it exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** Absolute path of the `mloe` executable. */
export const MLOE_BIN = resolve(__dirname, '..', '..', 'bin', 'mloe.js');

/** How the process ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `mloe mlflow server`. */
export interface MlflowChild {
  child: ChildProcess;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** The URL of the ready line; rejects if the process exits first. */
  ready: Promise<string>;
  exited: Promise<ChildExit>;
  /** Sends `signal` unless the process has exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ChildExit>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts `bin/mloe.js mlflow server <args>`. */
export function spawnMlflowServer(args: readonly string[]): MlflowChild {
  const child = spawn(process.execPath, [MLOE_BIN, 'mlflow', 'server', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ChildExit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolveExit({ code, signal });
    });
  });
  const ready = new Promise<string>((resolveReady, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /is running at (\S+)/.exec(stdout);
      if (match !== null) resolveReady(match[1]!);
    });
    void exited.then((exit) => reject(new Error(`mloe mlflow server exited (${JSON.stringify(exit)}): ${stderr}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    output: () => ({ stdout, stderr }),
    ready,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
