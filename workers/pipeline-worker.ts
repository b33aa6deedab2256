/**
 * The pipeline worker: polls the `mloe-pipelines` task queue and runs the workflows bundle (the `runPipeline`
 * interpreter and its `foreachBatch` children) and every activity, with `runStep` bound to the worker's step
 * implementations. The search attributes pipelines set are registered by the client (`clients/pipelines.ts`).
 */
import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';

import * as activities from '../activities';
import { PIPELINE_TASK_QUEUE } from '../workflows/run-pipeline';
import { BUILTIN_STEP_IMPLEMENTATIONS, createRunStep, type StepImplementations } from '../activities/steps';

/** The task queue pipelines run on. */
export { PIPELINE_TASK_QUEUE };

/** Options of {@link createPipelineWorker}. */
export interface PipelineWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Defaults to {@link PIPELINE_TASK_QUEUE}; tests use their own queue. */
  taskQueue?: string;
  /** A pre-built workflow bundle; without one, the worker bundles `workflows/` itself (a couple of seconds). */
  workflowBundle?: WorkflowBundle;
  /** The steps `uses:` may name on this worker; the built-in steps by default. */
  steps?: StepImplementations;
}

/**
 * Creates (but does not run) the pipeline worker. Heartbeats are throttled to at most every 2 s, so a cancelled
 * step hears of it within a few seconds.
 */
export function createPipelineWorker(options: PipelineWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    taskQueue: options.taskQueue ?? PIPELINE_TASK_QUEUE,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.workflowBundle === undefined
      ? { workflowsPath: require.resolve('../workflows') }
      : { workflowBundle: options.workflowBundle }),
    activities: { ...activities, runStep: createRunStep(options.steps ?? BUILTIN_STEP_IMPLEMENTATIONS) },
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '1 second',
  });
}
