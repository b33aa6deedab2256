/**
 * The artifact stores: the `file://` store on a temporary directory, and the `s3://` store against a real
 * S3-compatible server (s3rver, started here in a child process on a free port). Nothing is mocked: every byte goes
 * through the file system or over HTTP, and stored bytes are checked with an independent sha256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, readFile, readdir, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { z } from 'zod';

import {
  FileArtifactStore,
  S3ArtifactStore,
  artifactRefSchema,
  getBytes,
  getJson,
  parseArtifactRef,
  parseArtifactStoreConfig,
  putJson,
  s3ClientConfig,
  parseS3StoreConfig,
  storeForUri,
  type ArtifactEntry,
  type ArtifactRef,
  type ArtifactStore,
  type PutOptions,
} from '../activities/artifacts';
import { MloeError } from '../core/errors';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './s3-server';
import { suiteTemporaryDirectories } from './temporary-directories';

const MIB = 1024 * 1024;

/** A fresh temporary directory, removed after the suite. */
const temporaryDirectory = suiteTemporaryDirectories('mloe-artifacts-test-');

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function hexOf(ref: { digest: string }): string {
  return ref.digest.slice('sha256:'.length);
}

/** What a promise rejected with; fails the test if it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** What a function threw (synchronously) or its promise rejected with. */
async function failureOf(body: () => unknown): Promise<unknown> {
  try {
    await body();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** Reads a stream to the end, hashing it, without keeping the bytes. */
async function hashStream(
  stream: AsyncIterable<Uint8Array>,
  onChunk: (bytes: number) => void = () => undefined,
): Promise<{ hex: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
    onChunk(chunk.byteLength);
  }
  return { hex: hash.digest('hex'), size };
}

/**
 * A stream of `size` pseudo-random bytes made on demand in `chunkSize` chunks, with the sha256 of what it produced
 * once it has ended. Chunks are fresh buffers, so a consumer that kept them all would hold `size` bytes.
 */
function generatedStream(size: number, chunkSize = 256 * 1024, onChunk: (bytes: number) => void = () => undefined) {
  const hash = createHash('sha256');
  let produced = 0;
  const seed = randomBytes(chunkSize);
  const stream = new Readable({
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(chunkSize, size - produced);
      const chunk = Buffer.allocUnsafe(length);
      seed.copy(chunk, 0, 0, length);
      chunk.writeDoubleLE(produced, 0); // every chunk differs
      hash.update(chunk);
      produced += length;
      onChunk(length);
      this.push(chunk);
    },
  });
  let hex: string | undefined;
  return { stream, hex: () => (hex ??= hash.digest('hex')) };
}

/** V8's full garbage collection, made callable without starting node with `--expose-gc`. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Every entry a store lists for a prefix. */
async function listAll(store: ArtifactStore, prefix?: string, pageSize?: number): Promise<ArtifactEntry[]> {
  const entries: ArtifactEntry[] = [];
  for await (const entry of store.list({
    ...(prefix === undefined ? {} : { prefix }),
    ...(pageSize === undefined ? {} : { pageSize }),
  }))
    entries.push(entry);
  return entries;
}

/** The records contract, the same for every store: replace atomically, read back, list by name, refuse bad names. */
async function checkRecords(store: ArtifactStore): Promise<void> {
  expect(await store.getRecord('runs', 'pipeline-demo-1')).toBeUndefined();
  await store.putRecord('runs', 'pipeline-demo-2', { state: 'running' });
  await store.putRecord('runs', 'pipeline-demo-1', { state: 'running', steps: [1, 2] });
  await store.putRecord('runs', 'pipeline-demo-1', { state: 'completed' });
  await store.putRecord('cache', 'abc', { key: 'abc' });
  expect(await store.getRecord('runs', 'pipeline-demo-1')).toEqual({ state: 'completed' });
  const names: string[] = [];
  for await (const name of store.listRecords('runs')) names.push(name);
  expect(names).toEqual(['pipeline-demo-1', 'pipeline-demo-2']);
  for (const bad of ['../escape', 'a/b', '', '.hidden', 'a..b']) {
    await expect(store.putRecord('runs', bad, {})).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(store.getRecord('runs', bad)).rejects.toMatchObject({ code: 'PATH_INVALID' });
  }
  await expect(store.putRecord('secrets' as 'runs', 'x', {})).rejects.toMatchObject({ code: 'PATH_INVALID' });
}

describe('file store', () => {
  it('keeps JSON records under <root>/records/<collection>/<name>.json, replaced atomically', async () => {
    const root = await temporaryDirectory();
    const store = new FileArtifactStore({ root });
    await checkRecords(store);
    const onDisk = JSON.parse(await readFile(join(root, 'records', 'runs', 'pipeline-demo-1.json'), 'utf8')) as unknown;
    expect(onDisk).toEqual({ state: 'completed' });
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    await writeFile(join(root, 'records', 'runs', 'broken.json'), '{"state":');
    await expect(store.getRecord('runs', 'broken')).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
  });

  it('round-trips typed artifacts with metadata under <root>/sha256/<ab>/<hex>', async () => {
    const root = await temporaryDirectory();
    const store = new FileArtifactStore({ root });
    const bytes = Buffer.from('sqft,price_k\n1000,200\n');
    const hex = sha256(bytes);

    const ref = await store.put(bytes, { type: 'dataset', metadata: { source: 'housing.csv', rows: 1 } });
    expect(artifactRefSchema.parse(ref)).toEqual(ref);
    const path = join(root, 'sha256', hex.slice(0, 2), hex);
    expect(ref).toEqual({
      uri: pathToFileURL(path).href,
      digest: `sha256:${hex}`,
      size: bytes.byteLength,
      type: 'dataset',
      metadata: { source: 'housing.csv', rows: 1 },
      createdAt: ref.createdAt,
    });
    expect(Math.abs(Date.parse(ref.createdAt) - Date.now())).toBeLessThan(60_000);
    expect(await readFile(path)).toEqual(bytes);
    expect(JSON.parse(await readFile(`${path}.json`, 'utf8'))).toMatchObject({ version: 1, type: 'dataset' });

    expect(await getBytes(store, ref)).toEqual(bytes);
    expect(await getBytes(store, ref.uri)).toEqual(bytes); // the URI alone carries the digest
    expect(await store.head(ref.uri)).toEqual(ref);
    expect(await store.exists(ref)).toBe(true);
    expect(await store.verify(ref)).toBe('intact');
    expect(await readdir(join(root, 'tmp'))).toEqual([]); // no temporary files left behind

    const model = await putJson(store, { kind: 'm', weights: [1, 2] }, { type: 'model' });
    const modelSchema = z.object({ kind: z.string(), weights: z.array(z.number()) });
    expect(await getJson(store, model, modelSchema, 'a model')).toEqual({
      kind: 'm',
      weights: [1, 2],
    });
  });

  it('defaults to .mloe/artifacts in the working directory, and storeForUri finds the store of an artifact', async () => {
    const directory = await temporaryDirectory();
    expect(FileArtifactStore.inWorkingDirectory(directory).root).toBe(join(directory, '.mloe', 'artifacts'));
    expect(FileArtifactStore.inWorkingDirectory().root).toBe(join(process.cwd(), '.mloe', 'artifacts'));

    const store = storeForUri(pathToFileURL(join(directory, 'store')).href);
    const ref = await store.put('hello', { type: 'report' });
    const same = storeForUri(ref.uri);
    expect(same.rootUri).toBe(store.rootUri);
    expect((await getBytes(same, ref)).toString()).toBe('hello');
  });

  it('puts the same content idempotently, from a buffer or a stream; new metadata replaces the record', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const options: PutOptions = { type: 'metrics', metadata: { rmse: 1.5, tags: ['a'] } };
    const first = await store.put('{"rmse":1.5}\n', options);
    const again = await store.put(Buffer.from('{"rmse":1.5}\n'), {
      type: 'metrics',
      metadata: { tags: ['a'], rmse: 1.5 },
    });
    const streamed = await store.put(Readable.from([Buffer.from('{"rmse"'), Buffer.from(':1.5}\n')]), options);
    expect(again).toEqual(first);
    expect(streamed).toEqual(first);

    const relabelled = await store.put('{"rmse":1.5}\n', { type: 'report' });
    expect(relabelled).toMatchObject({ uri: first.uri, digest: first.digest, type: 'report', metadata: {} });
    expect(await store.head(first.uri)).toEqual(relabelled);
    expect(await listAll(store)).toHaveLength(1);
  });

  it('streams a 50 MB artifact in and out without holding it in memory', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const size = 50 * MIB;
    // Live Buffer memory (where the chunks are), measured after a full collection: garbage chunks do not count,
    // kept ones do. The V8 heap is left out: other work in the jest worker makes it noisy.
    const gc = collector();
    const live = () => {
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const baseline = live();
    let peak = baseline;
    // Sampled every 5 MiB that flows, and on the first chunk each way, while that chunk is alive.
    let flowed = 0;
    let nextSample = 0;
    const sample = (bytes: number) => {
      flowed += bytes;
      if (flowed >= nextSample) {
        peak = Math.max(peak, live());
        nextSample = flowed + 5 * MIB;
      }
    };
    const source = generatedStream(size, 256 * 1024, sample);

    const ref = await store.put(source.stream, { type: 'dataset' });
    expect(ref).toMatchObject({ digest: `sha256:${source.hex()}`, size });

    nextSample = flowed;
    expect(await hashStream(await store.get(ref), sample)).toEqual({ hex: source.hex(), size });

    // Buffering the artifact anywhere would keep at least its size alive.
    expect(peak - baseline).toBeLessThan(size / 4);
  });

  it('detects a corrupted artifact on read, reports it in verify, and repairs it on the next put', async () => {
    const root = await temporaryDirectory();
    const store = new FileArtifactStore({ root });
    const original = Buffer.from('x1,x2,y\n1,2,3\n4,5,6\n');
    const ref = await store.put(original, { type: 'dataset' });
    const path = fileURLToPath(ref.uri);

    // Same size, different bytes: only the digest can tell, at the end of the stream.
    await writeFile(path, original.toString().replace('6', '7'));
    const error = await rejectionOf(getBytes(store, ref));
    expect(error).toBeInstanceOf(MloeError);
    expect(error).toMatchObject({ code: 'ARTIFACT_CORRUPT', retryable: false });
    expect((error as MloeError).message).toContain(`expected ${ref.digest}`);
    expect(await store.verify(ref)).toBe('corrupt');
    expect(await store.verify(ref.uri)).toBe('corrupt');

    // A different size is caught before any byte is handed out when the reference says the size.
    await truncate(path, 3);
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    await expect(getBytes(store, ref.uri)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });

    expect(await store.put(original, { type: 'dataset' })).toEqual(ref);
    expect(await getBytes(store, ref)).toEqual(original);

    await unlink(path);
    expect(await store.exists(ref)).toBe(false);
    expect(await store.verify(ref)).toBe('missing');
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
  });

  it('refuses symbolic links and corrupt records at a blob or record location; put replaces them', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const ref = await store.put('real');
    const outside = join(await temporaryDirectory(), 'secret');
    await writeFile(outside, 'real');
    const path = fileURLToPath(ref.uri);
    await unlink(path);
    await symlink(outside, path);
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    expect((await lstat(path)).isSymbolicLink()).toBe(true);

    await store.put('real'); // replaces the link with the blob itself
    expect((await lstat(path)).isFile()).toBe(true);
    await unlink(`${path}.json`);
    await symlink(outside, `${path}.json`);
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await store.put('real'); // and the link at the record too
    expect((await lstat(`${path}.json`)).isFile()).toBe(true);
    expect(await readFile(outside, 'utf8')).toBe('real'); // the link's target was never written through

    await writeFile(`${path}.json`, '{"not": "a record"}');
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    expect(await store.put('real')).toMatchObject({ uri: ref.uri, type: 'file' });
    expect(await store.head(ref)).toMatchObject({ uri: ref.uri, type: 'file' });
  });

  it('lists artifacts by digest prefix, in digest order', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const refs = await Promise.all(Array.from({ length: 24 }, (_, i) => store.put(`artifact ${i}`)));
    const digests = refs.map((ref) => ref.digest).sort();
    expect((await listAll(store)).map((entry) => entry.digest)).toEqual(digests);

    const first = refs[0] as ArtifactRef;
    for (const length of [1, 2, 5, 64]) {
      const prefix = first.digest.slice(0, 'sha256:'.length + length);
      const listed = await listAll(store, prefix);
      expect(listed.map((entry) => entry.digest)).toEqual(digests.filter((digest) => digest.startsWith(prefix)));
    }
    expect(await listAll(store, hexOf(first))).toEqual([{ uri: first.uri, digest: first.digest, size: first.size }]);
    expect(await listAll(new FileArtifactStore({ root: join(await temporaryDirectory(), 'none') }))).toEqual([]);
  });

  it('passes an error of the stream being stored through unchanged and leaves nothing behind', async () => {
    const root = await temporaryDirectory();
    const store = new FileArtifactStore({ root });
    const upstream = new Error('upstream broke');
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(1024);
        throw upstream;
      })(),
    );
    expect(await rejectionOf(store.put(failing))).toBe(upstream); // not wrapped: it is not the store's failure
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    expect(await listAll(store)).toEqual([]);
  });
});

describe('validation of keys, paths and URIs', () => {
  let root: string;
  let store: FileArtifactStore;
  let ref: ArtifactRef;
  beforeAll(async () => {
    root = await temporaryDirectory();
    store = new FileArtifactStore({ root });
    ref = await store.put('hello');
  });

  it('rejects artifact URIs that are not exactly the store location of their digest', async () => {
    const hex = hexOf(ref);
    const shard = `${root}/sha256/${hex.slice(0, 2)}`;
    const elsewhere = await new FileArtifactStore({ root: await temporaryDirectory() }).put('hello');
    const bad: [string, string | Partial<ArtifactRef>][] = [
      ['dot-dot segments', `file://${shard}/../../../../../../etc/passwd`],
      ['dot-dot to the same blob', `file://${shard}/../${hex.slice(0, 2)}/${hex}`],
      ['encoded dot-dot', `file://${shard}/%2e%2e/%2E%2E/${hex}`],
      ['encoded slash', `file://${root}/sha256%2f${hex.slice(0, 2)}/${hex}`],
      ['single dot', `file://${shard}/./${hex}`],
      ['double slash', `file://${root}//sha256/${hex.slice(0, 2)}/${hex}`],
      ['NUL byte', `file://${shard}/${hex}\u0000.txt`],
      ['encoded NUL', `file://${shard}/${hex}%00`],
      ['backslash', `file://${shard}\\${hex}`],
      ['encoded backslash', `file://${shard}%5c${hex}`],
      ['malformed encoding', `file://${shard}/%zz${hex}`],
      ['host', `file://localhost${shard}/${hex}`],
      ['relative', `file:sha256/${hex.slice(0, 2)}/${hex}`],
      ['query', `${ref.uri}?x=1`],
      ['fragment', `${ref.uri}#x`],
      ['whitespace', `${ref.uri} `],
      ['another store', elsewhere.uri],
      ['wrong shard', `file://${root}/sha256/00/${hex}`],
      ['uppercase digest', `file://${shard}/${hex.toUpperCase()}`],
      ['record instead of blob', `${ref.uri}.json`],
      ['other scheme', `https://example.com/sha256/${hex.slice(0, 2)}/${hex}`],
      ['s3 URI', `s3://bucket/artifacts/sha256/${hex.slice(0, 2)}/${hex}`],
      ['not a URI', 'not a uri'],
      ['empty', ''],
      ['digest disagreeing with the URI', { ...ref, digest: `sha256:${'0'.repeat(64)}` }],
      ['digest with traversal', { ...ref, digest: '../../etc/passwd' }],
      ['negative size', { ...ref, size: -1 }],
      ['fractional size', { ...ref, size: 1.5 }],
    ];
    for (const [what, locator] of bad) {
      const full = typeof locator === 'string' ? locator : { ...ref, ...locator };
      for (const operation of [() => store.get(full), () => store.head(full), () => store.exists(full)]) {
        const error = await failureOf(operation);
        expect([what, error]).toEqual([what, expect.objectContaining({ code: 'PATH_INVALID' })]);
      }
    }
  });

  it('rejects bad roots, store URIs, bucket names, list prefixes and metadata', async () => {
    for (const badRoot of ['relative/root', `${root}/../escape`, `${root}/./x`, '', `${root}\\x`, `${root}\u0000`]) {
      expect(await failureOf(() => new FileArtifactStore({ root: badRoot }))).toMatchObject({ code: 'PATH_INVALID' });
      expect(await failureOf(() => FileArtifactStore.inWorkingDirectory(badRoot))).toMatchObject({
        code: 'PATH_INVALID',
      });
    }
    const badStoreUris = [
      'ftp://host/x',
      '/absolute/path/without/scheme',
      `file://${root}/../escape`,
      `file://${root}/%2e%2e`,
      's3://',
      's3://ab',
      `s3://${'a'.repeat(64)}`,
      's3://Upper-Case',
      's3://under_score',
      's3://-leading-hyphen',
      's3://trailing-hyphen-',
      's3://two..dots',
      's3://192.168.1.1',
      's3://xn--reserved',
      's3://bucket-s3alias',
      's3://bucket/../other-bucket',
      's3://bucket/a/../b',
      's3://bucket/a/./b',
      's3://bucket//a',
      's3://bucket/a%2f..%2fb',
      's3://bucket/a\\b',
      's3://bucket/a b',
      's3://bucket/a?versionId=1',
      's3://user@bucket/a',
      's3://bucket:9000/a',
    ];
    for (const uri of badStoreUris) {
      expect([uri, await failureOf(() => storeForUri(uri))]).toEqual([
        uri,
        expect.objectContaining({ code: 'PATH_INVALID' }),
      ]);
    }
    for (const prefix of ['sha256:XYZ', '../', 'sha256/ab', 'md5:ab', 'a'.repeat(65), 'ab\u0000']) {
      await expect(listAll(store, prefix)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    }
    const badMetadata: unknown[] = [{ 'bad key': 1 }, { '../x': 1 }, { '': 1 }, { big: 'x'.repeat(9000) }];
    for (const metadata of badMetadata) {
      await expect(store.put('x', { metadata: metadata as Record<string, string> })).rejects.toMatchObject({
        code: 'DATA_INVALID',
      });
    }
    await expect(store.put('x', { type: 'weights' as 'model' })).rejects.toMatchObject({ code: 'DATA_INVALID' });
    expect(() => parseArtifactRef({ ...ref, digest: ref.digest.toUpperCase() })).toThrow(MloeError);
    expect(() => parseArtifactRef({ ...ref, type: 'secret' })).toThrow(/type/);
    expect(parseArtifactRef({ ...ref, extra: 1 })).toEqual(ref);
  });

  it('validates S3 settings with zod, naming each problem', () => {
    const parsed = parseArtifactStoreConfig({ s3: { endpoint: 'http://127.0.0.1:9000' } });
    expect(parsed.s3).toMatchObject({
      region: 'us-east-1',
      forcePathStyle: true,
      partSizeBytes: 16 * MIB,
      queueSize: 4,
    });
    expect(parseS3StoreConfig({}).forcePathStyle).toBe(false);
    expect(s3ClientConfig(parsed.s3)).toMatchObject({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      forcePathStyle: true,
    });
    const invalid: [unknown, string][] = [
      [{ s3: { endpoint: 'ftp://host' } }, 'endpoint'],
      [{ s3: { partSizeBytes: 1024 } }, 'partSizeBytes'],
      [{ s3: { region: 'US EAST' } }, 'region'],
      [{ s3: { credentials: { accessKeyId: 'a' } } }, 'secretAccessKey'],
      [{ s3: { unknownOption: true } }, 'unknownOption'],
      [{ gcs: {} }, 'gcs'],
    ];
    for (const [config, problem] of invalid) {
      const error = (() => {
        try {
          parseArtifactStoreConfig(config);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((error as Error).message).toContain(problem);
    }
  });
});

describe('s3 store against s3rver', () => {
  const bucket = 'mloe-test';
  let server: S3TestServer;
  let store: S3ArtifactStore;
  /** A separate client for raw S3 access, to check and tamper with what the store wrote. */
  let raw: S3Client;
  /** Commands the store's client sent, by name. */
  const sent = new Map<string, number>();

  beforeAll(async () => {
    server = await startS3Server({ buckets: [bucket] });
    const config = { endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS, partSizeBytes: 5 * MIB };
    store = new S3ArtifactStore({ bucket, config });
    store.client.middlewareStack.add(
      (next, context) => (args) => {
        sent.set(context.commandName ?? '?', (sent.get(context.commandName ?? '?') ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    raw = new S3Client(s3ClientConfig(parseS3StoreConfig(config)));
  });

  afterAll(async () => {
    await store?.close();
    raw?.destroy();
    await server?.stop();
  });

  /** The sha256 of an object's bytes as S3 serves them, read without the store. */
  async function rawObjectHex(key: string): Promise<{ hex: string; size: number }> {
    const response = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return hashStream(response.Body as Readable);
  }

  function keyOf(ref: ArtifactRef): string {
    return ref.uri.slice(`s3://${bucket}/`.length);
  }

  it('keeps JSON records under <prefix>/records/<collection>/<name>.json', async () => {
    await checkRecords(store);
    const response = await raw.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'artifacts/records/runs/pipeline-demo-1.json' }),
    );
    expect(JSON.parse(await (response.Body as { transformToString(): Promise<string> }).transformToString())).toEqual({
      state: 'completed',
    });
  });

  it('round-trips a typed artifact: blob at artifacts/sha256/<ab>/<hex>, digest in object metadata, record beside', async () => {
    const bytes = Buffer.from('{"rmse":26.3,"r2":0.97}\n');
    const hex = sha256(bytes);
    const ref = await store.put(bytes, { type: 'metrics', metadata: { run: 'r1' } });
    expect(ref).toEqual({
      uri: `s3://${bucket}/artifacts/sha256/${hex.slice(0, 2)}/${hex}`,
      digest: `sha256:${hex}`,
      size: bytes.byteLength,
      type: 'metrics',
      metadata: { run: 'r1' },
      createdAt: ref.createdAt,
    });
    expect(Math.abs(Date.parse(ref.createdAt) - Date.now())).toBeLessThan(60_000);
    expect(await getBytes(store, ref)).toEqual(bytes);
    expect(await store.head(ref.uri)).toEqual(ref);
    expect(await store.exists(ref)).toBe(true);
    expect(await store.verify(ref)).toBe('intact');
    expect(await store.put(bytes, { type: 'metrics', metadata: { run: 'r1' } })).toEqual(ref);

    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(ref) }));
    expect(head.Metadata).toEqual({ sha256: hex });
    expect(await rawObjectHex(keyOf(ref))).toEqual({ hex, size: bytes.byteLength });
    const record = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `${keyOf(ref)}.json` }));
    expect(JSON.parse(await record.Body!.transformToString())).toMatchObject({ version: 1, type: 'metrics' });

    const viaUri = storeForUri(ref.uri, { s3: { endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS } });
    try {
      expect(await getBytes(viaUri, ref)).toEqual(bytes);
    } finally {
      await viaUri.close();
    }
  });

  it('streams a body below the part size into one object whose bytes hash to the digest (no chunk framing)', async () => {
    const source = generatedStream(3 * MIB + 17, 64 * 1024);
    const ref = await store.put(source.stream, { type: 'dataset' });
    expect(ref).toMatchObject({ digest: `sha256:${source.hex()}`, size: 3 * MIB + 17 });
    // Checked without the store: what S3 holds is exactly what was streamed.
    expect(await rawObjectHex(keyOf(ref))).toEqual({ hex: source.hex(), size: 3 * MIB + 17 });
    expect(await hashStream(await store.get(ref))).toEqual({ hex: source.hex(), size: 3 * MIB + 17 });
    const uploads = await raw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'artifacts/uploads/' }));
    expect(uploads.KeyCount).toBe(0); // the temporary upload was removed
  });

  it('uploads a 20 MB stream in 5 MB parts and reads it back verified', async () => {
    const size = 20 * MIB + 12345;
    const source = generatedStream(size, 256 * 1024);
    const partsBefore = sent.get('UploadPartCommand') ?? 0;
    const ref = await store.put(source.stream, { type: 'model' });
    expect(ref).toMatchObject({ digest: `sha256:${source.hex()}`, size });
    expect((sent.get('UploadPartCommand') ?? 0) - partsBefore).toBe(5); // 4 × 5 MiB and the rest
    expect(sent.get('CompleteMultipartUploadCommand')).toBeGreaterThanOrEqual(1);

    expect(await hashStream(await store.get(ref))).toEqual({ hex: source.hex(), size });
    expect(await rawObjectHex(keyOf(ref))).toEqual({ hex: source.hex(), size });
  });

  it('detects an object overwritten behind its back (raw PutObject), and repairs it on the next put', async () => {
    const original = randomBytes(64 * 1024);
    const ref = await store.put(original, { type: 'dataset' });
    const tampered = Buffer.from(original);
    tampered[1000] = (tampered[1000] ?? 0) ^ 0xff;
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(ref), Body: tampered }));

    const error = await rejectionOf(getBytes(store, ref));
    expect(error).toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    expect((error as Error).message).toContain(`expected ${ref.digest}`);
    expect(await store.verify(ref)).toBe('corrupt');

    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(ref), Body: tampered.subarray(0, 10) }));
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' }); // size known: before streaming
    await expect(getBytes(store, ref.uri)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });

    expect(await store.put(original, { type: 'dataset' })).toEqual(ref);
    expect(await getBytes(store, ref)).toEqual(original);
  });

  it('lists by digest prefix across pages', async () => {
    const listed = new S3ArtifactStore({ bucket, prefix: 'list-test', client: store.client });
    const refs = await Promise.all(Array.from({ length: 15 }, (_, i) => listed.put(`listed ${i}`)));
    const digests = refs.map((ref) => ref.digest).sort();

    const listsBefore = sent.get('ListObjectsV2Command') ?? 0;
    const all = await listAll(listed, undefined, 4);
    expect(all.map((entry) => entry.digest)).toEqual(digests);
    expect(all.every((entry) => entry.uri.startsWith(`s3://${bucket}/list-test/sha256/`))).toBe(true);
    // 15 blobs and 15 records in pages of 4: continuation tokens were followed.
    expect((sent.get('ListObjectsV2Command') ?? 0) - listsBefore).toBe(8);

    const first = refs[0] as ArtifactRef;
    for (const length of [1, 2, 3, 64]) {
      const prefix = first.digest.slice(0, 'sha256:'.length + length);
      const entries = await listAll(listed, prefix, 2);
      expect(entries.map((entry) => entry.digest)).toEqual(digests.filter((digest) => digest.startsWith(prefix)));
    }
    expect((await listAll(listed, hexOf(first)))[0]).toEqual({
      uri: first.uri,
      digest: first.digest,
      size: first.size,
    });
    // The default store's artifacts are not under this prefix.
    expect(digests).not.toContain((await listAll(store))[0]?.digest);
    await expect(listAll(listed, undefined, 0)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('reports missing artifacts, foreign URIs, missing buckets and stream errors as MloeErrors', async () => {
    const absent = `s3://${bucket}/artifacts/sha256/00/${'0'.repeat(64)}`;
    await expect(store.get(absent)).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    await expect(store.head(absent)).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    expect(await store.exists(absent)).toBe(false);
    expect(await store.verify(absent)).toBe('missing');

    const ref = await store.put('mine');
    for (const uri of [
      ref.uri.replace(bucket, 'other-bucket'),
      ref.uri.replace('/artifacts/', '/other/'),
      ref.uri.replace('/artifacts/', '/artifacts/../artifacts/'),
      pathToFileURL(`/artifacts/sha256/${hexOf(ref).slice(0, 2)}/${hexOf(ref)}`).href,
    ]) {
      await expect(store.get(uri)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    }

    const nowhere = new S3ArtifactStore({ bucket: 'no-such-bucket', client: store.client });
    const error = await rejectionOf(nowhere.put('x'));
    expect(error).toMatchObject({ code: 'ARTIFACT_STORE_FAILED', retryable: false });
    expect((error as Error).message).toContain('NoSuchBucket');

    const upstream = new Error('upstream broke');
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(1024);
        throw upstream;
      })(),
    );
    expect(await rejectionOf(store.put(failing))).toBe(upstream); // not wrapped: it is not the store's failure
    const uploads = await raw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'artifacts/uploads/' }));
    expect(uploads.KeyCount).toBe(0);
  });
});
