/**
 * `register@1` through the `runStep` activity (`MockActivityEnvironment`), against the jest MLflow server
 * (`MLFLOW_TEST_TRACKING_URI`) and read back through the typed client: the version, its source (the content-addressed
 * MLflow model directory: uploaded to the pipeline run's artifacts for a file store, in the bucket for an s3:// one),
 * its run, tags, `MLmodel` and alias; retries that complete what an earlier attempt began and never make a second
 * version; and the refusal on a worker that tracks nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse } from 'yaml';

import {
  FileArtifactStore,
  S3ArtifactStore,
  parseS3StoreConfig,
  putJson,
  s3ClientConfig,
  type ArtifactRef,
  type ArtifactStore,
} from '../activities/artifacts';
import { createMlflowClient, mlflowConfig, type MlflowClient, type ModelVersion } from '../activities/mlflow';
import { createRunStep, type RunStepRequest, type RunStepResult } from '../activities/steps';
import { MlflowTracker, trackingConfigFromEnv, type MlflowRunLink } from '../activities/tracking';
import type { JsonValue } from '../core/spec';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';
import { trackRunningPipeline } from './support/ml-fixtures';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const BUCKET = 'models';

const tagsOf = (version: ModelVersion): Record<string, string> =>
  Object.fromEntries(version.tags.map((tag) => [tag.key, tag.value]));

describe('register@1', () => {
  let directory: string;
  let mlflow: MlflowClient;
  let tracker: MlflowTracker;
  const suffix = `${process.pid}-${Math.floor(Math.random() * 1e6)}`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-register-test-'));
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    tracker = new MlflowTracker(config, { warn: () => undefined });
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
  });

  afterAll(async () => {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  /** A pipeline run as `recordRun` tracks its start. */
  async function pipelineRun(workflowId: string, pipeline: string): Promise<MlflowRunLink> {
    return trackRunningPipeline(tracker, pipeline, workflowId, `${workflowId}-run`);
  }

  /** Runs the step as the worker does, as attempt `attempt`. */
  function register(
    store: ArtifactStore,
    workflowId: string,
    pipeline: string,
    inputs: Record<string, JsonValue>,
    options: { attempt?: number; withTracking?: boolean; tracker?: MlflowTracker } = {},
  ): Promise<RunStepResult> {
    const runStep = createRunStep(undefined, {
      stores: () => store,
      ...(options.withTracking === false ? {} : { tracking: options.tracker ?? tracker }),
      warn: () => undefined,
    });
    const request: RunStepRequest = {
      stepId: 'register',
      workflowId,
      firstExecutionRunId: `${workflowId}-run`,
      pipeline,
      uses: 'register@1',
      inputs,
      params: {},
      outputs: {},
      workingDir: directory,
    };
    return new MockActivityEnvironment({ attempt: options.attempt ?? 1 }).run(runStep, request);
  }

  async function versions(name: string): Promise<ModelVersion[]> {
    const page = await mlflow.modelVersions.search({ filter: `name = '${name}'` });
    return page.items.sort((a, b) => Number(a.version) - Number(b.version));
  }

  it('registers the model: source, run, tags, MLmodel and alias; a retry completes the same version', async () => {
    const store = new FileArtifactStore({ root: join(directory, 'store') });
    const model: ArtifactRef = await putJson(
      store,
      { coefficients: [1, 2] },
      { type: 'model', metadata: { kind: 'ols' } },
    );
    const name = `model-${suffix}`;
    const workflowId = `reg-${suffix}`;
    const link = await pipelineRun(workflowId, `pipe-${suffix}`);
    const inputs = {
      model,
      name,
      alias: 'champion',
      fileName: 'model.json',
      signatureInputs: ['sqft', { name: 'city', type: 'string' }],
      signatureOutputs: ['price'],
      tags: { team: 'ml' },
    };
    const result = await register(store, workflowId, `pipe-${suffix}`, inputs);
    expect(result.cache.decision).toBe('disabled'); // never served from the cache
    const [version, ...others] = await versions(name);
    expect(others).toEqual([]);
    expect(version).toMatchObject({ version: '1', runId: link.runId, aliases: ['champion'], status: 'READY' });
    expect(result.outputs).toEqual({
      version: '1',
      modelUri: `models:/${name}/1`,
      source: version?.source,
      url: `${TRACKING_URI}/#/models/${name}/versions/1`,
    });
    const tags = tagsOf(version as ModelVersion);
    expect(tags).toMatchObject({
      team: 'ml',
      'mloe.execution': `${workflowId}/register`,
      'mloe.workflowId': workflowId,
      'mloe.stepId': 'register',
      'mloe.artifactDigest': model.digest,
      'mloe.artifactUri': model.uri,
    });

    // The MLflow model directory: content-addressed in the store (its name is the MLmodel's sha256), and, since a
    // file:// source is refused by MLflow, uploaded to the pipeline run's artifacts, which is the version's source.
    const packageDir = fileURLToPath(tags['mloe.modelPackage'] ?? '');
    const mlmodel = await readFile(join(packageDir, 'MLmodel'), 'utf8');
    const hex = createHash('sha256').update(mlmodel).digest('hex');
    expect(packageDir).toBe(join(directory, 'store', 'models', 'sha256', hex));
    const run = await mlflow.runs.get(link.runId);
    expect(version?.source).toBe(`${run.info.artifactUri}/models/sha256/${hex}`);
    const served = Buffer.from(await mlflow.artifacts.downloadBytes({ uri: version?.source ?? '', path: 'MLmodel' }));
    expect(served.toString('utf8')).toBe(mlmodel);
    const modelBytes = await mlflow.artifacts.downloadBytes({ uri: version?.source ?? '', path: 'model.json' });
    expect(`sha256:${createHash('sha256').update(modelBytes).digest('hex')}`).toBe(model.digest);
    const document = parse(mlmodel) as Record<string, unknown>;
    expect(document).toMatchObject({
      artifact_path: 'model',
      flavors: { mloe: { data: 'model.json', digest: model.digest, kind: 'ols' } },
      metadata: { mloe_artifact_digest: model.digest },
      model_size_bytes: model.size,
      model_uuid: model.digest.slice('sha256:'.length, 'sha256:'.length + 32),
    });
    const signature = document.signature as { inputs: string; outputs: string };
    expect(JSON.parse(signature.inputs)).toEqual([
      { type: 'double', name: 'sqft', required: true },
      { type: 'string', name: 'city', required: true },
    ]);
    expect(JSON.parse(signature.outputs)).toEqual([{ type: 'double', name: 'price', required: true }]);

    // A retry after the alias was lost (the attempt failed between version and alias): the same version, aliased.
    await mlflow.registeredModels.deleteAlias(name, 'champion');
    const retried = await register(store, workflowId, `pipe-${suffix}`, inputs, { attempt: 2 });
    expect(retried.outputs.version).toBe('1');
    expect((await versions(name)).map((v) => [v.version, v.aliases])).toEqual([['1', ['champion']]]);

    // Another run registers the next version; the alias moves to it.
    await pipelineRun(`${workflowId}-2`, `pipe-${suffix}`);
    const next = await register(store, `${workflowId}-2`, `pipe-${suffix}`, inputs);
    expect(next.outputs.version).toBe('2');
    expect((await versions(name)).map((v) => [v.version, v.aliases])).toEqual([
      ['1', []],
      ['2', ['champion']],
    ]);
  });

  it('keeps one version when the client resent a create whose answer was lost', async () => {
    // A proxy in front of the MLflow server that loses the answer of the first model-versions/create (after MLflow
    // made the version): the client resends it, and MLflow makes a second version of the same execution.
    let lost = 0;
    const proxy = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = chunks.length === 0 ? undefined : Buffer.concat(chunks);
        void fetch(`${TRACKING_URI}${request.url ?? ''}`, {
          method: request.method ?? 'GET',
          headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
          ...(body === undefined || request.method === 'GET' ? {} : { body }),
        }).then(async (answer) => {
          const text = await answer.text();
          if (request.url?.endsWith('/model-versions/create') === true && lost === 0) {
            lost += 1;
            response.writeHead(503).end();
            return;
          }
          response.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
        });
      });
    });
    await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
    const { port } = proxy.address() as AddressInfo;
    try {
      const config = trackingConfigFromEnv({
        MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0',
        MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0',
      });
      if (config === undefined) throw new Error('no configuration');
      const proxied = new MlflowTracker(config, { warn: () => undefined });
      const store = new FileArtifactStore({ root: join(directory, 'store') });
      const model = await putJson(store, { coefficients: [3] }, { type: 'model' });
      const name = `dup-${suffix}`;
      const workflowId = `dup-${suffix}`;
      await pipelineRun(workflowId, `pipe-${suffix}`);
      const result = await register(
        store,
        workflowId,
        `pipe-${suffix}`,
        { model, name, alias: 'a' },
        { tracker: proxied },
      );
      expect(lost).toBe(1);
      expect(result.outputs.version).toBe('1');
      // MLflow made version 2 from the resent create; the step deleted it before setting the alias.
      expect((await versions(name)).map((v) => [v.version, v.aliases])).toEqual([['1', ['a']]]);
    } finally {
      await new Promise<void>((done) => proxy.close(() => done()));
    }
  });

  it('fails with TRACKING_NOT_CONFIGURED, not retried, on a worker that tracks nothing', async () => {
    const store = new FileArtifactStore({ root: join(directory, 'store') });
    const model = await putJson(store, { coefficients: [4] }, { type: 'model' });
    const failure = await register(store, `none-${suffix}`, 'p', { model, name: 'x' }, { withTracking: false }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'TRACKING_NOT_CONFIGURED', nonRetryable: true });
    expect((failure as Error).message).toContain('MLFLOW_TRACKING_URI');
  });

  describe('on an s3:// store', () => {
    let s3: S3TestServer;
    let raw: S3Client;
    beforeAll(async () => {
      s3 = await startS3Server({ buckets: [BUCKET] });
      raw = new S3Client(
        s3ClientConfig(parseS3StoreConfig({ endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS })),
      );
    });
    afterAll(async () => {
      raw?.destroy();
      await s3?.stop();
    });

    it('registers the content-addressed model directory in the bucket as the source', async () => {
      const store = new S3ArtifactStore({
        bucket: BUCKET,
        prefix: 'team',
        config: { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS },
      });
      try {
        const model = await putJson(store, { coefficients: [5] }, { type: 'model' });
        const name = `s3-${suffix}`;
        const workflowId = `s3-${suffix}`;
        await pipelineRun(workflowId, `pipe-${suffix}`);
        const result = await register(store, workflowId, `pipe-${suffix}`, { model, name, fileName: 'model.json' });
        const source = result.outputs.source as string;
        expect(source).toMatch(new RegExp(`^s3://${BUCKET}/team/models/sha256/[0-9a-f]{64}$`));
        const key = source.slice(`s3://${BUCKET}/`.length);
        const mlmodel = await (
          await raw.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${key}/MLmodel` }))
        ).Body?.transformToString();
        expect(
          `${key}`.endsWith(
            createHash('sha256')
              .update(mlmodel ?? '')
              .digest('hex'),
          ),
        ).toBe(true);
        const stored = await (
          await raw.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${key}/model.json` }))
        ).Body?.transformToByteArray();
        expect(
          `sha256:${createHash('sha256')
            .update(stored ?? new Uint8Array())
            .digest('hex')}`,
        ).toBe(model.digest);
        expect((await versions(name))[0]?.source).toBe(source);
      } finally {
        await store.close();
      }
    });
  });
});
