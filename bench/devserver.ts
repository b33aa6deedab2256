/**
 * `npm run bench:devserver`: orchestration figures of the embedded dev server, in memory and durable (SQLite file),
 * with the server in its own process (as `mloe server start-dev`) and the official SDK worker and client here.
 * Prints a table and writes nothing; copy the figures into docs/benchmarks.md with the machine they ran on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import * as activities from './devserver-activities';
import { benchSchedules } from './schedules';
import { startServerProcess } from './server-process';
import { benchVisibility } from './visibility';
import { percentile } from './stats';

const SEQUENTIAL_STEPS = Number(process.env.BENCH_SEQUENTIAL_STEPS ?? 500);
const HELLO_TOTAL = Number(process.env.BENCH_HELLO_TOTAL ?? 1000);
const HELLO_IN_FLIGHT = 50;
const FAN_OUT = 1000;

interface Figures {
  mode: string;
  stepP50: number;
  stepP99: number;
  stepMean: number;
  helloPerSecond: number;
  fanOutSeconds: number;
  baselineStepMs: number;
}

async function runMode(
  mode: string,
  dbFile: string | undefined,
  extraArgs: string[],
  workflowBundle: Awaited<ReturnType<typeof bundleWorkflowCode>>,
): Promise<Figures> {
  const server = await startServerProcess(dbFile, extraArgs);
  const { address } = server;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address });
  const taskQueue = `bench-${mode.replace(/\W+/g, '-')}`;
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowBundle,
    activities,
    maxConcurrentActivityTaskExecutions: 200,
  });
  try {
    return await worker.runUntil(async () => {
      // Warm-up: JIT, connections, worker caches.
      await client.workflow.execute('sequential', { taskQueue, workflowId: `warm-${mode}`, args: [50] });

      const times = await client.workflow.execute<(n: number) => Promise<number[]>>('sequential', {
        taskQueue,
        workflowId: `seq-${mode}`,
        args: [SEQUENTIAL_STEPS],
      });
      const steps = times
        .slice(1)
        .map((t, i) => t - times[i]!)
        .sort((a, b) => a - b);
      const stepMean = (times[times.length - 1]! - times[0]!) / SEQUENTIAL_STEPS;

      const t0 = performance.now();
      let started = 0;
      const lane = async (): Promise<void> => {
        while (started < HELLO_TOTAL) {
          const id = started++;
          await client.workflow.execute('hello', { taskQueue, workflowId: `hello-${mode}-${id}` });
        }
      };
      await Promise.all(Array.from({ length: HELLO_IN_FLIGHT }, lane));
      const helloPerSecond = HELLO_TOTAL / ((performance.now() - t0) / 1000);

      const t1 = performance.now();
      await client.workflow.execute('fanOut', { taskQueue, workflowId: `fan-${mode}`, args: [FAN_OUT] });
      const fanOutSeconds = (performance.now() - t1) / 1000;

      // Baseline: the same sequential chain called directly in-process, no orchestration.
      const b0 = performance.now();
      for (let i = 0; i < SEQUENTIAL_STEPS; i++) await activities.noop();
      const baselineStepMs = (performance.now() - b0) / SEQUENTIAL_STEPS;

      return {
        mode,
        stepP50: percentile(steps, 50),
        stepP99: percentile(steps, 99),
        stepMean,
        helloPerSecond,
        fanOutSeconds,
        baselineStepMs,
      };
    });
  } finally {
    await nativeConnection.close();
    await connection.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./devserver-workflows'),
    logger: new DefaultLogger('ERROR'),
  });
  const dir = mkdtempSync(join(tmpdir(), 'mloe-bench-'));
  const results: Figures[] = [];
  try {
    const modes = (process.env.BENCH_MODES ?? 'memory,durable,durable-normal').split(',');
    if (modes.includes('memory')) results.push(await runMode('memory', undefined, [], workflowBundle));
    if (modes.includes('durable')) results.push(await runMode('durable', join(dir, 'bench.db'), [], workflowBundle));
    if (modes.includes('durable-normal')) {
      results.push(
        await runMode(
          'durable, synchronous=NORMAL',
          join(dir, 'bench-normal.db'),
          ['--sqlite-pragma', 'synchronous=NORMAL'],
          workflowBundle,
        ),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  console.log(
    `sequential: ${SEQUENTIAL_STEPS} no-op activities in one workflow; hello: ${HELLO_TOTAL} workflows, ${HELLO_IN_FLIGHT} in flight; fan-out: ${FAN_OUT} activities`,
  );
  console.log(
    '| mode | step p50 (ms) | step p99 (ms) | step mean (ms) | in-process step (ms) | ratio | hello wf/s | fan-out 1,000 (s) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    console.log(
      `| ${r.mode} | ${r.stepP50.toFixed(1)} | ${r.stepP99.toFixed(1)} | ${r.stepMean.toFixed(2)} | ${r.baselineStepMs.toFixed(4)} | ${(r.stepMean / Math.max(r.baselineStepMs, 1e-6)).toFixed(0)}x | ${r.helloPerSecond.toFixed(0)} | ${r.fanOutSeconds.toFixed(2)} |`,
    );
  }
}

main()
  .then(async () => {
    if (process.env.BENCH_SKIP_VISIBILITY) return;
    console.log('\nvisibility (issue 3):');
    await benchVisibility();
    console.log('\nschedules (issue 3):');
    await benchSchedules();
  })
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
