/**
 * The payload codec's key ring: AES-256 keys by key id, and which one encrypts. Keys are named by reference
 * (`env:NAME`, `file:PATH`, or `dir:PATH` for a folder of key files such as a mounted Kubernetes Secret) and read
 * once at start; their bytes never reach a log line, an error message, `JSON.stringify` or `util.inspect`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { ConfigError, ensureError } from '../../core/errors';

/** AES-256 keys are 32 bytes. */
export const KEY_BYTES = 32;

/** A key id: what goes into a payload's metadata, so it must stay short and plain. */
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const KEY_ID_FIX = 'a key id is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit';
const KEYS_FIX = 'list keys as ID=env:NAME, ID=file:PATH or dir:PATH, comma-separated';

/** How a key's text may be written: base64 (standard or URL-safe) of 32 bytes, or 64 hex digits. */
const KEY_FORMAT_HINT = 'write 32 random bytes as base64 (`openssl rand -base64 32`) or as 64 hex digits';

/**
 * AES-256 keys by id and the id that encrypts. Decryption takes any key it holds, so rotating is: add the new key,
 * make it current, keep the old one until no history that needs it is retained.
 */
export class KeyRing {
  readonly #keys: ReadonlyMap<string, Buffer>;

  /** The id of the key new payloads are encrypted with. */
  readonly currentKeyId: string;

  /** Takes ownership of `keys` (32-byte buffers); `currentKeyId` must be one of them. */
  constructor(keys: ReadonlyMap<string, Buffer>, currentKeyId: string) {
    for (const [id, key] of keys) {
      if (!KEY_ID.test(id)) throw new ConfigError(`invalid codec key id ${JSON.stringify(id)}: ${KEY_ID_FIX}`);
      if (key.length !== KEY_BYTES) {
        throw new ConfigError(`codec key ${id} has ${key.length} bytes, not ${KEY_BYTES}: ${KEY_FORMAT_HINT}`);
      }
    }
    if (!keys.has(currentKeyId)) {
      throw new ConfigError(
        `the current codec key ${JSON.stringify(currentKeyId)} is not among the keys (${[...keys.keys()].join(', ') || 'none'})`,
      );
    }
    this.#keys = keys;
    this.currentKeyId = currentKeyId;
  }

  /** The ids of every key held, for messages (never the keys). */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** The key with this id, or undefined. */
  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** What `JSON.stringify` shows: the ids only. */
  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  /** What `console.log` and `util.inspect` show: the ids only. */
  [inspect.custom](): string {
    return `KeyRing { current: ${this.currentKeyId}, keys: [${this.keyIds.join(', ')}] }`;
  }
}

/**
 * Decodes a key's text (surrounding whitespace ignored) into its 32 bytes. `where` names the key for the error, which
 * never quotes the text.
 */
export function decodeKeyText(text: string, where: string): Buffer {
  const trimmed = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
  if (bytes?.length !== KEY_BYTES) {
    const what = bytes === undefined ? 'is neither base64 nor hex' : `decodes to ${bytes.length} bytes`;
    throw new ConfigError(`${where} ${what}, not an AES-256 key; ${KEY_FORMAT_HINT}`);
  }
  return bytes;
}

/** The environment the `env:` references are read from. */
export type KeyEnv = Readonly<Record<string, string | undefined>>;

/** Reads one key file; `origin` names the setting for the error. */
function readKeyFile(path: string, id: string, origin: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${origin}: cannot read key ${id} from ${path}: ${ensureError(error).message}`, {
      cause: error,
    });
  }
  return decodeKeyText(text, `${origin}: key ${id} in ${path}`);
}

/**
 * Every key file of a folder, by file name: the layout of a Kubernetes Secret mounted as a volume (its `..data`
 * links and other dot-names are skipped).
 */
function readKeyDirectory(path: string, origin: string): Map<string, Buffer> {
  let names: string[];
  try {
    names = readdirSync(path).filter((name) => !name.startsWith('.'));
  } catch (error) {
    throw new ConfigError(`${origin}: cannot list key folder ${path}: ${ensureError(error).message}`, {
      cause: error,
    });
  }
  const keys = new Map<string, Buffer>();
  for (const name of names.sort()) {
    const file = join(path, name);
    if (!statSync(file).isFile()) continue;
    if (!KEY_ID.test(name)) {
      throw new ConfigError(`${origin}: key file ${file} is not named as a key id: ${KEY_ID_FIX}`);
    }
    keys.set(name, readKeyFile(file, name, origin));
  }
  if (keys.size === 0) throw new ConfigError(`${origin}: key folder ${path} holds no key files`);
  return keys;
}

/**
 * Parses a key list, `ID=env:NAME`, `ID=file:PATH` or `dir:PATH`, comma-separated, and loads every key. `origin`
 * names the setting in errors (e.g. `MLOE_CODEC_KEYS`). Throws `CONFIG_INVALID` naming the entry and the fix.
 */
export function loadKeys(list: string, env: KeyEnv, origin: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  const add = (id: string, key: Buffer): void => {
    if (keys.has(id)) throw new ConfigError(`${origin}: key id ${id} is given twice`);
    keys.set(id, key);
  };
  const entries = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new ConfigError(`${origin} is empty: ${KEYS_FIX}`);
  for (const entry of entries) {
    if (entry.startsWith('dir:')) {
      for (const [id, key] of readKeyDirectory(entry.slice('dir:'.length), origin)) add(id, key);
      continue;
    }
    const match = /^([^=]+)=(env|file):(.+)$/.exec(entry);
    if (match === null) {
      throw new ConfigError(`${origin}: entry ${JSON.stringify(entry)} is not ID=env:NAME, ID=file:PATH or dir:PATH`);
    }
    const [, id = '', kind, reference = ''] = match;
    if (!KEY_ID.test(id)) throw new ConfigError(`${origin}: key id ${JSON.stringify(id)}: ${KEY_ID_FIX}`);
    if (kind === 'env') {
      const text = env[reference];
      if (text === undefined || text.trim() === '') {
        throw new ConfigError(`${origin}: key ${id} names the variable ${reference}, which is not set`);
      }
      add(id, decodeKeyText(text, `${origin}: key ${id} (variable ${reference})`));
    } else {
      add(id, readKeyFile(reference, id, origin));
    }
  }
  return keys;
}
