/**
 * Contract tests of the Kubernetes Job executor against the Kubernetes API test server (infra/kubernetes, pods played
 * by local processes or scripted failure states) and an S3 test server (s3rver) as the artifact store the staging
 * containers reach through presigned URLs. They call the executor the way `runStep` does, without Temporal; the
 * pipeline-level tests are in kubernetes-pipeline.test.ts.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { V1Job } from '@kubernetes/client-node';
import { CancelledFailure } from '@temporalio/common';

import type { ArtifactRef } from '../activities/artifacts';
import { KubernetesExecutor, jobName, type RemoteCommandRequest } from '../activities/executors';
import { MloeError } from '../core/errors';
import type { KubernetesTestServer } from '../infra/kubernetes';
import { executionContext, readAll, startExecutorTestbed, type ExecutorTestbed } from './support/executors-testbed';
import { pollUntil } from './support/poll';

const BUCKET = 'mloe-kube';
jest.setTimeout(120_000);

describe('the Kubernetes Job executor', () => {
  let bed: ExecutorTestbed;
  let kube: KubernetesTestServer;
  let executor: KubernetesExecutor;
  let counter = 0;

  beforeAll(async () => {
    bed = await startExecutorTestbed({ bucket: BUCKET, kubernetes: true });
    kube = bed.kube!;
    executor = newExecutor();
  });

  afterAll(async () => {
    await bed?.close();
  });

  function newExecutor(): KubernetesExecutor {
    return bed.kubernetesExecutor({ kubeconfig: kube.kubeconfig('ml'), manifestWaitMs: 10_000 });
  }

  /** A request with its own workflow id (jobs never collide between tests). */
  function request(
    command: string[],
    image = 'busybox:1.36',
    extra: Partial<RemoteCommandRequest> = {},
  ): RemoteCommandRequest {
    counter += 1;
    return {
      stepId: 'train',
      workflowId: `kube-test-${process.pid}-${counter}`,
      command,
      params: { factor: 2 },
      inputs: { data: bed.data, label: 'price' },
      outputs: { lines: { type: 'file' }, rows: { type: 'integer' } },
      artifactRoot: bed.store.rootUri,
      image,
      placement: { executor: 'kubernetes' },
      ...extra,
    };
  }

  const context = (attempt = 1, signal?: AbortSignal, timeoutMs?: number) =>
    executionContext(bed.store, {
      attempt,
      ...(signal === undefined ? {} : { signal }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });

  const SUCCESS = [
    'sh',
    '-c',
    [
      'set -eu',
      'wc -l < "$MLOE_INPUTS_DIR/data" | tr -d " " > "$MLOE_OUTPUTS_DIR/lines"',
      'grep -q \'"factor": 2\' "$MLOE_PARAMS_FILE"',
      'test "$(cat "$MLOE_INPUTS_DIR/label")" = price',
      'grep -q "\\"path\\": \\"$MLOE_INPUTS_DIR/data\\"" "$MLOE_INPUTS_FILE"',
      'echo "{\\"rows\\": $(cat "$MLOE_OUTPUTS_DIR/lines")}" > "$MLOE_OUTPUTS_DIR/outputs.json"',
      'echo \'{"loss": 0.25}\' > "$MLOE_OUTPUTS_DIR/metrics.json"',
      'echo "trained in $PWD on $MLOE_STEP_ID"',
    ].join('\n'),
  ];

  test('runs a command step as a Job: inputs staged in and verified, outputs, metrics and logs out', async () => {
    const req = request(SUCCESS, 'busybox:1.36', {
      placement: {
        executor: 'kubernetes',
        resources: { cpu: 2, memory: '1Gi', gpu: 1 },
        kubernetes: {
          serviceAccountName: 'trainer',
          nodeSelector: { 'cloud.google.com/gke-accelerator': 'nvidia-l4' },
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    });
    const { value, reports } = context(1, undefined, 300_000);
    const result = await executor.run(req, value);

    expect(result.exitCode).toBe(0);
    expect(result.outputs.rows).toBe(3);
    expect(result.metrics).toEqual({ loss: 0.25 });
    const lines = result.outputs.lines as ArtifactRef;
    expect((await readAll(await bed.store.get(lines))).toString()).toBe('3\n');
    const log = (await readAll(await bed.store.get(result.logs.stdout as ArtifactRef))).toString();
    expect(log).toBe('trained in /mloe/work on train\n'.replace('/mloe/work', log.split(' ')[2] ?? ''));
    expect(log).toMatch(/^trained in \S+ on train\n$/);

    const name = jobName(req, 1);
    expect(kube.stats.jobsCreated.get(`ml/${name}`)).toBe(1);
    expect(reports.map((report) => report.phase)).toContain('Succeeded');
    expect(reports.every((report) => report.job === name && report.where === 'ml')).toBe(true);

    const job = kube.store.get('jobs', 'ml', name);
    const spec = job?.spec as unknown as V1Job['spec'] & object;
    expect(job?.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'mloe', 'mloe.dev/attempt': '1' });
    expect(job?.metadata.annotations).toMatchObject({
      'mloe.dev/workflow-id': req.workflowId,
      'mloe.dev/temporal-namespace': 'default',
    });
    expect(spec.backoffLimit).toBe(0);
    expect(spec.ttlSecondsAfterFinished).toBe(3600);
    expect(spec.activeDeadlineSeconds).toBe(300);
    const pod = spec.template.spec!;
    expect(pod.serviceAccountName).toBe('trainer');
    expect(pod.nodeSelector).toEqual({ 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.containers[0]?.image).toBe('busybox:1.36');
    expect(pod.containers[0]?.resources).toEqual({
      requests: { cpu: '2', memory: '1Gi' },
      limits: { cpu: '2', memory: '1Gi', 'nvidia.com/gpu': '1' },
    });
    expect(pod.initContainers?.map((c) => [c.name, c.restartPolicy])).toEqual([
      ['mloe-stage-in', undefined],
      ['mloe-stage-out', 'Always'],
    ]);
    // The staging area is removed once the outputs are stored.
    expect(await stagedKeys()).toEqual([]);
  });

  test('a non-zero exit is STEP_COMMAND_FAILED (retryable) with the tail of the log', async () => {
    const error = await failure(request(['sh', '-c', 'echo "loss exploded" >&2; exit 3']));
    expect(error.code).toBe('STEP_COMMAND_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/exited with code 3/);
    expect(error.message).toMatch(/loss exploded/);
  });

  test.each([
    ['mloe-test/oom:1', 'STEP_OUT_OF_MEMORY', false, /OOMKilled.*raise resources\.memory/s],
    [
      'registry.example.com/mloe-test/imagepull:v9',
      'STEP_IMAGE_PULL_FAILED',
      false,
      /registry\.example\.com\/mloe-test\/imagepull:v9.*(ErrImagePull|ImagePullBackOff)/,
    ],
    ['mloe-test/evicted', 'STEP_INFRASTRUCTURE_FAILED', true, /evicted: The node was low on resource: memory/],
    ['mloe-test/node-lost', 'STEP_INFRASTRUCTURE_FAILED', true, /lost with its node \(DeletionByTaintManager/],
  ])('image %s fails with %s (retryable: %s)', async (image, code, retryable, message) => {
    const req = request(['train'], image);
    const error = await failure(req);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.message).toMatch(message);
    if (code === 'STEP_IMAGE_PULL_FAILED') {
      // A pod that can never start is not left pending: its job is deleted.
      await pollUntil('the job deleted', () => kube.store.get('jobs', 'ml', jobName(req, 1)) === undefined);
    }
  });

  test('a job running past its deadline is STEP_DEADLINE_EXCEEDED', async () => {
    const error = await failure(request(['train'], 'mloe-test/hang'), 1, 1_000);
    expect(error.code).toBe('STEP_DEADLINE_EXCEEDED');
    expect(error.message).toMatch(/activeDeadlineSeconds 1/);
  });

  test('an input whose bytes do not match its digest fails the staging, before the command runs', async () => {
    const forged: ArtifactRef = { ...bed.data, digest: `sha256:${'0'.repeat(64)}` };
    const marker = join(bed.directory, 'ran');
    const error = await failure(request(['sh', '-c', `touch ${marker}`], 'busybox', { inputs: { data: forged } }));
    expect(error.code).toBe('STEP_STAGING_FAILED');
    expect(existsSync(marker)).toBe(false);
  });

  test('cancelling deletes the job with its pods and waits until they are gone', async () => {
    const req = request(['sleep', '600']);
    const controller = new AbortController();
    const running = executor.run(req, context(1, controller.signal).value);
    const name = jobName(req, 1);
    await pollUntil(
      'the pod running',
      () => kube.store.list('pods', 'ml', (l) => l?.['job-name'] === name)[0]?.status?.phase === 'Running',
      { timeoutMs: 30_000 },
    );
    controller.abort(new CancelledFailure('CANCELLED'));
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    // By the time the executor gives up the activity, the job and its pods are gone.
    expect(kube.store.get('jobs', 'ml', name)).toBeUndefined();
    expect(kube.store.list('pods', 'ml', (l) => l?.['job-name'] === name)).toEqual([]);
  });

  test('a worker that dies mid-job leaves it running, and the next attempt on a new worker attaches: one job', async () => {
    const gate = join(bed.directory, 'gate');
    const req = request([
      'sh',
      '-c',
      `while [ ! -f ${gate} ]; do sleep 0.05; done; echo '{"rows": 7}' > "$MLOE_OUTPUTS_DIR/outputs.json"; echo 7 > "$MLOE_OUTPUTS_DIR/lines"`,
    ]);
    const name = jobName(req, 1);
    const first = new AbortController();
    const dying = executor.run(req, context(1, first.signal).value);
    await pollUntil(
      'the pod running',
      () => kube.store.list('pods', 'ml', (l) => l?.['job-name'] === name)[0]?.status?.phase === 'Running',
      { timeoutMs: 30_000 },
    );
    first.abort(new CancelledFailure('WORKER_SHUTDOWN'));
    await expect(dying).rejects.toBeInstanceOf(CancelledFailure);
    expect(kube.store.get('jobs', 'ml', name)).toBeDefined();

    // A new worker process: its own client and watches. Temporal retries the activity as attempt 2.
    const second = newExecutor();
    const { value, reports } = context(2);
    const resumed = second.run(req, value);
    await pollUntil('the retry attached', () => reports.length > 0);
    await writeFile(gate, '');
    const result = await resumed;
    expect(result.outputs.rows).toBe(7);
    expect(reports[0]).toMatchObject({ job: name, createdByAttempt: 1 });
    const created = [...kube.stats.jobsCreated.keys()].filter(
      (key) => key.includes(name.slice(0, 20)) && key.endsWith(name.slice(-10)),
    );
    expect(created).toEqual([`ml/${name}`]);
    expect(kube.stats.jobsCreated.get(`ml/${name}`)).toBe(1);
    expect(
      kube.store.list(
        'jobs',
        'ml',
        (l) =>
          l?.['mloe.dev/execution'] === kube.store.get('jobs', 'ml', name)?.metadata.labels?.['mloe.dev/execution'],
      ),
    ).toHaveLength(1);
  });

  test('a retry after a failed job gets a new job', async () => {
    const marker = join(bed.directory, `failed-once-${counter}`);
    const req = request([
      'sh',
      '-c',
      `if [ -f ${marker} ]; then echo 1 > "$MLOE_OUTPUTS_DIR/lines"; echo '{"rows": 1}' > "$MLOE_OUTPUTS_DIR/outputs.json"; else touch ${marker}; exit 4; fi`,
    ]);
    const error = await executor.run(req, context(1).value).catch((e: unknown) => e);
    expect((error as MloeError).code).toBe('STEP_COMMAND_FAILED');
    const result = await executor.run(req, context(2).value);
    expect(result.outputs.rows).toBe(1);
    expect(kube.stats.jobsCreated.get(`ml/${jobName(req, 1)}`)).toBe(1);
    expect(kube.stats.jobsCreated.get(`ml/${jobName(req, 2)}`)).toBe(1);
    expect(jobName(req, 1)).not.toBe(jobName(req, 2));
  });

  test('job names are DNS-1123 labels of at most 63 characters, distinct per attempt and execution', () => {
    const long = { workflowId: 'w'.repeat(300), stepId: 'A_Very_Long_Step_Name_'.repeat(5), index: 12 };
    for (const identity of [long, { workflowId: 'x', stepId: '___' }]) {
      for (const attempt of [1, 2, 1000]) {
        const name = jobName(identity, attempt);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }
    }
    expect(jobName(long, 1)).not.toBe(jobName(long, 2));
    expect(jobName(long, 1)).not.toBe(jobName({ ...long, workflowId: 'other' }, 1));
    expect(jobName(long, 1)).toBe(jobName({ ...long }, 1));
  });

  async function failure(req: RemoteCommandRequest, attempt = 1, timeoutMs?: number): Promise<MloeError> {
    const error = await executor.run(req, context(attempt, undefined, timeoutMs).value).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MloeError);
    return error as MloeError;
  }

  async function stagedKeys(): Promise<string[]> {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const listed = await bed.store.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'team/staging/' }));
    return (listed.Contents ?? []).map((object) => object.Key ?? '');
  }
});
