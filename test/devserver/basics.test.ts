/** Basic round trips through the official SDK: a workflow calling an activity, and sequential activities. */
import * as activities from './fixtures/activities';
import { WORKER_MODES, assertReplays, bundle, connect, uniqueQueue, withWorker, type TestEnv } from './harness';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/workflows'));
});
afterAll(() => env?.close());

describe.each(WORKER_MODES)('basics ($name)', ({ maxCachedWorkflows }) => {
  it('runs a workflow that calls an activity and returns its result', async () => {
    const taskQueue = uniqueQueue();
    await withWorker(env, { taskQueue, workflowBundle, activities, maxCachedWorkflows }, async () => {
      const handle = await env.client.workflow.start('hello', {
        taskQueue,
        workflowId: uniqueQueue('hello'),
        args: ['mloe'],
      });
      expect(await handle.result()).toBe('hello mloe');
      const history = await handle.fetchHistory();
      const types = history.events!.map((e) => e.eventType);
      expect(types[0]).toBe(1); // WorkflowExecutionStarted
      expect(types[types.length - 1]).toBe(2); // WorkflowExecutionCompleted
      await assertReplays(handle, workflowBundle);
    });
  });

  it('runs 20 sequential activities with contiguous event ids', async () => {
    const taskQueue = uniqueQueue();
    await withWorker(env, { taskQueue, workflowBundle, activities, maxCachedWorkflows }, async () => {
      const handle = await env.client.workflow.start('sequence', {
        taskQueue,
        workflowId: uniqueQueue('seq'),
        args: [20],
      });
      expect(await handle.result()).toBe(20);
      const history = await handle.fetchHistory();
      history.events!.forEach((e, i) => expect(Number(e.eventId)).toBe(i + 1));
      const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes);
      expect(scheduled).toHaveLength(20);
      await assertReplays(handle, workflowBundle);
    });
  });
});
