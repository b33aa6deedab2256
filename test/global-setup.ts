/**
 * Jest globalSetup: bundles `workflows/` into the bundle cache (or finds it there) so that every suite and every
 * `mloe` process a test spawns reuses one bundle instead of running webpack again (and warms tsx's cache for the
 * executables suites spawn), then starts one embedded dev server on a free port for the whole run and publishes its
 * address in `TEMPORAL_TEST_ADDRESS`, which the jest workers inherit. With `TEMPORAL_ADDRESS` set, tests run against that server instead and no server is started.
 */
import { startDevServer, type DevServerHandle } from '../infra/devserver';
import { loadWorkflowBundleConfig } from '../workers/config';
import { cachedWorkflowBundle } from '../workers/workflow-bundle';
import { startTestMlflowServer } from './mlflow/test-server';
import { warmExecutables } from './warm-executables';

declare global {
  // Shared with globalTeardown, which runs in the same (parent) process.
  var __MLOE_DEVSERVER__: DevServerHandle | undefined;
}

export default async function globalSetup(): Promise<void> {
  // Before the server starts: bundling is busy work on this (the server's) event loop. Beside it, a child process
  // fills tsx's cache for the executables that suites spawn (test/warm-executables.ts).
  await Promise.all([
    cachedWorkflowBundle({ cacheDir: loadWorkflowBundleConfig({ env: process.env }).cacheDir }),
    warmExecutables(),
  ]);
  // The embedded MLflow server (or MLFLOW_TRACKING_URI) in MLFLOW_TEST_TRACKING_URI, whatever Temporal is used.
  await startTestMlflowServer();

  const external = process.env.TEMPORAL_ADDRESS;
  if (external !== undefined && external !== '') {
    process.env.TEMPORAL_TEST_ADDRESS = external;
    return;
  }
  const handle = await startDevServer({ port: 0 });
  globalThis.__MLOE_DEVSERVER__ = handle;
  process.env.TEMPORAL_TEST_ADDRESS = handle.address;
}
