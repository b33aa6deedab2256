/**
 * Jest globalTeardown: stops the servers globalSetup started (the MLflow server, the dev server), if any.
 */
import { stopTestMlflowServer } from './mlflow/test-server';

export default async function globalTeardown(): Promise<void> {
  await stopTestMlflowServer();
  const handle = globalThis.__MLOE_DEVSERVER__;
  globalThis.__MLOE_DEVSERVER__ = undefined;
  await handle?.close();
}
