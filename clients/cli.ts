/**
 * The `mloe` command line. `bin/mloe.js` registers tsx and calls {@link main}; `tsx clients/cli.ts` works too.
 */
import { Command } from 'commander';

import packageJson from '../package.json';
import { ensureError } from './errors';
import { createStartDevCommand, runStartDev, type StartDevIo } from './start-dev';

const processIo: StartDevIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

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
    .description(
      'Run the demo ML pipeline end to end (ingest, validate, featurize, train, evaluate a housing-price regression) ' +
        'on an embedded dev server and worker, then print a summary and the metrics',
    )
    .option('--data <path>', 'CSV to learn from (default: pipelines/demo/data/housing.csv)')
    .option('--artifact-root <dir>', 'directory to keep artifacts in, under .mloe/artifacts', '.')
    .action(async (options: { data?: string; artifactRoot: string }) => {
      // Loaded here so that other commands and `--help` do not pay for the Temporal SDK and the worker.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runDemo } = require('./demo') as typeof import('./demo');
      setExitCode(
        await runDemo(io, {
          artifactRoot: options.artifactRoot,
          ...(options.data === undefined ? {} : { dataPath: options.data }),
        }),
      );
    });

  program
    .command('validate')
    .description(
      'Check a pipeline spec (YAML or JSON): fields, step types, needs and cycles, expressions and their types. ' +
        'Prints every problem as file:line:col, field, message and fix, or a summary; exits 1 if the spec is invalid',
    )
    .argument('<file>', 'the pipeline spec')
    .option(
      '-p, --param <name=value>',
      'a parameter value, checked as for a run (repeatable); required parameters then need one',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(async (file: string, options: { param?: string[] }) => {
      // Loaded here so that other commands and `--help` do not pay for the spec parser and CEL.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runValidate } = require('./validate') as typeof import('./validate');
      setExitCode(await runValidate(file, options, io));
    });

  program
    .command('run')
    .description(
      'Validate a pipeline spec and run it, printing each step as it starts and ends and a summary table. Uses the ' +
        'Temporal at TEMPORAL_ADDRESS (with a pipeline worker running), or an embedded dev server and worker',
    )
    .argument('<file>', 'the pipeline spec')
    .option('-p, --param <name=value>', 'a parameter value (repeatable)', (value: string, previous: string[] = []) => [
      ...previous,
      value,
    ])
    .option('--wait', 'with TEMPORAL_ADDRESS: wait for the run to end, with progress (always so when embedded)')
    .option('--no-cache', 'run every step even if a cached result exists')
    .option('--artifact-root <dir>', 'directory to keep artifacts in, under .mloe/artifacts', '.')
    .action(
      async (file: string, options: { param?: string[]; wait?: boolean; cache: boolean; artifactRoot: string }) => {
        // Loaded here so that other commands and `--help` do not pay for the Temporal SDK and the worker.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runRun } = require('./run') as typeof import('./run');
        const address = process.env.TEMPORAL_ADDRESS;
        setExitCode(await runRun(file, { ...options, ...(address === undefined ? {} : { address }) }, io));
      },
    );

  program
    .command('status')
    .description('Print the steps of a pipeline run (on the Temporal at TEMPORAL_ADDRESS)')
    .argument('<run>', 'the run id, pipeline-<name>-<id>')
    .action(async (run: string) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runStatus } = require('./run') as typeof import('./run');
      setExitCode(await runStatus(run, process.env.TEMPORAL_ADDRESS, io));
    });

  program
    .command('cancel')
    .description('Cancel a pipeline run: its running steps are cancelled (on the Temporal at TEMPORAL_ADDRESS)')
    .argument('<run>', 'the run id, pipeline-<name>-<id>')
    .action(async (run: string) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runCancel } = require('./run') as typeof import('./run');
      setExitCode(await runCancel(run, process.env.TEMPORAL_ADDRESS, io));
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
