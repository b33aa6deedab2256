/**
 * Triggers at scale (issue 11): 100 data-arrival triggers, each watching its own `file://` directory every 2 s, on one
 * dev server in its own process, with one pipeline worker here. Measures (1) how long after a file lands its run
 * starts (target: within two poll intervals), one file per trigger, and (2) the server's and the worker's CPU while
 * the 100 triggers idle, beside the same figures with no trigger at all, measured first in the same run.
 * `npm run bench:triggers`; `BENCH_TRIGGERS`, `BENCH_TRIGGER_POLL_MS` and `BENCH_IDLE_MS` change the sizes.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

import { createTrigger } from '../clients/triggers';
import { createPipelineWorker } from '../workers/pipeline-worker';
import { BENCH_STEPS } from './pipeline-support';
import { startServerProcess } from './server-process';
import { percentile } from './stats';

const TRIGGERS = Number(process.env.BENCH_TRIGGERS ?? 100);
const POLL_MS = Number(process.env.BENCH_TRIGGER_POLL_MS ?? 2_000);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 20_000);
const TASK_QUEUE = 'bench-triggers';

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** CPU share of one core used by the server and by this process over `ms`. */
async function idleShare(serverPid: number, ms: number): Promise<{ server: number; worker: number }> {
  const server0 = await cpuSeconds(serverPid);
  const worker0 = process.cpuUsage();
  await new Promise((ok) => setTimeout(ok, ms));
  const server = (await cpuSeconds(serverPid)) - server0;
  const worker = process.cpuUsage(worker0);
  return { server: server / (ms / 1000), worker: (worker.user + worker.system) / 1e6 / (ms / 1000) };
}

/** Figures of one run. */
export interface TriggerFigures {
  triggers: number;
  pollMs: number;
  idleBaseline: { server: number; worker: number };
  idleWithTriggers: { server: number; worker: number };
  detection: { p50: number; p99: number; max: number; count: number };
}

/** Runs the benchmark against a fresh in-memory server process. */
export async function benchTriggers(): Promise<TriggerFigures> {
  const server = await startServerProcess(undefined);
  const root = await mkdtemp(join(tmpdir(), 'mloe-bench-triggers-'));
  const connection = await Connection.connect({ address: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });
  const worker = await createPipelineWorker({
    connection: native,
    taskQueue: TASK_QUEUE,
    steps: BENCH_STEPS,
    maxConcurrentActivityTaskExecutions: 200,
    warn: () => undefined,
  });
  const running = worker.run();
  try {
    const pid = server.child.pid ?? 0;
    const idleBaseline = await idleShare(pid, IDLE_MS / 2);
    const spec = {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: 'bench-arrival' },
      params: { uri: { type: 'string' } },
      steps: { work: { uses: 'noop@1' } },
    };
    const directories: string[] = [];
    for (let i = 0; i < TRIGGERS; i++) {
      const directory = join(root, `t${i}`);
      await mkdir(directory);
      directories.push(directory);
      await createTrigger(client, {
        spec,
        name: `bench-${i}`,
        on: pathToFileURL(directory).href,
        poll: `${POLL_MS}ms`,
        taskQueue: TASK_QUEUE,
        artifactRoot: root,
        workingDir: root,
        descriptors: BENCH_STEPS.descriptors,
        noCache: true,
      });
    }
    // Let every trigger make its first listing and settle into its rhythm.
    await new Promise((ok) => setTimeout(ok, 3 * POLL_MS));
    const idleWithTriggers = await idleShare(pid, IDLE_MS);

    const landed = new Map<string, number>();
    for (const [i, directory] of directories.entries()) {
      const uri = pathToFileURL(join(directory, 'data.csv')).href;
      landed.set(uri, Date.now());
      await writeFile(join(directory, 'data.csv'), `x\n${i}\n`);
    }
    const delays = new Map<string, number>();
    const deadline = Date.now() + 20 * POLL_MS + 60_000;
    while (delays.size < TRIGGERS && Date.now() < deadline) {
      for await (const run of client.workflow.list({ query: `WorkflowType = 'runPipeline'`, pageSize: 1000 })) {
        const uri = (run.memo as { params?: { uri?: string } } | undefined)?.params?.uri;
        const at = uri === undefined ? undefined : landed.get(uri);
        if (uri !== undefined && at !== undefined && !delays.has(uri)) delays.set(uri, run.startTime.getTime() - at);
      }
      await new Promise((ok) => setTimeout(ok, 500));
    }
    const sorted = [...delays.values()].sort((a, b) => a - b);
    const figures: TriggerFigures = {
      triggers: TRIGGERS,
      pollMs: POLL_MS,
      idleBaseline,
      idleWithTriggers,
      detection: {
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? NaN,
        count: sorted.length,
      },
    };
    const pct = (share: number): string => `${(share * 100).toFixed(1)}%`;
    console.log(`triggers: ${TRIGGERS} watching file:// directories, poll every ${POLL_MS} ms`);
    console.log('| figure | no triggers (baseline) | 100 triggers idle |');
    console.log('| --- | --- | --- |');
    console.log(`| server CPU (share of one core) | ${pct(idleBaseline.server)} | ${pct(idleWithTriggers.server)} |`);
    console.log(`| worker CPU (share of one core) | ${pct(idleBaseline.worker)} | ${pct(idleWithTriggers.worker)} |`);
    console.log(
      `new object to run start: p50 ${figures.detection.p50} ms, p99 ${figures.detection.p99} ms, max ` +
        `${figures.detection.max} ms over ${sorted.length} objects (target: within two polls, ${2 * POLL_MS} ms)`,
    );
    return figures;
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await native.close();
    await connection.close();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchTriggers().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
