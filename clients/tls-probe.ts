/**
 * Probes that turn a failed connection to Temporal into an error saying which setting is wrong. The SDKs report a
 * failed handshake as a bare UNAVAILABLE after their connect timeout; these probes make one connection of their own
 * first (Node's TLS with the same certificates and names) and name the cause: an untrusted server certificate (the CA
 * setting), a certificate for another name (the server name setting), an expired certificate, a client certificate
 * the server requires or refuses, TLS to a plaintext server, plaintext to a TLS server.
 */
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as connectTls, type PeerCertificate, type TLSSocket } from 'node:tls';

import { MloeError, ensureError } from '../core/errors';
import type { SettingOrigin } from '../workers/config';
import type { TemporalSecurity, TemporalTlsConfig } from '../workers/temporal-client-config';

/** How long a probe waits for the connection and the server's first bytes. */
const PROBE_TIMEOUT_MS = 3_000;

/** The HTTP/2 client connection preface: a plaintext gRPC server answers it with its SETTINGS frame. */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Splits `host:port` (the host may be a bracketed IPv6 address). */
export function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
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

/** A `TEMPORAL_TLS_FAILED` error: the handshake with `address` failed, why, and the setting to fix. */
function tlsFailed(address: string, message: string, cause?: unknown): MloeError {
  return new MloeError('TEMPORAL_TLS_FAILED', `TLS handshake with ${address} failed: ${message}`, {
    cause,
    retryable: false,
  });
}

/** Which settings turn TLS on and off, for messages. */
const TLS_ON = '--tls, TEMPORAL_TLS=true, or [profile.<name>.tls] in the config file';
const TLS_OFF = '--no-tls, TEMPORAL_TLS=false, or tls.disabled = true in the profile';

/** The names a certificate is for (its DNS and IP subject alternative names, else its common name). */
function certificateNames(cert: PeerCertificate | undefined): string {
  const alt = cert?.subjectaltname;
  if (alt !== undefined && alt !== '') return alt.replace(/DNS:|IP Address:/g, '');
  const cn = cert?.subject?.CN;
  return (Array.isArray(cn) ? cn.join(', ') : cn) ?? '(none)';
}

/** Maps a handshake error of Node's TLS to the setting at fault. */
function diagnoseTlsError(
  address: string,
  tls: TemporalTlsConfig,
  error: NodeJS.ErrnoException,
  peer: PeerCertificate | undefined,
  secured: boolean,
): MloeError {
  const code = error.code ?? '';
  const caSetting =
    tls.serverCa === undefined
      ? "the system's trusted CAs (no --tls-ca-path / TEMPORAL_TLS_SERVER_CA_CERT_PATH given)"
      : tls.serverCa.origin;
  const { host } = hostAndPort(address);
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return tlsFailed(
        address,
        `the server's certificate is not signed by a CA this client trusts (${code}); check ${caSetting}: give ` +
          `the CA that issued the server's certificate with --tls-ca-path or TEMPORAL_TLS_SERVER_CA_CERT_PATH`,
        error,
      );
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const expected = tls.serverName?.value ?? host;
      const setting =
        tls.serverName === undefined
          ? `the address's host ${host} (no --tls-server-name / TEMPORAL_TLS_SERVER_NAME given)`
          : `${tls.serverName.origin} (${tls.serverName.value})`;
      return tlsFailed(
        address,
        `the server's certificate is for ${certificateNames(peer)}, not ${expected}; check ${setting}: set ` +
          '--tls-server-name (TEMPORAL_TLS_SERVER_NAME) to a name the certificate carries',
        error,
      );
    }
    case 'CERT_HAS_EXPIRED':
      return tlsFailed(
        address,
        `the server's certificate expired on ${peer?.valid_to ?? 'an earlier date'}: the server must renew it`,
        error,
      );
    case 'CERT_NOT_YET_VALID':
      return tlsFailed(
        address,
        `the server's certificate is not valid before ${peer?.valid_from ?? 'a later date'}: check its dates and ` +
          "this machine's clock",
        error,
      );
    default:
      break;
  }
  if (
    /ALERT_CERTIFICATE_REQUIRED/.test(code) ||
    (tls.clientCert === undefined && /ALERT_HANDSHAKE_FAILURE/.test(code))
  ) {
    return tlsFailed(
      address,
      'the server requires a client certificate (mutual TLS) and none was given: set --tls-cert-path and ' +
        '--tls-key-path (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)',
      error,
    );
  }
  if (/ALERT_CERTIFICATE_EXPIRED/.test(code)) {
    return tlsFailed(
      address,
      `the server refused the client certificate as expired: renew ${tls.clientCert?.origin ?? 'it'}`,
      error,
    );
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|DECRYPT_ERROR|UNSUPPORTED_CERTIFICATE|CERTIFICATE_UNKNOWN)/.test(code)) {
    return tlsFailed(
      address,
      `the server refused the client certificate ${tls.clientCert?.origin ?? ''} (${code}): it must be issued by a ` +
        'CA the server trusts for clients',
      error,
    );
  }
  if (
    !secured &&
    (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|RECORD_LAYER_FAILURE|HTTP_REQUEST/.test(code) ||
      code === 'ECONNRESET' ||
      /disconnected before secure/i.test(error.message))
  ) {
    return tlsFailed(
      address,
      `the server does not speak TLS (it answered the TLS handshake in plaintext; TLS was turned on by ${tls.origin}): ` +
        `turn TLS off (${TLS_OFF}) or use the server's TLS address`,
      error,
    );
  }
  return tlsFailed(address, `${error.message}${code === '' ? '' : ` (${code})`}`, error);
}

/** The options of Node's TLS for a configuration: the same certificates and name checks as the SDK's connection. */
function tlsOptions(host: string, port: number, tls: TemporalTlsConfig, seen: (cert: PeerCertificate) => void) {
  const name = tls.serverName?.value ?? host;
  return {
    host,
    port,
    ...(isIP(name) === 0 ? { servername: name } : {}),
    ALPNProtocols: ['h2'],
    ...(tls.serverCa === undefined ? {} : { ca: tls.serverCa.pem }),
    ...(tls.clientCert === undefined ? {} : { cert: tls.clientCert.pem }),
    ...(tls.clientKey === undefined ? {} : { key: tls.clientKey.pem }),
    rejectUnauthorized: true,
    checkServerIdentity: (_hostname: string, cert: PeerCertificate): Error | undefined => {
      seen(cert);
      return tls.disableHostVerification === undefined ? checkServerIdentity(name, cert) : undefined;
    },
  };
}

/**
 * Connects once with TLS as `tls` says and waits for the server's first HTTP/2 frame (after a mutual TLS handshake
 * the server decides on the client certificate only then, under TLS 1.3). Throws `TEMPORAL_UNAVAILABLE` when nothing
 * listens, `TEMPORAL_TLS_FAILED` naming the setting at fault when the handshake fails.
 */
export async function probeTls(address: string, origin: SettingOrigin, tls: TemporalTlsConfig): Promise<void> {
  const { host, port } = hostAndPort(address);
  await new Promise<void>((resolve, reject) => {
    let secured = false;
    let socket: TLSSocket;
    let presented: PeerCertificate | undefined;
    const fail = (error: NodeJS.ErrnoException): void => {
      socket.destroy();
      if (
        !secured &&
        ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'].includes(error.code ?? '')
      ) {
        reject(temporalUnavailable(address, origin, new Error(error.code)));
        return;
      }
      let peer: PeerCertificate | undefined = presented;
      try {
        peer ??= socket.getPeerCertificate();
      } catch {
        peer = undefined;
      }
      reject(diagnoseTlsError(address, tls, error, peer, secured));
    };
    try {
      socket = connectTls(
        tlsOptions(host, port, tls, (cert) => {
          presented = cert;
        }),
      );
    } catch (error) {
      reject(tlsFailed(address, ensureError(error).message, error));
      return;
    }
    socket.setTimeout(PROBE_TIMEOUT_MS, () => {
      if (secured) {
        // Handshake done and no refusal within the wait: the server took the client; the SDK goes on from here.
        socket.destroy();
        resolve();
        return;
      }
      fail(Object.assign(new Error(`no TLS handshake within ${PROBE_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      secured = true;
    });
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    // After the handshake, a server that refuses the client's certificate may just hang up (no alert reaches Node).
    const hungUp = (): void => {
      if (!secured) {
        fail(new Error('the server closed the connection before the TLS handshake (disconnected before secure)'));
        return;
      }
      socket.destroy();
      reject(
        tlsFailed(
          address,
          tls.clientCert === undefined
            ? 'the server hung up after the handshake: it requires a client certificate (mutual TLS) and none was ' +
                'given: set --tls-cert-path and --tls-key-path (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)'
            : `the server refused the client certificate ${tls.clientCert.origin} (it hung up after the handshake): ` +
                'it must be issued by a CA the server trusts for clients, and be current',
        ),
      );
    };
    socket.once('end', hungUp);
    socket.once('close', hungUp);
  });
}

/**
 * Connects once in plaintext and sends the HTTP/2 preface: a plaintext gRPC server answers with a SETTINGS frame; a
 * TLS server answers with a TLS alert or hangs up, which is reported as `TEMPORAL_TLS_FAILED` (turn TLS on). Throws
 * `TEMPORAL_UNAVAILABLE` when nothing accepts connections (refused, unknown host, unreachable, or silent for 3 s).
 */
export async function probePlaintext(address: string, origin: SettingOrigin): Promise<void> {
  const { host, port } = hostAndPort(address);
  await new Promise<void>((resolve, reject) => {
    const socket: Socket = connectTcp({ host, port });
    let connected = false;
    const speaksTls = (): void => {
      socket.destroy();
      reject(
        tlsFailed(
          address,
          `the server expects TLS and this client connected in plaintext: turn TLS on (${TLS_ON}); for Temporal ` +
            'Cloud give an API key or a client certificate, which turn it on too',
        ),
      );
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => {
      socket.destroy();
      // Connected but silent: not a refusal; let the SDK decide (some proxies wait for more than the preface).
      if (connected) resolve();
      else reject(temporalUnavailable(address, origin, new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      if (connected && error.code === 'ECONNRESET') speaksTls();
      else reject(temporalUnavailable(address, origin, new Error(error.code ?? error.message)));
    });
    socket.once('connect', () => {
      connected = true;
      socket.write(HTTP2_PREFACE);
    });
    socket.once('data', (chunk: Buffer) => {
      // A TLS record starts with its content type: 0x15 alert, 0x16 handshake; an HTTP/2 frame with a length.
      if (chunk[0] === 0x15 || chunk[0] === 0x16) speaksTls();
      else {
        socket.destroy();
        resolve();
      }
    });
    socket.once('end', () => {
      if (connected) speaksTls();
    });
  });
}

/**
 * Probes `address` the way the connection will go: TLS as configured, or plaintext. See {@link probeTls} and
 * {@link probePlaintext}.
 */
export async function probeConnection(
  address: string,
  origin: SettingOrigin,
  security: TemporalSecurity | undefined,
): Promise<void> {
  if (security?.tls === undefined) await probePlaintext(address, origin);
  else await probeTls(address, origin, security.tls);
}

/**
 * The error of a connection the SDK refused after the probe passed: UNAUTHENTICATED or PERMISSION_DENIED name the
 * API key (or client identity); anything else is `TEMPORAL_UNAVAILABLE`.
 */
export function connectFailure(
  address: string,
  origin: SettingOrigin,
  security: TemporalSecurity | undefined,
  error: unknown,
): MloeError {
  // The SDK wraps the gRPC status in a ServiceError ("Failed to connect"); the refusal is in its causes.
  const chain: unknown[] = [];
  for (let link: unknown = error; link !== undefined && chain.length < 5; link = (link as { cause?: unknown }).cause) {
    chain.push(link);
  }
  const refusal = chain.find((link) => {
    const code = (link as { code?: unknown } | null)?.code;
    return (
      code === 16 || code === 7 || /UNAUTHENTICATED|PERMISSION_DENIED|unauthori[sz]ed/i.test(ensureError(link).message)
    );
  });
  if (refusal !== undefined) {
    const message = ensureError(refusal).message;
    const key = security?.apiKey;
    const fix =
      key === undefined
        ? 'the server wants credentials: give an API key (--api-key, TEMPORAL_API_KEY) or a client certificate'
        : `check the API key from ${key.origin}`;
    return new MloeError('TEMPORAL_AUTH_FAILED', `Temporal at ${address} refused the connection: ${message}; ${fix}`, {
      cause: error,
      retryable: false,
    });
  }
  return temporalUnavailable(address, origin, error);
}
