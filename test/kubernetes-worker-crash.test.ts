/**
 * A worker killed (SIGKILL) while its step's Kubernetes Job runs: Temporal times the attempt out on its heartbeat,
 * attempt 2 runs on another worker, finds attempt 1's job through its execution label and follows it to the end.
 * Exactly one job is created for the step (the Kubernetes API test server counts creates). Contract test: see
 * docs/executors.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { HOUSING_DATA } from './support/examples';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { KubernetesTestServer } from '../infra/kubernetes';
import { serverAddress, type TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';
import { S3RVER_CREDENTIALS, type S3TestServer } from './s3-server';
import { startExecutorTestbed, type ExecutorTestbed } from './support/executors-testbed';
import { pollUntil } from './support/poll';

const BUCKET = 'mloe-kube-crash';
const BIN = resolve(__dirname, '..', 'bin', 'mloe.js');
jest.setTimeout(300_000);

describe('a worker killed while its Kubernetes step runs', () => {
  let bed: ExecutorTestbed;
  let s3: S3TestServer;
  let kube: KubernetesTestServer;
  let light: { env: TestEnv; stop: () => Promise<void> };
  let second: { env: TestEnv; stop: () => Promise<void> } | undefined;
  let child: ChildProcess | undefined;
  let directory: string;
  const taskQueue = `mloe-kube-crash-${process.pid}-${Date.now()}`;
  const gpuQueue = `${taskQueue}-gpu`;
  const storeUri = `s3://${BUCKET}/runs`;

  beforeAll(async () => {
    bed = await startExecutorTestbed({ bucket: BUCKET, kubernetes: true });
    [s3, kube, directory] = [bed.s3, bed.kube!, bed.directory];
    light = await startPipelineTestWorker({ taskQueue, artifactStore: { s3: bed.s3Settings } });
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await second?.stop();
    await light?.stop();
    await bed?.close();
  });

  it('re-attaches the retry to the running job: one job, the step completes on attempt 2', async () => {
    const kubeconfig = join(directory, 'kubeconfig.yaml');
    await writeFile(kubeconfig, kube.kubeconfig());
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    Object.assign(env, {
      TEMPORAL_ADDRESS: serverAddress(),
      KUBECONFIG: kubeconfig,
      MLOE_ARTIFACT_STORE: storeUri,
      MLOE_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    });
    if (process.env.MLOE_BUNDLE_CACHE_DIR !== undefined) env.MLOE_BUNDLE_CACHE_DIR = process.env.MLOE_BUNDLE_CACHE_DIR;
    const worker = spawn(process.execPath, [BIN, 'worker', '--task-queue', gpuQueue, '--executor', 'kubernetes'], {
      cwd: directory,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = worker;
    let output = '';
    worker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await pollUntil('the worker ready', () => output.includes('remote steps: kubernetes'), { timeoutMs: 120_000 });

    const gate = join(directory, 'gate');
    const started = await startPipeline(light.env.client, {
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: 'kube-crash' },
        defaults: { cache: false },
        steps: {
          ingest: { uses: 'ingest@1', with: { dataPath: HOUSING_DATA } },
          train: {
            needs: ['ingest'],
            executor: 'kubernetes',
            taskQueue: gpuQueue,
            timeout: '4m',
            heartbeatTimeout: '4s',
            retry: { maxAttempts: 2, initialInterval: '1s' },
            run: {
              image: 'python:3.12-slim',
              command: [
                'sh',
                '-c',
                `while [ ! -f ${gate} ]; do sleep 0.1; done; wc -l < "$MLOE_INPUTS_DIR/train" > "$MLOE_OUTPUTS_DIR/lines"`,
              ],
            },
            inputs: { train: { type: 'dataset' } },
            outputs: { lines: { type: 'file' } },
            with: { train: '${{ steps.ingest.outputs.dataset }}' },
          },
        },
      },
      artifactStore: storeUri,
      workingDir: directory,
      taskQueue,
    });
    const pod = await pollUntil(
      'the job running',
      () =>
        kube.store
          .list('pods', 'default', (labels) => labels?.['mloe.dev/step'] === 'train')
          .find((item) => item.status?.phase === 'Running'),
      { timeoutMs: 120_000 },
    );
    const job = pod.metadata.labels?.['batch.kubernetes.io/job-name'] ?? '';
    worker.kill('SIGKILL');
    await new Promise((resolvePromise) => worker.once('exit', resolvePromise));

    // A new worker for the queue; attempt 2 starts there once attempt 1's heartbeat timed out.
    second = await startPipelineTestWorker({
      taskQueue: gpuQueue,
      artifactStore: { s3: bed.s3Settings },
      executors: { kubernetes: bed.kubernetesExecutor() },
    });
    await pollUntil(
      'attempt 2 running',
      async () => {
        const described = await started.handle.describe();
        const pending = described.raw.pendingActivities?.find((activity) => activity.activityId === 'train');
        return pending !== undefined && Number(pending.attempt) === 2 && pending.heartbeatDetails !== null;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    await writeFile(gate, '');
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 100 });
    expect(outcome.error).toBeUndefined();
    const train = outcome.status.steps.find((step) => step.id === 'train');
    expect(train?.attempts).toBe(2);
    // One job for the step, created once: attempt 2 attached to attempt 1's.
    expect([...kube.stats.jobsCreated.entries()]).toEqual([[`default/${job}`, 1]]);
    expect(kube.stats.jobConflicts).toBe(0);
  });
});
