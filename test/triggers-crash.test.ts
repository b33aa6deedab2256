/**
 * Exactly one run per object across crashes (issue 11): a trigger watches an S3-compatible server (s3rver) while
 * objects arrive in three waves; the pipeline worker, a process of its own, is SIGKILLed during the second wave and
 * replaced, and the Temporal dev server, also a process of its own with its state in a SQLite file (`--db-filename`),
 * is SIGKILLed during the third wave and started again on the same file and port, while objects keep arriving. Every
 * object then has exactly one run, with the id derived from its URI and ETag: none missing, none twice. The suite uses
 * a dev server of its own (not the jest one), since it kills it. The trigger's workflow runs on the worker, its runs
 * on a queue nobody polls: which runs it starts is at stake here, not running them (triggers.test.ts does that).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';

import { parseS3StoreConfig, s3ClientConfig } from '../activities/artifacts';
import { createTrigger, deleteTrigger, describeTrigger } from '../clients/triggers';
import { killAllServers, processAlive, spawnServer, type ServerProcess } from './devserver/child-server';
import { suiteWorkflowBundle } from './pipeline-harness';
import { startS3Server, type S3TestServer } from './s3-server';
import { childEnv } from './support/mloe-child';
import { pollUntil } from './support/poll';
import {
  TRIGGER_BUCKET as BUCKET,
  describeWhen,
  putObject,
  runsOf,
  s3SettingsOf,
  triggerSpec,
  triggerSteps,
} from './support/triggers-harness';

jest.setTimeout(1_200_000);

const REPO = resolve(__dirname, '..');
const WORKER_MAIN = join(__dirname, 'support', 'triggers-worker-main.ts');
/** Objects in all, in three waves of about a third. */
const OBJECTS = 300;
const WAVE = Math.floor(OBJECTS / 3);

/** A worker child process. */
interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  hasExited(): boolean;
  output(): string;
}

describe('a trigger across a SIGKILLed worker and a SIGKILLed, restarted dev server', () => {
  let dir: string;
  let dbFile: string;
  let bundlePath: string;
  let s3: S3TestServer;
  let raw: S3Client;
  let server: ServerProcess;
  let address: string;
  let connection: Connection;
  let client: Client;
  const servers: ServerProcess[] = [];
  const workers: WorkerProcess[] = [];
  const taskQueue = `mloe-triggers-crash-${process.pid}-${Date.now()}`;
  const suffix = `${process.pid.toString(36)}${Date.now().toString(36)}`;

  const serverArgs = (port: number): string[] => [
    '--port',
    String(port),
    '--db-filename',
    dbFile,
    '--headless',
    '--log-level',
    'warn',
  ];

  /** Starts (or restarts) the dev server on `port` (0: a free one) and the database file; answers its address. */
  async function startServer(port: number): Promise<string> {
    server = spawnServer(serverArgs(port));
    servers.push(server);
    return server.ready(60_000);
  }

  /** Starts a worker child and waits for its ready line. */
  async function startWorker(): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN], {
      cwd: REPO,
      env: childEnv({
        TSX_TSCONFIG_PATH: join(REPO, 'tsconfig.json'),
        MLOE_WORKER_ADDRESS: address,
        MLOE_WORKER_TASK_QUEUE: taskQueue,
        MLOE_WORKER_BUNDLE: bundlePath,
        MLOE_TEST_S3_ENDPOINT: s3.endpoint,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not spawn ${WORKER_MAIN}`);
    let output = '';
    let exited = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const worker: WorkerProcess = {
      child,
      pid: child.pid,
      exited: new Promise((resolveExit) =>
        child.once('exit', () => {
          exited = true;
          resolveExit();
        }),
      ),
      hasExited: () => exited,
      output: () => output,
    };
    workers.push(worker);
    await pollUntil(
      'the worker to be ready',
      () => {
        if (exited) throw new Error(`worker exited before it was ready:\n${output}`);
        return output.includes('worker ready');
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    return worker;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mloe-triggers-crash-'));
    dbFile = join(dir, 'temporal.db');
    bundlePath = join(dir, 'workflows-bundle.js');
    await writeFile(bundlePath, (await suiteWorkflowBundle()).code);
    s3 = await startS3Server({ buckets: [BUCKET] });
    raw = new S3Client(s3ClientConfig(parseS3StoreConfig(s3SettingsOf(s3))));
    address = await startServer(0);
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });

  afterAll(async () => {
    for (const worker of workers) if (!worker.hasExited()) worker.child.kill('SIGKILL');
    await Promise.all(workers.map((worker) => worker.exited));
    await connection?.close();
    await killAllServers();
    for (const { pid } of servers) expect(processAlive(pid)).toBe(false);
    raw?.destroy();
    await s3?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Puts objects `from` to `to` (exclusive), 25 at a time; records each key's ETag. */
  const putWave = async (etags: Map<string, string>, from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i += 25) {
      const keys = Array.from({ length: Math.min(25, to - i) }, (_, j) => keyOf(i + j));
      await Promise.all(keys.map(async (key) => etags.set(key, await putObject(raw, key))));
    }
  };
  const keyOf = (i: number): string => `crash/object-${String(i).padStart(4, '0')}.csv`;

  it(`starts exactly one run for each of ${OBJECTS} objects`, async () => {
    const began = Date.now();
    // The worker registers mloe's search attributes on the fresh server; the trigger needs them.
    const first = await startWorker();
    const name = `crash-${suffix}`;
    await createTrigger(client, {
      spec: triggerSpec,
      name,
      on: `s3://${BUCKET}/crash/`,
      poll: '500ms',
      taskQueue: `${taskQueue}-parked`,
      triggerTaskQueue: taskQueue,
      artifactRoot: join(dir, 'artifacts'),
      workingDir: dir,
      descriptors: triggerSteps.descriptors,
      noCache: true,
    });
    await describeWhen(client, name, 'the baseline listing', (d) => d.counters.polls >= 1, 120_000);
    const etags = new Map<string, string>();

    // Wave 1; once runs are starting, the worker is SIGKILLed while wave 2 arrives, and another takes over.
    await putWave(etags, 0, WAVE);
    // Killed as soon as the first runs show, so that the batch starting the wave is most likely cut short and retried.
    await pollUntil('runs of the first wave', async () => (await runsOf(client, name)).length >= 1, {
      timeoutMs: 300_000,
      intervalMs: 250,
    });
    const wave2 = putWave(etags, WAVE, 2 * WAVE);
    first.child.kill('SIGKILL');
    await first.exited;
    const killedWorkerAt = (await runsOf(client, name)).length;
    await startWorker();
    await wave2;

    // Once the new worker has started more runs, the server is SIGKILLed while wave 3 arrives, and started again on
    // the same database file and port.
    await pollUntil(
      'runs after the worker was replaced',
      async () => (await runsOf(client, name)).length >= Math.max(killedWorkerAt + 1, WAVE + WAVE / 2),
      { timeoutMs: 300_000, intervalMs: 250 },
    );
    const wave3 = putWave(etags, 2 * WAVE, OBJECTS);
    const killed = await server.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const killedServerAt = Date.now();
    await wave3;
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    expect(await startServer(port)).toBe(address);
    const serverDownMs = Date.now() - killedServerAt;

    const runs = await pollUntil(
      'a run for every object',
      async () => {
        const listed = await runsOf(client, name);
        return listed.length >= OBJECTS ? listed : undefined;
      },
      { timeoutMs: 900_000, intervalMs: 1_000 },
    );
    const expected = new Map(
      [...etags].map(([key, etag]) => {
        const uri = `s3://${BUCKET}/${key}`;
        const digest = createHash('sha256').update(`${uri}\n${etag}`).digest('hex');
        return [`${name}-${digest.slice(0, 32)}`, uri];
      }),
    );
    expect(expected.size).toBe(OBJECTS);
    // None twice (one execution per id, and no two ids for one object), none missing, each with its object's URI.
    expect(runs).toHaveLength(OBJECTS);
    expect(new Set(runs.map((run) => run.workflowId)).size).toBe(OBJECTS);
    expect(new Set(runs.map((run) => run.uri)).size).toBe(OBJECTS);
    expect(new Set(runs.map((run) => run.workflowId))).toEqual(new Set(expected.keys()));
    for (const run of runs) expect(run.uri).toBe(expected.get(run.workflowId));
    expect(new Set(runs.map((run) => run.status))).toEqual(new Set(['RUNNING']));

    const description = await describeTrigger(client, name);
    expect(description.counters).toMatchObject({ runsStarted: OBJECTS, objectsSeen: OBJECTS });
    expect(description.pending).toBe(0);
    // A last listing after everything finds nothing more.
    const polls = description.counters.polls;
    await describeWhen(client, name, 'two more polls', (d) => d.counters.polls >= polls + 2);
    expect(await runsOf(client, name)).toHaveLength(OBJECTS);
    await deleteTrigger(client, name);
    console.log(
      `triggers-crash: ${OBJECTS} objects, ${runs.length} runs (${new Set(runs.map((r) => r.workflowId)).size} ` +
        `distinct ids); worker SIGKILLed at ${killedWorkerAt} runs, server down ${serverDownMs} ms; starts ` +
        `refused as existing ${description.counters.duplicates}, listing failures ${description.counters.pollFailures}, ` +
        `${description.generation} trigger executions; ${Math.round((Date.now() - began) / 1000)} s`,
    );
  });
});
