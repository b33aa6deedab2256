/**
 * The time-skipping test server (`bin/mloe-test-server.js`) behind `TestWorkflowEnvironment.createTimeSkipping()`
 * of `@temporalio/testing`, launched as an `existing-path` executable exactly as the SDK launches the Java test
 * server: a 30-day timer completes in seconds, `env.sleep()` skips, activity timeouts follow the skipped clock,
 * locked skipping runs at the real pace, unbalanced unlocks are refused, and teardown leaves no process.
 */
import { status } from '@grpc/grpc-js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';

import { findProcesses, processAlive } from './child-server';
import type * as workflows from './fixtures/time-skipping-workflows';
import { bundle, uniqueQueue } from './harness';
import { pollUntil } from '../support/poll';
import { createMloeTimeSkippingEnv, TEST_SERVER_BIN } from './time-skipping-env';
import { startTestServer } from '../../infra/devserver/time-skipping';
import { parseTestServerArgs } from '../../infra/test-server/main';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Real time any one scenario may take; skipped durations are days, so this cannot be met without skipping. */
const REAL_LIMIT_MS = 30_000;

let workflowBundle: WorkflowBundleWithSourceMap;
let env: TestWorkflowEnvironment;
let serverPid: number;

function serverPids(): number[] {
  const port = env.address.slice(env.address.lastIndexOf(':') + 1);
  return findProcesses(TEST_SERVER_BIN, port);
}

beforeAll(async () => {
  workflowBundle = await bundle(require.resolve('./fixtures/time-skipping-workflows'));
  env = await createMloeTimeSkippingEnv();
  const pids = serverPids();
  expect(pids).toHaveLength(1);
  serverPid = pids[0]!;
});

afterAll(async () => {
  if (serverPid && processAlive(serverPid)) await env.teardown();
});

/** Runs `body` with a worker on a fresh task queue whose activities can reach the environment. */
async function withWorker<T>(body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = uniqueQueue('time-skipping');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: {
      stamp: async (label: string) => `stamped ${label}`,
      // Holds its attempt for 2 hours of server time; the 1 hour start-to-close timeout fires first.
      overstay: async () => {
        await env.sleep(2 * HOUR);
        return 'too late';
      },
    },
  });
  return worker.runUntil(body(taskQueue));
}

describe('mloe-test-server through TestWorkflowEnvironment.createTimeSkipping', () => {
  it('serves the TestService and reports time skipping', async () => {
    expect(env.supportsTimeSkipping).toBe(true);
    const now = await env.currentTimeMs();
    expect(Math.abs(now - Date.now())).toBeLessThan(REAL_LIMIT_MS);
  });

  it('runs a workflow that sleeps 30 days and then calls an activity in a few seconds', async () => {
    const realStart = Date.now();
    const serverStart = await env.currentTimeMs();
    const result = await withWorker((taskQueue) =>
      env.client.workflow.execute<typeof workflows.sleepThenActivity>('sleepThenActivity', {
        taskQueue,
        workflowId: uniqueQueue('thirty-days'),
        args: ['30 days'],
      }),
    );
    expect(result.activity).toBe('stamped after sleep');
    expect(result.elapsedMs).toBeGreaterThanOrEqual(30 * DAY);
    expect(result.elapsedMs).toBeLessThan(30 * DAY + REAL_LIMIT_MS);
    expect((await env.currentTimeMs()) - serverStart).toBeGreaterThanOrEqual(30 * DAY);
    expect(Date.now() - realStart).toBeLessThan(REAL_LIMIT_MS);
  });

  it('env.sleep() skips a day at once and advances currentTimeMs by that day', async () => {
    const realStart = Date.now();
    const before = await env.currentTimeMs();
    await env.sleep('1 day');
    const after = await env.currentTimeMs();
    expect(after - before).toBeGreaterThanOrEqual(DAY);
    expect(after - before).toBeLessThan(DAY + REAL_LIMIT_MS);
    expect(Date.now() - realStart).toBeLessThan(REAL_LIMIT_MS);
  });

  it('times an activity out by its start-to-close timeout on the skipped clock', async () => {
    const realStart = Date.now();
    const workflowId = uniqueQueue('overstay');
    const result = await withWorker((taskQueue) =>
      env.client.workflow.execute<typeof workflows.activityTimesOut>('activityTimesOut', { taskQueue, workflowId }),
    );
    expect(result.timeoutType).toBe('START_TO_CLOSE');
    expect(result.elapsedMs).toBeGreaterThanOrEqual(HOUR);
    // The timeout was written exactly one hour (server time) after the attempt started.
    const { events } = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const time = (e: temporal.api.history.v1.IHistoryEvent | undefined): number =>
      Number(e?.eventTime?.seconds ?? 0) * 1000 + Math.floor((e?.eventTime?.nanos ?? 0) / 1e6);
    const scheduled = events!.find((e) => e.activityTaskScheduledEventAttributes);
    const timedOut = events!.find((e) => e.activityTaskTimedOutEventAttributes);
    expect(time(timedOut) - time(scheduled)).toBeGreaterThanOrEqual(HOUR);
    expect(time(timedOut) - time(scheduled)).toBeLessThan(HOUR + REAL_LIMIT_MS);
    // The activity's env.sleep() released its own lock only: no skip ran past a workflow task in flight.
    expect(events!.some((e) => e.workflowTaskTimedOutEventAttributes)).toBe(false);
    expect(Date.now() - realStart).toBeLessThan(REAL_LIMIT_MS);
  });

  it('does not skip while time skipping is locked, and skips once a result is awaited', async () => {
    const before = await env.currentTimeMs();
    const workflowId = uniqueQueue('locked');
    await withWorker(async (taskQueue) => {
      // start() does not await the result, so the server keeps its initial lock.
      const handle = await env.client.workflow.start<typeof workflows.sleeper>('sleeper', {
        taskQueue,
        workflowId,
        args: ['1 day'],
      });
      // The first workflow task has completed and only the timer is left: an unlocked server would skip now.
      await pollUntil(
        'the timer to start',
        async () => {
          const { events } = await handle.fetchHistory();
          return events!.some((e) => e.timerStartedEventAttributes);
        },
        { timeoutMs: 15_000 },
      );
      for (let i = 0; i < 5; i++) await handle.describe();
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect((await env.currentTimeMs()) - before).toBeLessThan(REAL_LIMIT_MS);

      // Awaiting the result unlocks skipping for as long as it waits.
      expect(await handle.result()).toBeGreaterThanOrEqual(DAY);
    });
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(DAY);
  });

  it('refuses an unbalanced UnlockTimeSkipping', async () => {
    const testService = env.connection.testService!;
    await testService.unlockTimeSkipping({});
    await expect(testService.unlockTimeSkipping({})).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    await testService.lockTimeSkipping({});
    // Balanced again: one lock held, so a second env.sleep still works.
    const before = await env.currentTimeMs();
    await env.sleep('2 hours');
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(2 * HOUR);
  });

  it('leaves no process after env.teardown()', async () => {
    await env.teardown();
    await pollUntil(`mloe-test-server ${serverPid} to exit`, () => !processAlive(serverPid));
    expect(serverPids()).toEqual([]);
  });
});

describe('startTestServer in-process', () => {
  it('skips to the next deadline only while unlocked and idle', async () => {
    const server = await startTestServer({ port: 0 });
    try {
      const { clock, skipper } = server;
      expect(skipper.lockCount()).toBe(1);
      const ac = new AbortController();
      const start = clock.now();
      // Sleep holds no lock: with the initial lock it would wait a real week; unlocking lets it skip there.
      let woke = false;
      const slept = skipper.waitUntil(start + 7 * DAY, ac.signal).then(() => (woke = true));
      await new Promise((r) => setImmediate(r));
      expect(woke).toBe(false);
      skipper.unlock();
      await slept;
      expect(clock.now() - start).toBeGreaterThanOrEqual(7 * DAY);
      expect(skipper.lockCount()).toBe(0);
      expect(() => skipper.unlock()).toThrow(/Unbalanced/);
      skipper.lock();
    } finally {
      await server.close();
    }
  });

  it('starts unlocked with enableTimeSkipping, like the Java server with --enable-time-skipping', async () => {
    const server = await startTestServer({ port: 0, enableTimeSkipping: true });
    try {
      expect(server.skipper.lockCount()).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('parses the command line the SDK and the Java server use', () => {
    expect(parseTestServerArgs(['7233'])).toEqual({ port: 7233 });
    expect(parseTestServerArgs(['0', '--enable-time-skipping', '--log-level', 'debug'])).toEqual({
      port: 0,
      enableTimeSkipping: true,
      logLevel: 'debug',
    });
    expect(() => parseTestServerArgs([])).toThrow(/port is required/);
    expect(() => parseTestServerArgs(['7233', '--db-filename', 'x'])).toThrow(/unexpected argument/);
    expect(() => parseTestServerArgs(['70000'])).toThrow(/out of range/);
  });
});
