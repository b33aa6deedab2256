/**
 * `npm run bench:ml-data`: the columnar data steps on a generated 3-million-row Parquet file. `ingest@2`, `validate@2`
 * and `split@1` (stratified) run through their step implementations with a file artifact store, beside a baseline in
 * the same run: DuckDB reading the file directly (a count and a GROUP BY). Each phase runs in its own Node process so
 * that its peak RSS (`process.resourceUsage().maxRSS`) is its own. Target (issue 10): ingest + validate + split
 * within 10 s and 1.5 GiB on 2 cores. `BENCH_ML_ROWS` changes the row count. Prints a table and keeps nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { DuckDBInstance } from '@duckdb/node-api';

import { FileArtifactStore, type ArtifactRef } from '../activities/artifacts';
import { BUILTIN_STEP_IMPLEMENTATIONS, type StepContext } from '../activities/steps';
import type { JsonValue } from '../core/spec';

const ROWS = Number(process.env.BENCH_ML_ROWS ?? 3_000_000);
const GIB = 1024 ** 3;

/** What a phase reports: milliseconds per part, and its process's peak RSS in bytes. */
interface PhaseResult {
  timings: Record<string, number>;
  peakRss: number;
  /** CPU time (user + system) of the process, in ms: what the phase cost whatever else loads the machine. */
  cpuMs: number;
  detail?: Record<string, JsonValue>;
}

/** CPU time of this process so far (user + system), in ms. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function timed<T>(timings: Record<string, number>, name: string, body: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await body();
  timings[name] = performance.now() - started;
  return result;
}

/** Writes the benchmark's Parquet file: ids, three measurements, a category, a date and an imbalanced label. */
async function generate(path: string): Promise<PhaseResult> {
  const timings: Record<string, number> = {};
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await timed(timings, 'generate', () =>
    connection.run(
      `COPY (SELECT i AS id, (i % 997) * 0.25 AS x1, ((i * 7919) % 10007) / 100.0 AS x2, sin(i)::DOUBLE AS x3, ` +
        `['red', 'green', 'blue', 'amber', 'violet'][1 + (i % 5)::INTEGER] AS category, ` +
        `DATE '2020-01-01' + (i % 1461)::INTEGER AS day, ` +
        `CASE WHEN (i * 2654435761) % 10 < 3 THEN 'yes' ELSE 'no' END AS label FROM range(${ROWS}) t(i)) ` +
        `TO '${path}' (FORMAT parquet, COMPRESSION zstd)`,
    ),
  );
  connection.closeSync();
  instance.closeSync();
  return { timings, peakRss: process.resourceUsage().maxRSS * 1024, cpuMs: cpuMs() };
}

/** The baseline: DuckDB reading the file directly, a count and a GROUP BY. */
async function baseline(path: string): Promise<PhaseResult> {
  const timings: Record<string, number> = {};
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const count = await timed(timings, 'count', async () =>
    (await connection.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${path}')`)).getRowObjectsJson(),
  );
  const groups = await timed(timings, 'group by', async () =>
    (
      await connection.runAndReadAll(
        `SELECT label, count(*) AS n, avg(x1) AS x1, min(day) AS first FROM read_parquet('${path}') GROUP BY label`,
      )
    ).getRowObjectsJson(),
  );
  connection.closeSync();
  instance.closeSync();
  return {
    timings,
    peakRss: process.resourceUsage().maxRSS * 1024,
    cpuMs: cpuMs(),
    detail: { rows: count[0]?.n ?? null, groups: groups.length },
  };
}

/** ingest@2, validate@2 and split@1 through their implementations, as `runStep` calls them. */
async function steps(path: string, directory: string): Promise<PhaseResult> {
  const timings: Record<string, number> = {};
  const store = new FileArtifactStore({ root: join(directory, 'store') });
  const context: StepContext = {
    stepId: 'bench',
    workflowId: 'bench-ml-data',
    store,
    workingDir: directory,
    attempt: 1,
    signal: new AbortController().signal,
  };
  const step = (uses: string) => {
    const implementation = BUILTIN_STEP_IMPLEMENTATIONS.get(uses);
    if (implementation === undefined) throw new Error(`no step ${uses}`);
    return (inputs: Record<string, JsonValue>) => implementation.run(inputs, context);
  };
  const ingested = await timed(timings, 'ingest@2', () => step('ingest@2')({ source: path }));
  const dataset = ingested.outputs.dataset as JsonValue;
  await timed(timings, 'validate@2', () =>
    step('validate@2')({
      dataset,
      expectations: {
        rows: { min: ROWS, max: ROWS },
        columns: {
          id: { type: 'integer', unique: true, min: 0 },
          x1: { type: 'number', min: 0, max: 250 },
          x2: { type: 'number', min: 0, max: 100.07 },
          x3: { type: 'number', min: -1, max: 1 },
          category: { type: 'string', values: ['red', 'green', 'blue', 'amber', 'violet'] },
          day: { type: 'date', min: '2020-01-01' },
          label: { type: 'string', values: ['yes', 'no'] },
        },
      },
    }),
  );
  const split = await timed(timings, 'split@1', () =>
    step('split@1')({ dataset, mode: 'stratified', by: 'label', seed: 42, testFraction: 0.2 }),
  );
  timings.total = (timings['ingest@2'] ?? 0) + (timings['validate@2'] ?? 0) + (timings['split@1'] ?? 0);
  return {
    timings,
    peakRss: process.resourceUsage().maxRSS * 1024,
    cpuMs: cpuMs(),
    detail: {
      rows: ingested.outputs.rows ?? null,
      parquetBytes: (ingested.outputs.dataset as unknown as ArtifactRef).size,
      trainRows: split.outputs.trainRows ?? null,
      testRows: split.outputs.testRows ?? null,
    },
  };
}

/** Runs one phase in a child process (this file, under tsx) and reads its JSON answer. */
async function inChild(phase: string, path: string, directory: string): Promise<PhaseResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', __filename, phase, path, directory],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as PhaseResult;
}

const ms = (value: number | undefined): string => `${Math.round(value ?? 0)} ms`.padStart(9);
const mib = (bytes: number): string => `${Math.round(bytes / 1024 ** 2)} MiB`.padStart(9);

async function main(): Promise<void> {
  const [phase, path, directory] = process.argv.slice(2);
  if (phase !== undefined && path !== undefined && directory !== undefined) {
    const result =
      phase === 'generate'
        ? await generate(path)
        : phase === 'baseline'
          ? await baseline(path)
          : await steps(path, directory);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const root = await mkdtemp(join(tmpdir(), 'mloe-bench-ml-data-'));
  try {
    const file = join(root, 'table.parquet');
    console.log(
      `ml-data benchmark: ${ROWS.toLocaleString('en-US')} rows, ${cpus().length} cores, ` +
        `${Math.round(totalmem() / GIB)} GiB RAM, node ${process.version}`,
    );
    const generated = await inChild('generate', file, root);
    console.log(
      `generated ${file} (${mib((await stat(file)).size).trim()}) in ${ms(generated.timings.generate).trim()}`,
    );
    const base = await inChild('baseline', file, root);
    const run = await inChild('steps', file, root);
    console.log('');
    console.log('| phase                                  |      time | peak RSS  | process CPU |');
    console.log('| -------------------------------------- | --------: | --------: | ----------: |');
    console.log(
      `| baseline: DuckDB count                 | ${ms(base.timings.count)} |           |             |\n` +
        `| baseline: DuckDB GROUP BY              | ${ms(base.timings['group by'])} | ${mib(base.peakRss)} | ${ms(base.cpuMs)}   |\n` +
        `| ingest@2 (Parquet → Parquet artifact)  | ${ms(run.timings['ingest@2'])} |           |             |\n` +
        `| validate@2 (7 columns, 13 rules)       | ${ms(run.timings['validate@2'])} |           |             |\n` +
        `| split@1 (stratified, 80/20)            | ${ms(run.timings['split@1'])} |           |             |\n` +
        `| ingest + validate + split              | ${ms(run.timings.total)} | ${mib(run.peakRss)} | ${ms(run.cpuMs)}   |`,
    );
    console.log(
      `load average at the end: ${loadavg()
        .map((value) => value.toFixed(1))
        .join(', ')}`,
    );
    console.log('');
    console.log(`steps: ${JSON.stringify(run.detail)}; baseline: ${JSON.stringify(base.detail)}`);
    const withinTime = (run.timings.total ?? Infinity) <= 10_000;
    const withinMemory = run.peakRss <= 1.5 * GIB;
    console.log(
      `target ≤ 10 s and ≤ 1.5 GiB: ${withinTime && withinMemory ? 'met' : 'NOT met'} ` +
        `(time ${withinTime ? 'ok' : 'over'}, memory ${withinMemory ? 'ok' : 'over'})`,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
