/**
 * The Kubernetes Job executor: one `batch/v1` Job per attempt (`./manifest.ts`), watched through the namespace's
 * shared informers (`./watcher.ts`), its pod's log followed into the step's logs, its outcome mapped to step errors
 * (`./status.ts`), its inputs and outputs moved by the staging containers (`../staging.ts`).
 *
 * Exactly one job per attempt: before creating, the executor lists the jobs of this execution (its
 * `mloe.dev/execution` label) and attaches to one that is still running or has succeeded, which is what a retry after
 * a worker crash finds; otherwise it creates the attempt's job under a deterministic name, and a 409 AlreadyExists
 * (a racing attempt) attaches too. A failed job is never attached to: the retry gets a new job.
 *
 * Cancellation deletes the job with `propagationPolicy: Foreground` and waits until its pods are gone. A worker that
 * shuts down leaves its jobs running: the next attempt attaches to them. Jobs the worker never returns to are deleted
 * by the TTL controller (`ttlSecondsAfterFinished`) once finished, and carry `app.kubernetes.io/managed-by=mloe` and
 * the run's workflow id for a sweep.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';

import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, Log, type V1Job } from '@kubernetes/client-node';

import { MloeError, ensureError } from '../../../core/errors';
import type { CommandStepResult } from '../../runner';
import { checkRequest } from '../../runner/contract';
import { isWorkerShutdown, type CommandExecutor, type ExecutionContext, type RemoteCommandRequest } from '../contract';
import { pause } from '../pause';
import { planStaging, removeStaging, requireS3Store, stagedStepResult, waitForStagedManifest } from '../staging';
import {
  parseKubernetesExecutorConfig,
  type KubernetesExecutorConfig,
  type KubernetesExecutorConfigInput,
} from './config';
import { MAIN_CONTAINER, STAGE_OUT_CONTAINER, buildJob } from './manifest';
import type { ManagedJob } from '../sweep';
import {
  ATTEMPT_LABEL,
  EXECUTION_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TEMPORAL_NAMESPACE_ANNOTATION,
  WORKFLOW_ANNOTATION,
  executionHash,
  jobName,
} from './names';
import { describePhase, jobOutcome } from './status';
import { JobWatcher } from './watcher';

/** Lines of the container log quoted in a failure. */
const LOG_TAIL_LINES = 20;
/** Re-read the job at least this often even without watch events (a missed event costs at most this). */
const RECHECK_MS = 10_000;
/** Presigned URLs of an attempt without a timeout live this long. */
const DEFAULT_URL_SECONDS = 24 * 3600;

/** An API failure as an `EXECUTOR_FAILED` error: retryable for 429, 5xx and network errors. */
export function apiError(what: string, error: unknown): MloeError {
  if (error instanceof MloeError) return error;
  const code = error instanceof ApiException ? error.code : undefined;
  let detail = ensureError(error).message.split('\n')[0] ?? '';
  if (error instanceof ApiException) {
    try {
      const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as { message?: string };
      if (body?.message) detail = `${code}: ${body.message}`;
    } catch {
      // Not a Status body.
    }
  }
  const retryable = code === undefined || code === 429 || code >= 500;
  return new MloeError('EXECUTOR_FAILED', `Kubernetes API: ${what} failed (${detail})`, { retryable, cause: error });
}

/** Whether an error is an API answer with this status code. */
function hasCode(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

function isFailed(job: V1Job): boolean {
  return (
    job.status?.conditions?.some((condition) => condition.type === 'Failed' && condition.status === 'True') ?? false
  );
}

/** Whether a job has finished (its `Complete` or `Failed` condition is true). */
function isFinished(job: V1Job): boolean {
  return (
    job.status?.conditions?.some(
      (condition) => (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
    ) ?? false
  );
}

/** A job as the orphan sweep sees it. */
function managedJob(job: V1Job, namespace: string): ManagedJob {
  const annotations = job.metadata?.annotations ?? {};
  const workflowId = annotations[WORKFLOW_ANNOTATION];
  const temporalNamespace = annotations[TEMPORAL_NAMESPACE_ANNOTATION];
  const name = job.metadata?.name ?? '';
  return {
    executor: 'kubernetes',
    id: name,
    name,
    where: job.metadata?.namespace ?? namespace,
    ...(workflowId === undefined ? {} : { workflowId }),
    ...(temporalNamespace === undefined ? {} : { temporalNamespace }),
    status: (job.status?.active ?? 0) > 0 ? 'Running' : 'Pending',
  };
}

/** Follows the main container's log into a file. */
class LogFollower {
  readonly done: Promise<void>;

  private constructor(
    readonly path: string,
    done: Promise<void>,
  ) {
    this.done = done;
  }

  static async start(log: Log, namespace: string, pod: string, path: string): Promise<LogFollower> {
    const through = new PassThrough();
    const file = createWriteStream(path);
    through.pipe(file);
    await log.log(namespace, pod, MAIN_CONTAINER, through, { follow: true });
    return new LogFollower(
      path,
      finished(file).catch(() => undefined),
    );
  }

  /** The last lines of what was logged. */
  async tail(): Promise<string> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    return text.replace(/\s+$/, '').split('\n').slice(-LOG_TAIL_LINES).join('\n');
  }
}

/** Runs command steps as Kubernetes Jobs. */
export class KubernetesExecutor implements CommandExecutor {
  readonly kind = 'kubernetes' as const;
  readonly config: KubernetesExecutorConfig;
  readonly kubeConfig: KubeConfig;
  readonly batch: BatchV1Api;
  readonly core: CoreV1Api;
  private readonly log: Log;
  private readonly watchers = new Map<string, Promise<JobWatcher>>();

  constructor(input: KubernetesExecutorConfigInput = {}) {
    this.config = parseKubernetesExecutorConfig(input);
    this.kubeConfig = new KubeConfig();
    if (this.config.kubeconfig !== undefined) this.kubeConfig.loadFromString(this.config.kubeconfig);
    else if (this.config.kubeconfigPath !== undefined) this.kubeConfig.loadFromFile(this.config.kubeconfigPath);
    else this.kubeConfig.loadFromDefault();
    this.batch = this.kubeConfig.makeApiClient(BatchV1Api);
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.log = new Log(this.kubeConfig);
  }

  /** The namespace of steps that name none: the configured one, the kubeconfig context's, else `default`. */
  get defaultNamespace(): string {
    const context = this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext());
    return this.config.namespace ?? context?.namespace ?? 'default';
  }

  /** The shared watch of a namespace, started on first use. */
  watcher(namespace: string): Promise<JobWatcher> {
    let watcher = this.watchers.get(namespace);
    if (watcher === undefined) {
      watcher = JobWatcher.start(this.kubeConfig, namespace).catch((error: unknown) => {
        this.watchers.delete(namespace);
        throw apiError(`watching jobs in namespace ${namespace}`, error);
      });
      this.watchers.set(namespace, watcher);
    }
    return watcher;
  }

  async run(request: RemoteCommandRequest, context: ExecutionContext): Promise<CommandStepResult> {
    checkRequest(request);
    const started = performance.now();
    const store = requireS3Store(context.store, 'kubernetes');
    const namespace = request.placement.kubernetes?.namespace ?? this.defaultNamespace;
    const label = request.index === undefined ? request.stepId : `${request.stepId}[${request.index}]`;
    const watcher = await this.watcher(namespace);
    const { name, createdByAttempt } = await this.createOrAttach(request, context, namespace, store);
    const report = (phase: string): void =>
      context.progress({ executor: 'kubernetes', job: name, where: namespace, phase, createdByAttempt });
    report('Pending');

    const directory = await mkdtemp(join(tmpdir(), 'mloe-kube-log-'));
    const logPath = join(directory, 'main.log');
    await writeFile(logPath, '');
    let follower: LogFollower | undefined;
    try {
      let lastPhase = '';
      let seen = false;
      for (;;) {
        if (context.signal.aborted)
          return await this.cancelled(context.signal, namespace, name, watcher, store, request);
        const job = watcher.job(name) ?? (await this.readJob(namespace, name));
        if (job === undefined) {
          if (seen) {
            throw new MloeError(
              'STEP_INFRASTRUCTURE_FAILED',
              `step ${label}: job ${name} was deleted before it finished (by hand, or by a sweep)`,
              { retryable: true },
            );
          }
          await watcher.changed(name, context.signal, 1_000);
          seen = (await this.readJob(namespace, name)) !== undefined;
          if (!seen)
            throw new MloeError('STEP_INFRASTRUCTURE_FAILED', `step ${label}: job ${name} no longer exists`, {
              retryable: true,
            });
          continue;
        }
        seen = true;
        const { pod, deleted } = watcher.lastPod(name);
        const main = pod?.status?.containerStatuses?.find((status) => status.name === MAIN_CONTAINER);
        if (follower === undefined && pod?.metadata?.name && (main?.state?.running || main?.state?.terminated)) {
          follower = await LogFollower.start(this.log, namespace, pod.metadata.name, logPath).catch(() => undefined);
        }
        const outcome = jobOutcome(job, pod, label, deleted);
        const phase = outcome.state === 'running' ? outcome.phase : describePhase(job, pod);
        if (phase !== lastPhase) {
          lastPhase = phase;
          report(phase);
        }
        if (outcome.state === 'running') {
          await watcher.changed(name, context.signal, RECHECK_MS);
          continue;
        }
        const grace = new AbortController();
        await Promise.race([follower?.done, pause(5_000, grace.signal)]);
        grace.abort();
        if (outcome.state === 'failed') {
          if (outcome.deleteJob) await this.deleteJob(namespace, name, 'Background').catch(() => undefined);
          watcher.forget(name);
          throw outcome.error((await follower?.tail()) ?? '');
        }
        break;
      }
      const manifest = await this.waitForManifest(store, name, namespace, label, watcher, context.signal);
      if (manifest === 'cancelled')
        return await this.cancelled(context.signal, namespace, name, watcher, store, request);
      const result = await stagedStepResult(store, request, name, manifest, { path: logPath, startedAt: started });
      watcher.forget(name);
      return result;
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  /** Attaches to a running or succeeded job of this execution, or creates this attempt's job. */
  private async createOrAttach(
    request: RemoteCommandRequest,
    context: ExecutionContext,
    namespace: string,
    store: ReturnType<typeof requireS3Store>,
  ): Promise<{ name: string; createdByAttempt: number }> {
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY},${EXECUTION_LABEL}=${executionHash(request)}`;
    const existing = await this.batch
      .listNamespacedJob({ namespace, labelSelector: selector })
      .catch((error: unknown) => {
        throw apiError(`listing the jobs of step ${request.stepId}`, error);
      });
    const attachable = existing.items
      .filter((job) => !isFailed(job) && job.metadata?.deletionTimestamp === undefined)
      .map((job) => ({
        name: job.metadata?.name ?? '',
        createdByAttempt: Number(job.metadata?.labels?.[ATTEMPT_LABEL] ?? 0),
      }))
      .sort((a, b) => b.createdByAttempt - a.createdByAttempt)[0];
    if (attachable !== undefined) return attachable;

    const name = jobName(request, context.attempt);
    context.progress({
      executor: 'kubernetes',
      job: name,
      where: namespace,
      phase: 'Creating',
      createdByAttempt: context.attempt,
    });
    const expires = context.timeoutMs === undefined ? DEFAULT_URL_SECONDS : context.timeoutMs / 1000 + 3600;
    const staging = await planStaging(store, request, name, expires);
    const body = buildJob({
      name,
      namespace,
      attempt: context.attempt,
      request,
      staging,
      config: this.config,
      ...(context.timeoutMs === undefined ? {} : { deadlineSeconds: context.timeoutMs / 1000 }),
    });
    try {
      await this.batch.createNamespacedJob({ namespace, body });
    } catch (error) {
      // The attempt's job exists already (a racing attempt, or a retry of this very call): attach to it.
      if (!hasCode(error, 409)) throw apiError(`creating job ${name} in namespace ${namespace}`, error);
    }
    return { name, createdByAttempt: context.attempt };
  }

  private async readJob(namespace: string, name: string): Promise<V1Job | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace });
    } catch (error) {
      if (hasCode(error, 404)) return undefined;
      throw apiError(`reading job ${name}`, error);
    }
  }

  /** Deletes a job and, with the policy, its pods; a job already gone is fine. */
  async deleteJob(namespace: string, name: string, propagationPolicy: 'Foreground' | 'Background'): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace, propagationPolicy });
    } catch (error) {
      if (!hasCode(error, 404)) throw apiError(`deleting job ${name}`, error);
    }
  }

  /** The stage-out manifest, waited for a little (the job can complete a moment before the upload is visible). */
  private async waitForManifest(
    store: ReturnType<typeof requireS3Store>,
    name: string,
    namespace: string,
    label: string,
    watcher: JobWatcher,
    signal: AbortSignal,
  ): Promise<string[] | 'cancelled'> {
    const manifest = await waitForStagedManifest(store, name, {
      waitMs: this.config.manifestWaitMs,
      intervalMs: this.config.pollIntervalMs,
      signal,
    });
    if (manifest !== undefined) return manifest;
    const pod = watcher.lastPod(name).pod?.metadata?.name;
    let tail = '';
    if (pod !== undefined) {
      tail = await this.core
        .readNamespacedPodLog({ name: pod, namespace, container: STAGE_OUT_CONTAINER, tailLines: LOG_TAIL_LINES })
        .then((text) => String(text))
        .catch(() => '');
    }
    throw new MloeError(
      'STEP_STAGING_FAILED',
      `step ${label}: job ${name} completed but its outputs were not uploaded (no manifest from ${STAGE_OUT_CONTAINER} ` +
        `within ${this.config.manifestWaitMs} ms; it needs Kubernetes 1.29+ native sidecars and a reachable store)` +
        (tail === '' ? '' : `; last lines of its log:\n${tail}`),
      { retryable: true },
    );
  }

  /**
   * The activity was cancelled: a worker shutting down leaves the job for the next attempt; anything else deletes it
   * with its pods and waits until they are gone. Rethrows the cancellation.
   */
  private async cancelled(
    signal: AbortSignal,
    namespace: string,
    name: string,
    watcher: JobWatcher,
    store: ReturnType<typeof requireS3Store>,
    request: RemoteCommandRequest,
  ): Promise<never> {
    if (!isWorkerShutdown(signal)) {
      await this.deleteJob(namespace, name, 'Foreground');
      const waiting = AbortSignal.timeout(this.config.deleteWaitMs);
      while (!waiting.aborted && (watcher.job(name) !== undefined || watcher.podsOf(name).length > 0)) {
        await watcher.changed(name, waiting, this.config.pollIntervalMs * 4);
      }
      await removeStaging(store, request, name);
      watcher.forget(name);
    }
    throw ensureError(signal.reason);
  }

  /**
   * The unfinished jobs mloe manages, for the orphan sweep: cluster-wide when the worker may list jobs in all
   * namespaces, else (403) in the default namespace and those this executor has used, with a warning.
   */
  async listManagedJobs(warn: (message: string) => void): Promise<ManagedJob[]> {
    const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    let jobs: { job: V1Job; namespace: string }[];
    try {
      const listed = await this.batch.listJobForAllNamespaces({ labelSelector });
      jobs = listed.items.map((job) => ({ job, namespace: job.metadata?.namespace ?? '' }));
    } catch (error) {
      if (!hasCode(error, 403)) throw apiError('listing the jobs mloe manages', error);
      const namespaces = [...new Set([this.defaultNamespace, ...this.watchers.keys()])];
      warn(
        `may not list jobs in all namespaces (403); sweeping ${namespaces.join(', ')} only (grant list on jobs ` +
          'cluster-wide to sweep every namespace)',
      );
      jobs = [];
      for (const namespace of namespaces) {
        const listed = await this.batch.listNamespacedJob({ namespace, labelSelector }).catch((cause: unknown) => {
          throw apiError(`listing the jobs mloe manages in namespace ${namespace}`, cause);
        });
        jobs.push(...listed.items.map((job) => ({ job, namespace })));
      }
    }
    return jobs
      .filter(({ job }) => !isFinished(job) && job.metadata?.deletionTimestamp === undefined)
      .map(({ job, namespace }) => managedJob(job, namespace));
  }

  /** Deletes a job of the sweep with its pods (`Foreground`); one already gone is fine. */
  async removeJob(job: ManagedJob): Promise<void> {
    await this.deleteJob(job.where, job.id, 'Foreground');
  }

  async close(): Promise<void> {
    const watchers = [...this.watchers.values()];
    this.watchers.clear();
    await Promise.all(watchers.map(async (watcher) => (await watcher.catch(() => undefined))?.stop()));
  }
}
