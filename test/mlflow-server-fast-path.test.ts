/**
 * The MLflow server's direct path for its JSON endpoints (`infra/mlflow/http/fast-path.ts`) answers exactly as the
 * hono application does: every request below is sent over HTTP to a server that only has the direct path (anything
 * it declines is answered 599 here) and to the hono application in process, over one backend, and the statuses,
 * content types and bodies must match. Requests the direct path must leave to hono (wrong methods, HEAD, chunked or
 * oversized bodies, percent-encoded or unknown paths) must be declined, and what it serves must be counted in the
 * server's request metrics under the same labels as hono's.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Hono } from 'hono';

import { createMlflowBackend, type MlflowBackend } from '../infra/mlflow/backend';
import { parseMlflowServerConfig } from '../infra/mlflow/config';
import { routeTable } from '../infra/mlflow/http/api';
import { createMlflowApp } from '../infra/mlflow/http/app';
import { createJsonFastPath } from '../infra/mlflow/http/fast-path';
import { mlflowServerMetrics } from '../infra/mlflow/metrics';
import type { RequestMetrics } from '../infra/metrics';

const DECLINED = 599;

let backend: MlflowBackend;
let app: Hono;
let metrics: RequestMetrics;
let server: Server;
let base: string;
const errors: string[] = [];

beforeAll(async () => {
  backend = createMlflowBackend(parseMlflowServerConfig({ artifactsDestination: '/tmp/mloe-fast-path-artifacts' }));
  const shared = { metrics: mlflowServerMetrics(backend), routes: routeTable(backend) };
  metrics = shared.metrics;
  const logError = (line: string): void => {
    errors.push(line);
  };
  app = createMlflowApp(backend, logError, shared);
  const fastPath = createJsonFastPath(backend, shared, logError);
  server = createServer((request, response) => {
    if (fastPath(request, response)) return;
    request.resume();
    response.writeHead(DECLINED).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  backend.close();
});

interface Sent {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  contentType: string | null;
  body: unknown;
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: compared as text.
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body };
}

function init(sent: Sent): RequestInit {
  return {
    method: sent.method,
    headers: sent.headers ?? (sent.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    ...(sent.body === undefined ? {} : { body: sent.body }),
  };
}

const direct = async (sent: Sent): Promise<Answer> => answerOf(await fetch(`${base}${sent.path}`, init(sent)));
const viaHono = async (sent: Sent): Promise<Answer> => answerOf(await app.request(sent.path, init(sent)));

/** Sends `sent` both ways and expects the same answer; returns it. */
async function same(sent: Sent): Promise<Answer> {
  const fast = await direct(sent);
  const hono = await viaHono(sent);
  expect(fast).toEqual(hono);
  expect(fast.status).not.toBe(DECLINED);
  return fast;
}

/** The status of a raw request to the direct-path server (599: declined, left to hono). */
function rawStatus(method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest(`${base}${path}`, { method, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    sent.on('error', reject);
    if (body !== undefined) sent.write(body);
    sent.end();
  });
}

describe('the direct path of the JSON endpoints', () => {
  it('answers reads, errors and bad requests exactly as the hono application does', async () => {
    const requests: Sent[] = [
      { method: 'GET', path: '/api/2.0/mlflow/experiments/get?experiment_id=0' },
      { method: 'GET', path: '/ajax-api/2.0/mlflow/experiments/get?experiment_id=0' },
      { method: 'GET', path: '/api/2.0/mlflow/experiments/get?experiment_id=12345' },
      { method: 'GET', path: '/api/2.0/mlflow/experiments/get' },
      { method: 'GET', path: '/api/2.0/mlflow/experiments/search?max_results=5&order_by=name&order_by=creation_time' },
      { method: 'GET', path: '/api/2.0/mlflow/runs/get?run_id=nope' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/search', body: '{"max_results": 1}' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/search', body: '' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/search', body: '"{\\"max_results\\": 2}"' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/create', body: '{"name": ' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/create', body: '[1, 2]' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/create', body: '{"name": 7}' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/create', body: '{}' },
      { method: 'POST', path: '/api/2.0/mlflow/experiments/create', body: '{"name": "x"}', headers: {} },
      {
        method: 'POST',
        path: '/api/2.0/mlflow/experiments/create',
        body: '{"name": "x"}',
        headers: { 'Content-Type': 'text/plain' },
      },
      { method: 'POST', path: '/api/2.0/mlflow/runs/update', body: '{"run_id": "nope", "status": "FINISHED"}' },
      { method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', body: '{"run_id": "nope", "metrics": [{"key": 1}]}' },
      { method: 'POST', path: '/api/2.0/mlflow/runs/create', body: '{"experiment_id": "404"}' },
    ];
    for (const sent of requests) await same(sent);
    expect(errors).toEqual([]);
  });

  it('serves writes that the hono application then reads, and the other way round', async () => {
    const created = await direct({
      method: 'POST',
      path: '/api/2.0/mlflow/experiments/create',
      body: JSON.stringify({ name: 'fast-path', tags: [{ key: 'k', value: 'v' }] }),
    });
    expect(created.status).toBe(200);
    const experimentId = (created.body as { experiment_id: string }).experiment_id;
    const byHono = await viaHono({
      method: 'GET',
      path: `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`,
    });
    expect(byHono.body).toMatchObject({ experiment: { name: 'fast-path', tags: [{ key: 'k', value: 'v' }] } });

    const run = await viaHono({
      method: 'POST',
      path: '/api/2.0/mlflow/runs/create',
      body: JSON.stringify({ experiment_id: experimentId, run_name: 'r', tags: [{ key: 'b', value: '2' }] }),
    });
    const runId = (run.body as { run: { info: { run_id: string } } }).run.info.run_id;
    const logged = await direct({
      method: 'POST',
      path: '/api/2.0/mlflow/runs/log-batch',
      body: JSON.stringify({
        run_id: runId,
        params: [{ key: 'alpha', value: '0.1' }],
        metrics: [{ key: 'rmse', value: 'NaN', timestamp: 5, step: 1 }],
        tags: [{ key: 'a', value: '1' }],
      }),
    });
    expect(logged).toEqual({ status: 200, contentType: 'application/json', body: {} });
    const ended = await direct({
      method: 'POST',
      path: '/api/2.0/mlflow/runs/update',
      body: JSON.stringify({ run_id: runId, status: 'FINISHED', end_time: 9 }),
    });
    expect(ended.body).toMatchObject({ run_info: { run_id: runId, status: 'FINISHED', end_time: 9 } });
    // The same run read both ways.
    const read = await same({ method: 'GET', path: `/api/2.0/mlflow/runs/get?run_id=${runId}` });
    expect(read.body).toMatchObject({
      run: {
        data: {
          params: [{ key: 'alpha', value: '0.1' }],
          metrics: [{ key: 'rmse', value: 'NaN', timestamp: 5, step: 1 }],
          tags: [
            { key: 'a', value: '1' },
            { key: 'b', value: '2' },
            { key: 'mlflow.runName', value: 'r' },
          ],
        },
      },
    });
    // A refused param change, answered the same both ways, leaves the run as it was.
    await same({
      method: 'POST',
      path: '/api/2.0/mlflow/runs/log-batch',
      body: JSON.stringify({ run_id: runId, params: [{ key: 'alpha', value: '0.2' }] }),
    });
    expect(await same({ method: 'GET', path: `/api/2.0/mlflow/runs/get?run_id=${runId}` })).toEqual(read);
  });

  it('leaves to hono what it does not serve', async () => {
    const json = { 'Content-Type': 'application/json' };
    expect(await rawStatus('PATCH', '/api/2.0/mlflow/runs/create', json, '{}')).toBe(DECLINED);
    expect(await rawStatus('HEAD', '/api/2.0/mlflow/experiments/get?experiment_id=0', {})).toBe(DECLINED);
    expect(await rawStatus('GET', '/api/2.0/mlflow/runs/create', {})).toBe(DECLINED);
    expect(await rawStatus('POST', '/api/2.0/mlflow/nothing/here', json, '{}')).toBe(DECLINED);
    expect(await rawStatus('GET', '/api/2.0/mlflow/', {})).toBe(DECLINED);
    expect(await rawStatus('GET', '/api/2.0/mlflowexperiments/get', {})).toBe(DECLINED);
    expect(await rawStatus('GET', '/api/2.0/mlflow/experiments%2Fget?experiment_id=0', {})).toBe(DECLINED);
    expect(await rawStatus('GET', '/health', {})).toBe(DECLINED);
    expect(await rawStatus('GET', '/api/2.0/mlflow-artifacts/artifacts?path=', {})).toBe(DECLINED);
    // Chunked (no announced length) and announced over the limit: hono's body limit answers those.
    const chunked = { ...json, 'Transfer-Encoding': 'chunked' };
    expect(await rawStatus('POST', '/api/2.0/mlflow/experiments/search', chunked, '{}')).toBe(DECLINED);
    const oversized = { ...json, 'Content-Length': String(21 * 1024 * 1024) };
    expect(await rawStatus('POST', '/api/2.0/mlflow/experiments/search', oversized)).toBe(DECLINED);
  });

  it('lets a client go that leaves before its body is sent, and keeps serving', async () => {
    const logged = errors.length;
    await new Promise<void>((resolve) => {
      const sent = httpRequest(`${base}/api/2.0/mlflow/experiments/create`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': '100' },
      });
      sent.on('error', () => resolve());
      sent.write('{"name": ');
      setImmediate(() => {
        sent.destroy();
        resolve();
      });
    });
    await same({ method: 'GET', path: '/api/2.0/mlflow/experiments/get?experiment_id=0' });
    expect(errors.slice(logged)).toEqual([]);
  });

  it('counts what it serves in the request metrics under the route, as hono does', async () => {
    await direct({ method: 'GET', path: '/ajax-api/2.0/mlflow/experiments/get?experiment_id=0' });
    await direct({ method: 'GET', path: '/api/2.0/mlflow/experiments/get?experiment_id=999' });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/requests_total\{method="GET \/ajax-api\/2\.0\/mlflow\/experiments\/get",code="200"\} [1-9]/);
    expect(text).toMatch(/requests_total\{method="GET \/api\/2\.0\/mlflow\/experiments\/get",code="404"\} [1-9]/);
    expect(text).toMatch(/requests_total\{method="POST \/api\/2\.0\/mlflow\/runs\/log-batch",code="200"\} [1-9]/);
  });
});
