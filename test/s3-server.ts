/**
 * An S3-compatible server for tests: s3rver 3.7.1 in a child process on a free port of 127.0.0.1, with a fresh data
 * directory. It runs under `node --openssl-legacy-provider` because s3rver encrypts list continuation tokens with DES,
 * which OpenSSL 3 only offers through the legacy provider (without it every truncated ListObjectsV2 page is a 500),
 * and a provider cannot be loaded into a running process. The child exits when its stdin closes, so a crashed test
 * process does not leave servers behind.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Credentials s3rver accepts (it checks signatures against this fixed pair). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** A running test server. */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  /** Where s3rver keeps the buckets' files. */
  directory: string;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** The program the child runs: start s3rver, print the bound port as one JSON line, exit when stdin closes. */
const CHILD_PROGRAM = `
const S3rver = require(process.env.MLOE_S3RVER_MODULE);
const { directory, buckets } = JSON.parse(process.env.MLOE_S3RVER_OPTIONS);
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
  const directory = await mkdtemp(join(tmpdir(), 'mloe-s3rver-'));
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', CHILD_PROGRAM],
    {
      env: {
        ...process.env,
        MLOE_S3RVER_MODULE: require.resolve('s3rver'),
        MLOE_S3RVER_OPTIONS: JSON.stringify({ directory, buckets: options.buckets }),
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

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      await exited;
    }
    await rm(directory, { recursive: true, force: true });
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
    await stop();
    throw error;
  }
}
