/**
 * A Temporal payload codec that encrypts every payload with AES-256-GCM before it leaves the process (workflow
 * inputs and results, activity inputs and results, signals, queries, memos), so the Temporal server and anyone who
 * reads its history see only ciphertext. It runs in the client and in the worker's main thread, outside the workflow
 * sandbox: workflow code sees decoded payloads and never the codec.
 *
 * The wire format is the one of Temporal's encryption samples, so their codec servers and tools recognise it: the
 * whole original payload (metadata and data, protobuf-encoded) is encrypted, and the result is a payload with
 * metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`, and data `nonce (12 bytes) ‖ ciphertext ‖
 * tag (16 bytes)`. A fresh random nonce per payload; the key id names which key of the ring decrypts it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

import { MloeError } from '../../core/errors';
import type { KeyRing } from './keys';

/** The `encoding` of an encrypted payload (Temporal's samples use the same). */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** The metadata key naming the key that encrypted a payload. */
export const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

const CIPHER = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function codecError(message: string, cause?: unknown): MloeError {
  return new MloeError('PAYLOAD_CODEC_FAILED', message, {
    retryable: false,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** True when the payload was written by this codec (its `encoding` is {@link ENCODING_ENCRYPTED}). */
export function isEncryptedPayload(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return encoding !== undefined && encoding !== null && textDecoder.decode(encoding) === ENCODING_ENCRYPTED;
}

/** The AES-256-GCM payload codec over a {@link KeyRing}: encrypts with the current key, decrypts with any it holds. */
export class AesGcmPayloadCodec implements PayloadCodec {
  /** @param keys the ring; its current key encrypts. */
  constructor(private readonly keys: KeyRing) {}

  /** Encrypts each payload with the current key. */
  // eslint-disable-next-line @typescript-eslint/require-await -- a failure must reject, not throw
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  /** Decrypts each payload this codec wrote; any other payload (never encrypted) passes through unchanged. */
  // eslint-disable-next-line @typescript-eslint/require-await -- a failure must reject, not throw
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncryptedPayload(payload) ? this.decrypt(payload) : payload));
  }

  private encrypt(payload: Payload): Payload {
    const keyId = this.keys.currentKeyId;
    const key = this.keys.key(keyId);
    if (key === undefined) throw codecError(`the current key ${keyId} is missing from the key ring`);
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(CIPHER, key, nonce);
    const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: textEncoder.encode(ENCODING_ENCRYPTED),
        [METADATA_ENCRYPTION_KEY_ID]: textEncoder.encode(keyId),
      },
      data: sealed,
    };
  }

  private decrypt(payload: Payload): Payload {
    const idBytes = payload.metadata?.[METADATA_ENCRYPTION_KEY_ID];
    if (idBytes === undefined || idBytes === null) {
      throw codecError(`an encrypted payload has no ${METADATA_ENCRYPTION_KEY_ID} metadata: it cannot say which key`);
    }
    const keyId = textDecoder.decode(idBytes);
    const key = this.keys.key(keyId);
    if (key === undefined) {
      throw codecError(
        `payload encrypted with key ${JSON.stringify(keyId)}, which this process does not have (it has ` +
          `${this.keys.keyIds.join(', ')}): add that key to MLOE_CODEC_KEYS (keep retired keys for as long as ` +
          `histories encrypted with them are retained)`,
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < NONCE_BYTES + TAG_BYTES) {
      throw codecError(`an encrypted payload (key ${keyId}) is ${data.length} bytes, too short to be one`);
    }
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const decipher = createDecipheriv(CIPHER, key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    } catch (error) {
      throw codecError(
        `a payload marked as encrypted with key ${keyId} does not decrypt with the key of that id: the key ` +
          `material differs from the one that encrypted it, or the payload was altered`,
        error,
      );
    }
    const decoded = temporal.api.common.v1.Payload.decode(plain);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}
