import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

import { MloeError } from '../core/errors';
import { parseStartDevArgs } from '../clients/start-dev-config';
import packageJson from '../package.json';

const execFileAsync = promisify(execFile);
const BIN = resolve(__dirname, '..', 'bin', 'mloe.js');

/** Runs bin/mloe.js directly (shebang and exec bit included) from a directory outside the project. */
async function runBin(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(BIN, args, { cwd: tmpdir(), timeout: 30_000 });
}

/**
 * The argument vector `TestWorkflowEnvironment.createLocal()` passes to an `existing-path` executable with default
 * options, built in @temporalio/core-bridge/sdk-core/crates/sdk-core/src/ephemeral_server/mod.rs
 * (`TemporalDevServerConfig::start_server_with_output`); `log` defaults to `{ format: 'pretty', level: 'warn' }` in
 * @temporalio/testing/src/ephemeral-server.ts. The port is a free one the SDK picks.
 */
function sdkStartDevArgv(
  port: number,
  options: { namespace?: string; dbFilename?: string; uiPort?: number; extraArgs?: string[] } = {},
): string[] {
  return [
    'server',
    'start-dev',
    '--port',
    String(port),
    '--namespace',
    options.namespace ?? 'default',
    '--ip',
    '127.0.0.1',
    '--log-format',
    'pretty',
    '--log-level',
    'warn',
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    ...(options.dbFilename === undefined ? [] : ['--db-filename', options.dbFilename]),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.extraArgs ?? []),
  ];
}

/** Drops the leading `server start-dev`, checking it is there. */
function afterStartDev(argv: string[]): string[] {
  expect(argv.slice(0, 2)).toEqual(['server', 'start-dev']);
  return argv.slice(2);
}

describe('bin/mloe.js', () => {
  it('prints the top-level help with the server and demo commands', async () => {
    const { stdout } = await runBin('--help');
    expect(stdout).toContain('Usage: mloe');
    expect(stdout).toMatch(/^\s+server\b/m);
    expect(stdout).toMatch(/^\s+demo\b/m);
  });

  it('prints the version from package.json', async () => {
    const { stdout } = await runBin('--version');
    expect(stdout.trim()).toBe(packageJson.version);
  });

  it('lists every start-dev flag the Temporal CLI has and the SDK uses', async () => {
    const { stdout } = await runBin('server', 'start-dev', '--help');
    for (const flag of [
      '--ip',
      '-p, --port',
      '-f, --db-filename',
      '-n, --namespace',
      '--log-level',
      '--log-format',
      '--search-attribute',
      '--dynamic-config-value',
      '--headless',
      '--ui-port',
      '--ui-ip',
      '--ui-public-path',
      '--ui-asset-path',
      '--ui-codec-endpoint',
      '--http-port',
      '--metrics-port',
      '--sqlite-pragma',
      '--log-config',
    ]) {
      expect(stdout).toContain(flag);
    }
  });
});

describe('parseStartDevArgs', () => {
  it('parses the SDK default argument vector', () => {
    const config = parseStartDevArgs(afterStartDev(sdkStartDevArgv(41234)));
    expect(config.server).toEqual({
      ip: '127.0.0.1',
      port: 41234,
      namespaces: [],
      logLevel: 'warn',
      searchAttributes: {},
    });
    expect(config.server).not.toHaveProperty('dbFilename');
    expect(config.logFormat).toBe('pretty');
    expect(config.dynamicConfig).toEqual({
      'frontend.enableServerVersionCheck': 'false',
      'frontend.enableUpdateWorkflowExecution': 'true',
      'frontend.enableUpdateWorkflowExecutionAsyncAccepted': 'true',
    });
    expect(config.warnings).toEqual([]);
  });

  it('parses a namespace, a database file, a UI port and search attributes from extraArgs', () => {
    // TestWorkflowEnvironment prepends `--search-attribute NAME=Type` pairs to the user's extraArgs.
    const argv = sdkStartDevArgv(7233, {
      namespace: 'ml',
      dbFilename: '/tmp/mloe.db',
      uiPort: 8233,
      extraArgs: ['--search-attribute', 'ModelName=Keyword', '--search-attribute', 'Accuracy=Double'],
    });
    const config = parseStartDevArgs(afterStartDev(argv));
    expect(config.server).toEqual({
      ip: '127.0.0.1',
      port: 7233,
      namespaces: ['ml'],
      logLevel: 'warn',
      dbFilename: '/tmp/mloe.db',
      searchAttributes: { ModelName: 'Keyword', Accuracy: 'Double' },
    });
    expect(config.warnings).toEqual([]);
  });

  it('applies the Temporal CLI defaults when given no flags', () => {
    expect(parseStartDevArgs([]).server).toEqual({
      ip: '127.0.0.1',
      port: 7233,
      namespaces: [],
      logLevel: 'info',
      searchAttributes: {},
    });
  });

  it('accepts short flags and repeated namespaces, dropping duplicates', () => {
    const config = parseStartDevArgs(['-p', '0', '-f', 'state.db', '-n', 'a', '-n', 'b', '-n', 'a', '-n', 'default']);
    expect(config.server).toMatchObject({ port: 0, dbFilename: 'state.db', namespaces: ['a', 'b'] });
  });

  it('accepts every compatibility-only flag without warnings', () => {
    const config = parseStartDevArgs([
      '--headless',
      '--ui-port',
      '8233',
      '--ui-ip',
      '0.0.0.0',
      '--ui-public-path',
      '/ui',
      '--ui-asset-path',
      '/assets',
      '--ui-codec-endpoint',
      'http://localhost:8888',
      '--http-port',
      '7243',
      '--metrics-port',
      '9090',
      '--sqlite-pragma',
      'journal_mode=wal',
      '--log-config',
      '--log-level',
      'never',
    ]);
    expect(config.warnings).toEqual([]);
    expect(config.server.logLevel).toBe('error');
  });

  it('normalises search attribute types to the Temporal spelling', () => {
    const config = parseStartDevArgs(['--search-attribute', 'Stage=keyword', '--search-attribute', 'Tags=KEYWORDLIST']);
    expect(config.server.searchAttributes).toEqual({ Stage: 'Keyword', Tags: 'KeywordList' });
  });

  it('tolerates unknown flags, reports them as warnings and still parses known flags after them', () => {
    const config = parseStartDevArgs(['--some-future-flag', 'x', '--port', '1234']);
    expect(config.server.port).toBe(1234);
    expect(config.warnings).toEqual(['ignoring unrecognised start-dev arguments: --some-future-flag x']);
  });

  it.each([
    ['a port that is not a number', ['--port', 'abc']],
    ['a port out of range', ['--port', '70000']],
    ['a search attribute without a type', ['--search-attribute', 'ModelName']],
    ['a search attribute of an unknown type', ['--search-attribute', 'ModelName=Blob']],
    ['a search attribute registered with two types', ['--search-attribute', 'A=Int', '--search-attribute', 'A=Text']],
    ['a dynamic config value without "="', ['--dynamic-config-value', 'frontend.x']],
    ['an unknown log level', ['--log-level', 'loud']],
    ['a flag missing its value', ['--port']],
  ])('rejects %s with CONFIG_INVALID', (_case, argv) => {
    let thrown: unknown;
    try {
      parseStartDevArgs(argv);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MloeError);
    expect(thrown).toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
