/**
 * Secrets by reference (`run.secrets.<NAME>.secretRef`): the spec checks references; the activity resolves `env:` and
 * `file:` (inside the worker's secret roots only) and the Kubernetes executor maps `k8s:` to a `secretKeyRef`; the
 * redactor replaces values in logs and errors. The secret-leak test runs pipelines that use an env and a file secret
 * through a real `mloe worker` process against the dev server, then searches every workflow history (official
 * client), every file of the artifact store (run, step, lineage and cache records, logs, outputs), every MLflow run
 * (params, tags, metrics), the OpenLineage events and the worker's captured output for the values, and finds none, while the step did
 * receive them (it reports their digests).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

import { Client } from '@temporalio/client';

import { SecretRedactor, resolveStepSecrets } from '../activities/secrets';
import { buildJob } from '../activities/executors/kubernetes/manifest';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { MloeError } from '../core/errors';
import { parseSecretRef } from '../core/spec/secrets';
import { runSchema } from '../core/spec';
import { connect, serverAddress, uniqueQueue, type TestEnv } from './devserver/harness';
import { childEnv, MloeChild } from './support/mloe-child';
import { suiteTemporaryDirectories } from './temporary-directories';

jest.setTimeout(180_000);

const temporaryDirectory = suiteTemporaryDirectories('mloe-secrets-test-');

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('secret references in the spec', () => {
  it('accepts env:, file: and k8s: references and refuses others with the form to use', () => {
    expect(parseSecretRef('env:API_TOKEN')).toEqual({ kind: 'env', name: 'API_TOKEN' });
    expect(parseSecretRef('file:/run/secrets/db')).toEqual({ kind: 'file', path: '/run/secrets/db' });
    expect(parseSecretRef('k8s:db-credentials/password')).toEqual({
      kind: 'k8s',
      secret: 'db-credentials',
      key: 'password',
    });
    expect(parseSecretRef('file:/run/secrets/../../etc/passwd')).toMatch(/contains "\.\."/);
    expect(parseSecretRef('vault:x')).toMatch(/is not a secret reference/);
    const parsed = runSchema.safeParse({ command: ['true'], secrets: { 'bad-name': { secretRef: 'env:X' } } });
    expect(parsed.success).toBe(false);
    const bad = runSchema.safeParse({ command: ['true'], secrets: { TOKEN: { secretRef: 'k8s:Upper/key' } } });
    expect(bad.success ? '' : bad.error.issues[0]?.message).toBe('k8s:Upper/key is not secret-name/key');
    expect(runSchema.safeParse({ command: ['true'], secrets: { TOKEN: { secretRef: 'env:T' } } }).success).toBe(true);
  });
});

describe('resolving secrets inside the activity', () => {
  it('reads env: and file: secrets, refuses files outside the roots (symlinks too) and k8s: on the worker', async () => {
    const directory = await temporaryDirectory();
    const roots = join(directory, 'secrets');
    await mkdir(roots);
    await writeFile(join(roots, 'db'), 'hunter2-file\n');
    await writeFile(join(directory, 'outside'), 'not-for-steps');
    await symlink(join(directory, 'outside'), join(roots, 'sneaky'));
    const redactor = new SecretRedactor();
    const sources = { env: { TOKEN: 'tok-123456' }, fileRoots: [roots] };
    await expect(
      resolveStepSecrets(
        'train',
        { A: { secretRef: 'env:TOKEN' }, B: { secretRef: 'file:db' }, C: { secretRef: `file:${roots}/db` } },
        sources,
        redactor,
      ),
    ).resolves.toEqual({ A: 'tok-123456', B: 'hunter2-file', C: 'hunter2-file' });
    expect(redactor.redact('tok-123456 and hunter2-file')).toBe('*** and ***');

    const failure = async (secretRef: string): Promise<MloeError> => {
      const error = await resolveStepSecrets('train', { X: { secretRef } }, sources, redactor).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(error instanceof MloeError)) throw new Error(`expected an MloeError for ${secretRef}`);
      return error;
    };
    const outside = await failure(`file:${join(directory, 'outside')}`);
    expect(outside.code).toBe('SECRET_REF_INVALID');
    expect(outside.message).toContain(`the file is outside the worker's secret roots (${roots})`);
    expect(outside.message).toContain('MLOE_SECRET_FILE_ROOTS');
    expect((await failure('file:sneaky')).code).toBe('SECRET_REF_INVALID');
    expect((await failure('file:missing')).message).toBe(
      'step train: secrets.X (file:missing): no such file on this worker (ENOENT)',
    );
    expect((await failure('env:UNSET')).message).toBe(
      'step train: secrets.X (env:UNSET): UNSET is not set on this worker',
    );
    expect((await failure('k8s:db/password')).message).toContain('only for steps with `executor: kubernetes`');
    expect(outside.retryable).toBe(false);
  });

  it('redacts values split across stream chunks', async () => {
    const redactor = new SecretRedactor();
    redactor.add('s3cr3t-value');
    const chunks = ['before s3cr', '3t-val', 'ue after s3cr3t-value', '!'].map((text) => Buffer.from(text));
    const out = await buffer(Readable.from(chunks).pipe(redactor.stream()));
    expect(out.toString()).toBe('before *** after ***!');
  });

  it('the Kubernetes executor passes k8s: secrets as secretKeyRef, never as values', () => {
    const job = buildJob({
      name: 'mloe-train-1',
      namespace: 'ml',
      attempt: 1,
      request: {
        stepId: 'train',
        workflowId: 'wf',
        command: ['python', 'train.py'],
        params: {},
        inputs: {},
        outputs: {},
        artifactRoot: 's3://b/p',
        image: 'python:3.12',
        placement: { executor: 'kubernetes' },
        secretKeyRefs: { DB_PASSWORD: { secret: 'db-credentials', key: 'password' } },
      },
      staging: { commandEnv: [], stageIn: { script: '', env: [] }, stageOut: { script: '', upload: '', env: [] } },
      config: { ttlSecondsAfterFinished: 60, stagingImage: 'curl' },
    } as unknown as Parameters<typeof buildJob>[0]);
    const main = job.spec?.template.spec?.containers[0];
    expect(main?.env).toContainEqual({
      name: 'DB_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'password' } },
    });
  });
});

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/** JSON of a value with byte arrays (payload data) as their UTF-8 text and base64. */
function searchableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item instanceof Uint8Array ? `${Buffer.from(item).toString('utf8')} ${Buffer.from(item).toString('base64')}` : item,
  );
}

describe('the secret-leak test', () => {
  const envSecret = `env-secret-${randomBytes(12).toString('hex')}`;
  const fileSecret = `file-secret-${randomBytes(12).toString('hex')}`;
  const needles = [
    envSecret,
    fileSecret,
    Buffer.from(envSecret).toString('base64'),
    Buffer.from(fileSecret).toString('base64'),
  ];
  const taskQueue = uniqueQueue('secrets');
  const experiment = `secrets-${randomBytes(4).toString('hex')}`;
  let directory: string;
  let artifacts: string;
  let env: TestEnv;
  let client: Client;
  let worker: MloeChild;
  const workflowIds: string[] = [];

  beforeAll(async () => {
    directory = await temporaryDirectory();
    artifacts = join(directory, 'artifacts');
    const secretsDir = join(directory, 'secrets');
    await mkdir(secretsDir);
    await writeFile(join(secretsDir, 'db-password'), `${fileSecret}\n`, { mode: 0o600 });
    env = await connect();
    client = env.client;
    worker = new MloeChild(['worker', '--task-queue', taskQueue], {
      cwd: directory,
      env: childEnv({
        HOME: directory,
        TEMPORAL_ADDRESS: serverAddress(),
        MY_TOKEN: envSecret,
        MLOE_SECRET_FILE_ROOTS: secretsDir,
        MLOE_ARTIFACT_STORE: `file://${artifacts}`,
        MLFLOW_TRACKING_URI: process.env.MLFLOW_TEST_TRACKING_URI ?? '',
        MLFLOW_EXPERIMENT_NAME: experiment,
        // OpenLineage events to a file inside the artifact directory, searched with it below.
        OPENLINEAGE__TRANSPORT__TYPE: 'file',
        OPENLINEAGE__TRANSPORT__LOG_FILE_PATH: join(directory, 'artifacts', 'openlineage.jsonl'),
      }),
    });
    await worker.waitForOutput(/pipeline worker ready/, 90_000);
  });

  afterAll(async () => {
    await worker?.stop('SIGTERM');
    await env?.close();
  });

  const secrets = {
    API_TOKEN: { secretRef: 'env:MY_TOKEN' },
    DB_PASSWORD: { secretRef: 'file:db-password' },
  };

  it('a step receives its env and file secrets, and its printed values are redacted in the stored logs', async () => {
    const script = [
      'echo "token is $API_TOKEN"',
      'echo "password is $DB_PASSWORD" >&2',
      't=$(printf %s "$API_TOKEN" | sha256sum | cut -c1-64)',
      'p=$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64)',
      'printf \'{"tokenDigest":"%s","passwordDigest":"%s"}\' "$t" "$p" > "$MLOE_OUTPUTS_DIR/outputs.json"',
    ].join('\n');
    const spec = {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: 'uses-secrets' },
      steps: {
        use: {
          run: { command: ['sh', '-c', script], secrets },
          outputs: { tokenDigest: { type: 'string' }, passwordDigest: { type: 'string' } },
        },
      },
    };
    const run = await startPipeline(client, { spec, taskQueue, workingDir: directory, noCache: true });
    workflowIds.push(run.workflowId);
    const outcome = await waitForPipeline(run.handle, { pollIntervalMs: 100 });
    expect(outcome.error).toBeUndefined();
    const step = outcome.status.steps.find((s) => s.id === 'use');
    expect(step?.state).toBe('completed');
    expect(JSON.stringify(step)).toContain(sha256(envSecret));
    expect(JSON.stringify(step)).toContain(sha256(fileSecret));
    const logs = (await Promise.all((await filesUnder(artifacts)).map((file) => readFile(file, 'utf8')))).join('\n');
    expect(logs).toContain('token is ***');
    expect(logs).toContain('password is ***');
  });

  it("a failing step's error (with its stderr tail) is redacted in the history", async () => {
    const spec = {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: 'leaks-secrets' },
      steps: {
        boom: {
          run: { command: ['sh', '-c', 'echo "oops $API_TOKEN $DB_PASSWORD" >&2; exit 3'], secrets },
          retry: { maxAttempts: 1 },
        },
        outside: {
          run: { command: ['true'], secrets: { X: { secretRef: `file:${join(directory, 'artifacts')}` } } },
          retry: { maxAttempts: 1 },
        },
      },
    };
    const run = await startPipeline(client, { spec, taskQueue, workingDir: directory, noCache: true });
    workflowIds.push(run.workflowId);
    const outcome = await waitForPipeline(run.handle, { pollIntervalMs: 100 });
    expect(outcome.status.state).toBe('failed');
    const steps = Object.fromEntries(outcome.status.steps.map((s) => [s.id, JSON.stringify(s)]));
    expect(steps.boom).toContain('oops *** ***');
    expect(steps.outside).toContain('SECRET_REF_INVALID');
    expect(steps.outside).toContain("outside the worker's secret roots");
  });

  it('no history, record, lineage event, MLflow run or log line holds a secret value', async () => {
    // Every workflow of these runs (children included), its full history through the official client.
    const histories: string[] = [];
    for await (const execution of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      histories.push(searchableJson(history));
    }
    expect(histories.length).toBeGreaterThanOrEqual(workflowIds.length);
    expect(histories.join('\n')).toContain('SECRET_REF_INVALID');

    // Every file of the artifact store: run and step records, lineage records, cache entries, logs, outputs.
    const files = await filesUnder(artifacts);
    expect(files.some((file) => file.includes('records'))).toBe(true);
    const stored = await Promise.all(files.map(async (file) => ({ file, text: await readFile(file, 'latin1') })));

    // Every MLflow run of the experiment: params, tags, metrics.
    const tracking = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
    const found = (await (
      await fetch(`${tracking}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${experiment}`)
    ).json()) as { experiment?: { experiment_id: string } };
    const experimentId = found.experiment?.experiment_id ?? '';
    const searched = (await (
      await fetch(`${tracking}/api/2.0/mlflow/runs/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ experiment_ids: [experimentId], max_results: 1000 }),
      })
    ).json()) as { runs?: unknown[] };
    expect(searched.runs?.length ?? 0).toBeGreaterThan(0);
    const mlflow = JSON.stringify(searched.runs);

    expect(stored.find(({ file }) => file.endsWith('openlineage.jsonl'))?.text).toContain('"eventType"');
    expect(worker.output).toContain('pipeline worker ready');
    for (const needle of needles) {
      expect(histories.filter((history) => history.includes(needle))).toEqual([]);
      expect(stored.filter(({ text }) => text.includes(needle)).map(({ file }) => file)).toEqual([]);
      expect(mlflow.includes(needle)).toBe(false);
      expect(worker.output.includes(needle)).toBe(false);
    }
  });
});
