/**
 * Workflow lifecycle through the official SDK against the dev server: signals, queries, children, continue-as-new,
 * cancellation, termination, failure, retries, id reuse and conflict policies, updates, timeouts and external
 * signals. Every scenario runs with and without the workflow cache and replays every history it produced.
 */
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  RetryState,
  TerminatedFailure,
  TimeoutFailure,
  TimeoutType,
  WorkflowNotFoundError,
  defaultPayloadConverter,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import * as activities from './fixtures/lifecycle-activities';
import {
  accumulator,
  addApprovedItemUpdate,
  addItemUpdate,
  addSignal,
  approveSignal,
  awaitGreeting,
  cart,
  chain,
  childEcho,
  cleansUpOnCancel,
  failsFirstAttempt,
  failsWith,
  finishSignal,
  gate,
  greetSignal,
  itemsQuery,
  parentCancelsChild,
  parentLeavesChild,
  parentOfEcho,
  parentOfFailure,
  releaseSignal,
  signalSender,
  stageQuery,
  totalQuery,
  valuesQuery,
} from './fixtures/lifecycle-workflows';
import { WORKER_MODES, assertReplays, bundle, connect, uniqueQueue, withWorker, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/lifecycle-workflows'));
});
afterAll(() => env?.close());

/** The run's history events. */
async function eventsOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

/** Event type names without the `EVENT_TYPE_` prefix, e.g. `WORKFLOW_EXECUTION_SIGNALED`. */
function typesOf(events: HistoryEvent[]): string[] {
  return events.map((e) => (EventType[Number(e.eventType)] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, ''));
}

/** The first event of a type (fails the test when there is none). */
function eventOf(events: HistoryEvent[], type: temporal.api.enums.v1.EventType): HistoryEvent {
  const e = events.find((x) => x.eventType === type);
  if (!e) throw new Error(`no ${EventType[type]} in history: ${typesOf(events).join(', ')}`);
  return e;
}

function lastEvent(events: HistoryEvent[]): HistoryEvent {
  const e = events[events.length - 1];
  if (!e) throw new Error('empty history');
  return e;
}

/** Decodes the first payload of a Payloads message. */
function decode(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown {
  const p = payloads?.payloads?.[0];
  return p ? defaultPayloadConverter.fromPayload(p) : undefined;
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Waits until the run's first workflow task completed (its handlers are registered, queries can be answered). */
function firstTaskDone(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return pollUntil(
    `the first workflow task of ${handle.workflowId}`,
    async () => {
      const events = await eventsOf(handle);
      return events.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) && events;
    },
    { timeoutMs: 15_000 },
  );
}

async function statusOf(handle: WorkflowHandle): Promise<string> {
  return (await handle.describe()).status.name;
}

describe.each(WORKER_MODES)('workflow lifecycle ($name)', ({ maxCachedWorkflows }) => {
  /** Runs `body` with a worker for this suite's workflows on a fresh task queue. */
  function withLifecycleWorker<T>(body: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = uniqueQueue('lifecycle');
    return withWorker(env, { taskQueue, workflowBundle, activities, maxCachedWorkflows }, () => body(taskQueue));
  }
  const wid = (name: string): string => uniqueQueue(name);

  describe('signals and queries', () => {
    it('delivers signals in order and answers queries on the running state', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(accumulator, { taskQueue, workflowId: wid('acc') });
        await handle.signal(addSignal, 1);
        await handle.signal(addSignal, 2);
        await handle.signal(addSignal, 39);
        // Signals are durable once the call returns: a query sees all of them.
        expect(await handle.query(valuesQuery)).toEqual([1, 2, 39]);
        expect(await handle.query(totalQuery)).toBe(42);
        await handle.signal(finishSignal);
        expect(await handle.result()).toEqual({ total: 42, values: [1, 2, 39] });

        const events = await eventsOf(handle);
        const signals = events.filter((e) => e.workflowExecutionSignaledEventAttributes);
        expect(signals.map((e) => e.workflowExecutionSignaledEventAttributes!.signalName)).toEqual([
          'add',
          'add',
          'add',
          'finish',
        ]);
        expect(signals.slice(0, 3).map((e) => decode(e.workflowExecutionSignaledEventAttributes!.input))).toEqual([
          1, 2, 39,
        ]);
        events.forEach((e, i) => expect(Number(e.eventId)).toBe(i + 1));
        // Queries leave no trace in history.
        expect(typesOf(events).filter((t) => t.includes('QUERY'))).toEqual([]);
        await assertReplays(handle, workflowBundle);
      });
    });

    it('signal-with-start delivers the signal before the first workflow task', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.signalWithStart(awaitGreeting, {
          taskQueue,
          workflowId: wid('sws-race'),
          signal: greetSignal,
          signalArgs: ['hello from signal-with-start'],
        });
        expect(handle.signaledRunId).toBeTruthy();
        expect(await handle.result()).toBe('hello from signal-with-start');
        const events = await eventsOf(handle);
        // The first task already sees the signal, so the workflow completes in it.
        expect(typesOf(events)).toEqual([
          'WORKFLOW_EXECUTION_STARTED',
          'WORKFLOW_EXECUTION_SIGNALED',
          'WORKFLOW_TASK_SCHEDULED',
          'WORKFLOW_TASK_STARTED',
          'WORKFLOW_TASK_COMPLETED',
          'WORKFLOW_EXECUTION_COMPLETED',
        ]);
        expect(events[0]!.workflowExecutionStartedEventAttributes!.firstExecutionRunId).toBe(handle.signaledRunId);
        await assertReplays(handle, workflowBundle);
      });
    });

    it('a signal sent right after start is seen whether or not the first task has begun', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(awaitGreeting, { taskQueue, workflowId: wid('race') });
        await handle.signal(greetSignal, 'right after start');
        expect(await handle.result()).toBe('right after start');
        const events = await eventsOf(handle);
        const types = typesOf(events);
        expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_SIGNALED')).toHaveLength(1);
        expect(types.indexOf('WORKFLOW_EXECUTION_SIGNALED')).toBeLessThan(
          types.indexOf('WORKFLOW_EXECUTION_COMPLETED'),
        );
        expect(types[types.length - 1]).toBe('WORKFLOW_EXECUTION_COMPLETED');
        // However the race went, the workflow never closed without seeing the signal and no task failed.
        expect(types).not.toContain('WORKFLOW_TASK_FAILED');
        events.forEach((e, i) => expect(Number(e.eventId)).toBe(i + 1));
        await assertReplays(handle, workflowBundle);
      });
    });

    it('answers a query on a running workflow blocked on a condition, and on the closed workflow', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(gate, { taskQueue, workflowId: wid('gate') });
        await firstTaskDone(handle);
        const before = (await eventsOf(handle)).length;
        expect(await handle.query(stageQuery)).toBe('waiting');
        expect(await handle.query(stageQuery)).toBe('waiting');
        // A query on an idle workflow writes nothing.
        expect((await eventsOf(handle)).length).toBe(before);
        expect(await statusOf(handle)).toBe('RUNNING');

        await handle.signal(releaseSignal, 'tester');
        expect(await handle.result()).toBe('done by tester');
        expect(await statusOf(handle)).toBe('COMPLETED');
        // The closed workflow is still queryable: the worker replays it to answer.
        expect(await handle.query(stageQuery)).toBe('done by tester');
        await assertReplays(handle, workflowBundle);
      });
    });

    it('rejects a signal to a closed workflow', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(childEcho, {
          taskQueue,
          workflowId: wid('closed'),
          args: ['x'],
        });
        await handle.result();
        const err = await rejectionOf(handle.signal(greetSignal, 'too late'));
        expect(err).toBeInstanceOf(WorkflowNotFoundError);
        await assertReplays(handle, workflowBundle);
      });
    });
  });

  describe('child workflows', () => {
    it('returns the result of a child that succeeds', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('parent-echo');
        const handle = await env.client.workflow.start(parentOfEcho, { taskQueue, workflowId, args: ['hi'] });
        expect(await handle.result()).toBe('child says hi');

        const events = await eventsOf(handle);
        expect(typesOf(events)).toEqual(
          expect.arrayContaining([
            'START_CHILD_WORKFLOW_EXECUTION_INITIATED',
            'CHILD_WORKFLOW_EXECUTION_STARTED',
            'CHILD_WORKFLOW_EXECUTION_COMPLETED',
          ]),
        );
        const initiated = eventOf(events, EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED);
        const started = eventOf(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED);
        const completed = eventOf(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED);
        const a = completed.childWorkflowExecutionCompletedEventAttributes!;
        expect(Number(a.initiatedEventId)).toBe(Number(initiated.eventId));
        expect(Number(a.startedEventId)).toBe(Number(started.eventId));
        expect(decode(a.result)).toBe('child says hi');

        const child = env.client.workflow.getHandle(`${workflowId}-echo`);
        const childInfo = await child.describe();
        expect(childInfo.status.name).toBe('COMPLETED');
        expect(childInfo.parentExecution).toEqual({ workflowId, runId: (await handle.describe()).runId });
        expect(childInfo.runId).toBe(a.workflowExecution!.runId);
        const childStart = (await eventsOf(child))[0]!.workflowExecutionStartedEventAttributes!;
        expect(childStart.parentWorkflowExecution!.workflowId).toBe(workflowId);
        expect(Number(childStart.parentInitiatedEventId)).toBe(Number(initiated.eventId));
        await assertReplays(handle, workflowBundle);
        await assertReplays(child, workflowBundle);
      });
    });

    it('fails the parent with a ChildWorkflowFailure when the child fails', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('parent-fail');
        const handle = await env.client.workflow.start(parentOfFailure, { taskQueue, workflowId, args: ['boom'] });
        const err = await rejectionOf(handle.result());
        expect(err).toBeInstanceOf(WorkflowFailedError);
        const childFailure = (err as WorkflowFailedError).cause;
        expect(childFailure).toBeInstanceOf(ChildWorkflowFailure);
        expect((childFailure as ChildWorkflowFailure).execution.workflowId).toBe(`${workflowId}-fails`);
        // The child has no retry policy: Temporal reports that before looking at nonRetryable.
        expect((childFailure as ChildWorkflowFailure).retryState).toBe(RetryState.RETRY_POLICY_NOT_SET);
        const appFailure = (childFailure as ChildWorkflowFailure).cause;
        expect(appFailure).toBeInstanceOf(ApplicationFailure);
        expect((appFailure as ApplicationFailure).type).toBe('ChildBroke');
        expect(appFailure!.message).toBe('boom');

        const events = await eventsOf(handle);
        const failed = eventOf(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED);
        expect(failed.childWorkflowExecutionFailedEventAttributes!.failure!.message).toBe('boom');
        expect(typesOf(events).slice(-1)).toEqual(['WORKFLOW_EXECUTION_FAILED']);

        const child = env.client.workflow.getHandle(`${workflowId}-fails`);
        expect(await statusOf(child)).toBe('FAILED');
        await assertReplays(handle, workflowBundle);
        await assertReplays(child, workflowBundle);
      });
    });

    it('cancels a child from the parent: CancelledFailure inside a ChildWorkflowFailure, child CANCELED', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('parent-cancel');
        const handle = await env.client.workflow.start(parentCancelsChild, { taskQueue, workflowId });
        const { childRunId, ...report } = await handle.result();
        expect(childRunId).toBeTruthy();
        expect(report).toEqual({
          isChildWorkflowFailure: true,
          causeIsCancelledFailure: true,
          childWorkflowId: `${workflowId}-cancelled`,
        });

        const child = env.client.workflow.getHandle(`${workflowId}-cancelled`);
        const childInfo = await child.describe();
        expect(childInfo.status.name).toBe('CANCELLED');
        expect(childInfo.runId).toBe(childRunId);
        const childTypes = typesOf(await eventsOf(child));
        expect(childTypes).toContain('WORKFLOW_EXECUTION_CANCEL_REQUESTED');
        expect(childTypes[childTypes.length - 1]).toBe('WORKFLOW_EXECUTION_CANCELED');

        const events = await eventsOf(handle);
        const types = typesOf(events);
        expect(types).toEqual(
          expect.arrayContaining([
            'REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED',
            'EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED',
            'CHILD_WORKFLOW_EXECUTION_CANCELED',
          ]),
        );
        const cancelRequested = eventOf(
          events,
          EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        );
        expect(cancelRequested.requestCancelExternalWorkflowExecutionInitiatedEventAttributes!.childWorkflowOnly).toBe(
          true,
        );
        expect(types[types.length - 1]).toBe('WORKFLOW_EXECUTION_COMPLETED');
        await assertReplays(handle, workflowBundle);
        await assertReplays(child, workflowBundle);
      });
    });

    it('parent close policy TERMINATE terminates the running child when the parent completes', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(parentLeavesChild, {
          taskQueue,
          workflowId: wid('pcp-terminate'),
          args: ['TERMINATE'],
        });
        const { workflowId, runId } = await handle.result();
        const child = env.client.workflow.getHandle(workflowId, runId);
        await pollUntil('the child to be terminated', async () => (await statusOf(child)) === 'TERMINATED', {
          timeoutMs: 15_000,
        });
        const err = await rejectionOf(child.result());
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect((err as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
        const events = await eventsOf(child);
        expect(typesOf(events).slice(-1)).toEqual(['WORKFLOW_EXECUTION_TERMINATED']);
        // The parent completed normally and was not told about the child's end.
        const parentTypes = typesOf(await eventsOf(handle));
        expect(parentTypes[parentTypes.length - 1]).toBe('WORKFLOW_EXECUTION_COMPLETED');
        expect(parentTypes).not.toContain('CHILD_WORKFLOW_EXECUTION_TERMINATED');
        await assertReplays(handle, workflowBundle);
        await assertReplays(child, workflowBundle);
      });
    });

    it('parent close policy ABANDON leaves the child running after the parent completes', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(parentLeavesChild, {
          taskQueue,
          workflowId: wid('pcp-abandon'),
          args: ['ABANDON'],
        });
        const { workflowId, runId } = await handle.result();
        expect(await statusOf(handle)).toBe('COMPLETED');
        const child = env.client.workflow.getHandle(workflowId, runId);
        await firstTaskDone(child);
        expect(await statusOf(child)).toBe('RUNNING');
        expect(await child.query(stageQuery)).toBe('waiting');
        // The abandoned child lives on and still takes signals.
        await child.signal(releaseSignal, 'client');
        expect(await child.result()).toBe('done by client');
        await assertReplays(handle, workflowBundle);
        await assertReplays(child, workflowBundle);
      });
    });
  });

  describe('continue-as-new', () => {
    it('chains runs: result() follows to the last run, which knows the first and previous run ids', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('chain');
        const handle = await env.client.workflow.start(chain, { taskQueue, workflowId, args: [2] });
        const firstRunId = handle.firstExecutionRunId;
        const report = await handle.result();
        expect(report.runIds).toHaveLength(3);
        expect(report.runIds[0]).toBe(firstRunId);
        expect(report.firstExecutionRunId).toBe(firstRunId);
        expect(report.continuedFromExecutionRunId).toBe(report.runIds[1]);
        expect(new Set(report.runIds).size).toBe(3);

        // Each run's close event names the next run; each next run's start event names the previous one.
        for (let i = 0; i < 3; i++) {
          const run = env.client.workflow.getHandle(workflowId, report.runIds[i]);
          const events = await eventsOf(run);
          const started = events[0]!.workflowExecutionStartedEventAttributes!;
          expect(started.firstExecutionRunId).toBe(firstRunId);
          expect(started.continuedExecutionRunId || null).toBe(i === 0 ? null : report.runIds[i - 1]);
          const info = await run.describe();
          if (i < 2) {
            expect(info.status.name).toBe('CONTINUED_AS_NEW');
            const close = lastEvent(events).workflowExecutionContinuedAsNewEventAttributes!;
            expect(close.newExecutionRunId).toBe(report.runIds[i + 1]);
            expect(close.workflowType!.name).toBe('chain');
            expect(decode(close.input)).toBe(1 - i);
          } else {
            expect(info.status.name).toBe('COMPLETED');
            expect(typesOf(events).slice(-1)).toEqual(['WORKFLOW_EXECUTION_COMPLETED']);
          }
          await assertReplays(run, workflowBundle);
        }
        // Without a run id, the handle now points at the last run.
        expect((await env.client.workflow.getHandle(workflowId).describe()).runId).toBe(report.runIds[2]);
      });
    });
  });

  describe('cancellation, termination and failure', () => {
    it('a client cancel runs the workflow cleanup path and closes it as CANCELED', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(cleansUpOnCancel, { taskQueue, workflowId: wid('cancel') });
        await firstTaskDone(handle);
        expect(await handle.query(stageQuery)).toBe('sleeping');
        await handle.cancel();
        const err = await rejectionOf(handle.result());
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
        expect(await statusOf(handle)).toBe('CANCELLED');

        const events = await eventsOf(handle);
        const types = typesOf(events);
        const requested = types.indexOf('WORKFLOW_EXECUTION_CANCEL_REQUESTED');
        expect(requested).toBeGreaterThan(0);
        // The timer is cancelled and the cleanup activity runs after the request, before the close.
        expect(types.indexOf('TIMER_CANCELED')).toBeGreaterThan(requested);
        const cleanup = eventOf(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
        expect(decode(cleanup.activityTaskCompletedEventAttributes!.result)).toBe('cleaned up after cancel');
        expect(Number(cleanup.eventId)).toBeGreaterThan(requested + 1);
        expect(types[types.length - 1]).toBe('WORKFLOW_EXECUTION_CANCELED');
        // The query handler saw the cleanup result.
        expect(await handle.query(stageQuery)).toBe('cleaned up after cancel');
        await assertReplays(handle, workflowBundle);
      });
    });

    it('terminate closes the run with TerminatedFailure and records the reason', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(gate, { taskQueue, workflowId: wid('terminate') });
        await firstTaskDone(handle);
        await handle.terminate('enough of that');
        const err = await rejectionOf(handle.result());
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect((err as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
        expect(await statusOf(handle)).toBe('TERMINATED');
        const close = lastEvent(await eventsOf(handle));
        expect(Number(close.eventType)).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
        expect(close.workflowExecutionTerminatedEventAttributes!.reason).toBe('enough of that');
        // A terminated run takes no more signals.
        expect(await rejectionOf(handle.signal(releaseSignal, 'late'))).toBeInstanceOf(WorkflowNotFoundError);
        await assertReplays(handle, workflowBundle);
      });
    });

    it('an ApplicationFailure thrown by the workflow fails it with type, message and details', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(failsWith, {
          taskQueue,
          workflowId: wid('fail'),
          args: ['bad input'],
        });
        const err = await rejectionOf(handle.result());
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect((err as WorkflowFailedError).retryState).toBe(RetryState.RETRY_POLICY_NOT_SET);
        const cause = (err as WorkflowFailedError).cause;
        expect(cause).toBeInstanceOf(ApplicationFailure);
        expect((cause as ApplicationFailure).type).toBe('BadInput');
        expect(cause!.message).toBe('bad input');
        expect((cause as ApplicationFailure).details).toEqual(['first detail', 2]);
        expect(await statusOf(handle)).toBe('FAILED');
        const close = lastEvent(await eventsOf(handle));
        const a = close.workflowExecutionFailedEventAttributes!;
        expect(a.failure!.message).toBe('bad input');
        expect(a.failure!.applicationFailureInfo!.type).toBe('BadInput');
        expect(a.newExecutionRunId || '').toBe('');
        await assertReplays(handle, workflowBundle);
      });
    });

    it('a workflow retry policy starts attempt 2, which succeeds; the failed run names it', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('retry');
        const handle = await env.client.workflow.start(failsFirstAttempt, {
          taskQueue,
          workflowId,
          retry: { initialInterval: '100ms', maximumAttempts: 3 },
        });
        const firstRunId = handle.firstExecutionRunId;
        const result = await handle.result();
        expect(result).toEqual({ attempt: 2, continuedFromExecutionRunId: firstRunId });

        const firstRun = env.client.workflow.getHandle(workflowId, firstRunId);
        expect(await statusOf(firstRun)).toBe('FAILED');
        const firstEvents = await eventsOf(firstRun);
        const failed = lastEvent(firstEvents).workflowExecutionFailedEventAttributes!;
        expect(failed.failure!.message).toBe('attempt 1 failed');
        expect(failed.retryState).toBe(temporal.api.enums.v1.RetryState.RETRY_STATE_IN_PROGRESS);
        const secondRunId = failed.newExecutionRunId!;
        expect(secondRunId).toBeTruthy();
        expect(secondRunId).not.toBe(firstRunId);

        const secondRun = env.client.workflow.getHandle(workflowId, secondRunId);
        expect(await statusOf(secondRun)).toBe('COMPLETED');
        const started = (await eventsOf(secondRun))[0]!.workflowExecutionStartedEventAttributes!;
        expect(started.attempt).toBe(2);
        expect(started.firstExecutionRunId).toBe(firstRunId);
        expect(started.continuedExecutionRunId).toBe(firstRunId);
        expect(started.initiator).toBe(temporal.api.enums.v1.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_RETRY);
        expect(started.continuedFailure!.message).toBe('attempt 1 failed');
        expect((await env.client.workflow.getHandle(workflowId).describe()).runId).toBe(secondRunId);
        await assertReplays(firstRun, workflowBundle);
        await assertReplays(secondRun, workflowBundle);
      });
    });

    it('a run timeout fails result() with a TimeoutFailure and closes the run as TIMED_OUT', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(gate, {
          taskQueue,
          workflowId: wid('run-timeout'),
          workflowRunTimeout: '1s',
        });
        const err = await rejectionOf(handle.result());
        expect(err).toBeInstanceOf(WorkflowFailedError);
        const cause = (err as WorkflowFailedError).cause;
        expect(cause).toBeInstanceOf(TimeoutFailure);
        expect((cause as TimeoutFailure).timeoutType).toBe(TimeoutType.START_TO_CLOSE);
        expect((err as WorkflowFailedError).retryState).toBe(RetryState.RETRY_POLICY_NOT_SET);
        expect(await statusOf(handle)).toBe('TIMED_OUT');
        const events = await eventsOf(handle);
        expect(Number(events[0]!.workflowExecutionStartedEventAttributes!.workflowRunTimeout!.seconds)).toBe(1);
        expect(typesOf(events).slice(-1)).toEqual(['WORKFLOW_EXECUTION_TIMED_OUT']);
        expect(lastEvent(events).workflowExecutionTimedOutEventAttributes!.retryState).toBe(
          temporal.api.enums.v1.RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET,
        );
        await assertReplays(handle, workflowBundle);
      });
    });
  });

  describe('signal-with-start', () => {
    it('starts a new run, then signals the same run when it is already running', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('sws');
        const first = await env.client.workflow.signalWithStart(accumulator, {
          taskQueue,
          workflowId,
          signal: addSignal,
          signalArgs: [5],
        });
        const second = await env.client.workflow.signalWithStart(accumulator, {
          taskQueue,
          workflowId,
          signal: addSignal,
          signalArgs: [7],
        });
        expect(second.signaledRunId).toBe(first.signaledRunId);
        await first.signal(finishSignal);
        expect(await first.result()).toEqual({ total: 12, values: [5, 7] });
        const events = await eventsOf(first);
        expect(events.filter((e) => e.workflowExecutionStartedEventAttributes)).toHaveLength(1);
        expect(typesOf(events).slice(0, 2)).toEqual(['WORKFLOW_EXECUTION_STARTED', 'WORKFLOW_EXECUTION_SIGNALED']);
        await assertReplays(first, workflowBundle);
      });
    });

    it('starts a new run when the previous run of the id has closed', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('sws-closed');
        const first = await env.client.workflow.signalWithStart(awaitGreeting, {
          taskQueue,
          workflowId,
          signal: greetSignal,
          signalArgs: ['one'],
        });
        expect(await first.result()).toBe('one');
        const second = await env.client.workflow.signalWithStart(awaitGreeting, {
          taskQueue,
          workflowId,
          signal: greetSignal,
          signalArgs: ['two'],
        });
        expect(second.signaledRunId).not.toBe(first.signaledRunId);
        expect(await second.result()).toBe('two');
        await assertReplays(env.client.workflow.getHandle(workflowId, first.signaledRunId), workflowBundle);
        await assertReplays(env.client.workflow.getHandle(workflowId, second.signaledRunId), workflowBundle);
      });
    });
  });

  describe('workflow id reuse and conflict', () => {
    it('rejects a second start while running, and USE_EXISTING returns the running run', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('conflict');
        const handle = await env.client.workflow.start(gate, { taskQueue, workflowId });
        const err = await rejectionOf(env.client.workflow.start(gate, { taskQueue, workflowId }));
        expect(err).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
        expect((err as WorkflowExecutionAlreadyStartedError).workflowId).toBe(workflowId);
        expect((err as WorkflowExecutionAlreadyStartedError).workflowType).toBe('gate');

        const existing = await env.client.workflow.start(gate, {
          taskQueue,
          workflowId,
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        expect(existing.firstExecutionRunId).toBe(handle.firstExecutionRunId);
        await existing.signal(releaseSignal, 'second handle');
        expect(await handle.result()).toBe('done by second handle');
        const events = await eventsOf(handle);
        expect(events.filter((e) => e.workflowExecutionStartedEventAttributes)).toHaveLength(1);
        await assertReplays(handle, workflowBundle);
      });
    });

    it('REJECT_DUPLICATE refuses a new run after completion; the default policy allows it', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('reject-dup');
        const first = await env.client.workflow.start(childEcho, { taskQueue, workflowId, args: ['a'] });
        expect(await first.result()).toBe('child says a');
        const err = await rejectionOf(
          env.client.workflow.start(childEcho, {
            taskQueue,
            workflowId,
            args: ['b'],
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          }),
        );
        expect(err).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
        const second = await env.client.workflow.start(childEcho, { taskQueue, workflowId, args: ['c'] });
        expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
        expect(await second.result()).toBe('child says c');
        await assertReplays(env.client.workflow.getHandle(workflowId, first.firstExecutionRunId), workflowBundle);
        await assertReplays(second, workflowBundle);
      });
    });

    it('ALLOW_DUPLICATE_FAILED_ONLY allows a new run only after a failed one', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const completedId = wid('dup-failed-only-ok');
        const completed = await env.client.workflow.start(childEcho, {
          taskQueue,
          workflowId: completedId,
          args: ['done'],
        });
        await completed.result();
        const err = await rejectionOf(
          env.client.workflow.start(childEcho, {
            taskQueue,
            workflowId: completedId,
            args: ['again'],
            workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
          }),
        );
        expect(err).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

        const failedId = wid('dup-failed-only-failed');
        const failed = await env.client.workflow.start(failsWith, { taskQueue, workflowId: failedId, args: ['no'] });
        expect(await rejectionOf(failed.result())).toBeInstanceOf(WorkflowFailedError);
        const retried = await env.client.workflow.start(childEcho, {
          taskQueue,
          workflowId: failedId,
          args: ['second chance'],
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        });
        expect(retried.firstExecutionRunId).not.toBe(failed.firstExecutionRunId);
        expect(await retried.result()).toBe('child says second chance');
        await assertReplays(completed, workflowBundle);
        await assertReplays(env.client.workflow.getHandle(failedId, failed.firstExecutionRunId), workflowBundle);
        await assertReplays(retried, workflowBundle);
      });
    });
  });

  describe('updates', () => {
    it('an accepted update returns the handler result and is recorded as accepted and completed', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(cart, { taskQueue, workflowId: wid('update') });
        expect(await handle.executeUpdate(addItemUpdate, { args: ['apple'] })).toBe(1);
        expect(await handle.executeUpdate(addItemUpdate, { args: ['pear'], updateId: 'second-item' })).toBe(2);
        expect(await handle.query(itemsQuery)).toEqual(['apple', 'pear']);
        await handle.signal(finishSignal);
        expect(await handle.result()).toEqual(['apple', 'pear']);

        const events = await eventsOf(handle);
        const accepted = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
        const completed = events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes);
        expect(accepted).toHaveLength(2);
        expect(completed).toHaveLength(2);
        const second = accepted[1]!.workflowExecutionUpdateAcceptedEventAttributes!;
        expect(second.protocolInstanceId).toBe('second-item');
        expect(second.acceptedRequest!.input!.name).toBe('addItem');
        expect(decode(second.acceptedRequest!.input!.args)).toBe('pear');
        const done = completed[1]!.workflowExecutionUpdateCompletedEventAttributes!;
        expect(done.meta!.updateId).toBe('second-item');
        expect(Number(done.acceptedEventId)).toBe(Number(accepted[1]!.eventId));
        expect(decode(done.outcome!.success)).toBe(2);
        events.forEach((e, i) => expect(Number(e.eventId)).toBe(i + 1));
        await assertReplays(handle, workflowBundle);
      });
    });

    it('an update rejected by its validator fails with WorkflowUpdateFailedError and leaves no trace', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(cart, { taskQueue, workflowId: wid('update-rejected') });
        expect(await handle.executeUpdate(addItemUpdate, { args: ['apple'] })).toBe(1);
        const before = typesOf(await eventsOf(handle));

        const err = await rejectionOf(handle.executeUpdate(addItemUpdate, { args: [''] }));
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((err as WorkflowUpdateFailedError).cause).toBeInstanceOf(ApplicationFailure);
        expect((err as WorkflowUpdateFailedError).cause!.message).toBe('item must not be empty');

        // No update events and no workflow task events: the speculative task is dropped.
        expect(typesOf(await eventsOf(handle))).toEqual(before);
        expect(await handle.query(itemsQuery)).toEqual(['apple']);
        await handle.signal(finishSignal);
        expect(await handle.result()).toEqual(['apple']);
        const events = await eventsOf(handle);
        expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
        expect(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toHaveLength(1);
        await assertReplays(handle, workflowBundle);
      });
    });

    it('update-with-start starts the workflow and returns the update result; USE_EXISTING reuses the run', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const workflowId = wid('update-with-start');
        const startOp = new WithStartWorkflowOperation(cart, {
          taskQueue,
          workflowId,
          workflowIdConflictPolicy: 'FAIL',
        });
        const count = await env.client.workflow.executeUpdateWithStart(addItemUpdate, {
          args: ['apple'],
          startWorkflowOperation: startOp,
        });
        expect(count).toBe(1);
        const handle = await startOp.workflowHandle();
        expect(handle.workflowId).toBe(workflowId);

        const againOp = new WithStartWorkflowOperation(cart, {
          taskQueue,
          workflowId,
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        expect(
          await env.client.workflow.executeUpdateWithStart(addItemUpdate, {
            args: ['pear'],
            startWorkflowOperation: againOp,
          }),
        ).toBe(2);
        expect((await (await againOp.workflowHandle()).describe()).runId).toBe((await handle.describe()).runId);

        const failOp = new WithStartWorkflowOperation(cart, {
          taskQueue,
          workflowId,
          workflowIdConflictPolicy: 'FAIL',
        });
        const err = await rejectionOf(
          env.client.workflow.executeUpdateWithStart(addItemUpdate, {
            args: ['plum'],
            startWorkflowOperation: failOp,
          }),
        );
        expect(err).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

        await handle.signal(finishSignal);
        expect(await handle.result()).toEqual(['apple', 'pear']);
        const events = await eventsOf(handle);
        const types = typesOf(events);
        // The update rides on the first workflow task of the new run.
        expect(types.slice(0, 6)).toEqual([
          'WORKFLOW_EXECUTION_STARTED',
          'WORKFLOW_TASK_SCHEDULED',
          'WORKFLOW_TASK_STARTED',
          'WORKFLOW_TASK_COMPLETED',
          'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
          'WORKFLOW_EXECUTION_UPDATE_COMPLETED',
        ]);
        expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED')).toHaveLength(2);
        expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_UPDATE_COMPLETED')).toHaveLength(2);
        expect(types.filter((t) => t === 'WORKFLOW_EXECUTION_STARTED')).toHaveLength(1);
        await assertReplays(handle, workflowBundle);
      });
    });

    it('startUpdate returns once accepted; the update handle result() waits for completion', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const handle = await env.client.workflow.start(cart, { taskQueue, workflowId: wid('start-update') });
        const updateHandle = await handle.startUpdate(addApprovedItemUpdate, {
          args: ['melon'],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
          updateId: 'melon-update',
        });
        expect(updateHandle.updateId).toBe('melon-update');
        // Accepted but not completed: the handler waits for approval.
        const midway = typesOf(await eventsOf(handle));
        expect(midway).toContain('WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
        expect(midway).not.toContain('WORKFLOW_EXECUTION_UPDATE_COMPLETED');
        expect(await handle.query(itemsQuery)).toEqual([]);

        await handle.signal(approveSignal);
        expect(await updateHandle.result()).toBe(1);
        // A new handle on the same update id sees the same outcome.
        expect(await handle.getUpdateHandle<number>('melon-update').result()).toBe(1);
        await handle.signal(finishSignal);
        expect(await handle.result()).toEqual(['melon']);
        const types = typesOf(await eventsOf(handle));
        expect(types.indexOf('WORKFLOW_EXECUTION_UPDATE_COMPLETED')).toBeGreaterThan(
          types.indexOf('WORKFLOW_EXECUTION_SIGNALED'),
        );
        await assertReplays(handle, workflowBundle);
      });
    });
  });

  describe('external signals', () => {
    it('one workflow signals another through getExternalWorkflowHandle', async () => {
      await withLifecycleWorker(async (taskQueue) => {
        const receiver = await env.client.workflow.start(awaitGreeting, { taskQueue, workflowId: wid('receiver') });
        const sender = await env.client.workflow.start(signalSender, {
          taskQueue,
          workflowId: wid('sender'),
          args: [receiver.workflowId, 'hello, neighbour'],
        });
        expect(await sender.result()).toBe('sent hello, neighbour');
        expect(await receiver.result()).toBe('hello, neighbour');

        const received = eventOf(await eventsOf(receiver), EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
        const attrs = received.workflowExecutionSignaledEventAttributes!;
        expect(attrs.signalName).toBe('greet');
        expect(attrs.externalWorkflowExecution!.workflowId).toBe(sender.workflowId);
        expect(attrs.externalWorkflowExecution!.runId).toBe(sender.firstExecutionRunId);

        const senderEvents = await eventsOf(sender);
        const initiated = eventOf(senderEvents, EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);
        expect(initiated.signalExternalWorkflowExecutionInitiatedEventAttributes!.workflowExecution!.workflowId).toBe(
          receiver.workflowId,
        );
        const signaled = eventOf(senderEvents, EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED);
        expect(Number(signaled.externalWorkflowExecutionSignaledEventAttributes!.initiatedEventId)).toBe(
          Number(initiated.eventId),
        );
        await assertReplays(sender, workflowBundle);
        await assertReplays(receiver, workflowBundle);
      });
    });
  });
});
