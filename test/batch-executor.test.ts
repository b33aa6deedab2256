/**
 * Contract tests of the AWS Batch executor against the Batch test server (infra/aws-batch: SubmitJob, DescribeJobs,
 * ListJobs, TerminateJob and CloudWatch Logs' GetLogEvents; jobs run locally or play scripted failures) with the
 * official AWS SDK clients, and s3rver as the store the job's staging wrapper reaches through presigned URLs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CancelledFailure } from '@temporalio/common';

import { S3ArtifactStore, type ArtifactRef } from '../activities/artifacts';
import {
  BatchExecutor,
  batchResourceRequirements,
  jobName,
  type ExecutionContext,
  type RemoteCommandRequest,
  type RemoteProgress,
} from '../activities/executors';
import { MloeError } from '../core/errors';
import { startBatchTestServer, type BatchTestServer } from '../infra/aws-batch/server';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';
import { pollUntil } from './support/poll';

const BUCKET = 'mloe-batch';
jest.setTimeout(120_000);

describe('the AWS Batch executor', () => {
  let s3: S3TestServer;
  let server: BatchTestServer;
  let store: S3ArtifactStore;
  let executor: BatchExecutor;
  let directory: string;
  let data: ArtifactRef;
  let counter = 0;

  beforeAll(async () => {
    [s3, server] = await Promise.all([startS3Server({ buckets: [BUCKET] }), startBatchTestServer()]);
    store = new S3ArtifactStore({
      bucket: BUCKET,
      prefix: 'team',
      config: { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS },
    });
    executor = newExecutor();
    directory = await mkdtemp(join(tmpdir(), 'mloe-batch-exec-'));
    data = await store.put(Buffer.from('1\n2\n3\n'), { type: 'dataset' });
  });

  afterAll(async () => {
    await executor?.close();
    await server?.close();
    await store?.close();
    await s3?.stop();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  function newExecutor(): BatchExecutor {
    return new BatchExecutor({
      region: 'us-east-1',
      endpoint: server.url,
      logsEndpoint: server.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      pollIntervalMs: 50,
      manifestWaitMs: 5_000,
    });
  }

  function request(command: string[], jobDefinition = 'mloe-step:1'): RemoteCommandRequest {
    counter += 1;
    return {
      stepId: 'train',
      workflowId: `batch-test-${process.pid}-${counter}`,
      command,
      params: { factor: 2 },
      inputs: { data },
      outputs: { lines: { type: 'file' }, rows: { type: 'integer' } },
      artifactRoot: store.rootUri,
      image: 'python:3.12',
      placement: {
        executor: 'batch',
        resources: { cpu: 2, memory: '4Gi', gpu: 1 },
        batch: { jobQueue: 'gpu', jobDefinition },
      },
    };
  }

  function context(attempt = 1, signal = new AbortController().signal, timeoutMs?: number) {
    const reports: RemoteProgress[] = [];
    const value: ExecutionContext = {
      attempt,
      signal,
      store,
      progress: (p) => reports.push(p),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    };
    return { value, reports };
  }

  const SUCCESS = [
    'sh',
    '-c',
    'wc -l < "$MLOE_INPUTS_DIR/data" | tr -d " " > "$MLOE_OUTPUTS_DIR/lines"; echo "{\\"rows\\": 3}" > "$MLOE_OUTPUTS_DIR/outputs.json"; echo \'{"auc": 0.9}\' > "$MLOE_OUTPUTS_DIR/metrics.json"; echo done training',
  ];

  async function failure(req: RemoteCommandRequest, timeoutMs?: number): Promise<MloeError> {
    const error = await executor.run(req, context(1, undefined, timeoutMs).value).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MloeError);
    return error as MloeError;
  }

  test('submits one job with the resources, stages inputs and outputs, reads the CloudWatch log', async () => {
    const req = request(SUCCESS);
    const { value, reports } = context(1, undefined, 30_000);
    const result = await executor.run(req, value);
    expect(result.outputs.rows).toBe(3);
    expect(result.metrics).toEqual({ auc: 0.9 });
    const lines = await store.get(result.outputs.lines as ArtifactRef);
    let text = '';
    for await (const chunk of lines) text += String(chunk);
    expect(text).toBe('3\n');
    const name = jobName(req, 1);
    expect(server.submitted.get(name)).toBe(1);
    const job = [...server.jobs.values()].find((item) => item.jobName === name);
    expect(job?.container.resourceRequirements).toEqual([
      { type: 'VCPU', value: '2' },
      { type: 'MEMORY', value: '4096' },
      { type: 'GPU', value: '1' },
    ]);
    expect(job?.timeout).toEqual({ attemptDurationSeconds: 60 });
    expect(job?.tags?.['app.kubernetes.io/managed-by']).toBe('mloe');
    expect(reports.map((report) => report.phase)).toContain('SUCCEEDED');
    const log = store.get(result.logs.stdout as ArtifactRef);
    let logText = '';
    for await (const chunk of await log) logText += String(chunk);
    expect(logText).toContain('done training');
  });

  test.each([
    ['mloe-test-oom', 'STEP_OUT_OF_MEMORY', false],
    ['mloe-test-imagepull', 'STEP_IMAGE_PULL_FAILED', false],
    ['mloe-test-host-terminated', 'STEP_INFRASTRUCTURE_FAILED', true],
    ['mloe-test-timeout', 'STEP_DEADLINE_EXCEEDED', true],
  ])('job definition %s fails with %s (retryable: %s)', async (definition, code, retryable) => {
    const error = await failure(request(['true'], definition));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
  });

  test('a non-zero exit is STEP_COMMAND_FAILED with the tail of the log', async () => {
    const error = await failure(request(['sh', '-c', 'echo "diverged at epoch 3" >&2; exit 5']));
    expect(error.code).toBe('STEP_COMMAND_FAILED');
    expect(error.message).toMatch(/exited with code 5/);
    expect(error.message).toMatch(/diverged at epoch 3/);
  });

  test('cancelling terminates the job', async () => {
    const req = request(['sleep', '300']);
    const controller = new AbortController();
    const running = executor.run(req, context(1, controller.signal).value);
    const name = jobName(req, 1);
    await pollUntil(
      'the job running',
      () => [...server.jobs.values()].some((job) => job.jobName === name && job.status === 'RUNNING'),
      { timeoutMs: 30_000 },
    );
    controller.abort(new CancelledFailure('CANCELLED'));
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    const job = [...server.jobs.values()].find((item) => item.jobName === name);
    expect(job?.status).toBe('FAILED');
    expect(job?.statusReason).toBe('Terminated by mloe: the step was cancelled');
  });

  test('a worker that dies mid-job: the next attempt attaches to its job (one job submitted)', async () => {
    const gate = join(directory, `gate-${counter}`);
    const req = request([
      'sh',
      '-c',
      `while [ ! -f ${gate} ]; do sleep 0.05; done; echo 1 > "$MLOE_OUTPUTS_DIR/lines"; echo '{"rows": 1}' > "$MLOE_OUTPUTS_DIR/outputs.json"`,
    ]);
    const name = jobName(req, 1);
    const first = new AbortController();
    const dying = executor.run(req, context(1, first.signal).value);
    await pollUntil(
      'the job running',
      () => [...server.jobs.values()].some((job) => job.jobName === name && job.status === 'RUNNING'),
      { timeoutMs: 30_000 },
    );
    first.abort(new CancelledFailure('WORKER_SHUTDOWN'));
    await expect(dying).rejects.toBeInstanceOf(CancelledFailure);
    const second = newExecutor();
    try {
      const { value, reports } = context(2);
      const resumed = second.run(req, value);
      await pollUntil('attached', () => reports.length > 0);
      await writeFile(gate, '');
      expect((await resumed).outputs.rows).toBe(1);
      expect(reports[0]).toMatchObject({ job: name, createdByAttempt: 1 });
    } finally {
      await second.close();
    }
    expect(server.submitted.get(name)).toBe(1);
    expect(server.submitted.get(jobName(req, 2))).toBeUndefined();
  });

  test('a retry after a failed job submits a new one', async () => {
    const marker = join(directory, `failed-once-${counter}`);
    const req = request([
      'sh',
      '-c',
      `if [ -f ${marker} ]; then echo 1 > "$MLOE_OUTPUTS_DIR/lines"; echo '{"rows": 1}' > "$MLOE_OUTPUTS_DIR/outputs.json"; else touch ${marker}; exit 4; fi`,
    ]);
    await expect(executor.run(req, context(1).value)).rejects.toMatchObject({ code: 'STEP_COMMAND_FAILED' });
    expect((await executor.run(req, context(2).value)).outputs.rows).toBe(1);
    expect(server.submitted.get(jobName(req, 1))).toBe(1);
    expect(server.submitted.get(jobName(req, 2))).toBe(1);
  });

  test('resources map to VCPU, MEMORY in MiB and GPU', () => {
    expect(batchResourceRequirements({ cpu: '500m', memory: '1.5Gi' })).toEqual([
      { type: 'VCPU', value: '0.5' },
      { type: 'MEMORY', value: '1536' },
    ]);
    expect(batchResourceRequirements(undefined)).toEqual([]);
  });
});
