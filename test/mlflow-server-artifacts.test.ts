/**
 * The artifact proxy of the embedded MLflow server over real HTTP: upload, download (bytes and headers), overwrite,
 * list (names relative to the listed directory), delete, the run artifact listing (paths from the run's root and
 * `root_uri`), traversal refused in every encoding with nothing written outside the destination, the proxy disabled
 * by `--no-serve-artifacts`, and an `s3://` destination (s3rver).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';

import { startMlflowServer, type MlflowServerHandle } from '../infra/mlflow';
import { MlflowRest, suiteMlflowServer } from './mlflow/rest';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';
import { suiteTemporaryDirectories } from './temporary-directories';

const temporaryDirectory = suiteTemporaryDirectories('mloe-mlflow-artifacts-');
const ROUTE = '/api/2.0/mlflow-artifacts/artifacts';

interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** A request with the path sent exactly as written (fetch would normalise `..` segments away). */
function rawRequest(
  url: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('served from a directory', () => {
  let destination: string;
  let handle: MlflowServerHandle;
  let rest: MlflowRest;
  beforeAll(async () => {
    const root = await temporaryDirectory();
    destination = join(root, 'artifacts');
    handle = await startMlflowServer({ port: 0, artifactsDestination: `file://${destination}` });
    rest = new MlflowRest(handle.url);
  });
  afterAll(async () => {
    await handle.close();
  });
  const put = (path: string, body: Uint8Array | string): Promise<Response> =>
    fetch(`${handle.url}${ROUTE}/${path}`, { method: 'PUT', body });
  const list = async (path?: string): Promise<FileInfo[] | undefined> =>
    (
      (await (
        await fetch(`${handle.url}${ROUTE}${path === undefined ? '' : `?path=${encodeURIComponent(path)}`}`)
      ).json()) as {
        files?: FileInfo[];
      }
    ).files;

  it('round-trips bytes, with attachment headers, and overwrites', async () => {
    const bytes = randomBytes(1024 * 1024 + 7);
    expect((await put('1/run/artifacts/model/model.bin', bytes)).status).toBe(200);
    const response = await fetch(`${handle.url}${ROUTE}/1/run/artifacts/model/model.bin`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe('attachment; filename=model.bin');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await readFile(join(destination, '1/run/artifacts/model/model.bin'))).equals(bytes)).toBe(true);

    await put('1/run/artifacts/model/MLmodel', 'flavors: {}\n');
    await put('1/run/artifacts/model/MLmodel', 'flavors: {python_function: {}}\n');
    const mlmodel = await fetch(`${handle.url}${ROUTE}/1/run/artifacts/model/MLmodel`);
    expect(mlmodel.headers.get('content-type')).toBe('text/plain');
    expect(await mlmodel.text()).toBe('flavors: {python_function: {}}\n');
  });

  it('lists names relative to the listed directory, and deletes files and directories', async () => {
    await put('2/r/artifacts/a.txt', 'aaa');
    await put('2/r/artifacts/empty.txt', '');
    await put('2/r/artifacts/sub/b.txt', 'b');
    expect(await list('2/r/artifacts')).toEqual([
      { path: 'a.txt', is_dir: false, file_size: 3 },
      { path: 'empty.txt', is_dir: false },
      { path: 'sub', is_dir: true },
    ]);
    expect(await list('2/r/artifacts/sub')).toEqual([{ path: 'b.txt', is_dir: false, file_size: 1 }]);
    expect(await list('no/such/dir')).toBeUndefined();
    expect((await list())?.map((f) => f.path)).toEqual(expect.arrayContaining(['1', '2']));

    expect((await fetch(`${handle.url}${ROUTE}/2/r/artifacts/sub`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${handle.url}${ROUTE}/2/r/artifacts/a.txt`, { method: 'DELETE' })).status).toBe(200);
    expect(await list('2/r/artifacts')).toEqual([{ path: 'empty.txt', is_dir: false }]);
    const missing = await fetch(`${handle.url}${ROUTE}/2/r/artifacts/a.txt`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });
  });

  it("lists a run's artifacts from its root with root_uri", async () => {
    const experimentId = await rest.experiment('artifacts');
    const runId = await rest.run(experimentId);
    const root = `${experimentId}/${runId}/artifacts`;
    await put(`${root}/model/MLmodel`, 'x');
    await put(`${root}/metrics.json`, '{}');
    const top = await rest.ok<{ root_uri: string; files: FileInfo[] }>('GET', 'artifacts/list', { run_id: runId });
    expect(top).toEqual({
      root_uri: `mlflow-artifacts:/${root}`,
      files: [
        { path: 'metrics.json', is_dir: false, file_size: 2 },
        { path: 'model', is_dir: true },
      ],
    });
    const nested = await rest.ok('GET', 'artifacts/list', { run_id: runId, path: 'model' });
    expect(nested).toEqual({
      root_uri: `mlflow-artifacts:/${root}`,
      files: [{ path: 'model/MLmodel', is_dir: false, file_size: 1 }],
    });
    expect(await rest.error('GET', 'artifacts/list', { run_id: runId, path: '../other' })).toMatchObject({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
    });
  });

  it('refuses traversal, absolute paths, NUL bytes and backslashes in every encoding, writing nothing outside', async () => {
    const outside = join(destination, '..', 'escaped.txt');
    const attempts = [
      '..%2fescaped.txt',
      '%2e%2e%2fescaped.txt',
      'a/..%2f..%2fescaped.txt',
      '%252e%252e%252fescaped.txt',
      '%2fetc%2fescaped.txt',
      'a%00b.txt',
      '..%5cescaped.txt',
      'C:%5cescaped.txt',
    ];
    for (const path of attempts) {
      for (const method of ['PUT', 'GET', 'DELETE']) {
        const response = await fetch(`${handle.url}${ROUTE}/${path}`, {
          method,
          ...(method === 'PUT' ? { body: 'pwned' } : {}),
        });
        expect([path, method, response.status]).toEqual([path, method, 400]);
        expect(await response.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
      }
    }
    for (const path of ['../', '../../etc', '/etc', 'a/../../b']) {
      const response = await fetch(`${handle.url}${ROUTE}?path=${encodeURIComponent(path)}`);
      expect([path, response.status]).toEqual([path, 400]);
    }
    // A client that sends `..` literally: URL normalisation takes the request off the proxy's route.
    const raw = await rawRequest(handle.url, 'PUT', `${ROUTE}/../../../escaped.txt`, 'pwned');
    expect(raw.status).toBe(404);
    expect(JSON.parse(raw.body)).toMatchObject({ error_code: 'ENDPOINT_NOT_FOUND' });
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(join(destination, 'escaped.txt'))).toBe(false);
  });

  it('refuses to write under a file or over a directory', async () => {
    await put('4/file.txt', 'x');
    const under = await put('4/file.txt/inner.txt', 'y');
    expect(under.status).toBe(400);
    expect(await under.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
    const over = await put('4', 'z');
    expect(over.status).toBe(400);
  });

  it('refuses a method it does not serve with 405', async () => {
    const response = await fetch(`${handle.url}${ROUTE}/x.txt`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});

describe('--no-serve-artifacts', () => {
  const server = suiteMlflowServer({ serveArtifacts: false });
  it('disables the proxy and gives runs locations under the default artifact root, listed from disk', async () => {
    const { rest, handle } = server();
    const response = await fetch(`${handle.url}${ROUTE}/x.txt`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error_code: 'TEMPORARILY_UNAVAILABLE' });

    const root = await temporaryDirectory();
    const { experiment_id } = await rest.ok<{ experiment_id: string }>('POST', 'experiments/create', {
      name: 'local-artifacts',
      artifact_location: root,
    });
    const runId = await rest.run(experiment_id);
    const runRoot = join(root, runId, 'artifacts');
    await mkdir(join(runRoot, 'model'), { recursive: true });
    await writeFile(join(runRoot, 'model', 'MLmodel'), 'abc');
    const listed = await rest.ok('GET', 'artifacts/list', { run_id: runId, path: 'model' });
    expect(listed).toEqual({
      root_uri: `${root}/${runId}/artifacts`,
      files: [{ path: 'model/MLmodel', is_dir: false, file_size: 3 }],
    });
  });
});

describe('an s3:// destination', () => {
  let s3: S3TestServer;
  let handle: MlflowServerHandle;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['mlflow-bucket'] });
    // The AWS SDK's default provider chain reads these, as it would on a real deployment.
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    handle = await startMlflowServer({
      port: 0,
      artifactsDestination: 's3://mlflow-bucket/proxied',
      env: { MLOE_S3_ENDPOINT: s3.endpoint },
    });
  });
  afterAll(async () => {
    await handle?.close();
    await s3?.stop();
    for (const [name, value] of [
      ['AWS_ACCESS_KEY_ID', saved.id],
      ['AWS_SECRET_ACCESS_KEY', saved.secret],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('uploads, lists, downloads and deletes through the proxy', async () => {
    const bytes = randomBytes(64 * 1024);
    expect((await fetch(`${handle.url}${ROUTE}/3/r/artifacts/data.bin`, { method: 'PUT', body: bytes })).status).toBe(
      200,
    );
    await fetch(`${handle.url}${ROUTE}/3/r/artifacts/dir/x.txt`, { method: 'PUT', body: 'x' });
    const listed = (await (await fetch(`${handle.url}${ROUTE}?path=3/r/artifacts`)).json()) as { files: FileInfo[] };
    expect(listed.files).toEqual([
      { path: 'data.bin', is_dir: false, file_size: bytes.length },
      { path: 'dir', is_dir: true },
    ]);
    const got = await fetch(`${handle.url}${ROUTE}/3/r/artifacts/data.bin`);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    await fetch(`${handle.url}${ROUTE}/3/r/artifacts/dir`, { method: 'DELETE' });
    const after = (await (await fetch(`${handle.url}${ROUTE}?path=3/r/artifacts`)).json()) as { files: FileInfo[] };
    expect(after.files.map((f) => f.path)).toEqual(['data.bin']);
    expect((await fetch(`${handle.url}${ROUTE}/3/r/artifacts/missing.bin`)).status).toBe(404);
  });
});
