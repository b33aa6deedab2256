/**
 * Pipeline schedules over long stretches of time, with real pipeline workers: on mloe's time-skipping test server
 * (`createMloeTimeSkippingEnv`), a month of a daily schedule in seconds (every run once, named and parameterised by
 * its day) and overlap policies against runs that last longer than a day (a step whose retry waits 26 or 36 hours);
 * and on an in-process dev server with an injected clock, catch-up after the server was down for days (the times
 * inside the catch-up window run once the server and a worker are back, the older ones are counted as missed).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';

import { BUILTIN_IMPLEMENTATIONS, createStepImplementations, type StepImplementation } from '../activities/steps';
import { getPipelineStatus } from '../clients/pipelines';
import {
  createPipelineSchedule,
  deletePipelineSchedule,
  describePipelineSchedule,
} from '../clients/schedules/schedules';
import { MloeError } from '../core/errors';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { startDevServer } from '../infra/devserver';
import { createPipelineWorker } from '../workers/pipeline-worker';
import { registerSearchAttributes } from '../workers/search-attributes';
import { runInBackground } from './devserver/harness';
import { createMloeTimeSkippingEnv } from './devserver/time-skipping-env';
import { ECHO_STEP } from './fixtures/test-steps';
import { suiteWorkflowBundle } from './pipeline-harness';
import { pollUntil } from './support/poll';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** `flaky-once@1`: fails its first attempt (retryably), so the step's retry backoff makes the run last. */
const FLAKY_ONCE: StepImplementation = {
  descriptor: { name: 'flaky-once', version: '1', inputs: {}, outputs: { attempt: { type: 'integer' } } },
  async run(_inputs, context) {
    if (context.attempt === 1) throw new MloeError('ARTIFACT_STORE_FAILED', 'first attempt fails', { retryable: true });
    return { outputs: { attempt: context.attempt } };
  },
};

const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [ECHO_STEP, FLAKY_ONCE]);
const descriptors = [...BUILTIN_STEPS, ECHO_STEP.descriptor, FLAKY_ONCE.descriptor];

/** A daily pipeline echoing its scheduled time. */
const echoSpec = (name: string): Record<string, unknown> => ({
  apiVersion: 'mloe.dev/v1',
  kind: 'Pipeline',
  metadata: { name },
  params: { scheduledTime: { type: 'string', default: '' } },
  steps: { say: { uses: 'echo@1', with: { message: 'data up to ${{ params.scheduledTime }}' } } },
});

/** A pipeline that lasts `backoff` of server time: its one step fails once and is retried after that long. */
const slowSpec = (name: string, backoff: string): Record<string, unknown> => ({
  apiVersion: 'mloe.dev/v1',
  kind: 'Pipeline',
  metadata: { name },
  steps: {
    train: { uses: 'flaky-once@1', retry: { maxAttempts: 2, initialInterval: backoff, maximumInterval: backoff } },
  },
});

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The runs of a schedule by visibility: id, status, start and close times. */
async function runsOf(
  client: Client,
  name: string,
): Promise<{ workflowId: string; status: string; start: number; close?: number }[]> {
  const out: { workflowId: string; status: string; start: number; close?: number }[] = [];
  for await (const run of client.workflow.list({ query: `MloeSchedule = '${name}'` })) {
    out.push({
      workflowId: run.workflowId,
      status: run.status.name,
      start: run.startTime.getTime(),
      ...(run.closeTime === undefined ? {} : { close: run.closeTime.getTime() }),
    });
  }
  return out.sort((a, b) => (a.workflowId < b.workflowId ? -1 : 1));
}

describe('schedules with time skipping', () => {
  let env: TestWorkflowEnvironment;
  let stopWorker: () => Promise<void>;
  let dir: string;
  const taskQueue = `mloe-schedules-skip-${randomUUID()}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mloe-schedules-skip-'));
    env = await createMloeTimeSkippingEnv();
    const { code } = await suiteWorkflowBundle();
    stopWorker = runInBackground(
      await createPipelineWorker({ connection: env.nativeConnection, taskQueue, workflowBundle: { code }, steps }),
    );
  }, 120_000);

  afterAll(async () => {
    await stopWorker?.();
    await env?.teardown();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Sleeps in server time until `at` (ms since the epoch). */
  const sleepUntil = async (at: number): Promise<void> => env.sleep(at - (await env.currentTimeMs()));
  const nextMidnight = async (): Promise<number> => Math.ceil((await env.currentTimeMs()) / DAY) * DAY;

  test('a month of a daily schedule: 30 runs, one a day, each with its day as scheduled time', async () => {
    const name = `month-${randomUUID().slice(0, 8)}`;
    const first = await nextMidnight();
    await createPipelineSchedule(env.client, {
      name,
      spec: echoSpec(`month-${randomUUID().slice(0, 8)}`),
      timing: { every: ['1d'] },
      taskQueue,
      descriptors,
      artifactRoot: dir,
      workingDir: dir,
    });
    await sleepUntil(first + 29 * DAY + 12 * HOUR);
    const runs = await runsOf(env.client, name);
    const days = Array.from({ length: 30 }, (_, i) => rfc3339(first + i * DAY));
    expect(runs.map((r) => r.workflowId)).toEqual(days.map((day) => `${name}-${day}`));
    expect(runs.every((r) => r.status === 'COMPLETED')).toBe(true);
    const described = await describePipelineSchedule(env.client, name);
    expect(described.counts).toEqual({ taken: 30, skippedOverlap: 0, missedCatchupWindow: 0 });
    expect(described.nextRuns[0]?.getTime()).toBe(first + 30 * DAY);
    // Last: the time-skipping client lets time run on while it waits for a result.
    for (const day of [days[0], days[14], days[29]]) {
      const status = await getPipelineStatus(env.client, `${name}-${day ?? ''}`);
      expect(status.params.scheduledTime).toBe(day);
      expect(status.steps[0]?.outputs?.message).toBe(`data up to ${day ?? ''}`);
    }
    await deletePipelineSchedule(env.client, name);
  }, 600_000);

  test('overlap skip: a run lasting 36 hours skips the next day', async () => {
    const name = `skip-${randomUUID().slice(0, 8)}`;
    const first = await nextMidnight();
    await createPipelineSchedule(env.client, {
      name,
      spec: slowSpec(`skip-${randomUUID().slice(0, 8)}`, '36h'),
      timing: { every: ['1d'] },
      overlap: 'skip',
      noCache: true,
      taskQueue,
      descriptors,
      artifactRoot: dir,
      workingDir: dir,
    });
    await sleepUntil(first + 5 * DAY + 18 * HOUR);
    const runs = await runsOf(env.client, name);
    // Days 1, 3 and 5 run (each until noon the next day); days 2, 4 and 6 find a run going and are skipped.
    expect(runs.map((r) => r.workflowId)).toEqual([0, 2, 4].map((d) => `${name}-${rfc3339(first + d * DAY)}`));
    expect(runs.every((r) => r.status === 'COMPLETED')).toBe(true);
    const described = await describePipelineSchedule(env.client, name);
    expect(described.counts).toEqual({ taken: 3, skippedOverlap: 3, missedCatchupWindow: 0 });
    await deletePipelineSchedule(env.client, name);
  }, 600_000);

  test('overlap buffer-all: runs lasting 26 hours run one after another, none skipped, none overlapping', async () => {
    const name = `buffer-${randomUUID().slice(0, 8)}`;
    const first = await nextMidnight();
    await createPipelineSchedule(env.client, {
      name,
      spec: slowSpec(`buffer-${randomUUID().slice(0, 8)}`, '26h'),
      timing: { every: ['1d'] },
      overlap: 'buffer-all',
      noCache: true,
      taskQueue,
      descriptors,
      artifactRoot: dir,
      workingDir: dir,
    });
    await sleepUntil(first + 3 * DAY + 12 * HOUR);
    const runs = await runsOf(env.client, name);
    expect(runs.map((r) => r.workflowId)).toEqual([0, 1, 2, 3].map((d) => `${name}-${rfc3339(first + d * DAY)}`));
    expect(runs.slice(0, 3).every((r) => r.status === 'COMPLETED')).toBe(true);
    expect(runs[3]?.status).toBe('RUNNING');
    // Each run starts when the one before ends: the second at 02:00 of day 2, the third at 04:00 of day 3, …
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]?.start).toBeGreaterThanOrEqual(runs[i - 1]?.close ?? Number.POSITIVE_INFINITY);
    }
    expect(runs[1]?.start).toBeGreaterThanOrEqual(first + DAY + 2 * HOUR);
    const described = await describePipelineSchedule(env.client, name);
    expect(described.counts).toMatchObject({ taken: 4, skippedOverlap: 0 });
    await deletePipelineSchedule(env.client, name);
    await env.client.workflow.getHandle(runs[3]?.workflowId ?? '').terminate('test over');
  }, 600_000);
});

describe('catch-up after the server was down', () => {
  test('times inside the catch-up window run once the server and a worker are back; older ones are missed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mloe-schedules-catchup-'));
    const dbFilename = join(dir, 'state.db');
    let now = Date.parse('2026-01-01T00:00:05Z');
    const clock = { now: () => now };
    const name = `catchup-${randomUUID().slice(0, 8)}`;
    try {
      let server = await startDevServer({ port: 0, dbFilename, clock });
      let connection = await Connection.connect({ address: server.address });
      try {
        await registerSearchAttributes(connection, 'default');
        const client = new Client({ connection });
        await createPipelineSchedule(client, {
          name,
          spec: echoSpec(`catchup-${randomUUID().slice(0, 8)}`),
          timing: { every: ['1d'] },
          overlap: 'buffer-all',
          catchupWindow: '2d',
          taskQueue: `catchup-${name}`,
          descriptors,
          artifactRoot: dir,
          workingDir: dir,
        });
      } finally {
        await connection.close();
        await server.close();
      }

      // Down for five days: January 2, 3 and 4 are more than two days late, January 5 and 6 are not.
      now = Date.parse('2026-01-06T00:00:05Z');
      server = await startDevServer({ port: 0, dbFilename, clock });
      connection = await Connection.connect({ address: server.address });
      const nativeConnection = await NativeConnection.connect({ address: server.address });
      const { code } = await suiteWorkflowBundle();
      const stop = runInBackground(
        await createPipelineWorker({
          connection: nativeConnection,
          taskQueue: `catchup-${name}`,
          workflowBundle: { code },
          steps,
        }),
      );
      try {
        const client = new Client({ connection });
        const runs = await pollUntil(
          'two caught-up runs completed',
          async () => {
            const all = await runsOf(client, name);
            return all.length === 2 && all.every((r) => r.status === 'COMPLETED') ? all : undefined;
          },
          { timeoutMs: 90_000 },
        );
        const days = ['2026-01-05T00:00:00Z', '2026-01-06T00:00:00Z'];
        expect(runs.map((r) => r.workflowId)).toEqual(days.map((day) => `${name}-${day}`));
        for (const day of days) {
          expect((await getPipelineStatus(client, `${name}-${day}`)).params.scheduledTime).toBe(day);
        }
        const described = await describePipelineSchedule(client, name);
        expect(described.counts).toEqual({ taken: 2, skippedOverlap: 0, missedCatchupWindow: 3 });
        expect(described.catchupWindowMs).toBe(2 * DAY);
      } finally {
        await stop();
        await nativeConnection.close();
        await connection.close();
        await server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
