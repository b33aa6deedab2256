/**
 * `npm run bench:ml-models`: the model steps at 100,000 rows and `/predict` latency.
 *
 * 1. 120,000 generated rows (six numeric features, one categorical, a 3-class label and a numeric target) written
 *    to Parquet by DuckDB; `features@1` on 100,000 training rows (+ 20,000 test rows); then `train@2` and `evaluate@2`
 *    for each model (softmax, random forest classification and regression, ridge). Baseline: reading the transformed
 *    training matrix out of Parquet into a Float64Array (the floor under every train).
 * 2. The softmax and the forest registered (an in-process MLflow server), served by a real `mloe serve` process
 *    started by `deploy@1`; `/predict` latency (p50, p99) and throughput for single rows and batches of 1,000, beside
 *    the model's predict (transform + score) called in-process.
 *
 * Prints a table; copy the figures into docs/benchmarks.md with the machine they ran on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { FileArtifactStore, getJson, parseArtifactRef, type ArtifactRef } from '../activities/artifacts';
import { parquetSource, readMatrix, withDuckDb } from '../activities/ml/features/duckdb';
import { compileModel, modelDocumentSchema, predictRecords, type CompiledModel } from '../activities/ml/models/model';
import { runDeploy, stopDeployment } from '../activities/ml/steps/deploy-step';
import { runEvaluate } from '../activities/ml/steps/evaluate-step';
import { runFeatures } from '../activities/ml/steps/features-step';
import { runTrain } from '../activities/ml/steps/train-step';
import { registerModel } from '../activities/steps/register';
import type { StepContext } from '../activities/steps';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import type { JsonValue } from '../core/spec';
import { startMlflowServer } from '../infra/mlflow';
import { percentile } from './stats';
import { trackRunningPipeline } from '../test/support/ml-fixtures';

const TRAIN_ROWS = Number(process.env.BENCH_ML_ROWS ?? 100_000);
const TEST_ROWS = Math.round(TRAIN_ROWS / 5);
const SINGLE_REQUESTS = Number(process.env.BENCH_ML_SINGLE ?? 2000);
const BATCH_REQUESTS = Number(process.env.BENCH_ML_BATCHES ?? 50);

function summary(samples: number[], rowsPer: number): { p50: number; p99: number; rowsPerSecond: number } {
  const total = samples.reduce((a, b) => a + b, 0);
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    rowsPerSecond: (samples.length * rowsPer) / (total / 1000),
  };
}

/** Wall time and this process's CPU time (the machine is shared: CPU time says what the work itself costs). */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; cpuMs: number; value: T }> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const value = await work();
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000, value };
}

const times = (figures: { ms: number; cpuMs: number }): string =>
  `${figures.ms.toFixed(0)} ms (CPU ${figures.cpuMs.toFixed(0)} ms)`;

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'mloe-bench-ml-'));
  const store = new FileArtifactStore({ root: join(directory, 'store') });
  const mlflow = await startMlflowServer({ port: 0, artifactsDestination: join(directory, 'mlflow') });
  const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: mlflow.url });
  if (config === undefined) throw new Error('no tracking config');
  const tracker = new MlflowTracker(config, { warn: () => undefined });
  const context = (stepId: string): StepContext => ({
    stepId,
    workflowId: 'bench-ml',
    store,
    workingDir: directory,
    attempt: 1,
    signal: new AbortController().signal,
    pipeline: 'bench-ml',
    tracking: tracker,
  });
  const lines: string[] = [];
  const say = (line: string): void => {
    lines.push(line);
    console.log(line);
  };
  try {
    say(
      `load average at start: ${loadavg()
        .map((value) => value.toFixed(1))
        .join(', ')}`,
    );
    say(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}`,
    );
    // 1. Data.
    const paths = { train: join(directory, 'train.parquet'), test: join(directory, 'test.parquet') };
    const generated = await timed(() =>
      withDuckDb(async ({ connection }) => {
        await connection.run('SELECT setseed(0.42)');
        await connection.run(`CREATE TABLE t AS SELECT i,
            random() * 2 - 1 AS x0, random() * 2 - 1 AS x1, random() * 2 - 1 AS x2,
            random() * 2 - 1 AS x3, random() * 10 AS x4, CAST(floor(random() * 1000) AS BIGINT) AS x5,
            ['red', 'green', 'blue'][1 + CAST(floor(random() * 3) AS INTEGER)] AS colour
          FROM range(${TRAIN_ROWS + TEST_ROWS}) r(i)`);
        await connection.run(`CREATE TABLE d AS SELECT *,
            CASE WHEN x0 * x0 + x1 * x1 < 0.5 THEN 'inner' WHEN x2 + (colour = 'red')::INTEGER * 0.5 > 0 THEN 'right' ELSE 'left' END AS kind,
            3 * sin(3 * x0) + x1 * x1 + 0.1 * x4 + 0.001 * x5 + (random() - 0.5) * 0.2 AS target FROM t`);
        await connection.run(
          `COPY (SELECT * EXCLUDE (i) FROM d WHERE i < ${TRAIN_ROWS}) TO '${paths.train}' (FORMAT parquet)`,
        );
        await connection.run(
          `COPY (SELECT * EXCLUDE (i) FROM d WHERE i >= ${TRAIN_ROWS}) TO '${paths.test}' (FORMAT parquet)`,
        );
      }),
    );
    say(`generate ${TRAIN_ROWS + TEST_ROWS} rows to Parquet (DuckDB): ${generated.ms.toFixed(0)} ms`);
    const put = async (path: string): Promise<ArtifactRef> => {
      const { readFileSync } = await import('node:fs');
      return store.put(readFileSync(path), { type: 'dataset', metadata: { format: 'parquet' } });
    };
    const train = await put(paths.train);
    const test = await put(paths.test);
    const outputs: Record<string, Record<string, JsonValue>> = {};
    for (const label of ['kind', 'target']) {
      const features = await timed(() =>
        runFeatures(
          { train, test, label, numeric: ['x0', 'x1', 'x2', 'x3', 'x4', 'x5'], categorical: ['colour'] },
          context('features'),
        ),
      );
      say(`features@1 (label ${label}): ${TRAIN_ROWS} train + ${TEST_ROWS} test rows: ${times(features)}`);
      outputs[label] = features.value.outputs;
    }
    const floor = await timed(() =>
      withDuckDb(async (session) => {
        const transformed = parseArtifactRef(outputs.kind?.train);
        return readMatrix(
          session.connection,
          parquetSource(fileURLToPath(transformed.uri)),
          outputs.kind?.features as string[],
        );
      }),
    );
    say(`baseline: read the ${TRAIN_ROWS} × 9 training matrix from Parquet: ${times(floor)}`);
    const models: Record<string, JsonValue> = {};
    const signatures: Record<string, { signatureInputs: JsonValue; signatureOutputs: JsonValue }> = {};
    for (const [name, label, algorithm, hyperparameters] of [
      ['softmax', 'kind', 'softmax-regression', {}],
      ['forest', 'kind', 'random-forest', {}],
      ['forest-regression', 'target', 'random-forest', {}],
      ['ridge', 'target', 'ridge-regression', {}],
    ] as const) {
      const features = outputs[label] ?? {};
      const trained = await timed(() =>
        runTrain(
          { train: features.train ?? null, transform: features.transform ?? null, algorithm, hyperparameters, seed: 1 },
          context('train'),
        ),
      );
      models[name] = trained.value.outputs.model ?? null;
      signatures[name] = {
        signatureInputs: trained.value.outputs.signatureInputs ?? null,
        signatureOutputs: trained.value.outputs.signatureOutputs ?? null,
      };
      const evaluated = await timed(() => runEvaluate({ model: models[name] ?? null, test }, context('evaluate')));
      const figures = Object.entries(evaluated.value.metrics ?? {})
        .filter(([key]) => ['accuracy', 'macroF1', 'rocAuc', 'rmse', 'r2'].includes(key))
        .map(([key, value]) => `${key} ${value.toFixed(3)}`)
        .join(', ');
      const size = parseArtifactRef(models[name]).size;
      say(
        `train@2 ${name}: ${times(trained)} (model ${(size / 1024).toFixed(0)} KiB); evaluate@2 on ${TEST_ROWS} rows: ${times(evaluated)}; ${figures}`,
      );
    }

    // 2. Serving.
    await trackRunningPipeline(tracker, 'bench-ml', 'bench-ml');
    const testRows = await withDuckDb(async ({ connection }) =>
      (await connection.runAndReadAll(`SELECT * FROM read_parquet('${paths.test}') LIMIT 1000`))
        .getRowObjectsJS()
        .map((row) =>
          Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
        ),
    );
    for (const name of ['softmax', 'forest']) {
      await registerModel(
        {
          model: models[name] ?? null,
          ...signatures[name],
          name: `bench-${name}`,
          alias: 'champion',
          fileName: 'model.json',
        },
        context(`register-${name}`),
      );
      const deployed = await runDeploy({ model: `bench-${name}@champion` }, context(`deploy-${name}`));
      const url = deployed.outputs.url as string;
      const compiled: CompiledModel = compileModel(
        await getJson(store, parseArtifactRef(models[name]), modelDocumentSchema, 'model'),
      );
      // node:http with keep-alive: Node's fetch costs about 1 ms of client CPU per call (docs/benchmarks.md), which
      // would be measured as server latency.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const target = new URL(`${url}/predict`);
      const post = (rows: Record<string, unknown>[]): Promise<void> =>
        new Promise((resolve, reject) => {
          const body = JSON.stringify({ dataframe_records: rows });
          const call = request(
            {
              host: target.hostname,
              port: target.port,
              path: target.pathname,
              method: 'POST',
              agent,
              headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
            },
            (response) => {
              const chunks: Buffer[] = [];
              response.on('data', (chunk: Buffer) => chunks.push(chunk));
              response.on('end', () =>
                response.statusCode === 200
                  ? resolve()
                  : reject(new Error(`predict: HTTP ${response.statusCode ?? 0}: ${Buffer.concat(chunks).toString()}`)),
              );
              response.on('error', reject);
            },
          );
          call.on('error', reject);
          call.end(body);
        });
      for (let i = 0; i < 200; i += 1) await post([testRows[i % testRows.length] ?? {}]); // warm-up
      const single: number[] = [];
      const singleInProcess: number[] = [];
      for (let i = 0; i < SINGLE_REQUESTS; i += 1) {
        const row = testRows[i % testRows.length] ?? {};
        let start = performance.now();
        await post([row]);
        single.push(performance.now() - start);
        start = performance.now();
        predictRecords(compiled, [row]);
        singleInProcess.push(performance.now() - start);
      }
      const batch: number[] = [];
      const batchInProcess: number[] = [];
      for (let i = 0; i < BATCH_REQUESTS; i += 1) {
        let start = performance.now();
        await post(testRows);
        batch.push(performance.now() - start);
        start = performance.now();
        predictRecords(compiled, testRows);
        batchInProcess.push(performance.now() - start);
      }
      const show = (what: string, figures: ReturnType<typeof summary>): void =>
        say(
          `${what}: p50 ${figures.p50.toFixed(3)} ms, p99 ${figures.p99.toFixed(3)} ms, ${figures.rowsPerSecond.toFixed(0)} rows/s`,
        );
      show(`/predict ${name}, 1 row (HTTP, mloe serve process)`, summary(single, 1));
      show(`  baseline ${name} predict in-process, 1 row`, summary(singleInProcess, 1));
      show(`/predict ${name}, 1,000 rows (HTTP)`, summary(batch, testRows.length));
      show(`  baseline ${name} predict in-process, 1,000 rows`, summary(batchInProcess, testRows.length));
      agent.destroy();
      await stopDeployment(directory, `bench-${name}@champion`);
    }
  } finally {
    await mlflow.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
