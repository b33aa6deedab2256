/**
 * The columnar data steps (`ingest@2`, `validate@2`, `split@1`) called through their registered implementations, as
 * `runStep` calls them: generated CSV and Parquet files, the penguins JSON, an object on a real S3-compatible server
 * (s3rver), a URL on a local HTTP server; the datasets read back with DuckDB; and bad data and bad inputs, each error
 * naming the file, column or rule. One pipeline runs through the real worker (its S3 settings reach ingest@2); the
 * Python example's pipeline is test/penguins-sklearn.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';

import {
  FileArtifactStore,
  getText,
  parseS3StoreConfig,
  s3ClientConfig,
  type ArtifactRef,
} from '../activities/artifacts';
import { withSqlSession } from '../activities/ml/data/engine';
import { fmix32, splitDataset } from '../activities/ml/data/split';
import { BUILTIN_STEP_IMPLEMENTATIONS, type StepContext, type StepOutput } from '../activities/steps';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { MloeError } from '../core/errors';
import type { JsonValue } from '../core/spec';
import { startPipelineTestWorker } from './pipeline-harness';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';

jest.setTimeout(120_000);

const PENGUINS = join(__dirname, '..', 'node_modules', 'vega-datasets', 'data', 'penguins.json');
const BUCKET = 'ml-data';

type Row = Record<string, unknown>;

/** Rows of a local file (Parquet or CSV) as DuckDB reads them, JSON-converted. */
async function readRows(path: string, format: 'parquet' | 'csv' = 'parquet'): Promise<Row[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = format === 'parquet' ? `read_parquet('${path}')` : `read_csv('${path}', header = true)`;
    return (await connection.runAndReadAll(`SELECT * FROM ${reader}`)).getRowObjectsJson();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('the columnar data steps', () => {
  let directory: string;
  let store: FileArtifactStore;
  let s3: S3TestServer;
  let http: Server;
  let httpBase: string;
  let csvPath: string;
  let parquetPath: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-ml-data-'));
    store = new FileArtifactStore({ root: join(directory, 'store') });
    await mkdir(join(directory, 'data'));
    // 200 rows: an id, a measurement (NA in row 7), a class (a: 100, b: 60, c: 40), a date, and a note.
    const lines = ['id,value,class,day,note'];
    for (let i = 0; i < 200; i += 1) {
      const value = i === 6 ? 'NA' : (i * 1.5).toFixed(1);
      const label = i < 100 ? 'a' : i < 160 ? 'b' : 'c';
      const day = new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10);
      lines.push(`${i},${value},${label},${day},row ${i}`);
    }
    csvPath = join(directory, 'data', 'table.csv');
    await writeFile(csvPath, `${lines.join('\n')}\n`);
    parquetPath = join(directory, 'data', 'table.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(
      `COPY (SELECT i AS id, (i * 0.5)::DOUBLE AS x, ['p', 'q'][1 + (i % 2)::INTEGER] AS label FROM range(1000) t(i)) ` +
        `TO '${parquetPath}' (FORMAT parquet)`,
    );
    connection.closeSync();
    instance.closeSync();

    s3 = await startS3Server({ buckets: [BUCKET] });
    const client = new S3Client(
      s3ClientConfig(parseS3StoreConfig({ endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS })),
    );
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/table.csv', Body: await readFile(csvPath) }));
    client.destroy();

    http = createServer((request, response) => {
      if (request.url === '/data/penguins.json') {
        void readFile(PENGUINS).then((body) => {
          response.writeHead(200, { 'content-type': 'application/json', etag: '"penguins-1"' });
          response.end(request.method === 'HEAD' ? undefined : body);
        });
        return;
      }
      response.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => http?.close(resolve));
    await s3?.stop();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  function context(): StepContext {
    return {
      stepId: 'step',
      workflowId: 'ml-data-test',
      store,
      workingDir: directory,
      attempt: 1,
      signal: new AbortController().signal,
      s3: { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS },
    };
  }

  function step(uses: string) {
    const implementation = BUILTIN_STEP_IMPLEMENTATIONS.get(uses);
    if (implementation === undefined) throw new Error(`no ${uses}`);
    return implementation;
  }

  const run = (uses: string, inputs: Record<string, JsonValue>): Promise<StepOutput> =>
    step(uses).run(inputs, context());

  /** The error a step fails with. */
  async function failure(uses: string, inputs: Record<string, JsonValue>): Promise<MloeError> {
    const error = await run(uses, inputs).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    if (!(error instanceof MloeError)) throw new Error(`expected an MloeError, got ${String(error)}`);
    return error;
  }

  const ref = (output: StepOutput, name: string): ArtifactRef => output.outputs[name] as unknown as ArtifactRef;
  const pathOf = (artifact: ArtifactRef): string => store.locate(artifact).path;

  async function ingest(inputs: Record<string, JsonValue>): Promise<ArtifactRef> {
    return ref(await run('ingest@2', inputs), 'dataset');
  }

  describe('ingest@2', () => {
    it('reads a CSV (relative path) into Parquet with types, rows, schema, the source digest and NULL markers', async () => {
      const output = await run('ingest@2', { source: 'data/table.csv', nullValues: ['NA'] });
      const dataset = ref(output, 'dataset');
      expect(output.outputs.rows).toBe(200);
      expect(output.outputs.droppedRows).toBe(0);
      expect(output.outputs.schema).toEqual([
        { name: 'id', type: 'BIGINT' },
        { name: 'value', type: 'DOUBLE' },
        { name: 'class', type: 'VARCHAR' },
        { name: 'day', type: 'DATE' },
        { name: 'note', type: 'VARCHAR' },
      ]);
      const bytes = await readFile(csvPath);
      expect(output.outputs.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      expect(dataset.type).toBe('dataset');
      expect(dataset.metadata).toMatchObject({ format: 'parquet', rows: 200, source: csvPath, sourceFormat: 'csv' });
      expect((await readFile(pathOf(dataset))).subarray(0, 4).toString('latin1')).toBe('PAR1');
      const rows = await readRows(pathOf(dataset));
      expect(rows).toHaveLength(200);
      expect(rows[6]).toMatchObject({ id: '6', value: null, class: 'a', day: '2024-01-07' });
      expect(rows[199]).toMatchObject({ id: '199', value: 298.5, class: 'c' });

      // The same bytes give the same artifact; the cache key follows the file's content.
      expect((await ingest({ source: `file://${csvPath}`, nullValues: ['NA'] })).digest).toBe(dataset.digest);
      const cacheInputs = await step('ingest@2').cacheInputs?.({ source: 'data/table.csv' }, context());
      expect(cacheInputs).toEqual({ source: output.outputs.digest });
    });

    it('reads Parquet written by DuckDB, and drops rows with missing values on request', async () => {
      const output = await run('ingest@2', { source: parquetPath });
      expect(output.outputs.rows).toBe(1000);
      expect(output.outputs.schema).toEqual([
        { name: 'id', type: 'BIGINT' },
        { name: 'x', type: 'DOUBLE' },
        { name: 'label', type: 'VARCHAR' },
      ]);
      const dropped = await run('ingest@2', { source: csvPath, nullValues: ['NA'], dropNulls: ['value'] });
      expect(dropped.outputs).toMatchObject({ rows: 199, droppedRows: 1 });
    });

    it('reads the penguins JSON, with "." as NULL and incomplete rows dropped (333 of 344)', async () => {
      const all = await run('ingest@2', { source: PENGUINS });
      expect(all.outputs.rows).toBe(344);
      const clean = await run('ingest@2', { source: PENGUINS, nullValues: ['.'], dropIncomplete: true });
      expect(clean.outputs).toMatchObject({ rows: 333, droppedRows: 11 });
      const sexes = new Set((await readRows(pathOf(ref(clean, 'dataset')))).map((row) => row.Sex));
      expect([...sexes].sort()).toEqual(['FEMALE', 'MALE']);
    });

    it('reads an s3:// object with the worker S3 settings, and an http:// URL', async () => {
      const fromS3 = await run('ingest@2', { source: `s3://${BUCKET}/raw/table.csv`, nullValues: ['NA'] });
      expect(fromS3.outputs.rows).toBe(200);
      expect(ref(fromS3, 'dataset').metadata).toMatchObject({ source: `s3://${BUCKET}/raw/table.csv` });
      expect((await ingest({ source: csvPath, nullValues: ['NA'] })).digest).toBe(ref(fromS3, 'dataset').digest);
      expect(await step('ingest@2').cacheInputs?.({ source: `s3://${BUCKET}/raw/table.csv` }, context())).toEqual({
        source: expect.stringMatching(/^s3\|/) as unknown,
      });

      const fromHttp = await run('ingest@2', { source: `${httpBase}/data/penguins.json` });
      expect(fromHttp.outputs.rows).toBe(344);
      expect(await step('ingest@2').cacheInputs?.({ source: `${httpBase}/data/penguins.json` }, context())).toEqual({
        source: expect.stringContaining('"penguins-1"') as unknown,
      });
    });

    it('fails clearly: unknown scheme, unknown format, missing file or object, 404, traversal, bad column', async () => {
      const scheme = await failure('ingest@2', { source: 'ftp://example.com/data.csv' });
      expect(scheme.code).toBe('CONFIG_INVALID');
      expect(scheme.message).toMatch(/unsupported scheme "ftp:".*s3:\/\/bucket\/key/);

      await writeFile(join(directory, 'data', 'sheet.xlsx'), 'x');
      const format = await failure('ingest@2', { source: 'data/sheet.xlsx' });
      expect(format.code).toBe('CONFIG_INVALID');
      expect(format.message).toContain('"sheet.xlsx"');
      expect(format.message).toContain('set the format input to one of csv, json, parquet');

      expect((await failure('ingest@2', { source: 'data/nope.csv' })).code).toBe('ARTIFACT_NOT_FOUND');
      const object = await failure('ingest@2', { source: `s3://${BUCKET}/raw/nope.csv` });
      expect(object.code).toBe('ARTIFACT_NOT_FOUND');
      expect(object.message).toContain(`s3://${BUCKET}/raw/nope.csv`);
      const missing = await failure('ingest@2', { source: `${httpBase}/data/nope.csv` });
      expect(missing.code).toBe('ARTIFACT_NOT_FOUND');
      expect(missing.message).toContain('HTTP 404');

      expect((await failure('ingest@2', { source: 'file:///tmp/../etc/passwd.csv' })).code).toBe('PATH_INVALID');

      const column = await failure('ingest@2', { source: csvPath, dropNulls: ['price'] });
      expect(column.code).toBe('CONFIG_INVALID');
      expect(column.message).toContain('dropNulls names column "price"');
      expect(column.message).toContain('"value"');
    });

    it('fails on malformed and empty files, naming the file, not retryably', async () => {
      const broken = join(directory, 'data', 'broken.json');
      await writeFile(broken, '[{"a": 1}, {"a": ');
      const json = await failure('ingest@2', { source: broken });
      expect(json.code).toBe('DATA_INVALID');
      expect(json.retryable).toBe(false);
      expect(json.message).toContain(`reading ${broken} as json`);
      expect(json.message).toMatch(/Malformed JSON/);

      const fake = join(directory, 'data', 'fake.parquet');
      await writeFile(fake, 'not parquet at all');
      const parquet = await failure('ingest@2', { source: fake });
      expect(parquet.code).toBe('DATA_INVALID');
      expect(parquet.message).toContain(fake);

      const empty = join(directory, 'data', 'empty.csv');
      await writeFile(empty, '');
      const nothing = await failure('ingest@2', { source: empty });
      expect(nothing.code).toBe('DATA_INVALID');
      expect(nothing.message).toContain(`${empty} is empty`);
    });
  });

  describe('validate@2', () => {
    let table: ArtifactRef;
    beforeAll(async () => {
      table = await ingest({ source: csvPath, nullValues: ['NA'] });
    });

    it('passes a dataset that meets its expectations and writes the per-column report', async () => {
      const output = await run('validate@2', {
        dataset: table,
        expectations: {
          rows: { min: 100, max: 1000 },
          columns: {
            id: { type: 'integer', unique: true, min: 0, max: 199 },
            value: { type: 'number', maxNullShare: 0.01 },
            class: { type: 'string', values: ['a', 'b', 'c'] },
            day: { type: 'date', min: '2024-01-01' },
          },
        },
      });
      expect(output.outputs.rows).toBe(200);
      expect((output.outputs.dataset as unknown as ArtifactRef).digest).toBe(table.digest);
      const report = JSON.parse(await getText(store, ref(output, 'report'))) as {
        passed: boolean;
        columns: {
          name: string;
          nulls: number;
          min: unknown;
          max: unknown;
          rules: { rule: string; passed: boolean }[];
        }[];
      };
      expect(report.passed).toBe(true);
      const value = report.columns.find((column) => column.name === 'value');
      expect(value).toMatchObject({ nulls: 1, min: 0, max: 298.5 });
      expect(value?.rules.map((rule) => rule.rule)).toEqual(['type', 'maxNullShare']);
      expect(report.columns.find((column) => column.name === 'day')).toMatchObject({ min: '2024-01-01' });
    });

    it('fails naming column, rule, observed value and example rows, not retryably, with the report', async () => {
      const error = await failure('validate@2', {
        dataset: table,
        expectations: {
          columns: {
            price: { type: 'number' },
            note: { type: 'number' },
            value: { min: 10 },
            class: { values: ['a', 'b'] },
            day: { unique: true, type: 'date' },
          },
        },
      });
      expect(error.code).toBe('DATA_INVALID');
      expect(error.retryable).toBe(false);
      const message = error.message;
      expect(message).toMatch(/report: file:\/\/.*\/sha256\//);
      expect(message).toContain('column "price": rule required: expected the column to exist');
      expect(message).toContain('column "note": rule type: expected type number, observed VARCHAR; e.g. row 1');
      expect(message).toContain('"note":"row 0"');
      expect(message).toContain(
        'column "value": rule maxNullShare: expected at most 0% missing (NULL or NaN), observed 0.5% (1 of 200 rows); e.g. row 7',
      );
      expect(message).toContain(
        'column "value": rule min: expected values >= 10, observed min 0 (6 rows out of range)',
      );
      expect(message).toContain(
        'column "class": rule values: expected one of ["a","b"], observed 40 rows with other values; e.g. row 161',
      );
      expect(message).not.toContain('column "day"');
    });

    it('fails on NaN, an empty dataset, duplicates, and rejects malformed expectations', async () => {
      const nan = join(directory, 'data', 'nan.csv');
      await writeFile(nan, 'k,x\n1,1.5\n2,nan\n2,2.5\n');
      const withNan = await ingest({ source: nan });
      const error = await failure('validate@2', {
        dataset: withNan,
        expectations: { columns: { x: { type: 'number' }, k: { unique: true } } },
      });
      expect(error.message).toContain('column "x": rule maxNullShare');
      expect(error.message).toContain('row 2 {"x":"NaN"');
      expect(error.message).toContain(
        'column "k": rule unique: expected unique values, observed 1 rows repeat a value of an earlier row; e.g. row 2',
      );

      const header = join(directory, 'data', 'header-only.csv');
      await writeFile(header, 'k,x\n');
      const empty = await failure('validate@2', {
        dataset: await ingest({ source: header }),
        expectations: {},
      });
      expect(empty.message).toContain('dataset: rule rows.min: expected at least 1 rows, observed 0');

      const typo = await failure('validate@2', {
        dataset: table,
        expectations: { columns: { x: { maxNull: 0.1 } } },
      });
      expect(typo.code).toBe('CONFIG_INVALID');
      expect(typo.message).toContain('expectations.columns.x');
      expect(typo.message).toContain('maxNull');
    });
  });

  describe('through the pipeline worker', () => {
    it('reads an s3:// source with the worker S3 settings and stops at validate@2 on bad data', async () => {
      const taskQueue = `mloe-ml-data-${process.pid}-${Date.now()}`;
      const worker = await startPipelineTestWorker({
        taskQueue,
        artifactStore: { s3: { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS } },
      });
      try {
        const spec = (maxValue: number) => ({
          apiVersion: 'mloe.dev/v1',
          kind: 'Pipeline',
          metadata: { name: 'ml-data-s3' },
          steps: {
            ingest: { uses: 'ingest@2', with: { source: `s3://${BUCKET}/raw/table.csv`, nullValues: ['NA'] } },
            validate: {
              uses: 'validate@2',
              needs: ['ingest'],
              with: {
                dataset: '${{ steps.ingest.outputs.dataset }}',
                expectations: { columns: { value: { type: 'number', max: maxValue, maxNullShare: 0.01 } } },
              },
            },
          },
        });
        const run = async (maxValue: number) => {
          const started = await startPipeline(worker.env.client, {
            spec: spec(maxValue),
            artifactRoot: directory,
            workingDir: directory,
            taskQueue,
          });
          return waitForPipeline(started.handle, { pollIntervalMs: 100 });
        };
        const good = await run(1000);
        expect(good.status.state).toBe('completed');
        expect(good.status.steps.find((step) => step.id === 'ingest')?.outputs).toMatchObject({ rows: 200 });

        const bad = await run(100);
        expect(bad.status.state).toBe('failed');
        const validate = bad.status.steps.find((step) => step.id === 'validate');
        expect(validate?.attempts).toBe(1);
        expect(validate?.error).toContain('column "value": rule max: expected values <= 100, observed max 298.5');
      } finally {
        await worker.stop();
      }
    });
  });

  describe('the SQL engine', () => {
    it('interrupts a running query when the step is cancelled, and refuses to start once it is', async () => {
      const controller = new AbortController();
      const endless = withSqlSession((session) => session.rows('SELECT count(*) FROM range(10000000000000)'), {
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 100);
      await expect(endless).rejects.toThrow(/interrupt/i);
      await expect(
        splitDataset(store, await ingest({ source: parquetPath }), {
          mode: 'random',
          testFraction: 0.2,
          seed: 1,
          format: 'parquet',
          engine: { signal: AbortSignal.abort() },
        }),
      ).rejects.toThrow(/abort/i);
    });
  });

  describe('split@1', () => {
    let table: ArtifactRef;
    let big: ArtifactRef;
    beforeAll(async () => {
      table = await ingest({ source: csvPath, nullValues: ['NA'] });
      big = await ingest({ source: parquetPath });
    });

    const ids = async (artifact: ArtifactRef, format: 'parquet' | 'csv' = 'parquet'): Promise<number[]> =>
      (await readRows(pathOf(artifact), format)).map((row) => Number(row.id));

    it('random: exact sizes, disjoint and complete, file order kept, the same for a seed whatever the threads', async () => {
      const output = await run('split@1', { dataset: big, seed: 42, testFraction: 0.25 });
      expect(output.outputs).toMatchObject({ trainRows: 750, testRows: 250 });
      const train = await ids(ref(output, 'train'));
      const test = await ids(ref(output, 'test'));
      expect([...train, ...test].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(test).toEqual([...test].sort((a, b) => a - b));
      expect(ref(output, 'test').metadata).toMatchObject({ format: 'parquet', rows: 250, split: 'test', seed: 42 });

      const options = { mode: 'random', testFraction: 0.25, seed: 42, format: 'parquet' } as const;
      const one = await splitDataset(store, big, { ...options, engine: { threads: 1 } });
      const four = await splitDataset(store, big, { ...options, engine: { threads: 4 } });
      expect(one.test.digest).toBe(ref(output, 'test').digest);
      expect(four.test.digest).toBe(ref(output, 'test').digest);
      const other = await splitDataset(store, big, { ...options, seed: 43 });
      expect(other.test.digest).not.toBe(ref(output, 'test').digest);
      expect(fmix32(1)).toBe(0x514e28b7); // MurmurHash3's finaliser, as documented
    });

    it('stratified: each class in proportion, seeded; CSV output for consumers without Parquet', async () => {
      const output = await run('split@1', {
        dataset: table,
        mode: 'stratified',
        by: 'class',
        seed: 7,
        format: 'csv',
      });
      expect(output.outputs).toMatchObject({ trainRows: 160, testRows: 40 });
      const test = await readRows(pathOf(ref(output, 'test')), 'csv');
      const count = (label: string) => test.filter((row) => row.class === label).length;
      expect([count('a'), count('b'), count('c')]).toEqual([20, 12, 8]);
      const text = await getText(store, ref(output, 'train'));
      expect(text.split('\n')[0]).toBe('id,value,class,day,note');
      expect(ref(output, 'train').metadata).toMatchObject({
        format: 'csv',
        rows: 160,
        mode: 'stratified',
        by: 'class',
      });
      // The steps read CSV datasets too (typed again on reading).
      const checked = await run('validate@2', {
        dataset: output.outputs.train ?? null,
        expectations: { rows: { min: 160, max: 160 }, columns: { id: { type: 'integer', unique: true } } },
      });
      expect(checked.outputs.rows).toBe(160);
    });

    it('temporal: train before the cutoff, test at or after it; by quantile without one', async () => {
      const output = await run('split@1', {
        dataset: table,
        mode: 'temporal',
        by: 'day',
        cutoff: '2024-06-01',
      });
      const train = await readRows(pathOf(ref(output, 'train')));
      const test = await readRows(pathOf(ref(output, 'test')));
      expect(train.every((row) => String(row.day) < '2024-06-01')).toBe(true);
      expect(test.every((row) => String(row.day) >= '2024-06-01')).toBe(true);
      expect(output.outputs).toMatchObject({ trainRows: 152, testRows: 48 });

      const byQuantile = await run('split@1', { dataset: table, mode: 'temporal', by: 'id' });
      // quantile_disc(id, 0.8) over 0..199 is 159: ids 159 and above test.
      expect(byQuantile.outputs).toMatchObject({ trainRows: 159, testRows: 41 });
      expect(ref(byQuantile, 'test').metadata).toMatchObject({ cutoff: '159' });
    });

    it('fails clearly: one class, a class of one row, a missing column, NULL labels, bad cutoff and options', async () => {
      const one = join(directory, 'data', 'one-class.csv');
      await writeFile(one, 'x,label\n1,a\n2,a\n3,a\n');
      const single = await failure('split@1', {
        dataset: await ingest({ source: one }),
        mode: 'stratified',
        by: 'label',
      });
      expect(single.code).toBe('DATA_INVALID');
      expect(single.message).toContain(
        'column "label": rule stratified split: expected at least 2 classes, observed 1 (["a"])',
      );

      const lonely = join(directory, 'data', 'lonely.csv');
      await writeFile(lonely, 'x,label\n1,a\n2,a\n3,b\n');
      const small = await failure('split@1', {
        dataset: await ingest({ source: lonely }),
        mode: 'stratified',
        by: 'label',
      });
      expect(small.message).toContain('every class needs at least 2 rows');
      expect(small.message).toContain('"b" with 1');

      const absent = await failure('split@1', {
        dataset: table,
        mode: 'stratified',
        by: 'kind',
      });
      expect(absent.code).toBe('DATA_INVALID');
      expect(absent.message).toContain('column "kind" (split by) does not exist');

      const nulls = await failure('split@1', {
        dataset: table,
        mode: 'stratified',
        by: 'value',
      });
      expect(nulls.message).toContain('column "value": rule stratified split: expected no missing values, observed 1');

      const cutoff = await failure('split@1', {
        dataset: table,
        mode: 'temporal',
        by: 'day',
        cutoff: 'next tuesday',
      });
      expect(cutoff.code).toBe('CONFIG_INVALID');
      expect(cutoff.message).toContain('cutoff "next tuesday" is not a value of column "day" (DATE)');

      const late = await failure('split@1', {
        dataset: table,
        mode: 'temporal',
        by: 'day',
        cutoff: '2030-01-01',
      });
      expect(late.message).toContain('the test split is empty');

      expect((await failure('split@1', { dataset: table, mode: 'stratified' })).message).toContain(
        'needs the column to split by',
      );
      expect((await failure('split@1', { dataset: table, testFraction: 1 })).message).toContain(
        'testFraction must be between 0 and 1',
      );
      expect((await failure('split@1', { dataset: table, mode: 'shuffle' })).message).toContain('input mode');
    });
  });
});
