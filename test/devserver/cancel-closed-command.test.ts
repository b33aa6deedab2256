/**
 * A workflow task that cancels an activity or a timer which closed while that task ran (its result or fire event
 * buffered): as on Temporal, the cancel is recorded in the history in its command's place (ActivityTaskCancelRequested,
 * then the buffered activity result; TimerCanceled, and the buffered fire dropped). A replay expects exactly that:
 * when the dev server left the event out, a worker that replayed the run (nothing cached, or after a workflow task
 * timeout) failed it with "Activity machine does not handle this event" (test/promotion-replay.test.ts). Driven over
 * the raw WorkflowService, so the task is held open for as long as the test needs.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import Long from 'long';

import { connect, rawRun, type RawRun, type TestEnv } from './harness';

const CommandType = temporal.api.enums.v1.CommandType;
const EventType = temporal.api.enums.v1.EventType;

let env: TestEnv;

beforeAll(async () => {
  env = await connect();
});
afterAll(async () => {
  await env?.close();
});

/** A run on a queue of its own, driven by hand (start, poll its tasks, signal it), and what its history ends with. */
function rawRunWithHistory(): RawRun & { afterLastCompletedTask(): Promise<string[]> } {
  const run = rawRun(env.connection.workflowService, 'cancel-closed');
  return {
    ...run,
    /** The event types after the last WorkflowTaskCompleted, in order. */
    afterLastCompletedTask: async (): Promise<string[]> => {
      const { history } = await run.svc.getWorkflowExecutionHistory({ namespace: 'default', execution: run.execution });
      const events = history?.events ?? [];
      let last = -1;
      events.forEach((event, index) => {
        if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) last = index;
      });
      return events.slice(last + 1).map((event) => EventType[event.eventType ?? 0] ?? '');
    },
  };
}

it('records the cancel of an activity whose result arrived while the cancelling task ran', async () => {
  const run = rawRunWithHistory();
  await run.start();
  const first = await run.pollTask();
  await run.complete(first, [
    {
      commandType: CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
      scheduleActivityTaskCommandAttributes: {
        activityId: 'held',
        activityType: { name: 'held' },
        taskQueue: { name: run.taskQueue },
        startToCloseTimeout: { seconds: Long.fromNumber(60) },
      },
    },
  ]);
  const scheduledEventId = 5; // started, task scheduled/started/completed, then the activity
  const activity = await run.svc.pollActivityTaskQueue({
    namespace: 'default',
    taskQueue: { name: run.taskQueue },
    identity: 'raw-worker',
  });
  expect(activity.activityId).toBe('held');
  await run.signal();
  const second = await run.pollTask();
  // The activity ends while the second task is started: its events are buffered.
  await run.svc.respondActivityTaskCompleted({
    namespace: 'default',
    taskToken: activity.taskToken ?? null,
    result: { payloads: [defaultPayloadConverter.toPayload('done')] },
  });
  await run.complete(second, [
    {
      commandType: CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK,
      requestCancelActivityTaskCommandAttributes: { scheduledEventId: Long.fromNumber(scheduledEventId) },
    },
  ]);
  expect(await run.afterLastCompletedTask()).toEqual([
    'EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED',
    'EVENT_TYPE_ACTIVITY_TASK_STARTED',
    'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
    'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
  ]);
  await run.terminate();
});

it('records the cancel of a timer that fired while the cancelling task ran, and drops the fire', async () => {
  const run = rawRunWithHistory();
  await run.start();
  const first = await run.pollTask();
  const fireAfterMs = 300;
  await run.complete(first, [
    {
      commandType: CommandType.COMMAND_TYPE_START_TIMER,
      startTimerCommandAttributes: { timerId: 'gate', startToFireTimeout: { nanos: fireAfterMs * 1_000_000 } },
    },
  ]);
  await run.signal();
  const second = await run.pollTask();
  // The timer's own deadline is the event waited for: nothing outside the server shows a buffered fire.
  await new Promise((resolve) => setTimeout(resolve, fireAfterMs * 4));
  await run.complete(second, [
    { commandType: CommandType.COMMAND_TYPE_CANCEL_TIMER, cancelTimerCommandAttributes: { timerId: 'gate' } },
  ]);
  // No fire after the cancel, and no new task for it.
  expect(await run.afterLastCompletedTask()).toEqual(['EVENT_TYPE_TIMER_CANCELED']);
  await run.terminate();
});
