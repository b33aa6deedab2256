/**
 * `npm run bench:tracking`: what MLflow tracking costs a pipeline. The `bench:pipeline` chain (200 `noop@1` steps,
 * each needing the one before it, cache off so every step runs) is run with tracking off and on, alternately, on the
 * same dev server (its own process, durable SQLite as in production) and the same MLflow server (`mloe mlflow
 * server`, its own process, SQLite); two workers in this process differ only in tracking. With tracking on, every step
 * is a nested MLflow run (created when it starts, its param and tags logged and its status set when it ends) under
 * the pipeline's run. A second chain, of 50 `spin@1` steps that each burn `BENCH_WORK_MS` (25) ms of CPU, shows the
 * same cost beside steps that do something. Figures are medians over `BENCH_ROUNDS` (11) rounds, wall time and the
 * CPU time of all three processes (dev server, MLflow server, worker and client); the target is the no-op chain with
 * tracking on within 20% of tracking off. Prints a table; copy it into docs/benchmarks.md with the machine it ran on.
 * A missed target is reported, not fatal; a failed run exits non-zero.
 *
 * Knobs: `BENCH_CHAIN_STEPS` (200), `BENCH_WORK_STEPS` (50), `BENCH_WORK_MS` (25), `BENCH_ROUNDS` (11), `BENCH_MODES`
 * (durable, or memory for both servers), `BENCH_PREPARE` (`both`: also tracking on without step runs prepared while
 * the steps are dispatched), `BENCH_SERIES` (e.g. `on`: only that series, to profile it alone with
 * `node --cpu-prof` or `perf record`), `BENCH_SERVER_NODE_FLAGS` and `BENCH_MLFLOW_NODE_FLAGS` (flags for the dev
 * server's and the MLflow server's Node, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 *
 * Besides the table it prints where this process's CPU went per step, by thread (from `/proc/self/task`: `main` is
 * the event loop, where activities and tracking run; Node's unnamed threads by id: V8's platform workers, which
 * collect garbage and compile, and each worker's workflow thread; `tokio-runtime-w`, the SDK's Rust core), user and
 * system apart; the MLflow calls per step of each tracked series; and the event types of each series' last chain's
 * Temporal history (tracking adds no activity, workflow task or event).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';

import { createMlflowClient, mlflowConfig, type HttpHooks } from '../activities/mlflow';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { activityMlflowConfig } from '../activities/tracking/config';
import { nodeHttpHooks } from '../activities/tracking/node-fetch';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { PipelineSpec } from '../core/spec';
import { loadWorkflowBundleConfig } from '../workers/config';
import { createPipelineWorker } from '../workers/pipeline-worker';
import { cachedWorkflowBundle } from '../workers/workflow-bundle';
import { createStepImplementations, type StepImplementation } from '../activities/steps';
import { pipeline, type PipelineBuilder } from '../core/builder';
import { NOOP_STEP, chainSpec, ownCpuMs, processCpuMs, runInProcess } from './pipeline-support';
import { startMlflowServerProcess, startServerProcess } from './server-process';
import { median } from './stats';
import { positiveInt } from './knobs';

const CHAIN_STEPS = positiveInt('BENCH_CHAIN_STEPS', 200);
const WORK_STEPS = positiveInt('BENCH_WORK_STEPS', 50);
const WORK_MS = positiveInt('BENCH_WORK_MS', 25);
/**
 * 11: on two shared cores single rounds of one series spread by 30% and more, and a median of 5 moved the ratio by
 * about ±0.1 from run to run (docs/benchmarks.md).
 */
const ROUNDS = positiveInt('BENCH_ROUNDS', 11);
const DURABLE = (process.env.BENCH_MODES ?? 'durable') !== 'memory';
/** `both` adds a third series: tracking on, with step runs created by their attempts instead of prepared. */
const UNPREPARED = process.env.BENCH_PREPARE === 'both';
/** `BENCH_SERIES`: only these series (`off,on`, for a CPU profile of one of them); the ratio needs both. */
const SERIES = process.env.BENCH_SERIES?.split(',').map((name) => name.trim());
/** Tracking on may cost at most this much more wall time than tracking off. */
const TARGET_RATIO = 1.2;

/** `spin@1`: burns `ms` of CPU (a step that computes something), returns its seed. */
const SPIN_STEP: StepImplementation = {
  descriptor: {
    name: 'spin',
    version: '1',
    inputs: { seed: { type: 'integer', default: 0 }, ms: { type: 'integer' } },
    outputs: { value: { type: 'integer' } },
  },
  // eslint-disable-next-line @typescript-eslint/require-await -- step implementations return promises
  async run(inputs) {
    const until = performance.now() + Number(inputs.ms);
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    return { outputs: { value: typeof inputs.seed === 'number' ? inputs.seed : Math.floor(x % 1) } };
  },
};

const STEPS = createStepImplementations([NOOP_STEP, SPIN_STEP]);

/** A chain of `length` `spin@1` steps, each burning {@link WORK_MS}. */
function workChainSpec(length: number): PipelineSpec {
  let builder: PipelineBuilder<never, string> = pipeline('bench-work-chain');
  for (let i = 0; i < length; i += 1) {
    builder = builder.step(`w${String(i).padStart(3, '0')}`, {
      uses: 'spin@1',
      with: { seed: i, ms: WORK_MS },
      ...(i === 0 ? {} : { needs: [`w${String(i - 1).padStart(3, '0')}`] }),
    });
  }
  return builder.build({ registry: STEPS.registry });
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
  pids: (number | undefined)[],
) {
  /** CPU time so far of each process: the dev server, the MLflow server (when given), this one. */
  const cpu = (): number[] => [...pids.map((pid) => processCpuMs(pid) ?? 0), ownCpuMs()];
  const threadsBefore = threadCpuMs();
  const cpuBefore = cpu();
  const started = performance.now();
  const run = await startPipeline(client, {
    spec,
    descriptors: STEPS.descriptors,
    taskQueue,
    artifactRoot: root,
    workingDir: root,
    noCache: true,
  });
  const outcome = await waitForPipeline(run.handle);
  const wallMs = performance.now() - started;
  const cpuEach = cpu().map((ms, i) => ms - (cpuBefore[i] ?? 0));
  const cpuMs = cpuEach.reduce((sum, ms) => sum + ms, 0);
  const threadsAfter = threadCpuMs();
  const threads = new Map<string, number>();
  for (const [group, ms] of threadsAfter) threads.set(group, ms - (threadsBefore.get(group) ?? 0));
  if (outcome.error !== undefined || outcome.status.state !== 'completed') {
    throw new Error(`pipeline on ${taskQueue} ended ${outcome.status.state}: ${outcome.status.error ?? ''}`);
  }
  return { wallMs, cpuMs, cpuEach, threads, mlflow: outcome.status.mlflow, handle: run.handle };
}

/** The tracker's own `node:http` hooks, counting the requests of JSON calls by method and path into `into`. */
function countingHooks(into: Map<string, number>): HttpHooks {
  const hooks = nodeHttpHooks();
  return {
    ...hooks,
    transport: {
      send: (request) => {
        const call = `${request.method} ${new URL(request.url).pathname.replace('/api/2.0/mlflow/', '')}`;
        into.set(call, (into.get(call) ?? 0) + 1);
        return hooks.transport.send(request);
      },
    },
  };
}

/**
 * CPU time (ms) of this process's threads so far, by kind: `main` (the event loop: activities, the worker's JS),
 * and the others by their name in `/proc` (the SDK's Rust core threads, the workflow threads, V8's and libuv's).
 * Threads that ended since are lost; the benchmark's threads live as long as it does.
 */
function threadCpuMs(): Map<string, number> {
  const groups = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return groups;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name0 = tid === String(process.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const name = name0 === 'node' ? `node:${tid}` : name0;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const user = (Number(fields[11]) * 1000) / 100;
      const system = (Number(fields[12]) * 1000) / 100;
      groups.set(`${name} (user)`, (groups.get(`${name} (user)`) ?? 0) + user);
      groups.set(`${name} (system)`, (groups.get(`${name} (system)`) ?? 0) + system);
    } catch {
      // The thread ended.
    }
  }
  return groups;
}

/** A series: tracking off, on, or on without prepared step runs. */
type Mode = 'off' | 'on' | 'unprepared';

/** Medians of a scenario's rounds, per series. */
interface ScenarioFigures {
  name: string;
  steps: number;
  wall: Record<Mode, number[]>;
  cpu: Record<Mode, number[]>;
  /** Per round, the CPU of each process (dev server, MLflow server, worker and client). */
  cpuEach: Record<Mode, number[][]>;
  /** Per round, this process's CPU by thread kind (see `threadCpuMs`). */
  threads: Record<Mode, Map<string, number>[]>;
}

/** Empty figures of a scenario. */
function figuresOf(name: string, steps: number): ScenarioFigures {
  return {
    name,
    steps,
    wall: { off: [], on: [], unprepared: [] },
    cpu: { off: [], on: [], unprepared: [] },
    cpuEach: { off: [], on: [], unprepared: [] },
    threads: { off: [], on: [], unprepared: [] },
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const scratch = mkdtempSync(join(tmpdir(), 'mloe-bench-tracking-'));
  const loadBefore = loadavg();
  const { code } = await cachedWorkflowBundle({ cacheDir: loadWorkflowBundleConfig({ env: process.env }).cacheDir });
  const server = await startServerProcess(DURABLE ? join(scratch, 'temporal.db') : undefined);
  const mlflowServer = await startMlflowServerProcess({
    ...(DURABLE ? { backendStoreUri: `sqlite:///${join(scratch, 'mlflow.db')}` } : {}),
    artifacts: join(scratch, 'mlartifacts'),
  });
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const workers: Worker[] = [];
  const running: Promise<void>[] = [];
  try {
    const client = new Client({ connection });
    const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: mlflowServer.at });
    if (tracking === undefined) throw new Error('no tracking configuration');
    const queues: Record<Mode, string> = {
      off: 'bench-tracking-off',
      on: 'bench-tracking-on',
      unprepared: 'bench-tracking-unprepared',
    };
    const modes = (UNPREPARED ? (['off', 'on', 'unprepared'] as Mode[]) : (['off', 'on'] as Mode[])).filter(
      (mode) => SERIES === undefined || SERIES.includes(mode),
    );
    /** MLflow calls of each tracked series, by method and path. */
    const calls: Record<Mode, Map<string, number>> = { off: new Map(), on: new Map(), unprepared: new Map() };
    const make = (mode: Mode) =>
      createPipelineWorker({
        connection: nativeConnection,
        taskQueue: queues[mode],
        workflowBundle: { code },
        steps: STEPS,
        ...(mode === 'off'
          ? {}
          : {
              tracking: new MlflowTracker(tracking, {
                prepareStepRuns: mode === 'on',
                client: createMlflowClient(activityMlflowConfig(tracking.mlflow), countingHooks(calls[mode])),
              }),
            }),
      });
    for (const mode of modes) workers.push(await make(mode));
    for (const worker of workers) running.push(worker.run());
    const chain = chainSpec(CHAIN_STEPS);
    const baselineStarted = performance.now();
    await runInProcess(chain);
    const baselineMs = performance.now() - baselineStarted;
    // Warm-up: JIT, connections, the workflow sandbox, the MLflow experiments.
    const warm = mkdtempSync(join(scratch, 'warm-'));
    for (const queue of modes.map((mode) => queues[mode])) {
      await runOnce(client, queue, chainSpec(20), warm, []);
      await runOnce(client, queue, workChainSpec(2), warm, []);
    }
    const pids = [server.child.pid, mlflowServer.child.pid];
    const scenarios: { spec: PipelineSpec; figures: ScenarioFigures }[] = [
      { spec: chain, figures: figuresOf(`chain of ${CHAIN_STEPS} noop steps`, CHAIN_STEPS) },
      {
        spec: workChainSpec(WORK_STEPS),
        figures: figuresOf(`chain of ${WORK_STEPS} steps of ${WORK_MS} ms CPU`, WORK_STEPS),
      },
    ];
    let tracked: { runId: string; experimentId: string } | undefined;
    const lastChain: Partial<Record<Mode, Awaited<ReturnType<typeof runOnce>>['handle']>> = {};
    for (const mode of modes) calls[mode].clear();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const { spec, figures } of scenarios) {
        const root = mkdtempSync(join(scratch, `round-${round}-`));
        for (const mode of modes) {
          const measured = await runOnce(client, queues[mode], spec, root, pids);
          figures.wall[mode].push(measured.wallMs);
          figures.cpu[mode].push(measured.cpuMs);
          figures.cpuEach[mode].push(measured.cpuEach);
          figures.threads[mode].push(measured.threads);
          if (spec === chain && mode === 'on') tracked = measured.mlflow;
          if (spec === chain) lastChain[mode] = measured.handle;
        }
      }
      process.stdout.write('.');
    }
    // What the last tracked chain left in MLflow: one nested run per step, finished.
    let nested = 0;
    if (modes.includes('on')) {
      if (tracked === undefined) throw new Error('the tracked runs have no MLflow run');
      const mlflow = createMlflowClient(mlflowConfig({ trackingUri: mlflowServer.at }));
      for await (const stepRun of mlflow.runs.searchAll({
        experimentIds: [tracked.experimentId],
        filter: `tags.\`mlflow.parentRunId\` = '${tracked.runId}'`,
      })) {
        if (stepRun.info.status === 'FINISHED') nested += 1;
      }
      if (nested !== CHAIN_STEPS) throw new Error(`expected ${CHAIN_STEPS} finished step runs, found ${nested}`);
    }

    const loadAfter = loadavg();
    console.log(
      `\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
    );
    console.log(
      `load average (1, 5, 15 min): before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
    );
    console.log(
      `cache off, ${DURABLE ? 'durable' : 'in-memory'} servers, median of ${ROUNDS} rounds; CPU = dev server + MLflow server + worker and client; ` +
        `in-process baseline of the noop chain ${baselineMs.toFixed(1)} ms\n`,
    );
    console.log(
      '| scenario | tracking | wall (ms) | per step (ms) | CPU per step (ms) | dev server / MLflow / worker (ms) | on / off | rounds (ms) |',
    );
    console.log(
      '| -------- | -------- | --------- | ------------- | ----------------- | --------------------------------- | -------- | ----------- |',
    );
    for (const { figures } of scenarios) {
      const off = median(figures.wall.off);
      for (const mode of modes) {
        const wall = median(figures.wall[mode]);
        console.log(
          `| ${figures.name} | ${mode === 'unprepared' ? 'on, runs not prepared' : mode} | ${wall.toFixed(0)} | ${(wall / figures.steps).toFixed(2)} | ` +
            `${(median(figures.cpu[mode]) / figures.steps).toFixed(2)} | ` +
            `${[0, 1, 2].map((i) => (median(figures.cpuEach[mode].map((each) => each[i] ?? 0)) / figures.steps).toFixed(2)).join(' / ')} | ` +
            `${mode === 'off' ? '' : (wall / off).toFixed(3)} | ` +
            `${figures.wall[mode].map((t) => t.toFixed(0)).join(', ')} |`,
        );
      }
    }
    // Where this process's CPU went, per step, by thread kind (medians of the rounds).
    for (const { figures } of scenarios) {
      console.log(`\n${figures.name}: this process's CPU per step (ms) by thread`);
      const names = [...new Set(modes.flatMap((mode) => figures.threads[mode].flatMap((each) => [...each.keys()])))];
      console.log(`| thread | ${modes.join(' | ')} |`);
      console.log(`| ------ | ${modes.map(() => '---').join(' | ')} |`);
      for (const name of names.sort()) {
        const each = modes.map((mode) => median(figures.threads[mode].map((t) => t.get(name) ?? 0)) / figures.steps);
        if (each.every((ms) => ms < 0.005)) continue;
        console.log(`| ${name} | ${each.map((ms) => ms.toFixed(2)).join(' | ')} |`);
      }
    }
    // What one step costs in calls: MLflow requests (all rounds of both scenarios) and the last chain's history.
    const stepsRun = ROUNDS * scenarios.reduce((sum, { figures }) => sum + figures.steps, 0);
    for (const mode of modes) {
      const history = await lastChain[mode]?.fetchHistory();
      const events = new Map<string, number>();
      for (const event of history?.events ?? []) {
        const type = (temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? 'UNKNOWN').replace('EVENT_TYPE_', '');
        events.set(type, (events.get(type) ?? 0) + 1);
      }
      const perStep = (n: number): string => (n / stepsRun).toFixed(2);
      console.log(
        `\n${mode}: MLflow calls per step: ${[...calls[mode]].map(([call, n]) => `${call} ${perStep(n)}`).join(', ') || 'none'}`,
      );
      console.log(
        `${mode}: history of the last chain (${history?.events?.length ?? 0} events): ` +
          [...events].map(([type, n]) => `${type} ${n}`).join(', '),
      );
    }
    const [noop] = scenarios;
    if (noop !== undefined && modes.includes('off') && modes.includes('on')) {
      const ratio = median(noop.figures.wall.on) / median(noop.figures.wall.off);
      console.log(
        `\nnoop chain, tracking on / off: ${ratio.toFixed(3)}: ${ratio <= TARGET_RATIO ? 'PASS' : 'MISS'} (≤ ${TARGET_RATIO}); ` +
          `${nested} nested runs FINISHED in the last tracked chain`,
      );
    }
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
