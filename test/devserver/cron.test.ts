/**
 * Cron workflows (`cronSchedule` on a start, a child and signal-with-start) through the official client and worker,
 * with Temporal's semantics: the first run waits for the first cron time (`firstWorkflowTaskBackoff`, initiator
 * CRON_SCHEDULE); each run hands over to the next cron run (`newExecutionRunId` on its close event,
 * `continuedExecutionRunId` on the next start, the last completion result and the last failure passed on); a failed or
 * timed-out run does not end the chain, cancel and terminate do; schedules Temporal refuses are refused with its
 * messages. The chains run over time skipping (`TestWorkflowEnvironment.createTimeSkipping` on
 * `bin/mloe-test-server.js`), so hours of cron times pass in seconds.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { badCronParent, collectsSignals, counter, cronParent, outcomes } from './fixtures/cron-workflows';
import { bundle, connect, uniqueQueue, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';
import { grpcRejection } from '../support/rejection';
import { createMloeTimeSkippingEnv } from './time-skipping-env';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;
const Initiator = temporal.api.enums.v1.ContinueAsNewInitiator;
const RetryState = temporal.api.enums.v1.RetryState;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
const HOUR = 3_600_000;
const INVALID_ARGUMENT = 3;

let workflowBundle: WorkflowBundleWithSourceMap;
let dev: TestEnv;
let ts: TestWorkflowEnvironment;

beforeAll(async () => {
  workflowBundle = await bundle(require.resolve('./fixtures/cron-workflows'));
  dev = await connect();
  ts = await createMloeTimeSkippingEnv();
});
afterAll(async () => {
  await ts?.teardown();
  await dev?.close();
});

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
const types = (events: HistoryEvent[]): number[] => events.map((e) => Number(e.eventType));
const decode = (payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown =>
  payloads?.payloads?.[0]?.data ? JSON.parse(Buffer.from(payloads.payloads[0].data).toString()) : undefined;

/** Every run of a chain, from its first run, following the `newExecutionRunId` of each close event. */
async function chain(client: TestWorkflowEnvironment['client'], workflowId: string, firstRunId: string) {
  const runs: { runId: string; events: HistoryEvent[] }[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const events = ((await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? []) as HistoryEvent[];
    runs.push({ runId, events });
    const close = events[events.length - 1];
    const next =
      close?.workflowExecutionCompletedEventAttributes?.newExecutionRunId ||
      close?.workflowExecutionFailedEventAttributes?.newExecutionRunId ||
      close?.workflowExecutionTimedOutEventAttributes?.newExecutionRunId;
    runId = next || undefined;
  }
  return runs;
}

/** The started event's attributes of a run. */
const startedOf = (events: HistoryEvent[]): temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes =>
  events[0]?.workflowExecutionStartedEventAttributes ?? {};

/**
 * When a run's first workflow task became due (its start plus the first workflow task backoff), to the second:
 * Temporal rounds the wait up to whole seconds, so a run is due within the second after its cron time.
 */
const executionTimeOf = (events: HistoryEvent[]): Date =>
  new Date(toSecond(ms(events[0]?.eventTime) + ms(startedOf(events).firstWorkflowTaskBackoff)));
const toSecond = (t: number): number => Math.floor(t / 1000) * 1000;

/** True for a time in the first second of an hour. */
const onTheHour = (t: Date): boolean => t.getUTCMinutes() === 0 && t.getUTCSeconds() === 0;
/**
 * True for a time in the first two seconds of an hour: what a run's started event time plus its first task backoff
 * gives. Like Temporal, the server rounds the backoff up to whole seconds from the moment it computes it, and writes
 * the event a moment later (longer on a loaded machine, where the sum has landed in second 1).
 */
const nearTheHour = (t: Date): boolean => t.getUTCMinutes() === 0 && t.getUTCSeconds() <= 1;

async function replays(events: HistoryEvent[], workflowId: string): Promise<void> {
  await Worker.runReplayHistory({ workflowBundle }, { events }, workflowId);
}

describe('cron schedules on a start (dev server)', () => {
  it('waits for the first cron time, shows the schedule, and ends with terminate', async () => {
    const workflowId = `cron-${randomUUID()}`;
    const handle = await dev.client.workflow.start(counter, {
      taskQueue: uniqueQueue('cron-idle'),
      workflowId,
      cronSchedule: '0 0 1 1 *',
    });
    const description = await handle.describe();
    expect(description.status.name).toBe('RUNNING');
    const executionTime = description.executionTime!;
    expect([executionTime.getUTCMonth(), executionTime.getUTCDate(), executionTime.getUTCHours()]).toEqual([0, 1, 0]);
    expect(onTheHour(executionTime)).toBe(true);
    expect(executionTime.getTime()).toBeGreaterThan(description.startTime.getTime());

    const events = ((await handle.fetchHistory()).events ?? []) as HistoryEvent[];
    expect(types(events)).toEqual([EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]);
    const started = startedOf(events);
    expect(started.cronSchedule).toBe('0 0 1 1 *');
    expect(started.initiator).toBe(Initiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE);
    expect(started.continuedExecutionRunId).toBeFalsy();
    expect(executionTimeOf(events).getTime()).toBe(toSecond(executionTime.getTime()));

    await handle.terminate('enough');
    const after = await dev.client.workflow.getHandle(workflowId).describe();
    expect(after.runId).toBe(description.runId);
    expect(after.status.name).toBe('TERMINATED');
    expect(types((await handle.fetchHistory()).events ?? [])).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    ]);
  });

  it('reads CRON_TZ= in the schedule', async () => {
    const handle = await dev.client.workflow.start(counter, {
      taskQueue: uniqueQueue('cron-tz'),
      workflowId: `cron-${randomUUID()}`,
      cronSchedule: 'CRON_TZ=Asia/Tokyo 0 9 * * *',
    });
    const { executionTime } = await handle.describe();
    expect(executionTime!.getUTCHours()).toBe(0); // 09:00 in Tokyo
    expect(onTheHour(executionTime!)).toBe(true);
    await handle.terminate();
  });

  it('refuses schedules Temporal refuses, with its messages', async () => {
    const taskQueue = uniqueQueue('cron-bad');
    for (const cronSchedule of [
      '* * * * * *',
      'every day',
      '0 0 * * 7',
      '@fortnightly',
      'CRON_TZ=Mars/Olympus 0 * * * *',
    ]) {
      const refused = await grpcRejection(
        dev.client.workflow.start(counter, { taskQueue, workflowId: `cron-${randomUUID()}`, cronSchedule }),
      );
      expect(refused).toMatchObject({ code: INVALID_ARGUMENT, details: 'Invalid CronSchedule.' });
    }
    const delayed = await grpcRejection(
      dev.client.workflow.start(counter, {
        taskQueue,
        workflowId: `cron-${randomUUID()}`,
        cronSchedule: '0 * * * *',
        startDelay: '1 minute',
      }),
    );
    expect(delayed).toMatchObject({
      code: INVALID_ARGUMENT,
      details: 'CronSchedule and WorkflowStartDelay may not be used together.',
    });
    const signalled = await grpcRejection(
      dev.client.workflow.signalWithStart(collectsSignals, {
        taskQueue,
        workflowId: `cron-${randomUUID()}`,
        cronSchedule: '61 * * * *',
        signal: 'note',
        signalArgs: ['x'],
      }),
    );
    expect(signalled).toMatchObject({ code: INVALID_ARGUMENT, details: 'Invalid CronSchedule.' });
  });

  it('fails the workflow task of a child start with a schedule Temporal refuses', async () => {
    const taskQueue = uniqueQueue('cron-bad-child');
    const worker = await Worker.create({ connection: dev.nativeConnection, taskQueue, workflowBundle });
    const handle = await dev.client.workflow.start(badCronParent, { taskQueue, workflowId: `cron-${randomUUID()}` });
    const failed = await worker.runUntil(
      pollUntil(`a failed workflow task in ${handle.workflowId}`, async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        return events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes ?? undefined;
      }),
    );
    expect(failed.cause).toBe(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES);
    expect(failed.failure?.message).toMatch(/Invalid CronSchedule\.$/);
    await handle.terminate();
  });
});

describe('cron chains over time skipping', () => {
  async function withWorker<T>(body: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = uniqueQueue('cron-ts');
    const worker = await Worker.create({ connection: ts.nativeConnection, taskQueue, workflowBundle });
    return worker.runUntil(body(taskQueue));
  }

  it('chains runs on the cron times through completion, failure and run timeout, until cancelled', async () => {
    const workflowId = `cron-${randomUUID()}`;
    const startedAt = await ts.currentTimeMs();
    const runs = await withWorker(async (taskQueue) => {
      const handle = await ts.client.workflow.start(outcomes, {
        taskQueue,
        workflowId,
        cronSchedule: '0 * * * *',
        workflowRunTimeout: '90 minutes',
      });
      // Six cron times pass (the third run's timeout makes the chain skip one): runs 1-4 closed, run 5 waiting.
      await ts.sleep(6 * HOUR);
      const current = ts.client.workflow.getHandle(workflowId);
      const waiting = await current.describe();
      expect(waiting.status.name).toBe('RUNNING');
      expect(waiting.runId).not.toBe(handle.firstExecutionRunId);
      expect(onTheHour(waiting.executionTime!)).toBe(true);
      await current.cancel();
      // The first run's result follows the chain to its end: the cancelled fifth run.
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      return chain(ts.client, workflowId, handle.firstExecutionRunId);
    });

    expect(runs).toHaveLength(5);
    const closeTypes = runs.map((r) => Number(r.events[r.events.length - 1]?.eventType));
    expect(closeTypes).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    ]);
    const [first, second, third, fourth, fifth] = runs.map((r) => r.events) as [
      HistoryEvent[],
      HistoryEvent[],
      HistoryEvent[],
      HistoryEvent[],
      HistoryEvent[],
    ];
    expect(decode(first.at(-1)?.workflowExecutionCompletedEventAttributes?.result)).toBe('first');
    expect(second.at(-1)?.workflowExecutionFailedEventAttributes?.retryState).toBe(
      RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET,
    );
    expect(third.at(-1)?.workflowExecutionTimedOutEventAttributes?.retryState).toBe(
      RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET,
    );

    // Every run waited for a cron time, after the previous one's, and is linked to the run before it.
    let previousTime = startedAt;
    runs.forEach(({ runId, events }, i) => {
      const started = startedOf(events);
      expect(started.cronSchedule).toBe('0 * * * *');
      expect(started.initiator).toBe(Initiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE);
      expect(started.firstExecutionRunId).toBe(runs[0]!.runId);
      expect(started.continuedExecutionRunId || undefined).toBe(i === 0 ? undefined : runs[i - 1]!.runId);
      expect(ms(started.firstWorkflowTaskBackoff)).toBeGreaterThan(0);
      const due = executionTimeOf(events);
      expect(nearTheHour(due)).toBe(true);
      expect(due.getTime()).toBeGreaterThan(previousTime);
      previousTime = due.getTime();
      if (i > 0) expect(runId).not.toBe(runs[i - 1]!.runId);
    });
    // Runs an hour apart, except after the third: it timed out 90 minutes in, past the next cron time, which is skipped.
    // Compared on their cron times: as on Temporal, a backoff is rounded up to whole seconds, so a run may start up to a
    // second after its cron time (checked above).
    const cronTimeOf = (events: HistoryEvent[]): number =>
      Math.floor(executionTimeOf(events).getTime() / 60_000) * 60_000;
    const gaps = runs.slice(1).map(({ events }, i) => cronTimeOf(events) - cronTimeOf(runs[i]!.events));
    expect(gaps).toEqual([HOUR, HOUR, 2 * HOUR, HOUR]);

    // What each run was handed: the last completion result, and the last failure until a run completes again.
    const handed = runs.map(({ events }) => {
      const started = startedOf(events);
      return [decode(started.lastCompletionResult), started.continuedFailure?.message];
    });
    expect(handed).toEqual([
      [undefined, undefined],
      ['first', undefined],
      ['first', 'second fails'],
      ['first', 'workflow timeout'],
      ['fourth', undefined],
    ]);
    expect(startedOf(fourth).continuedFailure?.timeoutFailureInfo?.timeoutType).toBe(
      temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE,
    );
    expect(fifth.some((e) => e.workflowExecutionCancelRequestedEventAttributes)).toBe(true);
    for (const { events } of runs) await replays(events, workflowId);
  });

  it('runs a cron child whose parent hears only of the end of its chain', async () => {
    const parentId = `cron-parent-${randomUUID()}`;
    const childId = `${parentId}-child`;
    await withWorker(async (taskQueue) => {
      const parent = await ts.client.workflow.start(cronParent, { taskQueue, workflowId: parentId, args: [childId] });
      await ts.sleep(2 * HOUR);
      const child = ts.client.workflow.getHandle(childId);
      const current = await child.describe();
      expect(current.status.name).toBe('RUNNING');
      const runs = await chain(ts.client, childId, current.raw.workflowExecutionInfo!.firstRunId!);
      expect(runs.length).toBeGreaterThanOrEqual(3);
      const results = runs
        .slice(0, -1)
        .map((r) => decode(r.events.at(-1)?.workflowExecutionCompletedEventAttributes?.result));
      expect(results).toEqual(results.map((_, i) => i + 1));
      for (const { events } of runs) {
        const started = startedOf(events);
        expect(started.parentWorkflowExecution?.workflowId).toBe(parentId);
        expect(started.cronSchedule).toBe('0 * * * *');
        expect(onTheHour(executionTimeOf(events))).toBe(true);
      }
      // The parent heard of the child's start only, not of each run's completion.
      const parentEvents = (await parent.fetchHistory()).events ?? [];
      expect(parentEvents.some((e) => e.childWorkflowExecutionStartedEventAttributes)).toBe(true);
      expect(parentEvents.some((e) => e.childWorkflowExecutionCompletedEventAttributes)).toBe(false);

      await child.terminate('chain over');
      expect(await parent.result()).toBe('child terminated');
    });
  });

  it('starts a cron chain with signal-with-start, the signal in its first run', async () => {
    const workflowId = `cron-signal-${randomUUID()}`;
    await withWorker(async (taskQueue) => {
      const handle = await ts.client.workflow.signalWithStart(collectsSignals, {
        taskQueue,
        workflowId,
        cronSchedule: '@every 30m',
        signal: 'note',
        signalArgs: ['hello'],
      });
      await ts.sleep(75 * 60_000);
      const current = await handle.describe();
      const runs = await chain(ts.client, workflowId, current.raw.workflowExecutionInfo!.firstRunId!);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      const [first, second] = runs.map((r) => r.events) as [HistoryEvent[], HistoryEvent[]];
      expect(types(first).slice(0, 3)).toEqual([
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      ]);
      expect(ms(startedOf(first).firstWorkflowTaskBackoff)).toBeGreaterThan(0);
      expect(decode(first.at(-1)?.workflowExecutionCompletedEventAttributes?.result)).toEqual(['hello']);
      expect(decode(second.at(-1)?.workflowExecutionCompletedEventAttributes?.result)).toEqual([]);
      // @every counts from the previous run's scheduled time (to the second): 30 minutes apart.
      expect(executionTimeOf(second).getTime() - executionTimeOf(first).getTime()).toBe(30 * 60_000);
      await ts.client.workflow.getHandle(workflowId).terminate();
    });
  });
});
