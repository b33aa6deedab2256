/**
 * How to reach a Temporal securely, configured the way Temporal's own tooling is: the Temporal CLI's flags
 * (`--tls`, `--tls-cert-path`, `--api-key`, `--profile`, `--config-file`, ...), the environment variables of
 * Temporal's client environment configuration (`TEMPORAL_TLS_*`, `TEMPORAL_API_KEY`, `TEMPORAL_PROFILE`,
 * `TEMPORAL_CONFIG_FILE`, `TEMPORAL_GRPC_META_*`), and its TOML file of profiles (`~/.config/temporalio/temporal.toml`
 * by default). A flag wins over its variable, which wins over the profile. Parsed once, with zod; every bad value is a
 * `CONFIG_INVALID` error naming where it came from. API keys, private keys and gRPC metadata values are never part of
 * a message.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';

import { ConfigError, ensureError } from '../core/errors';

/** The variables of Temporal's client environment configuration that mloe reads, by setting. */
export const TEMPORAL_CLIENT_ENV = {
  configFile: 'TEMPORAL_CONFIG_FILE',
  profile: 'TEMPORAL_PROFILE',
  apiKey: 'TEMPORAL_API_KEY',
  tls: 'TEMPORAL_TLS',
  tlsCertPath: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  tlsCertData: 'TEMPORAL_TLS_CLIENT_CERT_DATA',
  tlsKeyPath: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  tlsKeyData: 'TEMPORAL_TLS_CLIENT_KEY_DATA',
  tlsCaPath: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  tlsCaData: 'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  tlsServerName: 'TEMPORAL_TLS_SERVER_NAME',
  tlsDisableHostVerification: 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
} as const;

/** The prefix of `TEMPORAL_GRPC_META_<NAME>` variables: gRPC metadata sent with every call. */
export const GRPC_META_ENV_PREFIX = 'TEMPORAL_GRPC_META_';

/** The Temporal CLI's flags for the same settings (commander's camel-cased names → the flag). */
export const TEMPORAL_CLIENT_FLAGS = {
  configFile: '--config-file',
  profile: '--profile',
  apiKey: '--api-key',
  tls: '--tls',
  tlsCertPath: '--tls-cert-path',
  tlsCertData: '--tls-cert-data',
  tlsKeyPath: '--tls-key-path',
  tlsKeyData: '--tls-key-data',
  tlsCaPath: '--tls-ca-path',
  tlsCaData: '--tls-ca-data',
  tlsServerName: '--tls-server-name',
  tlsDisableHostVerification: '--tls-disable-host-verification',
} as const;

/** The TOML keys of a profile's `tls` table, by setting. */
const TOML_TLS_KEYS = {
  tlsCertPath: 'client_cert_path',
  tlsCertData: 'client_cert_data',
  tlsKeyPath: 'client_key_path',
  tlsKeyData: 'client_key_data',
  tlsCaPath: 'server_ca_cert_path',
  tlsCaData: 'server_ca_cert_data',
  tlsServerName: 'server_name',
  tlsDisableHostVerification: 'disable_host_verification',
} as const;

type TlsSettingName = keyof typeof TOML_TLS_KEYS;

/** The client security flags as commander hands them over (absent flags are undefined). */
export interface TemporalClientFlags {
  configFile?: string | undefined;
  profile?: string | undefined;
  apiKey?: string | undefined;
  /** `--tls` (true) or `--no-tls` (false). */
  tls?: boolean | undefined;
  tlsCertPath?: string | undefined;
  tlsCertData?: string | undefined;
  tlsKeyPath?: string | undefined;
  tlsKeyData?: string | undefined;
  tlsCaPath?: string | undefined;
  tlsCaData?: string | undefined;
  tlsServerName?: string | undefined;
  tlsDisableHostVerification?: boolean | undefined;
  disableConfigFile?: boolean | undefined;
  disableConfigEnv?: boolean | undefined;
  /** `--grpc-meta KEY=VALUE`, repeatable. */
  grpcMeta?: string[] | undefined;
}

/** Only the client security flags of a command's options (commander hands over every option in one object). */
export function temporalClientFlagsOf(options: TemporalClientFlags): TemporalClientFlags {
  const names = [...Object.keys(TEMPORAL_CLIENT_FLAGS), 'disableConfigFile', 'disableConfigEnv', 'grpcMeta'] as const;
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    const value = (options as Record<string, unknown>)[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** PEM bytes and where they came from (a flag, a variable, or a profile key), for messages. */
export interface PemSetting {
  pem: Buffer;
  origin: string;
}

/** The TLS settings of a connection; its absence means plaintext. */
export interface TemporalTlsConfig {
  /** What turned TLS on (`--tls`, `TEMPORAL_API_KEY`, a profile's `tls` table, ...). */
  origin: string;
  /** CA certificates the server's certificate must chain to; the system's roots when absent. */
  serverCa?: PemSetting;
  /** The client certificate and key of mutual TLS. */
  clientCert?: PemSetting;
  clientKey?: PemSetting;
  /** The name the server's certificate must carry (and SNI) instead of the address's host. */
  serverName?: { value: string; origin: string };
  /** Skip checking the server certificate's name (the chain is still verified). */
  disableHostVerification?: { value: true; origin: string };
}

/** Security settings of a connection to Temporal: TLS, an API key, gRPC metadata. */
export interface TemporalSecurity {
  tls?: TemporalTlsConfig;
  /** Sent as `authorization: Bearer <key>`; implies TLS unless TLS is turned off explicitly. */
  apiKey?: { value: string; origin: string };
  /** Extra gRPC metadata sent with every call (values may be secrets). */
  grpcMeta?: Record<string, string>;
}

/** What a profile (with the environment and flags over it) says about address and namespace. */
export interface ProfileSettings {
  address?: { value: string; origin: string };
  namespace?: { value: string; origin: string };
}

/** The resolved client configuration: address and namespace from the profile (if any), and security. */
export interface TemporalClientSettings extends ProfileSettings {
  security: TemporalSecurity;
}

const tomlTlsSchema = z.object({
  disabled: z.boolean().optional(),
  client_cert_path: z.string().optional(),
  client_cert_data: z.string().optional(),
  client_key_path: z.string().optional(),
  client_key_data: z.string().optional(),
  server_ca_cert_path: z.string().optional(),
  server_ca_cert_data: z.string().optional(),
  server_name: z.string().optional(),
  disable_host_verification: z.boolean().optional(),
});

const tomlProfileSchema = z.object({
  address: z.string().optional(),
  namespace: z.string().optional(),
  api_key: z.string().optional(),
  tls: tomlTlsSchema.optional(),
  grpc_meta: z.record(z.string(), z.string()).optional(),
});

/** Temporal's client configuration file: `[profile.<name>]` tables. Unknown keys are ignored, as Temporal does. */
const tomlFileSchema = z.object({ profile: z.record(z.string(), tomlProfileSchema).optional() });

type TomlProfile = z.infer<typeof tomlProfileSchema>;

/** `1`/`true` and `0`/`false` (any case), as Temporal's variables take them. */
const envBooleanSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['1', 'true', '0', 'false'], { error: 'not true or false' }))
  .transform((text) => text === '1' || text === 'true');

/** The default profile's name, as Temporal names it. */
export const DEFAULT_PROFILE = 'default';

/** Temporal's default configuration file: `$XDG_CONFIG_HOME` (else `~/.config`) `/temporalio/temporal.toml`. */
export function defaultTemporalConfigFile(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(env.HOME ?? homedir(), '.config');
  return join(base, 'temporalio', 'temporal.toml');
}

/** A `CONFIG_INVALID` for one setting: where it came from, what is wrong, how to fix it. */
function invalid(origin: string, problem: string, fix: string, cause?: unknown): ConfigError {
  return new ConfigError(`invalid ${origin}: ${problem}; fix: ${fix}`, cause === undefined ? {} : { cause });
}

/** Reads and checks the profile file; undefined when the default file does not exist. */
function readProfiles(path: string, origin: string, explicit: boolean): Record<string, TomlProfile> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(origin, `cannot read ${path} (${ensureError(error).message})`, 'name an existing TOML file', error);
  }
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (error) {
    throw invalid(origin, `${path} is not valid TOML: ${ensureError(error).message}`, 'correct the file', error);
  }
  const parsed = tomlFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : issue.path.join('.');
    throw invalid(
      origin,
      `${path}: ${where} ${issue?.message ?? 'is invalid'}`,
      'see docs/security.md for the profile keys (address, namespace, api_key, [tls], [grpc_meta])',
      parsed.error,
    );
  }
  return parsed.data.profile ?? {};
}

/** One setting's value and origin, taking the first source that has it. */
interface Candidate<T> {
  value: T;
  origin: string;
}

function first<T>(...candidates: (Candidate<T | undefined> | undefined)[]): Candidate<T> | undefined {
  for (const candidate of candidates) {
    if (candidate !== undefined && candidate.value !== undefined) return candidate as Candidate<T>;
  }
  return undefined;
}

/** Reads a PEM setting given as a path or as data; `CONFIG_INVALID` naming it when unreadable or not PEM. */
function pemOf(
  pathSetting: Candidate<string> | undefined,
  dataSetting: Candidate<string> | undefined,
  what: string,
): PemSetting | undefined {
  if (pathSetting !== undefined && dataSetting !== undefined) {
    throw invalid(
      `${pathSetting.origin} and ${dataSetting.origin}`,
      `both give the ${what}`,
      'give its path or its data, not both',
    );
  }
  let pem: Buffer;
  let origin: string;
  if (pathSetting !== undefined) {
    origin = `${pathSetting.origin} (${pathSetting.value})`;
    try {
      pem = readFileSync(pathSetting.value);
    } catch (error) {
      throw invalid(origin, `cannot read the ${what} (${ensureError(error).message})`, `give the path of a PEM file`);
    }
  } else if (dataSetting !== undefined) {
    origin = dataSetting.origin;
    pem = Buffer.from(dataSetting.value);
  } else {
    return undefined;
  }
  if (!pem.toString('latin1').includes('-----BEGIN ')) {
    throw invalid(origin, `the ${what} is not PEM (no -----BEGIN line)`, `give a PEM-encoded ${what}`);
  }
  return { pem, origin };
}

/** Checks a client certificate and key before any connection: both given, they match, and the cert is current. */
function checkClientPair(cert: PemSetting | undefined, key: PemSetting | undefined, now: Date): void {
  if (cert === undefined && key === undefined) return;
  if (cert === undefined || key === undefined) {
    const given = (cert ?? key) as PemSetting;
    throw invalid(
      given.origin,
      `a client ${cert === undefined ? 'key' : 'certificate'} without its ${cert === undefined ? 'certificate' : 'key'}`,
      'give both --tls-cert-path and --tls-key-path (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)',
    );
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert.pem);
  } catch (error) {
    throw invalid(cert.origin, `not an X.509 certificate (${ensureError(error).message})`, 'give a PEM certificate');
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key.pem));
  } catch (error) {
    throw invalid(key.origin, `not a private key (${ensureError(error).message})`, 'give a PEM private key');
  }
  if (!matches) {
    throw invalid(
      `${cert.origin} and ${key.origin}`,
      'the client key does not belong to the client certificate',
      'give the key the certificate was issued for',
    );
  }
  const notAfter = new Date(x509.validTo);
  const notBefore = new Date(x509.validFrom);
  if (notAfter.getTime() < now.getTime()) {
    throw invalid(
      cert.origin,
      `the client certificate expired on ${notAfter.toISOString()}`,
      'renew the certificate (servers refuse expired ones)',
    );
  }
  if (notBefore.getTime() > now.getTime()) {
    throw invalid(
      cert.origin,
      `the client certificate is not valid before ${notBefore.toISOString()}`,
      "check the certificate's dates and this machine's clock",
    );
  }
}

/** Where the settings come from. */
export interface TemporalClientSources {
  env?: Readonly<Record<string, string | undefined>>;
  flags?: TemporalClientFlags;
  /** The time client certificates must be valid at; now by default (tests). */
  now?: Date;
}

/** Parses an environment boolean; `CONFIG_INVALID` naming the variable. */
function envBoolean(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = envBooleanSchema.safeParse(value);
  if (!parsed.success) throw invalid(`${name}=${JSON.stringify(value)}`, 'not true or false', 'use true or false');
  return parsed.data;
}

/** gRPC metadata keys: lower case, `_` as `-` (as Temporal normalises `TEMPORAL_GRPC_META_*`). */
function metadataKey(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

/**
 * Resolves the client settings: the profile (`--profile`, `TEMPORAL_PROFILE`, else `default`) of the configuration
 * file (`--config-file`, `TEMPORAL_CONFIG_FILE`, else {@link defaultTemporalConfigFile}, which may be absent), with the
 * environment over it and flags over both. TLS is on when asked for, when any TLS setting is given, or when an API key
 * is, unless turned off explicitly (`--no-tls`, `TEMPORAL_TLS=false`, `tls.disabled = true`).
 */
export function loadTemporalClientSettings(sources: TemporalClientSources = {}): TemporalClientSettings {
  const flags = sources.flags ?? {};
  const env = flags.disableConfigEnv === true ? {} : (sources.env ?? {});
  const fullEnv = sources.env ?? {};
  const flag = <K extends keyof typeof TEMPORAL_CLIENT_FLAGS>(name: K): Candidate<string | undefined> | undefined => {
    const value = flags[name];
    return typeof value === 'string' ? { value, origin: TEMPORAL_CLIENT_FLAGS[name] } : undefined;
  };
  const envOf = (name: keyof typeof TEMPORAL_CLIENT_ENV): Candidate<string | undefined> | undefined => {
    const value = env[TEMPORAL_CLIENT_ENV[name]];
    return value === undefined || value === '' ? undefined : { value, origin: TEMPORAL_CLIENT_ENV[name] };
  };

  // The profile file: flags and the full environment say where it is, even with --disable-config-env.
  let profile: TomlProfile = {};
  let profileOrigin = '';
  if (flags.disableConfigFile !== true) {
    const fileSetting = first<string>(flag('configFile'), {
      value: fullEnv[TEMPORAL_CLIENT_ENV.configFile] || undefined,
      origin: TEMPORAL_CLIENT_ENV.configFile,
    });
    const path = fileSetting?.value ?? defaultTemporalConfigFile(fullEnv);
    const nameSetting = first<string>(flag('profile'), {
      value: fullEnv[TEMPORAL_CLIENT_ENV.profile] || undefined,
      origin: TEMPORAL_CLIENT_ENV.profile,
    });
    const name = nameSetting?.value ?? DEFAULT_PROFILE;
    const profiles = readProfiles(path, fileSetting?.origin ?? `the Temporal config file ${path}`, !!fileSetting);
    const found = profiles?.[name];
    if (found === undefined && nameSetting !== undefined) {
      const known = Object.keys(profiles ?? {});
      throw invalid(
        `${nameSetting.origin} ${JSON.stringify(name)}`,
        `no profile ${JSON.stringify(name)} in ${path}` + (profiles === undefined ? ' (the file does not exist)' : ''),
        known.length === 0 ? `add [profile.${name}] to ${path}` : `use one of ${known.join(', ')}`,
      );
    }
    profile = found ?? {};
    profileOrigin = `profile ${JSON.stringify(name)} of ${path}`;
  }
  const fromProfile = (key: string, value: string | boolean | undefined): Candidate<string | undefined> | undefined =>
    value === undefined ? undefined : { value: String(value), origin: `${profileOrigin} (${key})` };

  const address = first<string>(fromProfile('address', profile.address));
  const namespace = first<string>(fromProfile('namespace', profile.namespace));
  const apiKey = first<string>(flag('apiKey'), envOf('apiKey'), fromProfile('api_key', profile.api_key));

  const tlsSetting = (name: TlsSettingName): Candidate<string> | undefined => {
    const tomlValue = profile.tls?.[TOML_TLS_KEYS[name]];
    return first<string>(flag(name), envOf(name), fromProfile(`tls.${TOML_TLS_KEYS[name]}`, tomlValue));
  };
  const now = sources.now ?? new Date();
  const serverCa = pemOf(tlsSetting('tlsCaPath'), tlsSetting('tlsCaData'), 'server CA certificate');
  const clientCert = pemOf(tlsSetting('tlsCertPath'), tlsSetting('tlsCertData'), 'client certificate');
  const clientKey = pemOf(tlsSetting('tlsKeyPath'), tlsSetting('tlsKeyData'), 'client key');
  checkClientPair(clientCert, clientKey, now);
  const serverName = tlsSetting('tlsServerName');
  const disableHostVerificationFlag = flags.tlsDisableHostVerification === true;
  const disableHostVerification = disableHostVerificationFlag
    ? { value: true, origin: TEMPORAL_CLIENT_FLAGS.tlsDisableHostVerification }
    : envBoolean(
          TEMPORAL_CLIENT_ENV.tlsDisableHostVerification,
          env[TEMPORAL_CLIENT_ENV.tlsDisableHostVerification],
        ) === true
      ? { value: true, origin: TEMPORAL_CLIENT_ENV.tlsDisableHostVerification }
      : profile.tls?.disable_host_verification === true
        ? { value: true, origin: `${profileOrigin} (tls.disable_host_verification)` }
        : undefined;

  // Whether TLS is on: explicitly (flag, variable, profile), else implied by TLS settings or an API key.
  const envTls = envBoolean(TEMPORAL_CLIENT_ENV.tls, env[TEMPORAL_CLIENT_ENV.tls]);
  const explicit: Candidate<boolean> | undefined =
    flags.tls !== undefined
      ? { value: flags.tls, origin: flags.tls ? '--tls' : '--no-tls' }
      : envTls !== undefined
        ? { value: envTls, origin: `${TEMPORAL_CLIENT_ENV.tls}=${String(envTls)}` }
        : profile.tls?.disabled !== undefined
          ? { value: !profile.tls.disabled, origin: `${profileOrigin} (tls.disabled = ${profile.tls.disabled})` }
          : undefined;
  const implied = [serverCa, clientCert, serverName, disableHostVerification, apiKey].find((s) => s !== undefined);
  const tlsOrigin =
    explicit !== undefined
      ? explicit.value
        ? explicit.origin
        : undefined
      : implied !== undefined
        ? implied.origin.replace(/ \(.*\)$/, '')
        : profile.tls !== undefined
          ? `${profileOrigin} ([tls])`
          : undefined;
  if (explicit?.value === false && (clientCert !== undefined || serverCa !== undefined)) {
    throw invalid(
      explicit.origin,
      `TLS is turned off, yet ${(clientCert ?? serverCa)?.origin ?? ''} is given`,
      'turn TLS on (drop the setting that turns it off) or drop the certificates',
    );
  }

  const grpcMeta: Record<string, string> = {};
  for (const [key, value] of Object.entries(profile.grpc_meta ?? {})) grpcMeta[metadataKey(key)] = value;
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(GRPC_META_ENV_PREFIX)) continue;
    const key = metadataKey(name.slice(GRPC_META_ENV_PREFIX.length));
    if (value === undefined || value === '') delete grpcMeta[key];
    else grpcMeta[key] = value;
  }
  for (const pair of flags.grpcMeta ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw invalid(`--grpc-meta ${JSON.stringify(pair.split('=')[0])}`, 'not KEY=VALUE', 'write KEY=VALUE');
    grpcMeta[metadataKey(pair.slice(0, at))] = pair.slice(at + 1);
  }

  const security: TemporalSecurity = {
    ...(tlsOrigin === undefined
      ? {}
      : {
          tls: {
            origin: tlsOrigin,
            ...(serverCa === undefined ? {} : { serverCa }),
            ...(clientCert === undefined ? {} : { clientCert }),
            ...(clientKey === undefined ? {} : { clientKey }),
            ...(serverName === undefined ? {} : { serverName }),
            ...(disableHostVerification === undefined
              ? {}
              : { disableHostVerification: { value: true as const, origin: disableHostVerification.origin } }),
          },
        }),
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(Object.keys(grpcMeta).length === 0 ? {} : { grpcMeta }),
  };
  return {
    security,
    ...(address === undefined ? {} : { address }),
    ...(namespace === undefined ? {} : { namespace }),
  };
}

/** A one-line description of a connection's security for ready lines: never a key or a path's content. */
export function describeSecurity(security: TemporalSecurity | undefined): string {
  if (security === undefined) return 'plaintext';
  const tls = security.tls;
  const parts = [
    tls === undefined ? 'plaintext' : tls.clientCert === undefined ? 'TLS' : 'mutual TLS',
    ...(security.apiKey === undefined ? [] : ['API key']),
  ];
  return parts.join(' + ');
}
