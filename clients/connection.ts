/**
 * Reaching a Temporal from the CLI and workers: a probe first, so that "nothing is listening" and a failed TLS
 * handshake are said at once and plainly, naming the setting at fault (the SDK would retry until its connect timeout
 * and then report a deadline), then the SDK's own connection with the TLS, API key and gRPC metadata of the
 * configuration (`workers/temporal-client-config.ts`).
 */
import * as grpc from '@grpc/grpc-js';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';

import type { ConnectionConfig, SettingOrigin } from '../workers/config';
import { ConfigError, ensureError } from '../core/errors';
import { dataConverterOptions } from '../workers/codec/config';
import type { TemporalSecurity, TemporalTlsConfig } from '../workers/temporal-client-config';
import { connectFailure, probeConnection, temporalUnavailable } from './tls-probe';

export { temporalUnavailable };

/** How long the SDK may take to connect once the probe succeeded (it also asks the server for its capabilities). */
const CONNECT_TIMEOUT = '10 seconds';

/** A connected client; `close()` closes its connection. */
export interface ConnectedClient {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

/**
 * Checks that a Temporal answers at `address` (a normalised `host:port`), in plaintext or over TLS as `security`
 * says; throws `TEMPORAL_UNAVAILABLE` when nothing does (refused, unknown host, unreachable, or no answer within 3 s)
 * and `TEMPORAL_TLS_FAILED` naming the setting at fault when the TLS handshake fails or the server expects TLS.
 */
export async function probeTemporal(
  address: string,
  origin: SettingOrigin,
  security?: TemporalSecurity,
): Promise<void> {
  await probeConnection(address, origin, security);
}

/** The SDK's TLS options of a configuration. */
function sdkTls(tls: TemporalTlsConfig): TLSConfig {
  return {
    ...(tls.serverName === undefined ? {} : { serverNameOverride: tls.serverName.value }),
    ...(tls.serverCa === undefined ? {} : { serverRootCACertificate: tls.serverCa.pem }),
    ...(tls.clientCert === undefined || tls.clientKey === undefined
      ? {}
      : { clientCertPair: { crt: tls.clientCert.pem, key: tls.clientKey.pem } }),
  };
}

/**
 * The `@temporalio/client` connection options of a configuration: TLS (with a host name check that can be turned
 * off), the API key (`authorization: Bearer`, as the SDK sends it) and gRPC metadata.
 */
export function clientConnectionOptions(config: ConnectionConfig): ConnectionOptions {
  const security = config.security ?? {};
  const base: ConnectionOptions = {
    address: config.address,
    connectTimeout: CONNECT_TIMEOUT,
    ...(security.grpcMeta === undefined ? {} : { metadata: { ...security.grpcMeta } }),
  };
  const tls = security.tls;
  if (tls?.disableHostVerification !== undefined) {
    // The SDK has no switch for it: own credentials, with the API key as the header the SDK would have sent.
    const options = sdkTls(tls);
    return {
      ...base,
      credentials: grpc.credentials.createSsl(
        tls.serverCa?.pem ?? null,
        tls.clientKey?.pem ?? null,
        tls.clientCert?.pem ?? null,
        { checkServerIdentity: () => undefined },
      ),
      ...(options.serverNameOverride === undefined
        ? {}
        : {
            channelArgs: {
              'grpc.ssl_target_name_override': options.serverNameOverride,
              'grpc.default_authority': options.serverNameOverride,
            },
          }),
      ...(security.apiKey === undefined
        ? {}
        : { metadata: { ...base.metadata, authorization: `Bearer ${security.apiKey.value}` } }),
    };
  }
  return {
    ...base,
    // An API key without TLS settings means TLS (Temporal Cloud); only an explicit "off" keeps it plaintext.
    tls: tls === undefined ? false : sdkTls(tls),
    ...(security.apiKey === undefined ? {} : { apiKey: security.apiKey.value }),
  };
}

/**
 * The `NativeConnection` (worker) options of a configuration. The worker's connection (the SDK's Rust core) cannot
 * skip the host name check: `CONFIG_INVALID` for `--tls-disable-host-verification`, with the fix.
 */
export function nativeConnectionOptions(config: ConnectionConfig): NativeConnectionOptions {
  const security = config.security ?? {};
  const tls = security.tls;
  if (tls?.disableHostVerification !== undefined) {
    throw new ConfigError(
      `invalid ${tls.disableHostVerification.origin}: workers cannot skip the server certificate's host name check ` +
        "(the SDK's core has no such option); fix: set --tls-server-name (TEMPORAL_TLS_SERVER_NAME) to a name the " +
        'certificate carries',
    );
  }
  return {
    address: config.address,
    tls: tls === undefined ? false : sdkTls(tls),
    ...(security.apiKey === undefined ? {} : { apiKey: security.apiKey.value }),
    ...(security.grpcMeta === undefined ? {} : { metadata: { ...security.grpcMeta } }),
  };
}

/**
 * Connects a client to the Temporal of `config`. Throws `TEMPORAL_UNAVAILABLE` naming the address when nothing
 * listens there or what listens does not answer as a Temporal, `TEMPORAL_TLS_FAILED` naming the TLS setting at fault,
 * `TEMPORAL_AUTH_FAILED` when the server refuses the API key.
 */
export async function connectClient(config: ConnectionConfig): Promise<ConnectedClient> {
  await probeTemporal(config.address, config.addressOrigin, config.security);
  let connection: Connection;
  try {
    connection = await Connection.connect(clientConnectionOptions(config));
  } catch (error) {
    throw connectFailure(config.address, config.addressOrigin, config.security, error);
  }
  return {
    client: new Client({ connection, namespace: config.namespace, ...dataConverterOptions(config.codec) }),
    connection,
    close: () => connection.close(),
  };
}

/**
 * Connects a worker's `NativeConnection` to the Temporal of `config`, probing first: the same errors as
 * {@link connectClient}.
 */
export async function connectNative(config: ConnectionConfig): Promise<NativeConnection> {
  const options = nativeConnectionOptions(config);
  await probeTemporal(config.address, config.addressOrigin, config.security);
  // Loaded here: CLI commands that only read do not pay for the worker's native module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NativeConnection: Native } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  try {
    return await Native.connect(options);
  } catch (error) {
    throw connectFailure(config.address, config.addressOrigin, config.security, error);
  }
}

/**
 * Runs `body` with a client connected per `config`, reporting any failure (a bad address, nothing listening, a
 * failed handshake, a failed call) as one `error:` line on stderr. Resolves with `body`'s exit code, or 1.
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
