/**
 * What the artifact stores do beyond the `ArtifactStore` contract (which test/artifact-store-contract.test.ts runs
 * against both): where the file store puts things on disk and how it treats symbolic links and concurrent readers,
 * how the S3 store lays out objects, uploads in parts, pages listings and shares clients, and the validation of roots,
 * store URIs, references and S3 settings. The S3 store runs against s3rver over real HTTP; nothing is mocked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, readFile, readdir, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import {
  FileArtifactStore,
  S3ArtifactStore,
  getBytes,
  parseArtifactRef,
  parseArtifactStoreConfig,
  s3ClientConfig,
  parseS3StoreConfig,
  storeForUri,
  type ArtifactRef,
} from '../activities/artifacts';
import { MloeError } from '../core/errors';
import { S3RVER_CREDENTIALS, S3RVER_MAX_KEY_SEGMENT_BYTES, startS3Server, type S3TestServer } from './s3-server';
import { failureOf } from './support/rejection';
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

describe('file store', () => {
  it('keeps a blob at <root>/sha256/<ab>/<hex> with its record beside it, and records under <root>/records', async () => {
    const root = await temporaryDirectory();
    const store = new FileArtifactStore({ root });
    const bytes = Buffer.from('sqft,price_k\n1000,200\n');
    const hex = sha256(bytes);
    const ref = await store.put(bytes, { type: 'dataset', metadata: { rows: 1 } });
    const path = join(root, 'sha256', hex.slice(0, 2), hex);
    expect(ref.uri).toBe(pathToFileURL(path).href);
    expect(store.rootUri).toBe(pathToFileURL(root).href);
    expect(store.pathOf(ref.digest)).toBe(path);
    expect(await readFile(path)).toEqual(bytes);
    expect(JSON.parse(await readFile(`${path}.json`, 'utf8'))).toEqual({
      version: 1,
      digest: ref.digest,
      size: bytes.byteLength,
      type: 'dataset',
      metadata: { rows: 1 },
      createdAt: ref.createdAt,
    });

    await store.putRecord('runs', 'pipeline-demo-1', { state: 'completed' });
    const onDisk = JSON.parse(await readFile(join(root, 'records', 'runs', 'pipeline-demo-1.json'), 'utf8')) as unknown;
    expect(onDisk).toEqual({ state: 'completed' });
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('never shows a reader a partly written record (write to tmp/, then rename)', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const values = Array.from({ length: 8 }, (_, i) => ({ writer: i, payload: 'x'.repeat(64 * 1024 + i * 997) }));
    await store.putRecord('cache', 'contended', values[0]);
    const reads: unknown[] = [];
    await Promise.all([
      ...values.map((value) => store.putRecord('cache', 'contended', value, { sync: false })),
      ...Array.from({ length: 40 }, async () => reads.push(await store.getRecord('cache', 'contended'))),
    ]);
    expect(reads).toHaveLength(40);
    for (const read of reads) expect(values).toContainEqual(read);
  });

  it('defaults to .mloe/artifacts in the working directory', async () => {
    const directory = await temporaryDirectory();
    expect(FileArtifactStore.inWorkingDirectory(directory).root).toBe(join(directory, '.mloe', 'artifacts'));
    expect(FileArtifactStore.inWorkingDirectory().root).toBe(join(process.cwd(), '.mloe', 'artifacts'));
  });

  it('refuses symbolic links at a blob or record location, never writing through them; put replaces them', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const ref = await store.put('real');
    const outside = join(await temporaryDirectory(), 'secret');
    await writeFile(outside, 'real');
    const path = fileURLToPath(ref.uri);
    await unlink(path);
    await symlink(outside, path);
    await expect(store.get(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await expect(store.verify(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    expect(await store.exists(ref)).toBe(false); // not a regular file
    expect((await lstat(path)).isSymbolicLink()).toBe(true);

    await store.put('real'); // replaces the link with the blob itself
    expect((await lstat(path)).isFile()).toBe(true);
    await unlink(`${path}.json`);
    await symlink(outside, `${path}.json`);
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'PATH_INVALID' });
    await store.put('real'); // and the link at the record too
    expect((await lstat(`${path}.json`)).isFile()).toBe(true);
    expect(await readFile(outside, 'utf8')).toBe('real'); // the link's target was never written through
    expect(await store.head(ref)).toMatchObject({ uri: ref.uri, type: 'file' });

    await store.putRecord('runs', 'linked', { mine: true });
    const record = join(store.root, 'records', 'runs', 'linked.json');
    await unlink(record);
    await symlink(outside, record);
    await expect(store.getRecord('runs', 'linked')).rejects.toMatchObject({ code: 'PATH_INVALID' });
  });

  it('takes only file:///absolute URIs: no host, no relative path', async () => {
    const root = await temporaryDirectory();
    const store = new FileArtifactStore({ root });
    const ref = await store.put('hello');
    const hex = hexOf(ref);
    for (const uri of [
      `file://localhost${fileURLToPath(ref.uri)}`,
      `file:${fileURLToPath(ref.uri)}`,
      `file:sha256/${hex.slice(0, 2)}/${hex}`,
      fileURLToPath(ref.uri),
    ]) {
      expect([uri, await failureOf(() => store.get(uri))]).toEqual([
        uri,
        expect.objectContaining({ code: 'PATH_INVALID' }),
      ]);
    }
  });

  it('refuses roots that are not absolute, clean paths', async () => {
    const root = await temporaryDirectory();
    for (const badRoot of ['relative/root', `${root}/../escape`, `${root}/./x`, '', `${root}\\x`, `${root}\u0000`]) {
      expect(await failureOf(() => new FileArtifactStore({ root: badRoot }))).toMatchObject({ code: 'PATH_INVALID' });
      expect(await failureOf(() => FileArtifactStore.inWorkingDirectory(badRoot))).toMatchObject({
        code: 'PATH_INVALID',
      });
    }
  });
});

describe('store URIs, references and settings', () => {
  it('refuses store URIs of other schemes, traversal and bucket names AWS would not accept', async () => {
    const root = await temporaryDirectory();
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
    expect(storeForUri('s3://bucket').rootUri).toBe('s3://bucket/artifacts');
    expect(storeForUri('s3://bucket/team-a/').rootUri).toBe('s3://bucket/team-a');
  });

  it('parses references from outside the type system', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const ref = await store.put('hello');
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
  /** A separate client for raw S3 access, to check what the store wrote. */
  let raw: S3Client;
  /** `<command> <key>` of every request the store's client sent. */
  const sent: string[] = [];
  /** How many requests the store sent whose `<command> <key>` starts with `prefix`. */
  const count = (prefix: string) => sent.filter((entry) => entry.startsWith(prefix)).length;

  beforeAll(async () => {
    server = await startS3Server({ buckets: [bucket] });
    const config = { endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS, partSizeBytes: 5 * MIB };
    store = new S3ArtifactStore({ bucket, config });
    store.client.middlewareStack.add(
      (next, context) => (args) => {
        const key = (args.input as { Key?: unknown }).Key;
        sent.push(`${context.commandName ?? '?'} ${typeof key === 'string' ? key : ''}`);
        return next(args);
      },
      { step: 'initialize', name: 'logCommands' },
    );
    raw = new S3Client(s3ClientConfig(parseS3StoreConfig(config)));
  });

  afterAll(async () => {
    await store?.close();
    raw?.destroy();
    await server?.stop();
  });

  function keyOf(ref: ArtifactRef): string {
    return ref.uri.slice(`s3://${bucket}/`.length);
  }

  it('keeps a blob at artifacts/sha256/<ab>/<hex> with its digest in x-amz-meta-sha256 and its record beside it', async () => {
    const bytes = Buffer.from('{"rmse":26.3,"r2":0.97}\n');
    const hex = sha256(bytes);
    const ref = await store.put(bytes, { type: 'metrics', metadata: { run: 'r1' } });
    expect(store.rootUri).toBe(`s3://${bucket}/artifacts`);
    expect(ref.uri).toBe(`s3://${bucket}/artifacts/sha256/${hex.slice(0, 2)}/${hex}`);
    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(ref) }));
    expect(head.Metadata).toEqual({ sha256: hex });
    expect(head.ContentType).toBe('application/octet-stream');
    const record = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `${keyOf(ref)}.json` }));
    expect(JSON.parse(await record.Body!.transformToString())).toEqual({
      version: 1,
      digest: ref.digest,
      size: bytes.byteLength,
      type: 'metrics',
      metadata: { run: 'r1' },
      createdAt: ref.createdAt,
    });

    await store.putRecord('runs', 'pipeline-demo-1', { state: 'completed' });
    const response = await raw.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'artifacts/records/runs/pipeline-demo-1.json' }),
    );
    expect(JSON.parse(await response.Body!.transformToString())).toEqual({ state: 'completed' });
  });

  it('does not upload bytes it already holds: a buffer is skipped, a stream is not copied again', async () => {
    const bytes = randomBytes(32 * 1024);
    const ref = await store.put(bytes);
    const key = keyOf(ref);
    const before = sent.length;
    expect(await store.put(bytes)).toEqual(ref);
    expect(await store.put(Readable.from([bytes]))).toEqual(ref);
    const since = sent.slice(before);
    expect(since.filter((entry) => entry === `PutObjectCommand ${key}`)).toEqual([]);
    expect(since.filter((entry) => entry.startsWith('CopyObjectCommand'))).toEqual([]);
    expect(since.filter((entry) => entry === `PutObjectCommand ${key}.json`)).toEqual([]);
    // The stream went to a temporary upload (it could not be hashed before), which is gone.
    expect(since.filter((entry) => entry.startsWith('PutObjectCommand artifacts/uploads/'))).toHaveLength(1);
    expect(since.filter((entry) => entry.startsWith('DeleteObjectCommand artifacts/uploads/'))).toHaveLength(1);
  });

  it('uploads a stream above the part size in parts, then copies it to its key', async () => {
    const size = 10 * MIB + 1;
    const bytes = randomBytes(size);
    const partsBefore = count('UploadPartCommand ');
    const completedBefore = count('CompleteMultipartUploadCommand ');
    const ref = await store.put(Readable.from([bytes.subarray(0, 3 * MIB), bytes.subarray(3 * MIB)]));
    expect(ref).toMatchObject({ digest: `sha256:${sha256(bytes)}`, size });
    expect(count('UploadPartCommand ') - partsBefore).toBe(3); // 2 × 5 MiB and 1 byte
    expect(count('CompleteMultipartUploadCommand ') - completedBefore).toBe(1);
    expect(count(`CopyObjectCommand ${keyOf(ref)}`)).toBe(1);
    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(ref) }));
    expect(head).toMatchObject({ ContentLength: size, Metadata: { sha256: sha256(bytes) } });
    const uploads = await raw.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'artifacts/uploads/' }));
    expect(uploads.KeyCount).toBe(0);
  });

  it('follows continuation tokens when it lists in pages', async () => {
    const listed = new S3ArtifactStore({ bucket, prefix: 'list-test', client: store.client });
    await Promise.all(Array.from({ length: 15 }, (_, i) => listed.put(`listed ${i}`)));
    const listsBefore = count('ListObjectsV2Command ');
    const entries = [];
    for await (const entry of listed.list({ pageSize: 4 })) entries.push(entry);
    expect(entries).toHaveLength(15);
    // 15 blobs and 15 records in pages of 4.
    expect(count('ListObjectsV2Command ') - listsBefore).toBe(8);
  });

  it('holds artifacts and records under the longest prefix it accepts, and refuses a longer one', async () => {
    // The limit leaves room for the longest key a store makes (a record of 250 characters) within S3's 1,024 bytes.
    // Key segments of s3rver are file names: keep each short.
    const tooLong = Array.from({ length: 4 }, (_, i) => `${i}`.repeat(188)).join('/');
    expect(Buffer.byteLength(tooLong)).toBe(755);
    const error = await failureOf(() => new S3ArtifactStore({ bucket, prefix: tooLong, client: store.client }));
    expect(error).toMatchObject({ code: 'PATH_INVALID' });
    expect((error as Error).message).toContain('is too long (755 bytes, at most 754)');
    const deep = new S3ArtifactStore({ bucket, prefix: tooLong.slice(1), client: store.client });
    const ref = await deep.put('deep');
    expect(await getBytes(deep, ref.uri)).toEqual(Buffer.from('deep'));
    expect(await deep.head(ref.uri)).toEqual(ref);
    const name = 'n'.repeat(S3RVER_MAX_KEY_SEGMENT_BYTES - '.json'.length);
    await deep.putRecord('cache', name, { deep: true });
    expect(await deep.getRecord('cache', name)).toEqual({ deep: true });
  });

  it('reports a missing bucket as a non-retryable ARTIFACT_STORE_FAILED naming it', async () => {
    const nowhere = new S3ArtifactStore({ bucket: 'no-such-bucket', client: store.client });
    const error = await failureOf(() => nowhere.put('x'));
    expect(error).toMatchObject({ code: 'ARTIFACT_STORE_FAILED', retryable: false });
    expect((error as Error).message).toContain('NoSuchBucket');
  });

  it('leaves a shared client open when it closes', async () => {
    const sharing = new S3ArtifactStore({ bucket, prefix: 'sharing', client: store.client });
    await sharing.close();
    const ref = await store.put('still open');
    expect(await getBytes(store, ref)).toEqual(Buffer.from('still open'));
  });
});
