/**
 * `deploy@1`: makes a registered model live on the local serving target, an `mloe serve` process on this machine.
 * One deployment per model URI, remembered in `<workingDir>/.mloe/serving/<key>.json` (the server's ready file:
 * pid, URL, URI, version). A deployment whose process is alive and serves the version the URI resolves to now is
 * left alone (`changed: false`); one serving an older version of a moved alias is told to reload; otherwise a new
 * detached `mloe serve` starts and the step waits until it listens. Idempotent by construction; never cached (the
 * registry and the processes change without any input changing).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { z } from 'zod';

import { MloeError, ensureError } from '../../../core/errors';
import type { JsonValue } from '../../../core/spec';
import type { StepContext, StepOutput } from '../../steps/registry';
import { resolveVersion } from '../models/registry';
import { modelUriOf } from '../../serving/uris';
import { parseStepInputs } from './inputs';

const inputsSchema = z.object({
  model: z.string().min(1),
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().min(1).default('127.0.0.1'),
});

const stateSchema = z.object({ pid: z.number().int(), url: z.string(), uri: z.string(), version: z.string() });
type DeploymentState = z.infer<typeof stateSchema>;

/** How long a new server may take to load its model and listen. */
const START_TIMEOUT_MS = 120_000;

/** The `mloe` entry point the serving process runs. */
const MLOE_BIN = resolve(__dirname, '..', '..', '..', 'bin', 'mloe.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readState(file: string): Promise<DeploymentState | undefined> {
  try {
    return stateSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch {
    return undefined;
  }
}

/** The version a live deployment serves, or undefined when it does not answer. */
async function servedVersion(url: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { model?: { version?: unknown } };
    return typeof body.model?.version === 'string' ? body.model.version : undefined;
  } catch {
    return undefined;
  }
}

/** The file name of a deployment: the model's name and a hash of its URI. */
function deploymentKey(uri: string): string {
  const name = /^models:\/([^@]+?)(?:@[^@]+|\/\d+)?$/.exec(uri)?.[1] ?? 'model';
  return `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${createHash('sha256').update(uri).digest('hex').slice(0, 16)}`;
}

/** Runs `deploy@1` (see the module doc). */
export async function runDeploy(
  inputs: Readonly<Record<string, JsonValue>>,
  context: StepContext,
): Promise<StepOutput> {
  const values = parseStepInputs('deploy@1', inputsSchema, inputs);
  const uri = modelUriOf(values.model);
  const tracker = context.tracking;
  if (tracker === undefined) {
    throw new MloeError(
      'TRACKING_NOT_CONFIGURED',
      `step ${context.stepId} (deploy@1) serves ${uri} from an MLflow model registry: start the worker with MLFLOW_TRACKING_URI set`,
    );
  }
  const resolved = await resolveVersion(tracker.client.withSignal(context.signal), uri).catch((error: unknown) => {
    throw tracker.failure(error, `step ${context.stepId}: resolving ${uri}`);
  });
  if (resolved === undefined) {
    throw new MloeError(
      'ARTIFACT_NOT_FOUND',
      `deploy@1: nothing is registered as ${uri}; register the model (register@1) first`,
    );
  }
  const { name, version } = resolved.version;
  const directory = join(context.workingDir, '.mloe', 'serving');
  await mkdir(directory, { recursive: true });
  const key = deploymentKey(uri);
  const stateFile = join(directory, `${key}.json`);
  const state = await readState(stateFile);
  const wantedPort = values.port;
  if (state !== undefined && alive(state.pid) && (wantedPort === 0 || new URL(state.url).port === String(wantedPort))) {
    const served = await servedVersion(state.url, context.signal);
    if (served === version) {
      return { outputs: { url: state.url, name, version, pid: state.pid, changed: false } };
    }
    if (served !== undefined) {
      await fetch(`${state.url}/-/reload`, { method: 'POST', signal: context.signal }).catch(() => undefined);
      if ((await servedVersion(state.url, context.signal)) === version) {
        return { outputs: { url: state.url, name, version, pid: state.pid, changed: true } };
      }
    }
  }
  if (state !== undefined && alive(state.pid)) process.kill(state.pid, 'SIGTERM');
  await rm(stateFile, { force: true });
  const logFile = join(directory, `${key}.log`);
  const log = await open(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      MLOE_BIN,
      'serve',
      uri,
      '--host',
      values.host,
      '--port',
      String(wantedPort),
      '--poll-interval',
      '2000',
      '--ready-file',
      stateFile,
    ],
    {
      cwd: context.workingDir,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: { ...process.env, MLFLOW_TRACKING_URI: tracker.config.mlflow.trackingUri },
    },
  );
  child.unref();
  await log.close();
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const ready = await readState(stateFile);
    if (ready !== undefined) {
      return { outputs: { url: ready.url, name, version: ready.version, pid: ready.pid, changed: true } };
    }
    if (exited !== undefined || Date.now() > deadline || context.signal.aborted) {
      const tail = await readFile(logFile, 'utf8').then(
        (text) => text.slice(-1500),
        () => '',
      );
      if (exited === undefined && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      throw new MloeError(
        'INTERNAL',
        `deploy@1: the serving process for ${uri} ${exited === undefined ? 'did not start listening in time' : `exited with code ${String(exited)}`}; its log (${logFile}) ends: ${tail}`,
        { retryable: exited === undefined },
      );
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Stops the local deployment of `model` under `workingDir`, if any (tests and `deploy` housekeeping). */
export async function stopDeployment(workingDir: string, model: string): Promise<boolean> {
  const key = deploymentKey(modelUriOf(model));
  const stateFile = join(workingDir, '.mloe', 'serving', `${key}.json`);
  const state = await readState(stateFile);
  await rm(stateFile, { force: true });
  if (state === undefined || !alive(state.pid)) return false;
  try {
    process.kill(state.pid, 'SIGTERM');
  } catch (error) {
    throw new MloeError('INTERNAL', `could not stop process ${state.pid}: ${ensureError(error).message}`);
  }
  return true;
}
