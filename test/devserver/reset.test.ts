/**
 * ResetWorkflowExecution through the official SDK (`client.workflowService.resetWorkflowExecution`, the call the Web
 * UI's reset makes), with Temporal's semantics: a new run forked before a workflow task (the first or the last one, as
 * the CLI and the UI compute them, or any given finish event id), the signals and updates received after that point
 * applied again as `resetReapplyType` / `resetReapplyExcludeTypes` say, the runs linked both ways (the terminated
 * current run, `WorkflowTaskFailed` with cause RESET_WORKFLOW naming the base and new runs, `resetRunId`, reset points),
 * the chain's first run id kept, request ids deduplicated, and bad event ids refused with Temporal's messages. Both
 * runs' histories replay with `Worker.runReplayHistory`.
 */
import { randomUUID } from 'node:crypto';
import { type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { add, collector, continuesOnce, push } from './fixtures/reset-workflows';
import { bundle, connect, runInBackground, uniqueQueue, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';
import { grpcRejection } from '../support/rejection';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
const ReapplyType = temporal.api.enums.v1.ResetReapplyType;
const ExcludeType = temporal.api.enums.v1.ResetReapplyExcludeType;
const Origin = temporal.api.enums.v1.UpdateAdmittedEventOrigin;
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
let stopWorker: () => Promise<void>;
const taskQueue = uniqueQueue('reset');

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/reset-workflows'));
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: { stamp: (label: string) => Promise.resolve(`stamped ${label}`) },
  });
  stopWorker = runInBackground(worker);
});
afterAll(async () => {
  await stopWorker?.();
  await env?.close();
});

async function historyOf(workflowId: string, runId: string): Promise<HistoryEvent[]> {
  return (await env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
}

const types = (events: HistoryEvent[]): number[] => events.map((e) => Number(e.eventType));

/** The finish event ids of the first and last workflow tasks, as the CLI and the Web UI pick reset points. */
function workflowTaskFinishIds(events: HistoryEvent[]): { first: number; last: number } {
  const completed = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  return { first: Number(completed[0]?.eventId), last: Number(completed[completed.length - 1]?.eventId) };
}

type ResetResponse = temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse;

/** ResetWorkflowExecution through the SDK's raw service, as the Web UI calls it. */
function resetRaw(request: Record<string, unknown>): Promise<ResetResponse> {
  return env.client.workflowService.resetWorkflowExecution(request);
}

/** Resets a workflow, with a fresh request id unless one is given; resolves with the new run's id. */
async function reset(
  workflowId: string,
  runId: string,
  workflowTaskFinishEventId: number,
  extra: { requestId?: string; resetReapplyType?: number; resetReapplyExcludeTypes?: number[] } = {},
): Promise<{ runId: string }> {
  const response = await resetRaw({
    namespace: 'default',
    workflowExecution: { workflowId, runId },
    reason: 'reset by the test',
    workflowTaskFinishEventId,
    requestId: randomUUID(),
    ...extra,
  });
  return { runId: response.runId ?? '' };
}

async function replays(workflowId: string, runId: string): Promise<void> {
  await Worker.runReplayHistory({ workflowBundle }, { events: await historyOf(workflowId, runId) }, workflowId);
}

/** Starts `collector` and waits until it has run its activity and is waiting for values. */
async function startCollector(count: number): Promise<WorkflowHandleWithFirstExecutionRunId<typeof collector>> {
  const handle = await env.client.workflow.start(collector, {
    taskQueue,
    workflowId: `reset-${randomUUID()}`,
    args: [count],
  });
  await pollUntil(`the second completed workflow task of ${handle.workflowId}`, async () => {
    const events = await historyOf(handle.workflowId, handle.firstExecutionRunId);
    return events.filter((e) => e.workflowTaskCompletedEventAttributes).length >= 2;
  });
  return handle;
}

describe('ResetWorkflowExecution', () => {
  it('resets a running workflow to its first workflow task and applies its signal again', async () => {
    const handle = await startCollector(2);
    const { workflowId } = handle;
    const baseRunId = handle.firstExecutionRunId;
    await handle.signal(add, 'a');
    await pollUntil(`the signal in the history of ${workflowId}`, async () =>
      (await historyOf(workflowId, baseRunId)).some((e) => e.workflowExecutionSignaledEventAttributes),
    );
    const baseEvents = await historyOf(workflowId, baseRunId);
    const { first } = workflowTaskFinishIds(baseEvents);

    const { runId: newRunId } = await reset(workflowId, baseRunId, first);
    expect(newRunId).toBeTruthy();
    expect(newRunId).not.toBe(baseRunId);
    // The new run is the workflow's current run; the signal sent to the old one is not lost.
    await env.client.workflow.getHandle(workflowId).signal(add, 'b');
    expect(await env.client.workflow.getHandle(workflowId).result()).toEqual(['a', 'b']);

    // The old run: terminated by the resetter, naming the new run.
    const base = await env.client.workflow.getHandle(workflowId, baseRunId).describe();
    expect(base.status.name).toBe('TERMINATED');
    expect(base.raw.workflowExtendedInfo?.resetRunId).toBe(newRunId);
    const terminated = (await historyOf(workflowId, baseRunId)).at(-1)?.workflowExecutionTerminatedEventAttributes;
    expect(terminated).toMatchObject({ reason: 'reset by the test', identity: 'history-resetter' });

    // The new run: the old run's events before the reset point, the failed task naming both runs, the signal again.
    const events = await historyOf(workflowId, newRunId);
    expect(types(events.slice(0, first - 1))).toEqual(types(baseEvents.slice(0, first - 1)));
    expect(events[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId).toBe(baseRunId);
    const failed = events[first - 1];
    expect(Number(failed?.eventType)).toBe(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    expect(failed?.workflowTaskFailedEventAttributes).toMatchObject({
      cause: Cause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
      baseRunId,
      newRunId,
      identity: 'history-service',
    });
    expect(failed?.workflowTaskFailedEventAttributes?.failure?.message).toBe('reset by the test');
    expect(failed?.workflowTaskFailedEventAttributes?.failure?.resetWorkflowFailureInfo).toBeTruthy();
    const signals = events
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a)
      .map((a) => Buffer.from(a!.input!.payloads![0]!.data!).toString());
    expect(signals).toEqual(['"a"', '"b"']);
    expect(Number(events[first]?.eventType)).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);

    // Describe links them: the chain's first run id is kept, the reset time and the original start are shown.
    const description = await env.client.workflow.getHandle(workflowId, newRunId).describe();
    expect(description.raw.workflowExecutionInfo?.firstRunId).toBe(baseRunId);
    expect(description.raw.workflowExtendedInfo?.lastResetTime).toBeTruthy();
    expect(description.raw.workflowExtendedInfo?.originalStartTime).toEqual(base.raw.workflowExecutionInfo?.startTime);
    const points = base.raw.workflowExecutionInfo?.autoResetPoints?.points ?? [];
    expect(points[0]).toMatchObject({ runId: baseRunId, resettable: true });
    expect(Number(points[0]?.firstWorkflowTaskCompletedId)).toBe(first);
    expect(points[0]?.binaryChecksum).toBeTruthy();

    await replays(workflowId, baseRunId);
    await replays(workflowId, newRunId);
  });

  it('resets a closed run, to its first or its last workflow task', async () => {
    const handle = await startCollector(2);
    const { workflowId } = handle;
    const baseRunId = handle.firstExecutionRunId;
    await handle.signal(add, 'a');
    await handle.signal(add, 'b');
    expect(await handle.result()).toEqual(['a', 'b']);
    const { first, last } = workflowTaskFinishIds(await historyOf(workflowId, baseRunId));

    // From the first task, both signals come again: the new run completes by itself.
    const again = await reset(workflowId, baseRunId, first);
    expect(await env.client.workflow.getHandle(workflowId, again.runId).result()).toEqual(['a', 'b']);
    const base = await env.client.workflow.getHandle(workflowId, baseRunId).describe();
    expect(base.status.name).toBe('COMPLETED'); // a closed run is not terminated
    expect(base.raw.workflowExtendedInfo?.resetRunId).toBe(again.runId);

    // From the last task (the one that completed the run): the signals are before the reset point.
    const fromLast = await reset(workflowId, baseRunId, last);
    expect(await env.client.workflow.getHandle(workflowId, fromLast.runId).result()).toEqual(['a', 'b']);
    const lastEvents = await historyOf(workflowId, fromLast.runId);
    expect(lastEvents.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(2);
    expect(Number(lastEvents[last - 2]?.eventType)).toBe(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
    expect(lastEvents[last - 1]?.workflowTaskFailedEventAttributes?.cause).toBe(
      Cause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
    );
    // The latest reset is the one the base run names, and the first run id stays the chain's.
    expect(
      (await env.client.workflow.getHandle(workflowId, baseRunId).describe()).raw.workflowExtendedInfo?.resetRunId,
    ).toBe(fromLast.runId);
    expect((await env.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.firstRunId).toBe(
      baseRunId,
    );
    for (const runId of [baseRunId, again.runId, fromLast.runId]) await replays(workflowId, runId);
  });

  it('reapplies signals and updates as the reapply type and exclude types say', async () => {
    const handle = await startCollector(3);
    const { workflowId } = handle;
    const baseRunId = handle.firstExecutionRunId;
    await handle.signal(add, 'a');
    expect(await handle.executeUpdate(push, { args: ['u'] })).toBe(3);
    const { first } = workflowTaskFinishIds(await historyOf(workflowId, baseRunId));

    const reapplied = async (runId: string) => {
      const events = await historyOf(workflowId, runId);
      return {
        signals: events.filter((e) => e.workflowExecutionSignaledEventAttributes).length,
        updates: events
          .map((e) => e.workflowExecutionUpdateAdmittedEventAttributes)
          .filter((a) => a)
          .map((a) => [a!.request?.meta?.updateId, a!.origin]),
      };
    };
    const updateId = (await historyOf(workflowId, baseRunId)).find(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
    )?.workflowExecutionUpdateAcceptedEventAttributes?.protocolInstanceId;

    // All eligible (the default): the signal and the update, the update as admitted again by the reset.
    const all = await reset(workflowId, baseRunId, first);
    expect(await reapplied(all.runId)).toEqual({
      signals: 1,
      updates: [[updateId, Origin.UPDATE_ADMITTED_EVENT_ORIGIN_REAPPLY]],
    });
    // The workflow handles the update again on the new run: accepted and completed there.
    await pollUntil(`the update to complete again on the reset run of ${workflowId}`, async () =>
      (await historyOf(workflowId, all.runId)).some((e) => e.workflowExecutionUpdateCompletedEventAttributes),
    );
    const accepted = (await historyOf(workflowId, all.runId)).find(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
    );
    expect(accepted?.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest).toBeFalsy();
    await replays(workflowId, all.runId);

    const signalOnly = await reset(workflowId, baseRunId, first, {
      resetReapplyType: ReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
    });
    expect(await reapplied(signalOnly.runId)).toEqual({ signals: 1, updates: [] });
    const none = await reset(workflowId, baseRunId, first, { resetReapplyType: ReapplyType.RESET_REAPPLY_TYPE_NONE });
    expect(await reapplied(none.runId)).toEqual({ signals: 0, updates: [] });
    const noSignals = await reset(workflowId, baseRunId, first, {
      resetReapplyExcludeTypes: [ExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL],
    });
    expect(await reapplied(noSignals.runId)).toEqual({
      signals: 0,
      updates: [[updateId, Origin.UPDATE_ADMITTED_EVENT_ORIGIN_REAPPLY]],
    });
    // Each reset terminated the run before it (the current one), not the base.
    const terminated = await historyOf(workflowId, none.runId);
    expect(terminated.at(-1)?.workflowExecutionTerminatedEventAttributes?.identity).toBe('history-resetter');
    await env.client.workflow.getHandle(workflowId).terminate('done');
  });

  it('answers a repeated request id with the run it created', async () => {
    const handle = await startCollector(1);
    const { workflowId } = handle;
    const { first } = workflowTaskFinishIds(await historyOf(workflowId, handle.firstExecutionRunId));
    const requestId = randomUUID();
    const once = await reset(workflowId, handle.firstExecutionRunId, first, { requestId });
    const twice = await reset(workflowId, handle.firstExecutionRunId, first, { requestId });
    expect(twice.runId).toBe(once.runId);
    expect((await env.client.workflow.getHandle(workflowId).describe()).runId).toBe(once.runId);
    expect((await env.client.workflow.getHandle(workflowId, once.runId).describe()).status.name).toBe('RUNNING');
    await env.client.workflow.getHandle(workflowId).terminate('done');
  });

  it('resets an earlier run of a continue-as-new chain, terminating the current run and reapplying its signals', async () => {
    const workflowId = `reset-chain-${randomUUID()}`;
    const handle = await env.client.workflow.start(continuesOnce, { taskQueue, workflowId });
    const baseRunId = handle.firstExecutionRunId;
    await handle.signal(add, 'first');
    const second = await pollUntil(`${workflowId} to continue as new`, async () => {
      const current = await env.client.workflow.getHandle(workflowId).describe();
      return current.runId !== baseRunId ? current.runId : undefined;
    });
    const { first } = workflowTaskFinishIds(await historyOf(workflowId, baseRunId));

    const { runId } = await reset(workflowId, baseRunId, first);
    expect((await env.client.workflow.getHandle(workflowId, second).describe()).status.name).toBe('TERMINATED');
    expect((await env.client.workflow.getHandle(workflowId, baseRunId).describe()).status.name).toBe(
      'CONTINUED_AS_NEW',
    );
    // The signal of the base run after the reset point is applied again: the new run continues as new once more.
    const third = await pollUntil(`the reset run of ${workflowId} to continue as new`, async () => {
      const current = await env.client.workflow.getHandle(workflowId).describe();
      return current.runId !== runId ? current.runId : undefined;
    });
    expect(
      (await historyOf(workflowId, third))[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId,
    ).toBe(runId);
    await env.client.workflow.getHandle(workflowId).signal(add, 'last');
    expect(await env.client.workflow.getHandle(workflowId).result()).toBe('last');
    await replays(workflowId, runId);
  });

  it("refuses bad requests with Temporal's messages", async () => {
    const handle = await startCollector(1);
    const { workflowId } = handle;
    const runId = handle.firstExecutionRunId;
    const events = await historyOf(workflowId, runId);
    const last = Number(events.at(-1)?.eventId);
    const afterCompleted = events.find((e) => e.activityTaskScheduledEventAttributes);

    const outOfRange = 'Workflow task finish ID must be > 1 && <= workflow last event ID.';
    for (const id of [0, 1, last + 1, last + 100]) {
      expect(await grpcRejection(reset(workflowId, runId, id))).toMatchObject({
        code: INVALID_ARGUMENT,
        details: outOfRange,
      });
    }
    const id = Number(afterCompleted?.eventId);
    expect(await grpcRejection(reset(workflowId, runId, id))).toMatchObject({
      code: INVALID_ARGUMENT,
      details: `Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: ${id}`,
    });
    expect(
      await grpcRejection(
        resetRaw({
          namespace: 'default',
          workflowExecution: { workflowId },
          workflowTaskFinishEventId: 4,
        }),
      ),
    ).toMatchObject({ code: INVALID_ARGUMENT, details: 'RequestId is not set on request.' });
    expect(
      await grpcRejection(resetRaw({ namespace: 'default', requestId: randomUUID(), workflowTaskFinishEventId: 4 })),
    ).toMatchObject({ code: INVALID_ARGUMENT, details: 'Execution is not set on request.' });
    expect(
      await grpcRejection(
        resetRaw({
          namespace: 'default',
          requestId: randomUUID(),
          workflowExecution: { workflowId, runId: 'not-a-run-id' },
          workflowTaskFinishEventId: 4,
        }),
      ),
    ).toMatchObject({ code: INVALID_ARGUMENT, details: 'Invalid RunId.' });
    expect(await grpcRejection(reset(`missing-${randomUUID()}`, '', 4))).toMatchObject({ code: NOT_FOUND });
    // Nothing was reset: the run is still the current one, running.
    const description = await env.client.workflow.getHandle(workflowId).describe();
    expect([description.runId, description.status.name]).toEqual([runId, 'RUNNING']);
    await handle.terminate('done');
  });
});
