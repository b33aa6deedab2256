/**
 * `mloe server start-dev` as a process: the ready line, serving the official client, clean stops on SIGINT and
 * SIGTERM, and clear errors (exit 1) for a port in use and bad flag values.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { killAllServers, spawnServer } from './child-server';

afterAll(() => killAllServers());

/** Listens on a free loopback port and returns it with a close function. */
async function occupyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { port: address.port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe.each(['SIGINT', 'SIGTERM'] as const)('stopping with %s', (signal) => {
  it('prints the address with its namespaces, serves the client, and exits 0', async () => {
    const server = spawnServer(['--port', '0', '--namespace', 'ml', '--headless']);
    const address = await server.ready();
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.output().stdout).toContain('ml');
    const connection = await Connection.connect({ address });
    try {
      const ns = await connection.workflowService.describeNamespace({ namespace: 'ml' });
      expect(ns.namespaceInfo?.name).toBe('ml');
    } finally {
      await connection.close();
    }
    expect(await server.kill(signal)).toEqual({ code: 0, signal: null });
  });
});

it('refuses a port in use with exit code 1 and a message naming the address', async () => {
  const busy = await occupyPort();
  try {
    const server = spawnServer(['--port', String(busy.port), '--headless']);
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    expect(server.output().stderr).toMatch(new RegExp(`error: .*${busy.port}`));
  } finally {
    await busy.close();
  }
});

it.each([
  [['--port', 'seventy'], /port/i],
  [['--port', '70000'], /port/i],
  [['--log-level', 'loud'], /log-level/i],
])('rejects bad flag values %j with exit code 1 and a message naming the flag', async (args, message) => {
  const server = spawnServer([...args, '--headless']);
  const exit = await server.exited;
  expect(exit.code).toBe(1);
  expect(server.output().stderr).toMatch(message);
});

describe('--sqlite-pragma', () => {
  it('applies an allowed pragma in durable mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mloe-pragma-'));
    try {
      const server = spawnServer([
        '--port',
        '0',
        '--headless',
        '-f',
        join(dir, 'a.db'),
        '--sqlite-pragma',
        'synchronous=NORMAL',
      ]);
      const connection = await Connection.connect({ address: await server.ready() });
      try {
        const info = await connection.workflowService.getSystemInfo({});
        expect(info.capabilities?.sdkMetadata).toBe(true);
      } finally {
        await connection.close();
      }
      expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['foreign_keys=ON', /unsupported --sqlite-pragma foreign_keys/],
    ['synchronous=SOMETIMES', /invalid value for --sqlite-pragma synchronous/],
    ['synchronous=FULL; DROP TABLE events', /invalid value/],
  ])('refuses %s with exit code 1', async (pragma, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'mloe-pragma-'));
    try {
      const server = spawnServer(['--port', '0', '--headless', '-f', join(dir, 'b.db'), '--sqlite-pragma', pragma]);
      expect((await server.exited).code).toBe(1);
      expect(server.output().stderr).toMatch(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
