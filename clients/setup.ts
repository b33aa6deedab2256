/**
 * `mloe setup`: prepares a Temporal namespace for mloe once, as an admin: registers mloe's search attributes
 * (`MloePipeline`, `MloeStatus`, `MloeApproval`, `MloeSchedule`). Workers and `mloe dev` do the same when they start; this is the explicit way, for
 * clusters where workers lack the rights to (Temporal Cloud: add them in the Cloud UI or with `tcld` instead).
 */
import type { ConnectionConfig } from '../workers/config';
import { MLOE_SEARCH_ATTRIBUTES, registerSearchAttributes } from '../workers/search-attributes';
import { withConnectedClient } from './connection';

/** Runs `mloe setup` against the Temporal of `config`; resolves with the exit code (0 when the namespace is ready). */
export async function runSetup(
  config: ConnectionConfig,
  io: { stdout: (line: string) => void; stderr: (line: string) => void },
): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    const result = await registerSearchAttributes(client.connection, config.namespace);
    for (const name of MLOE_SEARCH_ATTRIBUTES) {
      const what = result.added.includes(name) ? 'registered' : 'already registered';
      io.stdout(`search attribute ${name} (Keyword): ${what} in namespace ${config.namespace}`);
    }
    io.stdout(`namespace ${config.namespace} on ${config.address} is ready for mloe`);
    return 0;
  });
}
