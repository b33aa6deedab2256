/**
 * Contract tests of the AWS Batch executor against the Batch test server (infra/aws-batch: SubmitJob, DescribeJobs,
 * ListJobs, TerminateJob and CloudWatch Logs' GetLogEvents; jobs run locally or play scripted failures) with the
 * official AWS SDK clients, and s3rver as the store the job's staging wrapper reaches through presigned URLs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { CancelledFailure } from '@temporalio/common';

import type { ArtifactRef } from '../activities/artifacts';
import { BatchExecutor, batchResourceRequirements, jobName, type RemoteCommandRequest } from '../activities/executors';
import { MloeError } from '../core/errors';
import {
  BATCH_SCENARIO_DEFINITIONS,
  executionContext,
  readAll,
  startExecutorTestbed,
  type ExecutorTestbed,
} from './support/executors-testbed';
import { pollUntil } from './support/poll';

jest.setTimeout(120_000);

const IMAGE = 'python:3.12';
const DB_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf';
const DB_PASSWORD = 'hunter2-from-secrets-manager';
const API_PARAMETER = '/prod/api-token';
const API_PARAMETER_ARN = `arn:aws:ssm:us-east-1:123456789012:parameter${API_PARAMETER}`;
const API_TOKEN = 'token-from-the-parameter-store';

describe('the AWS Batch executor', () => {
  let bed: ExecutorTestbed;
  let executor: BatchExecutor;
  let counter = 0;
  let stepDefinition: string;
  let secretDefinition: string;

  beforeAll(async () => {
    bed = await startExecutorTestbed({
      bucket: 'mloe-batch',
      batch: {
        secretValues: new Map([
          [DB_SECRET_ARN, DB_PASSWORD],
          [API_PARAMETER_ARN, API_TOKEN],
        ]),
      },
    });
    executor = bed.batchExecutor();
    stepDefinition = await bed.registerJobDefinition('mloe-step', IMAGE);
    secretDefinition = await bed.registerJobDefinition('mloe-step-secrets', IMAGE, [
      { name: 'DB_PASSWORD', valueFrom: DB_SECRET_ARN },
      { name: 'API_TOKEN', valueFrom: API_PARAMETER_ARN },
      { name: 'MISSING', valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-XyZ123' },
    ]);
    for (const name of BATCH_SCENARIO_DEFINITIONS) await bed.registerJobDefinition(name, IMAGE);
  });

  afterAll(async () => {
    await bed?.close();
  });

  const server = () => bed.batch!;
  const newExecutor = () => bed.batchExecutor();
  const context = (attempt = 1, signal?: AbortSignal, timeoutMs?: number) =>
    executionContext(bed.store, {
      attempt,
      ...(signal === undefined ? {} : { signal }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });

  function request(
    command: string[],
    jobDefinition = stepDefinition,
    extra: Partial<RemoteCommandRequest> = {},
  ): RemoteCommandRequest {
    counter += 1;
    return {
      stepId: 'train',
      workflowId: `batch-test-${process.pid}-${counter}`,
      command,
      params: { factor: 2 },
      inputs: { data: bed.data },
      outputs: { lines: { type: 'file' }, rows: { type: 'integer' } },
      artifactRoot: bed.store.rootUri,
      image: IMAGE,
      placement: {
        executor: 'batch',
        resources: { cpu: 2, memory: '4Gi', gpu: 1 },
        batch: { jobQueue: 'gpu', jobDefinition },
      },
      ...extra,
    };
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
    expect((await readAll(await bed.store.get(result.outputs.lines as ArtifactRef))).toString()).toBe('3\n');
    const name = jobName(req, 1);
    expect(server().submitted.get(name)).toBe(1);
    const job = [...server().jobs.values()].find((item) => item.jobName === name);
    expect(job?.container.resourceRequirements).toEqual([
      { type: 'VCPU', value: '2' },
      { type: 'MEMORY', value: '4096' },
      { type: 'GPU', value: '1' },
    ]);
    expect(job?.container.image).toBe(IMAGE);
    expect(job?.timeout).toEqual({ attemptDurationSeconds: 60 });
    expect(job?.tags).toMatchObject({
      'app.kubernetes.io/managed-by': 'mloe',
      'mloe.dev/workflow-id': req.workflowId,
      'mloe.dev/temporal-namespace': 'default',
    });
    expect(reports.map((report) => report.phase)).toContain('SUCCEEDED');
    const log = (await readAll(await bed.store.get(result.logs.stdout as ArtifactRef))).toString();
    expect(log).toContain('done training');
  });

  test.each([
    ['mloe-test-oom', 'STEP_OUT_OF_MEMORY', false],
    ['mloe-test-imagepull', 'STEP_IMAGE_PULL_FAILED', false],
    ['mloe-test-host-terminated', 'STEP_INFRASTRUCTURE_FAILED', true],
    ['mloe-test-timeout', 'STEP_DEADLINE_EXCEEDED', true],
  ])('job definition %s fails with %s (retryable: %s)', async (definition, code, retryable) => {
    const error = await failure(request(['true'], `${definition}:1`));
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
      () => [...server().jobs.values()].some((job) => job.jobName === name && job.status === 'RUNNING'),
      { timeoutMs: 30_000 },
    );
    controller.abort(new CancelledFailure('CANCELLED'));
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    const job = [...server().jobs.values()].find((item) => item.jobName === name);
    expect(job?.status).toBe('FAILED');
    expect(job?.statusReason).toBe('Terminated by mloe: the step was cancelled');
  });

  test('a worker that dies mid-job: the next attempt attaches to its job (one job submitted)', async () => {
    const gate = join(bed.directory, `gate-${counter}`);
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
      () => [...server().jobs.values()].some((job) => job.jobName === name && job.status === 'RUNNING'),
      { timeoutMs: 30_000 },
    );
    first.abort(new CancelledFailure('WORKER_SHUTDOWN'));
    await expect(dying).rejects.toBeInstanceOf(CancelledFailure);
    const second = newExecutor();
    const { value, reports } = context(2);
    const resumed = second.run(req, value);
    await pollUntil('attached', () => reports.length > 0);
    await writeFile(gate, '');
    expect((await resumed).outputs.rows).toBe(1);
    expect(reports[0]).toMatchObject({ job: name, createdByAttempt: 1 });
    expect(server().submitted.get(name)).toBe(1);
    expect(server().submitted.get(jobName(req, 2))).toBeUndefined();
  });

  test('a retry after a failed job submits a new one', async () => {
    const marker = join(bed.directory, `failed-once-${counter}`);
    const req = request([
      'sh',
      '-c',
      `if [ -f ${marker} ]; then echo 1 > "$MLOE_OUTPUTS_DIR/lines"; echo '{"rows": 1}' > "$MLOE_OUTPUTS_DIR/outputs.json"; else touch ${marker}; exit 4; fi`,
    ]);
    await expect(executor.run(req, context(1).value)).rejects.toMatchObject({ code: 'STEP_COMMAND_FAILED' });
    expect((await executor.run(req, context(2).value)).outputs.rows).toBe(1);
    expect(server().submitted.get(jobName(req, 1))).toBe(1);
    expect(server().submitted.get(jobName(req, 2))).toBe(1);
  });

  test("a run.image other than the job definition's is refused before submitting, naming both and the fix", async () => {
    const req = request(SUCCESS, stepDefinition, { image: 'python:3.13' });
    const error = await failure(req);
    expect(error.code).toBe('STEP_COMMAND_INVALID');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('run.image is python:3.13 but job definition mloe-step:1 runs python:3.12');
    expect(error.message).toMatch(/set run\.image to python:3\.12, or register a revision of mloe-step/);
    expect(server().submitted.get(jobName(req, 1))).toBeUndefined();
  });

  test('a job definition named without a revision is its latest ACTIVE one; an unknown one is refused', async () => {
    await bed.registerJobDefinition('mloe-latest', 'python:3.11');
    await bed.registerJobDefinition('mloe-latest', IMAGE);
    const result = await executor.run(request(SUCCESS, 'mloe-latest'), context(1, undefined, 30_000).value);
    expect(result.outputs.rows).toBe(3);
    const error = await failure(request(SUCCESS, 'mloe-nope:3'));
    expect(error.code).toBe('STEP_COMMAND_INVALID');
    expect(error.message).toMatch(/job definition mloe-nope:3 \(batch\.jobDefinition\) does not exist/);
  });

  test('aws-sm: and ssm: secrets come from the job definition: the container has them, SubmitJob never does', async () => {
    const req = request(
      [
        'sh',
        '-c',
        'printf "%s|%s" "$DB_PASSWORD" "$API_TOKEN" > "$MLOE_OUTPUTS_DIR/lines"; echo \'{"rows": 1}\' > "$MLOE_OUTPUTS_DIR/outputs.json"',
      ],
      `${secretDefinition.split(':')[0]}:1`,
      {
        awsSecrets: {
          DB_PASSWORD: { kind: 'aws-sm', valueFrom: DB_SECRET_ARN },
          // A parameter named by name matches the job definition's ARN of it.
          API_TOKEN: { kind: 'ssm', valueFrom: API_PARAMETER },
        },
      },
    );
    // The definition names a secret Secrets Manager does not have: the job fails to start (as ECS does).
    const missing = await failure(req);
    expect(missing.code).toBe('SECRET_NOT_FOUND');
    expect(missing.retryable).toBe(false);
    expect(missing.message).toMatch(/ResourceInitializationError.*executionRoleArn/s);

    const working = await bed.registerJobDefinition('mloe-step-secrets', IMAGE, [
      { name: 'DB_PASSWORD', valueFrom: DB_SECRET_ARN },
      { name: 'API_TOKEN', valueFrom: API_PARAMETER_ARN },
    ]);
    const ok = { ...req, placement: { ...req.placement, batch: { jobQueue: 'gpu', jobDefinition: working } } };
    const result = await executor.run(ok, context(2).value);
    const seen = (await readAll(await bed.store.get(result.outputs.lines as ArtifactRef))).toString();
    expect(seen).toBe(`${DB_PASSWORD}|${API_TOKEN}`);
    const bodies = server().submitBodies.join('\n');
    expect(bodies).toContain(jobName(ok, 2));
    expect(bodies).not.toContain(DB_PASSWORD);
    expect(bodies).not.toContain(API_TOKEN);
  });

  test('a secret the job definition does not declare is SECRET_REF_INVALID, saying what to add', async () => {
    const req = request(['true'], stepDefinition, {
      awsSecrets: { DB_PASSWORD: { kind: 'aws-sm', valueFrom: DB_SECRET_ARN } },
    });
    const error = await failure(req);
    expect(error.code).toBe('SECRET_REF_INVALID');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('job definition mloe-step:1 declares no secret DB_PASSWORD');
    expect(error.message).toContain(`{ "name": "DB_PASSWORD", "valueFrom": "${DB_SECRET_ARN}" }`);
    expect(server().submitted.get(jobName(req, 1))).toBeUndefined();
  });

  test('resources map to VCPU, MEMORY in MiB and GPU', () => {
    expect(batchResourceRequirements({ cpu: '500m', memory: '1.5Gi' })).toEqual([
      { type: 'VCPU', value: '0.5' },
      { type: 'MEMORY', value: '1536' },
    ]);
    expect(batchResourceRequirements(undefined)).toEqual([]);
  });
});
