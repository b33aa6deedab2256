/**
 * What the trigger suites share (test/triggers*.test.ts): the lightest pipeline there is (one `note` step that hands
 * its URI back), an S3-compatible server (s3rver) with a bucket, a pipeline worker on a task queue of the suite's own,
 * and helpers to create triggers, put objects, list the runs a trigger started and wait on its `describe` query.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';

import { parseS3StoreConfig, s3ClientConfig } from '../../activities/artifacts';
import { createTrigger, describeTrigger, type CreateTriggerOptions } from '../../clients/triggers';
import type { TriggerDescription, TriggerSettings } from '../../workflows/trigger-types';
import { connect, type TestEnv } from '../devserver/harness';
import { startPipelineTestWorker, type PipelineTestWorker } from '../pipeline-harness';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../s3-server';
import { pollUntil } from './poll';
import { triggerSpec, triggerSteps } from './triggers-pipeline';

export { triggerSpec, triggerSteps } from './triggers-pipeline';

/** The bucket every trigger suite watches (under a prefix per test). */
export const TRIGGER_BUCKET = 'incoming';

/** A run a trigger started, as visibility lists it. */
export interface TriggeredRun {
  workflowId: string;
  status: string;
  /** The run's `uri` parameter (its memo). */
  uri: string;
  /** The objects it covers (its memo). */
  objects: number;
  /** The run's `objects` parameter (its memo), for debounced runs: the manifest's URI. */
  objectsManifest?: string;
}

/** The `runPipeline` runs that trigger `trigger` started (by the `MloeTrigger` search attribute). */
export async function runsOf(client: Client, trigger: string): Promise<TriggeredRun[]> {
  const runs: TriggeredRun[] = [];
  const query = `WorkflowType = 'runPipeline' AND MloeTrigger = '${trigger}'`;
  for await (const execution of client.workflow.list({ query, pageSize: 1000 })) {
    const memo = execution.memo as
      { params?: { uri?: string; objects?: string }; trigger?: { objects?: number } } | undefined;
    runs.push({
      workflowId: execution.workflowId,
      status: execution.status.name,
      uri: memo?.params?.uri ?? '',
      objects: memo?.trigger?.objects ?? 0,
      ...(memo?.params?.objects === undefined ? {} : { objectsManifest: memo.params.objects }),
    });
  }
  return runs;
}

/** Polls trigger `name`'s `describe` query until `check` holds; answers that description. */
export function describeWhen(
  client: Client,
  name: string,
  what: string,
  check: (d: TriggerDescription) => boolean,
  timeoutMs = 60_000,
): Promise<TriggerDescription> {
  return pollUntil(
    what,
    async () => {
      const description = await describeTrigger(client, name);
      return check(description) ? description : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** The S3 settings of a test server (s3rver), as workers and clients take them. */
export function s3SettingsOf(s3: S3TestServer): { endpoint: string; credentials: typeof S3RVER_CREDENTIALS } {
  return { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS };
}

/** Puts an object into the suites' bucket; answers its ETag (without quotes). */
export async function putObject(raw: S3Client, key: string, body: string | Uint8Array = key): Promise<string> {
  const answer = await raw.send(new PutObjectCommand({ Bucket: TRIGGER_BUCKET, Key: key, Body: body }));
  return (answer.ETag ?? '').replace(/"/g, '');
}

/** Options of a trigger of a suite: the suite's pipeline, task queue and directories, named `<name>-<suffix>`. */
export type TriggerTestOptions = Partial<CreateTriggerOptions> & { on: string };

/** The state of a trigger suite on the jest dev server ({@link startTriggerSuite}). */
export interface TriggerSuite {
  s3: S3TestServer;
  /** A client of the S3 server, to put objects. */
  raw: S3Client;
  client: Client;
  /** A temporary directory: artifact root and working directory of the runs. */
  root: string;
  taskQueue: string;
  /** Appended to trigger names: unique per suite run. */
  suffix: string;
  /** The full options of trigger `<name>-<suffix>`. */
  triggerOptions: (name: string, options: TriggerTestOptions) => CreateTriggerOptions;
  /** Creates trigger `<name>-<suffix>`. */
  create: (name: string, options: TriggerTestOptions) => Promise<TriggerSettings>;
  /** Puts an object into {@link TRIGGER_BUCKET}; answers its ETag. */
  put: (key: string, body?: string | Uint8Array) => Promise<string>;
  /** The runs trigger `name` started. */
  runsOf: (name: string) => Promise<TriggeredRun[]>;
  /** Polls trigger `name`'s description until `check` holds. */
  describeWhen: (
    name: string,
    what: string,
    check: (d: TriggerDescription) => boolean,
    timeoutMs?: number,
  ) => Promise<TriggerDescription>;
  /** Stops the suite's worker as `mloe worker` does on SIGTERM, and starts another. */
  restartWorker: () => Promise<void>;
  /** Stops the worker and the servers and removes the directory. */
  stop: () => Promise<void>;
}

/** Starts s3rver, a pipeline worker with {@link triggerSteps} on a queue of its own, and connects a client. */
export async function startTriggerSuite(): Promise<TriggerSuite> {
  const root = await mkdtemp(join(tmpdir(), 'mloe-triggers-'));
  const s3 = await startS3Server({ buckets: [TRIGGER_BUCKET] });
  const raw = new S3Client(s3ClientConfig(parseS3StoreConfig(s3SettingsOf(s3))));
  const taskQueue = `mloe-triggers-${process.pid}-${Date.now()}`;
  const suffix = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let env: TestEnv | undefined;
  let worker: PipelineTestWorker | undefined;
  const startWorker = (): Promise<PipelineTestWorker> =>
    startPipelineTestWorker({
      taskQueue,
      steps: triggerSteps,
      maxConcurrentActivityTaskExecutions: 200,
      // A restart as `mloe worker` does one on SIGTERM: running activities may finish first.
      shutdownGraceTimeMs: 10_000,
      artifactStore: { s3: s3SettingsOf(s3) },
    });
  const stop = async (): Promise<void> => {
    await worker?.stop();
    await env?.close();
    raw.destroy();
    await s3.stop();
    await rm(root, { recursive: true, force: true });
  };
  try {
    env = await connect();
    worker = await startWorker();
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const client = env.client;
  const triggerOptions = (name: string, options: TriggerTestOptions): CreateTriggerOptions => ({
    spec: triggerSpec,
    name: `${name}-${suffix}`,
    poll: '300ms',
    taskQueue,
    artifactRoot: root,
    workingDir: root,
    descriptors: triggerSteps.descriptors,
    noCache: true,
    ...options,
  });
  return {
    s3,
    raw,
    client,
    root,
    taskQueue,
    suffix,
    triggerOptions,
    create: (name, options) => createTrigger(client, triggerOptions(name, options)),
    put: (key, body) => putObject(raw, key, body),
    runsOf: (name) => runsOf(client, name),
    describeWhen: (name, what, check, timeoutMs) => describeWhen(client, name, what, check, timeoutMs),
    restartWorker: async () => {
      const old = worker;
      worker = undefined;
      await old?.stop();
      worker = await startWorker();
    },
    stop,
  };
}
