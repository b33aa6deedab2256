/**
 * One list+watch of mloe's jobs and one of their pods per namespace, shared by every step a worker runs there
 * (client-node informers: a list, then a watch from its resourceVersion, re-listing when the watch expires). A step
 * waits for changes to its own job; a thousand jobs cost two watch connections, not a thousand polls.
 */
import {
  BatchV1Api,
  CoreV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type ObjectCache,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';

import { JOB_NAME_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './names';

/** How long an informer waits before restarting after its watch failed. */
const RESTART_DELAY_MS = 1_000;

type Cached<T extends object> = Informer<T & { metadata?: { name?: string } }> & ObjectCache<T>;

/** The shared watch of one namespace. */
export class JobWatcher {
  private readonly jobs: Cached<V1Job>;
  private readonly pods: Cached<V1Pod>;
  private readonly lastPods = new Map<string, V1Pod>();
  private readonly deletedPods = new Set<string>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private stopped = false;

  private constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    const batch = kubeConfig.makeApiClient(BatchV1Api);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.jobs = makeInformer<V1Job>(
      kubeConfig,
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      () => batch.listNamespacedJob({ namespace, labelSelector: selector }),
      selector,
    );
    this.pods = makeInformer<V1Pod>(
      kubeConfig,
      `/api/v1/namespaces/${namespace}/pods`,
      () => core.listNamespacedPod({ namespace, labelSelector: selector }),
      selector,
    );
    const onJob = (job: V1Job): void => this.notify(job.metadata?.name);
    const onPod = (pod: V1Pod): void => {
      const job = pod.metadata?.labels?.[JOB_NAME_LABEL];
      if (job !== undefined) this.lastPods.set(job, pod);
      this.notify(job);
    };
    const onPodDeleted = (pod: V1Pod): void => {
      const job = pod.metadata?.labels?.[JOB_NAME_LABEL];
      if (job !== undefined) this.deletedPods.add(job);
      onPod(pod);
    };
    for (const informer of [this.jobs, this.pods] as Informer<V1Job | V1Pod>[]) {
      informer.on('error', () => {
        if (this.stopped) return;
        // The watch broke (or the list failed): start again, which lists anew and so misses nothing.
        setTimeout(() => {
          if (!this.stopped) informer.start().catch(() => undefined);
        }, RESTART_DELAY_MS).unref();
        this.notifyAll();
      });
    }
    this.jobs.on('add', onJob);
    this.jobs.on('update', onJob);
    this.jobs.on('delete', onJob);
    this.pods.on('add', onPod);
    this.pods.on('update', onPod);
    this.pods.on('delete', onPodDeleted);
  }

  /** Starts watching a namespace; resolves once both lists are in. */
  static async start(kubeConfig: KubeConfig, namespace: string): Promise<JobWatcher> {
    const watcher = new JobWatcher(kubeConfig, namespace);
    await Promise.all([watcher.jobs.start(), watcher.pods.start()]);
    return watcher;
  }

  /** The job as last seen, or undefined. */
  job(name: string): V1Job | undefined {
    return this.jobs.get(name, this.namespace);
  }

  /** The job's pods that exist now. */
  podsOf(name: string): V1Pod[] {
    return this.pods.list(this.namespace).filter((pod) => pod.metadata?.labels?.[JOB_NAME_LABEL] === name);
  }

  /** The job's newest pod as last seen, even if it is gone since, and whether one was deleted. */
  lastPod(name: string): { pod: V1Pod | undefined; deleted: boolean } {
    const live = this.podsOf(name).sort((a, b) =>
      String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')),
    )[0];
    return { pod: live ?? this.lastPods.get(name), deleted: this.deletedPods.has(name) };
  }

  /** Resolves at the next change to the job or its pods (or after `timeoutMs`, or when `signal` aborts). */
  changed(name: string, signal: AbortSignal, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(name) ?? new Set();
      this.waiters.set(name, set);
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(name);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Forgets what it remembers about a job the step is done with. */
  forget(name: string): void {
    this.lastPods.delete(name);
    this.deletedPods.delete(name);
  }

  private notify(name: string | undefined): void {
    if (name === undefined) return;
    for (const waiter of [...(this.waiters.get(name) ?? [])]) waiter();
  }

  private notifyAll(): void {
    for (const name of [...this.waiters.keys()]) this.notify(name);
  }

  /** Stops both watches. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.jobs.stop(), this.pods.stop()]).catch(() => undefined);
    this.notifyAll();
  }
}
