/**
 * Service-level behaviour through the official client's raw WorkflowService: system info, namespaces, history
 * paging (forward and reverse), DescribeWorkflowExecution with pending work, and workflow task failure semantics
 * (the first failure is written to history, later attempts are transient).
 */
import Long from 'long';
import { temporal } from '@temporalio/proto';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import * as activities from './fixtures/activities';
import {
  assertReplays,
  bundle,
  connect,
  rawRun,
  uniqueQueue,
  withWorker,
  type TestEnv,
  type WorkflowTaskPoll,
} from './harness';
import { pollUntil } from '../support/poll';

const EventType = temporal.api.enums.v1.EventType;
let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/service-workflows'));
});
afterAll(() => env?.close());

describe('system info and namespaces', () => {
  it('reports capabilities the SDK relies on', async () => {
    const info = await env.connection.workflowService.getSystemInfo({});
    expect(info.capabilities?.sdkMetadata).toBe(true);
    expect(info.capabilities?.signalAndQueryHeader).toBe(true);
    expect(info.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('registers, describes, lists and updates a namespace', async () => {
    const svc = env.connection.workflowService;
    const name = `ns-${Date.now()}`;
    await svc.registerNamespace({
      namespace: name,
      description: 'first',
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(3600) },
    });
    const described = await svc.describeNamespace({ namespace: name });
    expect(described.namespaceInfo?.name).toBe(name);
    expect(described.namespaceInfo?.description).toBe('first');
    expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds)).toBe(3600);
    await expect(svc.registerNamespace({ namespace: name })).rejects.toMatchObject({ code: 6 }); // ALREADY_EXISTS
    const updated = await svc.updateNamespace({
      namespace: name,
      updateInfo: { description: 'second', data: { team: 'ml' } },
    });
    expect(updated.namespaceInfo?.description).toBe('second');
    expect(updated.namespaceInfo?.data).toEqual({ team: 'ml' });
    const listed = await svc.listNamespaces({});
    expect(listed.namespaces.map((n) => n.namespaceInfo?.name)).toEqual(expect.arrayContaining(['default', name]));
    await expect(svc.describeNamespace({ namespace: 'no-such-namespace' })).rejects.toMatchObject({ code: 5 }); // NOT_FOUND
    await expect(svc.registerNamespace({ namespace: 'bad name!' })).rejects.toMatchObject({ code: 3 });
  });

  it('runs workflows in a registered namespace, isolated from default', async () => {
    const name = `ns-run-${Date.now()}`;
    await env.connection.workflowService.registerNamespace({ namespace: name });
    const nsEnv = await connect(name);
    try {
      const taskQueue = uniqueQueue();
      await withWorker(nsEnv, { taskQueue, workflowBundle, activities, namespace: name }, async () => {
        const workflowId = uniqueQueue('ns');
        expect(await nsEnv.client.workflow.execute('steps', { taskQueue, workflowId, args: [2] })).toBe(2);
        await expect(env.client.workflow.getHandle(workflowId).describe()).rejects.toThrow(/not found/i);
      });
    } finally {
      await nsEnv.close();
    }
  });
});

describe('history', () => {
  it('pages forward and in reverse with contiguous event ids', async () => {
    const taskQueue = uniqueQueue();
    await withWorker(env, { taskQueue, workflowBundle, activities }, async () => {
      const handle = await env.client.workflow.start('steps', {
        taskQueue,
        workflowId: uniqueQueue('page'),
        args: [10],
      });
      await handle.result();
      const svc = env.connection.workflowService;
      const execution = { workflowId: handle.workflowId };
      const ids: number[] = [];
      let nextPageToken: Uint8Array | null = null;
      let pages = 0;
      do {
        const page: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse =
          await svc.getWorkflowExecutionHistory({
            namespace: 'default',
            execution,
            maximumPageSize: 7,
            nextPageToken,
          });
        expect(page.history!.events!.length).toBeLessThanOrEqual(7);
        ids.push(...page.history!.events!.map((e) => Number(e.eventId)));
        nextPageToken = page.nextPageToken?.length ? page.nextPageToken : null;
        pages++;
      } while (nextPageToken);
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
      expect(pages).toBe(Math.ceil(ids.length / 7));

      const reversed: number[] = [];
      nextPageToken = null;
      do {
        const page: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryReverseResponse =
          await svc.getWorkflowExecutionHistoryReverse({
            namespace: 'default',
            execution,
            maximumPageSize: 5,
            nextPageToken,
          });
        reversed.push(...page.history!.events!.map((e) => Number(e.eventId)));
        nextPageToken = page.nextPageToken?.length ? page.nextPageToken : null;
      } while (nextPageToken);
      expect(reversed).toEqual([...ids].reverse());

      const close = await svc.getWorkflowExecutionHistory({
        namespace: 'default',
        execution,
        historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
      });
      expect(close.history!.events!.map((e) => e.eventType)).toEqual([
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
      ]);
      await expect(
        svc.getWorkflowExecutionHistory({ namespace: 'default', execution, nextPageToken: Buffer.from('garbage') }),
      ).rejects.toMatchObject({ code: 3 });
    });
  });
});

describe('describe', () => {
  it('shows pending activities and children, then their completion', async () => {
    const taskQueue = uniqueQueue();
    await withWorker(env, { taskQueue, workflowBundle, activities }, async () => {
      const handle = await env.client.workflow.start('busyParent', { taskQueue, workflowId: uniqueQueue('busy') });
      const described = await pollUntil('a started pending activity and a pending child', async () => {
        const d = await env.connection.workflowService.describeWorkflowExecution({
          namespace: 'default',
          execution: { workflowId: handle.workflowId },
        });
        return d.pendingActivities.length === 1 &&
          d.pendingChildren.length === 1 &&
          d.pendingActivities[0]!.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
          ? d
          : undefined;
      });
      expect(described.pendingActivities[0]!.activityType?.name).toBe('waitForCancel');
      expect(described.pendingChildren[0]!.workflowId).toBe(`${handle.workflowId}-child`);
      expect(described.pendingChildren[0]!.workflowTypeName).toBe('idleChild');
      expect(described.workflowExecutionInfo?.status).toBe(
        temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
      );
      await handle.signal('finish');
      expect(await handle.result()).toBe('child done');
      const after = await env.connection.workflowService.describeWorkflowExecution({
        namespace: 'default',
        execution: { workflowId: handle.workflowId },
      });
      expect(after.pendingActivities).toHaveLength(0);
      expect(after.pendingChildren).toHaveLength(0);
      expect(after.workflowExecutionInfo?.status).toBe(
        temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED,
      );
      expect(Number(after.workflowExecutionInfo?.historyLength)).toBe((await handle.fetchHistory()).events!.length);
      await assertReplays(handle, workflowBundle);
      await assertReplays(env.client.workflow.getHandle(`${handle.workflowId}-child`), workflowBundle);
    });
  });
});

describe('workflow task failures', () => {
  it('writes the first failure to history and retries later attempts transiently', async () => {
    const taskQueue = uniqueQueue();
    await withWorker(env, { taskQueue, workflowBundle, activities }, async () => {
      // Core reports only the first failure of a task; later attempts are left to time out (3 s here: long enough
      // for a worker on a loaded machine to report the first attempt's failure before that attempt times out).
      const handle = await env.client.workflow.start('brokenWorkflow', {
        taskQueue,
        workflowId: uniqueQueue('broken'),
        workflowTaskTimeout: '3s',
      });
      const described = await pollUntil('the third attempt of the failing workflow task', async () => {
        const d = await env.connection.workflowService.describeWorkflowExecution({
          namespace: 'default',
          execution: { workflowId: handle.workflowId },
        });
        return (d.pendingWorkflowTask?.attempt ?? 0) >= 3 ? d : undefined;
      });
      expect(described.workflowExecutionInfo?.status).toBe(
        temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
      );
      const history = await handle.fetchHistory();
      const failed = history.events!.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      expect(failed).toHaveLength(1);
      expect(failed[0]!.workflowTaskFailedEventAttributes?.failure?.message).toContain('bug in workflow code');
      const scheduled = history.events!.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
      expect(scheduled).toHaveLength(1);
      expect(history.events!.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)).toBe(false);
      expect(history.events!.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)).toBe(false);
      // A signal while the task keeps failing is written, and the next attempt is a normal (non-transient) task.
      await handle.signal('ignored');
      const withSignal = await handle.fetchHistory();
      expect(withSignal.events!.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)).toBe(
        true,
      );
      await handle.terminate('test over');
      const final = await handle.fetchHistory();
      const last = final.events![final.events!.length - 1]!;
      expect(last.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
      expect(last.workflowExecutionTerminatedEventAttributes?.reason).toBe('test over');
      final.events!.forEach((e, i) => expect(Number(e.eventId)).toBe(i + 1));
    });
  });

  it('answers a completion that closes the run over unseen events with INVALID_ARGUMENT "UnhandledCommand"', async () => {
    const run = rawRun(env.connection.workflowService, 'unhandled');
    const { svc, taskQueue, workflowId } = run;
    await run.start();
    const poll = (): Promise<WorkflowTaskPoll> => run.pollTask();
    const first = await poll();
    // A signal arrives while the task is in flight; the completion then tries to continue as new without seeing it.
    await svc.signalWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId },
      signalName: 'late',
      requestId: `${workflowId}-signal`,
    });
    const continueAsNew = {
      commandType: temporal.api.enums.v1.CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
      continueAsNewWorkflowExecutionCommandAttributes: {
        workflowType: { name: 'anything' },
        taskQueue: { name: taskQueue },
      },
    };
    const refusal = await run.complete(first, [continueAsNew]).then(
      () => undefined,
      (err: { code?: number; details?: string }) => err,
    );
    expect(refusal).toMatchObject({ code: 3, details: 'UnhandledCommand' });

    // The run stays open; the failed task and the signal are in history, and the next task carries both.
    const second = await poll();
    const types = (second.history?.events ?? []).map((e) => EventType[Number(e.eventType)]);
    expect(types).toEqual([
      'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
      'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
      'EVENT_TYPE_WORKFLOW_TASK_STARTED',
      'EVENT_TYPE_WORKFLOW_TASK_FAILED',
      'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED',
      'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
      'EVENT_TYPE_WORKFLOW_TASK_STARTED',
    ]);
    const failed = second.history?.events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    expect(failed?.workflowTaskFailedEventAttributes?.cause).toBe(
      temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    );
    expect(failed?.workflowTaskFailedEventAttributes?.failure?.message).toBe('UnhandledCommand');
    await run.complete(second, [continueAsNew]);
    const described = await svc.describeWorkflowExecution({ namespace: 'default', execution: { workflowId } });
    expect(described.workflowExecutionInfo?.execution?.runId).not.toBe(first.workflowExecution?.runId);
    await svc.terminateWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId } });
  });
});
