/**
 * `npm run bench:tracking`: what MLflow tracking costs a pipeline. The `bench:pipeline` chain (200 `noop@1` steps,
 * each needing the one before it, cache off so every step runs) is run with tracking off and on, alternately, on the
 * same dev server (its own process, durable SQLite as in production) and the same MLflow server (`mloe mlflow
 * server`, its own process, SQLite); two workers in this process differ only in tracking. With tracking on, every step
 * is a nested MLflow run (created when it starts, its param and tags logged and its status set when it ends) under
 * the pipeline's run. The figure is the median over `BENCH_ROUNDS` (5) rounds; the target is tracking on within 20%
 * of tracking off. Prints a table; copy it into docs/benchmarks.md with the machine it ran on. A missed target is
 * reported, not fatal; a failed run exits non-zero.
 *
 * Knobs: `BENCH_CHAIN_STEPS` (200), `BENCH_ROUNDS` (5), `BENCH_MODES` (durable, or memory for both servers).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';

import { createMlflowClient, mlflowConfig } from '../activities/mlflow';
import { trackingConfigFromEnv } from '../activities/tracking';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { PipelineSpec } from '../core/spec';
import { loadWorkflowBundleConfig } from '../workers/config';
import { createPipelineWorker } from '../workers/pipeline-worker';
import { cachedWorkflowBundle } from '../workers/workflow-bundle';
import { BENCH_DESCRIPTORS, BENCH_STEPS, chainSpec, ownCpuMs, processCpuMs, runInProcess } from './pipeline-support';
import { startServerProcess } from './server-process';

const CHAIN_STEPS = positiveInt('BENCH_CHAIN_STEPS', 200);
const ROUNDS = positiveInt('BENCH_ROUNDS', 5);
const DURABLE = (process.env.BENCH_MODES ?? 'durable') !== 'memory';
/** Tracking on may cost at most this much more wall time than tracking off. */
const TARGET_RATIO = 1.2;

function positiveInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${text}'`);
  return value;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** `mloe mlflow server` on a free port, as a process of its own. */
async function startMlflowProcess(backendStoreUri: string | undefined, artifacts: string) {
  const args = [
    resolve(__dirname, '../bin/mloe.js'),
    'mlflow',
    'server',
    '--port',
    '0',
    '--artifacts-destination',
    artifacts,
    ...(backendStoreUri === undefined ? [] : ['--backend-store-uri', backendStoreUri]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /is running at (\S+)/.exec(out);
      if (match?.[1] !== undefined) ok(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`MLflow server exited with ${code}: ${out}`)));
  });
  return {
    url,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * One run of `spec` on `taskQueue`, cache off: its wall time and the CPU time (ms) of the three processes (dev server,
 * MLflow server, this one: worker and client), and the run's MLflow run, if tracked.
 */
async function runOnce(
  client: Client,
  taskQueue: string,
  spec: PipelineSpec,
  root: string,
  pids: (number | undefined)[] = [],
) {
  const cpu = (): number => pids.reduce<number>((sum, pid) => sum + (processCpuMs(pid) ?? 0), ownCpuMs());
  const each = (): number[] => [ownCpuMs(), ...pids.map((pid) => processCpuMs(pid) ?? 0)];
  const eachBefore = each();
  const cpuBefore = cpu();
  const started = performance.now();
  const run = await startPipeline(client, {
    spec,
    descriptors: BENCH_DESCRIPTORS,
    taskQueue,
    artifactRoot: root,
    workingDir: root,
    noCache: true,
  });
  const outcome = await waitForPipeline(run.handle);
  const wallMs = performance.now() - started;
  const cpuMs = cpu() - cpuBefore;
  if (process.env.BENCH_CPU_DETAIL === '1') {
    const after = each();
    console.log(taskQueue, after.map((value, i) => ((value - (eachBefore[i] ?? 0)) / 200).toFixed(2)).join(' '));
  }
  if (outcome.error !== undefined || outcome.status.state !== 'completed') {
    throw new Error(`pipeline on ${taskQueue} ended ${outcome.status.state}: ${outcome.status.error ?? ''}`);
  }
  return { wallMs, cpuMs, mlflow: outcome.status.mlflow };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const scratch = mkdtempSync(join(tmpdir(), 'mloe-bench-tracking-'));
  const loadBefore = loadavg();
  const { code } = await cachedWorkflowBundle({ cacheDir: loadWorkflowBundleConfig({ env: process.env }).cacheDir });
  const server = await startServerProcess(DURABLE ? join(scratch, 'temporal.db') : undefined);
  const mlflowServer = await startMlflowProcess(
    DURABLE ? `sqlite:///${join(scratch, 'mlflow.db')}` : undefined,
    join(scratch, 'mlartifacts'),
  );
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const workers: Worker[] = [];
  const running: Promise<void>[] = [];
  try {
    const client = new Client({ connection });
    const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: mlflowServer.url });
    if (tracking === undefined) throw new Error('no tracking configuration');
    const make = (taskQueue: string, tracked: boolean) =>
      createPipelineWorker({
        connection: nativeConnection,
        taskQueue,
        workflowBundle: { code },
        steps: BENCH_STEPS,
        ...(tracked ? { tracking } : {}),
      });
    workers.push(await make('bench-tracking-off', false), await make('bench-tracking-on', true));
    for (const worker of workers) running.push(worker.run());
    const spec = chainSpec(CHAIN_STEPS);
    const baselineStarted = performance.now();
    await runInProcess(spec);
    const baselineMs = performance.now() - baselineStarted;
    // Warm-up: JIT, connections, the workflow sandbox, the MLflow experiment.
    const warm = mkdtempSync(join(scratch, 'warm-'));
    await runOnce(client, 'bench-tracking-off', chainSpec(20), warm);
    await runOnce(client, 'bench-tracking-on', chainSpec(20), warm);
    const times = { off: [] as number[], on: [] as number[] };
    const cpuTimes = { off: [] as number[], on: [] as number[] };
    const pids = [server.child.pid, mlflowServer.pid];
    let tracked: { runId: string; experimentId: string } | undefined;
    for (let round = 0; round < ROUNDS; round += 1) {
      const root = mkdtempSync(join(scratch, `round-${round}-`));
      const off = await runOnce(client, 'bench-tracking-off', spec, root, pids);
      times.off.push(off.wallMs);
      cpuTimes.off.push(off.cpuMs);
      const on = await runOnce(client, 'bench-tracking-on', spec, root, pids);
      times.on.push(on.wallMs);
      cpuTimes.on.push(on.cpuMs);
      tracked = on.mlflow;
      process.stdout.write('.');
    }
    // What the last tracked run left in MLflow: the pipeline run and one nested run per step.
    if (tracked === undefined) throw new Error('the tracked runs have no MLflow run');
    const mlflow = createMlflowClient(mlflowConfig({ trackingUri: mlflowServer.url }));
    let nested = 0;
    for await (const stepRun of mlflow.runs.searchAll({
      experimentIds: [tracked.experimentId],
      filter: `tags.\`mlflow.parentRunId\` = '${tracked.runId}'`,
    })) {
      if (stepRun.info.status === 'FINISHED') nested += 1;
    }
    if (nested !== CHAIN_STEPS) throw new Error(`expected ${CHAIN_STEPS} finished step runs, found ${nested}`);

    const off = median(times.off);
    const on = median(times.on);
    const ratio = on / off;
    const loadAfter = loadavg();
    console.log(
      `\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
    );
    console.log(
      `load average (1, 5, 15 min): before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
    );
    console.log(
      `chain of ${CHAIN_STEPS} noop steps, cache off, ${DURABLE ? 'durable' : 'in-memory'} servers, median of ${ROUNDS} rounds (in-process baseline ${baselineMs.toFixed(1)} ms)\n`,
    );
    const row = (name: string, ms: number, all: readonly number[], cpuMs: number) =>
      `| ${name.padEnd(8)} | ${ms.toFixed(0).padStart(9)} | ${(ms / CHAIN_STEPS).toFixed(2).padStart(13)} | ` +
      `${(cpuMs / CHAIN_STEPS).toFixed(2).padStart(17)} | ${all.map((t) => t.toFixed(0)).join(', ')} |`;
    console.log('| tracking | wall (ms) | per step (ms) | CPU per step (ms) | rounds (ms) |');
    console.log('| -------- | --------- | ------------- | ----------------- | ----------- |');
    console.log(row('off', off, times.off, median(cpuTimes.off)));
    console.log(row('on', on, times.on, median(cpuTimes.on)));
    console.log(
      `\ntracking on / off: ${ratio.toFixed(3)} (+${((on - off) / CHAIN_STEPS).toFixed(2)} ms per step): ` +
        `${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'} (≤ ${TARGET_RATIO}); ${nested} nested runs FINISHED in the last tracked run`,
    );
  } finally {
    for (const worker of workers) worker.shutdown();
    await Promise.allSettled(running);
    await nativeConnection.close();
    await connection.close();
    await mlflowServer.stop();
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
