/**
 * The pure parts of MLflow tracking: MLflow's rules checked before logging (keys, value lengths, non-finite values),
 * the metrics a step reports (per-epoch lists and points in a `metrics` output, Python's NaN tokens), the tracking
 * configuration (off when unset, the experiment override, the activity retry caps, the embedded server's links),
 * links, and the `MLmodel` text `register@1` writes.
 */
import { parse } from 'yaml';

import { mlmodelText } from '../activities/steps/model-package';
import {
  MlflowTracker,
  activityMlflowConfig,
  checkBatch,
  keyProblem,
  latestPoints,
  modelVersionLink,
  parseMetricsDocument,
  quoteNonFiniteTokens,
  runLink,
  trackingConfigFromEnv,
} from '../activities/tracking';
import { embeddedTrackingConfig, loadWorkerConfig } from '../workers/config';
import { mlflowDatabaseFor } from '../clients/embedded-mlflow';

describe("MLflow's rules, checked before logging", () => {
  it.each([
    ['loss', undefined],
    ['val/loss 2', undefined],
    ['a.b-c_d', undefined],
    ['', 'an empty name'],
    ['loss@epoch', 'only letters, digits'],
    ['/abs', 'resolve to another name'],
    ['a//b', 'resolve to another name'],
    ['a/../b', 'resolve to another name'],
    ['x'.repeat(251), 'a name of 251 characters'],
  ])('key %j: %s', (key, problem) => {
    if (problem === undefined) expect(keyProblem(key)).toBeUndefined();
    else expect(keyProblem(key)).toContain(problem);
  });

  it('keeps what MLflow takes and names each item it would refuse, and why', () => {
    const checked = checkBatch({
      metrics: [
        { key: 'ok', value: 1 },
        { key: 'nan', value: Number.NaN },
        { key: 'inf', value: Number.NEGATIVE_INFINITY, step: 3 },
        { key: 'bad key!', value: 2 },
      ],
      params: [
        { key: 'p', value: 'x'.repeat(6000) },
        { key: 'big', value: 'x'.repeat(6001) },
      ],
      tags: [
        { key: 't', value: 'y'.repeat(5000) },
        { key: 'long', value: 'y'.repeat(5001) },
      ],
    });
    expect(checked.metrics.map((metric) => metric.key)).toEqual(['ok']);
    expect(checked.params.map((param) => param.key)).toEqual(['p']);
    expect(checked.tags.map((tag) => tag.key)).toEqual(['t']);
    expect(checked.problems).toEqual([
      'metric "nan": NaN is not a finite number',
      'metric "inf" at step 3: -Infinity is not a finite number',
      expect.stringMatching(/^metric "bad key!": a name MLflow refuses/) as string,
      `param "big": a value of 6001 characters (MLflow's limit is 6000)`,
      `tag "long": a value of 5001 characters (MLflow's limit is 5000)`,
    ]);
  });
});

describe('metrics a step reports', () => {
  it('reads numbers, per-epoch lists and explicit points; the latest point of each key is the summary', () => {
    const read = parseMetricsDocument(
      JSON.stringify({
        rmse: 0.5,
        loss: [0.9, 0.4],
        acc: [
          { step: 10, value: 0.5, timestamp: 1_700_000_000_000 },
          { step: 20, value: 0.7 },
        ],
      }),
      'metrics output "m"',
    );
    expect(read.problems).toEqual([]);
    expect(read.points).toEqual([
      { key: 'rmse', value: 0.5, step: 0 },
      { key: 'loss', value: 0.9, step: 0 },
      { key: 'loss', value: 0.4, step: 1 },
      { key: 'acc', value: 0.5, step: 10, timestamp: 1_700_000_000_000 },
      { key: 'acc', value: 0.7, step: 20 },
    ]);
    expect(latestPoints(read.points).map((point) => [point.key, point.value])).toEqual([
      ['rmse', 0.5],
      ['loss', 0.4],
      ['acc', 0.7],
    ]);
  });

  it("reads Python's NaN and Infinity tokens (to report them by key), never inside strings", () => {
    expect(quoteNonFiniteTokens('{"a": NaN, "b": [1, -Infinity], "c": "NaN Infinity"}')).toBe(
      '{"a": "NaN", "b": [1, "-Infinity"], "c": "NaN Infinity"}',
    );
    const read = parseMetricsDocument('{"loss": [0.5, NaN], "ok": 1}', 'm');
    expect(read.points.map((point) => [point.key, point.step, point.value])).toEqual([
      ['loss', 0, 0.5],
      ['loss', 1, Number.NaN],
      ['ok', 0, 1],
    ]);
  });

  it('names what it cannot read, and reads the rest', () => {
    const read = parseMetricsDocument(
      '{"a": "high", "b": [1, {"step": -1, "value": 2}, true], "c": 3}',
      'metrics output "m"',
    );
    expect(read.points).toEqual([
      { key: 'b', value: 1, step: 0 },
      { key: 'c', value: 3, step: 0 },
    ]);
    expect(read.problems).toEqual([
      'metrics output "m": metric "a" is neither a number nor a list of values or points',
      expect.stringContaining('metrics output "m": metric "b", entry 1: expected a number or') as string,
      expect.stringContaining('metrics output "m": metric "b", entry 2:') as string,
    ]);
    expect(parseMetricsDocument('[1, 2]', 'x').problems).toEqual(['x: not a JSON object of metrics']);
    expect(parseMetricsDocument('{', 'x').problems[0]).toMatch(/^x: not JSON/);
  });
});

describe('tracking configuration', () => {
  it('is off without MLFLOW_TRACKING_URI, and names the experiment override', () => {
    expect(trackingConfigFromEnv({})).toBeUndefined();
    const config = trackingConfigFromEnv({
      MLFLOW_TRACKING_URI: 'http://mlflow:5000/',
      MLFLOW_EXPERIMENT_NAME: 'team',
    });
    expect(config).toMatchObject({
      mlflow: { trackingUri: 'http://mlflow:5000' },
      experimentName: 'team',
      links: 'ui',
    });
    const tracker = new MlflowTracker(config ?? (undefined as never));
    expect(tracker.experimentName('housing-price')).toBe('team');
    const perPipeline = new MlflowTracker(
      trackingConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m' }) ?? (undefined as never),
    );
    expect(perPipeline.experimentName('housing-price')).toBe('housing-price');
    expect(() =>
      trackingConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_EXPERIMENT_NAME: 'x'.repeat(501) }),
    ).toThrow(/invalid MLFLOW_EXPERIMENT_NAME: must be at most 500 characters/);
    expect(() => trackingConfigFromEnv({ MLFLOW_TRACKING_URI: './mlruns' })).toThrow(/MLFLOW_TRACKING_URI/);
    // Read with the worker's configuration, once, at start: a bad value stops the worker before it connects.
    expect(loadWorkerConfig({ env: {} }).tracking).toBeUndefined();
    expect(loadWorkerConfig({ env: { MLFLOW_TRACKING_URI: 'http://m:5000' } }).tracking?.mlflow.trackingUri).toBe(
      'http://m:5000',
    );
    expect(() =>
      loadWorkerConfig({ env: { MLFLOW_TRACKING_URI: 'sqlite:///x.db', MLOE_WORKER_CONCURRENCY: '0' } }),
    ).toThrow(/MLOE_WORKER_CONCURRENCY="0"[\s\S]*MLFLOW_TRACKING_URI/);
  });

  it('caps in-request retries inside activities, and links the embedded server to its REST answers', () => {
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '10' });
    const capped = activityMlflowConfig(config?.mlflow ?? (undefined as never));
    expect(capped.retry).toMatchObject({ maxRetries: 2, backoffBaseMs: 1000, maxDelayMs: 5000 });
    expect(capped.timeoutMs).toBe(30_000);
    expect(config?.mlflow.retry.maxRetries).toBe(10); // the CLI keeps the user's settings
    const embedded = embeddedTrackingConfig({ MLFLOW_EXPERIMENT_NAME: 'e' }, 'http://127.0.0.1:1234');
    expect(embedded).toMatchObject({
      links: 'api',
      experimentName: 'e',
      mlflow: { trackingUri: 'http://127.0.0.1:1234' },
    });
    expect(runLink('http://m', 'ui', '3', 'abc').url).toBe('http://m/#/experiments/3/runs/abc');
    expect(runLink('http://m', 'api', '3', 'abc').url).toBe('http://m/api/2.0/mlflow/runs/get?run_id=abc');
    expect(modelVersionLink('http://m', 'ui', 'a b', '2')).toBe('http://m/#/models/a%20b/versions/2');
    expect(mlflowDatabaseFor('/data/state.db')).toBe('/data/state.mlflow.db');
    expect(mlflowDatabaseFor('/data/state')).toBe('/data/state.mlflow.db');
  });
});

describe('the MLmodel file', () => {
  const model = {
    uri: 'file:///s/sha256/ab/ab',
    digest: `sha256:${'ab'.repeat(32)}`,
    size: 42,
    type: 'model' as const,
    metadata: { kind: 'linear-regression' },
    createdAt: '2025-01-02T03:04:05.678Z',
  };

  it("is deterministic (it names the package's directory) and has MLflow's fields", () => {
    const description = {
      flavor: 'mloe',
      fileName: 'model.json',
      signature: { inputs: [{ name: 'x', type: 'double' }], outputs: [{ name: 'y', type: 'double' }] },
    };
    const text = mlmodelText(model, description);
    expect(mlmodelText(model, description)).toBe(text);
    expect(parse(text)).toEqual({
      artifact_path: 'model',
      flavors: {
        mloe: {
          data: 'model.json',
          digest: model.digest,
          kind: 'linear-regression',
          mloe_version: expect.any(String) as string,
        },
      },
      metadata: { mloe_artifact_digest: model.digest, mloe_artifact_size: 42 },
      model_size_bytes: 42,
      model_uuid: 'ab'.repeat(16),
      signature: {
        inputs: '[{"type":"double","name":"x","required":true}]',
        outputs: '[{"type":"double","name":"y","required":true}]',
        params: null,
      },
      utc_time_created: '2025-01-02 03:04:05.678000',
    });
  });
});
