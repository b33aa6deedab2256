/**
 * Running one command as the leader of its own process group: output streamed to log files (never held in memory,
 * apart from a bounded tail of stderr), heartbeats while it runs, and a group-wide SIGTERM then SIGKILL on
 * cancellation. Whatever the outcome, no process of the group outlives the call (a process that leaves the group
 * with `setsid` escapes it: that needs cgroups, see docs/command-steps.md).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { MloeError } from '../../core/errors';

/** How much of the end of stderr is kept for error messages. */
export const STDERR_TAIL_BYTES = 16 * 1024;

/** Lines of stderr quoted in a failure message. */
export const STDERR_TAIL_LINES = 20;

/** What {@link runProcessGroup} needs. */
export interface ProcessGroupOptions {
  argv: readonly string[];
  cwd: string;
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  /** Aborting it terminates the group. */
  signal?: AbortSignal | undefined;
  /** Between SIGTERM and SIGKILL. */
  killGracePeriodMs: number;
  /** Called right after the spawn and then every `heartbeatIntervalMs` while the process runs. */
  heartbeat?: ((progress: ProcessProgress) => void) | undefined;
  heartbeatIntervalMs: number;
  /** Called with the leader's pid (= the group id) once it is running. */
  onSpawn?: ((pid: number) => void) | undefined;
}

/** Heartbeat details: how far the process got (no arguments or environment: they may hold secrets). */
export interface ProcessProgress {
  pid: number;
  elapsedMs: number;
  stdoutBytes: number;
  stderrBytes: number;
}

/** How the process ended. */
export interface ProcessOutcome {
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Whether the group was terminated because `signal` aborted. */
  cancelled: boolean;
  durationMs: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** The last {@link STDERR_TAIL_LINES} lines of stderr (from at most {@link STDERR_TAIL_BYTES}). */
  stderrTail: string;
}

/** Counts the bytes passing through and keeps the last `keep` of them. */
class TailTap extends Transform {
  bytes = 0;
  private tail: Buffer = Buffer.alloc(0);

  constructor(private readonly keep: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.byteLength;
    if (this.keep > 0) {
      const joined = Buffer.concat([this.tail, chunk]);
      this.tail = Buffer.from(joined.subarray(Math.max(0, joined.byteLength - this.keep)));
    }
    callback(null, chunk);
  }

  /** The kept tail as text, cut to its last `lines` lines. */
  lastLines(lines: number): string {
    const text = this.tail.toString('utf8').replace(/\s+$/, '');
    return text.split('\n').slice(-lines).join('\n');
  }
}

/**
 * Spawns `argv` (no shell, `detached`: it leads a new process group) and waits until it and every process of its
 * group have exited and its output is on disk. Rejects with `STEP_COMMAND_NOT_FOUND` when the executable cannot be
 * run; a non-zero exit is an outcome, not an error.
 */
export async function runProcessGroup(options: ProcessGroupOptions): Promise<ProcessOutcome> {
  const started = performance.now();
  const stdoutTap = new TailTap(0);
  const stderrTap = new TailTap(STDERR_TAIL_BYTES);
  const stdoutFile = createWriteStream(options.stdoutPath, { flags: 'wx' });
  const stderrFile = createWriteStream(options.stderrPath, { flags: 'wx' });

  const [executable, ...args] = options.argv;
  const child = spawn(executable ?? '', args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    shell: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } catch (error) {
    stdoutFile.destroy();
    stderrFile.destroy();
    throw spawnError(error, executable ?? '');
  }
  const pid = child.pid;
  if (pid === undefined) throw new MloeError('INTERNAL', 'spawned process has no pid');
  options.onSpawn?.(pid);

  const outputDone = Promise.all([
    pipeline(child.stdout, stdoutTap, stdoutFile),
    pipeline(child.stderr, stderrTap, stderrFile),
  ]);
  // Awaited below, once the process has exited; a write error before that must not count as unhandled.
  outputDone.catch(() => undefined);

  const progress = (): ProcessProgress => ({
    pid,
    elapsedMs: Math.round(performance.now() - started),
    stdoutBytes: stdoutTap.bytes,
    stderrBytes: stderrTap.bytes,
  });
  const beat = (): void => options.heartbeat?.(progress());
  beat();
  const heartbeatTimer = options.heartbeat ? setInterval(beat, options.heartbeatIntervalMs) : undefined;

  let cancelled = false;
  let killDeadline = Number.POSITIVE_INFINITY;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    cancelled = true;
    killDeadline = performance.now() + options.killGracePeriodMs;
    signalGroup(pid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), options.killGracePeriodMs);
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const exit = await waitForExit(exited, () =>
      cancelled && performance.now() > killDeadline + STUCK_AFTER_KILL_MS
        ? new MloeError('INTERNAL', `process ${pid} did not exit ${STUCK_AFTER_KILL_MS} ms after SIGKILL`, {
            retryable: true,
          })
        : undefined,
    );
    // The leader is gone; anything it left running in its group is stopped too (SIGTERM, SIGKILL after the grace
    // period, or straight away when a cancellation's grace period is already over).
    if (!cancelled) killDeadline = performance.now() + options.killGracePeriodMs;
    await reapGroup(pid, killDeadline, cancelled);
    // Once no writer is left the pipes end; a process that escaped the group could hold them open, so give up on
    // them after a short while rather than hang.
    await settleWithin(outputDone, 5_000, () => {
      child.stdout.destroy();
      child.stderr.destroy();
    });
    return {
      pid,
      exitCode: exit.code,
      signal: exit.signal,
      cancelled,
      durationMs: Math.round(performance.now() - started),
      stdoutBytes: stdoutTap.bytes,
      stderrBytes: stderrTap.bytes,
      stderrTail: stderrTap.lastLines(STDERR_TAIL_LINES),
    };
  } finally {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    if (killTimer) clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** How long a process may take to die after SIGKILL (e.g. stuck in uninterruptible I/O) before the runner gives up. */
const STUCK_AFTER_KILL_MS = 10_000;

/** Awaits the exit, checking `stuck` every 250 ms: an error it returns is thrown instead of waiting forever. */
async function waitForExit<T>(exited: Promise<T>, stuck: () => Error | undefined): Promise<T> {
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 250)));
    const result = await Promise.race([exited.then((value) => ({ value })), tick]);
    clearTimeout(timer);
    if (result !== undefined) return result.value;
    const error = stuck();
    if (error !== undefined) throw error;
  }
}

/** The error for a failed spawn: a missing or non-executable file is the user's to fix. */
function spawnError(error: unknown, executable: string): MloeError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOEXEC' || code === 'EISDIR') {
    const reason = code === 'ENOENT' ? 'not found (on PATH or at that path)' : `not executable (${code})`;
    return new MloeError('STEP_COMMAND_NOT_FOUND', `command ${JSON.stringify(executable)} ${reason}`, {
      cause: error,
      retryable: false,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new MloeError('STEP_COMMAND_FAILED', `could not start ${JSON.stringify(executable)}: ${message}`, {
    cause: error,
    retryable: true,
  });
}

/** Sends a signal to a whole process group; a group that is already gone is fine. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * The live (non-zombie) members of a process group. On Linux this reads `/proc`, because an orphan whose parent is a
 * non-reaping PID 1 (common in containers) stays a zombie forever and `kill(-pgid, 0)` would count it; elsewhere it
 * falls back to `kill(-pgid, 0)`, which only says whether any member exists.
 */
export async function liveGroupMembers(pgid: number): Promise<number[]> {
  if (process.platform !== 'linux') {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return [];
      throw error;
    }
  }
  const members: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const state = await processState(Number(name));
    if (state !== undefined && state.pgrp === pgid && state.state !== 'Z' && state.state !== 'X') {
      members.push(Number(name));
    }
  }
  return members;
}

/** State letter and process group of a process from `/proc/<pid>/stat`; undefined when it is gone. */
export async function processState(pid: number): Promise<{ state: string; pgrp: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const pgrp = Number(fields[2]);
  return state === undefined || !Number.isInteger(pgrp) ? undefined : { state, pgrp };
}

/** Resolves once the group has no live member, SIGTERMing it now (unless already done) and SIGKILLing at `deadline`. */
async function reapGroup(pgid: number, deadline: number, terminated: boolean): Promise<void> {
  if ((await liveGroupMembers(pgid)).length === 0) return;
  if (!terminated) signalGroup(pgid, 'SIGTERM');
  let killed = false;
  const giveUp = deadline + STUCK_AFTER_KILL_MS;
  for (;;) {
    if ((await liveGroupMembers(pgid)).length === 0) return;
    const now = performance.now();
    if (!killed && now >= deadline) {
      signalGroup(pgid, 'SIGKILL');
      killed = true;
    }
    if (now >= giveUp) {
      throw new MloeError('INTERNAL', `process group ${pgid} survived SIGKILL for ${STUCK_AFTER_KILL_MS} ms`, {
        retryable: true,
      });
    }
    await delay(25);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Awaits `promise` (which must already have a rejection handler), or calls `onTimeout` and returns after `ms`. */
async function settleWithin(promise: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = Symbol('timeout');
  try {
    const winner = await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms, timedOut)))]);
    if (winner === timedOut) onTimeout();
  } finally {
    clearTimeout(timer);
  }
}
