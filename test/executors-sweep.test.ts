/**
 * The orphan job sweep (`activities/executors/sweep.ts`, `workers/executor-sweeper.ts`, `mloe executors sweep`)
 * through Temporal, against the Kubernetes API and Batch test servers: runs whose step jobs are running lose their
 * worker (it stops; its jobs are left for the next attempt), then some are terminated. The sweep removes the jobs of
 * the terminated runs (a Kubernetes Job deleted with its pods, a Batch job terminated), keeps those of running runs
 * and of another Temporal namespace, and a dry run lists without removing. Contract tests: see docs/executors.md.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';

import { KubernetesExecutor, sweepOrphanJobs, type SweptJob } from '../activities/executors';
import { startPipeline, type PipelineRun } from '../clients/pipelines';
import { startKubernetesTestServer, type KubernetesTestServer } from '../infra/kubernetes';
import { startExecutorSweeper, runStateOf, sweepSources } from '../workers/executor-sweeper';
import { connect, serverAddress, type TestEnv } from './devserver/harness';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';
import { startExecutorTestbed, type ExecutorTestbed } from './support/executors-testbed';
import { MloeChild, childEnv } from './support/mloe-child';
import { pollUntil } from './support/poll';

jest.setTimeout(240_000);

const IMAGE = 'busybox:1.36';
const QUEUE = 'sweep';

describe('the orphan job sweep', () => {
  let bed: ExecutorTestbed;
  let env: TestEnv;
  let worker: PipelineTestWorker | undefined;
  const taskQueue = `mloe-executors-sweep-${process.pid}-${Date.now()}`;
  const runs: PipelineRun[] = [];
  let gate: string;
  let kubeconfigPath: string;
  const run = { terminatedKube: '', runningKube: '', terminatedBatch: '', runningBatch: '' };

  function spec(executor: 'kubernetes' | 'batch') {
    return {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: `sweep-${executor}` },
      // Retried attempts of a step whose worker stopped wait for a worker: the run stays open.
      defaults: { cache: false, retry: { maxAttempts: 5, initialInterval: '1s' } },
      steps: {
        train: {
          executor,
          ...(executor === 'batch' ? { batch: { jobQueue: QUEUE, jobDefinition: 'mloe-step' } } : {}),
          run: { image: IMAGE, command: ['sh', '-c', `while [ ! -f ${gate} ]; do sleep 0.1; done`] },
        },
      },
    };
  }

  const kubeJob = (workflowId: string) =>
    bed
      .kube!.store.list('jobs', undefined, (labels) => labels?.['app.kubernetes.io/managed-by'] === 'mloe')
      .find(
        (job) =>
          job.metadata.annotations?.['mloe.dev/workflow-id'] === workflowId &&
          job.metadata.annotations['mloe.dev/temporal-namespace'] === 'default',
      );
  const kubePods = (jobName: string) =>
    bed.kube!.store.list('pods', undefined, (labels) => labels?.['batch.kubernetes.io/job-name'] === jobName);
  const batchJob = (workflowId: string) =>
    [...bed.batch!.jobs.values()].find((job) => job.tags?.['mloe.dev/workflow-id'] === workflowId);

  beforeAll(async () => {
    bed = await startExecutorTestbed({ bucket: 'mloe-sweep', kubernetes: true, batch: { jobQueues: [QUEUE] } });
    gate = join(bed.directory, 'gate');
    kubeconfigPath = join(bed.directory, 'kubeconfig.yaml');
    await writeFile(kubeconfigPath, bed.kube!.kubeconfig());
    await bed.registerJobDefinition('mloe-step', IMAGE);
    env = await connect();
    worker = await startPipelineTestWorker({
      taskQueue,
      artifactStore: { s3: bed.s3Settings },
      executors: { kubernetes: bed.kubernetesExecutor(), batch: bed.batchExecutor() },
    });
    const start = async (executor: 'kubernetes' | 'batch'): Promise<string> => {
      const started = await startPipeline(env.client, {
        spec: spec(executor),
        artifactStore: `s3://mloe-sweep/runs`,
        workingDir: bed.directory,
        taskQueue,
      });
      runs.push(started);
      return started.workflowId;
    };
    run.terminatedKube = await start('kubernetes');
    run.runningKube = await start('kubernetes');
    run.terminatedBatch = await start('batch');
    run.runningBatch = await start('batch');
    await pollUntil(
      'every job running',
      () =>
        [run.terminatedKube, run.runningKube].every((id) => {
          const job = kubeJob(id);
          return job !== undefined && kubePods(job.metadata.name)[0]?.status?.phase === 'Running';
        }) && [run.terminatedBatch, run.runningBatch].every((id) => batchJob(id)?.status === 'RUNNING'),
      { timeoutMs: 90_000 },
    );
    // The worker goes away (its jobs stay, for the next attempt), then two runs are terminated: nobody watches
    // their jobs any more.
    await worker.stop();
    worker = undefined;
    for (const id of [run.terminatedKube, run.terminatedBatch]) {
      await env.client.workflow.getHandle(id).terminate('test: terminated while its job runs');
    }
  });

  afterAll(async () => {
    if (gate !== undefined) await writeFile(gate, '').catch(() => undefined);
    for (const started of runs) await started.handle.terminate('test cleanup').catch(() => undefined);
    await worker?.stop();
    await env?.close();
    await bed?.close();
  });

  /** The environment of an `mloe` process that reaches the test servers like the worker's executors. */
  const mloeEnv = (): NodeJS.ProcessEnv =>
    childEnv({
      TEMPORAL_ADDRESS: serverAddress(),
      MLOE_EXECUTORS: 'kubernetes,batch',
      KUBECONFIG: kubeconfigPath,
      MLOE_BATCH_ENDPOINT: bed.batch!.url,
      MLOE_CLOUDWATCH_LOGS_ENDPOINT: bed.batch!.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...(process.env.MLOE_BUNDLE_CACHE_DIR === undefined
        ? {}
        : { MLOE_BUNDLE_CACHE_DIR: process.env.MLOE_BUNDLE_CACHE_DIR }),
    });

  test('a dry run lists the jobs of closed runs and keeps the rest, removing nothing', async () => {
    const swept = await sweepOrphanJobs(
      sweepSources({ kubernetes: bed.kubernetesExecutor(), batch: bed.batchExecutor() }),
      {
        namespace: 'default',
        describe: runStateOf(env.client),
        dryRun: true,
      },
    );
    const byRun = (id: string): SweptJob | undefined => swept.find((job) => job.job.workflowId === id);
    expect(byRun(run.terminatedKube)).toMatchObject({ action: 'would-remove', reason: 'its run is TERMINATED' });
    expect(byRun(run.terminatedBatch)).toMatchObject({ action: 'would-remove', reason: 'its run is TERMINATED' });
    expect(byRun(run.runningKube)).toMatchObject({ action: 'kept', reason: 'its run is running' });
    expect(byRun(run.runningBatch)).toMatchObject({ action: 'kept', reason: 'its run is running' });
    expect(kubeJob(run.terminatedKube)).toBeDefined();
    expect(batchJob(run.terminatedBatch)?.status).toBe('RUNNING');
  });

  test("the worker's sweeper removes the jobs of terminated runs only, never another namespace's", async () => {
    // A job of the same run id, but of another Temporal namespace (another team's workers share the cluster).
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(bed.kube!.kubeconfig());
    const foreign = 'mloe-foreign-a1-0123456789';
    await kubeConfig.makeApiClient(BatchV1Api).createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: {
          name: foreign,
          labels: { 'app.kubernetes.io/managed-by': 'mloe' },
          annotations: { 'mloe.dev/workflow-id': run.terminatedKube, 'mloe.dev/temporal-namespace': 'other-team' },
        },
        spec: {
          backoffLimit: 0,
          template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'mloe-test/hang' }] } },
        },
      },
    });
    const terminatedJob = kubeJob(run.terminatedKube)!.metadata.name;
    const reports: string[] = [];
    const sweeper = startExecutorSweeper({
      connection: env.nativeConnection,
      executors: { kubernetes: bed.kubernetesExecutor(), batch: bed.batchExecutor() },
      intervalMs: 3_600_000,
      report: (message) => reports.push(message),
    });
    try {
      const swept = await sweeper.sweep();
      expect(swept.find((job) => job.job.name === foreign)).toMatchObject({
        action: 'kept',
        reason: 'it belongs to Temporal namespace other-team',
      });
    } finally {
      await sweeper.stop();
    }
    // The Job and its pods are gone (foreground deletion), the Batch job terminated with the reason.
    await pollUntil(
      'the job and its pods deleted',
      () => kubeJob(run.terminatedKube) === undefined && kubePods(terminatedJob).length === 0,
    );
    expect(batchJob(run.terminatedBatch)).toMatchObject({
      status: 'FAILED',
      statusReason: "Terminated by mloe's orphan sweep: its run is TERMINATED",
    });
    expect(reports).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^removed kubernetes job ${terminatedJob} \\(namespace default, Running\\) of run ${run.terminatedKube}: its run is TERMINATED$`,
        ),
      ),
    );
    expect(reports).toContainEqual(
      expect.stringMatching(new RegExp(`^removed batch job .* of run ${run.terminatedBatch}: its run is TERMINATED$`)),
    );
    expect(reports.filter((line) => line.startsWith('removed'))).toHaveLength(2);
    // The running runs' jobs, and the other namespace's, are untouched.
    expect(kubePods(kubeJob(run.runningKube)!.metadata.name)[0]?.status?.phase).toBe('Running');
    expect(batchJob(run.runningBatch)?.status).toBe('RUNNING');
    expect(bed.kube!.store.get('jobs', 'default', foreign)).toBeDefined();
  });

  test('mloe executors sweep: --dry-run lists, then a sweep removes the job of a run terminated since', async () => {
    await env.client.workflow.getHandle(run.runningKube).terminate('test: terminated for the CLI sweep');
    const cliEnv = mloeEnv();
    const job = kubeJob(run.runningKube)!.metadata.name;
    const dry = new MloeChild(['executors', 'sweep', '--dry-run'], { cwd: bed.directory, env: cliEnv });
    expect((await dry.exited).code).toBe(0);
    expect(dry.stdout).toContain(
      `would remove kubernetes job ${job} (namespace default, Running) of run ${run.runningKube}: its run is TERMINATED`,
    );
    expect(dry.stdout).toMatch(new RegExp(`kept batch job .* of run ${run.runningBatch}: its run is running`));
    expect(dry.stdout).toMatch(/dry run: 1 job\(s\) would be removed, \d+ kept; nothing was removed/);
    expect(kubeJob(run.runningKube)).toBeDefined();

    const sweep = new MloeChild(['executors', 'sweep'], { cwd: bed.directory, env: cliEnv });
    expect((await sweep.exited).code).toBe(0);
    expect(sweep.stdout).toContain(`removed kubernetes job ${job}`);
    expect(sweep.stdout).toMatch(/^1 job\(s\) removed, \d+ kept$/m);
    await pollUntil('the job deleted', () => kubeJob(run.runningKube) === undefined);
    expect(batchJob(run.runningBatch)?.status).toBe('RUNNING');
  });

  test('mloe worker --executor batch sweeps as it starts: the job of a run terminated while no worker ran goes', async () => {
    await env.client.workflow.getHandle(run.runningBatch).terminate('test: terminated before a worker starts');
    const worker = new MloeChild(['worker', '--executor', 'batch', '--task-queue', `${taskQueue}-idle`], {
      cwd: bed.directory,
      env: mloeEnv(),
    });
    try {
      const line = new RegExp(
        `\\[mloe executors\\] removed batch job \\S+ \\(queue ${QUEUE}, RUNNING\\) of run ${run.runningBatch}: its run is TERMINATED`,
      );
      await pollUntil('the sweep line', () => line.test(worker.stderr), { timeoutMs: 120_000, intervalMs: 200 });
      expect(batchJob(run.runningBatch)?.status).toBe('FAILED');
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
    }
  });
});

describe("the sweep's view of a cluster it may not list cluster-wide", () => {
  let kube: KubernetesTestServer;

  beforeAll(async () => {
    kube = await startKubernetesTestServer({ forbidClusterWideLists: true });
  });

  afterAll(async () => {
    await kube?.close();
  });

  test('lists unfinished mloe jobs of its own namespaces only, after a warning naming them', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kube.kubeconfig('ml'));
    const api = kubeConfig.makeApiClient(BatchV1Api);
    const create = (namespace: string, name: string, image: string, managed = true) =>
      api.createNamespacedJob({
        namespace,
        body: {
          metadata: {
            name,
            labels: managed ? { 'app.kubernetes.io/managed-by': 'mloe' } : {},
            annotations: { 'mloe.dev/workflow-id': `run-${name}`, 'mloe.dev/temporal-namespace': 'default' },
          },
          spec: {
            backoffLimit: 0,
            template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image }] } },
          },
        },
      });
    await create('ml', 'mloe-running', 'mloe-test/hang');
    await create('ml', 'mloe-done', 'mloe-test/succeed');
    await create('ml', 'not-ours', 'mloe-test/hang', false);
    await create('elsewhere', 'mloe-elsewhere', 'mloe-test/hang');
    await pollUntil('the finished job complete', async () => {
      const job = await api.readNamespacedJob({ namespace: 'ml', name: 'mloe-done' });
      return job.status?.conditions?.some((condition) => condition.type === 'Complete');
    });
    const executor = new KubernetesExecutor({ kubeconfig: kube.kubeconfig('ml') });
    try {
      const warnings: string[] = [];
      const jobs = await executor.listManagedJobs((message) => warnings.push(message));
      expect(jobs.map(({ status: _status, ...job }) => job)).toEqual([
        {
          executor: 'kubernetes',
          id: 'mloe-running',
          name: 'mloe-running',
          where: 'ml',
          workflowId: 'run-mloe-running',
          temporalNamespace: 'default',
        },
      ]);
      expect(jobs[0]?.status).toMatch(/^(Running|Pending)$/);
      expect(warnings).toEqual([
        expect.stringMatching(/may not list jobs in all namespaces \(403\); sweeping ml only/),
      ]);
    } finally {
      await executor.close();
    }
  });
});
