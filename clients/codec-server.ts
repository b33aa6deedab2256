/**
 * `mloe codec-server`: serves the payload codec of `MLOE_CODEC_KEYS` over Temporal's codec server contract
 * (`POST /encode`, `POST /decode`), so that the Temporal Web UI (its "codec endpoint" setting) and `temporal
 * --codec-endpoint` show decrypted payloads to the people allowed to reach it. docs/encryption.md.
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';

import { ConfigError, ensureError } from '../core/errors';
import { codecConfigFromEnv, CODEC_ENV, describeCodec } from '../workers/codec/config';
import type { ConfigEnv } from '../workers/config';
import { nextShutdownSignal, type StartDevIo } from './start-dev';

/** Flags of `mloe codec-server`, as commander hands them over. */
export interface CodecServerFlags {
  ip: string;
  port: string;
  /** Browser origins allowed to call (the Web UI's), repeatable. */
  corsOrigin?: string[];
  /** `env:NAME` or `file:PATH`: a bearer token every request must carry in `Authorization`. */
  authToken?: string;
}

/** Reads the `--auth-token` reference (`env:NAME`, `file:PATH`); the token itself is never printed. */
export function readAuthToken(reference: string, env: ConfigEnv): string {
  const fix = 'name the token as env:NAME or file:PATH (e.g. --auth-token file:/etc/mloe/codec-token)';
  let token: string | undefined;
  if (reference.startsWith('env:')) token = env[reference.slice(4)];
  else if (reference.startsWith('file:')) {
    try {
      token = readFileSync(reference.slice(5), 'utf8');
    } catch (error) {
      throw new ConfigError(`invalid --auth-token ${reference}: ${ensureError(error).message}; ${fix}`);
    }
  } else throw new ConfigError(`invalid --auth-token ${JSON.stringify(reference)}: ${fix}`);
  token = token?.trim();
  if (token === undefined || token === '') throw new ConfigError(`--auth-token ${reference} is empty or unset; ${fix}`);
  return token;
}

/** True when `authorization` is `Bearer <token>` (compared in constant time). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim() ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function parseOrigins(origins: readonly string[]): string[] {
  return origins.map((origin) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(
        `invalid --cors-origin ${JSON.stringify(origin)}: use an origin such as http://localhost:8233`,
      );
    }
    if (!/^https?:$/.test(url.protocol) || url.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(
        `invalid --cors-origin ${JSON.stringify(origin)}: an origin is scheme://host[:port] with no path, e.g. http://localhost:8233`,
      );
    }
    return url.origin;
  });
}

/** Runs `mloe codec-server` until SIGINT/SIGTERM (or `stop`); resolves with the exit code. */
export async function runCodecServer(
  flags: CodecServerFlags,
  io: StartDevIo,
  env: ConfigEnv,
  stop: Promise<string> = nextShutdownSignal(),
): Promise<number> {
  let server: import('../infra/codec-server/server').CodecServerHandle | undefined;
  try {
    const codec = codecConfigFromEnv(env);
    if (codec === undefined) {
      throw new ConfigError(
        `${CODEC_ENV.keys} is not set: the codec server needs the keys the workers encrypt with (docs/encryption.md)`,
      );
    }
    const port = Number(flags.port);
    if (!/^\d+$/.test(flags.port) || port > 65535) {
      throw new ConfigError(`invalid --port ${JSON.stringify(flags.port)}: use a port from 0 to 65535`);
    }
    const corsOrigins = parseOrigins(flags.corsOrigin ?? []);
    const token = flags.authToken === undefined ? undefined : readAuthToken(flags.authToken, env);
    type CodecServerModule = typeof import('../infra/codec-server/server');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startCodecServer } = require('../infra/codec-server/server') as CodecServerModule;
    server = await startCodecServer({
      host: flags.ip,
      port,
      codec: codec.codec,
      corsOrigins,
      ...(token === undefined ? {} : { authorize: ({ authorization }) => bearerMatches(authorization, token) }),
    });
    io.stdout(
      `codec server at ${server.url} (${describeCodec(codec)}; CORS: ${corsOrigins.join(', ') || 'none'}; ` +
        `${token === undefined ? 'no authentication' : 'bearer token required'})`,
    );
    const signal = await stop;
    io.stderr(`${signal}: stopping the codec server`);
    return 0;
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  } finally {
    await server?.close().catch(() => undefined);
  }
}
