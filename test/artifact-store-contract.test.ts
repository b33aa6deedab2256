/**
 * The `ArtifactStore` contract (activities/artifacts/store.ts), one suite run against every store we have: the
 * `file://` store on a temporary directory and the `s3://` store on s3rver, a real S3-compatible server in a child
 * process reached over HTTP with the official AWS SDK. Nothing is mocked.
 *
 * Each backend hands the suite a fresh store per test and raw access to what that store wrote (the file system, or a
 * second S3 client), so stored bytes are checked with an independent sha256 and can be damaged behind the store's
 * back. Layouts, symbolic links, multipart uploads and client settings are implementation details: they are tested
 * in test/artifacts.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import {
  DeleteObjectCommand,
  GetObjectCommand,
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
  getText,
  parseS3StoreConfig,
  putJson,
  s3ClientConfig,
  storeForUri,
  type ArtifactEntry,
  type ArtifactLocator,
  type ArtifactRef,
  type ArtifactStore,
  type ArtifactStoreConfigInput,
  type PutOptions,
  type RecordCollection,
} from '../activities/artifacts';
import { MloeError } from '../core/errors';
import { S3RVER_CREDENTIALS, S3RVER_MAX_KEY_SEGMENT_BYTES, startS3Server, type S3TestServer } from './s3-server';
import { failureOf } from './support/rejection';
import { suiteTemporaryDirectories } from './temporary-directories';

const MIB = 1024 * 1024;

/** What a test may do to a store's storage without going through the store. */
interface RawAccess {
  /** The bytes stored for an artifact. */
  read(ref: ArtifactRef): Promise<Buffer>;
  /** Replaces an artifact's bytes, as another tool (or bit rot) would. */
  overwrite(ref: ArtifactRef, bytes: Uint8Array): Promise<void>;
  /** Deletes an artifact's bytes; its record stays. */
  remove(ref: ArtifactRef): Promise<void>;
  /** Replaces the record kept beside an artifact with `text`, or deletes it (`undefined`). */
  setSidecar(ref: ArtifactRef, text: string | undefined): Promise<void>;
  /** A token that changes whenever the store writes the record beside an artifact. */
  sidecarVersion(ref: ArtifactRef): Promise<string>;
  /** Stores `text` as a JSON record. */
  writeRecord(collection: RecordCollection, name: string, text: string): Promise<void>;
  /** Temporary files or uploads that puts left behind. */
  leftovers(): Promise<string[]>;
}

/** A store under test and raw access to its storage. */
interface Subject {
  store: ArtifactStore;
  raw: RawAccess;
}

/** One kind of store. */
interface Backend {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A new, empty store. */
  fresh(): Promise<Subject>;
  /** The settings `storeForUri` needs to open a store of this kind. */
  config(): ArtifactStoreConfigInput;
  /** A well-formed artifact URI of the other kind of store. */
  foreignUri(hex: string): string;
  /** Bytes a streamed put may buffer on purpose (S3 assembles parts in memory); the file store buffers none. */
  streamWindowBytes: number;
  /** The longest record name the backing storage can hold (the interface allows 250 characters). */
  longestRecordName: number;
}

const temporaryDirectory = suiteTemporaryDirectories('mloe-artifact-store-contract-');

function fileBackend(): Backend {
  return {
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    async fresh() {
      // The root does not exist yet: the store makes it on the first write.
      const root = join(await temporaryDirectory(), 'store');
      const store = new FileArtifactStore({ root });
      const blob = (ref: ArtifactRef) => fileURLToPath(ref.uri);
      const raw: RawAccess = {
        read: (ref) => readFile(blob(ref)),
        overwrite: (ref, bytes) => writeFile(blob(ref), bytes),
        remove: (ref) => unlink(blob(ref)),
        setSidecar: (ref, text) =>
          text === undefined ? unlink(`${blob(ref)}.json`) : writeFile(`${blob(ref)}.json`, text),
        async sidecarVersion(ref) {
          const stats = await lstat(`${blob(ref)}.json`);
          return `${stats.ino}/${stats.mtimeMs}/${stats.ctimeMs}`;
        },
        async writeRecord(collection, name, text) {
          const path = join(root, 'records', collection, `${name}.json`);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, text);
        },
        async leftovers() {
          try {
            return await readdir(join(root, 'tmp'));
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
            throw error;
          }
        },
      };
      return { store, raw };
    },
    config: () => ({}),
    foreignUri: (hex) => `s3://mloe-contract/artifacts/sha256/${hex.slice(0, 2)}/${hex}`,
    streamWindowBytes: 0,
    longestRecordName: 250, // `<name>.json` is then 255 bytes, the longest file name Linux allows
  };
}

function s3Backend(): Backend {
  const bucket = 'mloe-contract';
  const settings = () => ({
    endpoint: server.endpoint,
    credentials: S3RVER_CREDENTIALS,
    partSizeBytes: 5 * MIB,
    queueSize: 2,
  });
  let server: S3TestServer;
  /** The client the stores share, which logs the requests they send. */
  let client: S3Client;
  /** A second client, for raw access. */
  let raw: S3Client;
  /** `<command> <key>` of every request for a key the stores sent. */
  const sent: string[] = [];
  let stores = 0;

  return {
    async start() {
      server = await startS3Server({ buckets: [bucket] });
      client = new S3Client(s3ClientConfig(parseS3StoreConfig(settings())));
      client.middlewareStack.add(
        (next, context) => (args) => {
          const key = (args.input as { Key?: unknown }).Key;
          if (typeof key === 'string') sent.push(`${context.commandName ?? '?'} ${key}`);
          return next(args);
        },
        { step: 'initialize', name: 'logRequests' },
      );
      raw = new S3Client(s3ClientConfig(parseS3StoreConfig(settings())));
    },
    async stop() {
      client?.destroy();
      raw?.destroy();
      await server?.stop();
    },
    async fresh() {
      stores += 1;
      const prefix = `contract/store-${stores}`;
      const store = new S3ArtifactStore({ bucket, prefix, client, config: settings() });
      const key = (ref: ArtifactRef) => ref.uri.slice(`s3://${bucket}/`.length);
      const put = async (objectKey: string, body: Uint8Array | string) => {
        await raw.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: body }));
      };
      const access: RawAccess = {
        async read(ref) {
          const response = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key(ref) }));
          return Buffer.from(await response.Body!.transformToByteArray());
        },
        overwrite: (ref, bytes) => put(key(ref), bytes),
        async remove(ref) {
          await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(ref) }));
        },
        async setSidecar(ref, text) {
          if (text !== undefined) return put(`${key(ref)}.json`, text);
          await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${key(ref)}.json` }));
        },
        sidecarVersion: (ref) =>
          Promise.resolve(String(sent.filter((entry) => entry === `PutObjectCommand ${key(ref)}.json`).length)),
        writeRecord: (collection, name, text) => put(`${prefix}/records/${collection}/${name}.json`, text),
        async leftovers() {
          const listed = await raw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/uploads/` }));
          return (listed.Contents ?? []).map((object) => object.Key ?? '?');
        },
      };
      return { store, raw: access };
    },
    config: () => ({ s3: settings() }),
    foreignUri: (hex) => `file:///tmp/artifacts/sha256/${hex.slice(0, 2)}/${hex}`,
    // lib-storage fills one part while `queueSize` parts are in flight, and concatenates chunks into each.
    streamWindowBytes: 5 * MIB * (2 + 2),
    // S3 takes 250 (a key of at most 1,024 bytes); s3rver keeps the key's last segment in a file name.
    longestRecordName: S3RVER_MAX_KEY_SEGMENT_BYTES - '.json'.length,
  };
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function hexOf(ref: { digest: string }): string {
  return ref.digest.slice('sha256:'.length);
}

/** The code of an MloeError (or what else was thrown), for compact expectations. */
function codeOf(error: unknown): string {
  return error instanceof MloeError ? error.code : `not an MloeError: ${String(error)}`;
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

async function listAll(store: ArtifactStore, options: { prefix?: string; pageSize?: number } = {}) {
  const entries: ArtifactEntry[] = [];
  for await (const entry of store.list(options)) entries.push(entry);
  return entries;
}

async function recordNames(store: ArtifactStore, collection: RecordCollection): Promise<string[]> {
  const names: string[] = [];
  for await (const name of store.listRecords(collection)) names.push(name);
  return names;
}

/** Locators every store must refuse with PATH_INVALID, made from one of its artifacts. */
function badLocators(ref: ArtifactRef, elsewhere: ArtifactRef, foreign: string): [string, ArtifactLocator][] {
  const hex = hexOf(ref);
  const ab = hex.slice(0, 2);
  const root = ref.uri.slice(0, -`/sha256/${ab}/${hex}`.length);
  const shard = `${root}/sha256/${ab}`;
  return [
    ['dot-dot segments', `${shard}/../../../../../../etc/passwd`],
    ['dot-dot back to the same blob', `${shard}/../${ab}/${hex}`],
    ['dot segment', `${shard}/./${hex}`],
    ['encoded dot-dot', `${shard}/%2e%2E/${ab}/${hex}`],
    ['encoded slash', `${root}/sha256%2f${ab}/${hex}`],
    ['double slash', `${root}//sha256/${ab}/${hex}`],
    ['NUL byte', `${ref.uri}\u0000`],
    ['encoded NUL', `${ref.uri}%00`],
    ['control character', `${shard}/\u0007${hex}`],
    ['backslash', `${shard}\\${hex}`],
    ['encoded backslash', `${shard}%5c${hex}`],
    ['malformed percent-encoding', `${shard}/%zz${hex}`],
    ['query', `${ref.uri}?versionId=1`],
    ['fragment', `${ref.uri}#x`],
    ['trailing space', `${ref.uri} `],
    ['newline', `${ref.uri}\n`],
    ['user in the authority', ref.uri.replace('://', '://user@')],
    ['upper-case scheme', ref.uri.replace(/^[a-z0-9]+/, (scheme) => scheme.toUpperCase())],
    ['over-long URI', `${ref.uri}${'/x'.repeat(1100)}`],
    ['deep path in the store', `${root}/${'a/'.repeat(900)}sha256/${ab}/${hex}`],
    ['another store', elsewhere.uri],
    ['the other kind of store', foreign],
    ['wrong shard', `${root}/sha256/${ab === '00' ? '01' : '00'}/${hex}`],
    ['upper-case digest', `${shard}/${hex.toUpperCase()}`],
    ['short digest', `${shard}/${hex.slice(0, 63)}`],
    ['the record beside the blob', `${ref.uri}.json`],
    ['a directory of the store', shard],
    ['the root of the store', root],
    ['another scheme', `https://example.com/sha256/${ab}/${hex}`],
    ['not a URI', 'not a uri'],
    ['empty', ''],
    ['digest disagreeing with the URI', { ...ref, digest: `sha256:${'0'.repeat(64)}` }],
    ['digest with traversal', { ...ref, digest: '../../etc/passwd' }],
    ['digest of another algorithm', { ...ref, digest: `md5:${hex.slice(0, 32)}` }],
    ['negative size', { ...ref, size: -1 }],
    ['fractional size', { ...ref, size: 1.5 }],
    ['NaN size', { ...ref, size: Number.NaN }],
    ['size beyond 2^53', { ...ref, size: 2 ** 53 }],
  ];
}

/** Record names every store must refuse: traversal, separators, controls, whitespace, non-ASCII, over 250. */
const BAD_RECORD_NAMES = [
  '',
  '.',
  '..',
  '../escape',
  'a/b',
  '/absolute',
  'a\\b',
  'a\u0000b',
  'tab\tname',
  'with space',
  '.hidden',
  '-leading-dash',
  'a..b',
  'a%2fb',
  'naïve',
  'x'.repeat(251),
];

describe.each([
  ['file', fileBackend()],
  ['s3', s3Backend()],
])('the %s artifact store', (_scheme, backend) => {
  beforeAll(() => backend.start());
  afterAll(() => backend.stop());

  describe('put and read back', () => {
    it('stores bytes under their sha256 and returns a reference that reads them back verified', async () => {
      const { store, raw } = await backend.fresh();
      const bytes = Buffer.from('sqft,price_k\n1000,200\n');
      const hex = sha256(bytes);
      const before = Date.now();
      const ref = await store.put(bytes, { type: 'dataset', metadata: { source: 'housing.csv', rows: 1 } });
      const after = Date.now();

      expect(artifactRefSchema.parse(ref)).toEqual(ref);
      expect(ref).toEqual({
        uri: `${store.rootUri}/sha256/${hex.slice(0, 2)}/${hex}`,
        digest: `sha256:${hex}`,
        size: bytes.byteLength,
        type: 'dataset',
        metadata: { source: 'housing.csv', rows: 1 },
        createdAt: ref.createdAt,
      });
      expect(Date.parse(ref.createdAt)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(ref.createdAt)).toBeLessThanOrEqual(after);
      expect(await raw.read(ref)).toEqual(bytes);

      expect(await getBytes(store, ref)).toEqual(bytes);
      expect(await getBytes(store, ref.uri)).toEqual(bytes); // the URI alone carries the digest
      expect(await getBytes(store, { uri: ref.uri, digest: ref.digest })).toEqual(bytes);
      expect(await getBytes(store, { uri: ref.uri, size: ref.size })).toEqual(bytes);
      expect(await store.head(ref)).toEqual(ref);
      expect(await store.head(ref.uri)).toEqual(ref);
      expect(await store.exists(ref)).toBe(true);
      expect(await store.exists(ref.uri)).toBe(true);
      expect(await store.verify(ref)).toBe('intact');
      expect(await store.verify(ref.uri)).toBe('intact');
      expect(await raw.leftovers()).toEqual([]);
    });

    it('defaults to type file and no metadata', async () => {
      const { store } = await backend.fresh();
      const ref = await store.put('plain');
      expect(ref).toMatchObject({ type: 'file', metadata: {} });
      expect(await store.head(ref.uri)).toEqual(ref);
    });

    it('takes text as UTF-8, byte views by their window, and the empty artifact', async () => {
      const { store, raw } = await backend.fresh();
      const text = 'naïve 数据 🚀\n';
      const fromText = await store.put(text);
      expect(fromText).toMatchObject({ digest: `sha256:${sha256(Buffer.from(text, 'utf8'))}` });
      expect(fromText.size).toBe(Buffer.byteLength(text));
      expect(await getText(store, fromText)).toBe(text);

      const backing = randomBytes(4096);
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 1000); // not a Buffer, not at offset 0
      const fromView = await store.put(view);
      expect(fromView).toMatchObject({ digest: `sha256:${sha256(view)}`, size: 1000 });
      expect(await raw.read(fromView)).toEqual(Buffer.from(view));

      const empty = await store.put(Buffer.alloc(0));
      expect(empty).toMatchObject({ digest: `sha256:${sha256('')}`, size: 0 });
      expect(await raw.read(empty)).toEqual(Buffer.alloc(0));
      expect(await getBytes(store, empty)).toEqual(Buffer.alloc(0));
      expect(await store.verify(empty)).toBe('intact');
      expect(await store.put(Readable.from([]))).toEqual(empty);
      expect(await store.put('')).toEqual(empty);
    });

    it('takes streams of buffers or strings and async iterables, and stores exactly the bytes that flowed', async () => {
      const { store, raw } = await backend.fresh();
      const whole = Buffer.from('x1,x2,y\n1,2,3\n4,5,6\n');
      const buffered = await store.put(whole);
      const parts = [whole.subarray(0, 5), whole.subarray(5, 6), whole.subarray(6)];
      const bodies = [
        Readable.from(parts),
        Readable.from(parts.map((part) => part.toString('utf8'))),
        (async function* () {
          for (const part of parts) yield new Uint8Array(part);
        })(),
        (async function* () {
          yield 'x1,x2,y\n';
          yield whole.subarray(8);
        })(),
      ];
      for (const body of bodies) expect(await store.put(body)).toEqual(buffered);
      expect(await raw.read(buffered)).toEqual(whole);
      expect(await listAll(store)).toHaveLength(1);
      expect(await raw.leftovers()).toEqual([]);
    });

    it('streams a few MiB in one piece, byte for byte (S3 without aws-chunked framing inside the object)', async () => {
      const { store, raw } = await backend.fresh();
      const size = 3 * MIB + 17;
      const source = generatedStream(size, 64 * 1024);
      const ref = await store.put(source.stream, { type: 'dataset' });
      expect(ref).toMatchObject({ digest: `sha256:${source.hex()}`, size });
      // Checked without the store: what it holds is exactly what was streamed.
      const stored = await raw.read(ref);
      expect({ hex: sha256(stored), size: stored.byteLength }).toEqual({ hex: source.hex(), size });
      expect(await hashStream(await store.get(ref))).toEqual({ hex: source.hex(), size });
      expect(await raw.leftovers()).toEqual([]);
    });

    it('streams a large artifact in and out, hash-checked end to end, without holding it in memory', async () => {
      const { store, raw } = await backend.fresh();
      const size = 48 * MIB + 12_345;
      // Live Buffer memory (where the chunks are), measured after a full collection: garbage chunks do not count,
      // kept ones do. The second collection waits for the first one's sweeping of dead buffers, which runs in the
      // background and lags on a busy machine. The V8 heap is left out: other work in the jest worker makes it noisy.
      const gc = collector();
      const live = () => {
        gc();
        gc();
        return process.memoryUsage().arrayBuffers;
      };
      const baseline = live();
      let peak = baseline;
      let flowed = 0;
      let nextSample = 0;
      const sample = (bytes: number) => {
        flowed += bytes;
        if (flowed >= nextSample) {
          peak = Math.max(peak, live());
          nextSample = flowed + 12 * MIB;
        }
      };
      const source = generatedStream(size, 256 * 1024, sample);

      const ref = await store.put(source.stream, { type: 'model' });
      expect(ref).toMatchObject({ digest: `sha256:${source.hex()}`, size, type: 'model' });
      nextSample = flowed;
      expect(await hashStream(await store.get(ref), sample)).toEqual({ hex: source.hex(), size });
      // Holding the artifact anywhere would keep all of it alive; only the store's own window may be buffered.
      expect(peak - baseline).toBeLessThan(backend.streamWindowBytes + 8 * MIB);

      const stored = await raw.read(ref);
      expect({ hex: sha256(stored), size: stored.byteLength }).toEqual({ hex: source.hex(), size });
      expect(await store.verify(ref)).toBe('intact');
      expect(await raw.leftovers()).toEqual([]);
    }, 180_000); // a hang guard: 48 MiB through a hashing stream took over a minute on a heavily loaded machine

    it('passes an error of the stream being stored through unchanged and stores nothing', async () => {
      const { store, raw } = await backend.fresh();
      const upstream = new Error('upstream broke');
      const failing = Readable.from(
        (async function* () {
          yield Buffer.alloc(1024, 1);
          throw upstream;
        })(),
      );
      expect(await failureOf(() => store.put(failing))).toBe(upstream); // not wrapped: not the store's failure
      expect(await listAll(store)).toEqual([]);
      expect(await raw.leftovers()).toEqual([]);
    });

    it('refuses a stream of anything but bytes and strings with DATA_INVALID, storing nothing', async () => {
      const { store, raw } = await backend.fresh();
      const error = await failureOf(() => store.put(Readable.from([Buffer.from('a'), 42])));
      expect(codeOf(error)).toBe('DATA_INVALID');
      expect((error as Error).message).toContain('number');
      expect(await listAll(store)).toEqual([]);
      expect(await raw.leftovers()).toEqual([]);
    });

    it('reads small artifacts as text and as JSON checked against a schema', async () => {
      const { store } = await backend.fresh();
      const model = await putJson(store, { kind: 'linear', weights: [1, 2] }, { type: 'model' });
      expect(await putJson(store, { kind: 'linear', weights: [1, 2] }, { type: 'model' })).toEqual(model);
      const schema = z.object({ kind: z.string(), weights: z.array(z.number()) });
      expect(await getJson(store, model, schema, 'a model')).toEqual({ kind: 'linear', weights: [1, 2] });
      expect(await getText(store, model.uri)).toBe('{\n  "kind": "linear",\n  "weights": [\n    1,\n    2\n  ]\n}\n');

      const wrongShape = await failureOf(() => getJson(store, model, z.object({ rows: z.number() }), 'a dataset'));
      expect(codeOf(wrongShape)).toBe('DATA_INVALID');
      expect((wrongShape as Error).message).toContain('is not a dataset');
      const notJson = await store.put('a,b\n1,2\n');
      const parseError = await failureOf(() => getJson(store, notJson, schema, 'a model'));
      expect(codeOf(parseError)).toBe('DATA_INVALID');
      expect((parseError as Error).message).toContain('is not JSON (expected a model)');
      for (const value of [undefined, () => 1, 10n]) {
        expect(codeOf(await failureOf(() => putJson(store, value)))).toBe('DATA_INVALID');
      }
    });
  });

  describe('content addressing', () => {
    it('gives the same bytes the same URI and returns an identical reference without rewriting the record', async () => {
      const { store, raw } = await backend.fresh();
      const options: PutOptions = { type: 'metrics', metadata: { rmse: 1.5, tags: ['a'], nested: { k: [1, null] } } };
      const first = await store.put('{"rmse":1.5}\n', options);
      const version = await raw.sidecarVersion(first);
      // The same JSON metadata with its keys in another order, from a buffer and from a stream.
      const reordered: PutOptions = { metadata: { nested: { k: [1, null] }, tags: ['a'], rmse: 1.5 }, type: 'metrics' };
      expect(await store.put(Buffer.from('{"rmse":1.5}\n'), reordered)).toEqual(first);
      expect(await store.put(Readable.from([Buffer.from('{"rmse"'), Buffer.from(':1.5}\n')]), options)).toEqual(first);
      expect(await raw.sidecarVersion(first)).toBe(version);
      expect(await store.head(first)).toEqual(first);
      expect(await listAll(store)).toEqual([{ uri: first.uri, digest: first.digest, size: first.size }]);

      const other = await store.put('{"rmse":1.6}\n', options);
      expect(other.uri).not.toBe(first.uri);
      expect(await listAll(store)).toHaveLength(2);
    });

    it('replaces the record when the same bytes come with another type or metadata', async () => {
      const { store, raw } = await backend.fresh();
      const first = await store.put('bytes', { type: 'dataset', metadata: { rows: 1 } });
      const relabelled = await store.put('bytes', { type: 'report' });
      expect(relabelled).toMatchObject({ uri: first.uri, digest: first.digest, size: 5, type: 'report', metadata: {} });
      expect(await store.head(first.uri)).toEqual(relabelled);
      const annotated = await store.put('bytes', { type: 'report', metadata: { rows: 2 } });
      expect(annotated).toMatchObject({ uri: first.uri, type: 'report', metadata: { rows: 2 } });
      expect(await store.head(first)).toEqual(annotated);
      expect(await raw.read(first)).toEqual(Buffer.from('bytes'));
      expect(await listAll(store)).toHaveLength(1);
    });

    it('lets concurrent writers of the same content agree on one artifact', async () => {
      const { store, raw } = await backend.fresh();
      const bytes = randomBytes(256 * 1024);
      const options: PutOptions = { type: 'dataset', metadata: { source: 'concurrent' } };
      const refs = await Promise.all([
        ...Array.from({ length: 6 }, () => store.put(bytes, options)),
        ...Array.from({ length: 6 }, () =>
          store.put(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), options),
        ),
      ]);
      const { createdAt: _createdAt, ...shape } = refs[0]!;
      for (const ref of refs) expect(ref).toEqual({ ...shape, createdAt: ref.createdAt });
      expect(shape).toMatchObject({ digest: `sha256:${sha256(bytes)}`, size: bytes.byteLength });
      // The record one of them wrote is the one that stays; every later put returns it.
      const head = await store.head(shape.uri);
      expect(refs.map((ref) => ref.createdAt)).toContain(head.createdAt);
      expect(await store.put(bytes, options)).toEqual(head);
      expect(sha256(await raw.read(head))).toBe(sha256(bytes));
      expect(await store.verify(head)).toBe('intact');
      expect(await listAll(store)).toHaveLength(1);
      expect(await raw.leftovers()).toEqual([]);
    });

    it('keeps concurrent writers of different content apart', async () => {
      const { store } = await backend.fresh();
      const bodies = Array.from({ length: 12 }, (_, i) => `artifact ${i}\n`);
      const refs = await Promise.all(
        bodies.map((body, i) => (i % 2 ? store.put(body) : store.put(Readable.from([body])))),
      );
      expect(new Set(refs.map((ref) => ref.uri)).size).toBe(12);
      for (const [i, ref] of refs.entries()) expect(await getText(store, ref)).toBe(bodies[i]);
    });
  });

  describe('metadata and types', () => {
    it('keeps any JSON metadata up to 8 KiB and refuses bad types and metadata with DATA_INVALID', async () => {
      const { store, raw } = await backend.fresh();
      const metadata = {
        'source.file': 'housing.csv',
        'ns:key_1-x': 'naïve 🚀',
        rows: 1_000_000,
        ratio: 0.25,
        ok: true,
        none: null,
        list: [1, 'two', { three: [3] }],
      };
      const ref = await store.put('x', { type: 'report', metadata });
      expect(ref.metadata).toEqual(metadata);
      expect(await store.head(ref.uri)).toEqual(ref);
      const largest = { big: 'x'.repeat(8 * 1024 - '{"big":""}'.length) };
      expect((await store.put('y', { metadata: largest })).metadata).toEqual(largest);

      const bad: [string, PutOptions][] = [
        ['key with a space', { metadata: { 'bad key': 1 } }],
        ['key with traversal', { metadata: { '../x': 1 } }],
        ['empty key', { metadata: { '': 1 } }],
        ['over 8 KiB', { metadata: { big: 'x'.repeat(8 * 1024) } }],
        ['not JSON', { metadata: { when: new Date(0) as unknown as string } }],
        ['unknown type', { type: 'weights' as 'model' }],
      ];
      for (const [what, options] of bad) {
        const error = await failureOf(() => store.put('z', options));
        expect([what, codeOf(error)]).toEqual([what, 'DATA_INVALID']);
        expect((error as Error).message).toMatch(/invalid artifact type or metadata/);
      }
      expect(await store.exists(`${store.rootUri}/sha256/${sha256('z').slice(0, 2)}/${sha256('z')}`)).toBe(false);
      expect(await raw.leftovers()).toEqual([]);
    });
  });

  describe('missing and corrupt artifacts', () => {
    it('reports an absent artifact as ARTIFACT_NOT_FOUND, not existing, and missing', async () => {
      const { store } = await backend.fresh();
      const hex = sha256('never stored');
      const uri = `${store.rootUri}/sha256/${hex.slice(0, 2)}/${hex}`;
      for (const locator of [uri, { uri, digest: `sha256:${hex}`, size: 12 }]) {
        const error = await failureOf(() => store.get(locator));
        expect(codeOf(error)).toBe('ARTIFACT_NOT_FOUND');
        expect((error as Error).message).toContain(uri);
        expect(codeOf(await failureOf(() => store.head(locator)))).toBe('ARTIFACT_NOT_FOUND');
        expect(await store.exists(locator)).toBe(false);
        expect(await store.verify(locator)).toBe('missing');
      }
    });

    it('fails the read at its end when the bytes changed but not their size, and a put repairs them', async () => {
      const { store, raw } = await backend.fresh();
      const original = randomBytes(64 * 1024);
      const ref = await store.put(original, { type: 'dataset' });
      const tampered = Buffer.from(original);
      tampered[1000] = (tampered[1000] ?? 0) ^ 0xff;
      await raw.overwrite(ref, tampered);

      for (const locator of [ref, ref.uri]) {
        const stream = await store.get(locator); // the size is right: only the digest can tell, at the end
        const error = await failureOf(() => hashStream(stream));
        expect(error).toBeInstanceOf(MloeError);
        expect(error).toMatchObject({ code: 'ARTIFACT_CORRUPT', retryable: false });
        expect((error as Error).message).toContain(`expected ${ref.digest}`);
        expect((error as Error).message).toContain(`sha256:${sha256(tampered)}`);
        expect(await store.verify(locator)).toBe('corrupt');
      }
      expect(await store.exists(ref)).toBe(true); // exists does not read the bytes

      expect(await store.put(original, { type: 'dataset' })).toEqual(ref);
      expect(await raw.read(ref)).toEqual(original);
      expect(await store.verify(ref)).toBe('intact');
    });

    it('refuses a known wrong size before handing out a byte, and a put repairs it', async () => {
      const { store, raw } = await backend.fresh();
      const original = Buffer.from('x1,x2,y\n1,2,3\n4,5,6\n');
      const ref = await store.put(original, { type: 'dataset' });
      for (const wrong of [original.subarray(0, 3), Buffer.concat([original, Buffer.from('7,8,9\n')])]) {
        await raw.overwrite(ref, wrong);
        // The reference says the size: get itself rejects.
        const early = await failureOf(() => store.get(ref));
        expect(codeOf(early)).toBe('ARTIFACT_CORRUPT');
        expect((early as Error).message).toContain(`expected ${ref.size} bytes, found ${wrong.byteLength}`);
        expect(codeOf(await failureOf(() => store.head(ref)))).toBe('ARTIFACT_CORRUPT');
        // The URI alone: the record's size disagrees for head; the read fails at its end.
        expect(codeOf(await failureOf(() => store.head(ref.uri)))).toBe('ARTIFACT_CORRUPT');
        expect(codeOf(await failureOf(() => getBytes(store, ref.uri)))).toBe('ARTIFACT_CORRUPT');
        expect(await store.verify(ref)).toBe('corrupt');
        expect(await store.verify(ref.uri)).toBe('corrupt');
      }
      expect(await store.put(original, { type: 'dataset' })).toEqual(ref);
      expect(await getBytes(store, ref)).toEqual(original);
    });

    it('notices a deleted blob whose record stays, and a put restores it', async () => {
      const { store, raw } = await backend.fresh();
      const ref = await store.put('gone soon', { type: 'report' });
      await raw.remove(ref);
      expect(await store.exists(ref)).toBe(false);
      expect(await store.verify(ref)).toBe('missing');
      expect(codeOf(await failureOf(() => store.get(ref)))).toBe('ARTIFACT_NOT_FOUND');
      expect(codeOf(await failureOf(() => store.head(ref)))).toBe('ARTIFACT_NOT_FOUND');
      expect(await listAll(store)).toEqual([]);
      expect(await store.put('gone soon', { type: 'report' })).toEqual(ref);
      expect(await getText(store, ref)).toBe('gone soon');
    });

    it('describes a blob without a record as a plain file, refuses a damaged record, and a put rewrites it', async () => {
      const { store, raw } = await backend.fresh();
      const ref = await store.put('described', { type: 'metrics', metadata: { a: 1 } });
      await raw.setSidecar(ref, undefined);
      const plain = await store.head(ref);
      expect(plain).toEqual({ ...ref, type: 'file', metadata: {}, createdAt: plain.createdAt });
      expect(artifactRefSchema.parse(plain)).toEqual(plain);
      expect(await getText(store, ref)).toBe('described');

      const otherHex = sha256('something else');
      const damaged: [string, string][] = [
        ['not JSON', '{"version":'],
        ['not a record', '{"not": "a record"}'],
        [
          'the record of other bytes',
          JSON.stringify({ ...ref, uri: undefined, version: 1, digest: `sha256:${otherHex}` }),
        ],
        ['a record of another size', JSON.stringify({ ...ref, uri: undefined, version: 1, size: 3 })],
      ];
      for (const [what, text] of damaged) {
        await raw.setSidecar(ref, text);
        expect([what, codeOf(await failureOf(() => store.head(ref.uri)))]).toEqual([what, 'ARTIFACT_CORRUPT']);
        expect(await getText(store, ref)).toBe('described'); // the bytes are still good
        expect(await store.put('described', { type: 'metrics', metadata: { a: 1 } })).toMatchObject({
          uri: ref.uri,
          type: 'metrics',
          metadata: { a: 1 },
        });
        expect(await store.head(ref.uri)).toMatchObject({ type: 'metrics', metadata: { a: 1 } });
      }
    });
  });

  describe('listing', () => {
    it('lists nothing in an empty store', async () => {
      const { store } = await backend.fresh();
      expect(await listAll(store)).toEqual([]);
      expect(await listAll(store, { prefix: 'sha256:ab' })).toEqual([]);
    });

    it('lists its own artifacts in digest order, by digest prefix, the same at every page size', async () => {
      const { store } = await backend.fresh();
      const { store: neighbour } = await backend.fresh();
      await neighbour.put('not listed');
      const refs = await Promise.all(Array.from({ length: 12 }, (_, i) => store.put(`artifact ${i}`)));
      await store.putRecord('runs', 'not-an-artifact', {});
      const entries = refs
        .map((ref) => ({ uri: ref.uri, digest: ref.digest, size: ref.size }))
        .sort((a, b) => (a.digest < b.digest ? -1 : 1));
      for (const pageSize of [undefined, 1, 3, 1000]) {
        expect(await listAll(store, pageSize === undefined ? {} : { pageSize })).toEqual(entries);
      }
      const first = refs[0]!;
      for (const length of [0, 1, 2, 3, 5, 64]) {
        const prefix = first.digest.slice(0, 'sha256:'.length + length);
        const expected = entries.filter((entry) => entry.digest.startsWith(prefix));
        expect(await listAll(store, { prefix })).toEqual(expected);
        expect(await listAll(store, { prefix: prefix.slice('sha256:'.length), pageSize: 2 })).toEqual(expected);
      }
    });

    it('refuses bad digest prefixes with PATH_INVALID and bad page sizes with CONFIG_INVALID', async () => {
      const { store } = await backend.fresh();
      await store.put('listed');
      for (const prefix of ['sha256:XYZ', '../', 'sha256/ab', 'md5:ab', 'a'.repeat(65), 'ab\u0000', 'AB', ' ab']) {
        const error = await failureOf(() => listAll(store, { prefix }));
        expect([prefix, codeOf(error)]).toEqual([prefix, 'PATH_INVALID']);
        expect((error as Error).message).toContain(JSON.stringify(prefix));
      }
      for (const pageSize of [0, -1, 1.5, 1001, Number.NaN]) {
        const error = await failureOf(() => listAll(store, { pageSize }));
        expect([pageSize, codeOf(error)]).toEqual([pageSize, 'CONFIG_INVALID']);
        expect((error as Error).message).toContain('page size');
      }
    });
  });

  describe('records', () => {
    it('writes, replaces and reads back JSON records; an absent one is undefined', async () => {
      const { store } = await backend.fresh();
      expect(await store.getRecord('runs', 'pipeline-demo-1')).toBeUndefined();
      await store.putRecord('runs', 'pipeline-demo-1', { state: 'running', steps: [1, 2], note: 'x'.repeat(4000) });
      await store.putRecord('runs', 'pipeline-demo-1', { state: 'completed' }); // shorter: nothing of the old left
      expect(await store.getRecord('runs', 'pipeline-demo-1')).toEqual({ state: 'completed' });
      await store.putRecord('runs', 'pipeline-demo-1', { state: 'archived' }, { sync: false });
      expect(await store.getRecord('runs', 'pipeline-demo-1')).toEqual({ state: 'archived' });
      const values: unknown[] = [null, 0, 'text', [1, { a: 'naïve 🚀' }], { nested: { deep: [true, false] } }];
      for (const [i, value] of values.entries()) {
        await store.putRecord('cache', `value-${i}`, value);
        expect(await store.getRecord('cache', `value-${i}`)).toEqual(value);
      }
      // Collections are separate.
      expect(await store.getRecord('steps', 'pipeline-demo-1')).toBeUndefined();
      expect(await store.getRecord('cache', 'pipeline-demo-1')).toBeUndefined();
    });

    it('lists a collection’s record names in name order, and records are not artifacts', async () => {
      const { store } = await backend.fresh();
      expect(await recordNames(store, 'runs')).toEqual([]);
      const names = ['b', 'a-b', 'a', 'a.b', 'a_b', 'A', '0', 'a0', 'a.json', 'run.2024-01-01'];
      for (const name of names) await store.putRecord('runs', name, { name });
      await store.putRecord('steps', 'other-collection', {});
      expect(await recordNames(store, 'runs')).toEqual([...names].sort());
      expect(await recordNames(store, 'steps')).toEqual(['other-collection']);
      expect(await recordNames(store, 'cache')).toEqual([]);
      expect(await listAll(store)).toEqual([]);
    });

    it('leaves exactly one whole value when writers race on a record', async () => {
      const { store } = await backend.fresh();
      // Equal lengths, so a torn write could only show as a mix of two values.
      const values = Array.from({ length: 10 }, (_, i) => ({ writer: i, payload: String(i).repeat(20_000) }));
      await Promise.all(values.map((value) => store.putRecord('cache', 'contended', value)));
      expect(values).toContainEqual(await store.getRecord('cache', 'contended'));
      expect(await recordNames(store, 'cache')).toEqual(['contended']);
    });

    it('refuses unsafe record names and unknown collections with PATH_INVALID, naming them', async () => {
      const { store } = await backend.fresh();
      const longest = 'x'.repeat(backend.longestRecordName);
      await store.putRecord('steps', longest, { ok: true });
      expect(await store.getRecord('steps', longest)).toEqual({ ok: true });
      for (const name of BAD_RECORD_NAMES) {
        for (const operation of [() => store.putRecord('runs', name, {}), () => store.getRecord('runs', name)]) {
          const error = await failureOf(operation);
          expect([name, codeOf(error)]).toEqual([name, 'PATH_INVALID']);
          expect((error as Error).message).toContain(`invalid record name ${JSON.stringify(name)}`);
        }
      }
      for (const collection of ['secrets', '../runs', 'runs/x', '']) {
        const unknown = collection as RecordCollection;
        for (const operation of [
          () => store.putRecord(unknown, 'x', {}),
          () => store.getRecord(unknown, 'x'),
          () => recordNames(store, unknown),
        ]) {
          const error = await failureOf(operation);
          expect([collection, codeOf(error)]).toEqual([collection, 'PATH_INVALID']);
          expect((error as Error).message).toContain(`unknown record collection ${JSON.stringify(collection)}`);
        }
      }
      expect(await recordNames(store, 'runs')).toEqual([]);
    });

    it('refuses a value that is not JSON with DATA_INVALID, keeping the previous record', async () => {
      const { store } = await backend.fresh();
      await store.putRecord('runs', 'kept', { state: 'running' });
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const value of [undefined, () => 1, Symbol('s'), 10n, circular]) {
        const error = await failureOf(() => store.putRecord('runs', 'kept', value));
        expect([typeof value, codeOf(error)]).toEqual([typeof value, 'DATA_INVALID']);
      }
      expect(await store.getRecord('runs', 'kept')).toEqual({ state: 'running' });
    });

    it('reports a record that is not JSON as ARTIFACT_CORRUPT', async () => {
      const { store, raw } = await backend.fresh();
      await raw.writeRecord('runs', 'broken', '{"state":');
      const error = await failureOf(() => store.getRecord('runs', 'broken'));
      expect(codeOf(error)).toBe('ARTIFACT_CORRUPT');
      expect((error as Error).message).toContain('broken');
      expect(await recordNames(store, 'runs')).toEqual(['broken']);
      await store.putRecord('runs', 'broken', { state: 'fixed' });
      expect(await store.getRecord('runs', 'broken')).toEqual({ state: 'fixed' });
    });
  });

  describe('locators', () => {
    it('refuses every URI or reference that is not exactly where the store keeps its digest', async () => {
      const { store } = await backend.fresh();
      const { store: other } = await backend.fresh();
      const ref = await store.put('hello');
      const elsewhere = await other.put('hello');
      for (const [what, locator] of badLocators(ref, elsewhere, backend.foreignUri(hexOf(ref)))) {
        for (const operation of [
          () => store.get(locator),
          () => store.head(locator),
          () => store.exists(locator),
          () => store.verify(locator),
        ]) {
          const error = await failureOf(operation);
          expect([what, codeOf(error)]).toEqual([what, 'PATH_INVALID']);
          // The message names what was given (a URI too long to repeat is called that).
          const message = (error as Error).message;
          const named =
            typeof locator === 'string'
              ? message.includes(JSON.stringify(locator).slice(1, -1)) || /^URI is too long/.test(message)
              : message.includes(String(locator.digest)) || message.includes(`got ${String(locator.size)}`);
          expect([what, message, named]).toEqual([what, message, true]);
        }
      }
      expect(await getText(store, ref)).toBe('hello'); // nothing above disturbed the artifact
    });
  });

  describe('store URIs and lifetime', () => {
    it('is found again by storeForUri from its root URI or from any of its artifact URIs', async () => {
      const { store } = await backend.fresh();
      const ref = await store.put('found again', { type: 'report' });
      for (const uri of [store.rootUri, ref.uri]) {
        const same = storeForUri(uri, backend.config());
        try {
          expect(same.rootUri).toBe(store.rootUri);
          expect(await same.head(ref)).toEqual(ref);
          expect(await getText(same, ref)).toBe('found again');
        } finally {
          await same.close();
        }
      }
    });

    it('closes, more than once', async () => {
      const { store } = await backend.fresh();
      const opened = storeForUri(store.rootUri, backend.config());
      await opened.put('before closing');
      await expect(opened.close()).resolves.toBeUndefined();
      await expect(opened.close()).resolves.toBeUndefined();
    });
  });
});
