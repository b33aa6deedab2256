/**
 * Activity and timer scenarios through the official SDK: success, retries and backoff, retry limits, non-retryable
 * failures, `nextRetryDelay`, the four activity timeouts, heartbeat details across attempts, activity cancellation
 * (started and not yet started), timers and cancelled timers, local activities, patch markers and a 1,000-activity
 * fan-out. Every scenario runs with and without the workflow cache and replays the history the server wrote.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
  defaultPayloadConverter,
  type LocalActivityOptions,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import * as activities from './fixtures/activity-activities';
import type * as workflows from './fixtures/activity-workflows';
import { WORKER_MODES, assertReplays, bundle, connect, uniqueQueue, type TestEnv } from './harness';

const { EventType, RetryState: ProtoRetryState, TimeoutType: ProtoTimeoutType } = temporal.api.enums.v1;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type ActivityOptions = workflows.ActivityCall['options'];
type ActivityName = workflows.ActivityCall['activity'];

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/activity-workflows'));
});
afterAll(() => env?.close());

/** The events of a workflow's history. */
async function historyOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

function ofType(events: HistoryEvent[], type: temporal.api.enums.v1.EventType): HistoryEvent[] {
  return events.filter((e) => e.eventType === type);
}

/** The only event of a type (fails the test when there are none or several). */
function single(events: HistoryEvent[], type: temporal.api.enums.v1.EventType): HistoryEvent {
  const found = ofType(events, type);
  expect(found.map((e) => EventType[e.eventType!])).toEqual([EventType[type]]);
  return found[0]!;
}

const id = (value: unknown): number => Number(value ?? 0);
const eventTimeMs = (e: HistoryEvent): number =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);

/** Awaits a workflow that must fail because of an activity, and returns the ActivityFailure. */
async function activityFailureOf(handle: WorkflowHandle): Promise<ActivityFailure> {
  const err: unknown = await handle.result().then(
    () => new Error('the workflow completed but was expected to fail'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ActivityFailure);
  return cause as ActivityFailure;
}

describe.each(WORKER_MODES)('activities and timers ($name)', ({ maxCachedWorkflows }) => {
  const taskQueue = uniqueQueue('activities');
  let worker: Worker;
  let running: Promise<void>;

  // One worker per mode for the whole block: creating and draining a worker per scenario would cost more than the
  // scenarios themselves. Every scenario uses its own workflow id; tests that need an unpolled queue make one.
  beforeAll(async () => {
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities,
      ...(maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows }),
      // Cancellations reach activities through heartbeat responses; do not hold heartbeats back for long.
      maxHeartbeatThrottleInterval: '200ms',
      defaultHeartbeatThrottleInterval: '200ms',
    });
    running = worker.run();
  });
  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
  });

  function start<K extends ActivityName>(
    activity: K,
    args: Parameters<(typeof activities)[K]>,
    options: ActivityOptions,
  ): Promise<WorkflowHandle<typeof workflows.runActivity>> {
    return env.client.workflow.start<typeof workflows.runActivity>('runActivity', {
      taskQueue,
      workflowId: uniqueQueue(`act-${activity}`),
      args: [{ activity, args, options }],
    });
  }

  function startLocal(
    activity: ActivityName,
    args: unknown[],
    options: LocalActivityOptions,
  ): Promise<WorkflowHandle<typeof workflows.runLocalActivity>> {
    return env.client.workflow.start<typeof workflows.runLocalActivity>('runLocalActivity', {
      taskQueue,
      workflowId: uniqueQueue(`local-${activity}`),
      args: [{ activity, args, options }],
    });
  }

  describe('results and retries', () => {
    it('completes an activity and links its events', async () => {
      const handle = await start('greet', ['mloe'], { startToCloseTimeout: '10s' });
      expect(await handle.result()).toBe('hello mloe');

      const events = await historyOf(handle);
      const scheduled = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
      const completed = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
      const s = scheduled.activityTaskScheduledEventAttributes!;
      expect(s.activityType?.name).toBe('greet');
      expect(s.taskQueue?.name).toBe(taskQueue);
      expect(started.activityTaskStartedEventAttributes).toMatchObject({ attempt: 1 });
      expect(id(started.activityTaskStartedEventAttributes!.scheduledEventId)).toBe(id(scheduled.eventId));
      expect(id(completed.activityTaskCompletedEventAttributes!.scheduledEventId)).toBe(id(scheduled.eventId));
      expect(id(completed.activityTaskCompletedEventAttributes!.startedEventId)).toBe(id(started.eventId));
      expect(id(started.eventId)).toBe(id(completed.eventId) - 1);
      expect(
        defaultPayloadConverter.fromPayload(completed.activityTaskCompletedEventAttributes!.result!.payloads![0]!),
      ).toBe('hello mloe');

      const attempts = activities.attemptLog(handle.workflowId);
      expect(attempts.map((a) => [a.attempt, a.isLocal])).toEqual([[1, false]]);
      await assertReplays(handle, workflowBundle);
    });

    it('retries with exponential backoff and records one started event with the final attempt', async () => {
      const initialMs = 100;
      const coefficient = 2;
      const handle = await start('failUntil', [4], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: initialMs, backoffCoefficient: coefficient, maximumAttempts: 10 },
      });
      expect(await handle.result()).toBe(4);

      const attempts = activities.attemptLog(handle.workflowId);
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
      // Every attempt belongs to one scheduling of the activity.
      expect(new Set(attempts.map((a) => a.scheduledTimestampMs)).size).toBe(1);
      for (let n = 1; n < attempts.length; n++) {
        const previous = attempts[n - 1]!;
        const current = attempts[n]!;
        const interval = initialMs * coefficient ** (n - 1);
        // The server schedules the retry no earlier than the failure plus the backoff, and starts it no earlier.
        expect(current.currentAttemptScheduledTimestampMs - previous.endedAt!).toBeGreaterThanOrEqual(interval);
        expect(current.startedAt - previous.endedAt!).toBeGreaterThanOrEqual(interval);
      }

      const events = await historyOf(handle);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
      expect(started.activityTaskStartedEventAttributes!.attempt).toBe(4);
      // The started event carries the failure of the attempt before it.
      expect(started.activityTaskStartedEventAttributes!.lastFailure?.message).toBe('attempt 3 failed');
      single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
      expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED)).toHaveLength(0);
      await assertReplays(handle, workflowBundle);
    });

    it('stops at maximumAttempts with retryState MAXIMUM_ATTEMPTS_REACHED', async () => {
      const handle = await start('alwaysFail', ['Boom'], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: 50, backoffCoefficient: 1, maximumAttempts: 3 },
      });
      const failure = await activityFailureOf(handle);
      expect(failure.activityType).toBe('alwaysFail');
      expect(failure.retryState).toBe(RetryState.MAXIMUM_ATTEMPTS_REACHED);
      expect(failure.cause).toBeInstanceOf(ApplicationFailure);
      const cause = failure.cause as ApplicationFailure;
      expect(cause.type).toBe('Boom');
      expect(cause.message).toBe('attempt 3 failed');
      expect(cause.nonRetryable).toBe(false);

      expect(activities.attemptLog(handle.workflowId).map((a) => a.attempt)).toEqual([1, 2, 3]);
      const events = await historyOf(handle);
      expect(
        single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED).activityTaskStartedEventAttributes!.attempt,
      ).toBe(3);
      const failed = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED).activityTaskFailedEventAttributes!;
      expect(failed.retryState).toBe(ProtoRetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
      expect(failed.failure?.applicationFailureInfo?.type).toBe('Boom');
      single(events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
      await assertReplays(handle, workflowBundle);
    });

    it('does not retry a failure marked nonRetryable', async () => {
      const handle = await start('failPermanently', [], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: 50, maximumAttempts: 5 },
      });
      const failure = await activityFailureOf(handle);
      expect(failure.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
      expect(failure.cause).toBeInstanceOf(ApplicationFailure);
      const cause = failure.cause as ApplicationFailure;
      expect(cause.nonRetryable).toBe(true);
      expect(cause.type).toBe('Permanent');
      expect(cause.details).toEqual([{ attempt: 1 }]);

      expect(activities.attemptLog(handle.workflowId)).toHaveLength(1);
      const events = await historyOf(handle);
      const failed = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED).activityTaskFailedEventAttributes!;
      expect(failed.retryState).toBe(ProtoRetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
      expect(failed.failure?.applicationFailureInfo?.nonRetryable).toBe(true);
      await assertReplays(handle, workflowBundle);
    });

    it('does not retry an error type listed in nonRetryableErrorTypes', async () => {
      const handle = await start('alwaysFail', ['Fatal'], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: 50, maximumAttempts: 5, nonRetryableErrorTypes: ['Fatal'] },
      });
      const failure = await activityFailureOf(handle);
      expect(failure.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
      const cause = failure.cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.type).toBe('Fatal');
      // The failure itself was retryable: the policy made it final.
      expect(cause.nonRetryable).toBe(false);

      expect(activities.attemptLog(handle.workflowId)).toHaveLength(1);
      const events = await historyOf(handle);
      expect(
        single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED).activityTaskFailedEventAttributes!.retryState,
      ).toBe(ProtoRetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
      await assertReplays(handle, workflowBundle);
    });

    it('waits for the nextRetryDelay an ApplicationFailure asks for instead of the policy interval', async () => {
      const delayMs = 400;
      const handle = await start('failWithRetryDelay', [delayMs, 2], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: 10, backoffCoefficient: 1, maximumAttempts: 5 },
      });
      expect(await handle.result()).toBe(2);

      const [first, second] = activities.attemptLog(handle.workflowId);
      expect(second?.attempt).toBe(2);
      expect(second!.currentAttemptScheduledTimestampMs - first!.endedAt!).toBeGreaterThanOrEqual(delayMs);
      expect(second!.startedAt - first!.endedAt!).toBeGreaterThanOrEqual(delayMs);
      const events = await historyOf(handle);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED).activityTaskStartedEventAttributes!;
      expect(started.attempt).toBe(2);
      expect(started.lastFailure?.applicationFailureInfo?.type).toBe('Delayed');
      await assertReplays(handle, workflowBundle);
    });

    it('does not retry when the next attempt would start after the schedule-to-close deadline', async () => {
      const handle = await start('alwaysFail', ['Late'], {
        scheduleToCloseTimeout: '1s',
        retry: { initialInterval: '2s', maximumAttempts: 5 },
      });
      const failure = await activityFailureOf(handle);
      expect(failure.retryState).toBe(RetryState.TIMEOUT);
      expect((failure.cause as ApplicationFailure).type).toBe('Late');

      expect(activities.attemptLog(handle.workflowId)).toHaveLength(1);
      const events = await historyOf(handle);
      expect(
        single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED).activityTaskFailedEventAttributes!.retryState,
      ).toBe(ProtoRetryState.RETRY_STATE_TIMEOUT);
      await assertReplays(handle, workflowBundle);
    });
  });

  describe('timeouts', () => {
    it('times out each attempt after startToClose and retries it', async () => {
      const handle = await start('stall', [10_000], {
        startToCloseTimeout: '1s',
        retry: { initialInterval: 100, maximumAttempts: 2 },
      });
      const failure = await activityFailureOf(handle);
      expect(failure.retryState).toBe(RetryState.MAXIMUM_ATTEMPTS_REACHED);
      expect(failure.cause).toBeInstanceOf(TimeoutFailure);
      const timeout = failure.cause as TimeoutFailure;
      expect(timeout.timeoutType).toBe(TimeoutType.START_TO_CLOSE);

      expect(activities.attemptLog(handle.workflowId).map((a) => a.attempt)).toEqual([1, 2]);
      const events = await historyOf(handle);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
      expect(started.activityTaskStartedEventAttributes!.attempt).toBe(2);
      const timedOut = single(
        events,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
      ).activityTaskTimedOutEventAttributes!;
      expect(timedOut.failure?.timeoutFailureInfo?.timeoutType).toBe(ProtoTimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
      expect(timedOut.retryState).toBe(ProtoRetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
      expect(id(timedOut.startedEventId)).toBe(id(started.eventId));
      // The failure of the attempt before (also a start-to-close timeout) is kept as the cause. (The TS SDK drops a
      // TimeoutFailure's cause when it converts it, so this is checked on the event.)
      expect(timedOut.failure?.cause?.timeoutFailureInfo?.timeoutType).toBe(
        ProtoTimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
      );
      expect(started.activityTaskStartedEventAttributes!.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(
        ProtoTimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
      );
      await assertReplays(handle, workflowBundle);
    });

    it('times out a running attempt at scheduleToClose', async () => {
      const handle = await start('stall', [10_000], { scheduleToCloseTimeout: '1s' });
      const failure = await activityFailureOf(handle);
      expect(failure.cause).toBeInstanceOf(TimeoutFailure);
      expect((failure.cause as TimeoutFailure).timeoutType).toBe(TimeoutType.SCHEDULE_TO_CLOSE);
      // Temporal treats schedule-to-close (and schedule-to-start) timeouts as not retryable.
      expect(failure.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);

      const events = await historyOf(handle);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
      const timedOut = single(
        events,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
      ).activityTaskTimedOutEventAttributes!;
      expect(timedOut.failure?.timeoutFailureInfo?.timeoutType).toBe(ProtoTimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
      expect(id(timedOut.startedEventId)).toBe(id(started.eventId));
      await assertReplays(handle, workflowBundle);
    });

    it('reports a start-to-close timeout whose retry would miss the deadline as a ScheduleToClose timeout', async () => {
      const handle = await start('stall', [10_000], {
        startToCloseTimeout: '1s',
        scheduleToCloseTimeout: '1500ms',
        retry: { initialInterval: '1s', maximumAttempts: 5 },
      });
      const failure = await activityFailureOf(handle);
      expect(failure.retryState).toBe(RetryState.TIMEOUT);
      expect(failure.cause).toBeInstanceOf(TimeoutFailure);
      expect((failure.cause as TimeoutFailure).timeoutType).toBe(TimeoutType.SCHEDULE_TO_CLOSE);

      expect(activities.attemptLog(handle.workflowId)).toHaveLength(1);
      const events = await historyOf(handle);
      const timedOut = single(
        events,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
      ).activityTaskTimedOutEventAttributes!;
      expect(timedOut.retryState).toBe(ProtoRetryState.RETRY_STATE_TIMEOUT);
      expect(timedOut.failure?.timeoutFailureInfo?.timeoutType).toBe(ProtoTimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
      await assertReplays(handle, workflowBundle);
    });

    it('times out an activity nobody picks up at scheduleToStart', async () => {
      const handle = await start('greet', ['nobody'], {
        taskQueue: uniqueQueue('unpolled'),
        scheduleToStartTimeout: '1s',
        startToCloseTimeout: '10s',
      });
      const failure = await activityFailureOf(handle);
      expect(failure.cause).toBeInstanceOf(TimeoutFailure);
      expect((failure.cause as TimeoutFailure).timeoutType).toBe(TimeoutType.SCHEDULE_TO_START);
      expect(failure.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);

      const events = await historyOf(handle);
      expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)).toHaveLength(0);
      const timedOut = single(
        events,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
      ).activityTaskTimedOutEventAttributes!;
      expect(timedOut.failure?.timeoutFailureInfo?.timeoutType).toBe(ProtoTimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
      expect(id(timedOut.startedEventId)).toBe(0);
      await assertReplays(handle, workflowBundle);
    });

    it('times out an activity that stops heartbeating, with its last heartbeat details', async () => {
      const handle = await start('heartbeatOnceThenStall', ['checkpoint-1', 10_000], {
        startToCloseTimeout: '10s',
        heartbeatTimeout: '1s',
        retry: { maximumAttempts: 1 },
      });
      const failure = await activityFailureOf(handle);
      expect(failure.retryState).toBe(RetryState.MAXIMUM_ATTEMPTS_REACHED);
      expect(failure.cause).toBeInstanceOf(TimeoutFailure);
      const timeout = failure.cause as TimeoutFailure;
      expect(timeout.timeoutType).toBe(TimeoutType.HEARTBEAT);
      expect(timeout.lastHeartbeatDetails).toBe('checkpoint-1');

      const events = await historyOf(handle);
      const timedOut = single(
        events,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
      ).activityTaskTimedOutEventAttributes!;
      expect(timedOut.failure?.timeoutFailureInfo?.timeoutType).toBe(ProtoTimeoutType.TIMEOUT_TYPE_HEARTBEAT);
      await assertReplays(handle, workflowBundle);
    });
  });

  describe('heartbeat details', () => {
    it('hands the last heartbeat details to the next attempt after a failure', async () => {
      const handle = await start('resumableCount', [5, 3, 'throw'], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: 50, maximumAttempts: 3 },
      });
      expect(await handle.result()).toEqual({ resumedFrom: 3, attempt: 2 });
      const attempts = activities.attemptLog(handle.workflowId);
      expect(attempts.map((a) => [a.attempt, a.heartbeatDetails])).toEqual([
        [1, undefined],
        [2, 3],
      ]);
      await assertReplays(handle, workflowBundle);
    });

    it('hands the last heartbeat details to the next attempt after a heartbeat timeout', async () => {
      const handle = await start('resumableCount', [5, 3, 'stall'], {
        startToCloseTimeout: '10s',
        heartbeatTimeout: '1s',
        retry: { initialInterval: 50, maximumAttempts: 3 },
      });
      expect(await handle.result()).toEqual({ resumedFrom: 3, attempt: 2 });
      const events = await historyOf(handle);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED).activityTaskStartedEventAttributes!;
      expect(started.attempt).toBe(2);
      expect(started.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(ProtoTimeoutType.TIMEOUT_TYPE_HEARTBEAT);
      await assertReplays(handle, workflowBundle);
    });
  });

  describe('cancellation', () => {
    it('cancels a running activity through its heartbeat and waits for it to confirm', async () => {
      const handle = await env.client.workflow.start<typeof workflows.cancelRunningActivity>('cancelRunningActivity', {
        taskQueue,
        workflowId: uniqueQueue('cancel-running'),
        args: ['heartbeatUntilCancelled'],
      });
      await activities.whenStarted(handle.workflowId);
      await handle.signal('cancelActivity');
      expect(await handle.result()).toEqual({
        isCancellation: true,
        error: 'ActivityFailure',
        cause: 'CancelledFailure',
        retryState: RetryState.CANCEL_REQUESTED,
      });

      const [attempt] = activities.attemptLog(handle.workflowId);
      expect(attempt?.cancelled).toMatchObject({ cancelRequested: true, notFound: false, timedOut: false });

      const events = await historyOf(handle);
      const scheduled = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
      const requested = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
      const canceled = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED).activityTaskCanceledEventAttributes!;
      expect(id(requested.activityTaskCancelRequestedEventAttributes!.scheduledEventId)).toBe(id(scheduled.eventId));
      expect(id(canceled.scheduledEventId)).toBe(id(scheduled.eventId));
      expect(id(canceled.startedEventId)).toBe(id(started.eventId));
      expect(id(canceled.latestCancelRequestedEventId)).toBe(id(requested.eventId));
      expect(id(requested.eventId)).toBeLessThan(id(started.eventId));
      await assertReplays(handle, workflowBundle);
    });

    it('does not retry an activity that fails after its cancellation was requested', async () => {
      const handle = await env.client.workflow.start<typeof workflows.cancelRunningActivity>('cancelRunningActivity', {
        taskQueue,
        workflowId: uniqueQueue('cancel-fails'),
        args: ['failWhenCancelled'],
      });
      await activities.whenStarted(handle.workflowId);
      await handle.signal('cancelActivity');
      expect(await handle.result()).toEqual({
        isCancellation: false,
        error: 'ActivityFailure',
        cause: 'ApplicationFailure',
        retryState: RetryState.CANCEL_REQUESTED,
      });
      const attempts = activities.attemptLog(handle.workflowId);
      expect(attempts.map((a) => [a.attempt, a.cancelled?.cancelRequested])).toEqual([[1, true]]);

      const events = await historyOf(handle);
      const requested = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED);
      const started = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
      const failed = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED).activityTaskFailedEventAttributes!;
      expect(failed.retryState).toBe(ProtoRetryState.RETRY_STATE_CANCEL_REQUESTED);
      expect(failed.failure?.applicationFailureInfo?.type).toBe('CleanupFailed');
      expect(id(failed.startedEventId)).toBe(id(started.eventId));
      expect(id(requested.eventId)).toBeLessThan(id(started.eventId));
      expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)).toHaveLength(0);
      await assertReplays(handle, workflowBundle);
    });

    it.each(['TRY_CANCEL', 'WAIT_CANCELLATION_COMPLETED'] as const)(
      'cancels an activity that has not started yet (%s)',
      async (cancellationType) => {
        const handle = await env.client.workflow.start<typeof workflows.cancelScheduledActivity>(
          'cancelScheduledActivity',
          {
            taskQueue,
            workflowId: uniqueQueue('cancel-scheduled'),
            args: [uniqueQueue('unpolled'), cancellationType],
          },
        );
        expect(await handle.result()).toEqual({
          isCancellation: true,
          error: 'ActivityFailure',
          cause: 'CancelledFailure',
          retryState: RetryState.CANCEL_REQUESTED,
        });

        const events = await historyOf(handle);
        const scheduled = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
        const requested = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED);
        const canceled = single(events, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED);
        expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)).toHaveLength(0);
        const attrs = canceled.activityTaskCanceledEventAttributes!;
        expect(id(attrs.scheduledEventId)).toBe(id(scheduled.eventId));
        expect(id(attrs.startedEventId)).toBe(0);
        expect(id(attrs.latestCancelRequestedEventId)).toBe(id(requested.eventId));
        // Written with the cancel request, in the same batch as the workflow task that asked for it.
        expect(id(canceled.eventId)).toBe(id(requested.eventId) + 1);
        await assertReplays(handle, workflowBundle);
      },
    );
  });

  describe('timers', () => {
    it('fires timers in sequence and in parallel', async () => {
      const handle = await env.client.workflow.start<typeof workflows.timers>('timers', {
        taskQueue,
        workflowId: uniqueQueue('timers'),
      });
      expect(await handle.result()).toBeGreaterThanOrEqual(100 + 150 + 80);

      const events = await historyOf(handle);
      const started = ofType(events, EventType.EVENT_TYPE_TIMER_STARTED);
      const fired = ofType(events, EventType.EVENT_TYPE_TIMER_FIRED);
      expect(started.map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.nanos) / 1e6)).toEqual([
        100, 150, 50, 80,
      ]);
      expect(fired).toHaveLength(4);
      for (const f of fired) {
        const attrs = f.timerFiredEventAttributes!;
        const s = started.find((e) => id(e.eventId) === id(attrs.startedEventId))!;
        expect(s.timerStartedEventAttributes!.timerId).toBe(attrs.timerId);
        const duration = Number(s.timerStartedEventAttributes!.startToFireTimeout!.nanos) / 1e6;
        expect(eventTimeMs(f) - eventTimeMs(s)).toBeGreaterThanOrEqual(duration);
      }
      await assertReplays(handle, workflowBundle);
    });

    it('cancels a timer and writes TimerCanceled', async () => {
      const handle = await env.client.workflow.start<typeof workflows.cancelledTimer>('cancelledTimer', {
        taskQueue,
        workflowId: uniqueQueue('timer-cancel'),
      });
      expect(await handle.result()).toEqual({
        isCancellation: true,
        error: 'CancelledFailure',
        cause: '',
        shortTimerDone: true,
      });

      const events = await historyOf(handle);
      const started = ofType(events, EventType.EVENT_TYPE_TIMER_STARTED);
      expect(started).toHaveLength(2);
      const long = started.find((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds) === 3600)!;
      const canceled = single(events, EventType.EVENT_TYPE_TIMER_CANCELED).timerCanceledEventAttributes!;
      expect(canceled.timerId).toBe(long.timerStartedEventAttributes!.timerId);
      expect(id(canceled.startedEventId)).toBe(id(long.eventId));
      const fired = single(events, EventType.EVENT_TYPE_TIMER_FIRED).timerFiredEventAttributes!;
      expect(fired.timerId).not.toBe(canceled.timerId);
      await assertReplays(handle, workflowBundle);
    });
  });

  describe('local activities', () => {
    it('runs a local activity and records a marker instead of activity events', async () => {
      const handle = await startLocal('greet', ['local'], { startToCloseTimeout: '10s' });
      expect(await handle.result()).toBe('hello local');
      expect(activities.attemptLog(handle.workflowId).map((a) => [a.attempt, a.isLocal])).toEqual([[1, true]]);

      const events = await historyOf(handle);
      expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toHaveLength(0);
      const marker = single(events, EventType.EVENT_TYPE_MARKER_RECORDED).markerRecordedEventAttributes!;
      expect(marker.markerName).toBe('core_local_activity');
      await assertReplays(handle, workflowBundle);
    });

    it('retries a local activity in the worker and records only the final outcome', async () => {
      const handle = await startLocal('failUntil', [3], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: 50, backoffCoefficient: 1, maximumAttempts: 5 },
      });
      expect(await handle.result()).toBe(3);
      expect(activities.attemptLog(handle.workflowId).map((a) => a.attempt)).toEqual([1, 2, 3]);

      const events = await historyOf(handle);
      const marker = single(events, EventType.EVENT_TYPE_MARKER_RECORDED).markerRecordedEventAttributes!;
      expect(marker.markerName).toBe('core_local_activity');
      expect(marker.failure).toBeFalsy();
      await assertReplays(handle, workflowBundle);
    });

    it('backs off between local attempts with a server timer above localRetryThreshold', async () => {
      const handle = await startLocal('failUntil', [2], {
        startToCloseTimeout: '10s',
        localRetryThreshold: '100ms',
        retry: { initialInterval: 300, backoffCoefficient: 1, maximumAttempts: 5 },
      });
      expect(await handle.result()).toBe(2);
      const [first, second] = activities.attemptLog(handle.workflowId);
      expect(second?.attempt).toBe(2);
      expect(second!.startedAt - first!.endedAt!).toBeGreaterThanOrEqual(300);

      // The SDK records the failed attempt (with its backoff), sleeps on a server timer, then records the result.
      const events = await historyOf(handle);
      const timer = single(events, EventType.EVENT_TYPE_TIMER_STARTED);
      expect(Number(timer.timerStartedEventAttributes!.startToFireTimeout!.nanos) / 1e6).toBe(300);
      const fired = single(events, EventType.EVENT_TYPE_TIMER_FIRED);
      expect(eventTimeMs(fired) - eventTimeMs(timer)).toBeGreaterThanOrEqual(300);
      const markers = ofType(events, EventType.EVENT_TYPE_MARKER_RECORDED);
      expect(markers.map((m) => m.markerRecordedEventAttributes!.markerName)).toEqual([
        'core_local_activity',
        'core_local_activity',
      ]);
      expect(markers[0]!.markerRecordedEventAttributes!.failure?.applicationFailureInfo?.type).toBe('Flaky');
      expect(markers[1]!.markerRecordedEventAttributes!.failure).toBeFalsy();
      expect(id(markers[0]!.eventId)).toBeLessThan(id(timer.eventId));
      expect(id(fired.eventId)).toBeLessThan(id(markers[1]!.eventId));
      await assertReplays(handle, workflowBundle);
    });

    it('fails a local activity after its maximum attempts', async () => {
      const handle = await startLocal('alwaysFail', ['LocalBoom'], {
        startToCloseTimeout: '10s',
        retry: { initialInterval: 20, maximumAttempts: 2 },
      });
      const err: unknown = await handle.result().then(
        () => new Error('the workflow completed but was expected to fail'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      // SDK 1.24 hands a failed local activity's own failure to the workflow (no ActivityFailure wrapper).
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.type).toBe('LocalBoom');
      expect(cause.message).toBe('attempt 2 failed');
      expect(activities.attemptLog(handle.workflowId).map((a) => a.attempt)).toEqual([1, 2]);

      const events = await historyOf(handle);
      const marker = single(events, EventType.EVENT_TYPE_MARKER_RECORDED).markerRecordedEventAttributes!;
      expect(marker.markerName).toBe('core_local_activity');
      expect(marker.failure?.applicationFailureInfo?.type).toBe('LocalBoom');
      single(events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
      await assertReplays(handle, workflowBundle);
    });
  });

  describe('patches and scale', () => {
    it('records patch markers for patched() and deprecatePatch()', async () => {
      const handle = await env.client.workflow.start<typeof workflows.patchedWorkflow>('patchedWorkflow', {
        taskQueue,
        workflowId: uniqueQueue('patched'),
      });
      expect(await handle.result()).toBe('hello patched');

      const events = await historyOf(handle);
      const markers = ofType(events, EventType.EVENT_TYPE_MARKER_RECORDED).map((e) => e.markerRecordedEventAttributes!);
      expect(markers.map((m) => m.markerName)).toEqual(['core_patch', 'core_patch']);
      const patches = markers.map((m) => defaultPayloadConverter.fromPayload(m.details!['patch-data']!.payloads![0]!));
      expect(patches).toEqual([
        { id: 'mloe-old-patch', deprecated: true },
        { id: 'mloe-new-patch', deprecated: false },
      ]);
      // The SDK also keeps the TemporalChangeVersion search attribute up to date; the server records each upsert.
      const upserts = ofType(events, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES).map(
        (e) =>
          e.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes!.indexedFields!['TemporalChangeVersion']!,
      );
      expect(upserts.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
        ['mloe-old-patch'],
        ['mloe-new-patch', 'mloe-old-patch'],
      ]);
      await assertReplays(handle, workflowBundle);
    });

    // 1,000 on a caching worker; a worker without a cache replays the whole history on every task, so its cost grows
    // with the square of the fan-out, and 300 take it through the same paths (pages of history, batched results).
    const fanOut = maxCachedWorkflows === 0 ? 300 : 1000;
    it(`fans out ${fanOut.toLocaleString('en-US')} activities and gathers every result`, async () => {
      const n = fanOut;
      const handle = await env.client.workflow.start<typeof workflows.fanOut>('fanOut', {
        taskQueue,
        workflowId: uniqueQueue('fan-out'),
        args: [n],
      });
      const results = await handle.result();
      expect(results).toHaveLength(n);
      results.forEach((r, i) => expect(r).toBe(i * 2));

      const events = await historyOf(handle);
      expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toHaveLength(n);
      expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)).toHaveLength(n);
      events.forEach((e, i) => expect(id(e.eventId)).toBe(i + 1));
      await assertReplays(handle, workflowBundle);
    });
  });
});
