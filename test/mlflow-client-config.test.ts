/**
 * The MLflow client's configuration from the environment: `MLFLOW_TRACKING_URI` read as MLflow's clients read it
 * (http(s) served, local stores and Databricks refused with the reason), credentials and their precedence, MLflow's
 * retry and timeout variables with their defaults and bounds, the TLS and auth-plugin settings this client refuses,
 * secrets kept out of messages; plus the pure parts of the client (log-batch split, model URIs, artifact locations).
 */
import { inspect } from 'node:util';

import { ConfigError } from '../core/errors';
import {
  LOG_BATCH_LIMITS,
  MLFLOW_ENV,
  MlflowError,
  describeMlflowConfig,
  mlflowConfig,
  mlflowConfigFromEnv,
  optionalMlflowConfigFromEnv,
  parseModelUri,
  parseRunsUri,
  proxyLocationOf,
  splitLogBatch,
  type MlflowEnv,
  type WireBatch,
} from '../activities/mlflow';

function configError(env: MlflowEnv): ConfigError {
  try {
    mlflowConfigFromEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('MLFLOW_TRACKING_URI', () => {
  it('takes an http(s) server, keeping a path prefix and dropping a trailing slash', () => {
    expect(mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000/' }).trackingUri).toBe('http://mlflow:5000');
    expect(mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'https://example.com/team/mlflow/' }).trackingUri).toBe(
      'https://example.com/team/mlflow',
    );
  });

  it('uses the tracking server for the registry unless MLFLOW_REGISTRY_URI names another', () => {
    const same = mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://a:5000' });
    expect(same.registryUri).toBe('http://a:5000');
    const other = mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://a:5000', MLFLOW_REGISTRY_URI: 'http://b:5001' });
    expect(other.registryUri).toBe('http://b:5001');
    expect(describeMlflowConfig(other)).toContain('registry http://b:5001');
  });

  it('reports tracking as off when unset, and refuses to start without it when required', () => {
    expect(optionalMlflowConfigFromEnv({})).toBeUndefined();
    expect(optionalMlflowConfigFromEnv({ MLFLOW_TRACKING_URI: '' })).toBeUndefined();
    expect(configError({}).message).toMatch(/MLFLOW_TRACKING_URI is not set.*local store/);
  });

  it.each([
    ['file:///tmp/mlruns', /local file store/],
    ['./mlruns', /local file store/],
    ['/var/mlruns', /local file store/],
    ['databricks', /Databricks/],
    ['databricks://my-profile', /Databricks/],
    ['sqlite:///mlflow.db', /database store.*mlflow server --backend-store-uri/],
    ['postgresql+psycopg2://u:p@db/mlflow', /database store/],
    ['ftp://host/x', /scheme ftp: is not an MLflow tracking server/],
    ['http://host:5000/?x=1', /no query or fragment/],
  ])('refuses %s, saying why and what to set', (uri, why) => {
    const error = configError({ MLFLOW_TRACKING_URI: uri });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('MLFLOW_TRACKING_URI');
    expect(error.message).toMatch(why);
    expect(error.message).toContain('http://host:5000');
  });

  it('never repeats the password of a URI it refuses', () => {
    const error = configError({ MLFLOW_TRACKING_URI: 'postgresql://user:hunter2@db/mlflow' });
    expect(error.message).not.toContain('hunter2');
  });
});

describe('credentials', () => {
  it('prefers MLFLOW_TRACKING_TOKEN, then username and password, then the URI', () => {
    const uri = 'http://uri-user:uri-pass@mlflow:5000';
    expect(
      mlflowConfigFromEnv({
        MLFLOW_TRACKING_URI: uri,
        MLFLOW_TRACKING_TOKEN: 't',
        MLFLOW_TRACKING_USERNAME: 'u',
        MLFLOW_TRACKING_PASSWORD: 'p',
      }).auth.type,
    ).toBe('bearer');
    const basic = mlflowConfigFromEnv({
      MLFLOW_TRACKING_URI: uri,
      MLFLOW_TRACKING_USERNAME: 'u',
      MLFLOW_TRACKING_PASSWORD: 'p',
    });
    expect(basic.auth).toMatchObject({ type: 'basic', username: 'u' });
    const fromUri = mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: uri });
    expect(fromUri.auth).toMatchObject({ type: 'basic', username: 'uri-user' });
    expect(fromUri.trackingUri).toBe('http://mlflow:5000');
    expect(mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000' }).auth).toEqual({ type: 'none' });
  });

  it('refuses a username without a password', () => {
    expect(configError({ MLFLOW_TRACKING_URI: 'http://m:5000', MLFLOW_TRACKING_USERNAME: 'u' }).message).toMatch(
      /go together/,
    );
  });

  it('keeps secrets out of printed configurations and descriptions', () => {
    const config = mlflowConfigFromEnv({
      MLFLOW_TRACKING_URI: 'http://a:uri-secret@m:5000',
      MLFLOW_TRACKING_USERNAME: 'ada',
      MLFLOW_TRACKING_PASSWORD: 'pw-secret',
    });
    const shown = `${inspect(config, { depth: 5 })} ${JSON.stringify(config)} ${describeMlflowConfig(config)}`;
    expect(shown).not.toContain('pw-secret');
    expect(shown).not.toContain('uri-secret');
    expect(describeMlflowConfig(config)).toContain('Basic authentication as ada');
    const bearer = mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m:5000', MLFLOW_TRACKING_TOKEN: 'tok-secret' });
    expect(`${inspect(bearer, { depth: 5 })} ${describeMlflowConfig(bearer)}`).not.toContain('tok-secret');
  });

  it('never echoes a bad secret value', () => {
    const error = configError({ MLFLOW_TRACKING_URI: 'http://m:5000', MLFLOW_TRACKING_TOKEN: 'bad\ntoken-secret' });
    expect(error.message).toContain(MLFLOW_ENV.token);
    expect(error.message).not.toContain('token-secret');
  });
});

describe('retries, timeouts and TLS', () => {
  it("uses MLflow's defaults: 5 retries, backoff factor 2 s, jitter 1 s, timeout 120 s, Retry-After respected", () => {
    const config = mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m:5000' });
    expect(config.timeoutMs).toBe(120_000);
    expect(config.retry).toEqual({
      maxRetries: 5,
      backoffBaseMs: 2000,
      backoffJitterMs: 1000,
      maxDelayMs: 120_000,
      respectRetryAfter: true,
    });
  });

  it("reads MLflow's HTTP variables", () => {
    const config = mlflowConfigFromEnv({
      MLFLOW_TRACKING_URI: 'http://m:5000',
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2',
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '1',
      MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0.25',
      MLFLOW_HTTP_REQUEST_TIMEOUT: '30',
      MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER: 'False',
    });
    expect(config.timeoutMs).toBe(30_000);
    expect(config.retry).toMatchObject({
      maxRetries: 2,
      backoffBaseMs: 1000,
      backoffJitterMs: 250,
      respectRetryAfter: false,
    });
  });

  it.each([
    ['MLFLOW_HTTP_REQUEST_MAX_RETRIES', '11', /at most 10/],
    ['MLFLOW_HTTP_REQUEST_MAX_RETRIES', 'many', /whole number/],
    ['MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', '121', /at most 120/],
    ['MLFLOW_HTTP_REQUEST_TIMEOUT', '0', /at least 1 second/],
    ['MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER', 'yes', /true, false, 1 or 0/],
  ])('refuses %s=%s', (name, value, why) => {
    const error = configError({ MLFLOW_TRACKING_URI: 'http://m:5000', [name]: value });
    expect(error.message).toContain(name);
    expect(error.message).toMatch(why);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it('refuses the settings it cannot honour instead of ignoring them', () => {
    const base = { MLFLOW_TRACKING_URI: 'https://m' };
    expect(configError({ ...base, MLFLOW_TRACKING_INSECURE_TLS: 'true' }).message).toMatch(/NODE_EXTRA_CA_CERTS/);
    expect(mlflowConfigFromEnv({ ...base, MLFLOW_TRACKING_INSECURE_TLS: 'false' }).trackingUri).toBe('https://m');
    expect(configError({ ...base, MLFLOW_TRACKING_SERVER_CERT_PATH: '/ca.pem' }).message).toMatch(
      /NODE_EXTRA_CA_CERTS/,
    );
    expect(
      mlflowConfigFromEnv({ ...base, MLFLOW_TRACKING_SERVER_CERT_PATH: '/ca.pem', NODE_EXTRA_CA_CERTS: '/ca.pem' })
        .trackingUri,
    ).toBe('https://m');
    expect(configError({ ...base, MLFLOW_TRACKING_CLIENT_CERT_PATH: '/c.pem' }).message).toMatch(/Bearer/);
    expect(configError({ ...base, MLFLOW_TRACKING_AUTH: 'my_plugin' }).message).toMatch(/MLFLOW_TRACKING_AUTH/);
    expect(configError({ ...base, MLFLOW_TRACKING_AWS_SIGV4: '1' }).message).toMatch(/SigV4/);
  });

  it('checks a configuration given in code the same way', () => {
    expect(() => mlflowConfig({ trackingUri: 'file:///tmp/x' })).toThrow(ConfigError);
    expect(() => mlflowConfig({ trackingUri: 'http://m', retry: { maxRetries: 50 } })).toThrow(/retry.maxRetries/);
    expect(mlflowConfig({ trackingUri: 'http://m', retry: { maxRetries: 0 } }).retry.maxRetries).toBe(0);
  });
});

describe('log-batch split', () => {
  const metric = (step: number): WireBatch['metrics'][number] => ({ key: 'm', value: step, timestamp: 1, step });
  const keyValue = (index: number): WireBatch['params'][number] => ({ key: `k${index}`, value: 'v' });

  it('fills each request with params, tags, then metrics, within every count limit', () => {
    const batch: WireBatch = {
      params: Array.from({ length: 150 }, (_, index) => keyValue(index)),
      tags: Array.from({ length: 30 }, (_, index) => keyValue(index)),
      metrics: Array.from({ length: 1900 }, (_, index) => metric(index)),
    };
    const chunks = splitLogBatch(batch);
    expect(chunks.map((chunk) => [chunk.params.length, chunk.tags.length, chunk.metrics.length])).toEqual([
      [100, 30, 870],
      [50, 0, 950],
      [0, 0, 80],
    ]);
  });

  it('honours smaller limits and a byte budget, sending an oversized item alone', () => {
    const limits = { ...LOG_BATCH_LIMITS, metrics: 3, total: 4, bytes: 2000 };
    const chunks = splitLogBatch(
      {
        params: [{ key: 'big', value: 'x'.repeat(5000) }, keyValue(1)],
        tags: [],
        metrics: Array.from({ length: 5 }, (_, index) => metric(index)),
      },
      limits,
    );
    expect(chunks.map((chunk) => [chunk.params.length, chunk.metrics.length])).toEqual([
      [1, 0],
      [1, 3],
      [0, 2],
    ]);
    expect(splitLogBatch({ params: [], tags: [], metrics: [] })).toEqual([]);
  });
});

describe('URIs', () => {
  it.each([
    ['models:/churn/3', { kind: 'version', name: 'churn', version: '3' }],
    ['models:/churn/007', { kind: 'version', name: 'churn', version: '7' }],
    ['models:/churn/LATEST', { kind: 'latest', name: 'churn' }],
    ['models:/churn/Production', { kind: 'stage', name: 'churn', stage: 'Production' }],
    ['models:/churn@champion', { kind: 'alias', name: 'churn', alias: 'champion' }],
    ['models:/a@b@c', { kind: 'alias', name: 'a@b', alias: 'c' }],
    ['models:///churn/1', { kind: 'version', name: 'churn', version: '1' }],
  ])('parses %s as MLflow does', (uri, parsed) => {
    expect(parseModelUri(uri)).toEqual(parsed);
  });

  it.each([
    'models:/',
    'models:/churn',
    'models:/churn/',
    'models:/a/b/c',
    'models:/@x',
    'models:/x@',
    'runs:/x/y',
    'models://profile/x/1',
  ])('refuses %s with INVALID_REQUEST', (uri) => {
    expect(() => parseModelUri(uri)).toThrow(MlflowError);
  });

  it('splits runs:/ URIs', () => {
    expect(parseRunsUri('runs:/abc/model/MLmodel')).toEqual({ runId: 'abc', path: 'model/MLmodel' });
    expect(parseRunsUri('runs:/abc')).toEqual({ runId: 'abc', path: '' });
    expect(parseRunsUri('models:/x/1')).toBeUndefined();
  });

  it('locates proxied artifact URIs on the tracking server or on the host they name', () => {
    const tracking = 'https://mlflow.example.com/prefix';
    expect(proxyLocationOf('mlflow-artifacts:/1/abc/artifacts', tracking, 'x')).toEqual({
      baseUrl: tracking,
      path: '1/abc/artifacts',
    });
    expect(proxyLocationOf('mlflow-artifacts://other:5000/1/abc/', tracking, 'x')).toEqual({
      baseUrl: 'https://other:5000',
      path: '1/abc',
    });
    expect(proxyLocationOf('http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts', tracking, 'x')).toEqual({
      baseUrl: 'http://h:5000',
      path: '1/abc/artifacts',
    });
    expect(() => proxyLocationOf('s3://bucket/1/abc', tracking, 'x')).toThrow(/artifact proxy/);
    expect(() => proxyLocationOf('file:///tmp/mlruns/1', tracking, 'x')).toThrow(MlflowError);
  });
});
