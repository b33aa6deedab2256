/**
 * The embedded servers' `/metrics`: the dev server's (`metricsPort`, `mloe server start-dev --metrics-port`) counts
 * gRPC calls by method and status code, called through the official client; the MLflow-compatible server's (on its own
 * port) counts REST calls by route and status, and both report their store sizes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Connection } from '@temporalio/client';

import { startDevServer, type DevServerHandle } from '../infra/devserver';
import { startMlflowServer, type MlflowServerHandle } from '../infra/mlflow/server';
import { parseExposition, samplesOf } from './support/prometheus-text';

async function scrape(url: string) {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

describe('dev server /metrics', () => {
  let server: DevServerHandle;
  let connection: Connection;

  beforeAll(async () => {
    server = await startDevServer({ port: 0, metricsPort: 0 });
    connection = await Connection.connect({ address: server.address });
  });
  afterAll(async () => {
    await connection?.close();
    await server?.close();
  });

  it('counts calls by method and status code, with durations, and reports the store', async () => {
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    await expect(connection.workflowService.describeNamespace({ namespace: 'no-such-namespace' })).rejects.toThrow();
    const samples = await scrape(server.metricsUrl ?? '');
    const calls = (code: string) =>
      samplesOf(samples, 'mloe_devserver_requests_total', { method: 'WorkflowService/DescribeNamespace', code })[0]
        ?.value;
    expect([calls('OK'), calls('NOT_FOUND')]).toEqual([1, 1]);
    expect(
      samplesOf(samples, 'mloe_devserver_request_duration_seconds_count', {
        method: 'WorkflowService/DescribeNamespace',
      })[0]?.value,
    ).toBe(2);
    expect(samplesOf(samples, 'mloe_devserver_namespaces')[0]?.value).toBe(1);
    expect(samplesOf(samples, 'mloe_devserver_database_bytes')[0]?.value).toBe(0);
  });

  it('survives malformed requests: 404 elsewhere, 405 for other methods', async () => {
    const url = server.metricsUrl ?? '';
    expect((await fetch(url.replace('/metrics', '/nope'))).status).toBe(404);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(url)).status).toBe(200);
  });
});

describe('MLflow-compatible server /metrics', () => {
  let server: MlflowServerHandle;
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-mlflow-metrics-'));
    server = await startMlflowServer({
      port: 0,
      backendStoreUri: `sqlite:///${join(directory, 'mlflow.db')}`,
      artifactsDestination: join(directory, 'artifacts'),
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('counts requests by route and status code and reports the store sizes', async () => {
    const create = await fetch(`${server.url}/api/2.0/mlflow/experiments/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'metrics-test' }),
    });
    expect(create.status).toBe(200);
    const missing = await fetch(`${server.url}/api/2.0/mlflow/experiments/get?experiment_id=999999`);
    expect(missing.status).toBe(404);
    expect((await fetch(`${server.url}/api/2.0/mlflow/no/such/route`)).status).toBe(404);
    const samples = await scrape(`${server.url}/metrics`);
    const requests = (method: string, code: string) =>
      samplesOf(samples, 'mloe_mlflow_requests_total', { method, code })[0]?.value;
    expect(requests('POST /api/2.0/mlflow/experiments/create', '200')).toBe(1);
    expect(requests('GET /api/2.0/mlflow/experiments/get', '404')).toBe(1);
    expect(requests('GET unmatched', '404')).toBe(1);
    expect(samplesOf(samples, 'mloe_mlflow_store_rows', { kind: 'experiments' })[0]?.value).toBe(2);
    expect(samplesOf(samples, 'mloe_mlflow_store_rows', { kind: 'runs' })[0]?.value).toBe(0);
    expect(samplesOf(samples, 'mloe_mlflow_database_bytes')[0]?.value).toBeGreaterThan(0);
  });
});
