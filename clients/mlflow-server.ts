/**
 * `mloe mlflow server`: the embedded MLflow-compatible tracking server and model registry, with `mlflow server`'s own
 * flags, until SIGINT or SIGTERM. This module only declares the command (commander, cheap to load with the CLI); the
 * server (hono, SQLite, zod) is loaded when the command runs.
 */
import { Command } from 'commander';

import { ensureError } from '../core/errors';
import type { StartDevIo } from './start-dev';

/** The flags as commander hands them over. */
export interface MlflowServerFlags {
  host: string;
  port: string;
  backendStoreUri?: string;
  artifactsDestination?: string;
  defaultArtifactRoot?: string;
  serveArtifacts: boolean;
}

/** The line printed once the server accepts connections; scripts and tests wait for it. */
export function mlflowReadyLine(url: string): string {
  return `MLflow tracking server (mloe) is running at ${url}`;
}

/**
 * Runs the server until SIGINT or SIGTERM (exit code 0), or reports why it could not start (1): a bad flag, the port
 * in use, a database another server holds.
 */
export async function runMlflowServer(flags: MlflowServerFlags, io: StartDevIo): Promise<number> {
  if (!/^\d{1,5}$/.test(flags.port)) {
    io.stderr(`error: invalid --port ${flags.port}: expected a port number from 0 to 65535`);
    return 1;
  }
  // `require`, not `import()`: bin/mloe.js registers tsx's CommonJS hooks only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mlflow = require('../infra/mlflow') as typeof import('../infra/mlflow');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { nextShutdownSignal } = require('./start-dev') as typeof import('./start-dev');
  let handle: Awaited<ReturnType<typeof mlflow.startMlflowServer>>;
  try {
    handle = await mlflow.startMlflowServer({
      host: flags.host,
      port: Number(flags.port),
      serveArtifacts: flags.serveArtifacts,
      ...(flags.backendStoreUri === undefined ? {} : { backendStoreUri: flags.backendStoreUri }),
      ...(flags.artifactsDestination === undefined ? {} : { artifactsDestination: flags.artifactsDestination }),
      ...(flags.defaultArtifactRoot === undefined ? {} : { defaultArtifactRoot: flags.defaultArtifactRoot }),
      logError: io.stderr,
    });
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  const { config } = handle.backend;
  io.stdout(`Backend store: ${config.databaseFile === undefined ? 'in memory' : `SQLite ${config.databaseFile}`}`);
  io.stdout(
    config.serveArtifacts
      ? `Artifacts: ${config.artifactsDestination.uri} (proxied at ${handle.url}/api/2.0/mlflow-artifacts/artifacts)`
      : `Artifacts: not served; new experiments store theirs under ${config.defaultArtifactRoot}`,
  );
  // Last: scripts and tests read the settings above once they see it.
  io.stdout(mlflowReadyLine(handle.url));
  const signal = await nextShutdownSignal();
  try {
    await handle.close();
  } catch (error) {
    io.stderr(`error: closing the MLflow server after ${signal}: ${ensureError(error).message}`);
    return 1;
  }
  return 0;
}

/** Builds `mlflow` with its `server` subcommand; the action reports its exit code through `setExitCode`. */
export function createMlflowCommand(io: StartDevIo, setExitCode: (code: number) => void): Command {
  const mlflow = new Command('mlflow').description('Run the embedded MLflow-compatible tracking server and registry');
  mlflow
    .command('server')
    .description(
      'Start the embedded MLflow tracking server and model registry (MLflow REST API 2.0 and artifact proxy), a ' +
        'stand-in for `mlflow server`; point MLFLOW_TRACKING_URI at the printed URL',
    )
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', '5000')
    .option(
      '--backend-store-uri <uri>',
      'sqlite:///<path> (sqlite:////absolute/path.db) for a durable store; in memory when absent',
    )
    .option(
      '--artifacts-destination <uri>',
      'where proxied artifacts are stored: file:///dir, a directory or s3://bucket[/prefix] (default ./mlartifacts)',
    )
    .option('--serve-artifacts', 'serve the artifact proxy', true)
    .option('--no-serve-artifacts', 'do not serve artifacts; clients write to the default artifact root themselves')
    .option(
      '--default-artifact-root <uri>',
      'root of new experiments’ artifact locations (default mlflow-artifacts:/ when serving artifacts, else ./mlruns)',
    )
    .action(async (options: MlflowServerFlags) => {
      setExitCode(await runMlflowServer(options, io));
    });
  return mlflow;
}
