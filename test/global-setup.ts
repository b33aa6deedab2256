/**
 * Jest globalSetup: starts one embedded dev server on a free port for the whole run and publishes its address in
 * `TEMPORAL_TEST_ADDRESS`, which the jest workers inherit. With `TEMPORAL_ADDRESS` set, tests run against that
 * server instead and nothing is started.
 */
import { startDevServer, type DevServerHandle } from '../infra/devserver';

declare global {
  // Shared with globalTeardown, which runs in the same (parent) process.
  var __MLOE_DEVSERVER__: DevServerHandle | undefined;
}

export default async function globalSetup(): Promise<void> {
  const external = process.env.TEMPORAL_ADDRESS;
  if (external !== undefined && external !== '') {
    process.env.TEMPORAL_TEST_ADDRESS = external;
    return;
  }
  const handle = await startDevServer({ port: 0 });
  globalThis.__MLOE_DEVSERVER__ = handle;
  process.env.TEMPORAL_TEST_ADDRESS = handle.address;
}
