/**
 * `mloe executors sweep`: one orphan job sweep (`workers/executor-sweeper.ts`) for operators, with the executors the
 * worker configuration names (`--executor`, `MLOE_EXECUTORS`) and the namespace's Temporal: removes the unfinished
 * Kubernetes Jobs and Batch jobs of runs that have closed, or with `--dry-run` lists what it would remove. The CLI
 * loads this module only for this command.
 */
import { describeSweptJob, sweepOrphanJobs, type SweptJob } from '../activities/executors/sweep';
import { ensureError } from '../core/errors';
import { loadWorkerConfig, type ConfigEnv, type SettingFlags, type WorkerConfig } from '../workers/config';
import { runStateOf, sweepSources } from '../workers/executor-sweeper';
import { workerExecutors } from '../workers/pipeline-worker';
import { withConnectedClient } from './connection';
import type { StartDevIo } from './start-dev';

/** Flags of `mloe executors sweep`. */
export interface ExecutorsSweepFlags extends SettingFlags {
  dryRun?: boolean;
}

/** The summary line of a sweep. */
export function sweepSummary(swept: readonly SweptJob[], dryRun: boolean): string {
  const count = (action: SweptJob['action']): number => swept.filter((job) => job.action === action).length;
  const kept = count('kept');
  const failed = count('failed');
  return dryRun
    ? `dry run: ${count('would-remove')} job(s) would be removed, ${kept} kept; nothing was removed`
    : `${count('removed')} job(s) removed, ${kept} kept${failed === 0 ? '' : `, ${failed} could not be removed`}`;
}

/**
 * Runs one sweep and prints a line per unfinished job mloe manages (removed, would remove, kept and why), then a
 * summary. Exit code 1 when the configuration is invalid, no remote executor is configured, Temporal is unreachable
 * or a job could not be removed.
 */
export async function runExecutorsSweep(flags: ExecutorsSweepFlags, env: ConfigEnv, io: StartDevIo): Promise<number> {
  const { dryRun = false, ...settings } = flags;
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig({ env, flags: settings });
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  if (config.executors === undefined) {
    io.stderr(
      'error: no remote executor to sweep: pass --executor kubernetes,batch (or set MLOE_EXECUTORS) as for the ' +
        'workers that run remote steps',
    );
    return 1;
  }
  const executors = workerExecutors(config);
  try {
    return await withConnectedClient(config, io, async (client) => {
      const swept = await sweepOrphanJobs(sweepSources(executors), {
        namespace: config.namespace,
        describe: runStateOf(client),
        dryRun,
        warn: (message) => io.stderr(`warning: ${message}`),
      });
      for (const job of swept) io.stdout(describeSweptJob(job));
      io.stdout(sweepSummary(swept, dryRun));
      return swept.some((job) => job.action === 'failed') ? 1 : 0;
    });
  } finally {
    await Promise.all(Object.values(executors).map((executor) => executor.close()));
  }
}
