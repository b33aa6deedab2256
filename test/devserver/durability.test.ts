/**
 * Durability of the dev server in `--db-filename` mode, through the real CLI: workflows left mid-run (on an activity
 * attempt, an attempt only the server can time out, a timer, signals, tasks still waiting in a queue) survive a
 * SIGKILL of the server process and a restart on the same database file and port, with the worker in this process
 * reconnecting on its own. RPCs acknowledged before the kill are never lost, completed runs keep their history byte
 * for byte, and no completed activity runs twice. A second server on a file that is in use fails fast.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';

import { findProcesses, killAllServers, processAlive, spawnServer, type ServerProcess } from './child-server';
import type * as durable from './fixtures/durable-workflows';
import { bundle, uniqueQueue } from './harness';
import { pollUntil } from '../support/poll';

const EventType = temporal.api.enums.v1.EventType;

/** A promise with its resolve function, for releasing activities from the test. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** Executions of each activity by argument (`name(arg)`), counted in this (the worker's) process. */
const executions: Record<string, number> = {};
const count = (call: string): void => {
  executions[call] = (executions[call] ?? 0) + 1;
};
const blockStarted = gate();
const releaseBlock = gate<string>();
const stallFirstAttempt = gate();
const releaseStall = gate();

const activities: durable.DurableActivities = {
  counted(value) {
    count(`counted(${value})`);
    return Promise.resolve(value);
  },
  async block(key) {
    count(`block(${key})`);
    blockStarted.open();
    return `${await releaseBlock.promise} ${key}`;
  },
  async stall(key) {
    count(`stall(${key})`);
    const { attempt } = Context.current().info;
    if (attempt === 1) {
      stallFirstAttempt.open();
      // The server's start-to-close timeout retries this attempt; its late answer is then rejected as stale.
      await releaseStall.promise;
      throw new Error(`attempt 1 of ${key} answered after its start-to-close timeout`);
    }
    return `attempt ${attempt}`;
  },
};

let dir: string;
let dbFile: string;
let port: number;
let server: ServerProcess;
/** Every server process this file started, to check none is left behind. */
const spawned: ServerProcess[] = [];
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let worker: Worker;
let workerRun: Promise<void>;
let workerError: unknown;
let workflowBundle: WorkflowBundleWithSourceMap;
const taskQueue = uniqueQueue('durable');
const lateQueue = uniqueQueue('durable-late');

const serverArgs = (p: number): string[] => [
  '--port',
  String(p),
  '--db-filename',
  dbFile,
  '--headless',
  '--log-level',
  'warn',
];

function startServer(args: string[]): ServerProcess {
  const started = spawnServer(args);
  spawned.push(started);
  return started;
}

function eventTypes(history: temporal.api.history.v1.IHistory): number[] {
  return (history.events ?? []).map((e) => Number(e.eventType));
}

/** Polls a workflow's history until it has an event of `type`; returns that event. */
async function waitForEvent(
  handle: WorkflowHandle,
  type: temporal.api.enums.v1.EventType,
): Promise<temporal.api.history.v1.IHistoryEvent> {
  return pollUntil(
    `${EventType[type]} in ${handle.workflowId}`,
    async () => {
      const history = await handle.fetchHistory();
      return history.events?.find((e) => e.eventType === type);
    },
    { timeoutMs: 15_000 },
  );
}

const timeMs = (ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  Number(ts?.seconds ?? 0) * 1000 + Math.floor((ts?.nanos ?? 0) / 1e6);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mloe-durability-'));
  dbFile = join(dir, 'state.db');
  workflowBundle = await bundle(require.resolve('./fixtures/durable-workflows'));
  server = startServer(serverArgs(0));
  const address = await server.ready();
  port = Number(address.slice(address.lastIndexOf(':') + 1));
  connection = await Connection.connect({ address });
  nativeConnection = await NativeConnection.connect({ address });
  client = new Client({ connection });
  worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle, activities });
  workerRun = worker.run().catch((err: unknown) => {
    workerError = err;
  });
});

afterAll(async () => {
  releaseBlock.open('released');
  releaseStall.open();
  if (worker && worker.getState() === 'RUNNING') worker.shutdown();
  await workerRun;
  await nativeConnection?.close();
  await connection?.close();
  await killAllServers();
  for (const { pid } of spawned) expect(processAlive(pid)).toBe(false);
  if (dbFile) expect(findProcesses(dbFile)).toEqual([]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('durability across SIGKILL and restart (--db-filename)', () => {
  it('resumes timers, signals and activities, keeps completed runs, and loses no acknowledged RPC', async () => {
    // A workflow that completes before the kill.
    const done = await client.workflow.start('completesEarly', {
      taskQueue,
      workflowId: uniqueQueue('done'),
      args: ['kept'],
    });
    expect(await done.result()).toBe('kept');
    const doneHistory = await done.fetchHistory();

    // Runs left mid-flight: a long activity attempt, an attempt the server must time out, a timer, a signal wait.
    const onActivity = await client.workflow.start('waitsOnActivity', {
      taskQueue,
      workflowId: uniqueQueue('activity'),
      args: ['b1'],
    });
    const onTimeout = await client.workflow.start('waitsOnActivityTimeout', {
      taskQueue,
      workflowId: uniqueQueue('timeout'),
      args: ['s1'],
    });
    const onTimer = await client.workflow.start('waitsOnTimer', { taskQueue, workflowId: uniqueQueue('timer') });
    const onSignal = await client.workflow.start('collectsSignals', {
      taskQueue,
      workflowId: uniqueQueue('signal'),
      args: [2],
    });
    // Tasks only in a queue at the kill: no worker polls `lateQueue` until after the restart.
    const queuedActivity = await client.workflow.start<typeof durable.callsActivityOn>('callsActivityOn', {
      taskQueue,
      workflowId: uniqueQueue('queued-activity'),
      args: [lateQueue, 'queued activity'],
    });
    const queuedWorkflow = await client.workflow.start<typeof durable.completesEarly>('completesEarly', {
      taskQueue: lateQueue,
      workflowId: uniqueQueue('queued-workflow'),
      args: ['queued workflow'],
    });
    await waitForEvent(queuedActivity, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    await blockStarted.promise;
    await stallFirstAttempt.promise;
    const timerStarted = await waitForEvent(onTimer, EventType.EVENT_TYPE_TIMER_STARTED);
    await waitForEvent(onSignal, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    // The RPCs under test: acknowledged, then the server dies at once.
    await onSignal.signal('word', 'before-kill');
    const startedLast = await client.workflow.start('completesEarly', {
      taskQueue,
      workflowId: uniqueQueue('last'),
      args: ['started before the kill'],
    });

    const killed = await server.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');

    // Stay down until the timer is overdue, so the restarted server has to fire it at once. A sleep, not a poll: the
    // passing of wall-clock time while the server is down is the scenario under test, and nothing else signals it.
    const fireAt = timeMs(timerStarted.eventTime) + 2000;
    expect(fireAt - Date.now()).toBeLessThan(5000);
    await delay(Math.max(0, fireAt + 101 - Date.now()));

    server = startServer(serverArgs(port));
    expect(await server.ready()).toBe(`127.0.0.1:${port}`);
    const readyAt = Date.now();

    // The acknowledged signal survived the kill.
    const signalHistory = await onSignal.fetchHistory();
    const signaled = signalHistory.events!.filter((e) => e.workflowExecutionSignaledEventAttributes);
    expect(signaled.map((e) => e.workflowExecutionSignaledEventAttributes!.signalName)).toEqual(['word']);

    // A signal sent after the restart is delivered, after the one sent before.
    await onSignal.signal('word', 'after-restart');
    expect(await onSignal.result()).toEqual(['before-kill', 'after-restart']);

    // The overdue timer fires at once, not a full timer duration after the restart.
    expect(await onTimer.result()).toBe('timer fired');
    const fired = (await onTimer.fetchHistory()).events!.find((e) => e.eventType === EventType.EVENT_TYPE_TIMER_FIRED)!;
    expect(timeMs(fired.eventTime)).toBeGreaterThanOrEqual(fireAt);
    expect(timeMs(fired.eventTime)).toBeLessThan(readyAt + 1500);

    // The attempt that spanned the restart completes with its original task token.
    releaseBlock.open('released');
    expect(await onActivity.result()).toBe('released b1');

    // The attempt lost with the old server is timed out by the new one (start-to-close 3 s) and retried.
    expect(await onTimeout.result()).toBe('attempt 2');
    const started = (await onTimeout.fetchHistory()).events!.find((e) => e.activityTaskStartedEventAttributes);
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(2);
    releaseStall.open();

    // Tasks that were waiting in queues at the kill are dispatched again after the restart.
    const lateWorker = await Worker.create({
      connection: nativeConnection,
      taskQueue: lateQueue,
      workflowBundle,
      activities,
    });
    const [queuedActivityResult, queuedWorkflowResult] = await lateWorker.runUntil(
      Promise.all([queuedActivity.result(), queuedWorkflow.result()]),
    );
    expect(queuedActivityResult).toBe('queued activity');
    expect(queuedWorkflowResult).toBe('queued workflow');

    // The run completed before the kill is intact: same result, byte-for-byte the same history.
    expect(await done.result()).toBe('kept');
    const doneAfter = await done.fetchHistory();
    expect(temporal.api.history.v1.History.encode(doneAfter).finish()).toEqual(
      temporal.api.history.v1.History.encode(doneHistory).finish(),
    );
    expect(eventTypes(doneAfter).at(-1)).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);

    // The run started just before the kill runs to completion after the restart.
    expect(await startedLast.result()).toBe('started before the kill');

    // Nothing completed ran twice: one execution of each, and two attempts (one timed out) of the stalled one.
    expect(executions).toEqual({
      'counted(kept)': 1,
      'counted(started before the kill)': 1,
      'counted(queued activity)': 1,
      'counted(queued workflow)': 1,
      'block(b1)': 1,
      'stall(s1)': 2,
    });

    // Every history written across the restart replays deterministically.
    for (const handle of [
      done,
      onActivity,
      onTimeout,
      onTimer,
      onSignal,
      startedLast,
      queuedActivity,
      queuedWorkflow,
    ]) {
      await Worker.runReplayHistory({ workflowBundle }, await handle.fetchHistory(), handle.workflowId);
    }
    expect(workerError).toBeUndefined();
  });

  it('refuses a second server on a database file in use, naming the file, with exit code 1', async () => {
    expect(server.hasExited()).toBe(false);
    const second = startServer(serverArgs(0));
    const exit = await second.exited;
    expect(exit).toEqual({ code: 1, signal: null });
    const { stdout, stderr } = second.output();
    expect(stdout).not.toMatch(/is running at/);
    expect(stderr).toContain(dbFile);
    expect(stderr).toMatch(/in use|locked/);

    // The first server is unaffected and still serves.
    expect(server.hasExited()).toBe(false);
    const handle = await client.workflow.start('completesEarly', {
      taskQueue,
      workflowId: uniqueQueue('after-lock'),
      args: ['still serving'],
    });
    expect(await handle.result()).toBe('still serving');
  });
});
