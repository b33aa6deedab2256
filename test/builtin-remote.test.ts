/**
 * The demo pipeline (`pipelines/penguins/pipeline.yaml`) with its built-in training step (`train@2`) on a remote
 * executor, with only `executor` changed: as a Kubernetes Job on the Kubernetes API test server and as an AWS Batch
 * job on the Batch test server, both running `mloe step exec train@2` (the simulated kubelet and the Batch test
 * server run container commands as local processes; a shim on their PATH runs this checkout's CLI as the image's
 * `mloe`). The model's digest equals that of the same pipeline trained on the worker. Contract tests: see
 * docs/executors.md.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

import { BatchClient, DescribeJobsCommand, ListJobsCommand } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

import { getText, parseArtifactRef, S3ArtifactStore } from '../activities/artifacts';
import { createMlflowClient, mlflowConfig, type Run } from '../activities/mlflow';
import { stopDeployment } from '../activities/ml/steps/deploy-step';
import { DEFAULT_BUILTIN_STEP_IMAGE } from '../activities/steps/remote-builtin';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { PipelineRunStatus, StepRunStatus } from '../workflows/types';
import { startPipelineTestWorker, stepIn, type PipelineTestWorker } from './pipeline-harness';
import { S3RVER_CREDENTIALS } from './s3-server';
import {
  BATCH_TEST_REGION,
  batchTestCredentials,
  startExecutorTestbed,
  type ExecutorTestbed,
} from './support/executors-testbed';

const REPO = resolve(__dirname, '..');
const BUCKET = 'mloe-builtin-remote';
const JOB_QUEUE = 'mloe-builtin';
const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
jest.setTimeout(600_000);

/** The AWS SDK's own variables for an S3-compatible endpoint and its static credentials. */
const S3_ENV = (endpoint: string): Record<string, string> => ({
  AWS_ENDPOINT_URL_S3: endpoint,
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
});

/** The demo pipeline as written, with `executor` set on its `train` step (or left alone for `local`). */
async function penguins(executor: 'local' | 'kubernetes' | 'batch'): Promise<Record<string, unknown>> {
  const spec = parse(await readFile(join(REPO, 'pipelines', 'penguins', 'pipeline.yaml'), 'utf8')) as {
    steps: Record<string, Record<string, unknown>>;
  };
  if (executor !== 'local') spec.steps.train = { ...spec.steps.train, executor };
  return spec;
}

describe('the demo pipeline with its train step on a remote executor', () => {
  let bed: ExecutorTestbed;
  let worker: PipelineTestWorker;
  let directory: string;
  let shims: string;
  const originalPath = process.env.PATH;
  const savedEnv = new Map<string, string | undefined>();
  const taskQueue = `mloe-builtin-remote-${process.pid}-${Date.now()}`;
  const modelName = `penguins-remote-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const runs: Partial<Record<'local' | 'kubernetes' | 'batch', { workflowId: string; status: PipelineRunStatus }>> = {};

  beforeAll(async () => {
    // The image's `mloe`: this checkout's CLI, first on the PATH the simulated kubelet and Batch jobs inherit.
    shims = await mkdtemp(join(tmpdir(), 'mloe-shims-'));
    await writeFile(join(shims, 'mloe'), `#!/bin/sh\nexec node ${JSON.stringify(join(REPO, 'bin', 'mloe.js'))} "$@"\n`);
    await chmod(join(shims, 'mloe'), 0o755);
    process.env.PATH = `${shims}${delimiter}${originalPath ?? ''}`;
    bed = await startExecutorTestbed({ bucket: BUCKET, kubernetes: true, batch: true });
    // evaluate@2 (the champion) and deploy@1's `mloe serve` read registered models with the AWS SDK's own settings:
    // point those at the test S3 server, as an operator points them at MinIO.
    for (const [name, value] of Object.entries(S3_ENV(bed.s3.endpoint))) {
      savedEnv.set(name, process.env[name]);
      process.env[name] = value;
    }
    directory = await mkdtemp(join(tmpdir(), 'mloe-builtin-remote-'));
    await mkdir(directory, { recursive: true });
    // The job definition of built-in steps, as an operator registers it: the mloe image, no command of its own.
    const jobDefinition = await bed.registerJobDefinition('mloe-builtin', DEFAULT_BUILTIN_STEP_IMAGE);
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    worker = await startPipelineTestWorker({
      taskQueue,
      artifactStore: { s3: bed.s3Settings },
      tracking: new MlflowTracker(config, { warn: () => undefined }),
      executors: { kubernetes: bed.kubernetesExecutor(), batch: bed.batchExecutor() },
      // The worker's defaults for built-in steps on Batch (MLOE_BUILTIN_BATCH_JOB_QUEUE, ..._JOB_DEFINITION).
      builtinSteps: { batch: { jobQueue: JOB_QUEUE, jobDefinition } },
    });
  });

  afterAll(async () => {
    await worker?.stop();
    if (directory !== undefined) {
      await stopDeployment(directory, `${modelName}@champion`);
      await rm(directory, { recursive: true, force: true });
    }
    await bed?.close();
    process.env.PATH = originalPath;
    for (const [name, value] of savedEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    if (shims !== undefined) await rm(shims, { recursive: true, force: true });
  });

  /** Runs the demo pipeline with `executor` on train, in a store of its own (no cache hit across runs). */
  async function run(executor: 'local' | 'kubernetes' | 'batch') {
    const started = await startPipeline(worker.env.client, {
      spec: await penguins(executor),
      params: { source: join(REPO, 'node_modules', 'vega-datasets', 'data', 'penguins.json'), modelName },
      artifactStore: `s3://${BUCKET}/runs-${executor}`,
      workingDir: directory,
      taskQueue,
    });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 200 });
    if (outcome.error !== undefined) throw new Error(`the ${executor} run failed`, { cause: outcome.error });
    runs[executor] = { workflowId: started.workflowId, status: outcome.status };
    return { workflowId: started.workflowId, status: outcome.status, train: stepIn(outcome.status, 'train') };
  }

  /** The step's log, as stored in the run's store. */
  async function logOf(step: StepRunStatus, executor: string): Promise<string> {
    const store = new S3ArtifactStore({ bucket: BUCKET, prefix: `runs-${executor}`, config: bed.s3Settings });
    try {
      return await getText(store, parseArtifactRef(step.logs?.stdout));
    } finally {
      await store.close();
    }
  }

  /** The MLflow run of a run's train step (found by its execution tag), its metrics and params by key. */
  async function trackedTrain(workflowId: string) {
    const mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    const experiment = await mlflow.experiments.getByName('penguins');
    const found: Run[] = [];
    for await (const run of mlflow.runs.searchAll({
      experimentIds: [experiment.experimentId],
      filter: `tags.\`mloe.execution\` = '${workflowId}/train'`,
    })) {
      found.push(run);
    }
    expect(found).toHaveLength(1);
    const data = found[0]?.data;
    return {
      metrics: Object.fromEntries((data?.metrics ?? []).map((metric) => [metric.key, metric.value])),
      params: Object.fromEntries((data?.params ?? []).map((param) => [param.key, param.value])),
      status: found[0]?.info.status,
    };
  }

  /** The train step's outputs as the same content: artifacts by digest, type and metadata, values as they are. */
  function sameContent(outputs: StepRunStatus['outputs']): Record<string, unknown> {
    return Object.fromEntries(
      Object.entries(outputs ?? {}).map(([name, value]) => {
        if (value !== null && typeof value === 'object' && 'digest' in value) {
          const { digest, size, type, metadata } = parseArtifactRef(value);
          return [name, { digest, size, type, metadata }];
        }
        return [name, value];
      }),
    );
  }

  /** The same model bytes, output types, metadata and values, and the same metrics, wherever train ran. */
  function expectSameTraining(remote: StepRunStatus, local: StepRunStatus): void {
    expect(parseArtifactRef(remote.outputs?.model).digest).toBe(parseArtifactRef(local.outputs?.model).digest);
    expect(sameContent(remote.outputs)).toEqual(sameContent(local.outputs));
    expect(remote.metrics).toEqual(local.metrics);
  }

  it('trains on the worker first: the baseline', async () => {
    const local = await run('local');
    expect(local.status.state).toBe('completed');
    expect(local.train.logs).toBeUndefined();
    console.log(`[builtin-remote] train@2 on the worker: ${local.train.durationMs ?? NaN} ms`);
  });

  it('runs train as a Kubernetes Job (`mloe step exec train@2` in the mloe image) with the same model digest', async () => {
    const local = stepIn(runs.local!.status, 'train');
    const remote = await run('kubernetes');
    console.log(`[builtin-remote] train@2 as a Kubernetes Job: ${remote.train.durationMs ?? NaN} ms`);
    expectSameTraining(remote.train, local);
    expect(remote.train.cache).toBe('miss');
    // Only train left the worker: the other steps ran there (no logs), as in the baseline.
    expect(stepIn(remote.status, 'features').logs).toBeUndefined();

    // Tracked in MLflow as on the worker: the same metrics and params on the step's run.
    const [trackedLocal, trackedRemote] = [
      await trackedTrain(runs.local!.workflowId),
      await trackedTrain(remote.workflowId),
    ];
    expect(trackedRemote.status).toBe('FINISHED');
    expect(trackedRemote.metrics).toEqual(trackedLocal.metrics);
    expect(Object.keys(trackedRemote.metrics).length).toBeGreaterThan(0);
    expect(trackedRemote.params).toEqual(trackedLocal.params);

    // The Job, through the API: the mloe image, `mloe step exec train@2`, this run's.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(bed.kube!.kubeconfig());
    const jobs = (
      await kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({
        namespace: 'default',
        labelSelector: 'app.kubernetes.io/managed-by=mloe,mloe.dev/step=train',
      })
    ).items.filter((job) => job.metadata?.annotations?.['mloe.dev/workflow-id'] === remote.workflowId);
    expect(jobs).toHaveLength(1);
    const main = jobs[0]?.spec?.template.spec?.containers.find((container) => container.name === 'main');
    expect(main?.image).toBe(DEFAULT_BUILTIN_STEP_IMAGE);
    expect(main?.command).toEqual(['mloe', 'step', 'exec', 'train@2']);
    expect(main?.resources?.limits).toEqual({ cpu: '1', memory: '512Mi' });

    // The step's log is the pod's: what `mloe step exec` printed in the main container.
    const pods = await kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: 'default',
      labelSelector: `batch.kubernetes.io/job-name=${jobs[0]?.metadata?.name ?? ''}`,
    });
    expect(pods.items).toHaveLength(1);
    const podLog = await kubeConfig.makeApiClient(CoreV1Api).readNamespacedPodLog({
      name: pods.items[0]?.metadata?.name ?? '',
      namespace: 'default',
      container: 'main',
    });
    const stepLog = await logOf(remote.train, 'kubernetes');
    expect(stepLog).toBe(podLog);
    expect(stepLog).toMatch(/^mloe step exec train@2: step train of run penguins-/m);
    expect(stepLog).toContain(`output model: model ${parseArtifactRef(local.outputs?.model).digest.slice(0, 19)}`);
    expect(stepLog).toMatch(/^mloe step exec train@2: done in \d+\.\d s$/m);
  });

  it('a train step that fails for good in its Job fails with its own code and is not retried: one Job', async () => {
    const spec = (await penguins('kubernetes')) as { steps: Record<string, { with?: Record<string, unknown> }> };
    spec.steps.train!.with = { ...spec.steps.train!.with, hyperparameters: { treez: 10 } };
    const started = await startPipeline(worker.env.client, {
      spec,
      params: { source: join(REPO, 'node_modules', 'vega-datasets', 'data', 'penguins.json'), modelName },
      artifactStore: `s3://${BUCKET}/runs-kubernetes`,
      workingDir: directory,
      taskQueue,
    });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 200 });
    expect(outcome.error).toBeDefined();
    const train = stepIn(outcome.status, 'train');
    expect(train.state).toBe('failed');
    // The step's own error, as on the worker (CONFIG_INVALID is final): not retried, though the policy allows 3.
    expect(train.error).toMatch(
      /^CONFIG_INVALID: step train: the command exited with code 2 in job mloe-train-a1-[0-9a-f]+; last lines of its log:\n[^]*^error: CONFIG_INVALID: train@2 \(random-forest\): hyperparameters: Unrecognized key: "treez"/m,
    );
    expect(train.attempts).toBe(1);
    const jobs = bed.kube!.store.list('jobs', 'default', (labels) => labels?.['mloe.dev/step'] === 'train');
    expect(
      jobs.filter((job) => job.metadata.annotations?.['mloe.dev/workflow-id'] === started.workflowId),
    ).toHaveLength(1);
  });

  it('runs train as an AWS Batch job with only the executor changed (queue and definition from the worker)', async () => {
    const local = stepIn(runs.local!.status, 'train');
    const remote = await run('batch');
    console.log(`[builtin-remote] train@2 as a Batch job: ${remote.train.durationMs ?? NaN} ms`);
    expectSameTraining(remote.train, local);

    // The job, through the Batch API: the worker's queue, `mloe step exec train@2` in the wrapper, succeeded.
    const client = new BatchClient({
      region: BATCH_TEST_REGION,
      endpoint: bed.batch!.url,
      credentials: batchTestCredentials(),
    });
    const logs = new CloudWatchLogsClient({
      region: BATCH_TEST_REGION,
      endpoint: bed.batch!.url,
      credentials: batchTestCredentials(),
    });
    try {
      const listed = await client.send(new ListJobsCommand({ jobQueue: JOB_QUEUE, jobStatus: 'SUCCEEDED' }));
      const summaries = (listed.jobSummaryList ?? []).filter((job) => (job.jobName ?? '').startsWith('mloe-train-'));
      expect(summaries).toHaveLength(1);
      const described = await client.send(new DescribeJobsCommand({ jobs: [summaries[0]?.jobId ?? ''] }));
      const job = described.jobs?.[0];
      expect(job?.tags?.['mloe.dev/workflow-id']).toBe(remote.workflowId);
      expect(job?.container?.command?.slice(-4)).toEqual(['mloe', 'step', 'exec', 'train@2']);
      const events = await logs.send(
        new GetLogEventsCommand({
          logGroupName: '/aws/batch/job',
          logStreamName: job?.container?.logStreamName ?? '',
          startFromHead: true,
        }),
      );
      const stepLog = await logOf(remote.train, 'batch');
      for (const event of events.events ?? []) expect(stepLog).toContain(event.message ?? '');
      expect(stepLog).toMatch(/^mloe step exec train@2: done in \d+\.\d s$/m);
    } finally {
      client.destroy();
      logs.destroy();
    }
  });
});
