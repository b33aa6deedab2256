/**
 * `mloe mlflow server` as a child process for the durability and CLI suites: spawn it through the real CLI, wait for
 * its ready line (an event, never a sleep), signal it, and see how it exited.
 */
import type { ChildProcess } from 'node:child_process';

import { MloeChild, type ChildExit } from '../support/mloe-child';

export { MLOE_BIN, type ChildExit } from '../support/mloe-child';

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

/** Starts `bin/mloe.js mlflow server <args>`. */
export function spawnMlflowServer(args: readonly string[]): MlflowChild {
  const mloe = new MloeChild(['mlflow', 'server', ...args]);
  const ready = mloe.waitForStdout(/is running at (\S+)/, 120_000).then((match) => match[1] ?? '');
  ready.catch(() => undefined);
  return {
    child: mloe.child,
    output: () => ({ stdout: mloe.stdout, stderr: mloe.stderr }),
    ready,
    exited: mloe.exited,
    kill: (signal) => mloe.stop(signal),
  };
}
