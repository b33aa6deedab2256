/**
 * An S3-compatible server for tests: s3rver 3.7.1 in a child process on a free port of 127.0.0.1, with a fresh data
 * directory. It runs under `node --openssl-legacy-provider` because s3rver encrypts list continuation tokens with DES,
 * which OpenSSL 3 only offers through the legacy provider (without it every truncated ListObjectsV2 page is a 500),
 * and a provider cannot be loaded into a running process. The child exits when its stdin closes, so a crashed test
 * process does not leave servers behind.
 *
 * s3rver rewrites an object's files in place (and answers a PUT before its bytes are flushed), so a GET that races a
 * PUT or copy of the same key reads a torn object and the connection is cut mid-body ("aborted"); S3 replaces objects
 * atomically. The child therefore patches s3rver's file store to write each object, copy and metadata file to a
 * staging directory and rename it into place, which also turns its file-system errors into 500s instead of crashes.
 * What it cannot fix: s3rver keeps a key's last segment as a file name plus `._S3rver_metadata.json`, so a segment
 * longer than {@link S3RVER_MAX_KEY_SEGMENT_BYTES} cannot be stored (S3 takes any key up to 1,024 bytes).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Credentials s3rver accepts (it checks signatures against this fixed pair). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** The longest last segment of a key s3rver can store: a file name (255 bytes) less its 21-byte suffix. */
export const S3RVER_MAX_KEY_SEGMENT_BYTES = 255 - '._S3rver_metadata.json'.length;

/** A running test server. */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  /** Where s3rver keeps the buckets' files. */
  directory: string;
  /** Stops the server and removes its data; fails, with its stderr, if the server died before. */
  stop(): Promise<void>;
}

/**
 * The program the child runs: patch s3rver's file store (see the module comment), start s3rver, print the bound port
 * as one JSON line, exit when stdin closes.
 */
const CHILD_PROGRAM = `
const { createHash, randomUUID } = require('node:crypto');
const { createWriteStream, promises: fsp } = require('node:fs');
const { dirname, join } = require('node:path');
const { Readable, Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');

const S3rver = require(process.env.MLOE_S3RVER_MODULE);
const lib = dirname(process.env.MLOE_S3RVER_MODULE);
const FilesystemStore = require(join(lib, 'stores', 'filesystem.js'));
const S3Object = require(join(lib, 'models', 'object.js'));
const { directory, staging, buckets } = JSON.parse(process.env.MLOE_S3RVER_OPTIONS);

/** Writes a file through a staging file and a rename, so readers see the old file or the new one. */
async function replace(target, write) {
  const staged = join(staging, randomUUID());
  try {
    await write(staged);
    for (let attempt = 1; ; attempt += 1) {
      await fsp.mkdir(dirname(target), { recursive: true });
      try {
        await fsp.rename(staged, target);
        return;
      } catch (error) {
        // DeleteObject removes the directories it empties, maybe between the mkdir and the rename.
        if (error.code !== 'ENOENT' || attempt === 3) throw error;
      }
    }
  } finally {
    await fsp.rm(staged, { force: true });
  }
}

FilesystemStore.prototype.putObject = async function (object) {
  const md5 = createHash('md5');
  let size = 0;
  const counter = new Transform({
    transform(chunk, encoding, callback) {
      md5.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  await replace(this.getResourcePath(object.bucket, object.key, 'object'), (staged) =>
    pipeline(content, counter, createWriteStream(staged)),
  );
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};

FilesystemStore.prototype.putMetadata = async function (bucket, key, metadata, md5) {
  const kept = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')) kept[name] = value;
  }
  if (md5) await replace(this.getResourcePath(bucket, key, 'object.md5'), (staged) => fsp.writeFile(staged, md5));
  await replace(this.getResourcePath(bucket, key, 'metadata.json'), (staged) =>
    fsp.writeFile(staged, JSON.stringify(kept, null, 2)),
  );
};

FilesystemStore.prototype.copyObject = async function (srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  const source = (resource) => this.getResourcePath(srcBucket, srcKey, resource);
  const target = (resource) => this.getResourcePath(destBucket, destKey, resource);
  if (source('object') !== target('object')) {
    await replace(target('object'), (staged) => fsp.copyFile(source('object'), staged));
    if (!replacementMetadata) {
      for (const resource of ['metadata.json', 'object.md5']) {
        await replace(target(resource), (staged) => fsp.copyFile(source(resource), staged));
      }
    }
  }
  if (replacementMetadata) await this.putMetadata(destBucket, destKey, replacementMetadata);
  return this.getMetadata(destBucket, destKey);
};

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { console.error(error); process.exit(1); },
);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

/** Starts s3rver with the given buckets and resolves once it listens. */
export async function startS3Server(options: { buckets: string[] }): Promise<S3TestServer> {
  const base = await mkdtemp(join(tmpdir(), 'mloe-s3rver-'));
  const directory = join(base, 'buckets');
  const staging = join(base, 'staging');
  await Promise.all([mkdir(directory), mkdir(staging)]);
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', CHILD_PROGRAM],
    {
      env: {
        ...process.env,
        MLOE_S3RVER_MODULE: require.resolve('s3rver'),
        MLOE_S3RVER_OPTIONS: JSON.stringify({ directory, staging, buckets: options.buckets }),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr += text;
  });
  const exited = once(child, 'exit');
  let stopping = false;

  const stop = async (): Promise<void> => {
    const died = child.exitCode !== null || child.signalCode !== null;
    if (!died && !stopping) {
      stopping = true;
      child.stdin.end();
      await exited;
    }
    await rm(base, { recursive: true, force: true });
    if (died && !stopping) {
      stopping = true;
      throw new Error(`s3rver died during the tests (${String(child.exitCode ?? child.signalCode)}): ${stderr}`);
    }
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        let parsed: { port?: unknown };
        try {
          parsed = JSON.parse(line) as { port?: unknown };
        } catch {
          return; // not our line
        }
        if (typeof parsed.port === 'number') {
          lines.close();
          resolve(parsed.port);
        }
      });
      exited.then(
        ([code, signal]) => reject(new Error(`s3rver exited (${String(code ?? signal)}) before listening: ${stderr}`)),
        reject,
      );
      child.on('error', reject);
    });
    return { endpoint: `http://127.0.0.1:${port}`, port, directory, stop };
  } catch (error) {
    child.kill('SIGKILL');
    await stop().catch(() => undefined);
    throw error;
  }
}
