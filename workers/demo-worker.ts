/**
 * The worker of the demo pipeline: polls the `mloe-demo` task queue and runs the workflows bundle and the activities.
 */
import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';

import * as activities from '../activities';

/** The task queue the demo pipeline runs on. */
export const DEMO_TASK_QUEUE = 'mloe-demo';

/** Options of {@link createDemoWorker}. */
export interface DemoWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Defaults to {@link DEMO_TASK_QUEUE}; tests use their own queue. */
  taskQueue?: string;
  /** A pre-built workflow bundle; without one, the worker bundles `workflows/` itself (a couple of seconds). */
  workflowBundle?: WorkflowBundle;
}

/** Creates (but does not run) the demo worker. */
export function createDemoWorker(options: DemoWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    taskQueue: options.taskQueue ?? DEMO_TASK_QUEUE,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.workflowBundle === undefined
      ? { workflowsPath: require.resolve('../workflows') }
      : { workflowBundle: options.workflowBundle }),
    activities,
  });
}
