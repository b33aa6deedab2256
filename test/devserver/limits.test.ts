/**
 * Temporal's per-workflow limits, on a dev server of this file's own with lowered limits (the defaults are
 * Temporal's: 2,000 pending, 51,200 events / 50 MB): pending activities, history count, suggest continue-as-new.
 */
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { TerminatedFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import * as activities from './fixtures/activities';
import { assertReplays, bundle, uniqueQueue } from './harness';
import { pollUntil } from '../support/poll';

const EventType = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
let server: DevServerHandle;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  server = await startDevServer({
    port: 0,
    limits: { maxPending: 5, maxHistoryCount: 60, warnHistoryCount: 40, suggestContinueAsNewCount: 30 },
  });
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection });
  workflowBundle = await bundle(require.resolve('./fixtures/limits-workflows'));
});
afterAll(async () => {
  await nativeConnection?.close();
  await connection?.close();
  await server?.close();
});

async function withWorker<T>(taskQueue: string, body: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle, activities });
  return worker.runUntil(body);
}

it('fails the workflow task that would exceed the pending-activities limit', async () => {
  const taskQueue = uniqueQueue();
  await withWorker(taskQueue, async () => {
    const handle = await client.workflow.start('manyPending', {
      taskQueue,
      workflowId: uniqueQueue('pending'),
      args: [6],
    });
    const failed = await pollUntil(`a WorkflowTaskFailed event in ${handle.workflowId}`, async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const f = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      return f && { f, events };
    });
    expect(failed.f.workflowTaskFailedEventAttributes?.cause).toBe(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
    );
    expect(failed.f.workflowTaskFailedEventAttributes?.failure?.message).toMatch(
      /^PendingActivitiesLimitExceeded: .*pending activities exceeds the limit of 5/,
    );
    // Nothing of the rejected completion was written.
    expect(failed.events.some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(false);
    await handle.terminate('test over');
  });
});

it('terminates a run whose history passes the event-count limit', async () => {
  const taskQueue = uniqueQueue();
  await withWorker(taskQueue, async () => {
    const handle = await client.workflow.start('endless', { taskQueue, workflowId: uniqueQueue('endless') });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
    const events = (await handle.fetchHistory()).events!;
    const last = events[events.length - 1]!;
    expect(last.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
    expect(last.workflowExecutionTerminatedEventAttributes?.reason).toMatch(/history count \d+ exceeds limit 60/);
    expect(events.length).toBeGreaterThan(60);
    expect(events.length).toBeLessThan(70);
  });
});

it('suggests continue-as-new once the history passes the suggestion threshold', async () => {
  const taskQueue = uniqueQueue();
  await withWorker(taskQueue, async () => {
    const handle = await client.workflow.start<() => Promise<number>>('untilSuggested', {
      taskQueue,
      workflowId: uniqueQueue('suggest'),
    });
    const count = await handle.result();
    expect(count).toBeGreaterThan(3);
    const events = (await handle.fetchHistory()).events!;
    const started = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
    const firstSuggested = started.findIndex((e) => e.workflowTaskStartedEventAttributes?.suggestContinueAsNew);
    expect(firstSuggested).toBeGreaterThan(0);
    expect(Number(started[firstSuggested]!.eventId)).toBeGreaterThanOrEqual(30);
    expect(Number(started[firstSuggested - 1]!.eventId)).toBeLessThan(31);
    await assertReplays(handle, workflowBundle);
  });
});
