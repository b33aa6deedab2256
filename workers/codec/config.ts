/**
 * Payload encryption settings (docs/encryption.md): `MLOE_CODEC_KEYS` names the keys by reference, and
 * `MLOE_CODEC_KEY_ID` the one that encrypts. Unset, payloads are not encrypted. Parsed once, by the worker's and the
 * CLI's configuration (`workers/config.ts`), which hand in the environment.
 */
import type { DataConverter, PayloadCodec } from '@temporalio/common';

import { ConfigError, ensureError } from '../../core/errors';
import { AesGcmPayloadCodec } from './aes-gcm-codec';
import { KeyRing, loadKeys, type KeyEnv } from './keys';

/** The variables of payload encryption. */
export const CODEC_ENV = {
  /** The keys: `ID=env:NAME`, `ID=file:PATH` or `dir:PATH`, comma-separated. */
  keys: 'MLOE_CODEC_KEYS',
  /** The id of the key new payloads are encrypted with; the only key's when one is given. */
  currentKeyId: 'MLOE_CODEC_KEY_ID',
} as const;

/** Payload encryption as configured: the key ring and the codec over it. */
export interface CodecConfig {
  /** The keys (their bytes hidden from logs and JSON). */
  keys: KeyRing;
  /** The AES-256-GCM codec over {@link CodecConfig.keys}. */
  codec: PayloadCodec;
}

/**
 * Reads `MLOE_CODEC_KEYS` and `MLOE_CODEC_KEY_ID` and loads the keys. Undefined when `MLOE_CODEC_KEYS` is unset;
 * `CONFIG_INVALID` naming the variable for a bad entry, an unreadable or malformed key, or a missing current key.
 */
export function codecConfigFromEnv(env: KeyEnv): CodecConfig | undefined {
  const list = env[CODEC_ENV.keys];
  const current = env[CODEC_ENV.currentKeyId]?.trim();
  if (list === undefined || list.trim() === '') {
    if (current !== undefined && current !== '') {
      throw new ConfigError(
        `${CODEC_ENV.currentKeyId}=${JSON.stringify(current)} is set but ${CODEC_ENV.keys} is not: name the keys ` +
          `(e.g. ${CODEC_ENV.keys}=${current}=file:/etc/mloe/codec/${current}), or unset ${CODEC_ENV.currentKeyId}`,
      );
    }
    return undefined;
  }
  try {
    const keys = loadKeys(list, env, CODEC_ENV.keys);
    let currentKeyId = current;
    if (currentKeyId === undefined || currentKeyId === '') {
      if (keys.size !== 1) {
        throw new ConfigError(
          `${CODEC_ENV.keys} holds ${keys.size} keys (${[...keys.keys()].join(', ')}): set ${CODEC_ENV.currentKeyId} ` +
            'to the one new payloads are encrypted with',
        );
      }
      currentKeyId = [...keys.keys()][0] ?? '';
    } else if (!keys.has(currentKeyId)) {
      throw new ConfigError(
        `${CODEC_ENV.currentKeyId}=${JSON.stringify(currentKeyId)} names no key of ${CODEC_ENV.keys} ` +
          `(${[...keys.keys()].join(', ')}): add it there or name one of those`,
      );
    }
    const ring = new KeyRing(keys, currentKeyId);
    return { keys: ring, codec: new AesGcmPayloadCodec(ring) };
  } catch (error) {
    const message = ensureError(error).message;
    throw error instanceof ConfigError ? error : new ConfigError(`invalid ${CODEC_ENV.keys}: ${message}`);
  }
}

/**
 * The data converter options of a client or worker: the codec when encryption is configured, nothing otherwise
 * (the SDK's default converter then).
 */
export function dataConverterOptions(codec: CodecConfig | undefined): { dataConverter?: DataConverter } {
  return codec === undefined ? {} : { dataConverter: { payloadCodecs: [codec.codec] } };
}

/** One line for start-up messages: which key encrypts and how many decrypt (never key material). */
export function describeCodec(codec: CodecConfig | undefined): string {
  if (codec === undefined) return 'payloads not encrypted';
  const others = codec.keys.keyIds.length - 1;
  return `payloads encrypted with key ${codec.keys.currentKeyId}${others > 0 ? ` (+${others} for decryption)` : ''}`;
}
