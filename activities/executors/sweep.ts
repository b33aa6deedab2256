/**
 * The orphan job sweep: Kubernetes Jobs and AWS Batch jobs mloe created for a run that has closed without telling
 * its step (a terminated run, or one that timed out, while no worker watched the job: a worker that died, or shut
 * down, leaves its jobs for the next attempt, and a closed run has none). A finished job goes on its own (the TTL
 * controller, Batch's history); an unfinished one would run to its end, holding its GPUs. The sweep lists the
 * unfinished jobs each executor manages (`app.kubernetes.io/managed-by=mloe`), asks Temporal about each job's run and
 * removes the jobs of runs that have closed: a Kubernetes Job deleted with `propagationPolicy: Foreground`, a Batch
 * job terminated.
 *
 * What it never touches: jobs of runs that are running; jobs of another Temporal namespace (each job names its own,
 * `mloe.dev/temporal-namespace`), or that name none (created before jobs did, or by something else); and jobs whose run
 * Temporal does not know (another Temporal cluster's, or past retention): those are reported and left to the TTL.
 */
import { ensureError } from '../../core/errors';
import type { ExecutorKind } from '../../core/spec';

/** An unfinished job an executor manages, as the sweep sees it. */
export interface ManagedJob {
  executor: Exclude<ExecutorKind, 'local'>;
  /** What removes it: the Job's name (Kubernetes), the job id (Batch). */
  id: string;
  /** The job's name. */
  name: string;
  /** The Kubernetes namespace, or the Batch job queue. */
  where: string;
  /** The run's workflow id (`mloe.dev/workflow-id`), when the job names one. */
  workflowId?: string;
  /** The run's Temporal namespace (`mloe.dev/temporal-namespace`), when the job names one. */
  temporalNamespace?: string;
  /** The job's state as the executor's API has it (`Running`, `Pending`, `RUNNABLE`, ...). */
  status: string;
}

/** What an executor offers the sweep. */
export interface OrphanJobSource {
  readonly kind: Exclude<ExecutorKind, 'local'>;
  /** The unfinished jobs it manages; `warn` hears of what it could not list (a namespace it may not read). */
  listManagedJobs(warn: (message: string) => void): Promise<ManagedJob[]>;
  /** Removes a job (and its pods); one already gone is fine. */
  removeJob(job: ManagedJob, reason: string): Promise<void>;
}

/** What Temporal says of a run, as the sweep needs it. */
export type RunState = { state: 'open' } | { state: 'not-found' } | { state: 'closed'; status: string };

/** What the sweep did with one job. */
export interface SweptJob {
  job: ManagedJob;
  /** `removed`; `would-remove` in a dry run; `kept` with the reason; `failed` when the removal failed. */
  action: 'removed' | 'would-remove' | 'kept' | 'failed';
  /** Why, in words (`its run is TERMINATED`, `its run is running`, ...). */
  reason: string;
}

/** Options of {@link sweepOrphanJobs}. */
export interface SweepOptions {
  /** The Temporal namespace the sweep asks about; jobs of any other are kept. */
  namespace: string;
  /** Asks Temporal about a run by workflow id. */
  describe: (workflowId: string) => Promise<RunState>;
  /** List what would be removed, remove nothing. */
  dryRun?: boolean;
  /** Where listing problems go. */
  warn?: (message: string) => void;
}

/** The jobs of every source and what the sweep did with each (see the module doc). */
export async function sweepOrphanJobs(sources: readonly OrphanJobSource[], options: SweepOptions): Promise<SweptJob[]> {
  const warn = options.warn ?? (() => undefined);
  const states = new Map<string, Promise<RunState>>();
  const stateOf = (workflowId: string): Promise<RunState> => {
    let state = states.get(workflowId);
    if (state === undefined) {
      state = options.describe(workflowId);
      states.set(workflowId, state);
    }
    return state;
  };
  const swept: SweptJob[] = [];
  for (const source of sources) {
    let jobs: ManagedJob[];
    try {
      jobs = await source.listManagedJobs(warn);
    } catch (error) {
      warn(`listing the ${source.kind} jobs failed: ${ensureError(error).message}`);
      continue;
    }
    for (const job of jobs) {
      const kept = (reason: string): void => void swept.push({ job, action: 'kept', reason });
      if (job.temporalNamespace === undefined) {
        kept('it names no Temporal namespace');
        continue;
      }
      if (job.temporalNamespace !== options.namespace) {
        kept(`it belongs to Temporal namespace ${job.temporalNamespace}`);
        continue;
      }
      if (job.workflowId === undefined) {
        kept('it names no run');
        continue;
      }
      let run: RunState;
      try {
        run = await stateOf(job.workflowId);
      } catch (error) {
        kept(`Temporal could not say whether its run is open (${ensureError(error).message})`);
        continue;
      }
      if (run.state === 'open') {
        kept('its run is running');
        continue;
      }
      if (run.state === 'not-found') {
        kept(`Temporal namespace ${options.namespace} does not know its run (another cluster's, or past retention)`);
        continue;
      }
      const reason = `its run is ${run.status}`;
      if (options.dryRun === true) {
        swept.push({ job, action: 'would-remove', reason });
        continue;
      }
      try {
        await source.removeJob(job, reason);
        swept.push({ job, action: 'removed', reason });
      } catch (error) {
        swept.push({ job, action: 'failed', reason: `${reason}; removing it failed: ${ensureError(error).message}` });
      }
    }
  }
  return swept;
}

/** One line about a swept job, for logs and the CLI. */
export function describeSweptJob(swept: SweptJob): string {
  const { job } = swept;
  const what = `${job.executor} job ${job.name} (${job.executor === 'kubernetes' ? 'namespace' : 'queue'} ${job.where}, ${job.status})`;
  const run = job.workflowId === undefined ? '' : ` of run ${job.workflowId}`;
  switch (swept.action) {
    case 'removed':
      return `removed ${what}${run}: ${swept.reason}`;
    case 'would-remove':
      return `would remove ${what}${run}: ${swept.reason}`;
    case 'failed':
      return `could not remove ${what}${run}: ${swept.reason}`;
    case 'kept':
      return `kept ${what}${run}: ${swept.reason}`;
  }
}
