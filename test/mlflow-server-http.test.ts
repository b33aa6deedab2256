/**
 * The embedded MLflow server's HTTP behaviour on bad and unusual requests: malformed JSON, wrong or missing content
 * types, bodies that are not objects, wrong field types, unknown endpoints (404 ENDPOINT_NOT_FOUND), wrong methods
 * (405), bodies over the limit (413, announced or streamed), raw garbage on the socket; none of them stops the server.
 * Also: the `/ajax-api` prefix, GET parameters with repeated keys, `run_uuid`, double-encoded JSON, concurrent writes
 * all acknowledged and stored, and the run's server published by jest's globalSetup.
 */
import { connect } from 'node:net';

import { MAX_JSON_BODY_BYTES } from '../infra/mlflow';
import { suiteMlflowServer, type MlflowRest } from './mlflow/rest';

const server = suiteMlflowServer();
let rest: MlflowRest;
let url: string;
beforeAll(() => {
  ({ rest } = server());
  url = server().handle.url;
});

const API_DOCS = ' See the API docs for more information about request parameters.';

async function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/api/2.0/mlflow/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  });
}

async function healthy(): Promise<void> {
  const response = await fetch(`${url}/health`);
  expect(response.status).toBe(200);
  expect(await response.text()).toBe('OK');
}

describe('malformed requests', () => {
  it('answers malformed JSON and non-object bodies with INVALID_PARAMETER_VALUE', async () => {
    for (const body of ['{"name": ', 'not json', '[1, 2]', '42']) {
      const response = await post('experiments/create', body);
      expect(response.status).toBe(400);
      const error = (await response.json()) as { error_code: string; message: string };
      expect(error.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(error.message).toMatch(/^Malformed (JSON )?request body/);
    }
    await healthy();
  });

  it('requires application/json on POST, as MLflow does', async () => {
    const missing = await fetch(`${url}/api/2.0/mlflow/experiments/create`, {
      method: 'POST',
      body: new Uint8Array(Buffer.from('{"name": "x"}')),
    });
    expect(await missing.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'Bad Request. Content-Type header is missing.',
    });
    const wrong = await post('experiments/create', '{"name": "x"}', { 'Content-Type': 'text/plain' });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Bad Request. Content-Type must be one of ['application/json'].",
    });
    const withCharset = await post('experiments/create', '{"name": "charset-ok"}', {
      'Content-Type': 'application/json; charset=utf-8',
    });
    expect(withCharset.status).toBe(200);
  });

  it('reads an empty body as an empty message and names the missing field', async () => {
    const response = await post('experiments/create', '');
    expect(await response.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Missing value for required parameter 'name'.${API_DOCS}`,
    });
  });

  it('names fields of the wrong type with their Python type, as MLflow does', async () => {
    expect(await rest.error('POST', 'experiments/create', { name: 123 })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Invalid value 123 for parameter 'name' supplied: Hint: Value was of type 'int'.${API_DOCS}`,
    });
    expect(await rest.error('POST', 'runs/search', { experiment_ids: '0' })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Invalid value "0" for parameter 'experiment_ids' supplied: Hint: Value was of type 'str'.${API_DOCS}`,
    });
    expect(await rest.error('POST', 'experiments/create', { name: 'typed', tags: { key: 'a' } })).toMatchObject({
      message: `Invalid value {"key":"a"} for parameter 'tags' supplied: Hint: Value was of type 'dict'.${API_DOCS}`,
    });
    expect(await rest.error('POST', 'experiments/search', { max_results: 'ten' })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
    });
    expect(await rest.error('POST', 'runs/update', { run_id: 'x', status: 'DONE' })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
    });
  });

  it('accepts experiment ids sent as numbers, as MLflow does', async () => {
    const { run } = await rest.ok<{ run: { info: { experiment_id: string } } }>('POST', 'runs/create', {
      experiment_id: 0,
    });
    expect(run.info.experiment_id).toBe('0');
    const found = await rest.ok<{ runs?: unknown[] }>('POST', 'runs/search', { experiment_ids: [0] });
    expect(found.runs?.length).toBeGreaterThan(0);
  });

  it('accepts JSON posted double-encoded as a string, as MLflow does for old clients', async () => {
    const response = await post('experiments/create', JSON.stringify(JSON.stringify({ name: 'double-encoded' })));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ experiment_id: expect.stringMatching(/^\d+$/) as string });
  });
});

describe('routing', () => {
  it('answers unknown endpoints with 404 ENDPOINT_NOT_FOUND and MLflow’s error body', async () => {
    for (const path of ['/api/2.0/mlflow/runs/nope', '/api/2.0/mlflow/', '/api/9.9/anything', '/favicon.ico']) {
      const response = await fetch(`${url}${path}`);
      expect([path, response.status]).toEqual([path, 404]);
      expect(await response.json()).toEqual({
        error_code: 'ENDPOINT_NOT_FOUND',
        message: `No API endpoint found for GET ${path}`,
      });
    }
  });

  it('answers a known endpoint called with another method with 405 and Allow', async () => {
    const response = await fetch(`${url}/api/2.0/mlflow/runs/get`, { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(await response.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    const search = await fetch(`${url}/api/2.0/mlflow/experiments/search`, { method: 'PATCH' });
    expect(search.headers.get('allow')).toBe('GET, POST');
  });

  it('serves /ajax-api/2.0/mlflow like /api/2.0/mlflow', async () => {
    const response = await fetch(`${url}/ajax-api/2.0/mlflow/experiments/get?experiment_id=0`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ experiment: { name: 'Default' } });
  });

  it('reads repeated GET parameters as lists and accepts run_uuid for run_id', async () => {
    const experimentId = await rest.experiment('get-params');
    for (const name of ['a', 'b']) await rest.run(experimentId, { run_name: name });
    const ordered = await rest.ok<{ experiments: { experiment_id: string }[] }>('GET', 'experiments/search', {
      order_by: ['name DESC', 'experiment_id'],
      max_results: 1,
    });
    expect(ordered.experiments).toHaveLength(1);
    const runId = await rest.run(experimentId);
    const answer = await fetch(`${url}/api/2.0/mlflow/runs/get?run_uuid=${runId}`);
    expect(((await answer.json()) as { run: { info: { run_id: string } } }).run.info.run_id).toBe(runId);
  });
});

describe('limits and garbage', () => {
  it(`refuses bodies over ${MAX_JSON_BODY_BYTES} bytes with 413, announced or streamed, and keeps serving`, async () => {
    const big = new Uint8Array(MAX_JSON_BODY_BYTES + 1).fill(0x20);
    const announced = await post('runs/log-batch', big);
    expect(announced.status).toBe(413);
    expect(await announced.json()).toMatchObject({ error_code: 'BAD_REQUEST' });

    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      for (let sent = 0; sent <= MAX_JSON_BODY_BYTES; sent += 1024 * 1024) yield new Uint8Array(1024 * 1024).fill(0x20);
    };
    const streamed = await fetch(`${url}/api/2.0/mlflow/runs/log-batch`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: ReadableStream.from(chunks()),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    await healthy();
  });

  it('survives garbage on the socket and a URL with broken percent-encoding', async () => {
    await new Promise<void>((resolve, reject) => {
      const { hostname, port } = new URL(url);
      const socket = connect(Number(port), hostname, () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      socket.on('error', reject);
      socket.on('close', () => resolve());
      socket.resume();
    });
    const broken = await fetch(`${url}/api/2.0/mlflow/runs/get?run_id=%E0%A4%A`);
    expect(broken.status).toBeGreaterThanOrEqual(400);
    expect(broken.status).toBeLessThan(500);
    await healthy();
  });
});

describe('concurrency and the run’s server', () => {
  it('acknowledges and stores every one of 200 concurrent writes', async () => {
    const experimentId = await rest.experiment('concurrent');
    const runId = await rest.run(experimentId);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        rest.call('POST', 'runs/log-metric', { run_id: runId, key: 'c', value: i, timestamp: 1, step: i }),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const history = await rest.ok<{ metrics: { step: number }[] }>('GET', 'metrics/get-history', {
      run_id: runId,
      metric_key: 'c',
    });
    expect(history.metrics.map((m) => m.step).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('is published to the suites as MLFLOW_TEST_TRACKING_URI by globalSetup', async () => {
    const published = process.env.MLFLOW_TEST_TRACKING_URI;
    expect(published).toMatch(/^https?:\/\//);
    const response = await fetch(`${published}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`);
    expect(response.status).toBe(200);
  });
});
