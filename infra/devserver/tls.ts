/**
 * Transport security of the dev server: TLS or mutual TLS on its gRPC port (`temporal server start-dev` has no such
 * flags; mloe's `--tls-cert`, `--tls-key` and `--tls-ca` exist so that clients' TLS settings can be tested end to end
 * against it), and an API key check that answers the way Temporal Cloud does.
 */
import { timingSafeEqual } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';

/** PEM material of a dev server that serves TLS. */
export interface DevServerTls {
  /** The server's certificate chain (PEM). */
  cert: Buffer;
  /** The server's private key (PEM). */
  key: Buffer;
  /** CA certificates (PEM) client certificates must chain to; with it, a client certificate is required. */
  ca?: Buffer;
}

/** gRPC server credentials: plaintext without `tls`, TLS with it, mutual TLS when it names a CA. */
export function serverCredentials(tls: DevServerTls | undefined): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.ca ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.ca !== undefined,
  );
}

/** Whether `given` is one of `keys`, in time that does not depend on where they differ. */
function isKnownKey(given: string, keys: readonly Buffer[]): boolean {
  const bytes = Buffer.from(given);
  let found = false;
  for (const key of keys) {
    if (key.length === bytes.length && timingSafeEqual(key, bytes)) found = true;
  }
  return found;
}

/**
 * A server interceptor that lets a call through only with `authorization: Bearer <key>` naming one of `keys`
 * (the header the SDKs send for an API key); UNAUTHENTICATED otherwise. The key is never logged or echoed.
 */
export function apiKeyInterceptor(keys: readonly string[]): grpc.ServerInterceptor {
  const known = keys.map((key) => Buffer.from(key));
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            const header = metadata.get('authorization')[0];
            const text = typeof header === 'string' ? header : header?.toString('utf8');
            const match = text === undefined ? null : /^Bearer (.+)$/.exec(text);
            if (match?.[1] !== undefined && isKnownKey(match[1], known)) {
              pass(metadata);
              return;
            }
            call.sendStatus({
              code: grpc.status.UNAUTHENTICATED,
              details:
                text === undefined
                  ? 'Request unauthorized: no API key (authorization: Bearer <key>) was sent'
                  : 'Request unauthorized: the API key was not accepted',
              metadata: new grpc.Metadata(),
            });
          },
        });
      },
    });
}
