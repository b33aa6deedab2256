/**
 * A pipeline whose training step is a command step, run twice through Temporal: on the worker (`executor: local`)
 * and as a Kubernetes Job on the API test server, with only `executor` changed. The Kubernetes step goes to its own
 * task queue (`taskQueue: <gpu queue>`), served by a second worker started with the Kubernetes executor, while the
 * light steps stay on the first. Cancelling the run deletes the step's job. Contract tests: see docs/executors.md.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { HOUSING_DATA } from './support/examples';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { BatchTestServer } from '../infra/aws-batch/server';
import type { KubernetesTestServer } from '../infra/kubernetes';
import type { TestEnv } from './devserver/harness';
import { startPipelineTestWorker } from './pipeline-harness';
import { startExecutorTestbed, type ExecutorTestbed } from './support/executors-testbed';
import { pollUntil } from './support/poll';

const BUCKET = 'mloe-kube-pipeline';
const DB_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf';
const DB_PASSWORD = 'correct-horse-battery-staple';
jest.setTimeout(240_000);

/** A least-squares fit of price on sqft, in plain Python: the model as JSON, rmse as a metric. */
const TRAIN = [
  'import csv, json, os',
  'rows = list(csv.DictReader(open(os.environ["MLOE_INPUTS_DIR"] + "/train")))',
  'xs = [float(r["sqft"]) for r in rows]; ys = [float(r["price_k"]) for r in rows]',
  'n = len(xs); mx = sum(xs) / n; my = sum(ys) / n',
  'slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)',
  'icpt = my - slope * mx',
  'rmse = (sum((icpt + slope * x - y) ** 2 for x, y in zip(xs, ys)) / n) ** 0.5',
  'out = os.environ["MLOE_OUTPUTS_DIR"]',
  'json.dump({"slope": round(slope, 9), "intercept": round(icpt, 9)}, open(out + "/model", "w"), sort_keys=True)',
  'json.dump({"rows": n}, open(out + "/outputs.json", "w"))',
  'json.dump({"rmse": round(rmse, 9)}, open(out + "/metrics.json", "w"))',
  'print("fitted", n, "rows")',
].join('\n');

function spec(executor: 'local' | 'kubernetes' | 'batch', gpuQueue: string, command = ['python3', '-c', TRAIN]) {
  return {
    apiVersion: 'mloe.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'kube-train' },
    defaults: { cache: false, retry: { maxAttempts: 1 } },
    steps: {
      ingest: { uses: 'ingest@1', with: { dataPath: HOUSING_DATA } },
      train: {
        needs: ['ingest'],
        executor,
        ...(executor === 'batch' ? { batch: { jobQueue: 'gpu', jobDefinition: 'mloe-step:1' } } : {}),
        taskQueue: gpuQueue,
        resources: { cpu: 1, memory: '512Mi' },
        run: { image: 'python:3.12-slim', command },
        inputs: { train: { type: 'dataset' } },
        outputs: { model: { type: 'model' }, rows: { type: 'integer' } },
        with: { train: '${{ steps.ingest.outputs.dataset }}' },
      },
    },
  };
}

describe('a pipeline step on the Kubernetes executor', () => {
  let bed: ExecutorTestbed;
  let kube: KubernetesTestServer;
  let batchServer: BatchTestServer;
  let light: { env: TestEnv; stop: () => Promise<void> };
  let heavy: { env: TestEnv; stop: () => Promise<void> };
  let directory: string;
  const taskQueue = `mloe-kube-test-${process.pid}-${Date.now()}`;
  const gpuQueue = `${taskQueue}-gpu`;
  const storeUri = `s3://${BUCKET}/runs`;

  beforeAll(async () => {
    bed = await startExecutorTestbed({
      bucket: BUCKET,
      kubernetes: true,
      batch: { secretValues: new Map([[DB_SECRET_ARN, DB_PASSWORD]]) },
    });
    [kube, batchServer, directory] = [bed.kube!, bed.batch!, bed.directory];
    await bed.registerJobDefinition('mloe-step', 'python:3.12-slim');
    // The light worker has no remote executor; the heavy one runs the queue the train step names.
    light = await startPipelineTestWorker({ taskQueue, artifactStore: { s3: bed.s3Settings } });
    heavy = await startPipelineTestWorker({
      taskQueue: gpuQueue,
      artifactStore: { s3: bed.s3Settings },
      executors: { kubernetes: bed.kubernetesExecutor(), batch: bed.batchExecutor() },
    });
  });

  afterAll(async () => {
    await heavy?.stop();
    await light?.stop();
    await bed?.close();
  });

  async function run(body: ReturnType<typeof spec>) {
    const started = await startPipeline(light.env.client, {
      spec: body,
      artifactStore: storeUri,
      workingDir: directory,
      taskQueue,
    });
    return { started, outcome: await waitForPipeline(started.handle, { pollIntervalMs: 100 }) };
  }

  it('gives the same outputs as the local run with only the executor changed, as one Job on its own task queue', async () => {
    const local = await run(spec('local', gpuQueue));
    expect(local.outcome.error).toBeUndefined();
    const remote = await run(spec('kubernetes', gpuQueue));
    expect(remote.outcome.error).toBeUndefined();

    const train = (outcome: typeof local.outcome) => outcome.status.steps.find((step) => step.id === 'train');
    const [localTrain, remoteTrain] = [train(local.outcome), train(remote.outcome)];
    expect(remoteTrain?.outputs?.rows).toBe(400);
    // Content-addressed: the same bytes, the same digest, wherever the step ran.
    expect((remoteTrain?.outputs?.model as { digest: string }).digest).toBe(
      (localTrain?.outputs?.model as { digest: string }).digest,
    );
    expect(remoteTrain?.metrics).toEqual(localTrain?.metrics);

    const jobs = kube.store.list('jobs', 'default', (labels) => labels?.['app.kubernetes.io/managed-by'] === 'mloe');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.metadata.annotations?.['mloe.dev/workflow-id']).toBe(remote.started.workflowId);
    expect([...kube.stats.jobsCreated.values()]).toEqual([1]);
    // The activity ran on the gpu queue's worker.
    const history = await remote.started.handle.fetchHistory();
    const scheduled = (history.events ?? [])
      .map((event) => event.activityTaskScheduledEventAttributes)
      .filter((attributes) => attributes?.activityId === 'train');
    expect(scheduled.map((attributes) => attributes?.taskQueue?.name)).toEqual([gpuQueue]);
  });

  it('runs the same step as an AWS Batch job with only the executor changed (and its queue settings)', async () => {
    const local = await run(spec('local', gpuQueue));
    const remote = await run(spec('batch', gpuQueue));
    expect(remote.outcome.error).toBeUndefined();
    const train = (outcome: typeof local.outcome) => outcome.status.steps.find((step) => step.id === 'train');
    expect((train(remote.outcome)?.outputs?.model as { digest: string }).digest).toBe(
      (train(local.outcome)?.outputs?.model as { digest: string }).digest,
    );
    expect(train(remote.outcome)?.metrics).toEqual(train(local.outcome)?.metrics);
    expect([...batchServer.submitted.values()]).toEqual([1]);
  });

  it('gives a batch step the aws-sm: secret its job definition declares; refuses an env: one before submitting', async () => {
    const definition = await bed.registerJobDefinition('mloe-secret', 'python:3.12-slim', [
      { name: 'DB_PASSWORD', valueFrom: DB_SECRET_ARN },
    ]);
    // The step proves it has the value by its length only: nothing secret in outputs or logs.
    const program = [
      'import json, os',
      'out = os.environ["MLOE_OUTPUTS_DIR"]',
      'open(out + "/model", "w").write("m")',
      'json.dump({"rows": len(os.environ["DB_PASSWORD"])}, open(out + "/outputs.json", "w"))',
    ].join('\n');
    const withSecret = (secretRef: string) => {
      const body = spec('batch', gpuQueue, ['python3', '-c', program]);
      return {
        ...body,
        steps: {
          ...body.steps,
          train: {
            ...body.steps.train,
            batch: { jobQueue: 'gpu', jobDefinition: definition },
            run: { ...body.steps.train.run, secrets: { DB_PASSWORD: { secretRef } } },
          },
        },
      };
    };
    const submitted = batchServer.submitBodies.length;
    const remote = await run(withSecret(`aws-sm:${DB_SECRET_ARN}`));
    expect(remote.outcome.error).toBeUndefined();
    const train = remote.outcome.status.steps.find((step) => step.id === 'train');
    expect(train?.outputs?.rows).toBe(DB_PASSWORD.length);
    expect(batchServer.submitBodies.slice(submitted).join('')).not.toContain(DB_PASSWORD);

    const refused = await run(withSecret('env:DB_PASSWORD'));
    expect(refused.outcome.error).toBeDefined();
    const refusedTrain = refused.outcome.status.steps.find((step) => step.id === 'train');
    expect(refusedTrain?.error).toMatch(/secrets\.DB_PASSWORD: steps on the batch executor take AWS secrets only/);
    expect(batchServer.submitBodies).toHaveLength(submitted + 1);
  });

  it('cancelling the run deletes the running job and its pods', async () => {
    const gate = join(directory, 'never');
    const body = spec('kubernetes', gpuQueue, ['sh', '-c', `while [ ! -f ${gate} ]; do sleep 0.1; done`]);
    const started = await startPipeline(light.env.client, {
      spec: body,
      artifactStore: storeUri,
      workingDir: directory,
      taskQueue,
    });
    const running = await pollUntil(
      'the job running',
      () =>
        kube.store
          .list('pods', 'default', (labels) => labels?.['mloe.dev/step'] === 'train')
          .find(
            (pod) =>
              pod.metadata.annotations?.['mloe.dev/workflow-id'] === started.workflowId &&
              pod.status?.phase === 'Running',
          ),
      { timeoutMs: 60_000 },
    );
    const jobName = running.metadata.labels?.['batch.kubernetes.io/job-name'] ?? '';
    await started.handle.cancel();
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 100 });
    expect(outcome.error).toBeDefined();
    // The step was recorded cancelled only after the executor saw the job and its pods gone.
    expect(kube.store.get('jobs', 'default', jobName)).toBeUndefined();
    expect(
      kube.store.list('pods', 'default', (labels) => labels?.['batch.kubernetes.io/job-name'] === jobName),
    ).toEqual([]);
    await writeFile(gate, '');
  });
});
