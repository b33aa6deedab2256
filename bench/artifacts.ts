/**
 * `npm run bench:artifacts`: throughput of the artifact stores on this machine. The file store streams 50 MiB in and
 * out (against a plain streamed write and hashed read of the same bytes as the baseline); the S3 store runs against
 * s3rver on loopback, 20 MiB as a multipart upload in 5 MiB parts and as a single PutObject.
 * Prints a table and keeps nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { FileArtifactStore, S3ArtifactStore, type ArtifactStore } from '../activities/artifacts';
import { S3RVER_CREDENTIALS, startS3Server } from '../test/s3-server';

const MIB = 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ARTIFACT_ROUNDS ?? 3);

/** `size` bytes in 256 KiB chunks, made on demand. */
function generated(size: number): Readable {
  const seed = randomBytes(256 * 1024);
  let produced = 0;
  return new Readable({
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const chunk = Buffer.from(seed.subarray(0, Math.min(seed.length, size - produced)));
      chunk.writeDoubleLE(produced, 0);
      produced += chunk.length;
      this.push(chunk);
    },
  });
}

async function hashAll(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest('hex');
}

/** The best of `ROUNDS` timings of `body`, in MiB/s for `size` bytes. */
async function best(size: number, body: () => Promise<void>): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = performance.now();
    await body();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return size / MIB / (fastest / 1000);
}

/** Put and get throughput of a store for a generated stream of `size` bytes. */
async function roundTrip(store: ArtifactStore, size: number): Promise<{ put: number; get: number }> {
  let uri = '';
  const put = await best(size, async () => {
    uri = (await store.put(generated(size))).uri;
  });
  const get = await best(size, async () => {
    await hashAll(await store.get(uri));
  });
  return { put, get };
}

async function main(): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'mloe-bench-artifacts-'));
  const rows: [string, number, number][] = [];
  try {
    const fileSize = 50 * MIB;
    const baselinePath = join(directory, 'baseline');
    const baselineWrite = await best(fileSize, () => pipeline(generated(fileSize), createWriteStream(baselinePath)));
    const baselineRead = await best(fileSize, async () => {
      await hashAll(createReadStream(baselinePath));
    });
    rows.push(['plain stream write / hashed read, 50 MiB', baselineWrite, baselineRead]);
    const file = await roundTrip(new FileArtifactStore({ root: join(directory, 'store') }), fileSize);
    rows.push(['file store, 50 MiB', file.put, file.get]);

    const server = await startS3Server({ buckets: ['bench'] });
    try {
      const s3Size = 20 * MIB;
      const config = { endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS };
      const multipart = new S3ArtifactStore({ bucket: 'bench', config: { ...config, partSizeBytes: 5 * MIB } });
      const single = new S3ArtifactStore({
        bucket: 'bench',
        prefix: 'single',
        config: { ...config, partSizeBytes: 64 * MIB },
      });
      const parts = await roundTrip(multipart, s3Size);
      rows.push(['s3 store (s3rver), 20 MiB multipart, 5 MiB parts', parts.put, parts.get]);
      const whole = await roundTrip(single, s3Size);
      rows.push(['s3 store (s3rver), 20 MiB single PutObject', whole.put, whole.get]);
      await multipart.close();
      await single.close();
    } finally {
      await server.stop();
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }

  console.log(`artifact stores, best of ${ROUNDS}, node ${process.version}, ${cpus().length} CPUs`);
  console.log(`${'case'.padEnd(52)}  ${'put MiB/s'.padStart(9)}  ${'get MiB/s'.padStart(9)}`);
  for (const [name, put, get] of rows) {
    console.log(`${name.padEnd(52)}  ${put.toFixed(0).padStart(9)}  ${get.toFixed(0).padStart(9)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
