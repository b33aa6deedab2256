/**
 * The `mloe` command line. `bin/mloe.js` registers tsx and calls {@link main}; `tsx clients/cli.ts` works too.
 */
import { Command } from 'commander';

import packageJson from '../package.json';
import { ensureError } from './errors';
import { createStartDevCommand, readyLine, runStartDev, startEmbeddedDevServer, type StartDevIo } from './start-dev';

const processIo: StartDevIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `mloe demo`: for now, starts the embedded dev server on a free port, prints its address and stops it again.
 * A later change makes it run an example pipeline end to end.
 */
async function runDemo(io: StartDevIo): Promise<number> {
  let address: string;
  try {
    const handle = await startEmbeddedDevServer({ ip: '127.0.0.1', port: 0, logLevel: 'warn' });
    address = handle.address;
    io.stdout(readyLine(address));
    await handle.close();
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  io.stdout(`demo: dev server at ${address} started and stopped cleanly`);
  return 0;
}

/**
 * Builds the `mloe` program. Actions report their exit code through `setExitCode` instead of calling
 * `process.exit`, so the program can be driven in-process.
 */
export function buildProgram(io: StartDevIo, setExitCode: (code: number) => void): Command {
  const program = new Command('mloe')
    .description('Machine-learning orchestration engine on Temporal')
    .version(packageJson.version)
    .enablePositionalOptions()
    .showHelpAfterError();

  const server = program.command('server').description('Run servers mloe embeds');
  server.addCommand(
    createStartDevCommand().action(async (_options: unknown, command: Command) => {
      // Loaded here rather than at the top so that `--help` does not pay for zod (see bin/mloe.js on `require`).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { resolveStartDevConfig } = require('./start-dev-config') as typeof import('./start-dev-config');
      setExitCode(await runStartDev(resolveStartDevConfig(command.opts(), command.args), io));
    }),
  );

  program
    .command('demo')
    .description('Start the embedded dev server on a free port, print its address and exit')
    .action(async () => {
      setExitCode(await runDemo(io));
    });

  return program;
}

/**
 * Runs the CLI with `process.argv` and exits with the command's code. Open handles (servers, timers) never keep
 * a finished command alive.
 */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  let exitCode = 0;
  const program = buildProgram(processIo, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    processIo.stderr(`error: ${ensureError(error).message}`);
    exitCode = 1;
  }
  exitAfterFlush(exitCode);
}

/** Exits once stdout and stderr have drained; pipes are asynchronous on some platforms. */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => {
    process.stderr.write('', () => process.exit(code));
  });
}

if (require.main === module) {
  void main();
}
