/**
 * The MLflow client's own HTTP behaviour, against a small local `node:http` server each test scripts: retries with
 * backoff on 429/503/500 and connection failures (never on 400/404), `Retry-After`, timeouts, aborts, auth headers,
 * request encoding (query strings, JSON bodies, NaN and infinities), log-batch splitting, page iteration, zod
 * rejection of malformed answers, and artifact transfers. This tests our client, not MLflow: the conformance suite
 * (test/mlflow-conformance.test.ts) drives a real server.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';

import {
  LOG_BATCH_LIMITS,
  MlflowError,
  collect,
  createMlflowClient,
  mlflowConfig,
  retryAfterMs,
  logBatchBytesAtMost,
  splitLogBatch,
  type HttpHooks,
  type MlflowClient,
  type MlflowConfigInput,
  type WireBatch,
} from '../activities/mlflow';
import { createNodeTransport } from '../activities/tracking/node-fetch';
import { closedPort } from './support/ports';

/** One request as the server saw it. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Reply = (request: Seen, response: ServerResponse) => void;

/** A server that answers with the next scripted reply (the last one repeats) and records every request. */
class ScriptedServer {
  readonly seen: Seen[] = [];
  readonly #replies: Reply[] = [];
  readonly #server: Server;

  constructor() {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const seen = {
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks),
        };
        this.seen.push(seen);
        const reply = this.#replies.length > 1 ? this.#replies.shift() : this.#replies[0];
        if (reply === undefined) json(response, 200, {});
        else reply(seen, response);
      });
    });
  }

  /** Queues replies, in order. */
  reply(...replies: Reply[]): this {
    this.#replies.push(...replies);
    return this;
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    return this;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The JSON bodies of the requests seen (those that had one). */
  bodies(): unknown[] {
    return this.seen
      .filter((request) => request.body.length > 0)
      .map((request) => JSON.parse(request.body.toString('utf8')) as unknown);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

const ok =
  (body: unknown = {}): Reply =>
  (_request, response) =>
    json(response, 200, body);
const fail =
  (status: number, body?: unknown, headers: Record<string, string> = {}): Reply =>
  (_request, response) => {
    if (body === undefined) {
      response.writeHead(status, { 'Content-Type': 'text/html', ...headers });
      response.end('<html><body>nope</body></html>');
    } else json(response, status, body, headers);
  };

const servers: ScriptedServer[] = [];
const directories: string[] = [];
async function server(...replies: Reply[]): Promise<ScriptedServer> {
  const started = await new ScriptedServer().reply(...replies).listen();
  servers.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((started) => started.close()));
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** The hooks of the transport under test (see {@link TRANSPORTS}); Node's `fetch` unless set. */
let transportHooks: () => HttpHooks = () => ({});

/** A client whose waits between attempts are recorded instead of slept. */
function clientFor(
  url: string,
  overrides: Partial<MlflowConfigInput> = {},
  onSleep: (ms: number) => Promise<void> | void = () => undefined,
): { client: MlflowClient; sleeps: number[] } {
  const sleeps: number[] = [];
  const config = mlflowConfig({
    trackingUri: url,
    timeoutMs: 5_000,
    ...overrides,
    retry: { maxRetries: 3, backoffBaseMs: 10, backoffJitterMs: 0, maxDelayMs: 60_000, ...overrides.retry },
  });
  const client = createMlflowClient(config, {
    ...transportHooks(),
    sleep: async (ms) => {
      sleeps.push(ms);
      await onSleep(ms);
    },
  });
  return { client, sleeps };
}

async function caught(promise: Promise<unknown>): Promise<MlflowError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MlflowError) return error;
    throw error;
  }
  throw new Error('expected an MlflowError, got success');
}

const EXPERIMENT = {
  experiment_id: '7',
  name: 'e',
  artifact_location: 'mlflow-artifacts:/7',
  lifecycle_stage: 'active',
};
const RUN_INFO = {
  run_id: 'r1',
  run_uuid: 'r1',
  run_name: 'run',
  experiment_id: '7',
  user_id: 'u',
  status: 'RUNNING',
  start_time: 1_700_000_000_000,
  artifact_uri: 'mlflow-artifacts:/7/r1/artifacts',
  lifecycle_stage: 'active',
};

/**
 * The JSON transports the client's calls are tested over: Node's `fetch` (the default), and the tracker's lean
 * `node:http` transport (`activities/tracking/node-fetch.ts`), which must behave the same: retries, timeouts, aborts,
 * headers, bodies and answers.
 */
const TRANSPORTS: [string, () => HttpHooks][] = [
  ['fetch', () => ({})],
  ['the node:http transport', () => ({ transport: createNodeTransport() })],
];

describe.each(TRANSPORTS)('JSON calls over %s', (_name, hooks) => {
  beforeAll(() => {
    transportHooks = hooks;
  });
  afterAll(() => {
    transportHooks = () => ({});
  });

  describe('retries', () => {
    it('retries 503 and 500 with exponential backoff, then succeeds', async () => {
      const mlflow = await server(
        fail(503, { error_code: 'TEMPORARILY_UNAVAILABLE' }),
        fail(500),
        ok({ experiment: EXPERIMENT }),
      );
      const { client, sleeps } = clientFor(mlflow.url);
      const experiment = await client.experiments.get('7');
      expect(experiment.name).toBe('e');
      expect(mlflow.seen).toHaveLength(3);
      expect(sleeps).toEqual([10, 20]);
    });

    it('retries 429 and honours Retry-After when it asks for longer than the backoff', async () => {
      const mlflow = await server(fail(429, { error_code: 'REQUEST_LIMIT_EXCEEDED' }, { 'Retry-After': '3' }), ok());
      const { client, sleeps } = clientFor(mlflow.url);
      await client.runs.setTag('r1', 'k', 'v');
      expect(mlflow.seen).toHaveLength(2);
      expect(sleeps).toEqual([3000]);
    });

    it('caps a long Retry-After at the longest wait, and ignores it when told to', async () => {
      const mlflow = await server(
        fail(503, undefined, { 'Retry-After': '3600' }),
        fail(503, undefined, { 'Retry-After': '3600' }),
        ok(),
      );
      const { client, sleeps } = clientFor(mlflow.url, { retry: { maxDelayMs: 5_000 } });
      await client.runs.setTag('r1', 'k', 'v');
      expect(sleeps).toEqual([5_000, 5_000]);

      const other = await server(fail(503, undefined, { 'Retry-After': '3600' }), ok());
      const ignoring = clientFor(other.url, { retry: { respectRetryAfter: false } });
      await ignoring.client.runs.setTag('r1', 'k', 'v');
      expect(ignoring.sleeps).toEqual([10]);
    });

    it('reads Retry-After as seconds or as an HTTP date', () => {
      const now = Date.parse('2024-05-01T12:00:00Z');
      expect(retryAfterMs('2', now)).toBe(2000);
      expect(retryAfterMs('0.5', now)).toBe(500);
      expect(retryAfterMs('Wed, 01 May 2024 12:00:07 GMT', now)).toBe(7000);
      expect(retryAfterMs('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
      expect(retryAfterMs('soon', now)).toBeUndefined();
      expect(retryAfterMs(null, now)).toBeUndefined();
    });

    it('gives up after the configured retries with the last error, retryable', async () => {
      const mlflow = await server(fail(500, { error_code: 'INTERNAL_ERROR', message: 'database is locked' }));
      const { client, sleeps } = clientFor(mlflow.url, { retry: { maxRetries: 2 } });
      const error = await caught(client.runs.get('r1'));
      expect(error).toMatchObject({
        code: 'MLFLOW_REQUEST_FAILED',
        errorCode: 'INTERNAL_ERROR',
        httpStatus: 500,
        retryable: true,
        attempts: 3,
        endpoint: 'GET /api/2.0/mlflow/runs/get',
      });
      expect(error.message).toContain('database is locked');
      expect(mlflow.seen).toHaveLength(3);
      expect(sleeps).toEqual([10, 20]);
    });

    it.each([
      [400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'bad' }, 'INVALID_PARAMETER_VALUE'],
      [400, { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'exists' }, 'RESOURCE_ALREADY_EXISTS'],
      [404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'missing' }, 'RESOURCE_DOES_NOT_EXIST'],
      [404, undefined, 'ENDPOINT_NOT_FOUND'],
      [400, undefined, 'BAD_REQUEST'],
      [401, undefined, 'UNAUTHENTICATED'],
      [403, { error_code: 'PERMISSION_DENIED' }, 'PERMISSION_DENIED'],
      [501, undefined, 'NOT_IMPLEMENTED'],
    ])('never retries HTTP %i (%j): %s', async (status, body, errorCode) => {
      const mlflow = await server(fail(status, body), ok({ experiment: EXPERIMENT }));
      const { client, sleeps } = clientFor(mlflow.url);
      const error = await caught(client.experiments.get('7'));
      expect(error).toMatchObject({ errorCode, httpStatus: status, retryable: false, attempts: 1 });
      expect(mlflow.seen).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });

    it('retries a refused connection until the server is up', async () => {
      const mlflow = new ScriptedServer().reply(ok({ experiment: EXPERIMENT }));
      servers.push(mlflow);
      const port = await closedPort();
      const { client, sleeps } = clientFor(`http://127.0.0.1:${port}`, {}, async () => {
        await mlflow.listen(port);
      });
      expect((await client.experiments.get('7')).experimentId).toBe('7');
      expect(sleeps).toEqual([10]);
      expect(mlflow.seen).toHaveLength(1);
    });

    it('fails with CONNECTION_FAILED, retryable, once the retries are spent', async () => {
      const port = await closedPort();
      const { client, sleeps } = clientFor(`http://127.0.0.1:${port}`, { retry: { maxRetries: 2 } });
      const error = await caught(client.experiments.get('7'));
      expect(error).toMatchObject({ errorCode: 'CONNECTION_FAILED', retryable: true, attempts: 3 });
      expect(error.message).toContain('ECONNREFUSED');
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(sleeps).toEqual([10, 20]);
    });

    it('times out an attempt that gets no answer, and retries it', async () => {
      const mlflow = await server(() => undefined);
      const { client, sleeps } = clientFor(mlflow.url, { timeoutMs: 100, retry: { maxRetries: 1 } });
      const error = await caught(client.experiments.get('7'));
      expect(error).toMatchObject({ errorCode: 'TIMEOUT', retryable: true, attempts: 2 });
      expect(mlflow.seen).toHaveLength(2);
      expect(sleeps).toEqual([10]);
    });

    it('stops at once when the caller aborts, without retrying', async () => {
      let arrived: () => void = () => undefined;
      const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
      const mlflow = await server(() => arrived());
      const { client, sleeps } = clientFor(mlflow.url);
      const controller = new AbortController();
      const pending = caught(client.withSignal(controller.signal).experiments.get('7'));
      await requestArrived;
      controller.abort();
      const error = await pending;
      expect(error).toMatchObject({ errorCode: 'ABORTED', retryable: false, attempts: 1 });
      expect(sleeps).toEqual([]);
      expect(mlflow.seen).toHaveLength(1);
    });

    it('does not resend a one-shot stream upload, but resends a file upload', async () => {
      const mlflow = await server(ok({ run: { info: RUN_INFO } }), fail(503));
      const { client } = clientFor(mlflow.url);
      const error = await caught(
        client.artifacts.uploadStream({ runId: 'r1', path: 'a.txt' }, Readable.from([Buffer.from('x')])),
      );
      expect(error).toMatchObject({ errorCode: 'TEMPORARILY_UNAVAILABLE', attempts: 1 });
      expect(mlflow.seen.map((request) => request.method)).toEqual(['GET', 'PUT']);

      const directory = await mkdtemp(join(tmpdir(), 'mloe-mlflow-client-'));
      directories.push(directory);
      const file = join(directory, 'model.bin');
      await writeFile(file, Buffer.alloc(70_000, 7));
      const again = await server(ok({ run: { info: RUN_INFO } }), fail(503), ok());
      const retrying = clientFor(again.url);
      await retrying.client.artifacts.uploadFile({ runId: 'r1', path: 'model/model.bin' }, file);
      const puts = again.seen.filter((request) => request.method === 'PUT');
      expect(puts).toHaveLength(2);
      expect(puts[1]?.url).toBe('/api/2.0/mlflow-artifacts/artifacts/7/r1/artifacts/model/model.bin');
      expect(puts[1]?.headers['content-length']).toBe('70000');
      expect(puts[1]?.body.equals(Buffer.alloc(70_000, 7))).toBe(true);
    });
  });

  describe('authentication', () => {
    it('sends MLFLOW_TRACKING_TOKEN as a Bearer token', async () => {
      const mlflow = await server(ok({ experiment: EXPERIMENT }));
      const { client } = clientFor(mlflow.url, { token: 's3cret-token' });
      await client.experiments.get('7');
      expect(mlflow.seen[0]?.headers.authorization).toBe('Bearer s3cret-token');
    });

    it('sends username and password as Basic authentication', async () => {
      const mlflow = await server(ok({ experiment: EXPERIMENT }));
      const { client } = clientFor(mlflow.url, { username: 'ada', password: 'pa:ss' });
      await client.experiments.get('7');
      expect(mlflow.seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('ada:pa:ss').toString('base64')}`);
    });

    it('takes Basic credentials from the tracking URI and keeps them out of the URL', async () => {
      const mlflow = await server(ok({ experiment: EXPERIMENT }));
      const { client } = clientFor(`http://ada:p%40ss@127.0.0.1:${mlflow.port}/`);
      expect(client.http.config.trackingUri).toBe(`http://127.0.0.1:${mlflow.port}`);
      await client.experiments.get('7');
      expect(mlflow.seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('ada:p@ss').toString('base64')}`);
    });

    it('sends no Authorization header without credentials', async () => {
      const mlflow = await server(ok({ experiment: EXPERIMENT }));
      const { client } = clientFor(mlflow.url);
      await client.experiments.get('7');
      expect(mlflow.seen[0]?.headers.authorization).toBeUndefined();
    });

    it('never shows the secret in errors or in the printed configuration', async () => {
      const mlflow = await server(fail(401, { error_code: 'UNAUTHENTICATED', message: 'bad credentials' }));
      const { client } = clientFor(mlflow.url, { token: 'tok-XYZ-123' });
      const error = await caught(client.experiments.get('7'));
      expect(error.errorCode).toBe('UNAUTHENTICATED');
      expect(`${error.message} ${inspect(error)} ${JSON.stringify(error)}`).not.toContain('tok-XYZ-123');
      expect(`${inspect(client.http.config, { depth: 5 })} ${JSON.stringify(client.http.config)}`).not.toContain(
        'tok-XYZ-123',
      );
    });
  });

  describe('requests and answers', () => {
    it('sends GET fields as a query string (repeated keys for lists) and DELETE fields as a JSON body', async () => {
      const mlflow = await server(ok({}), ok({}));
      const { client } = clientFor(mlflow.url);
      await client.registeredModels.search({
        filter: "name LIKE 'a%'",
        orderBy: ['name ASC', 'last_updated_timestamp DESC'],
        maxResults: 5,
      });
      await client.registeredModels.deleteAlias('m', 'champion');
      const [search, remove] = mlflow.seen;
      const query = new URL(search?.url ?? '', 'http://x').searchParams;
      expect(search?.method).toBe('GET');
      expect(query.get('filter')).toBe("name LIKE 'a%'");
      expect(query.getAll('order_by')).toEqual(['name ASC', 'last_updated_timestamp DESC']);
      expect(query.get('max_results')).toBe('5');
      expect(remove?.method).toBe('DELETE');
      expect(remove?.url).toBe('/api/2.0/mlflow/registered-models/alias');
      expect(remove?.headers['content-type']).toBe('application/json');
      expect(JSON.parse(remove?.body.toString() ?? '')).toEqual({ name: 'm', alias: 'champion' });
    });

    it('keeps the tracking URI path prefix, and sends registry calls to MLFLOW_REGISTRY_URI', async () => {
      const tracking = await server(ok({ experiment: EXPERIMENT }));
      const registry = await server(ok({ registered_model: { name: 'm' } }));
      const { client } = clientFor(`${tracking.url}/mlflow/`, { registryUri: `${registry.url}/reg` });
      await client.experiments.get('7');
      await client.registeredModels.get('m');
      expect(tracking.seen.map((request) => request.url)).toEqual([
        '/mlflow/api/2.0/mlflow/experiments/get?experiment_id=7',
      ]);
      expect(registry.seen.map((request) => request.url)).toEqual(['/reg/api/2.0/mlflow/registered-models/get?name=m']);
    });

    it('writes NaN and infinities as MLflow strings and reads them back as numbers', async () => {
      const history = {
        metrics: [
          { key: 'loss', value: 'NaN', timestamp: 1, step: 0 },
          { key: 'loss', value: 'Infinity', timestamp: '2', step: '1' },
          { key: 'loss', value: '-Infinity', timestamp: 3 },
          { key: 'loss', value: 0.25, timestamp: 4, step: 3 },
        ],
      };
      const mlflow = await server(ok(), ok(), ok(), ok(history));
      const { client } = clientFor(mlflow.url);
      await client.runs.logMetric('r1', { key: 'loss', value: Number.NaN, timestamp: 1 });
      await client.runs.logMetric('r1', { key: 'loss', value: Number.POSITIVE_INFINITY, timestamp: 2, step: 1 });
      await client.runs.logMetric('r1', { key: 'loss', value: Number.NEGATIVE_INFINITY, timestamp: 3 });
      const values = await client.runs.metricHistory('r1', 'loss');
      expect(mlflow.bodies().slice(0, 3)).toEqual([
        { run_id: 'r1', key: 'loss', value: 'NaN', timestamp: 1, step: 0 },
        { run_id: 'r1', key: 'loss', value: 'Infinity', timestamp: 2, step: 1 },
        { run_id: 'r1', key: 'loss', value: '-Infinity', timestamp: 3, step: 0 },
      ]);
      expect(values).toEqual([
        { key: 'loss', value: Number.NaN, timestamp: 1, step: 0 },
        { key: 'loss', value: Number.POSITIVE_INFINITY, timestamp: 2, step: 1 },
        { key: 'loss', value: Number.NEGATIVE_INFINITY, timestamp: 3, step: 0 },
        { key: 'loss', value: 0.25, timestamp: 4, step: 3 },
      ]);
    });

    it('turns snake_case answers with left-out fields into camelCase entities', async () => {
      const mlflow = await server(ok({ run: { info: RUN_INFO } }), ok({}));
      const { client } = clientFor(mlflow.url);
      const run = await client.runs.get('r1');
      expect(run).toEqual({
        info: {
          runId: 'r1',
          runName: 'run',
          experimentId: '7',
          userId: 'u',
          status: 'RUNNING',
          startTime: 1_700_000_000_000,
          artifactUri: 'mlflow-artifacts:/7/r1/artifacts',
          lifecycleStage: 'active',
        },
        data: { metrics: [], params: [], tags: [] },
        inputs: { datasetInputs: [] },
      });
      expect(await client.runs.search({ experimentIds: ['7'] })).toEqual({ items: [] });
    });

    it.each([
      ['a field of the wrong type', { experiment: { ...EXPERIMENT, name: 5 } }, 'experiment.name'],
      ['a missing entity', {}, 'experiment'],
      [
        'an unknown enum value',
        { experiment: { ...EXPERIMENT, lifecycle_stage: 'archived' } },
        'experiment.lifecycle_stage',
      ],
    ])('rejects a malformed answer (%s) with INVALID_RESPONSE, without retrying', async (_what, body, path) => {
      const mlflow = await server(ok(body), ok({ experiment: EXPERIMENT }));
      const { client } = clientFor(mlflow.url);
      const error = await caught(client.experiments.get('7'));
      expect(error).toMatchObject({ errorCode: 'INVALID_RESPONSE', retryable: false, httpStatus: undefined });
      expect(error.message).toContain(path);
      expect(mlflow.seen).toHaveLength(1);
    });

    it('rejects an answer that is not JSON with INVALID_RESPONSE', async () => {
      const mlflow = await server((_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html' });
        response.end('<html>MLflow UI</html>');
      });
      const { client } = clientFor(mlflow.url);
      const error = await caught(client.experiments.get('7'));
      expect(error).toMatchObject({ errorCode: 'INVALID_RESPONSE', retryable: false });
    });

    it('refuses a malformed request before sending it', async () => {
      const mlflow = await server(ok());
      const { client } = clientFor(mlflow.url);
      const error = await caught(client.runs.logMetric('r1', { key: 'k', value: 1, step: 1.5 }));
      expect(error).toMatchObject({ errorCode: 'INVALID_REQUEST', retryable: false, attempts: 0 });
      expect(error.message).toContain('step');
      expect(await caught(client.runs.get(''))).toMatchObject({ errorCode: 'INVALID_REQUEST' });
      expect(await caught(client.modelVersions.get('m', 'one'))).toMatchObject({ errorCode: 'INVALID_REQUEST' });
      expect(mlflow.seen).toHaveLength(0);
    });

    it('follows page tokens through every page of a search', async () => {
      const page = (names: string[], token?: string): Reply =>
        ok({
          experiments: names.map((name, index) => ({ ...EXPERIMENT, experiment_id: `${name}${index}`, name })),
          ...(token === undefined ? {} : { next_page_token: token }),
        });
      const mlflow = await server(page(['a', 'b'], 't1'), page(['c', 'd'], 't2'), page(['e']));
      const { client } = clientFor(mlflow.url);
      const names = (await collect(client.experiments.searchAll({ maxResults: 2, orderBy: ['name ASC'] }))).map(
        (experiment) => experiment.name,
      );
      expect(names).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(mlflow.bodies()).toEqual([
        { order_by: ['name ASC'], max_results: 2 },
        { order_by: ['name ASC'], max_results: 2, page_token: 't1' },
        { order_by: ['name ASC'], max_results: 2, page_token: 't2' },
      ]);
    });
  });

  describe('log-batch', () => {
    it('splits a large batch into requests within MLflow limits, keeping every item and its order', async () => {
      const mlflow = await server(ok());
      const { client } = clientFor(mlflow.url);
      const metrics = Array.from({ length: 2345 }, (_, index) => ({
        key: `m${index % 7}`,
        value: index,
        timestamp: 5,
        step: index,
      }));
      const params = Object.fromEntries(Array.from({ length: 250 }, (_, index) => [`p${index}`, `v${index}`]));
      const tags = Array.from({ length: 130 }, (_, index) => ({ key: `t${index}`, value: 'x' }));
      const requests = await client.runs.logBatch('r1', { metrics, params, tags });

      const bodies = mlflow.bodies() as { run_id: string; metrics: unknown[]; params: unknown[]; tags: unknown[] }[];
      expect(requests).toBe(bodies.length);
      for (const body of bodies) {
        expect(body.run_id).toBe('r1');
        expect(body.metrics.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.metrics);
        expect(body.params.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.params);
        expect(body.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.tags);
        expect(body.metrics.length + body.params.length + body.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.total);
      }
      expect(bodies.flatMap((body) => body.metrics)).toEqual(metrics);
      expect(bodies.flatMap((body) => body.params)).toEqual(
        Object.entries(params).map(([key, value]) => ({ key, value })),
      );
      expect(bodies.flatMap((body) => body.tags)).toEqual(tags);
      // 2,725 items need at least 3 requests of 1,000; params (3 × 100) set the floor here.
      expect(bodies.length).toBe(3);
    });

    it('splits by size when items are large, and sends one request when told not to split', async () => {
      const mlflow = await server(ok());
      const { client } = clientFor(mlflow.url);
      const params = Array.from({ length: 90 }, (_, index) => ({ key: `p${index}`, value: 'x'.repeat(20_000) }));
      const requests = await client.runs.logBatch('r1', { params });
      const sizes = mlflow.seen.map((request) => request.body.length);
      expect(requests).toBe(2);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(LOG_BATCH_LIMITS.bytes);

      const unsplit = await server(ok());
      const one = clientFor(unsplit.url);
      const metrics = Array.from({ length: 1500 }, (_, index) => ({
        key: 'm',
        value: index,
        timestamp: 1,
        step: index,
      }));
      expect(await one.client.runs.logBatch('r1', { metrics }, { split: false })).toBe(1);
      expect((unsplit.bodies()[0] as { metrics: unknown[] }).metrics).toHaveLength(1500);
    });

    it('fixes metric timestamps before the first attempt, so a retried chunk is identical', async () => {
      const mlflow = await server(fail(503), ok());
      const { client } = clientFor(mlflow.url);
      await client.runs.logBatch('r1', { metrics: [{ key: 'a', value: 1 }] });
      const [first, second] = mlflow.bodies();
      expect(second).toEqual(first);
      expect((first as { metrics: { timestamp: number }[] }).metrics[0]?.timestamp).toEqual(expect.any(Number));
    });

    it('sends nothing for an empty batch', async () => {
      const mlflow = await server(ok());
      const { client } = clientFor(mlflow.url);
      expect(await client.runs.logBatch('r1', {})).toBe(0);
      expect(mlflow.seen).toHaveLength(0);
    });
  });
});

describe('artifacts', () => {
  it('resolves a run to its proxied artifact root once, and lists with paths joined to the listed directory', async () => {
    const mlflow = await server(
      ok({ run: { info: RUN_INFO } }),
      ok({
        files: [
          { path: 'MLmodel', is_dir: false, file_size: 12 },
          { path: 'data', is_dir: true },
        ],
      }),
      ok({}),
    );
    const { client } = clientFor(mlflow.url);
    const files = await client.artifacts.list({ runId: 'r1', path: 'model' });
    expect(files).toEqual([
      { path: 'model/MLmodel', isDir: false, fileSize: 12 },
      { path: 'model/data', isDir: true },
    ]);
    expect(await client.artifacts.list({ runId: 'r1' })).toEqual([]);
    expect(mlflow.seen.map((request) => request.url)).toEqual([
      '/api/2.0/mlflow/runs/get?run_id=r1',
      '/api/2.0/mlflow-artifacts/artifacts?path=7%2Fr1%2Fartifacts%2Fmodel',
      '/api/2.0/mlflow-artifacts/artifacts?path=7%2Fr1%2Fartifacts',
    ]);
  });

  it('downloads to a file through a retry, leaving no partial file behind on failure', async () => {
    const content = Buffer.from('weights'.repeat(10_000));
    const mlflow = await server(fail(502), (_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      response.end(content);
    });
    const directory = await mkdtemp(join(tmpdir(), 'mloe-mlflow-client-'));
    directories.push(directory);
    const { client } = clientFor(mlflow.url);
    const file = join(directory, 'model.bin');
    await client.artifacts.downloadFile({ uri: 'mlflow-artifacts:/7/r1/artifacts', path: 'model.bin' }, file);
    expect((await readFile(file)).equals(content)).toBe(true);

    const missing = await server(fail(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no file' }));
    const other = clientFor(missing.url);
    const error = await caught(
      other.client.artifacts.downloadFile({ uri: 'mlflow-artifacts:/x/y' }, join(directory, 'y')),
    );
    expect(error.errorCode).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(await readdir(directory)).toEqual(['model.bin']);
  });

  it('does not retry a download whose local target cannot be written, and reports the file error', async () => {
    const mlflow = await server((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      response.end('bytes');
    });
    const { client, sleeps } = clientFor(mlflow.url);
    const target = join(tmpdir(), `mloe-missing-${process.pid}-${Date.now()}`, 'model.bin');
    await expect(
      client.artifacts.downloadFile({ uri: 'mlflow-artifacts:/7/r1', path: 'model.bin' }, target),
    ).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(mlflow.seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('refuses artifact URIs the proxy does not serve, and paths that climb out', async () => {
    const mlflow = await server(ok({ run: { info: { ...RUN_INFO, artifact_uri: 's3://bucket/7/r1/artifacts' } } }));
    const { client } = clientFor(mlflow.url);
    const error = await caught(client.artifacts.downloadBytes({ runId: 'r1', path: 'a.txt' }));
    expect(error).toMatchObject({ errorCode: 'INVALID_REQUEST' });
    expect(error.message).toContain('s3://bucket/7/r1/artifacts');
    expect(
      await caught(client.artifacts.downloadBytes({ uri: 'mlflow-artifacts:/7', path: '../secrets' })),
    ).toMatchObject({
      errorCode: 'INVALID_REQUEST',
    });
  });
});

describe('the log-batch size bound', () => {
  it('is never below the JSON a batch sends, whatever its characters, and a batch within it goes as it is', () => {
    // Characters JSON escapes (quotes, backslashes, control characters), multi-byte UTF-8, lone surrogates.
    const alphabet = ['a', 'é', '€', '😀', '"', '\\', '\n', '\u0001', '\ud800', ' ', '.'];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const text = (max: number): string =>
      Array.from({ length: random(max) }, () => alphabet[random(alphabet.length)] ?? 'a').join('');
    for (let round = 0; round < 200; round += 1) {
      const batch: WireBatch = {
        params: Array.from({ length: random(5) }, () => ({ key: text(20), value: text(200) })),
        tags: Array.from({ length: random(5) }, () => ({ key: text(20), value: text(200) })),
        metrics: Array.from({ length: random(5) }, () => ({
          key: text(20),
          value: random(2) === 0 ? -2.2250738585072014e-308 : 'NaN',
          timestamp: Number.MAX_SAFE_INTEGER,
          step: -Number.MAX_SAFE_INTEGER,
        })),
      };
      const sent = Buffer.byteLength(JSON.stringify({ run_id: 'f'.repeat(32), ...batch }), 'utf8');
      expect(logBatchBytesAtMost(batch)).toBeGreaterThanOrEqual(sent);
      const within = { ...LOG_BATCH_LIMITS, bytes: logBatchBytesAtMost(batch) };
      const chunks = splitLogBatch(batch, within);
      expect(chunks).toEqual(batch.params.length + batch.tags.length + batch.metrics.length === 0 ? [] : [batch]);
    }
  });
});
