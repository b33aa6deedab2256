/** A `bin/mloe.js` child process for tests, its output collected as it comes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const BIN = join(resolve(__dirname, '..', '..'), 'bin', 'mloe.js');

/** A running `mloe` command. */
export class MloeChild {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly listeners = new Set<() => void>();

  constructor(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env });
    const collect = (stream: 'stdout' | 'stderr') => (chunk: string) => {
      this[stream] += chunk;
      this.listeners.forEach((listener) => listener());
    };
    this.child.stdout?.setEncoding('utf8').on('data', collect('stdout'));
    this.child.stderr?.setEncoding('utf8').on('data', collect('stderr'));
    this.exited = new Promise((resolvePromise) => {
      this.child.once('exit', (code, signal) => {
        this.listeners.forEach((listener) => listener());
        resolvePromise({ code, signal });
      });
    });
  }

  /** Resolves with the first match of `pattern` in stdout as soon as it is printed; rejects if the process exits. */
  waitForStdout(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => done(new Error(`no ${String(pattern)} within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        const match = pattern.exec(this.stdout);
        if (match !== null) done(undefined, match);
        else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(new Error(`exited before printing ${String(pattern)}:\n${this.stdout}\n${this.stderr}`));
        }
      };
      const done = (error?: Error, match?: RegExpMatchArray): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error === undefined && match !== undefined) resolvePromise(match);
        else reject(error ?? new Error('no match'));
      };
      this.listeners.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** The test process's environment without mloe's, Temporal's, OpenTelemetry's and MLflow's variables, plus `extra`. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(TEMPORAL_|MLOE_|OPENLINEAGE_|MLFLOW_|OTEL_)/.test(name) && !/^(TEMPORAL|MLFLOW)_TEST_/.test(name))
      delete env[name];
  }
  return { ...env, ...extra };
}
