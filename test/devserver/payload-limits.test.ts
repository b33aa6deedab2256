/**
 * Temporal's payload limits, on a dev server of this file's own with lowered limits (blob: error 64 KiB, warning
 * 16 KiB; memo: error 32 KiB, warning 1 KiB; the defaults are Temporal's 2 MiB / 512 KiB and 2 MiB / 2 KiB, and
 * malformed.test.ts checks the 2 MiB default): client calls over the limit are refused with Temporal's
 * INVALID_ARGUMENT message, activity completions, failures, heartbeats and cancellations over it fail the activity
 * with Temporal's non-retryable server failures, a query answer over it fails the query, and a workflow task command
 * over it fails the task and terminates the run, with the cause and message Temporal's history service uses.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { TerminatedFailure, WorkflowNotFoundError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import * as activities from './fixtures/payload-activities';
import {
  activityOnQueue,
  activityPayload,
  bigQuery,
  oversized,
  type ActivityOutcome,
  type OversizedKind,
} from './fixtures/payload-workflows';
import { assertReplays, bundle, runInBackground, uniqueQueue } from './harness';
import { grpcRejection, rejectionOf } from '../support/rejection';

const EventType = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const KiB = 1024;
/** Over the lowered blob error limit. */
const OVER = 100_000;
/** Over the blob warning limit and the memo error limit, under the blob error limit. */
const BETWEEN = 40_000;

let server: DevServerHandle;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let workflowBundle: WorkflowBundleWithSourceMap;
let stopWorker: () => Promise<void>;
const taskQueue = uniqueQueue('payloads');

beforeAll(async () => {
  server = await startDevServer({
    port: 0,
    logLevel: 'error',
    limits: {
      blobSizeLimitError: 64 * KiB,
      blobSizeLimitWarn: 16 * KiB,
      memoSizeLimitError: 32 * KiB,
      memoSizeLimitWarn: 1 * KiB,
    },
  });
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection });
  workflowBundle = await bundle(require.resolve('./fixtures/payload-workflows'));
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle, activities });
  stopWorker = runInBackground(worker);
});
afterAll(async () => {
  await stopWorker?.();
  await nativeConnection?.close();
  await connection?.close();
  await server?.close();
});

const wid = (name: string): string => `${name}-${randomUUID()}`;

async function eventsOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

const INVALID_ARGUMENT = 3;

describe('client calls over the limits are refused', () => {
  it('start input and memo, with Temporal messages; nothing is started', async () => {
    const bigInput = await grpcRejection(
      client.workflow.start(oversized, {
        taskQueue,
        workflowId: wid('big-input'),
        args: ['result', 1, 'i'.repeat(OVER)],
      }),
    );
    expect(bigInput).toMatchObject({ code: INVALID_ARGUMENT, details: 'Blob data size exceeds limit.' });
    const workflowId = wid('big-memo');
    const bigMemo = await grpcRejection(
      client.workflow.start(oversized, {
        taskQueue,
        workflowId,
        args: ['result', 1],
        memo: { big: 'm'.repeat(BETWEEN) },
      }),
    );
    expect(bigMemo).toMatchObject({ code: INVALID_ARGUMENT, details: 'Memo size exceeds limit.' });
    expect(await rejectionOf(client.workflow.getHandle(workflowId).describe())).toBeInstanceOf(WorkflowNotFoundError);
    // Between the warning and the error limits: accepted.
    const accepted = await client.workflow.start(oversized, {
      taskQueue,
      workflowId: wid('between'),
      args: ['activityInput', BETWEEN],
    });
    expect(await accepted.result()).toBe(BETWEEN);
  });

  it('signal and signal-with-start input; signal-with-start starts nothing', async () => {
    const handle = await client.workflow.start(bigQuery, { taskQueue, workflowId: wid('signalled'), args: [1] });
    const signal = await grpcRejection(handle.signal('anything', 's'.repeat(OVER)));
    expect(signal).toMatchObject({ code: INVALID_ARGUMENT, details: 'Blob data size exceeds limit.' });
    expect((await eventsOf(handle)).map((e) => e.eventType)).not.toContain(
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    );
    await handle.terminate();

    const workflowId = wid('signal-with-start');
    const withStart = await grpcRejection(
      client.workflow.signalWithStart(bigQuery, {
        taskQueue,
        workflowId,
        args: [1],
        signal: 'anything',
        signalArgs: ['s'.repeat(OVER)],
      }),
    );
    expect(withStart).toMatchObject({ code: INVALID_ARGUMENT, details: 'Blob data size exceeds limit.' });
    expect(await rejectionOf(client.workflow.getHandle(workflowId).describe())).toBeInstanceOf(WorkflowNotFoundError);
  });
});

describe('activity payloads over the limit fail the activity', () => {
  /** Runs the activity scenario and returns what the workflow saw and the activity's closing event. */
  async function scenario(
    kind: 'result' | 'failure' | 'heartbeat',
  ): Promise<{ outcome: ActivityOutcome; closed: HistoryEvent }> {
    const handle = await client.workflow.start(activityPayload, {
      taskQueue,
      workflowId: wid(kind),
      args: [kind, OVER],
    });
    const outcome = await handle.result();
    const events = await eventsOf(handle);
    const closed = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED)!;
    const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
    // Non-retryable: the first attempt was the last.
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    expect(closed.activityTaskFailedEventAttributes?.retryState).toBe(
      temporal.api.enums.v1.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE,
    );
    await assertReplays(handle, workflowBundle);
    return { outcome, closed };
  }

  it('a result over the limit: "Complete result exceeds size limit."', async () => {
    const { outcome, closed } = await scenario('result');
    expect(outcome).toMatchObject({
      ok: false,
      causeType: 'ServerFailure',
      causeMessage: 'Complete result exceeds size limit.',
    });
    expect(closed.activityTaskFailedEventAttributes?.failure?.serverFailureInfo?.nonRetryable).toBe(true);
  });

  it('a failure over the limit: "Failure exceeds size limit.", the original without details as its cause', async () => {
    const { outcome, closed } = await scenario('failure');
    expect(outcome).toMatchObject({
      ok: false,
      causeType: 'ServerFailure',
      causeMessage: 'Failure exceeds size limit.',
    });
    const cause = closed.activityTaskFailedEventAttributes?.failure?.cause;
    expect(cause?.applicationFailureInfo?.type).toBe('Big');
    expect(cause?.message).toBe('big failure');
    expect(cause?.applicationFailureInfo?.details).toBeFalsy();
  });

  it('heartbeat details over the limit: "Heartbeat details exceed size limit."', async () => {
    const { outcome } = await scenario('heartbeat');
    expect(outcome).toMatchObject({
      ok: false,
      causeType: 'ServerFailure',
      causeMessage: 'Heartbeat details exceed size limit.',
    });
  });

  it('cancellation details over the limit: "Cancel details exceed size limit."', async () => {
    const rawQueue = uniqueQueue('raw-activity');
    const handle = await client.workflow.start(activityOnQueue, {
      taskQueue,
      workflowId: wid('cancel'),
      args: [rawQueue],
    });
    const task = await connection.workflowService.pollActivityTaskQueue({
      namespace: 'default',
      taskQueue: { name: rawQueue },
      identity: 'payload-test',
    });
    expect(task.taskToken?.length).toBeGreaterThan(0);
    await connection.workflowService.respondActivityTaskCanceled({
      namespace: 'default',
      taskToken: task.taskToken,
      identity: 'payload-test',
      details: { payloads: [{ metadata: { encoding: Buffer.from('binary/plain') }, data: Buffer.alloc(OVER) }] },
    });
    expect(await handle.result()).toMatchObject({
      ok: false,
      causeType: 'ServerFailure',
      causeMessage: 'Cancel details exceed size limit.',
    });
  });
});

it('a query answer over the limit fails the query with "Blob data size exceeds limit."', async () => {
  const handle = await client.workflow.start(bigQuery, { taskQueue, workflowId: wid('query'), args: [OVER] });
  const err = await rejectionOf(handle.query('big'));
  expect((err as Error).message).toMatch(/Blob data size exceeds limit\./);
  const small = await client.workflow.start(bigQuery, { taskQueue, workflowId: wid('query-ok'), args: [BETWEEN] });
  expect(await small.query<string>('big')).toHaveLength(BETWEEN);
  await Promise.all([handle.terminate(), small.terminate()]);
});

describe('workflow task commands over the limits terminate the run', () => {
  const cases: { kind: OversizedKind; size: number; cause: number; message: string; absent: number }[] = [
    {
      kind: 'result',
      size: OVER,
      // Temporal's history service uses this cause for an oversized result.
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
      message: 'BadScheduleActivityAttributes: CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit.',
      absent: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    },
    {
      kind: 'failure',
      size: OVER,
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
      message: 'BadFailWorkflowExecutionAttributes: FailWorkflowExecutionCommandAttributes.Failure exceeds size limit.',
      absent: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    },
    {
      kind: 'activityInput',
      size: OVER,
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
      message: 'BadScheduleActivityAttributes: ScheduleActivityTaskCommandAttributes.Input exceeds size limit.',
      absent: EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    },
    {
      kind: 'childInput',
      size: OVER,
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
      message:
        'BadStartChildExecutionAttributes: StartChildWorkflowExecutionCommandAttributes. Input exceeds size limit.',
      absent: EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    },
    {
      kind: 'continueAsNewInput',
      size: OVER,
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
      message: 'BadContinueAsNewAttributes: ContinueAsNewWorkflowExecutionCommandAttributes. Input exceeds size limit.',
      absent: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    },
    {
      kind: 'signalInput',
      size: OVER,
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
      message:
        'BadSignalWorkflowExecutionAttributes: SignalExternalWorkflowExecutionCommandAttributes.Input exceeds size limit.',
      absent: EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    },
    {
      kind: 'memo',
      size: BETWEEN, // under the blob limit, over the memo limit
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES,
      message:
        'BadModifyWorkflowPropertiesAttributes: ModifyWorkflowPropertiesCommandAttributes. Memo exceeds size limit.',
      absent: EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
    },
    {
      kind: 'localActivityResult',
      size: OVER,
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
      message: 'BadRecordMarkerAttributes: RecordMarkerCommandAttributes.Details exceeds size limit.',
      absent: EventType.EVENT_TYPE_MARKER_RECORDED,
    },
  ];

  it.each(cases)(
    '$kind: the task fails with its cause and the run is terminated',
    async ({ kind, size, cause, message, absent }) => {
      const handle = await client.workflow.start(oversized, { taskQueue, workflowId: wid(kind), args: [kind, size] });
      const err = await rejectionOf(handle.result());
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
      const events = await eventsOf(handle);
      const types = events.map((e) => e.eventType);
      const failed = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      expect(failed?.workflowTaskFailedEventAttributes?.cause).toBe(cause);
      expect(failed?.workflowTaskFailedEventAttributes?.failure?.message).toBe(message);
      const terminated = events.at(-1)!;
      expect(terminated.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
      expect(terminated.workflowExecutionTerminatedEventAttributes).toMatchObject({
        reason: message,
        identity: 'history-service',
      });
      // The failed task is the last one: no new task was scheduled before the termination, and nothing of the command.
      expect(types.indexOf(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toBe(types.length - 2);
      expect(types).not.toContain(absent);
      expect((await handle.describe()).status.name).toBe('TERMINATED');
    },
  );

  it('the same commands under the limits go through', async () => {
    const result = await client.workflow.start(oversized, {
      taskQueue,
      workflowId: wid('ok'),
      args: ['result', BETWEEN],
    });
    expect(await result.result()).toHaveLength(BETWEEN);
    const child = await client.workflow.start(oversized, {
      taskQueue,
      workflowId: wid('ok-child'),
      args: ['childInput', BETWEEN],
    });
    expect(await child.result()).toBe(BETWEEN);
    const continued = await client.workflow.start(oversized, {
      taskQueue,
      workflowId: wid('ok-can'),
      args: ['continueAsNewInput', BETWEEN],
    });
    expect(await continued.result()).toBe(BETWEEN);
    await assertReplays(child, workflowBundle);
  });
});
