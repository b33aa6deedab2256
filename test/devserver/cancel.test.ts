/**
 * Cancellation requests to runs that have already closed, through the official client and worker, with Temporal's
 * answers: RequestCancelWorkflowExecution on a closed run succeeds and writes nothing (with or without a run id, and
 * with a `firstExecutionRunId`, which targets the latest run of the chain); terminate of a closed run stays
 * NOT_FOUND; unknown workflows and runs are NOT_FOUND; a workflow's external cancel of a closed workflow is
 * delivered, and of itself fails.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure, WorkflowNotFoundError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { cancelsExternal, continuesThenWaits, quick, waitsForCancel } from './fixtures/cancel-workflows';
import { assertReplays, bundle, connect, runInBackground, uniqueQueue, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';
import { grpcRejection, rejectionOf } from '../support/rejection';

const EventType = temporal.api.enums.v1.EventType;

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
let stopWorker: () => Promise<void>;
const taskQueue = uniqueQueue('cancel');

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/cancel-workflows'));
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle });
  stopWorker = runInBackground(worker);
});
afterAll(async () => {
  await stopWorker?.();
  await env?.close();
});

async function eventTypes(handle: WorkflowHandle): Promise<number[]> {
  return ((await handle.fetchHistory()).events ?? []).map((e) => Number(e.eventType));
}

const NOT_FOUND = 5;

describe('cancel of a closed run', () => {
  it('succeeds and writes nothing, by workflow id, by run id, and with a firstExecutionRunId', async () => {
    const workflowId = `closed-${randomUUID()}`;
    const handle = await env.client.workflow.start(quick, { taskQueue, workflowId });
    expect(await handle.result()).toBe('done');
    const { runId } = await handle.describe();
    const before = await eventTypes(handle);

    await handle.cancel(); // carries firstExecutionRunId (the handle of a start)
    await env.client.workflow.getHandle(workflowId).cancel();
    await env.client.workflow.getHandle(workflowId, runId).cancel();
    // The closed run answers before the first run id is compared, as on Temporal.
    await env.connection.workflowService.requestCancelWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId },
      firstExecutionRunId: randomUUID(),
    });

    expect(await eventTypes(handle)).toEqual(before);
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.runId).toBe(runId);
  });

  it('terminate of a closed run stays NOT_FOUND', async () => {
    const handle = await env.client.workflow.start(quick, { taskQueue, workflowId: `closed-${randomUUID()}` });
    await handle.result();
    expect(await rejectionOf(handle.terminate('too late'))).toBeInstanceOf(WorkflowNotFoundError);
    const raw = await grpcRejection(
      env.connection.workflowService.terminateWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId: handle.workflowId },
      }),
    );
    expect(raw).toMatchObject({ code: NOT_FOUND, details: 'workflow execution already completed' });
  });

  it('an unknown workflow id or run id is NOT_FOUND', async () => {
    expect(await rejectionOf(env.client.workflow.getHandle(`missing-${randomUUID()}`).cancel())).toBeInstanceOf(
      WorkflowNotFoundError,
    );
    const handle = await env.client.workflow.start(quick, { taskQueue, workflowId: `closed-${randomUUID()}` });
    await handle.result();
    expect(await rejectionOf(env.client.workflow.getHandle(handle.workflowId, randomUUID()).cancel())).toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });
});

describe('cancel with a firstExecutionRunId', () => {
  it('targets the latest run of the chain, whatever the run id', async () => {
    const workflowId = `chain-${randomUUID()}`;
    const handle = await env.client.workflow.start(continuesThenWaits, { taskQueue, workflowId });
    const first = handle.firstExecutionRunId;
    const latest = await pollUntil(`a running continued-as-new run of ${workflowId}`, async () => {
      const d = await env.client.workflow.getHandle(workflowId).describe();
      return d.runId !== first && d.status.name === 'RUNNING' ? d.runId : undefined;
    });
    // Naming the first (closed) run and the chain: the request goes to the latest run.
    await env.connection.workflowService.requestCancelWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId, runId: first },
      firstExecutionRunId: first,
    });
    const err = await rejectionOf(handle.result());
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const latestHandle = env.client.workflow.getHandle(workflowId, latest);
    expect((await latestHandle.describe()).status.name).toBe('CANCELLED');
    expect(await eventTypes(latestHandle)).toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
    // The first run closed by continuing as new and got nothing.
    expect(await eventTypes(env.client.workflow.getHandle(workflowId, first))).not.toContain(
      EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
    );
    await assertReplays(latestHandle, workflowBundle);
  });

  it('a running workflow of another chain is NOT_FOUND', async () => {
    const handle = await env.client.workflow.start(waitsForCancel, { taskQueue, workflowId: `other-${randomUUID()}` });
    const raw = await grpcRejection(
      env.connection.workflowService.requestCancelWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId: handle.workflowId },
        firstExecutionRunId: randomUUID(),
      }),
    );
    expect(raw).toMatchObject({ code: NOT_FOUND, details: 'workflow execution not found' });
    expect(await eventTypes(handle)).not.toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
    await handle.cancel();
    expect(((await rejectionOf(handle.result())) as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  });
});

describe('external cancel from a workflow', () => {
  it('of a closed workflow is delivered; of itself fails', async () => {
    const target = await env.client.workflow.start(quick, { taskQueue, workflowId: `target-${randomUUID()}` });
    await target.result();
    const targetEvents = await eventTypes(target);

    const canceller = await env.client.workflow.start(cancelsExternal, {
      taskQueue,
      workflowId: `canceller-${randomUUID()}`,
      args: [target.workflowId],
    });
    expect(await canceller.result()).toBe('delivered');
    expect(await eventTypes(canceller)).toContain(EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
    expect(await eventTypes(target)).toEqual(targetEvents);
    await assertReplays(canceller, workflowBundle);

    const self = await env.client.workflow.start(cancelsExternal, {
      taskQueue,
      workflowId: `self-${randomUUID()}`,
      args: [null],
    });
    expect(await self.result()).toMatch(/^failed: /);
    const selfEvents = await eventTypes(self);
    expect(selfEvents).toContain(EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED);
    expect(selfEvents).not.toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
    await assertReplays(self, workflowBundle);
  });
});
