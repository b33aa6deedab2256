/**
 * The local runner of command (`run:`) steps: each attempt gets a fresh directory with its inputs as files and its
 * params as JSON, runs the command as a child process group, and turns the files it leaves in its outputs directory
 * into artifacts and values. The process's side of the contract is in `docs/command-steps.md`.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Context } from '@temporalio/activity';

import { MloeError, ensureError } from '../../core/errors';
import { FileArtifactStore, checkAbsolutePath, storeForUri, type ArtifactRef, type ArtifactStore } from '../artifacts';
import { buildEnvironment, checkRequest, type AttemptPaths, type CommandStepRequest } from './contract';
import { collectOutputs, materialiseInputs, readMetrics, storeLog } from './io';
import { runProcessGroup, type ProcessOutcome } from './process';
import { pipeline } from 'node:stream/promises';
import type { SecretRedactor } from '../secrets';

export type { CommandStepRequest } from './contract';
export { BUILTIN_ARTIFACTS_KEY, INHERITED_ENV_NAMES, RESERVED_ENV_PREFIX } from './contract';
export { liveGroupMembers, processState } from './process';

/** What a command step produced. */
export interface CommandStepResult {
  /** Artifact outputs as ArtifactRefs, scalar outputs as their JSON values. */
  outputs: Record<string, unknown>;
  /** `metrics.json`, when the process wrote one. */
  metrics?: Record<string, number>;
  /** stdout and stderr, each stored as an artifact ({@link ArtifactRef}). */
  logs: { stdout: unknown; stderr: unknown };
  exitCode: number;
  durationMs: number;
}

/** Heartbeat at most this far apart (closer when the activity's heartbeat timeout is short). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;

/** Between SIGTERM and SIGKILL when a step is cancelled. */
export const KILL_GRACE_PERIOD_MS = 10_000;

/** Tuning knobs for tests and embedders; the engine calls {@link runCommandStep} without them. */
export interface RunnerOptions {
  heartbeatIntervalMs?: number;
  killGracePeriodMs?: number;
  /** Called with the process group id once the command is running. */
  onSpawn?: (pid: number) => void;
  /** An open store for `artifactRoot` (the caller keeps and closes it); otherwise the runner opens its own. */
  store?: ArtifactStore;
  /**
   * Secret values by variable name (resolved by the activity from the step's `run.secrets`), added to the process
   * environment and never to the request; with them, stdout, stderr and errors pass through `redactor`.
   */
  secretEnv?: Record<string, string>;
  /** Replaces secret values in the captured logs and in errors (required with `secretEnv`). */
  redactor?: SecretRedactor;
}

/** Checks the variable names secrets are given as: valid, not `MLOE_*`, not also in the step's `env`. */
function checkSecretNames(request: CommandStepRequest, secretEnv: Record<string, string>): void {
  for (const name of Object.keys(secretEnv)) {
    const problem = !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
      ? 'is not a valid variable name'
      : name.startsWith('MLOE_')
        ? 'is reserved (MLOE_* is set by mloe)'
        : request.env?.[name] !== undefined
          ? 'is also in env: give it in one place'
          : undefined;
    if (problem !== undefined) {
      throw new MloeError('STEP_COMMAND_INVALID', `step ${request.stepId}: secret ${name} ${problem}`, {
        retryable: false,
      });
    }
  }
}

/** Rewrites a log file with every secret value replaced (streamed, so large logs stay on disk). */
async function redactFile(path: string, redactor: SecretRedactor): Promise<void> {
  const redactedPath = `${path}.redacted`;
  await pipeline(createReadStream(path), redactor.stream(), createWriteStream(redactedPath, { flags: 'wx' }));
  await rename(redactedPath, path);
}

/** The activity context, when running inside one. */
function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** The store outputs and logs go to: a URI, or an absolute path for a file store. */
function openStore(root: string): ArtifactStore {
  return root.startsWith('/')
    ? new FileArtifactStore({ root: checkAbsolutePath(root, 'artifactRoot') })
    : storeForUri(root);
}

/**
 * Runs one attempt of a command step and returns its outputs, metrics and logs. Throws `STEP_COMMAND_FAILED`
 * (retryable; with the exit code or signal and the tail of stderr) on a non-zero exit, `STEP_COMMAND_NOT_FOUND` when
 * the executable does not exist, `STEP_OUTPUT_MISSING` / `STEP_OUTPUT_INVALID` for missing or malformed outputs, and
 * the activity's `CancelledFailure` after killing the process group when the activity is cancelled.
 * Idempotent: every attempt starts from a fresh directory and outputs are content-addressed.
 */
export async function runCommandStep(
  request: CommandStepRequest,
  options: RunnerOptions = {},
): Promise<CommandStepResult> {
  checkRequest(request);
  const secretEnv = options.secretEnv ?? {};
  checkSecretNames(request, secretEnv);
  const redactor = Object.keys(secretEnv).length === 0 ? undefined : options.redactor;
  if (Object.keys(secretEnv).length > 0 && redactor === undefined) {
    throw new MloeError('INTERNAL', `step ${request.stepId}: secrets without a redactor`);
  }
  const context = currentContext();
  const signal = context?.cancellationSignal;
  const heartbeatTimeout = context?.info.heartbeatTimeoutMs;
  const heartbeatIntervalMs =
    options.heartbeatIntervalMs ??
    (heartbeatTimeout
      ? Math.max(100, Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, heartbeatTimeout / 3))
      : DEFAULT_HEARTBEAT_INTERVAL_MS);
  let cwd: string | undefined;
  if (request.workingDir !== undefined) {
    cwd = checkAbsolutePath(request.workingDir, `workingDir of step ${request.stepId}`);
    const isDirectory = await stat(cwd).then(
      (stats) => stats.isDirectory(),
      () => false,
    );
    if (!isDirectory) {
      throw new MloeError('STEP_COMMAND_INVALID', `workingDir ${cwd} of step ${request.stepId} is not a directory`);
    }
  }

  const store = options.store ?? openStore(request.artifactRoot);
  const safeStepId = request.stepId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  const attemptDir = await mkdtemp(join(tmpdir(), `mloe-step-${safeStepId}-`));
  try {
    const workDir = join(attemptDir, 'work');
    const paths: AttemptPaths = {
      workDir,
      inputsDir: join(workDir, 'inputs'),
      outputsDir: join(workDir, 'outputs'),
      paramsFile: join(workDir, 'params.json'),
      inputsFile: join(workDir, 'inputs.json'),
      tmpDir: join(attemptDir, 'tmp'),
    };
    const logsDir = join(attemptDir, 'logs');
    for (const directory of [paths.inputsDir, paths.outputsDir, paths.tmpDir, logsDir]) {
      await mkdir(directory, { recursive: true });
    }
    await writeFile(paths.paramsFile, `${JSON.stringify(request.params, null, 2)}\n`, { flag: 'wx' });
    const described = await materialiseInputs(request.inputs, paths.inputsDir, store, signal);
    await writeFile(paths.inputsFile, `${JSON.stringify(described, null, 2)}\n`, { flag: 'wx' });
    if (signal?.aborted) throw ensureError(signal.reason);

    const stdoutPath = join(logsDir, 'stdout.log');
    const stderrPath = join(logsDir, 'stderr.log');
    const outcome = await runProcessGroup({
      argv: request.command,
      cwd: cwd ?? workDir,
      // Secrets go in beside the step's env (never the request); they may not name MLOE_* variables.
      env: { ...buildEnvironment(request, paths), ...secretEnv },
      stdoutPath,
      stderrPath,
      signal,
      killGracePeriodMs: options.killGracePeriodMs ?? KILL_GRACE_PERIOD_MS,
      heartbeat: context ? (progress) => context.heartbeat({ stepId: request.stepId, ...progress }) : undefined,
      heartbeatIntervalMs,
      onSpawn: options.onSpawn,
    });
    if (outcome.cancelled) throw ensureError(signal?.reason);

    if (redactor !== undefined) {
      await redactFile(stdoutPath, redactor);
      await redactFile(stderrPath, redactor);
      outcome.stderrTail = redactor.redact(outcome.stderrTail);
    }
    const provenance = { stepId: request.stepId, workflowId: request.workflowId };
    const logs = {
      stdout: await storeLog(stdoutPath, 'stdout', store, provenance),
      stderr: await storeLog(stderrPath, 'stderr', store, provenance),
    };
    if (outcome.exitCode !== 0) throw commandFailed(request, outcome, logs.stderr);

    const outputs = await collectOutputs(request.outputs, paths.outputsDir, store, provenance, {
      builtin: request.builtinStep !== undefined,
    });
    const metrics = await readMetrics(paths.outputsDir, request.stepId);
    return {
      outputs,
      ...(metrics === undefined ? {} : { metrics }),
      logs,
      exitCode: 0,
      durationMs: outcome.durationMs,
    };
  } catch (error) {
    // Cancelled while materialising inputs or storing outputs: report the cancellation, not what it interrupted.
    if (signal?.aborted) throw ensureError(signal.reason);
    throw error;
  } finally {
    await rm(attemptDir, { recursive: true, force: true });
    if (options.store === undefined) await store.close();
  }
}

/** The error of a non-zero exit: how it ended, where the full log is, and the last lines of stderr. */
function commandFailed(request: CommandStepRequest, outcome: ProcessOutcome, stderrLog: ArtifactRef): MloeError {
  const how = outcome.signal !== null ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
  const tail = outcome.stderrTail === '' ? '(stderr was empty)' : `last lines of stderr:\n${outcome.stderrTail}`;
  return new MloeError(
    'STEP_COMMAND_FAILED',
    `step ${request.stepId}: command ${JSON.stringify(request.command[0])} ${how} after ${outcome.durationMs} ms ` +
      `(full stderr: ${stderrLog.uri}); ${tail}`,
    { retryable: true },
  );
}
