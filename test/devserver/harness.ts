/**
 * Shared helpers for the dev server scenario suites: connect the official client and worker to the server that
 * jest's globalSetup started, run a worker around a test body, replay every history the server wrote, and drive a
 * run by hand over the raw WorkflowService.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import {
  NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkerOptions,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';

/** The address of the server under test (ours, or a real Temporal when TEMPORAL_ADDRESS is set). */
export function serverAddress(): string {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address)
    throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest (globalSetup starts the server)');
  return address;
}

/** Client and worker connections to the server under test. */
export interface TestEnv {
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

/** Connects a client and a worker connection. Close it in afterAll. */
export async function connect(namespace = 'default'): Promise<TestEnv> {
  const address = serverAddress();
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace });
  return {
    client,
    connection,
    nativeConnection,
    close: async () => {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/** Bundles a workflows file once per test file (webpack takes a second or two). */
export function bundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietLogger });
}

const noop = (): void => undefined;
/** A logger that drops everything below warnings, to keep test output readable. */
export const quietLogger = {
  log: noop,
  trace: noop,
  debug: noop,
  info: noop,
  warn: (msg: string, meta?: unknown) => console.warn(msg, meta ?? ''),
  error: (msg: string, meta?: unknown) => console.error(msg, meta ?? ''),
};

/** A unique task queue name, so tests never steal each other's tasks. */
export function uniqueQueue(prefix = 'tq'): string {
  return `${prefix}-${randomUUID()}`;
}

/** The two worker modes every scenario runs in: with the workflow cache, and replaying the full history each task. */
export const WORKER_MODES = [
  { name: 'cached workflows', maxCachedWorkflows: undefined },
  { name: 'maxCachedWorkflows 0', maxCachedWorkflows: 0 },
] as const;

/** Runs `body` while a worker polls `taskQueue`; the worker shuts down after. */
export async function withWorker<T>(
  env: TestEnv,
  options: Omit<WorkerOptions, 'connection' | 'maxCachedWorkflows'> & {
    taskQueue: string;
    maxCachedWorkflows?: number | undefined;
  },
  body: () => Promise<T>,
): Promise<T> {
  const { maxCachedWorkflows, ...rest } = options;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    ...rest,
    ...(maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows }),
  });
  return worker.runUntil(body);
}

/** Replays the history the server wrote for a workflow with the same bundle: throws on nondeterminism or no history. */
export async function assertReplays(
  handle: WorkflowHandle,
  workflowBundle: WorkflowBundleWithSourceMap,
): Promise<void> {
  const history = await handle.fetchHistory();
  if (!history.events?.length) throw new Error(`no history to replay for workflow ${handle.workflowId}`);
  await Worker.runReplayHistory({ workflowBundle }, history, handle.workflowId);
}

/** Runs a worker for a whole test file; the returned function shuts it down and waits for it (call in afterAll). */
export function runInBackground(worker: Worker): () => Promise<void> {
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
  };
}

/** A workflow task as the raw WorkflowService hands it out. */
export type WorkflowTaskPoll = temporal.api.workflowservice.v1.IPollWorkflowTaskQueueResponse;

/** The identity of the "worker" a {@link RawRun} plays. */
export const RAW_WORKER = 'raw-worker';

/** A run driven by hand over the raw WorkflowService, on a task queue of its own: see {@link rawRun}. */
export interface RawRun {
  svc: Connection['workflowService'];
  workflowId: string;
  taskQueue: string;
  execution: { workflowId: string };
  /** Starts the run (workflow type `raw`; no worker knows it). */
  start(): Promise<unknown>;
  /** Takes the queue's next workflow task, as worker {@link RAW_WORKER}. */
  pollTask(): Promise<WorkflowTaskPoll>;
  /** Completes `task` with `commands`. */
  complete(task: WorkflowTaskPoll, commands: temporal.api.command.v1.ICommand[]): Promise<unknown>;
  /** Signals the run (`go` unless named). */
  signal(name?: string): Promise<unknown>;
  /** Terminates the run. */
  terminate(): Promise<unknown>;
}

/**
 * A run the test drives itself (a "worker" that takes tasks and answers them as the test says), so that a task can be
 * held open for as long as the test needs. Its ids start with `prefix`.
 */
export function rawRun(svc: Connection['workflowService'], prefix: string, namespace = 'default'): RawRun {
  const taskQueue = `${prefix}-${randomUUID()}`;
  const workflowId = `${prefix}-${randomUUID()}`;
  const execution = { workflowId };
  return {
    svc,
    workflowId,
    taskQueue,
    execution,
    start: () =>
      svc.startWorkflowExecution({
        namespace,
        workflowId,
        workflowType: { name: 'raw' },
        taskQueue: { name: taskQueue },
        requestId: workflowId,
      }),
    pollTask: () => svc.pollWorkflowTaskQueue({ namespace, taskQueue: { name: taskQueue }, identity: RAW_WORKER }),
    complete: (task, commands) =>
      svc.respondWorkflowTaskCompleted({
        namespace,
        taskToken: task.taskToken ?? null,
        identity: RAW_WORKER,
        commands,
      }),
    signal: (name = 'go') =>
      svc.signalWorkflowExecution({
        namespace,
        workflowExecution: execution,
        signalName: name,
        identity: 'test',
        requestId: randomUUID(),
      }),
    terminate: () => svc.terminateWorkflowExecution({ namespace, workflowExecution: execution, reason: 'test done' }),
  };
}
