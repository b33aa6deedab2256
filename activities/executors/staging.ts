/**
 * Moving a remote step's inputs in and outputs out without mloe (or Node) in the user's image. The worker stages
 * everything in the run's `s3://` artifact store and hands the containers presigned URLs (`./presign.ts`):
 *
 * - in: a stage-in container (a small image with `sh`, `curl` and `sha256sum`, `curlimages/curl` by default) fetches
 *   `params.json`, `inputs.json` and each input into the shared volume before the user's container starts, and checks
 *   every artifact against its sha256 (`sha256sum -c`): a corrupt input fails the step before the command runs;
 * - out: a stage-out sidecar waits for SIGTERM, which the kubelet sends once the user's container has exited, then
 *   PUTs each declared output file, `outputs.json` and `metrics.json` that exists to the staging area and a manifest
 *   last; the worker reads the manifest, stores the staged files in the content-addressed store (digests computed
 *   as for local steps) through the local runner's collector, and deletes the staging area.
 *
 * Staging keys: `<prefix>/staging/<job>/in/…` and `<prefix>/staging/<job>/out/…`, one area per job. Objects left by
 * a crashed worker are garbage: expire `<prefix>/staging/` with a bucket lifecycle rule (docs/executors.md).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand } from '@aws-sdk/client-s3';

import { MloeError } from '../../core/errors';
import { digestHex, parseArtifactRef, S3ArtifactStore, type ArtifactStore } from '../artifacts';
import { parseS3Uri } from '../artifacts/keys';
import type { CommandStepRequest, CommandStepResult } from '../runner';
import { collectOutputs, readMetrics, storeLog } from '../runner/io';
import { isArtifactType } from '../runner/contract';
import { pause } from './pause';
import { presignS3Url } from './presign';

/** The shared volume's mount path in every container of a remote step. */
export const STAGE_ROOT = '/mloe';

/** The manifest the stage-out container writes last: one staged file name per line. */
const MANIFEST = 'manifest.txt';

/** Where a job's files live in the container, as the command sees them (docs/command-steps.md). */
export const CONTAINER_PATHS = {
  MLOE_WORK_DIR: `${STAGE_ROOT}/work`,
  MLOE_INPUTS_DIR: `${STAGE_ROOT}/work/inputs`,
  MLOE_OUTPUTS_DIR: `${STAGE_ROOT}/work/outputs`,
  MLOE_INPUTS_FILE: `${STAGE_ROOT}/work/inputs.json`,
  MLOE_PARAMS_FILE: `${STAGE_ROOT}/work/params.json`,
  TMPDIR: `${STAGE_ROOT}/tmp`,
} as const;

/** Environment variables as a pod spec or a Batch container override lists them. */
export type EnvList = { name: string; value: string }[];

/** What the containers of one job need to stage in and out. */
export interface StagingPlan {
  /** The command's environment (paths, ids and the step's own `env`). */
  commandEnv: EnvList;
  /** The stage-in container: its script (for `sh -c`) and environment (paths and presigned GET URLs). */
  stageIn: { script: string; env: EnvList };
  /**
   * The stage-out container: its script and environment (paths and presigned PUT URLs); `upload` is the shell function
   * alone (`upload`), for executors that run it after the command in the same container (AWS Batch).
   */
  stageOut: { script: string; upload: string; env: EnvList };
}

/** The run's store as an S3 store: remote executors stage through presigned URLs, which a file store cannot give. */
export function requireS3Store(store: ArtifactStore, executor: string): S3ArtifactStore {
  if (store instanceof S3ArtifactStore) return store;
  throw new MloeError(
    'STEP_STAGING_FAILED',
    `the ${executor} executor moves inputs and outputs through presigned S3 URLs, and this run's artifact store is ` +
      `${store.rootUri}: run with --artifact-store s3://<bucket>/<prefix> (or MLOE_ARTIFACT_STORE) for remote steps`,
    { retryable: false },
  );
}

function stagingKey(store: S3ArtifactStore, job: string, path: string): string {
  return [store.prefix, 'staging', job, path].filter((part) => part !== '').join('/');
}

function looksLikeRef(value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'uri' in value && 'digest' in value;
}

/**
 * Uploads `params.json`, `inputs.json` and scalar inputs to the job's staging area and presigns every URL the job's
 * containers use (valid `expiresInSeconds`, which should cover the job's whole life, queueing included).
 */
export async function planStaging(
  store: S3ArtifactStore,
  request: CommandStepRequest,
  job: string,
  expiresInSeconds: number,
): Promise<StagingPlan> {
  const paths: EnvList = Object.entries(CONTAINER_PATHS).map(([name, value]) => ({ name, value }));
  const put = async (path: string, body: string): Promise<string> => {
    const key = stagingKey(store, job, path);
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body }));
    return presignS3Url(store.client, 'GET', store.bucket, key, expiresInSeconds);
  };
  const described: Record<string, unknown> = {};
  const inEnv: EnvList = [...paths];
  const lines = [
    'set -eu',
    'mkdir -p "$MLOE_INPUTS_DIR" "$MLOE_OUTPUTS_DIR" "$TMPDIR"',
    'fetch() { curl -fsSL --retry 5 --retry-all-errors -o "$2" "$1"; }',
    'fetch "$MLOE_GET_PARAMS" "$MLOE_PARAMS_FILE"',
  ];
  inEnv.push({
    name: 'MLOE_GET_PARAMS',
    value: await put('in/params.json', `${JSON.stringify(request.params, null, 2)}\n`),
  });
  let index = 0;
  for (const [name, value] of Object.entries(request.inputs)) {
    const variable = `MLOE_GET_${index++}`;
    if (looksLikeRef(value)) {
      const ref = parseArtifactRef(value);
      let location;
      try {
        location = parseS3Uri(ref.uri);
      } catch (error) {
        throw new MloeError(
          'STEP_STAGING_FAILED',
          `input ${name} of step ${request.stepId} is ${ref.uri}, which a container cannot fetch: remote steps need their inputs in an s3:// store`,
          { retryable: false, cause: error },
        );
      }
      inEnv.push({
        name: variable,
        value: await presignS3Url(store.client, 'GET', location.bucket, location.key, expiresInSeconds),
      });
      lines.push(`fetch "$${variable}" "$MLOE_INPUTS_DIR/${name}"`);
      lines.push(`echo "${digestHex(ref.digest)}  $MLOE_INPUTS_DIR/${name}" | sha256sum -c -`);
      described[name] = { ...ref, path: `@MLOE_INPUTS_DIR@/${name}` };
    } else {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if (text === undefined) {
        throw new MloeError('STEP_COMMAND_INVALID', `input ${name} is not a JSON value`, { retryable: false });
      }
      inEnv.push({ name: variable, value: await put(`in/inputs/${name}`, text) });
      lines.push(`fetch "$${variable}" "$MLOE_INPUTS_DIR/${name}"`);
      described[name] = value;
    }
  }
  inEnv.push({
    name: 'MLOE_GET_INPUTS',
    value: await put('in/inputs.json', `${JSON.stringify(described, null, 2)}\n`),
  });
  lines.push('fetch "$MLOE_GET_INPUTS" "$TMPDIR/inputs.json"');
  lines.push('sed "s#@MLOE_INPUTS_DIR@#$MLOE_INPUTS_DIR#g" "$TMPDIR/inputs.json" > "$MLOE_INPUTS_FILE"');
  lines.push('rm -f "$TMPDIR/inputs.json"');

  const outEnv: EnvList = [...paths];
  const staged = [
    'outputs.json',
    'metrics.json',
    ...Object.entries(request.outputs)
      .filter(([, port]) => isArtifactType(port.type))
      .map(([name]) => name),
  ];
  const upload = ['upload() {', '  ok=1', '  : > "$TMPDIR/manifest.txt"'];
  for (const [position, name] of staged.entries()) {
    const variable = `MLOE_PUT_${position}`;
    outEnv.push({
      name: variable,
      value: await presignS3Url(
        store.client,
        'PUT',
        store.bucket,
        stagingKey(store, job, `out/${name}`),
        expiresInSeconds,
      ),
    });
    upload.push(
      `  if [ -f "$MLOE_OUTPUTS_DIR/${name}" ] && [ ! -L "$MLOE_OUTPUTS_DIR/${name}" ]; then`,
      `    if curl -fsS --retry 5 --retry-all-errors -T "$MLOE_OUTPUTS_DIR/${name}" "$${variable}"; then echo "${name}" >> "$TMPDIR/manifest.txt"; else ok=0; fi`,
      '  fi',
    );
  }
  outEnv.push({
    name: 'MLOE_PUT_MANIFEST',
    value: await presignS3Url(
      store.client,
      'PUT',
      store.bucket,
      stagingKey(store, job, `out/${MANIFEST}`),
      expiresInSeconds,
    ),
  });
  upload.push(
    '  if [ "$ok" = 1 ]; then curl -fsS --retry 5 --retry-all-errors -T "$TMPDIR/manifest.txt" "$MLOE_PUT_MANIFEST"; fi',
    '}',
  );
  const uploadFunction = upload.join('\n');
  upload.push(
    // The kubelet sends SIGTERM once the step's container has exited; `wait` returns at once when it arrives.
    "trap 'upload; exit 0' TERM",
    'while :; do sleep 1 & wait $!; done',
  );

  const ids: EnvList = [
    { name: 'MLOE_STEP_ID', value: request.stepId },
    { name: 'MLOE_WORKFLOW_ID', value: request.workflowId },
  ];
  return {
    commandEnv: [...paths, ...ids, ...Object.entries(request.env ?? {}).map(([name, value]) => ({ name, value }))],
    stageIn: { script: lines.join('\n'), env: inEnv },
    stageOut: { script: upload.join('\n'), upload: uploadFunction, env: outEnv },
  };
}

/** The staged manifest (names of staged files), or undefined when the stage-out container has not written it. */
export async function readStagedManifest(store: S3ArtifactStore, job: string): Promise<string[] | undefined> {
  try {
    const object = await store.client.send(
      new GetObjectCommand({ Bucket: store.bucket, Key: stagingKey(store, job, `out/${MANIFEST}`) }),
    );
    const text = (await object.Body?.transformToString('utf8')) ?? '';
    return text.split('\n').filter((line) => line !== '');
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw new MloeError('STEP_STAGING_FAILED', `could not read the staged manifest of job ${job}`, {
      retryable: true,
      cause: error,
    });
  }
}

/**
 * Waits up to `waitMs` for a finished job's manifest (a job can finish a moment before its last upload is visible):
 * the manifest, `undefined` when it never came, `'cancelled'` when `signal` aborted first.
 */
export async function waitForStagedManifest(
  store: S3ArtifactStore,
  job: string,
  options: { waitMs: number; intervalMs: number; signal?: AbortSignal },
): Promise<string[] | undefined | 'cancelled'> {
  const deadline = performance.now() + options.waitMs;
  for (;;) {
    const manifest = await readStagedManifest(store, job);
    if (manifest !== undefined) return manifest;
    if (options.signal?.aborted === true) return 'cancelled';
    if (performance.now() >= deadline) return undefined;
    await pause(options.intervalMs, options.signal);
  }
}

/**
 * The result of a remote job that succeeded, as the local runner would give it: its staged outputs collected
 * ({@link collectStaged}), the container log at `logPath` stored as the step's stdout and stderr (one stream: the
 * platform keeps them interleaved), and the staging area removed.
 */
export async function stagedStepResult(
  store: S3ArtifactStore,
  request: CommandStepRequest,
  job: string,
  manifest: readonly string[],
  log: { path: string; startedAt: number },
): Promise<CommandStepResult> {
  const collected = await collectStaged(store, request, job, manifest);
  const logRef = await storeLog(log.path, 'stdout', store, { stepId: request.stepId, workflowId: request.workflowId });
  await removeStaging(store, request, job);
  return {
    ...collected,
    logs: { stdout: logRef, stderr: logRef },
    exitCode: 0,
    durationMs: Math.round(performance.now() - log.startedAt),
  };
}

/**
 * Reads a finished job's staged outputs into a local directory and collects them exactly as the local runner does:
 * artifact outputs stored (digest computed on the way), `outputs.json` checked against the declared types,
 * `metrics.json` read. The local copy is removed afterwards.
 */
export async function collectStaged(
  store: S3ArtifactStore,
  request: CommandStepRequest,
  job: string,
  manifest: readonly string[],
): Promise<{ outputs: Record<string, unknown>; metrics?: Record<string, number> }> {
  const directory = await mkdtemp(join(tmpdir(), 'mloe-staged-'));
  try {
    const outputsDir = join(directory, 'outputs');
    await mkdir(outputsDir);
    for (const name of manifest) {
      if (!/^([A-Za-z_][A-Za-z0-9_]*|outputs\.json|metrics\.json)$/.test(name)) continue;
      const object = await store.client.send(
        new GetObjectCommand({ Bucket: store.bucket, Key: stagingKey(store, job, `out/${name}`) }),
      );
      if (!(object.Body instanceof Readable)) throw new MloeError('INTERNAL', 'S3 GetObject returned no stream');
      await pipeline(object.Body, createWriteStream(join(outputsDir, name), { flags: 'wx' }));
    }
    const provenance = { stepId: request.stepId, workflowId: request.workflowId };
    const outputs = await collectOutputs(request.outputs, outputsDir, store, provenance, {
      builtin: request.builtinStep !== undefined,
    });
    const metrics = await readMetrics(outputsDir, request.stepId);
    return { outputs, ...(metrics === undefined ? {} : { metrics }) };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Deletes a job's staging area (best effort: a lifecycle rule expires what is left). */
export async function removeStaging(store: S3ArtifactStore, request: CommandStepRequest, job: string): Promise<void> {
  const paths = [
    'in/params.json',
    'in/inputs.json',
    ...Object.keys(request.inputs).map((name) => `in/inputs/${name}`),
    `out/${MANIFEST}`,
    'out/outputs.json',
    'out/metrics.json',
    ...Object.keys(request.outputs).map((name) => `out/${name}`),
  ];
  await Promise.all(
    paths.map((path) =>
      store.client
        .send(new DeleteObjectCommand({ Bucket: store.bucket, Key: stagingKey(store, job, path) }))
        .catch(() => undefined),
    ),
  );
}
