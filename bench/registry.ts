/**
 * `npm run bench:registry`: the embedded MLflow server's tracking and registry figures, durable (SQLite,
 * `synchronous=FULL`): a log-batch of 1,000 metrics, a run search with a metric filter and an order_by over 10,000
 * runs (pages of 100 and of MLflow's default 1,000), and creating a model version then setting an alias. Each is
 * timed over HTTP against `mloe mlflow server` in its own process (as users run it) and, as the baseline, called
 * in-process on the store in this process. Prints a table and writes nothing else; copy the figures into
 * docs/benchmarks.md with the machine they ran on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

import { createMlflowBackend, parseMlflowServerConfig, type MlflowBackend } from '../infra/mlflow';
import { percentile } from './stats';
import { startMlflowServerProcess } from './server-process';

const RUNS = Number(process.env.BENCH_REGISTRY_RUNS ?? 10_000);
const ITERATIONS = Number(process.env.BENCH_REGISTRY_ITERATIONS ?? 50);
const WARMUP = 5;
const FILTER = 'metrics.accuracy > 0.5';
const ORDER_BY = ['metrics.accuracy DESC'];

interface Figure {
  operation: string;
  where: 'HTTP' | 'in-process';
  median: number;
  p99: number;
}

async function time(operation: string, where: Figure['where'], run: (i: number) => Promise<unknown>): Promise<Figure> {
  for (let i = 0; i < WARMUP; i++) await run(-1 - i);
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = performance.now();
    await run(i);
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { operation, where, median: percentile(samples, 50), p99: percentile(samples, 99) };
}

const metricsBatch = (offset: number): { key: string; value: number; timestamp: number; step: number }[] =>
  Array.from({ length: 1000 }, (_, j) => ({
    key: `m${j % 20}`,
    value: Math.random(),
    timestamp: 1,
    step: offset * 1000 + j,
  }));

/** 10,000 runs, each with a few metrics, params and tags, written in groups so commits are shared. */
async function populate(backend: MlflowBackend): Promise<{ experimentId: string; runId: string }> {
  const experimentId = await backend.experiments.create('bench-search', undefined, []);
  for (let done = 0; done < RUNS; done += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, RUNS - done) }, async (_, k) => {
        const i = done + k;
        const run = await backend.runs.create({
          experimentId,
          userId: 'bench',
          startTime: 1_700_000_000_000 + i,
          tags: [],
          runName: `run-${i}`,
        });
        await backend.runs.logBatch(
          run.info.run_id,
          [
            { key: 'accuracy', value: ((i * 7919) % 10_000) / 10_000, timestamp: 1, step: 0 },
            { key: 'loss', value: Math.random(), timestamp: 1, step: 0 },
            { key: 'f1', value: Math.random(), timestamp: 1, step: 0 },
          ],
          [
            { key: 'model', value: i % 2 === 0 ? 'forest' : 'linear' },
            { key: 'lr', value: String(i % 10) },
          ],
          [{ key: 'team', value: `t${i % 5}` }],
        );
      }),
    );
  }
  const logRun = await backend.runs.create({
    experimentId: '0',
    userId: 'bench',
    startTime: Date.now(),
    tags: [],
    runName: 'log-batch',
  });
  await backend.registeredModels.create('bench-model', [], '');
  return { experimentId, runId: logRun.info.run_id };
}

async function inProcess(backend: MlflowBackend, experimentId: string, runId: string): Promise<Figure[]> {
  return [
    await time('log-batch, 1,000 metrics', 'in-process', (i) =>
      backend.runs.logBatch(runId, metricsBatch(i + 100), [], []),
    ),
    await time('search 10,000 runs, page of 100', 'in-process', () =>
      Promise.resolve(
        backend.searchRuns({ experimentIds: [experimentId], filter: FILTER, orderBy: ORDER_BY, maxResults: 100 }),
      ),
    ),
    await time('search 10,000 runs, page of 1,000', 'in-process', () =>
      Promise.resolve(backend.searchRuns({ experimentIds: [experimentId], filter: FILTER, orderBy: ORDER_BY })),
    ),
    await time('model version + alias', 'in-process', async () => {
      const version = await backend.modelVersions.create({
        name: 'bench-model',
        source: `mlflow-artifacts:/0/${runId}/artifacts/model`,
        runId,
        tags: [],
        runLink: '',
        description: '',
      });
      await backend.registeredModels.setAlias('bench-model', 'champion', version.version);
    }),
  ];
}

async function overHttp(url: string, experimentId: string, runId: string): Promise<Figure[]> {
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}/api/2.0/mlflow/${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer: unknown = await response.json();
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const search = (maxResults: number) => () =>
    call('POST', 'runs/search', {
      experiment_ids: [experimentId],
      filter: FILTER,
      order_by: ORDER_BY,
      max_results: maxResults,
    });
  return [
    await time('log-batch, 1,000 metrics', 'HTTP', (i) =>
      call('POST', 'runs/log-batch', { run_id: runId, metrics: metricsBatch(i + 1000) }),
    ),
    await time('search 10,000 runs, page of 100', 'HTTP', search(100)),
    await time('search 10,000 runs, page of 1,000', 'HTTP', search(1000)),
    await time('model version + alias', 'HTTP', async () => {
      const { model_version } = (await call('POST', 'model-versions/create', {
        name: 'bench-model',
        source: `mlflow-artifacts:/0/${runId}/artifacts/model`,
        run_id: runId,
      })) as { model_version: { version: string } };
      await call('POST', 'registered-models/alias', {
        name: 'bench-model',
        alias: 'champion',
        version: model_version.version,
      });
    }),
  ];
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'mloe-bench-registry-'));
  try {
    const dbFile = join(directory, 'mlflow.db');
    const artifacts = join(directory, 'artifacts');
    const config = parseMlflowServerConfig({ backendStoreUri: `sqlite:///${dbFile}`, artifactsDestination: artifacts });
    const backend = createMlflowBackend(config);
    const populateStart = performance.now();
    const { experimentId, runId } = await populate(backend);
    const populateSeconds = (performance.now() - populateStart) / 1000;
    const local = await inProcess(backend, experimentId, runId);
    backend.close();

    const server = await startMlflowServerProcess({ backendStoreUri: `sqlite:///${dbFile}`, artifacts });
    let remote: Figure[];
    try {
      remote = await overHttp(server.at, experimentId, runId);
    } finally {
      await server.stop();
    }

    console.log(
      `MLflow registry benchmark: ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
        `Node ${process.version}; durable SQLite (synchronous=FULL); ${RUNS} runs written in ${populateSeconds.toFixed(1)} s; ` +
        `${ITERATIONS} timed iterations after ${WARMUP} warm-up`,
    );
    console.log('| operation | HTTP median (ms) | HTTP p99 (ms) | in-process median (ms) | in-process p99 (ms) |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const figure of remote) {
      const baseline = local.find((f) => f.operation === figure.operation)!;
      console.log(
        `| ${figure.operation} | ${figure.median.toFixed(2)} | ${figure.p99.toFixed(2)} | ${baseline.median.toFixed(2)} | ${baseline.p99.toFixed(2)} |`,
      );
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

void main();
