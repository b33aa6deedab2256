/**
 * Eager workflow start through the official SDK: a `Client` built on the worker's `NativeConnection` asks for it
 * (`requestEagerStart`), the server answers StartWorkflowExecution with the run's first workflow task, and the worker
 * runs it without polling (the task's started event carries the client's identity, and the SDK reports
 * `eagerlyStarted`). Temporal's fallbacks: a task nobody takes times out and is retried through the task queue; a
 * retried start gets the same task while it is outstanding; a start delay, an update-with-start or a server with eager
 * start turned off (capability reported off) get no task.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import { greet } from './fixtures/eager-workflows';
import { assertReplays, bundle, connect, uniqueQueue, type TestEnv } from './harness';

const EventType = temporal.api.enums.v1.EventType;
const TimeoutType = temporal.api.enums.v1.TimeoutType;
const INVALID_ARGUMENT = 3;

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/eager-workflows'));
});
afterAll(async () => {
  await env?.close();
});

/** A worker on `taskQueue` of the connection, with a fixed identity to tell its events from the client's. */
function createWorker(connection: NativeConnection, taskQueue: string): Promise<Worker> {
  return Worker.create({ connection, taskQueue, workflowBundle, identity: 'eager-worker', maxCachedWorkflows: 0 });
}

/** A raw StartWorkflowExecution request of `greet` on `taskQueue`. */
function startRequest(
  taskQueue: string,
  extra: { requestEagerExecution: boolean; workflowTaskTimeout?: object; workflowStartDelay?: object },
): temporal.api.workflowservice.v1.IStartWorkflowExecutionRequest & { workflowId: string; requestId: string } {
  return {
    ...(extra as temporal.api.workflowservice.v1.IStartWorkflowExecutionRequest),
    namespace: 'default',
    workflowId: `eager-${randomUUID()}`,
    workflowType: { name: 'greet' },
    taskQueue: { name: taskQueue },
    input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"raw"') }] },
    identity: 'raw-client',
    requestId: randomUUID(),
  };
}

describe('eager workflow start', () => {
  it('is reported by the server and the namespace', async () => {
    const info = await env.connection.workflowService.getSystemInfo({});
    expect(info.capabilities?.eagerWorkflowStart).toBe(true);
    const ns = await env.connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(ns.namespaceInfo?.capabilities?.eagerWorkflowStart).toBe(true);
  });

  it('hands the first workflow task to the worker that shares the client connection', async () => {
    const taskQueue = uniqueQueue('eager');
    const worker = await createWorker(env.nativeConnection, taskQueue);
    const client = new Client({ connection: env.nativeConnection, identity: 'eager-client' });
    const workflowId = `eager-${randomUUID()}`;
    const handle = await worker.runUntil(async () => {
      const started = await client.workflow.start(greet, {
        taskQueue,
        workflowId,
        args: ['eager'],
        requestEagerStart: true,
      });
      expect(started.eagerlyStarted).toBe(true);
      expect(await started.result()).toBe('hello eager');
      return started;
    });
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.map((e) => Number(e.eventType)).slice(0, 5)).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    ]);
    // Started for the client that asked (no poll took it), completed by the worker that shares its connection.
    expect(events[2]?.workflowTaskStartedEventAttributes?.identity).toBe('eager-client');
    expect(events[3]?.workflowTaskCompletedEventAttributes?.identity).toBe('eager-worker');
    await assertReplays(handle, workflowBundle);
  });

  it('starts normally, through the task queue, when the client does not share the worker connection', async () => {
    const taskQueue = uniqueQueue('eager-separate');
    const worker = await createWorker(env.nativeConnection, taskQueue);
    const handle = await worker.runUntil(async () => {
      const started = await env.client.workflow.start(greet, {
        taskQueue,
        workflowId: `eager-${randomUUID()}`,
        args: ['polled'],
      });
      expect(started.eagerlyStarted).toBe(false);
      expect(await started.result()).toBe('hello polled');
      return started;
    });
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events[2]?.workflowTaskStartedEventAttributes?.identity).toBe('eager-worker');
  });

  it('lets an eager task nobody takes time out, then dispatches it through the task queue', async () => {
    const taskQueue = uniqueQueue('eager-fallback');
    const request = startRequest(taskQueue, { requestEagerExecution: true, workflowTaskTimeout: { seconds: 1 } });
    const response = await env.connection.workflowService.startWorkflowExecution(request);
    const task = response.eagerWorkflowTask;
    expect(response.started).toBe(true);
    expect(task?.workflowExecution?.runId).toBe(response.runId);
    expect(Number(task?.startedEventId)).toBe(3);
    expect(Number(task?.previousStartedEventId)).toBe(0);
    expect(task?.attempt).toBe(1);
    expect(task?.workflowExecutionTaskQueue?.name).toBe(taskQueue);
    expect(task?.history?.events?.map((e) => Number(e.eventType))).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ]);
    const started = task?.history?.events?.[2]?.workflowTaskStartedEventAttributes;
    expect(started?.identity).toBe('raw-client');
    expect(started?.requestId).toBe(request.requestId);

    // The same request again, while the task is outstanding: the same task, not a second run.
    const again = await env.connection.workflowService.startWorkflowExecution(request);
    expect(again.runId).toBe(response.runId);
    expect(Buffer.from(again.eagerWorkflowTask?.taskToken ?? [])).toEqual(Buffer.from(task?.taskToken ?? []));

    // A worker polling the queue gets the task only after it timed out (it was never on the queue before).
    const worker = await createWorker(env.nativeConnection, taskQueue);
    const handle = env.client.workflow.getHandle(request.workflowId, response.runId);
    expect(await worker.runUntil(handle.result())).toBe('hello raw');
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.map((e) => Number(e.eventType))).toEqual([
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
      EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    ]);
    expect(events[3]?.workflowTaskTimedOutEventAttributes?.timeoutType).toBe(TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
    expect(events[4]?.workflowTaskScheduledEventAttributes?.attempt).toBe(2);
    expect(events[5]?.workflowTaskStartedEventAttributes?.identity).toBe('eager-worker');
    await assertReplays(handle, workflowBundle);

    // Once the run moved on, a retried start names the run without a task.
    const late = await env.connection.workflowService.startWorkflowExecution(request);
    expect(late.runId).toBe(response.runId);
    expect(late.eagerWorkflowTask).toBeFalsy();
  });

  it('gives no task to a start with a start delay, nor to update-with-start', async () => {
    const taskQueue = uniqueQueue('eager-denied');
    const delayed = startRequest(taskQueue, { requestEagerExecution: true, workflowStartDelay: { seconds: 3600 } });
    const response = await env.connection.workflowService.startWorkflowExecution(delayed);
    expect(response.started).toBe(true);
    expect(response.eagerWorkflowTask).toBeFalsy();
    await env.client.workflow.getHandle(delayed.workflowId).terminate('done');

    const start = startRequest(taskQueue, { requestEagerExecution: true });
    const refused = await env.connection.workflowService
      .executeMultiOperation({
        namespace: 'default',
        operations: [
          { startWorkflow: start },
          {
            updateWorkflow: {
              namespace: 'default',
              workflowExecution: { workflowId: start.workflowId },
              request: { meta: { updateId: 'u1' }, input: { name: 'u' } },
            },
          },
        ],
      })
      .then(
        () => undefined,
        (err: unknown) => err as { code?: number },
      );
    expect(refused?.code).toBe(INVALID_ARGUMENT);
    await expect(env.client.workflow.getHandle(start.workflowId).describe()).rejects.toThrow(/not found/);
  });
});

describe('a server with eager workflow start turned off', () => {
  let server: DevServerHandle;
  let connection: NativeConnection;

  beforeAll(async () => {
    server = await startDevServer({ port: 0, eagerWorkflowStart: false });
    connection = await NativeConnection.connect({ address: server.address });
  });
  afterAll(async () => {
    await connection?.close();
    await server?.close();
  });

  it('reports the capability off and starts through the task queue', async () => {
    const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(ns.namespaceInfo?.capabilities?.eagerWorkflowStart).toBe(false);
    const taskQueue = uniqueQueue('eager-off');
    const worker = await createWorker(connection, taskQueue);
    const client = new Client({ connection, identity: 'eager-client' });
    const handle = await worker.runUntil(async () => {
      const started = await client.workflow.start(greet, {
        taskQueue,
        workflowId: `eager-${randomUUID()}`,
        args: ['off'],
        requestEagerStart: true,
      });
      expect(started.eagerlyStarted).toBe(false);
      expect(await started.result()).toBe('hello off');
      return started;
    });
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events[2]?.workflowTaskStartedEventAttributes?.identity).toBe('eager-worker');
  });
});
