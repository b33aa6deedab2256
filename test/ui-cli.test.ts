/**
 * The Web UI through the CLI: `mloe server start-dev` as a child process prints the UI's URL after its ready line
 * and serves the UI there (bound to loopback), `--headless` serves none, `--ui-public-path` moves it; the flags
 * resolve as the Temporal CLI's do (UI port = gRPC port + 1000, UI address = --ip).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseDevFlags } from '../clients/dev';
import { parseStartDevArgs } from '../clients/start-dev-config';
import { resolveUiPort } from '../clients/ui';
import { spawnServer, type ServerProcess } from './devserver/child-server';
import { childEnv, MloeChild } from './support/mloe-child';
import { pollUntil } from './support/poll';

const UI_LINE = /^UI: (http:\/\/\S+)$/m;

/** Waits for the ready line, then for the UI line that follows it (it may come in a later chunk); its URL. */
async function uiUrl(server: ServerProcess): Promise<string> {
  await server.ready(30_000);
  return pollUntil('the UI line', () => UI_LINE.exec(server.output().stdout)?.[1], { timeoutMs: 10_000 });
}

describe('start-dev UI flags', () => {
  it('serve the UI by default on loopback, on the gRPC port + 1000', () => {
    const config = parseStartDevArgs([]);
    expect(config.ui).toEqual({ ip: '127.0.0.1' });
    expect(resolveUiPort(config.server.port, config.ui?.port)).toBe(8233);
    expect(resolveUiPort(0, undefined)).toBe(0);
  });

  it('take --ui-port, --ui-ip, --ui-public-path and --ui-codec-endpoint, and --headless turns the UI off', () => {
    const config = parseStartDevArgs([
      '--ip',
      '0.0.0.0',
      '--ui-port',
      '9000',
      '--ui-ip',
      '127.0.0.1',
      '--ui-public-path',
      '/temporal',
      '--ui-codec-endpoint',
      'http://127.0.0.1:8888',
    ]);
    expect(config.ui).toEqual({
      ip: '127.0.0.1',
      port: 9000,
      publicPath: '/temporal',
      codecEndpoint: 'http://127.0.0.1:8888',
    });
    expect(parseStartDevArgs(['--headless']).ui).toBeUndefined();
    expect(parseStartDevArgs(['--ip', '0.0.0.0']).ui).toEqual({ ip: '0.0.0.0' });
  });

  it('reject bad values, naming the flag', () => {
    expect(() => parseStartDevArgs(['--ui-port', 'x'])).toThrow(/uiPort/);
    expect(() => parseStartDevArgs(['--ui-public-path', '/a/../b'])).toThrow(/uiPublicPath/);
    expect(() => parseStartDevArgs(['--ui-codec-endpoint', 'not a url'])).toThrow(/uiCodecEndpoint/);
    expect(() => parseStartDevArgs(['--port', '65000'])).toThrow(/--ui-port, or --headless/);
  });
});

describe('mloe server start-dev, a child process', () => {
  it('prints the UI URL after the ready line and serves the UI there, on loopback', async () => {
    const server = spawnServer(['--port', '0']);
    try {
      const url = await uiUrl(server);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const lines = server.output().stdout.split('\n');
      expect(lines.findIndex((line) => line.startsWith('UI: '))).toBe(
        lines.findIndex((line) => line.includes('is running at')) + 1,
      );
      const page = await fetch(`${url}/namespaces/default/workflows`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('__sveltekit_');
    } finally {
      await server.kill('SIGTERM');
    }
  }, 60_000);

  it('serves no UI with --headless', async () => {
    const server = spawnServer(['--port', '0', '--headless']);
    try {
      await server.ready(30_000);
      await pollUntil('the namespaces line', () => server.output().stdout.includes('Namespaces: '));
      expect(server.output().stdout).not.toMatch(UI_LINE);
    } finally {
      await server.kill('SIGTERM');
    }
  }, 60_000);

  it('serves the UI under --ui-public-path', async () => {
    const server = spawnServer(['--port', '0', '--ui-public-path', '/temporal']);
    try {
      const url = await uiUrl(server);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/temporal$/);
      expect(await (await fetch(`${url}/`)).text()).toContain('base: "/temporal"');
    } finally {
      await server.kill('SIGTERM');
    }
  }, 60_000);

  it('exits 1 naming --ui-port when the UI port is taken', async () => {
    const first = spawnServer(['--port', '0']);
    try {
      const port = new URL(await uiUrl(first)).port;
      const second = spawnServer(['--port', '0', '--ui-port', port]);
      const exit = await second.exited;
      expect(exit.code).toBe(1);
      expect(second.output().stderr).toContain(`UI port ${port} on 127.0.0.1 is in use: choose another --ui-port`);
      expect(second.output().stdout).not.toMatch(/is running at/);
    } finally {
      await first.kill('SIGTERM');
    }
  }, 60_000);
});

describe('mloe dev', () => {
  it('takes the UI flags, naming a bad one', () => {
    expect(parseDevFlags({ headless: true, uiPort: '9000', uiIp: '127.0.0.1', uiPublicPath: '/t' })).toMatchObject({
      headless: true,
      uiPort: 9000,
      uiIp: '127.0.0.1',
      uiPublicPath: '/t',
    });
    expect(() => parseDevFlags({ uiPort: '70000' })).toThrow(/invalid --ui-port "70000".*give a port from 0 to 65535/);
    expect(() => parseDevFlags({ uiCodecEndpoint: 'ftp://x' })).toThrow(/invalid --ui-codec-endpoint/);
  });

  it('as a child process, prints the UI URL and serves the UI and the pipeline view there', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'mloe-ui-dev-'));
    const dev = new MloeChild(['dev', '--port', '0', '--mlflow-port', '0'], { cwd, env: childEnv({}) });
    try {
      await dev.waitForStdout(/run a pipeline on it/, 120_000);
      const url = UI_LINE.exec(dev.stdout)?.[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const view = await fetch(`${url}/mloe/pipelines/?namespace=default`);
      expect(view.status).toBe(200);
      expect(view.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await view.text()).toContain('mloe pipelines');
      const bare = await fetch(`${url}/mloe/pipelines?namespace=default`, { redirect: 'manual' });
      expect(bare.status).toBe(308);
      expect(bare.headers.get('location')).toBe('/mloe/pipelines/?namespace=default');
      expect((await fetch(`${url}/mloe/pipeline-view.js`)).headers.get('content-type')).toMatch(/javascript/);
      expect(await (await fetch(`${url}/`)).text()).toContain('__sveltekit_');
    } finally {
      expect((await dev.stop('SIGTERM')).code).toBe(0);
      await rm(cwd, { recursive: true, force: true });
    }
  }, 180_000);
});
