/**
 * Warms tsx's on-disk transform cache for mloe's executables before any suite spawns them.
 *
 * `bin/mloe.js` and `bin/mloe-test-server.js` compile our TypeScript in-process through tsx, which keeps what it
 * compiled in a cache under the system's temporary directory. On a clean clone that cache is empty, and the first
 * spawn compiles the whole module graph: on a loaded 2-core machine that took longer than the five seconds the
 * Temporal SDK gives a time-skipping test server to start (`TestWorkflowEnvironment.createTimeSkipping`, a fixed
 * deadline in its core), and it made the first `mloe` process of a suite slow. Loading both graphs once here, in a
 * child process, fills the cache for every later spawn.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const REPO = resolve(__dirname, '..');

/** Loads (without running) what both executables load. Resolves when done; rejects with the child's stderr. */
export async function warmExecutables(): Promise<void> {
  const script = [
    "require('./bin/register-tsx').registerTsx();",
    "require('./infra/test-server/main');",
    "require('./clients/cli');",
  ].join(' ');
  try {
    await promisify(execFile)(process.execPath, ['-e', script], { cwd: REPO, timeout: 300_000 });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(`warming the mloe executables failed: ${typeof stderr === 'string' ? stderr : String(error)}`, {
      cause: error,
    });
  }
}
