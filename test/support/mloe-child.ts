/**
 * The one way tests run `mloe` (or another node script of the repository, such as the worker image's entrypoint) as
 * a child process: spawn it with stdin closed, collect stdout and stderr as they come, wait for a line (an output
 * event, never a sleep or a poll), signal it, and wait for its exit. Children a suite starts with
 * {@link suiteChildren} are stopped after the suite; any child still running when the test process exits is
 * SIGKILLed, so none outlives the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The repository's root: the default working directory of a child. */
const REPO = resolve(__dirname, '..', '..');

/** Absolute path of the `mloe` executable (`bin/mloe.js`). */
export const MLOE_BIN = join(REPO, 'bin', 'mloe.js');

/** How a child process ended: its exit code, or the signal that ended it. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How to start a {@link MloeChild}. */
export interface MloeChildOptions {
  /** Working directory (default: the repository's root). */
  cwd?: string;
  /** The whole environment (default: this process's); {@link childEnv} makes a clean one. */
  env?: NodeJS.ProcessEnv;
  /** The script node runs (default {@link MLOE_BIN}), e.g. `bin/docker-entrypoint.js` or a test fixture. */
  script?: string;
  /** Node's own flags, before the script (e.g. `['--import', 'tsx']` for a TypeScript fixture). */
  nodeArgs?: readonly string[];
}

/** Every child started in this test process and not yet seen to exit. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A running `mloe` command (or other node script), its output collected as it comes. */
export class MloeChild {
  /** Everything written to stdout so far. */
  stdout = '';
  /** Everything written to stderr so far. */
  stderr = '';
  /** Everything written to stdout and stderr so far, interleaved in the order it arrived. */
  output = '';
  /** The node child process itself. */
  readonly child: ChildProcess;
  /** Its process id. */
  readonly pid: number;
  /** Resolves with how the process ended, once it has. */
  readonly exited: Promise<ChildExit>;
  private exit: ChildExit | undefined;
  private readonly listeners = new Set<() => void>();

  /** Starts `node [nodeArgs] <script> <args>` (the script is `bin/mloe.js` unless told otherwise). */
  constructor(args: readonly string[], options: MloeChildOptions = {}) {
    const script = options.script ?? MLOE_BIN;
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
      cwd: options.cwd ?? REPO,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not spawn ${script}`);
    this.pid = this.child.pid;
    live.add(this.child);
    const notify = (): void => this.listeners.forEach((listener) => listener());
    const collect = (stream: 'stdout' | 'stderr') => (chunk: string) => {
      this[stream] += chunk;
      this.output += chunk;
      notify();
    };
    this.child.stdout?.setEncoding('utf8').on('data', collect('stdout'));
    this.child.stderr?.setEncoding('utf8').on('data', collect('stderr'));
    this.exited = new Promise((resolveExit) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this.child);
        notify();
        resolveExit(this.exit);
      });
    });
  }

  /** Whether the process has exited. */
  hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** Resolves with the first match of `pattern` in stdout as soon as it is printed; rejects if the process exits. */
  waitForStdout(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return this.waitFor('stdout', pattern, timeoutMs);
  }

  /** As {@link waitForStdout}, in stdout and stderr together (for lines whichever stream they go to). */
  waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return this.waitFor('output', pattern, timeoutMs);
  }

  /** Sends `signal` (default SIGKILL) unless the process has already exited. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Sends `signal` (default SIGKILL) unless the process has already exited, and waits for the exit. */
  stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<ChildExit> {
    this.kill(signal);
    return this.exited;
  }

  private waitFor(stream: 'stdout' | 'output', pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolveMatch, reject) => {
      const timer = setTimeout(
        () => done(new Error(`no ${String(pattern)} within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`)),
        timeoutMs,
      );
      const check = (): void => {
        const match = pattern.exec(this[stream]);
        if (match !== null) done(undefined, match);
        else if (this.exit !== undefined) {
          const how = JSON.stringify(this.exit);
          done(new Error(`exited (${how}) before printing ${String(pattern)}:\n${this.stdout}\n${this.stderr}`));
        }
      };
      const done = (error?: Error, match?: RegExpMatchArray): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error === undefined && match !== undefined) resolveMatch(match);
        else reject(error ?? new Error('no match'));
      };
      this.listeners.add(check);
      check();
    });
  }
}

/**
 * Returns a starter of {@link MloeChild}ren for a suite; registers with `afterAll` to stop every one still running
 * with `signal` (default SIGKILL; SIGTERM to let them shut down cleanly) and wait for it to exit.
 */
export function suiteChildren(
  signal: NodeJS.Signals = 'SIGKILL',
): (args: readonly string[], options?: MloeChildOptions) => MloeChild {
  const started: MloeChild[] = [];
  afterAll(async () => {
    await Promise.all(started.map((child) => child.stop(signal)));
  });
  return (args, options) => {
    const child = new MloeChild(args, options);
    started.push(child);
    return child;
  };
}

/** The test process's environment without mloe's, Temporal's, OpenTelemetry's and MLflow's variables, plus `extra`. */
export function childEnv(extra: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(TEMPORAL_|MLOE_|OPENLINEAGE_|MLFLOW_|OTEL_)/.test(name) && !/^(TEMPORAL|MLFLOW)_TEST_/.test(name))
      delete env[name];
  }
  return { ...env, ...extra };
}
