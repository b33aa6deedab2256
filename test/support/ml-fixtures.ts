/**
 * Fixtures of the model-step tests: Parquet files written with DuckDB, the penguins data split 80/20 per species
 * (seeded), artifacts for them, a step context for calling step implementations directly, and the tracked pipeline
 * run their steps' MLflow runs and model versions hang off.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { DuckDBInstance } from '@duckdb/node-api';

import type { ArtifactRef, ArtifactStore } from '../../activities/artifacts';
import { seededRandom } from '../../activities/ml/models/random';
import type { StepContext } from '../../activities/steps';
import { trackPipelineRun, type MlflowRunLink, type MlflowTracker } from '../../activities/tracking';

/** Runs SQL statements in a fresh in-memory DuckDB. */
export async function duck(...statements: string[]): Promise<Record<string, unknown>[][]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const results: Record<string, unknown>[][] = [];
    for (const sql of statements) results.push((await connection.runAndReadAll(sql)).getRowObjectsJS());
    return results;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Writes `rows` (JSON objects) as a Parquet file at `path`, column types as DuckDB infers them from JSON. */
export async function writeRowsParquet(path: string, rows: readonly Record<string, unknown>[]): Promise<void> {
  const json = `${path}.json`;
  await writeFile(json, rows.map((row) => JSON.stringify(row)).join('\n'));
  await duck(
    `COPY (SELECT * FROM read_json_auto('${json}', format='newline_delimited')) TO '${path}' (FORMAT parquet)`,
  );
}

/** Reads a Parquet file's rows (BigInt integers as numbers). */
export async function readParquetRows(path: string): Promise<Record<string, unknown>[]> {
  const [rows = []] = await duck(`SELECT * FROM read_parquet('${path}')`);
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value]),
    ),
  );
}

/** Puts a local Parquet file into the store as a dataset. */
export async function putDataset(store: ArtifactStore, path: string): Promise<ArtifactRef> {
  return store.put(readFileSync(path), { type: 'dataset', metadata: { format: 'parquet' } });
}

/** The penguins of vega-datasets without incomplete rows. */
export function penguins(): Record<string, unknown>[] {
  const all = JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'node_modules', 'vega-datasets', 'data', 'penguins.json'), 'utf8'),
  ) as Record<string, unknown>[];
  return all.filter((row) => Object.values(row).every((value) => value !== null && value !== undefined));
}

/** A seeded stratified split: `share` of each label's rows (shuffled) to train, the rest to test. */
export function stratifiedSplit<T extends Record<string, unknown>>(
  rows: readonly T[],
  label: string,
  share: number,
  seed: number,
): { train: T[]; test: T[] } {
  const random = seededRandom(seed);
  const groups = new Map<unknown, T[]>();
  for (const row of rows) groups.set(row[label], [...(groups.get(row[label]) ?? []), row]);
  const train: T[] = [];
  const test: T[] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = [...(groups.get(key) ?? [])];
    for (let i = group.length - 1; i > 0; i -= 1) {
      const j = random.int(i + 1);
      [group[i], group[j]] = [group[j] as T, group[i] as T];
    }
    const cut = Math.round(group.length * share);
    train.push(...group.slice(0, cut));
    test.push(...group.slice(cut));
  }
  return { train, test };
}

/** Penguins train and test Parquet files in `directory` (seeded, stratified 80/20). */
export async function penguinFiles(
  directory: string,
  seed = 7,
): Promise<{ train: string; test: string; testRows: Record<string, unknown>[] }> {
  const { train, test } = stratifiedSplit(penguins(), 'Species', 0.8, seed);
  const paths = { train: join(directory, 'penguins-train.parquet'), test: join(directory, 'penguins-test.parquet') };
  await writeRowsParquet(paths.train, train);
  await writeRowsParquet(paths.test, test);
  return { ...paths, testRows: test };
}

/** A step context for calling an implementation directly. */
export function stepContext(
  store: ArtifactStore,
  workingDir: string,
  tracking?: MlflowTracker,
  stepId = 'step',
): StepContext {
  return {
    stepId,
    workflowId: `ml-test-${process.pid}`,
    store,
    workingDir,
    attempt: 1,
    signal: new AbortController().signal,
    pipeline: 'ml-test',
    ...(tracking === undefined ? {} : { tracking }),
  };
}

/**
 * A running pipeline run, tracked as `recordRun` tracks its start (no steps yet, a placeholder spec hash): the MLflow
 * run that step runs and registered model versions of `workflowId` hang off. Its Temporal run id is `temporalRunId`.
 */
export function trackRunningPipeline(
  tracker: MlflowTracker,
  pipeline: string,
  workflowId: string,
  temporalRunId = 'r',
): Promise<MlflowRunLink> {
  return trackPipelineRun(
    tracker,
    {
      pipeline,
      workflowId,
      specHash: 'sha256:00',
      state: 'running',
      params: {},
      startedAt: new Date().toISOString(),
      steps: [],
    },
    { temporalRunId, firstExecutionRunId: temporalRunId, namespace: 'default' },
  );
}
