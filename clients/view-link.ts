/**
 * Where `mloe status` finds a Web UI to link a run's pipeline view to: the UI named by `MLOE_TEMPORAL_UI_URL` (the
 * same setting notifications use for their links), else the embedded UI of a dev server on this machine, which `mloe
 * dev` and `mloe server start-dev` serve on the gRPC port + 1000 (as the Temporal CLI does), when it answers its
 * settings there. A Temporal elsewhere without the setting gets no link rather than a guessed one.
 */
import { loadNotificationConfig, type ConfigEnv } from '../workers/config';
import { pipelineViewUrl, UI_PORT_OFFSET } from './ui';

/** How long the probe of a local UI may take before `mloe status` goes on without a link. */
const PROBE_TIMEOUT_MS = 500;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The pipeline view URL of `workflowId`, or undefined when no UI is known (see the module doc). */
export async function pipelineViewLink(
  connection: { address: string; namespace: string },
  workflowId: string,
  env: ConfigEnv,
): Promise<string | undefined> {
  const configured = loadNotificationConfig(env).temporalUiUrl;
  const ui = configured?.replace(/\/+$/, '') ?? (await localEmbeddedUi(connection.address));
  return ui === undefined ? undefined : pipelineViewUrl(ui, connection.namespace, workflowId);
}

/** The embedded UI beside a dev server at a loopback `address`, if it answers. */
async function localEmbeddedUi(address: string): Promise<string | undefined> {
  const match = /^(.*):(\d+)$/.exec(address.replace(/^[a-z]+:\/\//, ''));
  if (match === null) return undefined;
  const [, host = '', port = ''] = match;
  if (!LOOPBACK_HOSTS.has(host)) return undefined;
  const ui = `http://${host}:${Number(port) + UI_PORT_OFFSET}`;
  try {
    const response = await fetch(`${ui}/api/v1/settings`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok ? ui : undefined;
  } catch {
    return undefined;
  }
}
