/**
 * Helpers for suites that run the dev server as a separate process through the real CLI (`bin/mloe.js server
 * start-dev`): spawn it, wait for its ready line, kill it, and check that no process is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';

/** Absolute path of the `mloe` executable. */
export const MLOE_BIN = resolve(__dirname, '..', '..', 'bin', 'mloe.js');

/** How a child process ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A `mloe server start-dev` child process. */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the address of the ready line; rejects if the process exits first or `timeoutMs` passes. */
  ready(timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<ChildExit>;
  /** Whether the process has exited. */
  hasExited(): boolean;
  /** Sends `signal` (default SIGKILL) unless the process already exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ChildExit>;
}

const READY = /is running at (\S+)/;

/** Every server process started by {@link spawnServer} in this test process and not yet seen to exit. */
const live = new Set<ServerProcess>();
process.once('exit', () => {
  for (const server of live) server.child.kill('SIGKILL');
});

/** Starts `bin/mloe.js server start-dev <args>` (stdin closed, output captured). */
export function spawnServer(args: readonly string[]): ServerProcess {
  const child = spawn(process.execPath, [MLOE_BIN, 'server', 'start-dev', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${MLOE_BIN}`);
  let stdout = '';
  let stderr = '';
  let exit: ChildExit | undefined;
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  const exited = new Promise<ChildExit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(server);
      resolveExit(exit);
      notify();
    });
  });
  const server: ServerProcess = {
    child,
    pid: child.pid,
    output: () => ({ stdout, stderr }),
    exited,
    hasExited: () => exit !== undefined,
    ready: (timeoutMs = 15_000) =>
      new Promise<string>((resolveReady, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`mloe did not print its ready line within ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        const check = (): void => {
          const match = READY.exec(stdout);
          if (match) {
            clearTimeout(timer);
            listeners.delete(check);
            resolveReady(match[1]!);
          } else if (exit) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`mloe exited (${JSON.stringify(exit)}) before it was ready; stderr:\n${stderr}`));
          }
        };
        listeners.add(check);
        check();
      }),
    kill: async (signal = 'SIGKILL') => {
      if (!exit) child.kill(signal);
      return exited;
    },
  };
  live.add(server);
  return server;
}

/** Kills (SIGKILL) every server process this test process started that is still running, and waits for them. */
export async function killAllServers(): Promise<void> {
  await Promise.all([...live].map((server) => server.kill('SIGKILL')));
}

/** Whether a process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name: Z is a zombie (exited, not yet reaped).
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of live processes whose command line contains every one of `needles` (read from /proc; Linux only). */
export function findProcesses(...needles: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (needles.every((n) => cmdline.includes(n)) && processAlive(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}
