/**
 * The deployment definitions in infra/: the mloe-worker Helm chart rendered (test/support/helm-template.ts, the
 * template subset it uses) with its defaults and with every option on, each manifest checked offline against the
 * Kubernetes 1.34 API models and KEDA's schemas (test/support/k8s-schema.ts), and the settings it writes held to the
 * names the worker reads; the worker image's Dockerfile held to what the entrypoint and docs rely on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ENV_VARS } from '../workers/config';
import { CODEC_ENV } from '../workers/codec/config';
import { renderChart, TemplateError, type RenderedManifest } from './support/helm-template';
import { KUBERNETES_VERSION, validateManifest } from './support/k8s-schema';

const REPO = resolve(__dirname, '..');
const CHART = join(REPO, 'infra', 'helm', 'mloe-worker');

type Obj = Record<string, unknown>;

/** A nested field, for reading rendered objects. */
function at(object: unknown, ...path: (string | number)[]): unknown {
  let value = object;
  for (const key of path) value = (value as Record<string | number, unknown> | undefined)?.[key];
  return value;
}

function find(manifests: RenderedManifest[], kind: string, name?: string): Obj {
  const found = manifests.find(
    (manifest) =>
      manifest.object.kind === kind && (name === undefined || at(manifest.object, 'metadata', 'name') === name),
  );
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ''} rendered`);
  return found.object;
}

function envOf(deployment: Obj): Record<string, unknown> {
  const env = at(deployment, 'spec', 'template', 'spec', 'containers', 0, 'env') as { name: string; value?: string }[];
  return Object.fromEntries(env.map((entry) => [entry.name, entry.value ?? at(entry, 'valueFrom')]));
}

function expectValid(manifests: RenderedManifest[]): void {
  const problems = manifests.flatMap((manifest) =>
    validateManifest(manifest.object).map((problem) => `${manifest.template}: ${problem}`),
  );
  expect(problems).toEqual([]);
}

/** Every option on: two queues, one autoscaled on remote executors; mTLS, an API key, encryption, a codec server. */
const FULL_VALUES = {
  temporal: {
    address: 'ml.a1b2c.tmprl.cloud:7233',
    namespace: 'ml.a1b2c',
    tls: { secretName: 'temporal-client-tls', serverCa: true },
    apiKey: { secretName: 'temporal-api-key', key: 'api-key' },
  },
  s3: { endpoint: 'http://minio.storage.svc:9000', forcePathStyle: 'true', credentialsSecret: 'minio-credentials' },
  mlflow: { experimentName: 'pipelines', tokenSecret: { name: 'mlflow-token', key: 'token' } },
  encryption: { keysSecret: 'mloe-codec-keys', currentKeyId: 'k2' },
  telemetry: { metricsPort: 9464, otlpEndpoint: 'http://otel-collector.observability:4318' },
  imagePullSecrets: [{ name: 'registry' }],
  workers: [
    { name: 'pipelines', taskQueue: 'mloe-pipelines' },
    {
      name: 'gpu',
      taskQueue: 'mloe-gpu',
      concurrency: 2,
      executors: ['kubernetes'],
      kubernetesNamespace: 'ml-jobs',
      shutdownGraceSeconds: 3600,
      resources: { requests: { cpu: 2, memory: '8Gi' }, limits: { memory: '16Gi', 'nvidia.com/gpu': 1 } },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      nodeSelector: { 'node.kubernetes.io/instance-type': 'g5.xlarge' },
      autoscaling: { enabled: true, minReplicas: 0, maxReplicas: 4, targetQueueSize: 1 },
      extraEnv: [{ name: 'MLOE_STAGING_IMAGE', value: 'registry.local/curl:8' }],
    },
  ],
  codecServer: {
    enabled: true,
    corsOrigins: ['https://temporal.example.com'],
    authTokenSecret: { name: 'codec-token', key: 'token' },
  },
};

describe(`the mloe-worker Helm chart (rendered, checked against Kubernetes ${KUBERNETES_VERSION})`, () => {
  it('renders valid manifests with its defaults: a worker Deployment, its PodDisruptionBudget, a ServiceAccount', () => {
    const manifests = renderChart(CHART, { releaseName: 'mloe-worker' });
    expect(
      manifests
        .map((manifest) => `${String(manifest.object.kind)}/${String(at(manifest.object, 'metadata', 'name'))}`)
        .sort(),
    ).toEqual([
      'Deployment/mloe-worker-pipelines',
      'PodDisruptionBudget/mloe-worker-pipelines',
      'ServiceAccount/mloe-worker',
    ]);
    expectValid(manifests);

    const deployment = find(manifests, 'Deployment');
    const pod = at(deployment, 'spec', 'template', 'spec') as Obj;
    // The drain: Kubernetes waits longer than the worker lets running steps finish.
    expect(pod.terminationGracePeriodSeconds).toBe(630);
    expect(envOf(deployment)).toMatchObject({
      TEMPORAL_ADDRESS: 'temporal-frontend.temporal.svc.cluster.local:7233',
      TEMPORAL_NAMESPACE: 'default',
      MLOE_TASK_QUEUE: 'mloe-pipelines',
      MLOE_WORKER_SHUTDOWN_GRACE_SECONDS: '600',
      MLOE_WORKER_CONCURRENCY: '16',
      MLOE_ARTIFACT_STORE: 's3://mloe-artifacts/runs',
    });
    expect(at(deployment, 'spec', 'replicas')).toBe(1);
    expect(at(deployment, 'spec', 'strategy', 'rollingUpdate')).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    // Non-root, read-only root file system with writable /work, /tmp and $HOME.
    expect(at(pod, 'securityContext', 'runAsNonRoot')).toBe(true);
    expect(at(pod, 'containers', 0, 'securityContext', 'readOnlyRootFilesystem')).toBe(true);
    expect((at(pod, 'containers', 0, 'volumeMounts') as { mountPath: string }[]).map((m) => m.mountPath)).toEqual([
      '/work',
      '/tmp',
      '/home/node',
    ]);
    expect(at(pod, 'containers', 0, 'image')).toBe('ghcr.io/mloe/mloe-worker:0.1.0');
    // Selectors select the pods they are meant to.
    const podLabels = at(deployment, 'spec', 'template', 'metadata', 'labels') as Record<string, string>;
    for (const selector of [
      at(deployment, 'spec', 'selector', 'matchLabels'),
      at(find(manifests, 'PodDisruptionBudget'), 'spec', 'selector', 'matchLabels'),
    ] as Record<string, string>[]) {
      expect(podLabels).toMatchObject(selector);
    }
  });

  it('renders valid manifests with every option on, per task queue, with KEDA autoscaling on backlog', () => {
    const manifests = renderChart(CHART, { values: FULL_VALUES, releaseName: 'ml' });
    expectValid(manifests);
    expect(
      manifests
        .map((manifest) => `${String(manifest.object.kind)}/${String(at(manifest.object, 'metadata', 'name'))}`)
        .sort(),
    ).toEqual([
      'Deployment/ml-mloe-worker-codec',
      'Deployment/ml-mloe-worker-gpu',
      'Deployment/ml-mloe-worker-pipelines',
      'PodDisruptionBudget/ml-mloe-worker-gpu',
      'PodDisruptionBudget/ml-mloe-worker-pipelines',
      'ScaledObject/ml-mloe-worker-gpu',
      'Service/ml-mloe-worker-codec',
      'ServiceAccount/ml-mloe-worker',
      'TriggerAuthentication/ml-mloe-worker-temporal',
    ]);

    const gpu = find(manifests, 'Deployment', 'ml-mloe-worker-gpu');
    expect(at(gpu, 'spec', 'replicas')).toBeUndefined(); // KEDA owns the replica count
    expect(at(gpu, 'spec', 'template', 'spec', 'terminationGracePeriodSeconds')).toBe(3630);
    expect(envOf(gpu)).toMatchObject({
      MLOE_TASK_QUEUE: 'mloe-gpu',
      MLOE_WORKER_CONCURRENCY: '2',
      MLOE_EXECUTORS: 'kubernetes',
      MLOE_KUBERNETES_NAMESPACE: 'ml-jobs',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/mloe/temporal-tls/tls.crt',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '/etc/mloe/temporal-tls/tls.key',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/etc/mloe/temporal-tls/ca.crt',
      TEMPORAL_API_KEY: { secretKeyRef: { name: 'temporal-api-key', key: 'api-key' } },
      MLOE_CODEC_KEYS: 'dir:/etc/mloe/codec-keys',
      MLOE_CODEC_KEY_ID: 'k2',
      MLOE_METRICS_ADDRESS: '0.0.0.0:9464',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      MLOE_STAGING_IMAGE: 'registry.local/curl:8',
      // Built-in steps on its executors run `mloe step exec` in the worker's own image.
      MLOE_BUILTIN_STEP_IMAGE: 'ghcr.io/mloe/mloe-worker:0.1.0',
    });
    // Shared defaults fill what a worker does not override.
    expect(at(gpu, 'spec', 'template', 'spec', 'containers', 0, 'resources')).toEqual({
      requests: { cpu: 2, memory: '8Gi' },
      limits: { memory: '16Gi', 'nvidia.com/gpu': 1 },
    });
    expect(envOf(find(manifests, 'Deployment', 'ml-mloe-worker-pipelines'))).toMatchObject({
      MLOE_WORKER_CONCURRENCY: '16',
    });

    const scaled = find(manifests, 'ScaledObject');
    expect(at(scaled, 'spec', 'scaleTargetRef', 'name')).toBe('ml-mloe-worker-gpu');
    expect(at(scaled, 'spec', 'triggers', 0)).toEqual({
      type: 'temporal',
      metadata: {
        endpoint: 'ml.a1b2c.tmprl.cloud:7233',
        namespace: 'ml.a1b2c',
        taskQueue: 'mloe-gpu',
        targetQueueSize: '1',
        activationTargetQueueSize: '0',
        enableTLS: 'true',
      },
      authenticationRef: { name: 'ml-mloe-worker-temporal' },
    });
    expect(at(find(manifests, 'TriggerAuthentication'), 'spec', 'secretTargetRef')).toHaveLength(4);

    const codec = find(manifests, 'Deployment', 'ml-mloe-worker-codec');
    expect(at(codec, 'spec', 'template', 'spec', 'containers', 0, 'args')).toEqual([
      'codec-server',
      '--ip',
      '0.0.0.0',
      '--port',
      '8081',
      '--cors-origin',
      'https://temporal.example.com',
      '--auth-token',
      'file:/etc/mloe/codec-token/token',
    ]);
  });

  it('writes only settings the worker reads, or that the TLS and telemetry parts provide (docs/deployment.md)', () => {
    const known = new Set<string>([
      ...Object.values(ENV_VARS),
      ...Object.values(CODEC_ENV),
      // Read by the AWS SDK and MLflow's client configuration.
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'MLFLOW_TRACKING_URI',
      'MLFLOW_TRACKING_TOKEN',
      'MLFLOW_EXPERIMENT_NAME',
      // Provided by the connection-security and telemetry parts of mloe.
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      'TEMPORAL_API_KEY',
      'MLOE_METRICS_ADDRESS',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_SERVICE_NAME',
    ]);
    const manifests = renderChart(CHART, { values: FULL_VALUES });
    const names = manifests
      .filter((manifest) => manifest.object.kind === 'Deployment')
      .flatMap((manifest) => Object.keys(envOf(manifest.object)));
    expect(names.filter((name) => !known.has(name))).toEqual([]);
    const docs = readFileSync(join(REPO, 'docs', 'deployment.md'), 'utf8');
    for (const name of ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_API_KEY', 'MLOE_METRICS_ADDRESS']) {
      expect(docs).toContain(name);
    }
  });

  it('refuses a codec server without keys, as `helm template` would', () => {
    expect(() => renderChart(CHART, { values: { codecServer: { enabled: true } } })).toThrow(
      /codecServer.enabled needs encryption.keysSecret/,
    );
  });

  it('the schema check finds what the API server would refuse', () => {
    const [deployment] = renderChart(CHART).filter((manifest) => manifest.object.kind === 'Deployment');
    const broken = structuredClone(deployment?.object) as Obj;
    const pod = at(broken, 'spec', 'template', 'spec') as Obj;
    pod.terminationGracePeriod = 30; // a misspelt field
    pod.terminationGracePeriodSeconds = '630'; // a string where an int64 goes
    delete (at(pod, 'containers', 0) as Obj).name; // a required field
    delete (broken.spec as Obj).selector;
    expect(validateManifest(broken)).toEqual([
      'Deployment.spec.template.spec.terminationGracePeriodSeconds: expected a number, got string',
      'Deployment.spec.template.spec.containers[0].name: required by V1Container, missing',
      'Deployment.spec.template.spec.terminationGracePeriod: unknown field of V1PodSpec',
      'Deployment.spec.selector: required by V1DeploymentSpec, missing',
    ]);
    expect(validateManifest({ apiVersion: 'extensions/v1beta1', kind: 'Deployment', metadata: { name: 'x' } })).toEqual(
      ['Deployment: apiVersion extensions/v1beta1 is not served; use apps/v1'],
    );
    const scaled = structuredClone(
      renderChart(CHART, { values: { defaults: { autoscaling: { enabled: true } } } }).find(
        (manifest) => manifest.object.kind === 'ScaledObject',
      )?.object,
    ) as Obj;
    (at(scaled, 'spec', 'triggers', 0, 'metadata') as Obj).targetQueueSize = 5;
    expect(validateManifest(scaled)).toEqual([
      'ScaledObject.spec.triggers.0.metadata.targetQueueSize: Invalid input: expected string, received number',
    ]);
  });

  it('the renderer refuses template features outside its subset instead of guessing', () => {
    expect(() => renderChart(join(REPO, 'test', 'fixtures', 'helm-unsupported'))).toThrow(TemplateError);
  });
});

describe('the worker image (infra/docker/Dockerfile)', () => {
  const dockerfile = readFileSync(join(REPO, 'infra', 'docker', 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line));

  it('builds in stages, bundles the workflows at build time and installs production dependencies only', () => {
    expect(instructions.filter((line) => line.startsWith('FROM ')).map((line) => line.split(' AS ')[1])).toEqual([
      'build',
      'runtime-deps',
      'runtime',
    ]);
    expect(dockerfile).toContain('RUN npm run build:workflows -- dist/workflow-bundle.js');
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev/);
    expect(dockerfile).toContain('COPY --from=build /app/dist/workflow-bundle.js ./dist/workflow-bundle.js');
    expect(dockerfile).toContain('MLOE_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js');
    // `mloe` on PATH: the command of built-in steps on remote executors (`mloe step exec`).
    expect(dockerfile).toContain('RUN ln -s /app/bin/mloe.js /usr/local/bin/mloe');
  });

  it('runs as a non-root user under tini, starting bin/docker-entrypoint.js', () => {
    const user = instructions.filter((line) => line.startsWith('USER ')).pop();
    expect(user).toBe('USER 1000:1000');
    expect(instructions.filter((line) => line.startsWith('ENTRYPOINT ')).pop()).toBe(
      'ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/docker-entrypoint.js"]',
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const entry = require(join(REPO, 'bin', 'docker-entrypoint.js')) as { IMAGE_BUNDLE: string };
    expect(entry.IMAGE_BUNDLE).toBe(join(REPO, 'dist', 'workflow-bundle.js'));
  });

  it('copies only paths that exist, and the build context leaves node_modules out', () => {
    const sources = instructions
      .filter((line) => line.startsWith('COPY ') && !line.includes('--from='))
      .flatMap((line) => line.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(5);
    expect(sources.filter((source) => !existsSync(join(REPO, source)))).toEqual([]);
    expect(readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n')).toContain('node_modules');
  });
});
