/**
 * `npm run bench:cli`: how long `mloe run pipelines/demo/pipeline.yaml` (embedded dev server and worker) takes from
 * process start to its first step starting, with the workflow bundle cache cold (an empty `MLOE_BUNDLE_CACHE_DIR`
 * per run), warm, and with a pre-built bundle (`MLOE_WORKFLOW_BUNDLE`). Baselines measured in the same run: a bare
 * `node -e ''` (process start), `mloe --version` (Node, tsx and the CLI's own modules, to exit), and the same run in
 * this process (`runRun` with every module loaded and the bundle warm: what is left is the embedded stack and the
 * workflow). A step's start is the time of its OpenLineage START event (file transport), which the step records as it
 * begins; "worker ready" is when that line reaches this process. Prints a table of medians and ranges; copy it into
 * docs/benchmarks.md with the machine it ran on.
 *
 * Knobs: `BENCH_CLI_REPEATS` (5 runs per case), `BENCH_CLI_CASES` (baseline,in-process,cold,warm,file).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { runRun } from '../clients/run';
import { writeFileAtomic } from '../workers/bundle-cache';
import { buildWorkflowBundle, cachedWorkflowBundle } from '../workers/workflow-bundle';
import { positiveInt } from './knobs';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'mloe.js');
const SPEC = join(ROOT, 'pipelines', 'demo', 'pipeline.yaml');
const REPEATS = positiveInt('BENCH_CLI_REPEATS', 5);
const CASES = (process.env.BENCH_CLI_CASES ?? 'baseline,in-process,cold,warm,file').split(',');

/** One measured run, in ms from process start (or from the call, in process). */
interface Sample {
  firstStep?: number;
  ready?: number;
  exit?: number;
}

const scratch = mkdtempSync(join(tmpdir(), 'mloe-bench-cli-'));
let runs = 0;
/** A fresh directory under the bench's scratch directory. */
function freshDir(): string {
  runs += 1;
  return mkdtempSync(join(scratch, `run-${runs}-`));
}

/** The OpenLineage settings that make every step write its START event to `file`. */
function lineageEnv(file: string): Record<string, string> {
  return { OPENLINEAGE__TRANSPORT__TYPE: 'file', OPENLINEAGE__TRANSPORT__LOG_FILE_PATH: file };
}

/** The wall-clock time (ms since the epoch) the first step of the run in `events` started. */
function firstStepStart(events: string): number {
  const starts = readFileSync(events, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { eventType: string; eventTime: string; job: { name: string } })
    .filter((event) => event.eventType === 'START' && event.job.name.includes('.'))
    .map((event) => Date.parse(event.eventTime));
  if (starts.length === 0) throw new Error(`no step START event in ${events}`);
  return Math.min(...starts);
}

/** Spawns `node args` with `env` added (TEMPORAL_ADDRESS removed), times it, fails unless it exits 0. */
async function spawnTimed(args: readonly string[], env: Record<string, string>, readyText?: string): Promise<Sample> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.TEMPORAL_ADDRESS;
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const sample: Sample = {};
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    if (readyText !== undefined && sample.ready === undefined && output.includes(readyText)) {
      sample.ready = performance.now() - startedAt;
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((done) => child.once('exit', (exitCode) => done(exitCode)));
  sample.exit = performance.now() - startedAt;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}:\n${output}`);
  return sample;
}

/** `mloe run` of the demo in a child process, `env` added; the first step's start from process start. */
async function spawnRun(env: Record<string, string>): Promise<Sample> {
  const dir = freshDir();
  const events = join(dir, 'events.jsonl');
  const spawnedAt = Date.now();
  const sample = await spawnTimed(
    [BIN, 'run', SPEC, '--no-cache', '--artifact-root', dir],
    { ...env, ...lineageEnv(events) },
    'worker ready',
  );
  return { ...sample, firstStep: firstStepStart(events) - spawnedAt };
}

/** The same run in this process, modules loaded and the bundle in `cacheDir`; the first step's start from the call. */
async function inProcessRun(cacheDir: string): Promise<Sample> {
  const dir = freshDir();
  const events = join(dir, 'events.jsonl');
  const io = { stdout: () => undefined, stderr: (line: string) => console.error(line) };
  const calledAt = Date.now();
  const startedAt = performance.now();
  // No TEMPORAL_ADDRESS in `env`: the embedded server and worker.
  const env = { ...lineageEnv(events), MLOE_BUNDLE_CACHE_DIR: cacheDir };
  const code = await runRun(SPEC, { cache: false, artifactRoot: dir, env }, io);
  if (code !== 0) throw new Error(`in-process run exited with ${code}`);
  return { exit: performance.now() - startedAt, firstStep: firstStepStart(events) - calledAt };
}

async function repeat(label: string, run: () => Promise<Sample>): Promise<[string, Sample[]]> {
  const samples: Sample[] = [];
  for (let i = 0; i < REPEATS; i += 1) samples.push(await run());
  process.stderr.write(`  ${label}: done\n`);
  return [label, samples];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** `p50 (min-max)` of one figure over the samples, or `-` when no sample has it. */
function figure(samples: readonly Sample[], key: keyof Sample): string {
  const values = samples.map((sample) => sample[key]).filter((value): value is number => value !== undefined);
  if (values.length === 0) return '-';
  return `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})`;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const warmCache = join(scratch, 'warm-cache');
  const results: [string, Sample[]][] = [];
  process.stderr.write(`bench:cli, ${REPEATS} runs per case\n`);

  if (CASES.includes('baseline')) {
    results.push(await repeat("node -e ''", () => spawnTimed(['-e', ''], {})));
    results.push(await repeat('mloe --version', () => spawnTimed([BIN, '--version'], {})));
  }
  const bundleStartedAt = performance.now();
  const built = await cachedWorkflowBundle({ cacheDir: warmCache });
  const bundleMs = performance.now() - bundleStartedAt;
  const hitStartedAt = performance.now();
  await cachedWorkflowBundle({ cacheDir: warmCache });
  const hitMs = performance.now() - hitStartedAt;
  process.stderr.write(
    `  bundle: ${built.origin} in ${bundleMs.toFixed(0)} ms, then from the cache in ${hitMs.toFixed(0)} ms\n`,
  );

  if (CASES.includes('in-process')) {
    results.push(await repeat('in process (runRun), bundle warm', () => inProcessRun(warmCache)));
  }
  if (CASES.includes('cold')) {
    results.push(await repeat('mloe run, bundle cache cold', () => spawnRun({ MLOE_BUNDLE_CACHE_DIR: freshDir() })));
  }
  if (CASES.includes('warm')) {
    results.push(await repeat('mloe run, bundle cache warm', () => spawnRun({ MLOE_BUNDLE_CACHE_DIR: warmCache })));
  }
  if (CASES.includes('file')) {
    const file = join(scratch, 'workflow-bundle.js');
    await writeFileAtomic(file, (await buildWorkflowBundle()).code);
    results.push(
      await repeat('mloe run, pre-built bundle (MLOE_WORKFLOW_BUNDLE)', () => spawnRun({ MLOE_WORKFLOW_BUNDLE: file })),
    );
  }

  const header = ['case', 'first step started (ms)', 'worker ready (ms)', 'exited (ms)'];
  const rows = results.map(([label, samples]) => [
    label,
    figure(samples, 'firstStep'),
    figure(samples, 'ready'),
    figure(samples, 'exit'),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  console.log(
    `\nmloe run pipelines/demo/pipeline.yaml, from process start (in process: from the call); median (min-max) of ${REPEATS}`,
  );
  console.log(line(header));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) console.log(line(row));
  console.log(
    `\nworkflow bundle: built in ${bundleMs.toFixed(0)} ms, cache hit (inputs re-hashed) in ${hitMs.toFixed(0)} ms`,
  );
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ` +
      `load average ${loadBefore.map((load) => load.toFixed(2)).join(' ')} before, ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')} after`,
  );
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => rmSync(scratch, { recursive: true, force: true }));
