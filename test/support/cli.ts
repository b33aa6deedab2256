/**
 * `mloe` in the test process: the program `bin/mloe.js` builds (`buildProgram`), with its output lines collected and
 * its exit code kept instead of ending the process.
 */
import { CommanderError, type Command } from 'commander';

import { buildProgram } from '../../clients/cli';
import { ensureError } from '../../core/errors';
import type { ConfigEnv } from '../../workers/config';

/** What a command printed, line by line, and the code it exited with. */
export interface CliResult {
  code: number;
  stdout: string[];
  stderr: string[];
}

/**
 * Runs `mloe <args>` in this process with `env` as its whole environment, as `main` in `clients/cli.ts` runs it: a
 * usage error of commander's (unknown option, missing argument) is its message on stderr and its exit code, any other
 * error thrown is `error: <message>` and exit code 1. Help text commander would print is dropped.
 */
export async function runMloe(args: readonly string[], env: ConfigEnv): Promise<CliResult> {
  const result: CliResult = { code: 0, stdout: [], stderr: [] };
  const program = buildProgram(
    { stdout: (line) => result.stdout.push(line), stderr: (line) => result.stderr.push(line) },
    (code) => {
      result.code = code;
    },
    env,
  );
  // Commander's own messages go to `stderr`, and its exits become errors: on every subcommand, as each has its own.
  const capture = (command: Command): void => {
    command.exitOverride();
    command.configureOutput({ writeErr: (text) => result.stderr.push(text.trimEnd()), writeOut: () => undefined });
    command.commands.forEach(capture);
  };
  capture(program);
  try {
    await program.parseAsync(['node', 'mloe', ...args]);
  } catch (error) {
    if (error instanceof CommanderError) result.code = error.exitCode;
    else {
      result.stderr.push(`error: ${ensureError(error).message}`);
      result.code = 1;
    }
  }
  return result;
}
