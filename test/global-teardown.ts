/**
 * Jest globalTeardown: stops the dev server globalSetup started, if any.
 */
export default async function globalTeardown(): Promise<void> {
  const handle = globalThis.__MLOE_DEVSERVER__;
  globalThis.__MLOE_DEVSERVER__ = undefined;
  await handle?.close();
}
