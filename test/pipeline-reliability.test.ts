/**
 * Reliability of pipeline runs with the worker in a child process (issue 4): a worker SIGKILLed during a long
 * command step is replaced and the run completes without re-running finished steps, and a cancelled run leaves no
 * process of its command steps running. Nothing sleeps to synchronise: every wait polls with a deadline.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';

import { liveGroupMembers } from '../activities/runner';
import { cancelPipeline, getPipelineStatus, startPipeline, type PipelineRun } from '../clients/pipelines';
import { processAlive } from './devserver/child-server';
import { MloeChild } from './support/mloe-child';
import { pollUntil } from './support/poll';
import { stepIn, suiteWorkflowBundle } from './pipeline-harness';

const REPO = resolve(__dirname, '..');
const WORKER_MAIN = join(__dirname, 'fixtures', 'pipeline-worker-main.ts');

/** Lines of a file (none when it does not exist yet). */
async function lines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
  } catch {
    return [];
  }
}

/** Sends `signal` to a process group; a group already gone is fine. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

describe('pipeline reliability with the worker in a child process', () => {
  let connection: Connection;
  let client: Client;
  let dir: string;
  let bundlePath: string;
  const workers: MloeChild[] = [];
  /** Process groups of command steps, killed in afterAll whatever happened. */
  const groups = new Set<number>();

  beforeAll(async () => {
    const address = process.env.TEMPORAL_TEST_ADDRESS;
    if (address === undefined) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest');
    dir = await mkdtemp(join(tmpdir(), 'mloe-reliability-test-'));
    connection = await Connection.connect({ address });
    client = new Client({ connection });
    const bundle = await suiteWorkflowBundle();
    bundlePath = join(dir, 'workflows-bundle.js');
    await writeFile(bundlePath, bundle.code);
  });

  afterAll(async () => {
    for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
    await Promise.all(workers.map((worker) => worker.stop()));
    await connection?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Starts a worker child on `taskQueue` and waits for its ready line. */
  async function startWorker(taskQueue: string): Promise<MloeChild> {
    const worker = new MloeChild([], {
      script: WORKER_MAIN,
      nodeArgs: ['--import', 'tsx'],
      env: {
        ...process.env,
        TSX_TSCONFIG_PATH: join(REPO, 'tsconfig.json'),
        MLOE_WORKER_ADDRESS: process.env.TEMPORAL_TEST_ADDRESS ?? '',
        MLOE_WORKER_TASK_QUEUE: taskQueue,
        MLOE_WORKER_BUNDLE: bundlePath,
      },
    });
    workers.push(worker);
    await worker.waitForOutput(/worker ready/, 60_000);
    return worker;
  }

  async function start(name: string, steps: Record<string, unknown>, taskQueue: string): Promise<PipelineRun> {
    return startPipeline(client, {
      spec: { apiVersion: 'mloe.dev/v1', kind: 'Pipeline', metadata: { name }, steps },
      artifactRoot: join(dir, 'artifacts'),
      workingDir: dir,
      taskQueue,
    });
  }

  it('finishes a run whose worker was SIGKILLed during a long step, retrying only that step', async () => {
    const taskQueue = `mloe-reliability-kill-${process.pid}-${Date.now()}`;
    const work = await mkdtemp(join(dir, 'kill-'));
    // Every execution appends to its step's counter file and records its process group (the runner makes the
    // command the leader of a group of its own, so `$$` is the group id).
    const counted = (id: string, rest: string): string[] => [
      'sh',
      '-c',
      `echo $$ >> "$1/${id}.pids"; echo run >> "$1/${id}.count"; ${rest}`,
      id,
      work,
    ];
    const first = await startWorker(taskQueue);
    const run = await start(
      `reliability-kill-${process.pid}`,
      {
        a: { run: { command: counted('a', 'true') } },
        // The short timeout is what brings the retry: a step's heartbeat timeout is only set above 30 s.
        b: {
          needs: ['a'],
          timeout: '6s',
          retry: { maxAttempts: 5, initialInterval: '100ms' },
          run: { command: counted('b', 'while [ ! -e "$1/release" ]; do sleep 0.05; done') },
        },
        c: { needs: ['b'], run: { command: counted('c', 'true') } },
      },
      taskQueue,
    );

    const [interrupted] = await pollUntil(
      'step b to start',
      async () => {
        const pids = await lines(join(work, 'b.pids'));
        return pids.length === 1 ? pids.map(Number) : undefined;
      },
      { timeoutMs: 15_000 },
    );
    if (interrupted === undefined) throw new Error('no pid for step b');
    groups.add(interrupted);
    expect(stepIn(await getPipelineStatus(client, run.workflowId), 'b').state).toBe('running');

    await first.stop('SIGKILL');
    // A SIGKILLed worker cannot stop its command: the step's group outlives it until we kill it.
    expect(await liveGroupMembers(interrupted)).not.toEqual([]);
    signalGroup(interrupted, 'SIGKILL');
    await pollUntil('the orphaned group of b to die', async () => (await liveGroupMembers(interrupted)).length === 0, {
      timeoutMs: 15_000,
    });

    await startWorker(taskQueue);
    const [retried] = await pollUntil(
      'step b to be retried',
      async () => {
        const pids = await lines(join(work, 'b.pids'));
        return pids.length >= 2 ? pids.slice(1).map(Number) : undefined;
      },
      { timeoutMs: 60_000 },
    );
    if (retried !== undefined) groups.add(retried);
    await writeFile(join(work, 'release.tmp'), '');
    await rename(join(work, 'release.tmp'), join(work, 'release'));

    const status = await run.handle.result();
    expect(status.state).toBe('completed');
    expect(await lines(join(work, 'a.count'))).toHaveLength(1);
    expect(await lines(join(work, 'c.count'))).toHaveLength(1);
    const bRuns = (await lines(join(work, 'b.count'))).length;
    expect(bRuns).toBeGreaterThanOrEqual(2);
    expect(status.steps.map((step) => [step.id, step.state])).toEqual([
      ['a', 'completed'],
      ['b', 'completed'],
      ['c', 'completed'],
    ]);
    expect(stepIn(status, 'a').attempts).toBe(1);
    expect(stepIn(status, 'b').attempts).toBeGreaterThanOrEqual(2);
    expect(stepIn(status, 'b').attempts).toBe(bRuns);
    expect(stepIn(status, 'c').attempts).toBe(1);

    const pids = [
      ...(await lines(join(work, 'a.pids'))),
      ...(await lines(join(work, 'b.pids'))),
      ...(await lines(join(work, 'c.pids'))),
    ].map(Number);
    for (const pid of pids) {
      expect(processAlive(pid)).toBe(false);
      expect(await liveGroupMembers(pid)).toEqual([]);
    }
  }, 180_000);

  it('leaves no process of a command step running when the run is cancelled', async () => {
    const taskQueue = `mloe-reliability-cancel-${process.pid}-${Date.now()}`;
    const work = await mkdtemp(join(dir, 'cancel-'));
    await startWorker(taskQueue);
    const tree =
      'sleep 300 & one=$!; sleep 300 & two=$!; ' +
      'echo "$$ $one $two" > "$1/tree.tmp" && mv "$1/tree.tmp" "$1/tree"; wait';
    const run = await start(
      `reliability-cancel-${process.pid}`,
      { tree: { run: { command: ['sh', '-c', tree, 'tree', work] } } },
      taskQueue,
    );
    const pids = await pollUntil(
      'the process tree to start',
      async () => {
        const [line] = await lines(join(work, 'tree'));
        return line?.split(' ').map(Number);
      },
      { timeoutMs: 15_000 },
    );
    expect(pids).toHaveLength(3);
    groups.add(pids[0] ?? 0);
    for (const pid of pids) expect(processAlive(pid)).toBe(true);

    await cancelPipeline(client, run.workflowId);
    const error = await run.handle.result().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const status = await getPipelineStatus(client, run.workflowId);
    expect(status.state).toBe('cancelled');
    expect(stepIn(status, 'tree').state).toBe('cancelled');
    // The step is recorded cancelled only once its activity stopped, and the runner stops only once its group is gone.
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect(await liveGroupMembers(pids[0] ?? 0)).toEqual([]);
  }, 120_000);
});
