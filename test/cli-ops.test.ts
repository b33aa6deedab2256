/**
 * The operations commands: the worker configuration (`workers/config.ts`) with valid and invalid fixtures;
 * `mloe status`/`cancel`/`list` when nothing listens; `mloe worker` as a child process against the jest dev server
 * (a pipeline run through it, `mloe list` and `mloe logs` on its runs, SIGINT); `mloe dev --port 0` as a child
 * process (a pipeline run through it, SIGTERM). In-process commands go through `buildProgram`.
 */
import { randomUUID } from 'node:crypto';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import { MloeError } from '../core/errors';
import { parseListFlags, pipelineListQuery } from '../clients/list';
import { startPipeline, waitForPipeline, type PipelineRun } from '../clients/pipelines';
import {
  defaultBundleCacheDir,
  loadClientConfig,
  loadConnectionConfig,
  loadRunConfig,
  loadStoreReaderConfig,
  loadWorkerConfig,
  type ConfigEnv,
} from '../workers/config';
import { connect, serverAddress, type TestEnv } from './devserver/harness';
import { runMloe, type CliResult } from './support/cli';
import { childEnv, MloeChild } from './support/mloe-child';
import { pollUntil } from './support/poll';
import { closedPort } from './support/ports';
import { thrownBy } from './support/rejection';
import { suiteTemporaryDirectories } from './temporary-directories';

/** The description of the lineage configuration of an environment without `OPENLINEAGE_*` variables. */
const LINEAGE_OFF = 'OpenLineage events off';

/** A pipeline spec with one command step per entry. */
function commandSpec(name: string, steps: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'mloe.dev/v1', kind: 'Pipeline', metadata: { name }, steps };
}

/** A pipeline name no other run of any suite uses. */
function uniqueName(base: string): string {
  return `${base}-${randomUUID().slice(0, 8)}`;
}

const SAY_STEP = { run: { command: ['sh', '-c', 'echo hello; echo oops >&2'] } };

/** A fresh temporary directory, removed after the suite. */
const temporaryDirectory = suiteTemporaryDirectories('mloe-cli-ops-');

describe('worker configuration', () => {
  it('applies the defaults: 127.0.0.1:7233, default, mloe-pipelines, 16 steps, .mloe/artifacts in cwd', () => {
    expect(loadWorkerConfig({ env: {}, cwd: '/srv/ml' })).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      addressOrigin: 'default',
      taskQueue: 'mloe-pipelines',
      maxConcurrentActivityTaskExecutions: 16,
      artifactStore: { defaultUri: 'file:///srv/ml/.mloe/artifacts' },
      lineage: { namespace: 'mloe', transport: { type: 'noop' } },
      workflowBundle: { cacheDir: defaultBundleCacheDir() },
      shutdownGraceMs: 10_000,
      secrets: { env: {}, fileRoots: ['/run/secrets', '/var/run/secrets'] },
    });
  });

  it('reads the environment, lets flags win, treats empty variables as unset', () => {
    const config = loadWorkerConfig({
      env: {
        TEMPORAL_ADDRESS: 'temporal.internal:7300',
        TEMPORAL_NAMESPACE: 'ml',
        MLOE_TASK_QUEUE: '',
        MLOE_ARTIFACT_STORE: 's3://ml-artifacts/team-a',
        MLOE_S3_ENDPOINT: 'http://127.0.0.1:9000',
        AWS_REGION: 'eu-west-1',
        MLOE_S3_FORCE_PATH_STYLE: 'false',
        MLOE_WORKER_CONCURRENCY: '8',
        MLOE_WORKFLOW_BUNDLE: 'dist/workflow-bundle.js',
        MLOE_BUNDLE_CACHE_DIR: '/var/cache/mloe',
        MLOE_WORKER_SHUTDOWN_GRACE_SECONDS: '45',
      },
      flags: { address: 'localhost', concurrency: '2' },
      cwd: '/srv/ml',
    });
    // The secret sources (the whole environment) are checked below.
    expect({ ...config, secrets: undefined }).toEqual({
      address: 'localhost:7233',
      namespace: 'ml',
      addressOrigin: '--address',
      taskQueue: 'mloe-pipelines',
      maxConcurrentActivityTaskExecutions: 2,
      artifactStore: {
        defaultUri: 's3://ml-artifacts/team-a',
        s3: { endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', forcePathStyle: false },
      },
      lineage: { namespace: 'mloe', transport: { type: 'noop' } },
      workflowBundle: {
        file: '/srv/ml/dist/workflow-bundle.js',
        fileOrigin: 'MLOE_WORKFLOW_BUNDLE',
        cacheDir: '/var/cache/mloe',
      },
      shutdownGraceMs: 45_000,
    });
    expect(config.secrets.fileRoots).toEqual(['/run/secrets', '/var/run/secrets']);
    expect(loadClientConfig({ env: { TEMPORAL_ADDRESS: '[::1]:7233' } })).toMatchObject({
      address: '[::1]:7233',
      addressOrigin: 'TEMPORAL_ADDRESS',
    });
  });

  it.each([
    ['MLOE_WORKER_CONCURRENCY', '0', 'at least 1'],
    ['MLOE_WORKER_CONCURRENCY', '-3', 'not a whole number'],
    ['MLOE_WORKER_CONCURRENCY', '1.5', 'not a whole number'],
    ['MLOE_WORKER_CONCURRENCY', 'lots', 'not a whole number'],
    ['MLOE_WORKER_CONCURRENCY', '100000', 'at most 10000'],
    ['TEMPORAL_ADDRESS', 'http://localhost:7233', 'not a URL'],
    ['TEMPORAL_ADDRESS', 'localhost:0', 'out of range'],
    ['TEMPORAL_ADDRESS', 'localhost:99999', 'out of range'],
    ['TEMPORAL_ADDRESS', 'local host:7233', 'not a host:port'],
    ['TEMPORAL_NAMESPACE', 'my namespace', 'not a namespace name'],
    ['MLOE_TASK_QUEUE', 'two words', 'whitespace'],
    ['MLOE_ARTIFACT_STORE', 'relative/dir', 'unsupported artifact store location'],
    ['MLOE_ARTIFACT_STORE', '/abs/dir', 'write file:///abs/dir'],
    ['MLOE_ARTIFACT_STORE', 'gs://bucket', 'unsupported artifact store scheme gs://'],
    ['MLOE_ARTIFACT_STORE', 'file://host/dir', 'file:///absolute/path'],
    ['MLOE_ARTIFACT_STORE', 'file:///data/../etc', '".."'],
    ['MLOE_ARTIFACT_STORE', 's3://Bad_Bucket/x', 'invalid S3 bucket name'],
    ['MLOE_S3_ENDPOINT', 'ftp://minio:9000', 'not an http(s) URL'],
    ['AWS_REGION', 'EU West', 'lowercase letters'],
    ['MLOE_S3_FORCE_PATH_STYLE', 'maybe', 'not true or false'],
    ['MLOE_WORKER_SHUTDOWN_GRACE_SECONDS', '1m', 'not a whole number of seconds'],
    ['MLOE_WORKER_SHUTDOWN_GRACE_SECONDS', '100000', 'at most 86400'],
  ])('rejects %s=%j with CONFIG_INVALID naming the variable, the value and the fix', (name, value, problem) => {
    const error = thrownBy(() => loadWorkerConfig({ env: { [name]: value } }));
    expect(error).toBeInstanceOf(MloeError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    const { message } = error as MloeError;
    expect(message).toContain(`${name}=${JSON.stringify(value)}`);
    expect(message).toContain(problem);
    expect(message).toContain('fix: ');
  });

  it('names the flag when a flag is bad, lists every bad value at once, never echoes endpoint credentials', () => {
    const error = thrownBy(() =>
      loadWorkerConfig({
        env: { MLOE_S3_ENDPOINT: 'http://AKIA:s3cr3t@minio:9000', MLOE_WORKER_CONCURRENCY: '4' },
        flags: { concurrency: 'x', artifactStore: 'bucket' },
      }),
    ) as MloeError;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('--concurrency "x"');
    expect(error.message).toContain('--artifact-store "bucket"');
    expect(error.message).toContain('MLOE_S3_ENDPOINT="http://***@minio:9000": credentials do not belong');
    expect(error.message).not.toContain('s3cr3t');
    // A flag's fix does not say "or unset it": dropping the flag would give the variable, not the default.
    expect(error.message).toMatch(/--concurrency "x": not a whole number; fix: use a whole number from 1 to 10000$/m);
    expect(error.message).toMatch(
      /--artifact-store "bucket": [^\n]*; fix: use file:\/\/\/absolute\/dir or s3:\/\/bucket\[\/prefix\]$/m,
    );
    expect(error.message).toContain('for AWS'); // the variable's fix keeps "or unset it for AWS"
  });

  it('checks the OpenLineage variables with the worker settings, naming the variable, never the API key', () => {
    const kafka = thrownBy(() => loadWorkerConfig({ env: { OPENLINEAGE__TRANSPORT__TYPE: 'kafka' } })) as MloeError;
    expect(kafka.code).toBe('CONFIG_INVALID');
    expect(kafka.message).toBe(
      'invalid OPENLINEAGE__TRANSPORT__TYPE: expected one of http, file, console, noop (got "kafka")',
    );
    const both = thrownBy(() =>
      loadWorkerConfig({
        env: { MLOE_WORKER_CONCURRENCY: '0', OPENLINEAGE_URL: 'ftp://x' },
      }),
    ) as MloeError;
    expect(both.code).toBe('CONFIG_INVALID');
    expect(both.message).toMatch(/^invalid configuration:\n {2}MLOE_WORKER_CONCURRENCY="0": .*\n {2}OPENLINEAGE_URL: /);
    const secret = thrownBy(() =>
      loadWorkerConfig({ env: { OPENLINEAGE_URL: 'http://marquez:5000', OPENLINEAGE_API_KEY: 'bad key' } }),
    ) as MloeError;
    expect(secret.message).toContain('OPENLINEAGE_API_KEY');
    expect(secret.message).not.toContain('bad key');
    expect(
      loadWorkerConfig({ env: { OPENLINEAGE_URL: 'http://marquez:5000', OPENLINEAGE_API_KEY: 'k1' } }).lineage,
    ).toMatchObject({ transport: { type: 'http', url: 'http://marquez:5000/api/v1/lineage' } });
  });

  it('reads only what a command uses: a bad setting a command never uses does not stop it', () => {
    const unused = { MLOE_WORKER_CONCURRENCY: '0', MLOE_TASK_QUEUE: 'a b', OPENLINEAGE__TRANSPORT__TYPE: 'kafka' };
    expect(loadClientConfig({ env: unused })).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      addressOrigin: 'default',
    });
    // status, cancel, list, explain: no S3; lineage: no Temporal.
    expect(loadConnectionConfig({ env: { ...unused, MLOE_S3_ENDPOINT: 'foo', MLOE_ARTIFACT_STORE: 'x' } })).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      addressOrigin: 'default',
    });
    expect(() => loadClientConfig({ env: { MLOE_S3_ENDPOINT: 'foo' } })).toThrow('MLOE_S3_ENDPOINT="foo"');
    const lineageEnv = { ...unused, TEMPORAL_ADDRESS: 'http://x', TEMPORAL_NAMESPACE: 'a b' };
    expect(loadStoreReaderConfig({ env: lineageEnv })).toEqual({});
    expect(
      loadStoreReaderConfig({
        env: { ...lineageEnv, MLOE_ARTIFACT_STORE: 's3://ml-bucket/runs', MLOE_S3_ENDPOINT: 'http://127.0.0.1:9000' },
      }),
    ).toEqual({ artifactStore: 's3://ml-bucket/runs', s3: { endpoint: 'http://127.0.0.1:9000' } });
    // The store is checked as the worker checks it, unless --artifact-store makes it unused.
    expect(() => loadStoreReaderConfig({ env: { MLOE_ARTIFACT_STORE: '/srv/a' } })).toThrow(
      'MLOE_ARTIFACT_STORE="/srv/a": a path is not a URI: write file:///srv/a',
    );
    expect(loadStoreReaderConfig({ env: { MLOE_ARTIFACT_STORE: '/srv/a' } }, { storeGiven: true })).toEqual({});
  });

  it('mloe run: the connection with TEMPORAL_ADDRESS, else the embedded worker configuration', () => {
    const env = { MLOE_ARTIFACT_STORE: 's3://ml-bucket/runs', MLOE_WORKER_CONCURRENCY: '3', MLOE_TASK_QUEUE: 'q' };
    expect(loadRunConfig({ env }, { embeddedAddress: '127.0.0.1:0' })).toMatchObject({
      embedded: true,
      worker: {
        address: '127.0.0.1:0',
        taskQueue: 'q',
        maxConcurrentActivityTaskExecutions: 3,
        artifactStore: { defaultUri: 's3://ml-bucket/runs' },
      },
    });
    expect(
      loadRunConfig(
        { env: { ...env, TEMPORAL_ADDRESS: 'temporal:7300', MLOE_WORKER_CONCURRENCY: 'x' } },
        { embeddedAddress: '127.0.0.1:0' },
      ),
    ).toEqual({
      embedded: false,
      connection: { address: 'temporal:7300', namespace: 'default', addressOrigin: 'TEMPORAL_ADDRESS' },
      taskQueue: 'q',
    });
    expect(() => loadRunConfig({ env: { MLOE_WORKER_CONCURRENCY: 'x' } }, { embeddedAddress: '127.0.0.1:0' })).toThrow(
      'MLOE_WORKER_CONCURRENCY="x"',
    );
  });

  it('validates mloe list flags and quotes query values so they cannot end the literal', () => {
    expect(parseListFlags({ status: 'failed', limit: '5' })).toEqual({ status: 'Failed', limit: 5 });
    expect(parseListFlags({ status: 'Canceled' })).toMatchObject({ status: 'Cancelled' });
    expect(parseListFlags({ status: 'cancelled' })).toMatchObject({ status: 'Cancelled' });
    expect(parseListFlags({ status: 'timedout' })).toMatchObject({ status: 'TimedOut' });
    expect(parseListFlags({ status: 'TERMINATED' })).toMatchObject({ status: 'Terminated' });
    expect(() => parseListFlags({ status: 'Done' })).toThrow(
      '--status "Done": expected one of Running, Completed, Failed, Cancelled, Terminated, TimedOut',
    );
    expect(() => parseListFlags({ limit: '0' })).toThrow('--limit "0"');
    const runs = "WorkflowType = 'runPipeline' AND ParentWorkflowId IS NULL";
    expect(pipelineListQuery({ pipeline: "x' OR MloeStatus = 'Failed", status: 'Running' })).toBe(
      `${runs} AND MloePipeline = 'x\\' OR MloeStatus = \\'Failed' AND MloeStatus = 'Running' AND ExecutionStatus = 'Running'`,
    );
    expect(pipelineListQuery({ pipeline: 'a\\' })).toBe(`${runs} AND MloePipeline = 'a\\\\'`);
    expect(pipelineListQuery({ status: 'Cancelled' })).toBe(
      `${runs} AND (MloeStatus = 'Cancelled' OR (MloeStatus = 'Running' AND ExecutionStatus = 'Canceled'))`,
    );
    expect(pipelineListQuery({ status: 'TimedOut' })).toBe(`${runs} AND ExecutionStatus = 'TimedOut'`);
  });
});

describe('commands without a Temporal, or with a bad configuration', () => {
  it('status, cancel, list, explain and logs say clearly that nothing listens at the address, and exit 1', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const commands = [
      ['status', 'pipeline-x-1'],
      ['cancel', 'pipeline-x-1'],
      ['list'],
      ['explain', 'pipeline-x-1', 'step'],
      ['logs', 'pipeline-x-1'],
    ];
    for (const args of commands) {
      // Only logs reads the S3 settings: a bad one does not stop the others.
      const s3 = args[0] === 'logs' ? {} : { MLOE_S3_ENDPOINT: 'foo', MLOE_WORKER_CONCURRENCY: '0' };
      const result = await runMloe(args, { TEMPORAL_ADDRESS: address, ...s3 });
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      expect(result.stderr.join('\n')).toContain(`no Temporal at ${address}: start one with \`mloe dev\``);
    }
    const logs = await runMloe(['logs', 'pipeline-x-1'], { TEMPORAL_ADDRESS: address, MLOE_S3_ENDPOINT: 'foo' });
    expect(logs.code).toBe(1);
    expect(logs.stderr.join('\n')).toContain('invalid MLOE_S3_ENDPOINT="foo"');
    const flagged = await runMloe(['status', 'pipeline-x-1', '--address', address], {});
    expect(flagged.code).toBe(1);
    expect(flagged.stderr.join('\n')).toContain(`no Temporal at ${address}`);
  });

  it('a bad TEMPORAL_ADDRESS, store URI or concurrency is an error naming the variable, before anything starts', async () => {
    const status = await runMloe(['status', 'pipeline-x-1'], { TEMPORAL_ADDRESS: 'grpc://nowhere' });
    expect(status.code).toBe(1);
    expect(status.stderr.join('\n')).toContain('TEMPORAL_ADDRESS="grpc://nowhere": an address is host:port');

    const worker = await runMloe(['worker'], {
      MLOE_WORKER_CONCURRENCY: 'many',
      MLOE_ARTIFACT_STORE: 'data/artifacts',
    });
    expect(worker.code).toBe(1);
    expect(worker.stderr.join('\n')).toMatch(/MLOE_ARTIFACT_STORE="data\/artifacts"[^\n]*\n\s*MLOE_WORKER_CONCURRENCY/);

    const dev = await runMloe(['dev', '--port', 'high'], {});
    expect(dev.code).toBe(1);
    expect(dev.stderr.join('\n')).toContain('--port "high"');
  });

  it('a bad OpenLineage variable stops mloe worker and mloe dev before they connect or start a server', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const message =
      'error: invalid OPENLINEAGE__TRANSPORT__TYPE: expected one of http, file, console, noop (got "kafka")';
    const worker = await runMloe(['worker'], { TEMPORAL_ADDRESS: address, OPENLINEAGE__TRANSPORT__TYPE: 'kafka' });
    expect(worker).toEqual({ code: 1, stdout: [], stderr: [message] });
    const dev = await runMloe(['dev', '--port', '0'], { OPENLINEAGE__TRANSPORT__TYPE: 'kafka' });
    expect(dev).toEqual({ code: 1, stdout: [], stderr: [message] });
  });

  it('mloe run checks --artifact-store before it connects or starts the embedded server', async () => {
    const directory = await temporaryDirectory();
    const spec = join(directory, 'pipeline.json');
    await writeFile(spec, JSON.stringify(commandSpec(uniqueName('ops-store'), { say: SAY_STEP })));
    const address = `127.0.0.1:${await closedPort()}`;
    const expected = 'error: unsupported artifact store "bucket": use file:///absolute/dir or s3://bucket[/prefix]';
    const remote = await runMloe(['run', spec, '--artifact-store', 'bucket'], { TEMPORAL_ADDRESS: address });
    expect(remote).toEqual({ code: 1, stdout: [], stderr: [expected] });
    const startedAt = performance.now();
    const embedded = await runMloe(['run', spec, '--artifact-store', 'bucket'], {});
    expect(embedded).toEqual({ code: 1, stdout: [], stderr: [expected] });
    expect(performance.now() - startedAt).toBeLessThan(1000); // no server booted, no workflows bundled
    const badFile = await runMloe(['run', spec, '--artifact-store', 'file://host/dir'], { TEMPORAL_ADDRESS: address });
    expect(badFile.code).toBe(1);
    expect(badFile.stderr.join('\n')).not.toContain('no Temporal');
  });

  it('mloe lineage reads no Temporal setting, defaults to MLOE_ARTIFACT_STORE and refuses --upstream --downstream', async () => {
    const directory = await temporaryDirectory();
    const store = pathToFileURL(join(directory, 'store')).href;
    const env = { TEMPORAL_ADDRESS: 'http://x', TEMPORAL_NAMESPACE: 'a b', MLOE_ARTIFACT_STORE: store };
    const fromVariable = await runMloe(['lineage', 'sha256:deadbeef00'], env);
    expect(fromVariable.code).toBe(1);
    expect(fromVariable.stderr.join('\n')).toContain(`digest starts with deadbeef00`);
    expect(fromVariable.stderr.join('\n')).toContain(` in ${store}`);

    const badVariable = await runMloe(['lineage', 'sha256:deadbeef00'], { MLOE_ARTIFACT_STORE: 'data/store' });
    expect(badVariable.code).toBe(1);
    expect(badVariable.stderr.join('\n')).toContain('invalid MLOE_ARTIFACT_STORE="data/store"');
    // --artifact-store wins, so the variable is not read.
    const flagged = await runMloe(['lineage', 'sha256:deadbeef00', '--artifact-store', join(directory, 'other')], {
      MLOE_ARTIFACT_STORE: 'data/store',
    });
    expect(flagged.code).toBe(1);
    expect(flagged.stderr.join('\n')).toContain(` in ${pathToFileURL(join(directory, 'other')).href}`);

    const both = await runMloe(['lineage', 'sha256:deadbeef00', '--upstream', '--downstream'], env);
    expect(both).toEqual({
      code: 2,
      stdout: [],
      stderr: ['error: give --upstream or --downstream, not both (without either, both directions are shown)'],
    });
  });

  it('mloe worker (bin/mloe.js) exits 1 with the clear message when nothing listens', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const child = new MloeChild(['worker'], { cwd: tmpdir(), env: childEnv({ TEMPORAL_ADDRESS: address }) });
    expect(await child.exited).toEqual({ code: 1, signal: null });
    expect(child.stderr).toContain(`no Temporal at ${address}: start one with \`mloe dev\` or check TEMPORAL_ADDRESS`);
  });
});

describe('mloe worker, a child process on the jest dev server', () => {
  const taskQueue = `mloe-cli-ops-${randomUUID()}`;
  const okName = uniqueName('ops-ok');
  const failName = uniqueName('ops-fail');
  let directory: string;
  let artifacts: string;
  let worker: MloeChild;
  let env: TestEnv;
  let client: Client;
  let okRun: PipelineRun;
  let failRun: PipelineRun;
  const serverEnv = (): ConfigEnv => ({ TEMPORAL_ADDRESS: serverAddress() });

  beforeAll(async () => {
    directory = await temporaryDirectory();
    artifacts = join(directory, 'artifacts');
    env = await connect();
    client = env.client;
    worker = new MloeChild(['worker', '--task-queue', taskQueue, '--concurrency', '4'], {
      cwd: directory,
      env: childEnv({ TEMPORAL_ADDRESS: serverAddress(), MLOE_ARTIFACT_STORE: `file://${artifacts}` }),
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await env?.close();
  });

  it('prints one ready line with the address, namespace and task queue', async () => {
    const [line] = await worker.waitForStdout(/^pipeline worker ready: .*$/m);
    expect(line).toBe(
      `pipeline worker ready: address ${serverAddress()}, namespace default, task queue ${taskQueue} ` +
        `(4 concurrent steps, artifacts file://${artifacts}; ${LINEAGE_OFF})`,
    );
  });

  it('runs pipelines started with startPipeline on its task queue', async () => {
    const start = (name: string, steps: Record<string, unknown>): Promise<PipelineRun> =>
      startPipeline(client, { spec: commandSpec(name, steps), taskQueue, workingDir: directory, noCache: true });
    okRun = await start(okName, { say: SAY_STEP });
    failRun = await start(failName, {
      boom: { run: { command: ['sh', '-c', 'echo bad >&2; exit 3'] }, retry: { maxAttempts: 1 } },
      after: { needs: ['boom'], ...SAY_STEP },
    });
    const ok = await waitForPipeline(okRun.handle, { pollIntervalMs: 50 });
    expect(ok.error).toBeUndefined();
    expect(ok.status.steps.map((step) => [step.id, step.state])).toEqual([['say', 'completed']]);
    const failed = await waitForPipeline(failRun.handle, { pollIntervalMs: 50 });
    expect(failed.status.state).toBe('failed');
    expect(failed.status.steps.find((step) => step.id === 'boom')?.state).toBe('failed');
  });

  it('mloe list filters by pipeline and by status', async () => {
    const rowsOf = (result: CliResult): string[][] => result.stdout.slice(2).map((line) => line.split(/\s{2,}/));
    const byPipeline = await pollUntil(`mloe list --pipeline ${okName} to show its one run`, async () => {
      const result = await runMloe(['list', '--pipeline', okName], serverEnv());
      return result.stdout.length === 3 ? result : undefined;
    });
    expect(byPipeline.code).toBe(0);
    expect(byPipeline.stdout[0]).toMatch(/^run +pipeline +status +started +duration$/);
    expect(rowsOf(byPipeline)).toEqual([
      [
        okRun.workflowId,
        okName,
        'Completed',
        expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        expect.stringMatching(/^\d+\.\d s$/),
      ],
    ]);

    const failedOnly = await runMloe(['list', '--pipeline', failName, '--status', 'Failed'], serverEnv());
    expect(rowsOf(failedOnly).map((row) => row.slice(0, 3))).toEqual([[failRun.workflowId, failName, 'Failed']]);

    const failedOk = await runMloe(['list', '--pipeline', okName, '--status', 'failed', '--limit', '5'], serverEnv());
    expect(failedOk).toEqual({
      code: 0,
      stdout: [`no pipeline runs of pipeline ${okName} with status Failed in namespace default at ${serverAddress()}`],
      stderr: [],
    });

    const quoted = await runMloe(['list', '--pipeline', `${okName}' OR WorkflowType = 'runPipeline`], serverEnv());
    expect(quoted.code).toBe(0);
    expect(quoted.stdout[0]).toMatch(/^no pipeline runs of pipeline/);

    const badStatus = await runMloe(['list', '--status', 'Done'], serverEnv());
    expect(badStatus.code).toBe(1);
    expect(badStatus.stderr).toEqual([
      'error: invalid --status "Done": expected one of Running, Completed, Failed, Cancelled, Terminated, TimedOut',
    ]);
  });

  it('mloe list: a terminated run is not Running, and sub-pipeline children are not listed', async () => {
    const listed = async (args: string[]): Promise<string[][]> => {
      const result = await runMloe(['list', ...args], serverEnv());
      expect(result.code).toBe(0);
      return result.stdout[0]?.startsWith('no pipeline runs') === true
        ? []
        : result.stdout.slice(2).map((line) => line.split(/\s{2,}/).slice(0, 3));
    };
    const slowName = uniqueName('ops-term');
    const slow = await startPipeline(client, {
      spec: commandSpec(slowName, { nap: { run: { command: ['sh', '-c', 'sleep 2'] } } }),
      taskQueue,
      workingDir: directory,
      noCache: true,
    });
    await pollUntil(
      `mloe list --pipeline ${slowName} to show the running run`,
      async () => (await listed(['--pipeline', slowName])).length === 1,
    );
    expect(await listed(['--pipeline', slowName, '--status', 'running'])).toEqual([
      [slow.workflowId, slowName, 'Running'],
    ]);
    await slow.handle.terminate('test: terminated while running');
    const terminated = await pollUntil(`mloe list to show ${slowName} terminated`, async () => {
      const rows = await listed(['--pipeline', slowName, '--status', 'Terminated']);
      return rows.length === 1 ? rows : undefined;
    });
    expect(terminated).toEqual([[slow.workflowId, slowName, 'Terminated']]);
    expect(await listed(['--pipeline', slowName, '--status', 'Running'])).toEqual([]);

    // A sub-pipeline runs as a child runPipeline workflow with the inner pipeline's name: only the parent is listed.
    const innerName = uniqueName('ops-inner');
    const outerName = uniqueName('ops-outer');
    await writeFile(join(directory, `${innerName}.json`), JSON.stringify(commandSpec(innerName, { say: SAY_STEP })));
    const outer = await startPipeline(client, {
      spec: commandSpec(outerName, { inner: { pipeline: `./${innerName}.json` } }),
      baseDirectory: directory,
      taskQueue,
      workingDir: directory,
      noCache: true,
    });
    const outcome = await waitForPipeline(outer.handle, { pollIntervalMs: 50 });
    expect(outcome.error).toBeUndefined();
    let childCount = 0;
    // The child carries the inner pipeline's MloePipeline: only `ParentWorkflowId IS NULL` keeps it out of the list.
    const childQuery = `ParentWorkflowId = '${outer.workflowId}' AND MloePipeline = '${innerName}'`;
    for await (const child of client.workflow.list({ query: childQuery })) {
      expect(child.type).toBe('runPipeline');
      childCount += 1;
    }
    expect(childCount).toBe(1);
    expect(await listed(['--pipeline', innerName])).toEqual([]);
    expect(await listed(['--pipeline', outerName, '--status', 'Completed'])).toEqual([
      [outer.workflowId, outerName, 'Completed'],
    ]);
  });

  it('mloe logs prints the stored stdout and stderr of each command step under a header, digest-verified', async () => {
    const all = await runMloe(['logs', okRun.workflowId], serverEnv());
    expect(all).toEqual({
      code: 0,
      stdout: ['==> say: stdout <==', 'hello', '==> say: stderr <==', 'oops'],
      stderr: [],
    });

    const failed = await runMloe(['logs', failRun.workflowId, 'after'], serverEnv());
    expect(failed.code).toBe(0);
    expect(failed.stdout).toEqual([expect.stringMatching(/^==> after: no logs: /)]);

    const unknown = await runMloe(['logs', okRun.workflowId, 'nope'], serverEnv());
    expect(unknown).toEqual({
      code: 1,
      stdout: [],
      stderr: [`error: ${okRun.workflowId} has no step nope; its steps are: say`],
    });

    // The logs are in the worker's default store (MLOE_ARTIFACT_STORE), content-addressed: tamper with one.
    const status = await okRun.handle.result();
    const logs = status.steps[0]?.logs as { stdout: { uri: string } } | undefined;
    expect(logs?.stdout.uri).toMatch(new RegExp(`^file://${artifacts}/sha256/`));
    const path = fileURLToPath(logs?.stdout.uri ?? '');
    expect(await readFile(path, 'utf8')).toBe('hello\n');
    await rm(path, { force: true });
    await writeFile(path, 'HELLO\n');
    const tampered = await runMloe(['logs', okRun.workflowId, 'say'], serverEnv());
    expect(tampered.code).toBe(1);
    expect(tampered.stderr.join('\n')).toMatch(/say stdout .*corrupt/);
    expect(tampered.stdout).toContain('==> say: stderr <==');
  });

  it('on SIGINT lets a running step finish, then exits 0', async () => {
    const marker = join(directory, 'nap-started');
    const slow = await startPipeline(client, {
      spec: commandSpec(uniqueName('ops-slow'), {
        nap: { run: { command: ['sh', '-c', `touch '${marker}'; sleep 1; echo rested`] } },
      }),
      taskQueue,
      workingDir: directory,
      noCache: true,
    });
    try {
      await pollUntil('step nap to start (its marker file)', () => access(marker).then(() => true));
      worker.kill('SIGINT');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect(worker.stderr).toContain('SIGINT: stopping the worker (running steps get 10 s to finish)');
      expect(worker.stderr).toContain('worker stopped');
      const history = await slow.handle.fetchHistory();
      const types = (history.events ?? []).map((event) => event.eventType);
      expect(types).toContain(temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    } finally {
      await slow.handle.terminate('test over').catch(() => undefined);
    }
  });
});

describe('mloe run without TEMPORAL_ADDRESS, a child process', () => {
  it("configures its embedded worker as mloe worker's: MLOE_ARTIFACT_STORE, MLOE_WORKER_CONCURRENCY", async () => {
    const directory = await temporaryDirectory();
    const store = pathToFileURL(join(directory, 'store')).href;
    const spec = join(directory, 'pipeline.json');
    await writeFile(spec, JSON.stringify(commandSpec(uniqueName('ops-run'), { say: SAY_STEP })));
    const run = new MloeChild(['run', spec], {
      cwd: directory,
      env: childEnv({ MLOE_ARTIFACT_STORE: store, MLOE_WORKER_CONCURRENCY: '3' }),
    });
    try {
      expect(await run.exited).toEqual({ code: 0, signal: null });
      expect(run.stdout).toMatch(/worker ready \(workflows bundled; 3 concurrent steps, artifacts (\S+)\)\n/);
      expect(run.stdout).toContain(`3 concurrent steps, artifacts ${store})`);
      // The step's logs went to MLOE_ARTIFACT_STORE, not to .mloe/artifacts in the working directory.
      await expect(access(join(directory, 'store', 'sha256'))).resolves.toBeUndefined();
      await expect(access(join(directory, '.mloe'))).rejects.toThrow();
    } finally {
      await run.stop();
    }
  });
});

describe('mloe dev, a child process', () => {
  it('serves on a free port with a worker, runs a pipeline, stops on SIGTERM with exit 0', async () => {
    const directory = await temporaryDirectory();
    const dev = new MloeChild(['dev', '--port', '0', '--mlflow-port', '0'], { cwd: directory, env: childEnv({}) });
    try {
      const [, address = ''] = await dev.waitForStdout(/^run a pipeline on it: TEMPORAL_ADDRESS=(\S+) mloe run FILE$/m);
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(address).not.toBe('127.0.0.1:0');
      expect(dev.stdout).toContain(`Temporal server (mloe dev server) is running at ${address}`);
      expect(dev.stdout).toContain(
        `pipeline worker ready: address ${address}, namespace default, task queue mloe-pipelines ` +
          `(16 concurrent steps, artifacts file://${directory}/.mloe/artifacts; ${LINEAGE_OFF})`,
      );

      const connection = await Connection.connect({ address });
      try {
        const run = await startPipeline(new Client({ connection }), {
          spec: commandSpec(uniqueName('ops-dev'), { say: SAY_STEP }),
          workingDir: directory,
        });
        const outcome = await waitForPipeline(run.handle, { pollIntervalMs: 50 });
        expect(outcome.error).toBeUndefined();
        expect(outcome.status.state).toBe('completed');
        // Tracked in the MLflow server mloe dev started beside it (in memory, on a free port here).
        const [, mlflowUrl = ''] =
          /^MLflow tracking server \(embedded, in memory\) running at (\S+): MLFLOW_TRACKING_URI=\S+ mloe models list$/m.exec(
            dev.stdout,
          ) ?? [];
        expect(mlflowUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(outcome.status.mlflow?.url).toMatch(new RegExp(`^${mlflowUrl}/api/2\\.0/mlflow/runs/get\\?run_id=`));
        // `mloe list` needs no registration first: `mloe dev` registers the search attributes at start.
        const listed = await runMloe(['list', '--status', 'Completed'], { TEMPORAL_ADDRESS: address });
        expect(listed.stdout.slice(2).map((line) => line.split(/\s+/)[0])).toEqual([run.workflowId]);
      } finally {
        await connection.close();
      }

      dev.kill('SIGTERM');
      expect(await dev.exited).toEqual({ code: 0, signal: null });
      expect(dev.stderr).toContain('SIGTERM: stopping the worker');
      expect(dev.stderr).toMatch(/stopped\s*$/);
    } finally {
      await dev.stop();
    }
  });
});
