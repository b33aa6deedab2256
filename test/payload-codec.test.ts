/**
 * The AES-256-GCM payload codec and its key ring (workers/codec/), and the codec server's HTTP contract
 * (infra/codec-server/) in-process: round trips, rotation, clear errors for a missing or wrong key, keys read by
 * reference and never shown, and the Web UI's `POST /encode` / `POST /decode` with CORS and bearer authentication.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';

import { bearerMatches, readAuthToken, runCodecServer } from '../clients/codec-server';
import { MloeError } from '../core/errors';
import { createCodecServerApp } from '../infra/codec-server/app';
import { createUiApp } from '../infra/ui/app';
import { AesGcmPayloadCodec, ENCODING_ENCRYPTED, METADATA_ENCRYPTION_KEY_ID } from '../workers/codec/aes-gcm-codec';
import { codecConfigFromEnv, dataConverterOptions, describeCodec } from '../workers/codec/config';
import { KeyRing, decodeKeyText, loadKeys } from '../workers/codec/keys';
import { loadConnectionConfig, loadWorkerConfig } from '../workers/config';
import { payloadJson } from './support/payloads';
import { pollUntil } from './support/poll';
import { suiteTemporaryDirectories } from './temporary-directories';

const temporaryDirectory = suiteTemporaryDirectories('mloe-codec-');

const KEY_A = randomBytes(32);
const KEY_B = randomBytes(32);

function ring(keys: Record<string, Buffer>, current: string): KeyRing {
  return new KeyRing(new Map(Object.entries(keys)), current);
}

function payloadOf(value: unknown): Payload {
  return defaultPayloadConverter.toPayload(value);
}

function valueOf(payload: Payload): unknown {
  return defaultPayloadConverter.fromPayload(payload);
}

const text = (bytes: Uint8Array | null | undefined): string => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

describe('AES-256-GCM payload codec', () => {
  const secret = { token: 'plaintext-marker-7f3a', rows: [1, 2, 3] };

  it('round-trips payloads; the encoded form holds no plaintext and names its key', async () => {
    const codec = new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1'));
    const [encoded] = await codec.encode([payloadOf(secret)]);
    expect(text(encoded?.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCODING_ENCRYPTED);
    expect(text(encoded?.metadata?.[METADATA_ENCRYPTION_KEY_ID])).toBe('k1');
    expect(Buffer.from(encoded?.data ?? []).includes('plaintext-marker')).toBe(false);
    expect(Object.keys(encoded?.metadata ?? {}).sort()).toEqual([METADATA_ENCODING_KEY, METADATA_ENCRYPTION_KEY_ID]);
    const [decoded] = await codec.decode([encoded as Payload]);
    expect(valueOf(decoded as Payload)).toEqual(secret);
    expect(text(decoded?.metadata?.[METADATA_ENCODING_KEY])).toBe('json/plain');
  });

  it('uses a fresh nonce per payload: the same value encrypts differently', async () => {
    const codec = new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1'));
    const [one, two] = await codec.encode([payloadOf('same'), payloadOf('same')]);
    expect(Buffer.from(one?.data ?? []).equals(Buffer.from(two?.data ?? []))).toBe(false);
  });

  it('passes through payloads it did not encrypt (histories from before encryption was turned on)', async () => {
    const codec = new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1'));
    const plain = payloadOf({ old: true });
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('rotates: encrypts with the current key, decrypts payloads of any key it holds', async () => {
    const before = new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1'));
    const [old] = await before.encode([payloadOf('under k1')]);
    const after = new AesGcmPayloadCodec(ring({ k1: KEY_A, k2: KEY_B }, 'k2'));
    const [fresh] = await after.encode([payloadOf('under k2')]);
    expect(text(fresh?.metadata?.[METADATA_ENCRYPTION_KEY_ID])).toBe('k2');
    const decoded = await after.decode([old as Payload, fresh as Payload]);
    expect(decoded.map(valueOf)).toEqual(['under k1', 'under k2']);
  });

  it('says which key is missing when it cannot decrypt a payload', async () => {
    const [encoded] = await new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1')).encode([payloadOf('x')]);
    const other = new AesGcmPayloadCodec(ring({ k2: KEY_B }, 'k2'));
    const failure = other.decode([encoded as Payload]);
    await expect(failure).rejects.toBeInstanceOf(MloeError);
    await expect(failure).rejects.toMatchObject({ code: 'PAYLOAD_CODEC_FAILED' });
    await expect(failure).rejects.toThrow(/encrypted with key "k1", which this process does not have \(it has k2\)/);
  });

  it('says the key material is wrong when a key of the same id does not decrypt, and for tampered data', async () => {
    const [encoded] = await new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1')).encode([payloadOf('x')]);
    const impostor = new AesGcmPayloadCodec(ring({ k1: KEY_B }, 'k1'));
    await expect(impostor.decode([encoded as Payload])).rejects.toThrow(/does not decrypt with the key of that id/);
    const data = Buffer.from(encoded?.data ?? []);
    data[20] = (data[20] ?? 0) ^ 1;
    const genuine = new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1'));
    await expect(genuine.decode([{ ...encoded, data }])).rejects.toThrow(/or the payload was altered/);
    await expect(genuine.decode([{ ...encoded, data: data.subarray(0, 10) }])).rejects.toThrow(/too short/);
    const noId = { metadata: { [METADATA_ENCODING_KEY]: Buffer.from(ENCODING_ENCRYPTED) }, data };
    await expect(genuine.decode([noId])).rejects.toThrow(/no encryption-key-id metadata/);
  });
});

describe('codec keys by reference', () => {
  const base64A = KEY_A.toString('base64');

  it('reads keys from variables, files and a folder of key files (a mounted Kubernetes Secret)', async () => {
    const dir = await temporaryDirectory();
    writeFileSync(join(dir, 'k-file'), `${KEY_B.toString('hex')}\n`);
    const secretDir = join(dir, 'secret');
    mkdirSync(join(secretDir, '..2026_12_07'), { recursive: true });
    writeFileSync(join(secretDir, 'k3'), randomBytes(32).toString('base64url'));
    writeFileSync(join(secretDir, '..data'), 'not a key');
    const keys = loadKeys(`k1=env:KEY_ONE, k2=file:${join(dir, 'k-file')},dir:${secretDir}`, { KEY_ONE: base64A }, 'X');
    expect([...keys.keys()]).toEqual(['k1', 'k2', 'k3']);
    expect(keys.get('k1')?.equals(KEY_A)).toBe(true);
    expect(keys.get('k2')?.equals(KEY_B)).toBe(true);
  });

  it('refuses bad entries with the variable, the entry and the fix, never the key text', async () => {
    const missing = join(await temporaryDirectory(), 'missing');
    const bad = 'c2hvcnQta2V5'; // "short-key"
    const message = (list: string, env: Record<string, string> = {}): string => {
      try {
        loadKeys(list, env, 'MLOE_CODEC_KEYS');
      } catch (error) {
        expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(message('k1=env:NOPE')).toMatch(/MLOE_CODEC_KEYS: key k1 names the variable NOPE, which is not set/);
    const short = message('k1=env:SHORT', { SHORT: bad });
    expect(short).toMatch(/decodes to 9 bytes, not an AES-256 key; write 32 random bytes as base64/);
    expect(short).not.toContain(bad);
    expect(message('k1=/etc/key')).toMatch(/not ID=env:NAME, ID=file:PATH or dir:PATH/);
    expect(message('bad id=env:X')).toMatch(/key id "bad id"/);
    expect(message(`k1=file:${missing}`)).toMatch(/cannot read key k1 from .*missing/);
    expect(message('k1=env:A,k1=env:A', { A: base64A })).toMatch(/key id k1 is given twice/);
    expect(message(' , ')).toMatch(/MLOE_CODEC_KEYS is empty/);
    expect(() => decodeKeyText('!!!', 'key')).toThrow(/is neither base64 nor hex/);
  });

  it('configures encryption from MLOE_CODEC_KEYS and MLOE_CODEC_KEY_ID, for workers and clients alike', () => {
    expect(codecConfigFromEnv({})).toBeUndefined();
    const env = {
      MLOE_CODEC_KEYS: 'k1=env:A,k2=env:B',
      MLOE_CODEC_KEY_ID: 'k2',
      A: base64A,
      B: KEY_B.toString('base64'),
    };
    const codec = codecConfigFromEnv(env);
    expect(codec?.keys.currentKeyId).toBe('k2');
    expect(describeCodec(codec)).toBe('payloads encrypted with key k2 (+1 for decryption)');
    expect(dataConverterOptions(codec).dataConverter?.payloadCodecs).toEqual([codec?.codec]);
    expect(dataConverterOptions(undefined)).toEqual({});
    expect(loadWorkerConfig({ env, cwd: '/tmp' }).codec?.keys.keyIds).toEqual(['k1', 'k2']);
    expect(loadConnectionConfig({ env }).codec?.keys.currentKeyId).toBe('k2');
    expect(() => codecConfigFromEnv({ ...env, MLOE_CODEC_KEY_ID: undefined })).toThrow(
      /MLOE_CODEC_KEYS holds 2 keys \(k1, k2\): set MLOE_CODEC_KEY_ID/,
    );
    expect(() => codecConfigFromEnv({ ...env, MLOE_CODEC_KEY_ID: 'k9' })).toThrow(
      /MLOE_CODEC_KEY_ID="k9" names no key of MLOE_CODEC_KEYS \(k1, k2\)/,
    );
    expect(() => codecConfigFromEnv({ MLOE_CODEC_KEY_ID: 'k1' })).toThrow(/is set but MLOE_CODEC_KEYS is not/);
    expect(() => loadWorkerConfig({ env: { MLOE_CODEC_KEYS: 'k1=env:NOPE' } })).toThrow(/NOPE, which is not set/);
  });

  it('never shows key material in JSON, inspect or messages', () => {
    const keys = ring({ k1: KEY_A, k2: KEY_B }, 'k2');
    const shown = [JSON.stringify(keys), inspect(keys), inspect({ nested: { keys } }, { depth: 5 })].join('\n');
    for (const key of [KEY_A, KEY_B]) {
      for (const encoding of ['base64', 'hex', 'base64url'] as const)
        expect(shown).not.toContain(key.toString(encoding));
    }
    expect(shown).toContain('k1');
    expect(JSON.stringify(codecConfigFromEnv({ MLOE_CODEC_KEYS: 'k1=env:A', A: base64A }))).not.toContain(base64A);
  });
});

describe('codec server (Temporal remote codec contract)', () => {
  const codec = new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1'));
  const UI = 'http://localhost:8233';
  const app = createCodecServerApp({ codec, corsOrigins: [UI] });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: UI, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('encodes and decodes proto3-JSON payloads, also under a namespace path segment', async () => {
    const plain = payloadJson(payloadOf({ hello: 'codec' }));
    const encoded = await post('/encode', { payloads: [plain] }, { 'X-Namespace': 'default' });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('Access-Control-Allow-Origin')).toBe(UI);
    const encodedBody = (await encoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(encodedBody.payloads[0]?.metadata.encoding ?? '', 'base64').toString()).toBe(ENCODING_ENCRYPTED);
    const decoded = await post('/default/decode', encodedBody);
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual({ payloads: [plain] });
    expect(await (await post('/decode', { payloads: [] })).json()).toEqual({ payloads: [] });
  });

  it('answers the Web UI preflight for its origin only', async () => {
    const preflight = (origin: string) =>
      app.request('/decode', {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type,x-namespace,authorization',
        },
      });
    const allowed = await preflight(UI);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('Access-Control-Allow-Origin')).toBe(UI);
    expect(allowed.headers.get('Access-Control-Allow-Credentials')).toBe('true');
    expect(allowed.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('x-namespace');
    expect(allowed.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('authorization');
    expect((await preflight('http://evil.example')).headers.get('Access-Control-Allow-Origin')).toBeNull();
  });

  it('refuses malformed requests with a message, and unknown paths or methods', async () => {
    const bad = async (response: Response, status: number, pattern: RegExp) => {
      expect(response.status).toBe(status);
      expect(((await response.json()) as { message: string }).message).toMatch(pattern);
    };
    await bad(await post('/decode', '{oops'), 400, /not JSON/);
    await bad(await post('/decode', { payload: [] }), 400, /expected \{"payloads"/);
    await bad(await post('/decode', { payloads: [{ data: 'not base64!' }] }), 400, /payloads\.0\.data: not base64/);
    await bad(await post('/decode', { payloads: [] }, { 'Content-Type': 'text/plain' }), 415, /application\/json/);
    const wrongKey = await new AesGcmPayloadCodec(ring({ k9: KEY_B }, 'k9')).encode([payloadOf(1)]);
    await bad(
      await post('/decode', { payloads: wrongKey.map(payloadJson) }),
      422,
      /key "k9", which this process does not/,
    );
    await bad(await app.request('/nope', { method: 'POST' }), 404, /POST \/encode and POST \/decode/);
    expect((await app.request('/decode')).status).toBe(405);
  });

  it('asks the authorize hook, with the Authorization header the UI passes through and the namespace', async () => {
    const seen: unknown[] = [];
    const guarded = createCodecServerApp({
      codec,
      authorize: (request) => {
        seen.push(request);
        return bearerMatches(request.authorization, 's3cret');
      },
    });
    const call = (headers: Record<string, string>) =>
      guarded.request('/decode', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Namespace': 'ml', ...headers },
        body: '{"payloads":[]}',
      });
    expect((await call({})).status).toBe(401);
    expect((await call({ Authorization: 'Bearer wrong' })).status).toBe(403);
    expect((await call({ Authorization: 'Bearer s3cret' })).status).toBe(200);
    expect(seen[2]).toEqual({ operation: 'decode', authorization: 'Bearer s3cret', namespace: 'ml' });
    expect(readAuthToken('env:TOKEN', { TOKEN: ' s3cret\n' })).toBe('s3cret');
    expect(() => readAuthToken('s3cret', {})).toThrow(/env:NAME or file:PATH/);
  });

  it('is mounted on the embedded Web UI under /codec, and the UI settings point there', async () => {
    const ui = createUiApp({ publicPath: '/temporal', codec: app });
    const settings = await ui(new Request('http://127.0.0.1:8233/temporal/api/v1/settings'));
    const body = (await settings.json()) as { Codec: { Endpoint: string } };
    expect(body.Codec.Endpoint).toBe('http://127.0.0.1:8233/temporal/codec');
    const [encoded] = await codec.encode([payloadOf('through the UI')]);
    const response = await ui(
      new Request(`${body.Codec.Endpoint}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' },
        body: JSON.stringify({ payloads: [payloadJson(encoded as Payload)] }),
      }),
    );
    expect(response.status).toBe(200);
    const decoded = (await response.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(decoded.payloads[0]?.data ?? '', 'base64').toString()).toBe('"through the UI"');
    const without = createUiApp({});
    const plainSettings = (await (await without(new Request('http://h/api/v1/settings'))).json()) as {
      Codec: { Endpoint: string };
    };
    expect(plainSettings.Codec.Endpoint).toBe('');
  });
});

describe('mloe codec-server', () => {
  const env = { MLOE_CODEC_KEYS: 'k1=env:KEY', KEY: KEY_A.toString('base64'), TOKEN: 't0ken' };

  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { stdout: (line: string) => out.push(line), stderr: (line: string) => err.push(line) }, out, err };
  }

  it('serves the codec of MLOE_CODEC_KEYS over HTTP until stopped, with CORS and a bearer token', async () => {
    const { io, out, err } = capture();
    let stop: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolveStop) => (stop = resolveStop));
    const exit = runCodecServer(
      { ip: '127.0.0.1', port: '0', corsOrigin: ['http://localhost:8233'], authToken: 'env:TOKEN' },
      io,
      env,
      stopped,
    );
    const line = await pollUntil('the ready line', () => out.find((text) => text.startsWith('codec server at ')));
    expect(line).toMatch(/payloads encrypted with key k1; CORS: http:\/\/localhost:8233; bearer token required\)$/);
    expect(line).not.toContain('t0ken');
    const url = /^codec server at (\S+) /.exec(line)?.[1] ?? '';
    const [encoded] = await new AesGcmPayloadCodec(ring({ k1: KEY_A }, 'k1')).encode([payloadOf('over http')]);
    const body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(encoded?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
          ),
          data: Buffer.from(encoded?.data ?? []).toString('base64'),
        },
      ],
    });
    const call = (authorization: string) =>
      fetch(`${url}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: authorization },
        body,
      });
    expect((await call('Bearer nope')).status).toBe(403);
    const response = await call('Bearer t0ken');
    expect(response.status).toBe(200);
    const decoded = (await response.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(decoded.payloads[0]?.data ?? '', 'base64').toString()).toBe('"over http"');
    stop('SIGTERM');
    expect(await exit).toBe(0);
    expect(err).toEqual(['SIGTERM: stopping the codec server']);
  });

  it('refuses to start without keys, with a bad origin or a bad token reference', async () => {
    const cases: [Parameters<typeof runCodecServer>[0], Record<string, string>, RegExp][] = [
      [{ ip: '127.0.0.1', port: '0' }, {}, /MLOE_CODEC_KEYS is not set/],
      [{ ip: '127.0.0.1', port: '0', corsOrigin: ['localhost:8233/ui'] }, env, /invalid --cors-origin/],
      [{ ip: '127.0.0.1', port: '0', authToken: 'env:MISSING' }, env, /--auth-token env:MISSING is empty or unset/],
      [{ ip: '127.0.0.1', port: '99999' }, env, /invalid --port "99999"/],
    ];
    for (const [flags, caseEnv, pattern] of cases) {
      const { io, err } = capture();
      expect(await runCodecServer(flags, io, caseEnv, Promise.resolve('test'))).toBe(1);
      expect(err.join('\n')).toMatch(pattern);
    }
  });
});
