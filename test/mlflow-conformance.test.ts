/**
 * MLflow REST conformance: the typed client (activities/mlflow) drives an MLflow server through every call it
 * offers, and each test checks what MLflow documents (its protos, REST docs and the behaviour of MLflow's own
 * server), error cases included. The same suite judges every implementation:
 *
 * - a real MLflow when `MLFLOW_TRACKING_URI` is set (`pip install mlflow && mlflow server --port 5000`, then
 *   `MLFLOW_TRACKING_URI=http://127.0.0.1:5000 npx jest test/mlflow-conformance.test.ts`; README, "MLflow
 *   conformance");
 * - otherwise the embedded server (infra/mlflow) that jest's globalSetup starts and publishes in
 *   `MLFLOW_TEST_TRACKING_URI`.
 *
 * With neither, every test fails with a message saying so. Names carry a random suffix, so the suite can run again
 * and again against a long-lived server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { z } from 'zod';

import {
  MlflowError,
  collect,
  createMlflowClient,
  mlflowConfig,
  mlflowConfigFromEnv,
  type MlflowClient,
  type Run,
} from '../activities/mlflow';

/** The server under test: a real MLflow first, else the embedded one from globalSetup. */
function target(): { url: string; source: string } | undefined {
  const real = process.env.MLFLOW_TRACKING_URI;
  if (real !== undefined && real !== '') return { url: real, source: 'MLFLOW_TRACKING_URI' };
  const embedded = process.env.MLFLOW_TEST_TRACKING_URI;
  if (embedded !== undefined && embedded !== '') return { url: embedded, source: 'MLFLOW_TEST_TRACKING_URI' };
  return undefined;
}

let mlflow: MlflowClient;
const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
/** A name unique to this run of the suite. */
const unique = (name: string): string => `mloe-conf-${name}-${suffix}`;

beforeAll(() => {
  const server = target();
  if (server === undefined) {
    throw new Error(
      'No MLflow server to test: set MLFLOW_TRACKING_URI to a real MLflow (see README, "MLflow conformance"), or let ' +
        "jest's globalSetup start the embedded server (it publishes MLFLOW_TEST_TRACKING_URI).",
    );
  }
  const retry = { maxRetries: 2, backoffBaseMs: 200, backoffJitterMs: 100 };
  const config =
    server.source === 'MLFLOW_TRACKING_URI'
      ? { ...mlflowConfigFromEnv(process.env), retry: { ...mlflowConfigFromEnv(process.env).retry, ...retry } }
      : mlflowConfig({ trackingUri: server.url, timeoutMs: 30_000, retry });
  mlflow = createMlflowClient(config);
});

/** The MlflowError a call fails with (any other outcome fails the test). */
async function failure(promise: Promise<unknown>): Promise<MlflowError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MlflowError) return error;
    throw error;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

/** Expects an MLflow error code (and HTTP status when given), as MLflow's server answers it. */
async function expectError(promise: Promise<unknown>, errorCode: string, httpStatus?: number): Promise<MlflowError> {
  const error = await failure(promise);
  expect({ errorCode: error.errorCode, httpStatus: error.httpStatus }).toEqual({
    errorCode,
    httpStatus: httpStatus ?? error.httpStatus,
  });
  return error;
}

async function newExperiment(name: string, tags?: Record<string, string>): Promise<string> {
  return mlflow.experiments.create({ name: unique(name), ...(tags === undefined ? {} : { tags }) });
}

async function newRun(experimentId: string, runName = 'run', tags?: Record<string, string>): Promise<Run> {
  return mlflow.runs.create({ experimentId, runName, ...(tags === undefined ? {} : { tags }) });
}

const tagMap = (tags: readonly { key: string; value: string }[]): Record<string, string> =>
  Object.fromEntries(tags.map((tag) => [tag.key, tag.value]));

describe('experiments', () => {
  it('creates an experiment with tags and reads it back by id and by name', async () => {
    const name = unique('create');
    const before = Date.now();
    const id = await mlflow.experiments.create({ name, tags: { team: 'ml', 'mloe.kind': 'test' } });
    const experiment = await mlflow.experiments.get(id);
    expect(experiment).toMatchObject({ experimentId: id, name, lifecycleStage: 'active' });
    expect(experiment.artifactLocation).not.toBe('');
    expect(tagMap(experiment.tags)).toMatchObject({ team: 'ml', 'mloe.kind': 'test' });
    expect(experiment.creationTime).toBeGreaterThanOrEqual(before - 60_000);
    expect(await mlflow.experiments.getByName(name)).toEqual(experiment);
  });

  it('refuses a second experiment with the same name: RESOURCE_ALREADY_EXISTS', async () => {
    const name = unique('duplicate');
    await mlflow.experiments.create({ name });
    await expectError(mlflow.experiments.create({ name }), 'RESOURCE_ALREADY_EXISTS', 400);
  });

  it('answers RESOURCE_DOES_NOT_EXIST for a missing id or name', async () => {
    await expectError(mlflow.experiments.get('987654321'), 'RESOURCE_DOES_NOT_EXIST', 404);
    await expectError(mlflow.experiments.getByName(unique('missing')), 'RESOURCE_DOES_NOT_EXIST', 404);
    expect(await mlflow.experiments.findByName(unique('missing'))).toBeUndefined();
  });

  it('refuses an empty experiment name: INVALID_PARAMETER_VALUE', async () => {
    await expectError(mlflow.experiments.create({ name: '' }), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('renames an experiment; the old name is then free', async () => {
    const id = await newExperiment('rename-from');
    const newName = unique('rename-to');
    await mlflow.experiments.rename(id, newName);
    expect((await mlflow.experiments.get(id)).name).toBe(newName);
    expect((await mlflow.experiments.getByName(newName)).experimentId).toBe(id);
    await expectError(mlflow.experiments.getByName(unique('rename-from')), 'RESOURCE_DOES_NOT_EXIST', 404);
  });

  it('sets and overwrites experiment tags', async () => {
    const id = await newExperiment('tags');
    await mlflow.experiments.setTag(id, 'owner', 'ada');
    await mlflow.experiments.setTag(id, 'owner', 'grace');
    await mlflow.experiments.setTag(id, 'note', '');
    expect(tagMap((await mlflow.experiments.get(id)).tags)).toMatchObject({ owner: 'grace', note: '' });
  });

  it('keeps a deleted experiment (and its name), takes its runs with it, refuses new runs until restored', async () => {
    const name = unique('deleted');
    const id = await mlflow.experiments.create({ name });
    const run = await newRun(id);
    await mlflow.experiments.delete(id);

    expect((await mlflow.experiments.get(id)).lifecycleStage).toBe('deleted');
    expect((await mlflow.experiments.getByName(name)).lifecycleStage).toBe('deleted');
    expect((await mlflow.runs.get(run.info.runId)).info.lifecycleStage).toBe('deleted');
    await expectError(mlflow.experiments.create({ name }), 'RESOURCE_ALREADY_EXISTS', 400);
    await expectError(mlflow.runs.create({ experimentId: id }), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.experiments.ensure({ name }), 'INVALID_PARAMETER_VALUE');

    const active = await collect(mlflow.experiments.searchAll({ filter: `name = '${name}'` }));
    expect(active).toEqual([]);
    const deleted = await collect(
      mlflow.experiments.searchAll({ filter: `name = '${name}'`, viewType: 'DELETED_ONLY' }),
    );
    expect(deleted.map((experiment) => experiment.experimentId)).toEqual([id]);

    await mlflow.experiments.restore(id);
    expect((await mlflow.experiments.get(id)).lifecycleStage).toBe('active');
    expect((await mlflow.runs.get(run.info.runId)).info.lifecycleStage).toBe('active');
    expect((await newRun(id)).info.experimentId).toBe(id);
  });

  it('ensure() returns the existing experiment or creates it once', async () => {
    const name = unique('ensure');
    const created = await mlflow.experiments.ensure({ name, tags: { a: '1' } });
    const again = await mlflow.experiments.ensure({ name });
    expect(again.experimentId).toBe(created.experimentId);
    expect(tagMap(created.tags)).toMatchObject({ a: '1' });
  });

  it('searches with filters on name and tags, order_by, and page tokens', async () => {
    const prefix = unique('search');
    for (const [index, letter] of ['c', 'a', 'e', 'b', 'd'].entries()) {
      await mlflow.experiments.create({
        name: `${prefix}-${letter}`,
        tags: { parity: index % 2 === 0 ? 'even' : 'odd' },
      });
    }
    const first = await mlflow.experiments.search({
      filter: `name LIKE '${prefix}-%'`,
      orderBy: ['name DESC'],
      maxResults: 2,
    });
    expect(first.items.map((experiment) => experiment.name)).toEqual([`${prefix}-e`, `${prefix}-d`]);
    expect(first.nextPageToken).toEqual(expect.any(String));

    const all = await collect(
      mlflow.experiments.searchAll({ filter: `name LIKE '${prefix}-%'`, orderBy: ['name DESC'], maxResults: 2 }),
    );
    expect(all.map((experiment) => experiment.name.slice(-1))).toEqual(['e', 'd', 'c', 'b', 'a']);

    const even = await collect(
      mlflow.experiments.searchAll({
        filter: `name LIKE '${prefix}-%' AND tags.parity = 'even'`,
        orderBy: ['name ASC'],
      }),
    );
    expect(even.map((experiment) => experiment.name.slice(-1))).toEqual(['c', 'd', 'e']);

    const insensitive = await collect(
      mlflow.experiments.searchAll({ filter: `name ILIKE '${prefix.toUpperCase()}-A'` }),
    );
    expect(insensitive.map((experiment) => experiment.name)).toEqual([`${prefix}-a`]);

    const none = await mlflow.experiments.search({ filter: `name = '${prefix}-none'` });
    expect(none).toEqual({ items: [] });
  });
});

describe('runs', () => {
  let experimentId: string;
  beforeAll(async () => {
    experimentId = await newExperiment('runs');
  });

  it('creates a run and reads it back', async () => {
    const startTime = Date.now() - 5_000;
    const created = await mlflow.runs.create({
      experimentId,
      runName: 'train',
      startTime,
      tags: { 'mlflow.source.name': 'pipeline.yaml', stage: 'train' },
    });
    expect(created.info).toMatchObject({
      experimentId,
      runName: 'train',
      status: 'RUNNING',
      startTime,
      lifecycleStage: 'active',
    });
    expect(created.info.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(created.info.artifactUri).toContain(created.info.runId);
    expect(created.info.endTime).toBeUndefined();
    const read = await mlflow.runs.get(created.info.runId);
    expect(read.info).toEqual(created.info);
    expect(tagMap(read.data.tags)).toMatchObject({ 'mlflow.source.name': 'pipeline.yaml', stage: 'train' });
  });

  it('answers RESOURCE_DOES_NOT_EXIST for a missing run', async () => {
    await expectError(mlflow.runs.get('0123456789abcdef0123456789abcdef'), 'RESOURCE_DOES_NOT_EXIST', 404);
    await expectError(
      mlflow.runs.logParam('0123456789abcdef0123456789abcdef', 'k', 'v'),
      'RESOURCE_DOES_NOT_EXIST',
      404,
    );
  });

  it('updates status, end time and name', async () => {
    const run = await newRun(experimentId, 'before');
    const endTime = Date.now();
    const info = await mlflow.runs.update(run.info.runId, { status: 'FAILED', endTime, runName: 'after' });
    expect(info).toMatchObject({ runId: run.info.runId, status: 'FAILED', endTime, runName: 'after' });
    expect((await mlflow.runs.get(run.info.runId)).info).toMatchObject({ status: 'FAILED', endTime, runName: 'after' });
    const finished = await mlflow.runs.terminate(run.info.runId);
    expect(finished.status).toBe('FINISHED');
  });

  it('deletes and restores a run; deleted runs are searched only when asked for', async () => {
    const run = await newRun(experimentId, 'to-delete', { marker: 'delete-me' });
    await mlflow.runs.delete(run.info.runId);
    expect((await mlflow.runs.get(run.info.runId)).info.lifecycleStage).toBe('deleted');
    const filter = "tags.marker = 'delete-me'";
    expect((await mlflow.runs.search({ experimentIds: [experimentId], filter })).items).toEqual([]);
    const deleted = await mlflow.runs.search({ experimentIds: [experimentId], filter, runViewType: 'DELETED_ONLY' });
    expect(deleted.items.map((found) => found.info.runId)).toEqual([run.info.runId]);
    await mlflow.runs.restore(run.info.runId);
    expect((await mlflow.runs.get(run.info.runId)).info.lifecycleStage).toBe('active');
  });

  it('logs params once: the same value again is fine, another value is INVALID_PARAMETER_VALUE', async () => {
    const run = await newRun(experimentId);
    await mlflow.runs.logParam(run.info.runId, 'alpha', '0.1');
    await mlflow.runs.logParam(run.info.runId, 'alpha', '0.1');
    await expectError(mlflow.runs.logParam(run.info.runId, 'alpha', '0.2'), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(
      mlflow.runs.logBatch(run.info.runId, { params: { alpha: '0.3' } }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
    expect((await mlflow.runs.get(run.info.runId)).data.params).toEqual([{ key: 'alpha', value: '0.1' }]);
  });

  it('sets, overwrites and deletes tags; deleting a missing tag is RESOURCE_DOES_NOT_EXIST', async () => {
    const run = await newRun(experimentId);
    await mlflow.runs.setTag(run.info.runId, 'phase', 'one');
    await mlflow.runs.setTag(run.info.runId, 'phase', 'two');
    await mlflow.runs.setTag(run.info.runId, 'gone', 'soon');
    await mlflow.runs.deleteTag(run.info.runId, 'gone');
    const tags = tagMap((await mlflow.runs.get(run.info.runId)).data.tags);
    expect(tags.phase).toBe('two');
    expect(tags.gone).toBeUndefined();
    await expectError(mlflow.runs.deleteTag(run.info.runId, 'gone'), 'RESOURCE_DOES_NOT_EXIST', 404);
  });

  it("reports a metric's value at its highest step as current, and keeps its whole history", async () => {
    const run = await newRun(experimentId);
    const id = run.info.runId;
    const t = Date.now();
    await mlflow.runs.logMetric(id, { key: 'loss', value: 0.5, step: 5, timestamp: t });
    await mlflow.runs.logMetric(id, { key: 'loss', value: 0.9, step: 1, timestamp: t + 1000 });
    await mlflow.runs.logMetric(id, { key: 'loss', value: 0.7, step: 3, timestamp: t + 2000 });
    const current = (await mlflow.runs.get(id)).data.metrics.find((metric) => metric.key === 'loss');
    expect(current).toEqual({ key: 'loss', value: 0.5, step: 5, timestamp: t });
    const history = await mlflow.runs.metricHistory(id, 'loss');
    expect(history.map((metric) => [metric.step, metric.value]).sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0))).toEqual([
      [1, 0.9],
      [3, 0.7],
      [5, 0.5],
    ]);
  });

  it('breaks ties at the highest step by the latest timestamp, then by the largest value', async () => {
    const run = await newRun(experimentId);
    const id = run.info.runId;
    await mlflow.runs.logBatch(id, {
      metrics: [
        { key: 'by-time', value: 0.3, step: 2, timestamp: 10 },
        { key: 'by-time', value: 0.2, step: 2, timestamp: 20 },
        { key: 'by-time', value: 0.9, step: 1, timestamp: 30 },
        { key: 'by-value', value: 0.4, step: 2, timestamp: 10 },
        { key: 'by-value', value: 0.6, step: 2, timestamp: 10 },
        { key: 'by-value', value: 0.5, step: 2, timestamp: 10 },
      ],
    });
    const current = Object.fromEntries(
      (await mlflow.runs.get(id)).data.metrics.map((metric) => [metric.key, metric.value]),
    );
    expect(current).toEqual({ 'by-time': 0.2, 'by-value': 0.6 });
  });

  it('carries NaN and infinities as metric values', async () => {
    const run = await newRun(experimentId);
    const id = run.info.runId;
    await mlflow.runs.logMetric(id, { key: 'nan', value: Number.NaN, timestamp: 1 });
    await mlflow.runs.logMetric(id, { key: 'inf', value: Number.POSITIVE_INFINITY, timestamp: 1 });
    await mlflow.runs.logBatch(id, { metrics: [{ key: 'neg', value: Number.NEGATIVE_INFINITY, timestamp: 1 }] });
    const metrics = Object.fromEntries(
      (await mlflow.runs.get(id)).data.metrics.map((metric) => [metric.key, metric.value]),
    );
    expect(metrics).toEqual({ nan: Number.NaN, inf: Number.POSITIVE_INFINITY, neg: Number.NEGATIVE_INFINITY });
    expect((await mlflow.runs.metricHistory(id, 'nan')).map((metric) => metric.value)).toEqual([Number.NaN]);
  });

  it('reads every page of a long metric history', async () => {
    const run = await newRun(experimentId);
    const metrics = Array.from({ length: 1500 }, (_, step) => ({
      key: 'acc',
      value: step / 1500,
      step,
      timestamp: 1000 + step,
    }));
    await mlflow.runs.logBatch(run.info.runId, { metrics });
    const history = await mlflow.runs.metricHistory(run.info.runId, 'acc', { pageSize: 400 });
    expect(history.map((metric) => metric.step).sort((a, b) => a - b)).toEqual(metrics.map((metric) => metric.step));
  });

  it('logs a batch larger than MLflow accepts in one request by splitting it', async () => {
    const run = await newRun(experimentId);
    const id = run.info.runId;
    const metrics = Array.from({ length: 2500 }, (_, index) => ({
      key: `m${index % 5}`,
      value: index,
      step: Math.floor(index / 5),
      timestamp: 1_000_000 + index,
    }));
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, index) => [`p${index}`, `${index}`]));
    const tags = Object.fromEntries(Array.from({ length: 150 }, (_, index) => [`t${index}`, `${index}`]));
    expect(await mlflow.runs.logBatch(id, { metrics, params, tags })).toBeGreaterThanOrEqual(3);
    const data = (await mlflow.runs.get(id)).data;
    expect(data.params).toHaveLength(250);
    expect(tagMap(data.tags)).toMatchObject(tags);
    expect(data.metrics.find((metric) => metric.key === 'm4')).toMatchObject({ value: 2499, step: 499 });
    expect(await mlflow.runs.metricHistory(id, 'm0')).toHaveLength(500);
  });

  it("refuses batches over MLflow's limits when sent unsplit: INVALID_PARAMETER_VALUE", async () => {
    const run = await newRun(experimentId);
    const metrics = Array.from({ length: 1001 }, (_, step) => ({ key: 'm', value: step, step, timestamp: 1 }));
    await expectError(
      mlflow.runs.logBatch(run.info.runId, { metrics }, { split: false }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
    const params = Object.fromEntries(Array.from({ length: 101 }, (_, index) => [`p${index}`, 'v']));
    await expectError(
      mlflow.runs.logBatch(run.info.runId, { params }, { split: false }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
    const tags = Object.fromEntries(Array.from({ length: 101 }, (_, index) => [`t${index}`, 'v']));
    await expectError(mlflow.runs.logBatch(run.info.runId, { tags }, { split: false }), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('refuses keys and values MLflow does not accept: INVALID_PARAMETER_VALUE', async () => {
    const run = await newRun(experimentId);
    const id = run.info.runId;
    await expectError(mlflow.runs.logParam(id, 'k'.repeat(300), 'v'), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.runs.logParam(id, 'long', 'v'.repeat(10_000)), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.runs.logMetric(id, { key: '../escape', value: 1 }), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.runs.setTag(id, '/absolute', 'v'), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('refuses logging to a deleted run: INVALID_PARAMETER_VALUE', async () => {
    const run = await newRun(experimentId);
    await mlflow.runs.delete(run.info.runId);
    await expectError(mlflow.runs.logParam(run.info.runId, 'k', 'v'), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('records dataset inputs with their digests and input tags', async () => {
    const run = await newRun(experimentId);
    const dataset = {
      name: 'churn-train',
      digest: 'sha256:0a1b2c',
      sourceType: 'local',
      source: JSON.stringify({ uri: 'file:///data/churn.csv' }),
      schema: JSON.stringify({ mlflow_colspec: [{ name: 'x', type: 'double' }] }),
      profile: JSON.stringify({ num_rows: 100 }),
    };
    await mlflow.runs.logInputs(run.info.runId, [{ dataset, tags: { 'mlflow.data.context': 'training' } }]);
    const inputs = (await mlflow.runs.get(run.info.runId)).inputs.datasetInputs;
    expect(inputs).toEqual([{ dataset, tags: [{ key: 'mlflow.data.context', value: 'training' }] }]);
  });

  describe('search', () => {
    let searchExperiment: string;
    const runs: Record<string, string> = {};
    beforeAll(async () => {
      searchExperiment = await newExperiment('run-search');
      const plan: [string, number, string, string][] = [
        ['r1', 0.9, 'ridge', 'FINISHED'],
        ['r2', 0.3, 'lasso', 'FINISHED'],
        ['r3', 0.5, 'ridge', 'FAILED'],
        ['r4', 0.1, 'forest', 'FINISHED'],
        ['r5', 0.7, 'Ridge-CV', 'RUNNING'],
      ];
      for (const [index, [name, rmse, model, status]] of plan.entries()) {
        const run = await mlflow.runs.create({
          experimentId: searchExperiment,
          runName: name,
          startTime: 1_700_000_000_000 + index * 1000,
          tags: { group: index < 3 ? 'first' : 'second' },
        });
        runs[name] = run.info.runId;
        await mlflow.runs.logBatch(run.info.runId, {
          metrics: [{ key: 'rmse', value: rmse, timestamp: 1 }],
          params: { model },
        });
        if (status !== 'RUNNING') await mlflow.runs.update(run.info.runId, { status: status as 'FINISHED' | 'FAILED' });
      }
    });

    const names = async (filter: string, orderBy?: string[]): Promise<string[]> => {
      const found = await collect(
        mlflow.runs.searchAll({
          experimentIds: [searchExperiment],
          filter,
          ...(orderBy === undefined ? {} : { orderBy }),
        }),
      );
      return found.map((run) => run.info.runName);
    };

    it('filters on metrics, params, tags and attributes, joined with and', async () => {
      expect((await names('metrics.rmse < 0.6')).sort()).toEqual(['r2', 'r3', 'r4']);
      expect((await names("params.model = 'ridge'")).sort()).toEqual(['r1', 'r3']);
      expect((await names("params.model != 'ridge'")).sort()).toEqual(['r2', 'r4', 'r5']);
      expect((await names("tags.group = 'second'")).sort()).toEqual(['r4', 'r5']);
      expect((await names("attributes.status = 'FAILED'")).sort()).toEqual(['r3']);
      expect((await names("attributes.run_name = 'r2'")).sort()).toEqual(['r2']);
      expect((await names("params.model LIKE 'ridge%'")).sort()).toEqual(['r1', 'r3']);
      expect((await names("params.model ILIKE 'ridge%'")).sort()).toEqual(['r1', 'r3', 'r5']);
      expect((await names("metrics.rmse >= 0.5 and params.model = 'ridge'")).sort()).toEqual(['r1', 'r3']);
      expect((await names(`attributes.run_id IN ('${runs.r1 ?? ''}', '${runs.r4 ?? ''}')`)).sort()).toEqual([
        'r1',
        'r4',
      ]);
    });

    it('orders by metrics, params and attributes; start_time DESC by default', async () => {
      expect(await names('', ['metrics.rmse ASC'])).toEqual(['r4', 'r2', 'r3', 'r5', 'r1']);
      expect(await names('', ['metrics.rmse DESC'])).toEqual(['r1', 'r5', 'r3', 'r2', 'r4']);
      expect(await names("tags.group = 'first'", ['params.model DESC', 'attributes.start_time ASC'])).toEqual([
        'r1',
        'r3',
        'r2',
      ]);
      expect(await names('')).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']);
    });

    it('pages through results with max_results and page tokens', async () => {
      const first = await mlflow.runs.search({
        experimentIds: [searchExperiment],
        orderBy: ['metrics.rmse ASC'],
        maxResults: 2,
      });
      expect(first.items.map((run) => run.info.runName)).toEqual(['r4', 'r2']);
      expect(first.nextPageToken).toEqual(expect.any(String));
      const second = await mlflow.runs.search({
        experimentIds: [searchExperiment],
        orderBy: ['metrics.rmse ASC'],
        maxResults: 2,
        pageToken: first.nextPageToken ?? '',
      });
      expect(second.items.map((run) => run.info.runName)).toEqual(['r3', 'r5']);
      const all = await collect(
        mlflow.runs.searchAll({ experimentIds: [searchExperiment], orderBy: ['metrics.rmse ASC'], maxResults: 2 }),
      );
      expect(all.map((run) => run.info.runName)).toEqual(['r4', 'r2', 'r3', 'r5', 'r1']);
      expect(all[0]?.data.metrics).toEqual([{ key: 'rmse', value: 0.1, timestamp: 1, step: 0 }]);
    });

    it('refuses a filter it cannot parse: INVALID_PARAMETER_VALUE', async () => {
      await expectError(
        mlflow.runs.search({ experimentIds: [searchExperiment], filter: 'metrics.rmse <<< 1' }),
        'INVALID_PARAMETER_VALUE',
        400,
      );
    });
  });
});

describe('artifacts through the proxy', () => {
  let runId: string;
  let directory: string;
  beforeAll(async () => {
    runId = (await newRun(await newExperiment('artifacts'))).info.runId;
    directory = await mkdtemp(join(tmpdir(), 'mloe-mlflow-conformance-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('uploads from bytes, a stream and a file, lists directories and downloads to bytes, a stream and a file', async () => {
    const text = 'hello, mlflow\n';
    const blob = randomBytes(256 * 1024);
    const weights = randomBytes(1_500_000);
    const file = join(directory, 'weights.bin');
    await writeFile(file, weights);

    await mlflow.artifacts.uploadBytes({ runId, path: 'notes/readme.txt' }, text);
    await mlflow.artifacts.uploadStream(
      { runId, path: 'data/blob.bin' },
      Readable.from([blob.subarray(0, 1000), blob.subarray(1000)]),
    );
    await mlflow.artifacts.uploadFile({ runId, path: 'model/weights.bin' }, file);
    await mlflow.artifacts.uploadBytes({ runId, path: 'model/nested/MLmodel' }, 'flavors: {}\n');

    const root = await mlflow.artifacts.list({ runId });
    expect(root.map((entry) => [entry.path, entry.isDir]).sort()).toEqual([
      ['data', true],
      ['model', true],
      ['notes', true],
    ]);
    const model = await mlflow.artifacts.list({ runId, path: 'model' });
    expect(model.map((entry) => [entry.path, entry.isDir, entry.fileSize]).sort()).toEqual([
      ['model/nested', true, undefined],
      ['model/weights.bin', false, weights.length],
    ]);
    expect(await mlflow.artifacts.list({ runId, path: 'model/nested' })).toEqual([
      { path: 'model/nested/MLmodel', isDir: false, fileSize: 12 },
    ]);

    expect(Buffer.from(await mlflow.artifacts.downloadBytes({ runId, path: 'notes/readme.txt' })).toString()).toBe(
      text,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of await mlflow.artifacts.downloadStream({ runId, path: 'data/blob.bin' })) {
      chunks.push(chunk as Buffer);
    }
    expect(Buffer.concat(chunks).equals(blob)).toBe(true);
    const copy = join(directory, 'copy.bin');
    await mlflow.artifacts.downloadFile({ runId, path: 'model/weights.bin' }, copy);
    expect((await readFile(copy)).equals(weights)).toBe(true);

    const artifactUri = await mlflow.artifacts.runArtifactUri(runId);
    const viaUri = await mlflow.artifacts.downloadBytes({ uri: `${artifactUri}/notes/readme.txt` });
    expect(Buffer.from(viaUri).toString()).toBe(text);
    const viaRunsUri = await mlflow.artifacts.downloadBytes({ uri: `runs:/${runId}/notes/readme.txt` });
    expect(Buffer.from(viaRunsUri).toString()).toBe(text);
  });

  it('replaces an artifact uploaded again, and lists nothing under a missing directory', async () => {
    await mlflow.artifacts.uploadBytes({ runId, path: 'again.txt' }, 'one');
    await mlflow.artifacts.uploadBytes({ runId, path: 'again.txt' }, 'two');
    expect(Buffer.from(await mlflow.artifacts.downloadBytes({ runId, path: 'again.txt' })).toString()).toBe('two');
    expect(await mlflow.artifacts.list({ runId, path: 'no-such-directory' })).toEqual([]);
  });

  it('fails to download a missing artifact', async () => {
    const error = await failure(mlflow.artifacts.downloadBytes({ runId, path: 'missing.txt' }));
    expect(error.httpStatus).toBeGreaterThanOrEqual(400);
  });
});

describe('model registry', () => {
  let runId: string;
  let artifactUri: string;
  beforeAll(async () => {
    const run = await newRun(await newExperiment('registry'));
    runId = run.info.runId;
    artifactUri = run.info.artifactUri;
  });

  /** A registered model with `versions` versions, each from `s3://models/<name>/<n>`. */
  async function modelWithVersions(name: string, versions: number): Promise<string> {
    const model = unique(name);
    await mlflow.registeredModels.create({ name: model });
    for (let index = 1; index <= versions; index += 1) {
      await mlflow.modelVersions.create({ name: model, source: `s3://models/${model}/${index}`, runId });
    }
    return model;
  }

  it('creates a registered model with tags and a description, and reads it back', async () => {
    const name = unique('model');
    const created = await mlflow.registeredModels.create({ name, tags: { team: 'ml' }, description: 'churn model' });
    expect(created).toMatchObject({ name, description: 'churn model', tags: [{ key: 'team', value: 'ml' }] });
    const read = await mlflow.registeredModels.get(name);
    expect(read).toMatchObject({ name, description: 'churn model', latestVersions: [], aliases: [] });
    expect(read.creationTimestamp).toEqual(expect.any(Number));
  });

  it('refuses a duplicate name (RESOURCE_ALREADY_EXISTS) and answers RESOURCE_DOES_NOT_EXIST for a missing one', async () => {
    const name = unique('dup-model');
    await mlflow.registeredModels.create({ name });
    await expectError(mlflow.registeredModels.create({ name }), 'RESOURCE_ALREADY_EXISTS', 400);
    await expectError(mlflow.registeredModels.get(unique('no-model')), 'RESOURCE_DOES_NOT_EXIST', 404);
    await expectError(
      mlflow.modelVersions.create({ name: unique('no-model'), source: 's3://x/y' }),
      'RESOURCE_DOES_NOT_EXIST',
      404,
    );
  });

  it('updates the description, renames (versions follow), and sets and deletes tags', async () => {
    const name = await modelWithVersions('rename', 1);
    expect((await mlflow.registeredModels.update(name, { description: 'new words' })).description).toBe('new words');
    await mlflow.registeredModels.setTag(name, 'a', '1');
    await mlflow.registeredModels.setTag(name, 'b', '2');
    await mlflow.registeredModels.deleteTag(name, 'a');
    expect(tagMap((await mlflow.registeredModels.get(name)).tags)).toEqual({ b: '2' });

    const newName = unique('renamed');
    expect((await mlflow.registeredModels.rename(name, newName)).name).toBe(newName);
    await expectError(mlflow.registeredModels.get(name), 'RESOURCE_DOES_NOT_EXIST', 404);
    expect((await mlflow.modelVersions.get(newName, 1)).name).toBe(newName);
  });

  it('creates numbered versions, READY, with their source and run', async () => {
    const name = unique('versions');
    await mlflow.registeredModels.create({ name });
    const first = await mlflow.modelVersions.create({
      name,
      source: `${artifactUri}/model`,
      runId,
      tags: { validated: 'true' },
      description: 'first',
    });
    expect(first).toMatchObject({
      name,
      version: '1',
      status: 'READY',
      currentStage: 'None',
      source: `${artifactUri}/model`,
      runId,
      description: 'first',
      tags: [{ key: 'validated', value: 'true' }],
      aliases: [],
    });
    const second = await mlflow.modelVersions.create({ name, source: `runs:/${runId}/model`, runId });
    expect(second.version).toBe('2');
    expect(await mlflow.modelVersions.get(name, '2')).toMatchObject({ version: '2', source: `runs:/${runId}/model` });
    await expectError(mlflow.modelVersions.get(name, 99), 'RESOURCE_DOES_NOT_EXIST', 404);
    const latest = (await mlflow.registeredModels.get(name)).latestVersions;
    expect(latest.map((version) => version.version)).toEqual(['2']);
  });

  it('updates a version, sets and deletes its tags, and gives its download URI', async () => {
    const name = await modelWithVersions('version-edit', 1);
    expect((await mlflow.modelVersions.update(name, 1, { description: 'tuned' })).description).toBe('tuned');
    await mlflow.modelVersions.setTag(name, 1, 'k', 'v');
    await mlflow.modelVersions.setTag(name, 1, 'gone', 'x');
    await mlflow.modelVersions.deleteTag(name, 1, 'gone');
    expect((await mlflow.modelVersions.get(name, 1)).tags).toEqual([{ key: 'k', value: 'v' }]);
    expect(await mlflow.modelVersions.getDownloadUri(name, 1)).toBe(`s3://models/${name}/1`);
  });

  it('refuses a local path as a version source without its run: INVALID_PARAMETER_VALUE', async () => {
    const name = await modelWithVersions('local-source', 0);
    await expectError(mlflow.modelVersions.create({ name, source: '/etc/passwd' }), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('sets, moves, reads and deletes aliases; a missing alias is INVALID_PARAMETER_VALUE', async () => {
    const name = await modelWithVersions('aliases', 2);
    await mlflow.registeredModels.setAlias(name, 'champion', 1);
    expect(await mlflow.registeredModels.getVersionByAlias(name, 'champion')).toMatchObject({
      version: '1',
      aliases: ['champion'],
    });
    expect((await mlflow.registeredModels.get(name)).aliases).toEqual([{ alias: 'champion', version: '1' }]);

    await mlflow.registeredModels.setAlias(name, 'champion', '2');
    expect((await mlflow.registeredModels.getVersionByAlias(name, 'champion')).version).toBe('2');
    expect((await mlflow.modelVersions.get(name, 1)).aliases).toEqual([]);

    await mlflow.registeredModels.deleteAlias(name, 'champion');
    await expectError(mlflow.registeredModels.getVersionByAlias(name, 'champion'), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.registeredModels.getVersionByAlias(name, 'never-set'), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('refuses the reserved alias names latest and v<N>, and aliases to a missing version', async () => {
    const name = await modelWithVersions('reserved', 1);
    await expectError(mlflow.registeredModels.setAlias(name, 'latest', 1), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.registeredModels.setAlias(name, 'LATEST', 1), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.registeredModels.setAlias(name, 'v1', 1), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.registeredModels.setAlias(name, 'ok', 5), 'RESOURCE_DOES_NOT_EXIST', 404);
  });

  it('drops the aliases of a deleted version', async () => {
    const name = await modelWithVersions('alias-delete', 2);
    await mlflow.registeredModels.setAlias(name, 'staging', 2);
    await mlflow.modelVersions.delete(name, 2);
    await expectError(mlflow.modelVersions.get(name, 2), 'RESOURCE_DOES_NOT_EXIST', 404);
    await expectError(mlflow.registeredModels.getVersionByAlias(name, 'staging'), 'INVALID_PARAMETER_VALUE', 400);
    expect((await mlflow.registeredModels.get(name)).aliases).toEqual([]);
  });

  it('transitions stages (archiving the previous holder) and answers latest versions per stage', async () => {
    const name = await modelWithVersions('stages', 2);
    expect((await mlflow.modelVersions.transitionStage(name, 1, 'Staging')).currentStage).toBe('Staging');
    expect((await mlflow.registeredModels.getLatestVersions(name, ['Staging'])).map((v) => v.version)).toEqual(['1']);
    await mlflow.modelVersions.transitionStage(name, 2, 'Staging', true);
    expect((await mlflow.modelVersions.get(name, 1)).currentStage).toBe('Archived');
    const latest = await mlflow.registeredModels.getLatestVersions(name);
    expect(latest.map((version) => [version.version, version.currentStage]).sort()).toEqual([
      ['1', 'Archived'],
      ['2', 'Staging'],
    ]);
    await expectError(mlflow.modelVersions.transitionStage(name, 1, 'Nowhere'), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('searches registered models and versions with filters, order_by and page tokens', async () => {
    const prefix = unique('searchable');
    for (const letter of ['b', 'c', 'a']) await mlflow.registeredModels.create({ name: `${prefix}-${letter}` });
    for (let index = 0; index < 3; index += 1) {
      await mlflow.modelVersions.create({ name: `${prefix}-a`, source: `s3://m/${index}`, runId });
    }
    const first = await mlflow.registeredModels.search({
      filter: `name LIKE '${prefix}-%'`,
      orderBy: ['name DESC'],
      maxResults: 2,
    });
    expect(first.items.map((model) => model.name.slice(-1))).toEqual(['c', 'b']);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const all = await collect(
      mlflow.registeredModels.searchAll({ filter: `name LIKE '${prefix}-%'`, orderBy: ['name ASC'], maxResults: 2 }),
    );
    expect(all.map((model) => model.name.slice(-1))).toEqual(['a', 'b', 'c']);

    const versions = await collect(
      mlflow.modelVersions.searchAll({
        filter: `name = '${prefix}-a'`,
        orderBy: ['version_number DESC'],
        maxResults: 2,
      }),
    );
    expect(versions.map((version) => version.version)).toEqual(['3', '2', '1']);
    const byRun = await collect(
      mlflow.modelVersions.searchAll({ filter: `run_id = '${runId}' and name = '${prefix}-a'` }),
    );
    expect(byRun).toHaveLength(3);
  });

  it('resolves models:/ URIs by version, alias, stage and latest, and runs:/ URIs', async () => {
    const name = await modelWithVersions('uris', 3);
    await mlflow.registeredModels.setAlias(name, 'champion', 2);
    await mlflow.modelVersions.transitionStage(name, 1, 'Production');

    const byVersion = await mlflow.uris.resolveModel(`models:/${name}/3`);
    expect(byVersion).toMatchObject({ source: `s3://models/${name}/3`, artifactUri: `s3://models/${name}/3` });
    expect(byVersion.modelVersion.version).toBe('3');
    expect((await mlflow.uris.resolveModel(`models:/${name}@champion`)).modelVersion.version).toBe('2');
    expect((await mlflow.uris.resolveModel(`models:/${name}/Production`)).modelVersion.version).toBe('1');
    expect((await mlflow.uris.resolveModel(`models:/${name}/latest`)).modelVersion.version).toBe('3');
    await expectError(mlflow.uris.resolveModel(`models:/${name}@nobody`), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.uris.resolveModel(`models:/${name}/9`), 'RESOURCE_DOES_NOT_EXIST', 404);

    const run = await mlflow.uris.resolveRun(`runs:/${runId}/model/MLmodel`);
    expect(run).toEqual({
      uri: `runs:/${runId}/model/MLmodel`,
      runId,
      path: 'model/MLmodel',
      artifactUri: `${artifactUri}/model/MLmodel`,
    });
  });

  it('deletes versions and models', async () => {
    const name = await modelWithVersions('delete', 2);
    await mlflow.modelVersions.delete(name, 1);
    await expectError(mlflow.modelVersions.get(name, 1), 'RESOURCE_DOES_NOT_EXIST', 404);
    expect((await mlflow.modelVersions.get(name, 2)).version).toBe('2');
    await mlflow.registeredModels.delete(name);
    await expectError(mlflow.registeredModels.get(name), 'RESOURCE_DOES_NOT_EXIST', 404);
    await expectError(mlflow.modelVersions.get(name, 2), 'RESOURCE_DOES_NOT_EXIST', 404);
  });
});

describe('protocol', () => {
  /** Sends a request as given and returns MLflow's raw JSON answer. */
  async function raw(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    fields: Record<string, unknown> = {},
  ): Promise<unknown> {
    return mlflow.http.json(
      method === 'GET'
        ? { method, path, query: fields as Record<string, string> }
        : { method, path, body: { kind: 'json', value: fields } },
      z.unknown(),
    );
  }

  it('answers an unknown endpoint with 404, which MLflow clients read as ENDPOINT_NOT_FOUND', async () => {
    await expectError(raw('GET', '/api/2.0/mlflow/no-such-endpoint'), 'ENDPOINT_NOT_FOUND', 404);
  });

  it('answers a method the endpoint does not take with 405', async () => {
    const error = await failure(raw('GET', '/api/2.0/mlflow/runs/create'));
    expect(error.httpStatus).toBe(405);
  });

  it('serves the same API under /ajax-api/2.0/mlflow', async () => {
    const experimentId = await newExperiment('ajax');
    const answer = (await raw('GET', '/ajax-api/2.0/mlflow/experiments/get', { experiment_id: experimentId })) as {
      experiment: { experiment_id: string };
    };
    expect(answer.experiment.experiment_id).toBe(experimentId);
  });

  it('serves the artifact proxy under /ajax-api/2.0/mlflow-artifacts too', async () => {
    const run = await newRun(await newExperiment('ajax-artifacts'));
    await mlflow.artifacts.uploadBytes({ runId: run.info.runId, path: 'a.txt' }, 'ajax');
    const location = await mlflow.artifacts.locate({ runId: run.info.runId }, 'test');
    const listed = await mlflow.http.json(
      { method: 'GET', path: '/ajax-api/2.0/mlflow-artifacts/artifacts', query: { path: location.path } },
      z.object({ files: z.array(z.object({ path: z.string() })) }),
    );
    expect(listed.files.map((file) => file.path)).toEqual(['a.txt']);
  });

  it('answers /health with OK and /version with the server version, as mlflow server does', async () => {
    const health = await fetch(`${mlflow.http.config.trackingUri}/health`);
    expect([health.status, await health.text()]).toEqual([200, 'OK']);
    const version = await fetch(`${mlflow.http.config.trackingUri}/version`);
    expect(version.status).toBe(200);
    expect(await version.text()).toMatch(/^\d+\.\d+/);
  });

  it('has the Default experiment, id 0', async () => {
    expect(await mlflow.experiments.get('0')).toMatchObject({ experimentId: '0', name: 'Default' });
  });

  it('writes JSON as MLflow does: int64 as numbers, NaN as a string, empty fields left out, errors as error_code and message', async () => {
    const run = await newRun(await newExperiment('wire'));
    await mlflow.runs.logMetric(run.info.runId, { key: 'nan', value: Number.NaN, timestamp: 5, step: 2 });
    const answer = (await raw('GET', '/api/2.0/mlflow/runs/get', { run_id: run.info.runId })) as {
      run: { info: Record<string, unknown>; data: { metrics: Record<string, unknown>[] } };
    };
    expect(typeof answer.run.info.start_time).toBe('number');
    expect(answer.run.info).not.toHaveProperty('end_time');
    expect(answer.run.info.run_uuid).toBe(run.info.runId);
    expect(answer.run.data.metrics).toEqual([{ key: 'nan', value: 'NaN', timestamp: 5, step: 2 }]);
    expect(
      await raw('POST', '/api/2.0/mlflow/runs/search', {
        experiment_ids: [run.info.experimentId],
        filter: "tags.none = 'x'",
      }),
    ).toEqual({});

    const response = await fetch(
      `${mlflow.http.config.trackingUri}/api/2.0/mlflow/experiments/get?experiment_id=987654321`,
    );
    expect(response.status).toBe(404);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['error_code', 'message']);
    expect(body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(typeof body.message).toBe('string');
  });

  it('refuses a request missing a required field, naming it: INVALID_PARAMETER_VALUE', async () => {
    const error = await expectError(raw('GET', '/api/2.0/mlflow/experiments/get'), 'INVALID_PARAMETER_VALUE', 400);
    expect(error.message).toContain("Missing value for required parameter 'experiment_id'");
    const run = await newRun(await newExperiment('required'));
    await expectError(
      raw('POST', '/api/2.0/mlflow/runs/log-metric', { run_id: run.info.runId, key: 'k', value: 1 }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
  });

  it('refuses a body that is not JSON, or not declared as JSON: INVALID_PARAMETER_VALUE', async () => {
    const post = (text: string, contentType: string): Promise<unknown> =>
      mlflow.http.json(
        {
          method: 'POST',
          path: '/api/2.0/mlflow/experiments/create',
          body: { kind: 'bytes', bytes: Buffer.from(text), contentType },
        },
        z.unknown(),
      );
    await expectError(post('{"name": ', 'application/json'), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(
      post(JSON.stringify({ name: unique('text-plain') }), 'text/plain'),
      'INVALID_PARAMETER_VALUE',
      400,
    );
  });

  it("refuses page sizes over MLflow's maxima: INVALID_PARAMETER_VALUE", async () => {
    await expectError(mlflow.runs.search({ experimentIds: ['0'], maxResults: 50_001 }), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.experiments.search({ maxResults: 50_001 }), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.registeredModels.search({ maxResults: 1001 }), 'INVALID_PARAMETER_VALUE', 400);
    await expectError(mlflow.modelVersions.search({ maxResults: 200_001 }), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('refuses a bad page token, order_by clause or experiment filter: INVALID_PARAMETER_VALUE', async () => {
    await expectError(
      mlflow.runs.search({ experimentIds: ['0'], pageToken: 'not-a-token!' }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
    await expectError(
      mlflow.runs.search({ experimentIds: ['0'], orderBy: ['metrics.rmse SIDEWAYS'] }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
    await expectError(mlflow.experiments.search({ filter: 'name ~ 1' }), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('refuses an artifact location with a fragment: INVALID_PARAMETER_VALUE', async () => {
    await expectError(
      mlflow.experiments.create({ name: unique('fragment'), artifactLocation: 's3://bucket/path#fragment' }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
  });

  it('answers an empty search with an empty page', async () => {
    const experimentId = await newExperiment('empty');
    expect(await mlflow.runs.search({ experimentIds: [experimentId] })).toEqual({ items: [] });
  });
});

describe('documented semantics beyond the happy path', () => {
  it('names runs: the mlflow.runName tag follows the run name, and a run without one gets a generated name', async () => {
    const experimentId = await newExperiment('run-names');
    const named = await mlflow.runs.create({ experimentId, runName: 'first' });
    expect(tagMap(named.data.tags)['mlflow.runName']).toBe('first');
    await mlflow.runs.update(named.info.runId, { runName: 'second' });
    expect(tagMap((await mlflow.runs.get(named.info.runId)).data.tags)['mlflow.runName']).toBe('second');
    const unnamed = await mlflow.runs.create({ experimentId });
    expect(unnamed.info.runName).not.toBe('');
    expect(tagMap(unnamed.data.tags)['mlflow.runName']).toBe(unnamed.info.runName);
  });

  it('refuses one batch that gives a param two values: INVALID_PARAMETER_VALUE', async () => {
    const run = await newRun(await newExperiment('dup-params'));
    await expectError(
      mlflow.runs.logBatch(run.info.runId, {
        params: [
          { key: 'p', value: '1' },
          { key: 'p', value: '2' },
        ],
      }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
  });

  it('answers RESOURCE_DOES_NOT_EXIST for updating a missing run', async () => {
    await expectError(
      mlflow.runs.update('0123456789abcdef0123456789abcdef', { status: 'FINISHED' }),
      'RESOURCE_DOES_NOT_EXIST',
      404,
    );
  });

  it('refuses tags on a deleted experiment: INVALID_PARAMETER_VALUE', async () => {
    const id = await newExperiment('deleted-tag');
    await mlflow.experiments.delete(id);
    await expectError(mlflow.experiments.setTag(id, 'k', 'v'), 'INVALID_PARAMETER_VALUE', 400);
  });

  it('frees a registered model name once the model is deleted', async () => {
    const name = unique('reuse');
    await mlflow.registeredModels.create({ name, description: 'old' });
    await mlflow.registeredModels.delete(name);
    const again = await mlflow.registeredModels.create({ name });
    expect(again.description ?? '').toBe('');
  });

  it('answers RESOURCE_DOES_NOT_EXIST for latest versions or an alias of a missing model', async () => {
    const name = unique('ghost');
    await expectError(mlflow.registeredModels.getLatestVersions(name), 'RESOURCE_DOES_NOT_EXIST', 404);
    await expectError(mlflow.registeredModels.setAlias(name, 'champion', 1), 'RESOURCE_DOES_NOT_EXIST', 404);
  });

  it('refuses a version source that climbs out with ..: INVALID_PARAMETER_VALUE', async () => {
    const name = unique('climb');
    await mlflow.registeredModels.create({ name });
    await expectError(
      mlflow.modelVersions.create({ name, source: 'mlflow-artifacts:/1/../../../etc' }),
      'INVALID_PARAMETER_VALUE',
      400,
    );
  });

  it("puts a run's artifacts under its experiment's artifact location", async () => {
    const defaultRoot = await mlflow.experiments.get(await newExperiment('artifact-root'));
    const inDefault = await newRun(defaultRoot.experimentId);
    expect(inDefault.info.artifactUri).toBe(`${defaultRoot.artifactLocation}/${inDefault.info.runId}/artifacts`);
    const custom = await mlflow.experiments.create({ name: unique('s3-root'), artifactLocation: 's3://bucket/exp' });
    expect((await mlflow.experiments.get(custom)).artifactLocation).toBe('s3://bucket/exp');
    const inCustom = await newRun(custom);
    expect(inCustom.info.artifactUri).toBe(`s3://bucket/exp/${inCustom.info.runId}/artifacts`);
  });

  it('orders runs missing the metric last, after NaN, both ascending and descending; ties by start_time DESC', async () => {
    const experimentId = await newExperiment('nulls-last');
    const plan: [string, number | undefined][] = [
      ['low', 0.1],
      ['none', undefined],
      ['nan', Number.NaN],
      ['high', 0.5],
    ];
    for (const [index, [runName, value]] of plan.entries()) {
      const run = await mlflow.runs.create({ experimentId, runName, startTime: 1_700_000_000_000 + index });
      await mlflow.runs.logParam(run.info.runId, 'same', 'x');
      if (value !== undefined) await mlflow.runs.logMetric(run.info.runId, { key: 'm', value, timestamp: 1 });
    }
    const order = async (clause: string): Promise<string[]> =>
      (await collect(mlflow.runs.searchAll({ experimentIds: [experimentId], orderBy: [clause] }))).map(
        (run) => run.info.runName,
      );
    expect(await order('metrics.m ASC')).toEqual(['low', 'high', 'nan', 'none']);
    expect(await order('metrics.m DESC')).toEqual(['high', 'low', 'nan', 'none']);
    expect(await order('params.same ASC')).toEqual(['high', 'nan', 'none', 'low']);
  });

  it('refuses renaming a registered model onto a taken name: RESOURCE_ALREADY_EXISTS', async () => {
    const first = unique('taken-a');
    const second = unique('taken-b');
    await mlflow.registeredModels.create({ name: first });
    await mlflow.registeredModels.create({ name: second });
    await expectError(mlflow.registeredModels.rename(first, second), 'RESOURCE_ALREADY_EXISTS', 400);
  });

  it('reads stage names case-insensitively and keeps the latest version of every stage on the model', async () => {
    const name = unique('stage-case');
    await mlflow.registeredModels.create({ name });
    for (let index = 0; index < 3; index += 1) {
      await mlflow.modelVersions.create({ name, source: `s3://m/${index}` });
    }
    expect((await mlflow.modelVersions.transitionStage(name, 1, 'production')).currentStage).toBe('Production');
    await mlflow.modelVersions.transitionStage(name, 2, 'staging');
    const latest = (await mlflow.registeredModels.get(name)).latestVersions;
    expect(latest.map((version) => [version.currentStage, version.version]).sort()).toEqual([
      ['None', '3'],
      ['Production', '1'],
      ['Staging', '2'],
    ]);
  });

  it('sends downloaded artifacts as attachments, not as pages a browser would render', async () => {
    const run = await newRun(await newExperiment('attachment'));
    await mlflow.artifacts.uploadBytes({ runId: run.info.runId, path: 'page.html' }, '<script>alert(1)</script>');
    const location = await mlflow.artifacts.locate({ runId: run.info.runId, path: 'page.html' }, 'test');
    const response = await mlflow.http.open({
      method: 'GET',
      path: `/api/2.0/mlflow-artifacts/artifacts/${location.path}`,
      baseUrl: location.baseUrl,
    });
    await response.arrayBuffer();
    expect(response.headers.get('content-disposition') ?? '').toMatch(/^attachment/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it("lists a run's artifacts through artifacts/list with paths from the run's root, and refuses paths that climb out", async () => {
    const run = await newRun(await newExperiment('artifacts-list'));
    await mlflow.artifacts.uploadBytes({ runId: run.info.runId, path: 'model/MLmodel' }, 'x');
    const answer = await mlflow.http.json(
      { method: 'GET', path: '/api/2.0/mlflow/artifacts/list', query: { run_id: run.info.runId, path: 'model' } },
      z.object({ root_uri: z.string(), files: z.array(z.object({ path: z.string() })) }),
    );
    expect(answer.root_uri).toBe(run.info.artifactUri);
    expect(answer.files.map((file) => file.path)).toEqual(['model/MLmodel']);
    await expectError(
      mlflow.http.json(
        { method: 'GET', path: '/api/2.0/mlflow-artifacts/artifacts', query: { path: '../../etc' } },
        z.unknown(),
      ),
      'INVALID_PARAMETER_VALUE',
      400,
    );
  });
});
