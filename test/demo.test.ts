/**
 * The demo pipeline (`pipelines/demo/pipeline.yaml`) at two levels: the code of its steps (artifact store, validation,
 * featurization, least squares), called directly and through the `runStep` activity in a `MockActivityEnvironment`,
 * and `mloe demo` as a user runs it. Its code-first form runs in `test/code-first.test.ts`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';

import { FileArtifactStore, getBytes, getText, type ArtifactRef } from '../activities/artifacts';
import { createMlflowClient, mlflowConfig } from '../activities/mlflow';
import { featurizeInto, ingestInto } from '../activities/data';
import { fitOls } from '../activities/linear-model';
import { runStep, type RunStepResult } from '../activities/steps';
import { evaluateInto, trainInto } from '../activities/training';
import { MloeError } from '../core/errors';
import type { JsonValue } from '../core/spec';
import { HOUSING_DATA, HOUSING_SPEC } from './support/examples';
import { rejectionOf, thrownBy } from './support/rejection';
import { suiteTemporaryDirectories } from './temporary-directories';

/** A step's duration in the summary table: `443 ms` below a second, `1.8 s` above (a loaded machine gets there). */
const DURATION = String.raw`(?:\d+ ms|\d+\.\d s)`;

const COLUMNS = ['sqft', 'bedrooms', 'age_years', 'distance_km', 'price_k'];

/** A fresh temporary directory, removed after the suite. */
const temporaryDirectory = suiteTemporaryDirectories('mloe-demo-test-');

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const ignore = (): void => undefined;
/** A logger that drops everything. */
const silentLogger = { log: ignore, trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore };

/**
 * Runs a built-in step as the workers run it: the `runStep` activity in a `MockActivityEnvironment`, with the file
 * store in `<root>/.mloe/artifacts` and the cache off (every call executes the step).
 */
function runBuiltinStep(root: string, uses: string, inputs: Record<string, JsonValue>): Promise<RunStepResult> {
  // The failures these tests provoke are asserted, not logged.
  return new MockActivityEnvironment(undefined, { logger: silentLogger }).run(runStep, {
    stepId: uses.replace(/@.*/, ''),
    workflowId: 'demo-test',
    firstExecutionRunId: 'demo-test-run',
    pipeline: 'housing-price',
    uses,
    inputs,
    params: {},
    outputs: {},
    artifactStore: FileArtifactStore.inWorkingDirectory(root).root,
    workingDir: root,
    noCache: 'the test',
  });
}

/** The ApplicationFailure an activity call rejected with, checked to be non-retryable with the given code. */
async function nonRetryableFailure(promise: Promise<unknown>, code: string): Promise<ApplicationFailure> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(ApplicationFailure);
  expect(error).toMatchObject({ type: code, nonRetryable: true });
  return error as ApplicationFailure;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so synthetic data is the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** CSV text in the demo's schema. */
function csv(rows: (string | number)[][], header: string[] = COLUMNS): string {
  return `${[header, ...rows].map((row) => row.join(',')).join('\n')}\n`;
}

describe('artifact store', () => {
  it('stores bytes content-addressed under .mloe/artifacts/sha256/<prefix>/<sha256>, idempotently', async () => {
    const root = await temporaryDirectory();
    const store = FileArtifactStore.inWorkingDirectory(root);
    const bytes = Buffer.from('sqft,price_k\n1000,200\n');
    const digest = sha256(bytes);

    const ref = await store.put(bytes, { type: 'dataset' });
    const path = join(root, '.mloe', 'artifacts', 'sha256', digest.slice(0, 2), digest);
    expect(ref).toEqual({
      uri: pathToFileURL(path).href,
      digest: `sha256:${digest}`,
      size: bytes.byteLength,
      type: 'dataset',
      metadata: {},
      createdAt: ref.createdAt, // when it was stored: checked in test/artifacts.test.ts
    });
    expect(ref.uri).toMatch(/^file:\/\/\//);
    expect(sha256(await readFile(path))).toBe(digest);
    expect(await store.put(bytes, { type: 'dataset' })).toEqual(ref);
    expect(await getBytes(store, ref)).toEqual(bytes);
  });

  it('detects a corrupted artifact on read, and a later put of the same bytes repairs it', async () => {
    const root = await temporaryDirectory();
    const store = FileArtifactStore.inWorkingDirectory(root);
    const ref = await store.put(csv([[1000, 2, 10, 5, 200]]));
    await writeFile(fileURLToPath(ref.uri), csv([[1000, 2, 10, 5, 999]])); // same size, different bytes

    const error = await rejectionOf(getBytes(store, ref));
    expect(error).toBeInstanceOf(MloeError);
    expect(error).toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    expect((error as MloeError).message).toContain(`expected ${ref.digest}`);
    // The step reports it as a non-retryable failure: retrying the read cannot bring the bytes back.
    await nonRetryableFailure(
      runBuiltinStep(root, 'validate@1', { dataset: ref, columns: COLUMNS, label: 'x' }),
      'ARTIFACT_CORRUPT',
    );

    await store.put(csv([[1000, 2, 10, 5, 200]]));
    await expect(getBytes(store, ref)).resolves.toHaveLength(ref.size);
  });

  it('rejects artifact URIs that are not exactly the store location of their digest', async () => {
    const root = await temporaryDirectory();
    const store = FileArtifactStore.inWorkingDirectory(root);
    const ref = await store.put('hello');
    const hex = ref.digest.slice('sha256:'.length);
    const elsewhere = await FileArtifactStore.inWorkingDirectory(await temporaryDirectory()).put('hello');
    const rejected: ArtifactRef[] = [
      { ...ref, uri: `${ref.uri.replace(/\/[^/]+\/[^/]+$/, '')}/../../../../../../etc/passwd` },
      { ...ref, uri: `file://${root}/.mloe/artifacts/sha256/${hex.slice(0, 2)}/%2e%2e/%2e%2e/${hex}` },
      { ...ref, uri: elsewhere.uri },
      { ...ref, uri: `https://example.com/${ref.digest}` },
      { ...ref, uri: 'not a uri' },
      { ...ref, digest: '../../etc/passwd' },
    ];
    for (const bad of rejected) {
      const error = await rejectionOf(getBytes(store, bad));
      expect(error).toMatchObject({ code: 'PATH_INVALID' });
    }
  });

  it('rejects relative and traversing roots and data paths, in the store and in the ingest step', async () => {
    const root = await temporaryDirectory();
    for (const badRoot of ['relative/root', `${root}/../escape`, '']) {
      expect(thrownBy(() => FileArtifactStore.inWorkingDirectory(badRoot))).toMatchObject({ code: 'PATH_INVALID' });
    }
    const store = FileArtifactStore.inWorkingDirectory(root);
    await expect(ingestInto(store, { dataPath: 'housing.csv' })).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(ingestInto(store, { dataPath: `${root}/../../etc/passwd` })).rejects.toMatchObject({
      code: 'PATH_INVALID',
    });
    await nonRetryableFailure(
      runBuiltinStep(root, 'ingest@1', { dataPath: `${root}/../../etc/passwd` }),
      'PATH_INVALID',
    );
  });

  it('refuses to follow a symbolic link planted at an artifact location', async () => {
    const root = await temporaryDirectory();
    const store = FileArtifactStore.inWorkingDirectory(root);
    const bytes = Buffer.from('secret');
    const outside = join(await temporaryDirectory(), 'secret.txt');
    await writeFile(outside, bytes);
    const path = store.pathOf(sha256(bytes));
    await mkdir(resolve(path, '..'), { recursive: true });
    await symlink(outside, path);

    const ref = { uri: pathToFileURL(path).href, digest: `sha256:${sha256(bytes)}`, size: bytes.byteLength };
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
  });
});

describe('ingest and validate steps', () => {
  /** Ingests CSV text written to a temporary file and validates it against the demo columns; the outputs. */
  async function ingestAndValidate(text: string): Promise<Record<string, JsonValue>> {
    const root = await temporaryDirectory();
    const dataPath = join(root, 'input.csv');
    await writeFile(dataPath, text);
    const { outputs } = await runBuiltinStep(root, 'ingest@1', { dataPath });
    const validated = await runBuiltinStep(root, 'validate@1', {
      dataset: outputs.dataset ?? null,
      columns: COLUMNS,
      label: 'input.csv',
    });
    return validated.outputs;
  }

  it('ingests the demo data as an artifact with the file sha256, and profiles it', async () => {
    const root = await temporaryDirectory();
    const { dataset } = (await runBuiltinStep(root, 'ingest@1', { dataPath: HOUSING_DATA })).outputs;
    const ref = dataset as unknown as ArtifactRef;
    expect(ref.digest).toBe(`sha256:${sha256(await readFile(HOUSING_DATA))}`);
    expect(ref).toMatchObject({ type: 'dataset', metadata: { source: HOUSING_DATA } });

    const { outputs } = await runBuiltinStep(root, 'validate@1', {
      dataset: dataset ?? null,
      columns: COLUMNS,
      label: 'housing.csv',
    });
    expect(outputs.rows).toBe(400);
    expect(outputs.dataset).toEqual(dataset);
    const reportRef = outputs.report as unknown as ArtifactRef;
    const report = JSON.parse(await getText(FileArtifactStore.inWorkingDirectory(root), reportRef)) as {
      columns: { name: string; min: number; max: number }[];
    };
    expect(report.columns.map((column) => column.name)).toEqual(COLUMNS);
    expect(report.columns[0]).toMatchObject({ name: 'sqft', min: 650, max: 3500 });
  });

  it('names row, line and column of missing and non-numeric values, without retries', async () => {
    const failure = await nonRetryableFailure(
      ingestAndValidate(
        csv([
          [1000, 2, 10, 5.5, 200],
          [1200, '', 10, 5.5, 210],
          [1300, 3, 'old', 5.5, 'NaN'],
        ]),
      ),
      'DATA_INVALID',
    );
    expect(failure.message).toContain('input.csv failed validation (3 problems)');
    expect(failure.message).toContain('row 2 (line 3), column "bedrooms": missing value');
    expect(failure.message).toContain('row 3 (line 4), column "age_years": "old" is not a number');
    expect(failure.message).toContain('row 3 (line 4), column "price_k": "NaN" is not a number');
    // The data issues, as the first of the step failure's own details.
    expect(failure.details?.[0]).toMatchObject({
      attempt: 1,
      details: [
        [
          { row: 2, line: 3, column: 'bedrooms' },
          { row: 3, line: 4, column: 'age_years' },
          { row: 3, line: 4, column: 'price_k' },
        ],
      ],
    });
  });

  it('reports missing and unexpected columns and rows with the wrong number of fields', async () => {
    const header = await nonRetryableFailure(
      ingestAndValidate(csv([[1000, 2, 10, 200]], ['sqft', 'bedrooms', 'age', 'price_k'])),
      'DATA_INVALID',
    );
    expect(header.message).toContain('missing column "age_years"');
    expect(header.message).toContain('missing column "distance_km"');
    expect(header.message).toContain('unexpected column "age"');

    const ragged = await nonRetryableFailure(ingestAndValidate(csv([[1000, 2, 10, 5.5, 200, 7]])), 'DATA_INVALID');
    expect(ragged.message).toContain('row 1 (line 2): expected 5 fields, found 6');
  });

  it('accepts columns in any order, CRLF line endings and blank lines', async () => {
    const text = 'price_k,sqft,bedrooms,age_years,distance_km\r\n200,1000,2,10,5.5\r\n\r\n210,1100,2,12,6\r\n';
    await expect(ingestAndValidate(text)).resolves.toMatchObject({ rows: 2 });
  });

  it('fails ingest of a missing file with ARTIFACT_NOT_FOUND', async () => {
    const root = await temporaryDirectory();
    await nonRetryableFailure(
      runBuiltinStep(root, 'ingest@1', { dataPath: join(root, 'missing.csv') }),
      'ARTIFACT_NOT_FOUND',
    );
  });
});

describe('featurize, train and evaluate', () => {
  const features = ['x1', 'x2', 'x3'];
  const truth = { intercept: 12, coefficients: [2.5, -4, 0.75] };

  /** Synthetic rows `y = 12 + 2.5·x1 - 4·x2 + 0.75·x3 + noise`, features on different scales. */
  function syntheticCsv(rows: number, noise: number): string {
    const random = seededRandom(42);
    const lines: number[][] = [];
    for (let i = 0; i < rows; i += 1) {
      const x = [random() * 100, random() * 10 - 5, random() * 1000];
      const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const y = truth.coefficients.reduce((sum, beta, j) => sum + beta * (x[j] ?? 0), truth.intercept);
      lines.push([...x, y + noise * gaussian]);
    }
    return csv(lines, [...features, 'y']);
  }

  async function fitSynthetic(rows: number, noise: number) {
    const root = await temporaryDirectory();
    const store = FileArtifactStore.inWorkingDirectory(root);
    const dataset = await store.put(syntheticCsv(rows, noise), { type: 'dataset' });
    const split = await featurizeInto(store, { dataset, features, target: 'y', testFraction: 0.25 });
    const model = await trainInto(store, { train: split.train, scaler: split.scaler });
    const metrics = await evaluateInto(store, { model: model.model, test: split.test });
    return { store, dataset, split, model, metrics };
  }

  it('recovers known coefficients exactly from noiseless data (R² = 1)', async () => {
    const { model, metrics } = await fitSynthetic(200, 0);
    expect(model.intercept).toBeCloseTo(truth.intercept, 8);
    features.forEach((name, j) => expect(model.coefficients[name]).toBeCloseTo(truth.coefficients[j] ?? NaN, 10));
    expect(metrics.rmse).toBeLessThan(1e-8);
    expect(metrics.r2).toBeCloseTo(1, 12);
  });

  it('recovers known coefficients from noisy data within their standard error', async () => {
    const { model, metrics } = await fitSynthetic(2000, 1);
    expect(model.intercept).toBeCloseTo(truth.intercept, 0);
    expect(model.coefficients.x1).toBeCloseTo(2.5, 2);
    expect(model.coefficients.x2).toBeCloseTo(-4, 1);
    expect(model.coefficients.x3).toBeCloseTo(0.75, 3);
    expect(metrics.rmse).toBeGreaterThan(0.9);
    expect(metrics.rmse).toBeLessThan(1.1);
  });

  it('splits deterministically by row hash and standardises with training statistics only', async () => {
    const { store, dataset, split } = await fitSynthetic(400, 1);
    const again = await featurizeInto(store, { dataset, features, target: 'y', testFraction: 0.25 });
    expect(again).toEqual(split);
    expect(split.trainRows + split.testRows).toBe(400);
    expect(split.testRows).toBeGreaterThan(60);
    expect(split.testRows).toBeLessThan(140);

    const trainRows = (await getText(store, split.train))
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(',').map(Number));
    const firstFeature = trainRows.map((row) => row[0] ?? NaN);
    const mean = firstFeature.reduce((sum, value) => sum + value, 0) / firstFeature.length;
    const variance = firstFeature.reduce((sum, value) => sum + (value - mean) ** 2, 0) / firstFeature.length;
    expect(mean).toBeCloseTo(0, 10);
    expect(variance).toBeCloseTo(1, 10);
  });

  it('fails with MODEL_FIT_FAILED on collinear features', () => {
    const x = [1, 2, 3, 4, 5, 6].map((value) => [value, 2 * value]);
    expect(thrownBy(() => fitOls(x, [1, 2, 3, 4, 5, 6]))).toMatchObject({ code: 'MODEL_FIT_FAILED' });
  });
});

describe('mloe demo', () => {
  const execFileAsync = promisify(execFile);
  const BIN = resolve(__dirname, '..', 'bin', 'mloe.js');
  const RUN_ID = '[0-9A-HJKMNP-TV-Z]{26}';

  /** The served model's state file, and whether its process is still alive. */
  async function servedProcessAlive(artifactRoot: string): Promise<boolean> {
    const directory = join(artifactRoot, '.mloe', 'serving');
    const states = (await readdir(directory).catch(() => [])).filter((name) => name.endsWith('.json'));
    for (const name of states) {
      const { pid } = JSON.parse(await readFile(join(directory, name), 'utf8')) as { pid: number };
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        // gone
      }
    }
    return false;
  }

  it("runs the whole loop, serves the champion and asks it; a second demo meets the first one's champion", async () => {
    const artifactRoot = await temporaryDirectory();
    const { stdout } = await execFileAsync(BIN, ['demo', '--artifact-root', artifactRoot], {
      cwd: tmpdir(),
      timeout: 120_000,
    });
    expect(stdout).toMatch(/dev server running at 127\.0\.0\.1:\d+/);
    expect(stdout).toMatch(new RegExp(`started penguins-${RUN_ID} \\(pipelines/penguins/pipeline\\.yaml\\)`));
    for (const step of ['ingest', 'validate', 'split', 'features', 'train']) {
      expect(stdout).toMatch(new RegExp(`^${step} +completed +${DURATION} +miss +1$`, 'm'));
    }
    for (const step of ['evaluate', 'register', 'deploy']) {
      expect(stdout).toMatch(new RegExp(`^${step} +completed +${DURATION} +off +1$`, 'm'));
    }
    // Held-out accuracy of at least 0.95, with no champion to meet: registered, promoted under the demo's identity.
    const accuracy = Number(/^ {2}accuracy (\d\.\d{3}) ·/m.exec(stdout)?.[1]);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    expect(stdout).toContain('champion: nothing is registered as models:/penguins@champion');
    expect(stdout).toContain('→ registered as version 1 and promoted to champion (approved by mloe-demo: ');
    expect(stdout).toMatch(/^promotion promote: penguins version 1 → champion: promoted \(approved by mloe-demo/m);
    // The served champion's answers: one penguin of each species.
    expect(stdout).toMatch(
      /^\$ curl -X POST http:\/\/127\.0\.0\.1:\d+\/predict {2}\(models:\/penguins\/1, 3 penguins\)$/m,
    );
    expect(stdout).toMatch(/^ {2}Torgersen, .* → Adelie \(p = [01]\.\d\d\)$/m);
    expect(stdout).toMatch(/^ {2}Dream, .* → Chinstrap \(p = [01]\.\d\d\)$/m);
    expect(stdout).toMatch(/^ {2}Biscoe, .*sex unknown +→ Gentoo \(p = [01]\.\d\d\)$/m);
    // Tracked in the embedded MLflow server, whose database outlives the command.
    const mlflowUrl =
      /MLflow tracking server \(embedded, in SQLite (\S+)\) running at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
    expect(mlflowUrl?.[1]).toBe(join(artifactRoot, '.mloe', 'demo.mlflow.db'));
    expect(stdout).toMatch(new RegExp(`^MLflow run {3}penguins-${RUN_ID} {2}FINISHED {2}http://\\S+$`, 'm'));
    expect(stdout).toContain(
      `  model      models:/penguins/1  ${mlflowUrl?.[2] ?? ''}/api/2.0/mlflow/model-versions/get?name=penguins&version=1`,
    );
    expect(stdout).toMatch(/^\$ mloe models versions penguins\nversion .*\n1 +\S+ +champion +[0-9a-f]{32} +penguins-/m);
    expect(await servedProcessAlive(artifactRoot)).toBe(false);

    // Again in the same directory: the same candidate (from the cache) meets the first run's champion, does not beat
    // it, and the champion keeps serving.
    const again = await execFileAsync(BIN, ['demo', '--artifact-root', artifactRoot], {
      cwd: tmpdir(),
      timeout: 120_000,
    });
    for (const step of ['ingest', 'validate', 'split', 'features', 'train']) {
      expect(again.stdout).toMatch(new RegExp(`^${step} +completed +${DURATION} +hit +1$`, 'm'));
    }
    expect(again.stdout).toMatch(/^register +skipped +- +- +0$/m);
    expect(again.stdout).toMatch(/^promote +skipped +- +- +0$/m);
    expect(again.stdout).toContain('champion (version 1, the same model) on the same penguins:');
    expect(again.stdout).toContain('→ not registered: it does not beat the champion, which stays in production');
    expect(again.stdout).toMatch(/\(models:\/penguins\/1, 3 penguins\)$/m);
    expect(again.stdout).toMatch(/^1 +\S+ +champion +[0-9a-f]{32} +penguins-/m);
    expect(again.stdout).not.toMatch(/^2 +\S+/m);
    expect(await servedProcessAlive(artifactRoot)).toBe(false);
  }, 300_000);

  it('tracks where MLFLOW_TRACKING_URI says, and another seed trains another candidate', async () => {
    const artifactRoot = await temporaryDirectory();
    const tracking = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
    const { stdout } = await execFileAsync(BIN, ['demo', '--artifact-root', artifactRoot, '--seed', '7'], {
      cwd: tmpdir(),
      timeout: 120_000,
      env: { ...process.env, MLFLOW_TRACKING_URI: tracking },
    });
    expect(stdout).toContain(`tracking in MLflow at ${tracking} (MLFLOW_TRACKING_URI)`);
    expect(stdout).not.toContain('(embedded');
    const workflowId = new RegExp(`started (penguins-${RUN_ID})`).exec(stdout)?.[1] ?? '';
    const registry = createMlflowClient(mlflowConfig({ trackingUri: tracking }));
    const run = await registry.runs.search({
      experimentIds: (await registry.experiments.search({})).items.map((experiment) => experiment.experimentId),
      filter: `tags.\`mloe.workflowId\` = '${workflowId}'`,
    });
    expect(run.items.map((item) => item.data.params.find((param) => param.key === 'seed')?.value)).toContain('7');
  }, 300_000);

  it('runs the housing-price example pipeline with mloe run', async () => {
    const artifactRoot = await temporaryDirectory();
    const { stdout } = await execFileAsync(
      BIN,
      ['run', HOUSING_SPEC, '--artifact-root', artifactRoot, '-p', `dataPath=${HOUSING_DATA}`],
      { cwd: artifactRoot, timeout: 120_000 },
    );
    for (const step of ['ingest', 'validate', 'featurize', 'train', 'evaluate']) {
      expect(stdout).toMatch(new RegExp(`^${step} +completed +${DURATION} +miss +1$`, 'm'));
    }
    expect(stdout).toMatch(new RegExp(`^register +completed +${DURATION} +off +1$`, 'm'));
    expect(stdout).toMatch(new RegExp(`^housing-price-${RUN_ID} completed in `, 'm'));
  }, 300_000);

  it('exits 1 with the failing step, code, column and rule on bad data', async () => {
    const artifactRoot = await temporaryDirectory();
    const dataPath = join(artifactRoot, 'bad.csv');
    const header = [
      'Species',
      'Island',
      'Beak Length (mm)',
      'Beak Depth (mm)',
      'Flipper Length (mm)',
      'Body Mass (g)',
      'Sex',
    ];
    await writeFile(dataPath, csv([['Adelie', 'Torgersen', 39.1, 18.7, 181, 'heavy', 'MALE']], header));
    const error = await rejectionOf(
      execFileAsync(BIN, ['demo', '--data', dataPath, '--artifact-root', artifactRoot], {
        cwd: tmpdir(),
        timeout: 120_000,
      }),
    );
    expect(error).toMatchObject({ code: 1 });
    const { stderr } = error as { stderr: string };
    expect(stderr).toMatch(new RegExp(`penguins-${RUN_ID} failed: step validate failed: DATA_INVALID`));
    expect(stderr).toContain('column "Body Mass (g)": rule type: expected type number');
    expect(stderr).not.toContain('    at '); // one clear message, no stack traces
  }, 300_000);
});
