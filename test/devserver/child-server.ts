/**
 * Helpers for suites that run the dev server as a separate process through the real CLI (`bin/mloe.js server
 * start-dev`): spawn it, wait for its ready line, kill it, and check that no process is left behind.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

import { MloeChild, type ChildExit } from '../support/mloe-child';

export { MLOE_BIN, type ChildExit } from '../support/mloe-child';

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

/** Starts `bin/mloe.js server start-dev <args>` (stdin closed, output captured). */
export function spawnServer(args: readonly string[]): ServerProcess {
  const mloe = new MloeChild(['server', 'start-dev', ...args]);
  const server: ServerProcess = {
    child: mloe.child,
    pid: mloe.pid,
    output: () => ({ stdout: mloe.stdout, stderr: mloe.stderr }),
    exited: mloe.exited,
    hasExited: () => mloe.hasExited(),
    ready: async (timeoutMs = 15_000) => (await mloe.waitForStdout(READY, timeoutMs))[1] ?? '',
    kill: (signal) => mloe.stop(signal),
  };
  live.add(server);
  void mloe.exited.then(() => live.delete(server));
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
