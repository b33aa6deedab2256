/**
 * The MLflow server of a jest run, started by globalSetup beside the Temporal dev server: one embedded server on a
 * free port (in memory, artifacts in a fresh temporary directory) published as `MLFLOW_TEST_TRACKING_URI`, which jest
 * workers inherit. With `MLFLOW_TRACKING_URI` set, that server is published instead and nothing is started.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startMlflowServer, type MlflowServerHandle } from '../../infra/mlflow';

declare global {
  // Shared between globalSetup and globalTeardown, which run in the same (parent) process.
  var __MLOE_MLFLOW_SERVER__: { handle: MlflowServerHandle; artifacts: string } | undefined;
}

/** Starts the run's MLflow server (or adopts `MLFLOW_TRACKING_URI`) and sets `MLFLOW_TEST_TRACKING_URI`. */
export async function startTestMlflowServer(): Promise<void> {
  const external = process.env.MLFLOW_TRACKING_URI;
  if (external !== undefined && external !== '') {
    process.env.MLFLOW_TEST_TRACKING_URI = external;
    return;
  }
  const artifacts = await mkdtemp(join(tmpdir(), 'mloe-mlflow-artifacts-'));
  const handle = await startMlflowServer({ port: 0, artifactsDestination: artifacts });
  globalThis.__MLOE_MLFLOW_SERVER__ = { handle, artifacts };
  process.env.MLFLOW_TEST_TRACKING_URI = handle.url;
}

/** Stops the server {@link startTestMlflowServer} started, if any, and removes its artifacts. */
export async function stopTestMlflowServer(): Promise<void> {
  const started = globalThis.__MLOE_MLFLOW_SERVER__;
  globalThis.__MLOE_MLFLOW_SERVER__ = undefined;
  if (started === undefined) return;
  await started.handle.close();
  await rm(started.artifacts, { recursive: true, force: true });
}
