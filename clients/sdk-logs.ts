/** Runtime logging for the CLI commands that run a worker in-process. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

/**
 * Keeps the Temporal SDK's own logs to warnings and errors, minus the warnings for failed activities and workflows:
 * the commands report those themselves, in one line instead of a stack trace.
 */
export function quietSdkLogs(): void {
  const reportedByCommand = new Set(['Activity failed', 'Workflow failed']);
  const fallback = new DefaultLogger('WARN');
  const logger = new DefaultLogger('WARN', (entry) => {
    if (!reportedByCommand.has(entry.message)) fallback.log(entry.level, entry.message, entry.meta);
  });
  try {
    Runtime.install({ logger });
  } catch {
    // A runtime is already installed (e.g. by a test setup file); keep it.
  }
}
