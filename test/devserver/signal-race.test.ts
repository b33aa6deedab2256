/**
 * A signal that arrives while a workflow task that closes the run (here: continue-as-new) is in flight must not be
 * lost. Temporal fails such a task with cause UnhandledCommand and answers the completion with INVALID_ARGUMENT
 * "UnhandledCommand", which makes the SDK drop its cached copy and replay with the new events. Driven with the
 * official worker keeping runs cached, repeated until a lost signal would have shown.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { recordDoneSignal, slidingWindow } from './fixtures/signal-race-workflows';
import { assertReplays, bundle, connect, uniqueQueue, withWorker, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';

const EventType = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Rejects with a message naming what was awaited if `promise` has not settled within `ms` (a hang guard). */
async function withinDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/signal-race-workflows'));
});
afterAll(() => env?.close());

const RECORDS = 80;
const WINDOW = 4;
const REPEATS = 4;

describe('a signal racing a task that continues as new', () => {
  it(`is handled by the next run, on a cached worker, ${REPEATS} times over`, async () => {
    const taskQueue = uniqueQueue('signal-race');
    let unhandledCommandFailures = 0;
    await withWorker(env, { taskQueue, workflowBundle }, async () => {
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        const workflowId = `sliding-window-${repeat}-${taskQueue}`;
        const handle = await env.client.workflow.start(slidingWindow, {
          taskQueue,
          workflowId,
          args: [RECORDS, WINDOW],
        });
        // The worker has the run cached once its first task completed; from then on every signal races a task.
        await pollUntil(`the first workflow task of ${workflowId} to complete`, async () => {
          const events = (await handle.fetchHistory()).events ?? [];
          return events.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
        });
        // Acknowledge records a few at a time without waiting for the workflow, so signals land mid-task. Odd
        // repeats flood (every attempt to continue as new meets new signals); even ones send the next batch once the
        // current run has no workflow task pending, so runs also do continue as new.
        const paced = repeat % 2 === 0;
        for (let record = 0; record < RECORDS; record += 3) {
          await Promise.all(
            [record, record + 1, record + 2]
              .filter((r) => r < RECORDS)
              .map((r) => env.client.workflow.getHandle(workflowId).signal(recordDoneSignal, r)),
          );
          if (paced) {
            await pollUntil(`${workflowId} to have no workflow task pending`, async () => {
              const current = await env.client.workflow.getHandle(workflowId).describe();
              return !current.raw.pendingWorkflowTask;
            });
          }
        }
        const acknowledged = await withinDeadline(
          handle.result(),
          30_000,
          `${workflowId} to finish (a lost signal hangs it)`,
        );
        expect([...new Set(acknowledged)].sort((a, b) => a - b)).toEqual([...Array(RECORDS).keys()]);

        // Walk the chain of runs: every failed task in it was an UnhandledCommand, answered so the worker replayed.
        let runId: string | undefined = (await env.client.workflow.getHandle(workflowId).describe()).runId;
        const seen = new Set<string>();
        while (runId && !seen.has(runId)) {
          seen.add(runId);
          const run: WorkflowHandle = env.client.workflow.getHandle(workflowId, runId);
          const events: HistoryEvent[] = (await run.fetchHistory()).events ?? [];
          for (const e of events) {
            if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) {
              expect(e.workflowTaskFailedEventAttributes?.cause).toBe(
                Cause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
              );
              expect(e.workflowTaskFailedEventAttributes?.failure?.message).toBe('UnhandledCommand');
              unhandledCommandFailures++;
            }
          }
          runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
        }
        if (paced) expect(seen.size).toBeGreaterThan(1);
        await assertReplays(handle, workflowBundle);
      }
    });
    // The race was really exercised: signals did land during a closing task.
    expect(unhandledCommandFailures).toBeGreaterThan(0);
  }, 120_000);
});
