/**
 * Reaching a Temporal from the CLI: a quick TCP probe first, so that "nothing is listening" is said at once and
 * plainly (the SDK would retry until its connect timeout and then report a deadline), then the SDK's own connection.
 */
import { connect as connectTcp } from 'node:net';

import { Client, Connection } from '@temporalio/client';

import type { ConnectionConfig, SettingOrigin } from '../workers/config';
import { MloeError, ensureError } from '../core/errors';
import { dataConverterOptions } from '../workers/codec/config';

/** How long the TCP probe waits for a connection. */
const PROBE_TIMEOUT_MS = 3_000;
/** How long the SDK may take to connect once the probe succeeded (it also asks the server for its capabilities). */
const CONNECT_TIMEOUT = '10 seconds';

/** A connected client; `close()` closes its connection. */
export interface ConnectedClient {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

/** The `TEMPORAL_UNAVAILABLE` error for an address: what to do depends on whether anyone chose that address. */
export function temporalUnavailable(address: string, origin: SettingOrigin, cause?: unknown): MloeError {
  const hint =
    origin === 'default'
      ? 'start one with `mloe dev` or set TEMPORAL_ADDRESS'
      : `start one with \`mloe dev\` or check ${origin} (${address})`;
  const reason = cause === undefined ? '' : ` (${ensureError(cause).message})`;
  return new MloeError('TEMPORAL_UNAVAILABLE', `no Temporal at ${address}: ${hint}${reason}`, {
    cause,
    retryable: true,
  });
}

/** Splits `host:port` (the host may be a bracketed IPv6 address). */
function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}

/**
 * Checks that something accepts TCP connections at `address` (a normalised `host:port`); throws
 * `TEMPORAL_UNAVAILABLE` when nothing does (refused, unknown host, unreachable, or no answer within 3 s).
 */
export async function probeTemporal(address: string, origin: SettingOrigin): Promise<void> {
  const { host, port } = hostAndPort(address);
  await new Promise<void>((resolve, reject) => {
    const socket = connectTcp({ host, port });
    const fail = (cause: unknown): void => {
      socket.destroy();
      reject(temporalUnavailable(address, origin, cause));
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => fail(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    socket.once('error', (error: NodeJS.ErrnoException) => fail(new Error(error.code ?? error.message)));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/**
 * Connects a client to the Temporal of `config`. Throws `TEMPORAL_UNAVAILABLE` naming the address when nothing
 * listens there or what listens does not answer as a Temporal.
 */
export async function connectClient(config: ConnectionConfig): Promise<ConnectedClient> {
  await probeTemporal(config.address, config.addressOrigin);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.address, connectTimeout: CONNECT_TIMEOUT });
  } catch (error) {
    throw temporalUnavailable(config.address, config.addressOrigin, error);
  }
  return {
    client: new Client({ connection, namespace: config.namespace, ...dataConverterOptions(config.codec) }),
    connection,
    close: () => connection.close(),
  };
}

/**
 * Runs `body` with a client connected per `config`, reporting any failure (a bad address, nothing listening, a
 * failed call) as one `error:` line on stderr. Resolves with `body`'s exit code, or 1.
 */
export async function withConnectedClient(
  config: ConnectionConfig,
  io: { stderr: (line: string) => void },
  body: (client: Client) => Promise<number>,
): Promise<number> {
  let connected: ConnectedClient | undefined;
  try {
    connected = await connectClient(config);
    return await body(connected.client);
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  } finally {
    await connected?.close().catch(() => undefined);
  }
}
