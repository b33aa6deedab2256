/**
 * A pipeline worker for a test suite, on the jest dev server: connects, takes the workflows bundle from the bundle
 * cache (globalSetup warmed it for `workflows/`), runs the worker in the background, and stops it all again. Suites
 * pass their own task queue and steps.
 */
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { loadWorkflowBundleConfig } from '../workers/config';
import { createPipelineWorker, type PipelineWorkerOptions } from '../workers/pipeline-worker';
import { cachedWorkflowBundle, type LoadedWorkflowBundle } from '../workers/workflow-bundle';
import type { PipelineRunStatus, StepRunStatus } from '../workflows/types';
import { connect, quietLogger, runInBackground, type TestEnv } from './devserver/harness';

/** A running suite worker. */
export interface PipelineTestWorker {
  env: TestEnv;
  /** The bundle the worker runs, for `Worker.runReplayHistory` (its source map is inline in `code`). */
  workflowBundle: WorkflowBundleWithSourceMap;
  /** Stops the worker, then closes the connections. */
  stop: () => Promise<void>;
}

/**
 * The bundle of the workflows at `workflowsPath` (`workflows/` by default) from the bundle cache the CLI uses
 * (`MLOE_BUNDLE_CACHE_DIR`, else `node_modules/.cache/mloe`): built once, then reused by every suite and every
 * spawned `mloe` while no input changes.
 */
export function suiteWorkflowBundle(workflowsPath?: string): Promise<LoadedWorkflowBundle> {
  const { cacheDir } = loadWorkflowBundleConfig({ env: process.env });
  return cachedWorkflowBundle({
    cacheDir,
    logger: quietLogger,
    ...(workflowsPath === undefined ? {} : { workflowsPath }),
  });
}

/** Starts a pipeline worker with `options` (the workflows of `workflowsPath`, `workflows/` by default). */
export async function startPipelineTestWorker(
  options: Omit<PipelineWorkerOptions, 'connection' | 'workflowBundle' | 'bundle'> & { workflowsPath?: string },
): Promise<PipelineTestWorker> {
  const { workflowsPath, ...workerOptions } = options;
  const env = await connect();
  try {
    const { code } = await suiteWorkflowBundle(workflowsPath);
    const stopWorker = runInBackground(
      await createPipelineWorker({ ...workerOptions, connection: env.nativeConnection, workflowBundle: { code } }),
    );
    return {
      env,
      // The SDK's older bundle type, which the suites declare; its `sourceMap` has been unused since the map moved
      // inline.
      workflowBundle: { code, sourceMap: '' },
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

/** The status of step `id` in a run's status; throws when the run has no such step. */
export function stepIn(status: PipelineRunStatus, id: string): StepRunStatus {
  const step = status.steps.find((candidate) => candidate.id === id);
  if (step === undefined) throw new Error(`no step ${id} in status`);
  return step;
}

/** A pipeline (and so MLflow experiment) name no other run of any suite uses. */
export function uniqueName(base: string): string {
  return `${base}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

/** A spec with the required header (`apiVersion`, `kind`, `metadata.name`) around `body`. */
export function specOf(name: string, body: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'mloe.dev/v1', kind: 'Pipeline', metadata: { name }, ...body };
}
