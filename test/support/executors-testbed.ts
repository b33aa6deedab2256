/**
 * What the executor suites share: the test servers (s3rver as the artifact store the staging reaches through
 * presigned URLs, the Kubernetes API test server, the Batch test server), a dataset input, a scratch directory, the
 * executors configured for them, the `ExecutionContext` the `runStep` activity would give, and the Batch job
 * definitions the suites submit to (registered with `RegisterJobDefinition`, as an operator would).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BatchClient, RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';

import { S3ArtifactStore, type ArtifactRef } from '../../activities/artifacts';
import {
  BatchExecutor,
  KubernetesExecutor,
  type BatchExecutorConfigInput,
  type ExecutionContext,
  type KubernetesExecutorConfigInput,
  type RemoteProgress,
} from '../../activities/executors';
import { startBatchTestServer, type BatchTestServer, type BatchTestServerOptions } from '../../infra/aws-batch/server';
import { startKubernetesTestServer, type KubernetesTestServer } from '../../infra/kubernetes';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../s3-server';

/** Static credentials the Batch test server accepts (it checks no signature); a new object each time (the SDK marks it). */
export const batchTestCredentials = (): { accessKeyId: string; secretAccessKey: string } => ({
  accessKeyId: 'test',
  secretAccessKey: 'test',
});
/** The region of the Batch test server. */
export const BATCH_TEST_REGION = 'us-east-1';
/** The job definitions that play Batch's failure states (`infra/aws-batch/server.ts`). */
export const BATCH_SCENARIO_DEFINITIONS = [
  'mloe-test-oom',
  'mloe-test-imagepull',
  'mloe-test-host-terminated',
  'mloe-test-timeout',
  'mloe-test-hang',
] as const;

/** Which servers a suite wants. */
export interface TestbedOptions {
  bucket: string;
  kubernetes?: boolean;
  batch?: boolean | BatchTestServerOptions;
}

/** The servers and store of a suite. */
export interface ExecutorTestbed {
  s3: S3TestServer;
  store: S3ArtifactStore;
  /** The store's settings, for workers. */
  s3Settings: { endpoint: string; credentials: typeof S3RVER_CREDENTIALS };
  /** A three-line dataset in the store. */
  data: ArtifactRef;
  /** A scratch directory, removed by `close`. */
  directory: string;
  /** Present when asked for. */
  kube?: KubernetesTestServer;
  /** Present when asked for. */
  batch?: BatchTestServer;
  /** Stops everything started (and executors made with `kubernetesExecutor` / `batchExecutor`). */
  close(): Promise<void>;
  /** A Kubernetes executor on the test server (closed by `close`). */
  kubernetesExecutor(settings?: KubernetesExecutorConfigInput): KubernetesExecutor;
  /** A Batch executor on the test server (closed by `close`). */
  batchExecutor(settings?: BatchExecutorConfigInput): BatchExecutor;
  /** Registers a container job definition on the Batch test server; resolves with `name:revision`. */
  registerJobDefinition(name: string, image: string, secrets?: { name: string; valueFrom: string }[]): Promise<string>;
}

/** Starts what a suite asks for (see {@link TestbedOptions}). */
export async function startExecutorTestbed(options: TestbedOptions): Promise<ExecutorTestbed> {
  const [s3, kube, batch] = await Promise.all([
    startS3Server({ buckets: [options.bucket] }),
    options.kubernetes === true ? startKubernetesTestServer() : undefined,
    options.batch === undefined || options.batch === false
      ? undefined
      : startBatchTestServer(options.batch === true ? {} : options.batch),
  ]);
  const s3Settings = { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS };
  const store = new S3ArtifactStore({ bucket: options.bucket, prefix: 'team', config: s3Settings });
  const directory = await mkdtemp(join(tmpdir(), 'mloe-executors-'));
  const data = await store.put(Buffer.from('1\n2\n3\n'), { type: 'dataset' });
  const executors: { close(): Promise<void> }[] = [];
  const batchConfig = (settings: BatchExecutorConfigInput = {}): BatchExecutorConfigInput => {
    if (batch === undefined) throw new Error('the testbed has no Batch test server');
    return {
      region: BATCH_TEST_REGION,
      endpoint: batch.url,
      logsEndpoint: batch.url,
      credentials: batchTestCredentials(),
      pollIntervalMs: 50,
      manifestWaitMs: 5_000,
      ...settings,
    };
  };
  return {
    s3,
    store,
    s3Settings,
    data,
    directory,
    ...(kube === undefined ? {} : { kube }),
    ...(batch === undefined ? {} : { batch }),
    kubernetesExecutor(settings = {}) {
      if (kube === undefined) throw new Error('the testbed has no Kubernetes test server');
      const executor = new KubernetesExecutor({ kubeconfig: kube.kubeconfig(), pollIntervalMs: 50, ...settings });
      executors.push(executor);
      return executor;
    },
    batchExecutor(settings = {}) {
      const executor = new BatchExecutor(batchConfig(settings));
      executors.push(executor);
      return executor;
    },
    async registerJobDefinition(name, image, secrets) {
      if (batch === undefined) throw new Error('the testbed has no Batch test server');
      const client = new BatchClient({
        region: BATCH_TEST_REGION,
        endpoint: batch.url,
        credentials: batchTestCredentials(),
      });
      try {
        const registered = await client.send(
          new RegisterJobDefinitionCommand({
            jobDefinitionName: name,
            type: 'container',
            containerProperties: { image, ...(secrets === undefined ? {} : { secrets }) },
          }),
        );
        return `${name}:${registered.revision ?? 1}`;
      } finally {
        client.destroy();
      }
    },
    async close() {
      await Promise.all(executors.map((executor) => executor.close()));
      await batch?.close();
      await kube?.close();
      await store.close();
      await s3.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The context the `runStep` activity gives an executor, and the progress it reported. */
export function executionContext(
  store: ExecutionContext['store'],
  options: { attempt?: number; signal?: AbortSignal; timeoutMs?: number } = {},
): { value: ExecutionContext; reports: RemoteProgress[] } {
  const reports: RemoteProgress[] = [];
  const value: ExecutionContext = {
    attempt: options.attempt ?? 1,
    signal: options.signal ?? new AbortController().signal,
    store,
    progress: (progress) => reports.push(progress),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  };
  return { value, reports };
}

/** A stream's bytes. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
