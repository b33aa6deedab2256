/**
 * `npm run bench:pipeline`: what the pipeline engine (the `runPipeline` interpreter, its worker and the dev server)
 * costs per step, on DAGs of `noop@1` steps whose own work is nothing. Scenarios: a chain of 200 steps (overhead per
 * sequential step), and a fan-out of 2,000 independent steps, as one `foreach` over 2,000 items (default and full
 * parallelism) and as 2,000 distinct steps under one root. Each run is timed beside the same DAG executed directly
 * in-process (`runInProcess`). Cache variants: `off` (`noCache`), `on` (the default, over a fresh store: every key
 * is new, so every execution misses and writes an entry) and `warm` (the default again over the store an unmeasured
 * run just filled: every execution hits). The dev server runs in its own process, durable (SQLite file,
 * `synchronous=FULL`) and in memory; the worker and client run here. Prints tables, writes nothing; copy the
 * figures into docs/benchmarks.md with the machine they ran on. A missed target is reported, not fatal; a failed
 * run exits non-zero.
 *
 * Knobs: `BENCH_MODES` (durable,memory), `BENCH_SCENARIOS` (chain,foreach,foreach-wide,distinct), `BENCH_CACHE`
 * (off,on,warm), `BENCH_CHAIN_STEPS` (200), `BENCH_FANOUT_STEPS` (2000), `BENCH_SERVER_NODE_FLAGS` (e.g.
 * `--cpu-prof` for the server process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, type WorkflowBundle } from '@temporalio/worker';

import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { PipelineSpec } from '../core/spec';
import { loadWorkflowBundleConfig } from '../workers/config';
import { createPipelineWorker } from '../workers/pipeline-worker';
import { cachedWorkflowBundle } from '../workers/workflow-bundle';
import { startServerProcess } from './server-process';
import type { PipelineRunStatus } from '../workflows/types';
import {
  BENCH_DESCRIPTORS,
  BENCH_STEPS,
  chainSpec,
  distinctSpec,
  executionCount,
  foreachSpec,
  ownCpuMs,
  processCpuMs,
  runInProcess,
} from './pipeline-support';
import { median } from './stats';
import { positiveInt } from './knobs';

const CHAIN_STEPS = positiveInt('BENCH_CHAIN_STEPS', 200);
const FANOUT_STEPS = positiveInt('BENCH_FANOUT_STEPS', 2000);
/** Targets (durable mode, 2 cores): overhead per chained step, and wall time of a fan-out. */
const CHAIN_TARGET_MS = 15;
const FANOUT_TARGET_S = 30;
/** Baseline runs per measurement (it takes well under a millisecond; the median is kept). */
const BASELINE_ROUNDS = 5;

const MODES = ['durable', 'memory'] as const;
const SCENARIOS = ['chain', 'foreach', 'foreach-wide', 'distinct'] as const;
const CACHE_VARIANTS = ['off', 'on', 'warm'] as const;
type Mode = (typeof MODES)[number];
type Scenario = (typeof SCENARIOS)[number];
type CacheVariant = (typeof CACHE_VARIANTS)[number];

/** One measured run. */
interface Figures {
  scenario: Scenario;
  mode: Mode;
  cache: CacheVariant;
  executions: number;
  engineMs: number;
  baselineMs: number;
  /** `startPipeline` alone: validation, search attributes, the start call. */
  startMs: number;
  /** CPU used meanwhile by the server process and by this one (worker and client), when readable. */
  serverCpuMs: number | undefined;
  benchCpuMs: number;
  workflows: number;
  workflowTasks: number;
  historyEvents: number;
  /** Steps by cache decision (`hit 0, miss 200`). */
  cacheDecisions: string;
  /** Size of the run's final status (the workflow's result and `status` query answer), in bytes of JSON. */
  statusBytes: number;
}

function listKnob<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
  const text = process.env[name];
  if (text === undefined || text === '') return [...fallback];
  const values = text.split(',').map((value) => value.trim());
  const unknown = values.filter((value) => !(allowed as readonly string[]).includes(value));
  if (unknown.length > 0) throw new Error(`${name}: unknown ${unknown.join(', ')} (one of ${allowed.join(', ')})`);
  return values as T[];
}

function specOf(scenario: Scenario): PipelineSpec {
  switch (scenario) {
    case 'chain':
      return chainSpec(CHAIN_STEPS);
    case 'foreach':
      return foreachSpec(FANOUT_STEPS);
    case 'foreach-wide':
      return foreachSpec(FANOUT_STEPS, FANOUT_STEPS);
    case 'distinct':
      return distinctSpec(FANOUT_STEPS);
  }
}

/** The baseline's wall time (ms): the median of a few in-process runs of the DAG. */
async function baselineMs(spec: PipelineSpec): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round < BASELINE_ROUNDS; round += 1) {
    const started = performance.now();
    await runInProcess(spec);
    times.push(performance.now() - started);
  }
  return median(times);
}

/** Workflow tasks completed and events written, over the run and its `foreach` batch children. */
async function historyFigures(
  client: Client,
  workflowId: string,
  status: PipelineRunStatus,
): Promise<{ workflows: number; workflowTasks: number; historyEvents: number }> {
  const ids = [workflowId];
  for (const step of status.steps) {
    for (let batch = 0; batch < (step.foreach?.batches ?? 0); batch += 1) {
      ids.push(`${workflowId}-${step.id}-batch-${batch}`);
    }
  }
  let workflowTasks = 0;
  let historyEvents = 0;
  for (const id of ids) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    historyEvents += events.length;
    workflowTasks += events.filter(
      (event) => event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    ).length;
  }
  return { workflows: ids.length, workflowTasks, historyEvents };
}

function cacheDecisions(status: PipelineRunStatus): string {
  const counts = new Map<string, number>();
  for (const step of status.steps) counts.set(step.cache, (counts.get(step.cache) ?? 0) + 1);
  return [...counts.entries()].map(([decision, count]) => `${decision} ${count}`).join(', ');
}

interface RunContext {
  client: Client;
  taskQueue: string;
  serverPid: number | undefined;
  mode: Mode;
}

/** Runs a spec through the engine once; throws unless it completes. */
async function runEngine(
  context: RunContext,
  spec: PipelineSpec,
  artifactRoot: string,
  noCache: boolean,
): Promise<
  { engineMs: number; startMs: number; serverCpuMs: number | undefined; benchCpuMs: number } & {
    workflowId: string;
    status: PipelineRunStatus;
  }
> {
  const serverCpu0 = processCpuMs(context.serverPid);
  const benchCpu0 = ownCpuMs();
  const started = performance.now();
  const run = await startPipeline(context.client, {
    spec,
    descriptors: BENCH_DESCRIPTORS,
    taskQueue: context.taskQueue,
    artifactRoot,
    workingDir: artifactRoot,
    ...(noCache ? { noCache: true } : {}),
  });
  const startMs = performance.now() - started;
  const outcome = await waitForPipeline(run.handle);
  const engineMs = performance.now() - started;
  const serverCpu1 = processCpuMs(context.serverPid);
  const benchCpuMs = ownCpuMs() - benchCpu0;
  if (outcome.error !== undefined || outcome.status.state !== 'completed') {
    const why = outcome.error instanceof Error ? outcome.error.message : (outcome.status.error ?? 'no error reported');
    throw new Error(`pipeline ${spec.metadata.name} (${context.mode}) ended ${outcome.status.state}: ${why}`, {
      cause: outcome.error,
    });
  }
  return {
    engineMs,
    startMs,
    serverCpuMs: serverCpu0 === undefined || serverCpu1 === undefined ? undefined : serverCpu1 - serverCpu0,
    benchCpuMs,
    workflowId: run.workflowId,
    status: outcome.status,
  };
}

async function measure(
  context: RunContext,
  scenario: Scenario,
  spec: PipelineSpec,
  cache: CacheVariant,
  scratch: string,
): Promise<Figures> {
  const artifactRoot = mkdtempSync(join(scratch, `${scenario}-${cache}-`));
  if (cache === 'warm') {
    // Fills the cache for the measured run below, over the same artifact root.
    await runEngine(context, spec, artifactRoot, false);
  }
  const baseline = await baselineMs(spec);
  const run = await runEngine(context, spec, artifactRoot, cache === 'off');
  const history = await historyFigures(context.client, run.workflowId, run.status);
  process.stdout.write('.');
  return {
    scenario,
    mode: context.mode,
    cache,
    executions: executionCount(spec),
    engineMs: run.engineMs,
    baselineMs: baseline,
    startMs: run.startMs,
    serverCpuMs: run.serverCpuMs,
    benchCpuMs: run.benchCpuMs,
    ...history,
    cacheDecisions: cacheDecisions(run.status),
    statusBytes: Buffer.byteLength(JSON.stringify(run.status)),
  };
}

async function runMode(
  mode: Mode,
  scenarios: readonly { scenario: Scenario; spec: PipelineSpec }[],
  caches: readonly CacheVariant[],
  workflowBundle: WorkflowBundle,
  scratch: string,
): Promise<Figures[]> {
  const server = await startServerProcess(mode === 'durable' ? join(scratch, 'bench.db') : undefined);
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  try {
    const client = new Client({ connection });
    const taskQueue = `bench-pipeline-${mode}`;
    const worker = await createPipelineWorker({
      connection: nativeConnection,
      taskQueue,
      workflowBundle,
      steps: BENCH_STEPS,
    });
    const context: RunContext = { client, taskQueue, serverPid: server.child.pid, mode };
    return await worker.runUntil(async () => {
      // Warm-up: JIT, connections, the workflow sandbox, the worker's caches.
      const warmRoot = mkdtempSync(join(scratch, 'warm-'));
      await runEngine(context, chainSpec(20), warmRoot, true);
      await runEngine(context, foreachSpec(100), warmRoot, true);
      const results: Figures[] = [];
      for (const { scenario, spec } of scenarios) {
        for (const cache of caches) results.push(await measure(context, scenario, spec, cache, scratch));
      }
      return results;
    });
  } finally {
    await nativeConnection.close();
    await connection.close();
    await server.stop();
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function describeScenario(scenario: Scenario): string {
  switch (scenario) {
    case 'chain':
      return `chain of ${CHAIN_STEPS}`;
    case 'foreach':
      return `foreach ${FANOUT_STEPS} (50 at once)`;
    case 'foreach-wide':
      return `foreach ${FANOUT_STEPS} (maxParallel ${FANOUT_STEPS})`;
    case 'distinct':
      return `${FANOUT_STEPS} steps, one root`;
  }
}

/** PASS/MISS against the targets: overhead per step for the chain, wall time for a fan-out. */
function check(figures: Figures): string {
  if (figures.scenario === 'chain') {
    const overhead = (figures.engineMs - figures.baselineMs) / figures.executions;
    return `${overhead <= CHAIN_TARGET_MS ? 'PASS' : 'MISS'} (≤ ${CHAIN_TARGET_MS} ms/step)`;
  }
  return `${figures.engineMs / 1000 <= FANOUT_TARGET_S ? 'PASS' : 'MISS'} (≤ ${FANOUT_TARGET_S} s)`;
}

function report(results: readonly Figures[], loadBefore: number[], loadAfter: number[]): void {
  const fixed = (value: number, digits: number): string => value.toFixed(digits);
  console.log(
    `\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  console.log(
    `load average (1, 5, 15 min): before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
  );
  console.log(
    `per step = engine wall / executions; overhead = (engine - baseline) / executions; targets are set for durable mode\n`,
  );
  console.log(
    table(
      [
        'scenario',
        'mode',
        'cache',
        'engine wall (ms)',
        'baseline wall (ms)',
        'per step (ms)',
        'overhead/step (ms)',
        'ratio',
        'target',
      ],
      results.map((r) => [
        describeScenario(r.scenario),
        r.mode,
        r.cache,
        fixed(r.engineMs, 0),
        fixed(r.baselineMs, 3),
        fixed(r.engineMs / r.executions, 2),
        fixed((r.engineMs - r.baselineMs) / r.executions, 2),
        `${fixed(r.engineMs / Math.max(r.baselineMs, 1e-6), 0)}x`,
        check(r),
      ]),
    ),
  );
  console.log('\nwhere the time goes (CPU of the server process and of this one: worker, workflow sandbox, client):\n');
  console.log(
    table(
      [
        'scenario',
        'mode',
        'cache',
        'start (ms)',
        'server CPU (ms)',
        'worker+client CPU (ms)',
        'workflows',
        'workflow tasks',
        'events',
        'status (KB)',
        'cache decisions',
      ],
      results.map((r) => [
        describeScenario(r.scenario),
        r.mode,
        r.cache,
        fixed(r.startMs, 0),
        r.serverCpuMs === undefined ? 'n/a' : fixed(r.serverCpuMs, 0),
        fixed(r.benchCpuMs, 0),
        String(r.workflows),
        String(r.workflowTasks),
        String(r.historyEvents),
        fixed(r.statusBytes / 1024, 0),
        r.cacheDecisions,
      ]),
    ),
  );
}

async function main(): Promise<void> {
  const modes = listKnob('BENCH_MODES', MODES, MODES);
  const scenarioNames = listKnob('BENCH_SCENARIOS', SCENARIOS, SCENARIOS);
  const caches = listKnob('BENCH_CACHE', CACHE_VARIANTS, CACHE_VARIANTS);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const { code } = await cachedWorkflowBundle({
    cacheDir: loadWorkflowBundleConfig({ env: process.env }).cacheDir,
    logger: new DefaultLogger('ERROR'),
  });
  const workflowBundle: WorkflowBundle = { code };
  const scenarios = scenarioNames.map((scenario) => ({ scenario, spec: specOf(scenario) }));
  const loadBefore = loadavg();
  const scratch = mkdtempSync(join(tmpdir(), 'mloe-bench-pipeline-'));
  const results: Figures[] = [];
  try {
    for (const mode of modes) results.push(...(await runMode(mode, scenarios, caches, workflowBundle, scratch)));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  report(results, loadBefore, loadavg());
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
