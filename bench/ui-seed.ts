/**
 * Seeding for the UI benchmark: closed workflows written through the dev server's own method handlers in process
 * (`DevServerHandle.rpc`, the code path its gRPC service runs), each an eager StartWorkflowExecution answered by a
 * RespondWorkflowTaskCompleted that completes it, as an SDK worker running a one-line workflow does. The store then
 * holds what real runs leave: the five-event history (started, task scheduled/started/completed, completed), the
 * execution row and the visibility row, written by the same commits; only the gRPC transport and the worker's
 * sandbox are skipped, which makes 100,000 runs take a minute or two instead of ten or more on two cores.
 */
import { randomUUID } from 'node:crypto';

import type { DevServerHandle } from '../infra/devserver';
import { RawResponse } from '../infra/devserver/engine';
import { CommandType, temporal } from '../infra/devserver/proto';

const WORKFLOW_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const StartResponse = temporal.api.workflowservice.v1.StartWorkflowExecutionResponse;
const SEED_TASK_QUEUE = 'ui-bench-seed';
const IDENTITY = 'ui-bench-seed@localhost';

/** A `json/plain` payload as the SDK's default converter writes it. */
function json(value: unknown): { metadata: Record<string, Buffer>; data: Buffer } {
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) };
}

/** Starts and completes one workflow through the handlers; `i` makes its id, type and payloads. */
async function seedOne(rpc: DevServerHandle['rpc'], namespace: string, i: number, signal: AbortSignal): Promise<void> {
  const started = await rpc.invoke(
    WORKFLOW_SERVICE,
    'StartWorkflowExecution',
    {
      namespace,
      workflowId: `closed-${String(i).padStart(6, '0')}`,
      workflowType: { name: i % 2 ? 'trainModel' : 'evaluateModel' },
      taskQueue: { name: SEED_TASK_QUEUE, kind: 1 },
      input: { payloads: [json({ dataset: `shard-${i % 50}`, seed: i })] },
      identity: IDENTITY,
      requestId: randomUUID(),
      requestEagerExecution: true,
    },
    signal,
  );
  if (!(started instanceof RawResponse)) throw new Error(`workflow ${i}: the start handed out no eager task`);
  const task = StartResponse.decode(started.bytes).eagerWorkflowTask;
  if (!task?.taskToken?.length) throw new Error(`workflow ${i}: the start handed out no eager task`);
  await rpc.invoke(
    WORKFLOW_SERVICE,
    'RespondWorkflowTaskCompleted',
    {
      namespace,
      taskToken: task.taskToken,
      identity: IDENTITY,
      commands: [
        {
          commandType: CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
          completeWorkflowExecutionCommandAttributes: { result: { payloads: [json({ accuracy: (i % 97) / 100 })] } },
        },
      ],
    },
    signal,
  );
}

/**
 * Starts and completes `count` workflows with `concurrency` in flight (their commits are grouped, as concurrent RPCs'
 * are); calls `progress` every 10,000. Resolves with the elapsed milliseconds.
 */
export async function seedClosedWorkflows(
  rpc: DevServerHandle['rpc'],
  options: { namespace: string; count: number; concurrency?: number; progress?: (done: number) => void },
): Promise<number> {
  const signal = new AbortController().signal;
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < options.count) {
      const i = next++;
      await seedOne(rpc, options.namespace, i, signal);
      if (++done % 10_000 === 0) options.progress?.(done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 200 }, lane));
  return performance.now() - t0;
}
