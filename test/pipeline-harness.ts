/**
 * A pipeline worker for a test suite, on the jest dev server: connects, bundles the workflows once, runs the worker
 * in the background, and stops it all again. Suites pass their own task queue and steps.
 */
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { createPipelineWorker, type PipelineWorkerOptions } from '../workers/pipeline-worker';
import { connect, quietLogger, runInBackground, type TestEnv } from './devserver/harness';

/** A running suite worker. */
export interface PipelineTestWorker {
  env: TestEnv;
  workflowBundle: WorkflowBundleWithSourceMap;
  /** Stops the worker, then closes the connections. */
  stop: () => Promise<void>;
}

/** Starts a pipeline worker with `options` (the workflows of `workflowsPath`, `workflows/` by default). */
export async function startPipelineTestWorker(
  options: Omit<PipelineWorkerOptions, 'connection' | 'workflowBundle'> & { workflowsPath?: string },
): Promise<PipelineTestWorker> {
  const { workflowsPath, ...workerOptions } = options;
  const env = await connect();
  try {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: workflowsPath ?? require.resolve('../workflows'),
      logger: quietLogger,
    });
    const stopWorker = runInBackground(
      await createPipelineWorker({ ...workerOptions, connection: env.nativeConnection, workflowBundle }),
    );
    return {
      env,
      workflowBundle,
      stop: async () => {
        await stopWorker();
        await env.close();
      },
    };
  } catch (error) {
    await env.close();
    throw error;
  }
}
