/**
 * Entry of the `mloe-test-server` executable: the time-skipping test server as a process, with the Java test
 * server's command line (`<port> [--enable-time-skipping]`), which is what `@temporalio/testing` runs for a
 * time-skipping environment with an `existing-path` executable. It prints nothing on success (the SDK polls the
 * port for readiness) and runs until killed; SIGINT and SIGTERM close it cleanly.
 */
import { startTestServer, type TestServerOptions } from '../devserver/time-skipping';
import type { LogLevel } from '../devserver/logger';

const USAGE = 'usage: mloe-test-server <port> [--enable-time-skipping] [--log-level debug|info|warn|error]';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Parses the command line (without node and script); throws with a message naming the problem. */
export function parseTestServerArgs(args: readonly string[]): TestServerOptions {
  const options: TestServerOptions = {};
  let port: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--enable-time-skipping') options.enableTimeSkipping = true;
    else if (arg === '--log-level') {
      const level = args[++i] as LogLevel | undefined;
      if (!level || !LOG_LEVELS.includes(level)) throw new Error(`--log-level needs one of ${LOG_LEVELS.join(', ')}`);
      options.logLevel = level;
    } else if (/^\d+$/.test(arg) && port === undefined) {
      port = Number(arg);
      if (port > 65_535) throw new Error(`port ${arg} is out of range`);
    } else throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
  }
  if (port === undefined) throw new Error('the port is required');
  options.port = port;
  return options;
}

/** Runs the server until SIGINT or SIGTERM; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let options: TestServerOptions;
  try {
    options = parseTestServerArgs(argv.slice(2));
  } catch (err) {
    process.stderr.write(`mloe-test-server: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  let server;
  try {
    server = await startTestServer(options);
  } catch (err) {
    process.stderr.write(`mloe-test-server: could not start: ${(err as Error).message}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await server.close();
  return 0;
}
