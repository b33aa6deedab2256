/**
 * `mloe server start-dev`: a drop-in for `temporal server start-dev` backed by the embedded mloe dev server.
 *
 * The flag set mirrors the Temporal CLI closely enough that `@temporalio/testing` can launch `bin/mloe.js` as an
 * `existing-path` executable. The SDK's Rust core builds the argument vector in
 * `@temporalio/core-bridge/sdk-core/crates/sdk-core/src/ephemeral_server/mod.rs` (`start_server_with_output`), and
 * `@temporalio/testing/src/testing-workflow-environment.ts` prepends `--search-attribute NAME=Type` pairs to the
 * user's `extraArgs`. This module only declares the flags and the configuration they resolve to (commander, cheap to
 * load); their validation lives in `start-dev-config.ts` (zod), which depends on this module and is loaded only when
 * the command actually runs.
 */
import { Command, Option } from 'commander';

import type { DevServerHandle, DevServerOptions } from '../infra/devserver';
import type { UiServerHandle } from '../infra/ui/server';
import { MloeError, ensureError } from '../core/errors';
import { startEmbeddedUi, uiLine, type EmbeddedUiOptions } from './ui';

/** The namespace every dev server has; `--namespace` adds others besides it. */
export const DEFAULT_NAMESPACE = 'default';

/** Log levels the dev server understands. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Log levels `--log-level` accepts: the dev server's plus the Temporal CLI's `never`. */
export const CLI_LOG_LEVELS = [...LOG_LEVELS, 'never'] as const;

/** Search attribute types as the Temporal CLI spells them in `--search-attribute NAME=TYPE`. */
export const SEARCH_ATTRIBUTE_TYPES = ['Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'] as const;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Builds the `start-dev` command with every flag and no action, so parsing can be tested on its own.
 * Unknown flags and stray arguments are tolerated, because SDKs may pass flags newer than this CLI.
 */
export function createStartDevCommand(): Command {
  return new Command('start-dev')
    .description('Start the embedded mloe dev server (a Temporal-compatible drop-in for `temporal server start-dev`)')
    .option('--ip <address>', 'IP address to bind the frontend gRPC service to', '127.0.0.1')
    .option('-p, --port <port>', 'port of the frontend gRPC service (0 picks a free port)', '7233')
    .option('-f, --db-filename <file>', 'SQLite file for durable state (in memory when absent)')
    .option('-n, --namespace <name>', `namespace to create besides "${DEFAULT_NAMESPACE}" (repeatable)`, collect, [])
    .addOption(new Option('--log-level <level>', 'server log level').choices(CLI_LOG_LEVELS).default('info'))
    .option('--log-format <format>', 'log format (accepted for compatibility: text, json or pretty)', 'text')
    .option(
      '--search-attribute <name=type>',
      `register a custom search attribute (repeatable; type is one of ${SEARCH_ATTRIBUTE_TYPES.join(', ')})`,
      collect,
      [],
    )
    .option(
      '--dynamic-config-value <key=value>',
      'dynamic config value (repeatable; accepted, not applied)',
      collect,
      [],
    )
    .option('--headless', 'do not start the Web UI')
    .option('--ui-port <port>', 'port of the Web UI (default: --port + 1000; a free one when --port is 0)')
    .option('--ui-ip <address>', 'IP address to bind the Web UI to (default: --ip)')
    .option('--ui-public-path <path>', 'serve the Web UI under this path, e.g. /temporal behind a proxy')
    .option('--ui-asset-path <path>', 'serve these built UI assets instead of the bundled ones')
    .option('--ui-codec-endpoint <url>', 'remote payload codec endpoint the Web UI decodes payloads with')
    .option('--http-port <port>', "port of Temporal's frontend HTTP API (off when absent; 0 picks a free port)")
    .option(
      '--http-cors-origins <origins>',
      'comma-separated origins allowed cross-origin calls to the HTTP API (none by default)',
    )
    .option('--metrics-port <port>', 'serve Prometheus metrics at http://<ip>:<port>/metrics (0 picks a port)')
    .option(
      '--sqlite-pragma <pragma=value>',
      'SQLite pragma for durable mode, e.g. synchronous=NORMAL (repeatable)',
      collect,
      [],
    )
    .option('--log-config', 'log the server config on startup (accepted for compatibility)')
    .option('--tls-cert <file>', 'serve gRPC over TLS with this certificate chain (PEM; needs --tls-key)')
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
    .option('--tls-ca <file>', 'require client certificates signed by this CA (PEM): mutual TLS (needs --tls-cert)')
    .allowUnknownOption()
    .allowExcessArguments();
}

/** The dev server options `start-dev` resolves to: every field the CLI controls is present. */
export type StartDevServerOptions = Required<
  Pick<DevServerOptions, 'ip' | 'port' | 'namespaces' | 'logLevel' | 'searchAttributes'>
> &
  Pick<DevServerOptions, 'dbFilename' | 'sqlitePragmas' | 'httpPort' | 'httpCorsOrigins' | 'metricsPort' | 'tls'>;

/** Everything `mloe server start-dev` needs to run, derived from its argument vector. */
export interface StartDevConfig {
  /** Options for `startDevServer`; `namespaces` excludes `default`, which always exists. */
  server: StartDevServerOptions;
  /** `--dynamic-config-value KEY=VALUE` pairs, kept but not applied by the dev server yet. */
  dynamicConfig: Record<string, string>;
  /** `--log-format`; the dev server currently has a single format. */
  logFormat: string;
  /** Notes about arguments that were tolerated but not understood (unknown flags, stray words). */
  warnings: string[];
  /** The Web UI to serve beside the server; absent with `--headless`. */
  ui?: EmbeddedUiOptions;
}

/** Where `start-dev` writes; injectable so tests can capture output. */
export interface StartDevIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

/** The line printed once the server accepts connections; scripts and tests may wait for it. */
export function readyLine(address: string): string {
  return `Temporal server (mloe dev server) is running at ${address}`;
}

/**
 * Starts the embedded dev server, loading it only now so `mloe --help` does not pay for gRPC, protobuf and SQLite.
 * Failures are rethrown as `SERVER_START_FAILED` with the server's own message.
 */
export async function startEmbeddedDevServer(options: DevServerOptions): Promise<DevServerHandle> {
  // `require`, not `import()`: bin/mloe.js registers tsx's CommonJS hooks only, and a dynamic import of a .ts
  // file would go to Node's ESM loader, which cannot read TypeScript.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const devserver = require('../infra/devserver') as typeof import('../infra/devserver');
  try {
    return await devserver.startDevServer(options);
  } catch (error) {
    const cause = ensureError(error);
    throw new MloeError('SERVER_START_FAILED', cause.message, { cause, retryable: true });
  }
}

/**
 * Runs `start-dev` until SIGINT or SIGTERM, then closes the server.
 * Resolves with the process exit code: 0 after a clean shutdown, 1 when the server could not start or stop.
 */
export async function runStartDev(config: StartDevConfig, io: StartDevIo): Promise<number> {
  for (const warning of config.warnings) io.stderr(`warning: ${warning}`);

  let handle: DevServerHandle;
  try {
    handle = await startEmbeddedDevServer(config.server);
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }

  let ui: UiServerHandle | undefined;
  if (config.ui !== undefined) {
    try {
      ui = await startEmbeddedUi(handle, config.ui);
    } catch (error) {
      io.stderr(`error: ${ensureError(error).message}`);
      await handle.close().catch(() => undefined);
      return 1;
    }
  }

  io.stdout(readyLine(handle.address));
  if (handle.metricsUrl !== undefined) io.stdout(`Metrics: ${handle.metricsUrl}`);
  if (config.server.tls !== undefined) {
    io.stdout(`TLS: on${config.server.tls.ca === undefined ? '' : ', client certificates required (mutual TLS)'}`);
  }
  if (ui !== undefined) io.stdout(uiLine(ui.url));
  io.stdout(`Namespaces: ${[DEFAULT_NAMESPACE, ...config.server.namespaces].join(', ')}`);
  if (handle.httpAddress !== undefined) io.stdout(`Temporal HTTP API: http://${handle.httpAddress}`);

  const signal = await nextShutdownSignal();
  try {
    await ui?.close();
    await handle.close();
  } catch (error) {
    io.stderr(`error: closing the dev server after ${signal}: ${ensureError(error).message}`);
    return 1;
  }
  return 0;
}

/**
 * Resolves on the first SIGINT or SIGTERM; a second one falls through to Node's default and ends the process.
 * Shared by the long-running commands (`server start-dev`, `dev`, `worker`).
 */
export function nextShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
