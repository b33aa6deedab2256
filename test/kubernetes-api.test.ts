/**
 * The Kubernetes API contract the Job executor relies on, checked with the official client (@kubernetes/client-node):
 * against the API test server (infra/kubernetes), or against a real cluster when `MLOE_TEST_KUBECONFIG` names a
 * kubeconfig (e.g. a kind cluster: docs/executors.md). Shapes and codes are those of the API reference: `Status`
 * objects with `reason` and `code`, `resourceVersion`-ordered watches, job conditions, pod logs.
 */
import { PassThrough } from 'node:stream';

import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, Log, Watch, type V1Job } from '@kubernetes/client-node';

import { startKubernetesTestServer, type KubernetesTestServer } from '../infra/kubernetes';
import { pollUntil } from './support/poll';

jest.setTimeout(120_000);

/** A `Status` object as the API server answers errors. */
interface StatusBody {
  kind?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; causes?: { field?: string }[] };
}

const real = process.env.MLOE_TEST_KUBECONFIG;
const NAMESPACE = process.env.MLOE_TEST_NAMESPACE ?? 'default';

describe(`the Kubernetes API subset (${real === undefined ? 'test server' : `cluster of ${real}`})`, () => {
  let server: KubernetesTestServer | undefined;
  let kubeConfig: KubeConfig;
  let batch: BatchV1Api;
  let core: CoreV1Api;
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const label = { 'app.kubernetes.io/managed-by': 'mloe-contract-test', 'mloe.dev/run': run };
  const selector = Object.entries(label)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');

  beforeAll(async () => {
    kubeConfig = new KubeConfig();
    if (real === undefined) {
      server = await startKubernetesTestServer();
      kubeConfig.loadFromString(server.kubeconfig(NAMESPACE));
    } else kubeConfig.loadFromFile(real);
    batch = kubeConfig.makeApiClient(BatchV1Api);
    core = kubeConfig.makeApiClient(CoreV1Api);
  });

  afterAll(async () => {
    await batch
      ?.deleteCollectionNamespacedJob({
        namespace: NAMESPACE,
        labelSelector: selector,
        propagationPolicy: 'Background',
      })
      .catch(() => undefined);
    await server?.close();
  });

  function job(name: string, command: string[]): V1Job {
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, labels: label },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: label },
          spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command }] },
        },
      },
    };
  }

  async function apiFailure(call: Promise<unknown>): Promise<{ code: number; body: StatusBody }> {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiException);
    const { code, body } = error as ApiException<unknown>;
    return { code, body: (typeof body === 'string' ? JSON.parse(body) : body) as StatusBody };
  }

  test('create, AlreadyExists, NotFound and Invalid as Status objects', async () => {
    const name = `contract-create-${run}`;
    const created = await batch.createNamespacedJob({ namespace: NAMESPACE, body: job(name, ['sh', '-c', 'echo hi']) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.resourceVersion).toBeTruthy();

    const again = await apiFailure(batch.createNamespacedJob({ namespace: NAMESPACE, body: job(name, ['true']) }));
    expect(again.code).toBe(409);
    expect(again.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'AlreadyExists',
      code: 409,
      message: `jobs.batch "${name}" already exists`,
      details: { name, group: 'batch', kind: 'jobs' },
    });

    const missing = await apiFailure(batch.readNamespacedJob({ name: `nope-${run}`, namespace: NAMESPACE }));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({
      kind: 'Status',
      reason: 'NotFound',
      code: 404,
      details: { name: `nope-${run}`, kind: 'jobs' },
    });

    const invalid = await apiFailure(
      batch.createNamespacedJob({ namespace: NAMESPACE, body: job('Not_A_Name', ['true']) }),
    );
    expect(invalid.code).toBe(422);
    expect(invalid.body).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });
    expect(invalid.body.details?.causes?.map((cause) => cause.field)).toContain('metadata.name');
  });

  test('a watch from the list resourceVersion sees the job through to Complete; the pod log holds its output', async () => {
    const name = `contract-watch-${run}`;
    const list = await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: selector });
    const events: { type: string; conditions: string[] }[] = [];
    const watch = new Watch(kubeConfig);
    const request = await watch.watch(
      `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`,
      { labelSelector: selector, resourceVersion: list.metadata?.resourceVersion ?? '0' },
      (type: string, object: V1Job) => {
        if (object.metadata?.name === name) {
          events.push({
            type,
            conditions: (object.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => c.type),
          });
        }
      },
      () => undefined,
    );
    try {
      await batch.createNamespacedJob({
        namespace: NAMESPACE,
        body: job(name, ['sh', '-c', 'echo hello; echo world']),
      });
      await pollUntil('the job complete', () => events.some((event) => event.conditions.includes('Complete')), {
        timeoutMs: 90_000,
      });
    } finally {
      request.abort();
    }
    expect(events[0]?.type).toBe('ADDED');
    expect(events.some((event) => event.type === 'MODIFIED')).toBe(true);

    const pods = await core.listNamespacedPod({
      namespace: NAMESPACE,
      labelSelector: `batch.kubernetes.io/job-name=${name}`,
    });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0]!;
    expect(pod.metadata?.labels?.['job-name']).toBe(name);
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Job', name, controller: true });
    await pollUntil(
      'the pod succeeded',
      async () =>
        (await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: NAMESPACE })).status?.phase ===
        'Succeeded',
      { timeoutMs: 60_000 },
    );
    const text = await readLog(pod.metadata!.name!);
    expect(text).toBe('hello\nworld\n');
    const tail = await core.readNamespacedPodLog({
      name: pod.metadata!.name!,
      namespace: NAMESPACE,
      container: 'main',
      tailLines: 1,
    });
    expect(String(tail)).toBe('world\n');
  });

  test('deleting with propagationPolicy Foreground removes the job and then its pods', async () => {
    const name = `contract-delete-${run}`;
    await batch.createNamespacedJob({ namespace: NAMESPACE, body: job(name, ['sleep', '300']) });
    await pollUntil(
      'its pod',
      async () =>
        (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `batch.kubernetes.io/job-name=${name}` }))
          .items.length === 1,
      { timeoutMs: 60_000 },
    );
    await batch.deleteNamespacedJob({ name, namespace: NAMESPACE, propagationPolicy: 'Foreground' });
    await pollUntil(
      'the job and its pods gone',
      async () =>
        (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `batch.kubernetes.io/job-name=${name}` }))
          .items.length === 0 &&
        (await batch.readNamespacedJob({ name, namespace: NAMESPACE }).then(
          () => false,
          (e: unknown) => e instanceof ApiException && e.code === 404,
        )),
      { timeoutMs: 90_000 },
    );
    const gone = await apiFailure(batch.deleteNamespacedJob({ name, namespace: NAMESPACE }));
    expect(gone.code).toBe(404);
  });

  test('label selectors filter lists; a bad selector is a 400', async () => {
    const other = `contract-other-${run}`;
    await batch.createNamespacedJob({
      namespace: NAMESPACE,
      body: { ...job(other, ['true']), metadata: { name: other, labels: { ...label, extra: 'yes' } } },
    });
    const filtered = await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: `${selector},extra=yes` });
    expect(filtered.items.map((item) => item.metadata?.name)).toEqual([other]);
    const without = await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: `${selector},!extra` });
    expect(without.items.map((item) => item.metadata?.name)).not.toContain(other);
    const bad = await apiFailure(batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: 'a b c' }));
    expect(bad.code).toBe(400);
    expect(bad.body).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
  });

  async function readLog(pod: string): Promise<string> {
    const through = new PassThrough();
    let text = '';
    through.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const ended = new Promise<void>((resolve) => through.on('end', resolve));
    await new Log(kubeConfig).log(NAMESPACE, pod, 'main', through, { follow: false });
    await ended;
    return text;
  }
});
