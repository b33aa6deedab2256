/**
 * A burst of 1,000 objects on an S3-compatible server (s3rver) starts exactly 1,000 runs of a trivial pipeline, one
 * per object, with ids derived from each object's URI and ETag, although the worker is replaced in the middle; and a
 * batch of starts repeated (as a retried activity repeats it after a crash) starts nothing. The other trigger
 * behaviours are in triggers.test.ts; this suite is on its own because it is the heaviest.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';

import { parseS3StoreConfig, s3ClientConfig } from '../activities/artifacts';
import { BUILTIN_IMPLEMENTATIONS, createStepImplementations, type StepImplementations } from '../activities/steps';
import {
  createTrigger,
  deleteTrigger,
  describeTrigger,
  prepareTrigger,
  type CreateTriggerOptions,
} from '../clients/triggers';
import { startTriggeredRuns } from '../activities/triggers/start-runs';
import type { TriggerDescription } from '../workflows/trigger-types';
import { connect, type TestEnv } from './devserver/harness';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';
import { pollUntil } from './support/poll';

jest.setTimeout(900_000);

const BUCKET = 'incoming';
const BURST = 1_000;

/** The lightest pipeline there is: one step that hands its URI back. */
const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [
  {
    descriptor: {
      name: 'note',
      version: '1',
      inputs: { uri: { type: 'string' } },
      outputs: { uri: { type: 'string' } },
    },
    async run(inputs) {
      return { outputs: { uri: typeof inputs.uri === 'string' ? inputs.uri : '' } };
    },
  },
]);

const spec = {
  apiVersion: 'mloe.dev/v1',
  kind: 'Pipeline',
  metadata: { name: 'on-arrival' },
  params: { uri: { type: 'string' } },
  steps: { note: { uses: 'note@1', with: { uri: '${{ params.uri }}' } } },
};

interface TriggeredRun {
  workflowId: string;
  status: string;
  uri: string;
  objects: number;
}

describe('a burst of 1,000 objects', () => {
  let s3: S3TestServer;
  let raw: S3Client;
  let worker: PipelineTestWorker | undefined;
  let env: TestEnv;
  let client: Client;
  let root: string;
  const taskQueue = `mloe-triggers-${process.pid}-${Date.now()}`;
  const suffix = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const s3Settings = (): { endpoint: string; credentials: typeof S3RVER_CREDENTIALS } => ({
    endpoint: s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  const startWorker = (): Promise<PipelineTestWorker> =>
    startPipelineTestWorker({
      taskQueue,
      steps,
      maxConcurrentActivityTaskExecutions: 200,
      // A restart as `mloe worker` does one on SIGTERM: running activities may finish first.
      shutdownGraceTimeMs: 10_000,
      artifactStore: { s3: s3Settings() },
    });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mloe-triggers-'));
    s3 = await startS3Server({ buckets: [BUCKET] });
    raw = new S3Client(s3ClientConfig(parseS3StoreConfig(s3Settings())));
    env = await connect();
    client = env.client;
    worker = await startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await env?.close();
    raw?.destroy();
    await s3?.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const triggerOptions = (
    name: string,
    options: Partial<CreateTriggerOptions> & { on: string },
  ): CreateTriggerOptions => ({
    spec,
    name: `${name}-${suffix}`,
    poll: '300ms',
    taskQueue,
    artifactRoot: root,
    workingDir: root,
    descriptors: steps.descriptors,
    noCache: true,
    ...options,
  });
  const create = (name: string, options: Partial<CreateTriggerOptions> & { on: string }) =>
    createTrigger(client, triggerOptions(name, options));

  const put = async (key: string, body: string | Uint8Array = key): Promise<string> => {
    const answer = await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    return (answer.ETag ?? '').replace(/"/g, '');
  };

  const runsOf = async (trigger: string): Promise<TriggeredRun[]> => {
    const runs: TriggeredRun[] = [];
    const query = `WorkflowType = 'runPipeline' AND MloeTrigger = '${trigger}'`;
    for await (const execution of client.workflow.list({ query, pageSize: 1000 })) {
      const memo = execution.memo as { params?: { uri?: string }; trigger?: { objects?: number } } | undefined;
      runs.push({
        workflowId: execution.workflowId,
        status: execution.status.name,
        uri: memo?.params?.uri ?? '',
        objects: memo?.trigger?.objects ?? 0,
      });
    }
    return runs;
  };

  const describeWhen = (name: string, what: string, check: (d: TriggerDescription) => boolean, timeoutMs = 60_000) =>
    pollUntil(
      what,
      async () => {
        const description = await describeTrigger(client, name);
        return check(description) ? description : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );

  it('starts exactly one run per object of a 1,000-object burst, across a worker restart', async () => {
    const name = `burst-${suffix}`;
    await create('burst', { on: `s3://${BUCKET}/burst/`, poll: '500ms' });
    try {
      await describeWhen(name, 'the baseline listing', (d) => d.counters.polls >= 1);
      const etags = new Map<string, string>();
      const keys = Array.from({ length: BURST }, (_, i) => `burst/object-${String(i).padStart(4, '0')}.csv`);
      for (let i = 0; i < keys.length; i += 25) {
        await Promise.all(keys.slice(i, i + 25).map(async (key) => etags.set(key, await put(key))));
      }
      // The worker goes away mid-stream and another takes over: the trigger replays from its history.
      await pollUntil('a third of the runs started', async () => (await runsOf(name)).length >= BURST / 3, {
        timeoutMs: 300_000,
        intervalMs: 500,
      });
      await worker?.stop();
      worker = undefined;
      worker = await startWorker();

      const runs = await pollUntil(
        'every run completed',
        async () => {
          const listed = await runsOf(name);
          return listed.length >= BURST && listed.every((run) => run.status === 'COMPLETED') ? listed : undefined;
        },
        { timeoutMs: 420_000, intervalMs: 1_000 },
      );
      const expected = new Map(
        keys.map((key) => {
          const uri = `s3://${BUCKET}/${key}`;
          const digest = createHash('sha256')
            .update(`${uri}\n${etags.get(key) ?? ''}`)
            .digest('hex');
          return [`${name}-${digest.slice(0, 32)}`, uri];
        }),
      );
      expect(runs).toHaveLength(BURST);
      expect(new Set(runs.map((run) => run.workflowId))).toEqual(new Set(expected.keys()));
      for (const run of runs) expect(run.uri).toBe(expected.get(run.workflowId));
      const description = await describeTrigger(client, name);
      expect(description.counters).toMatchObject({ runsStarted: BURST, objectsSeen: BURST });
      expect(description.pending).toBe(0);

      // A batch started again (as a retried activity after a crash does) starts nothing: every run exists.
      const input = await prepareTrigger(triggerOptions('burst', { on: `s3://${BUCKET}/burst/` }));
      const batch = [...expected]
        .slice(0, 50)
        .map(([runId, uri]) => ({ runId, uri, objects: 1, firstKey: uri, lastKey: uri }));
      const again = await startTriggeredRuns(client, { ...input, runs: batch });
      expect(again.every((run) => run.existing)).toBe(true);
      expect(await runsOf(name)).toHaveLength(BURST);
    } finally {
      await deleteTrigger(client, name);
    }
  });
});
