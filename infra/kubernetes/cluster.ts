/**
 * The simulated cluster behind the Kubernetes API test server: a job controller (one pod per job at a time, retried
 * up to `backoffLimit`, `activeDeadlineSeconds`, `ttlSecondsAfterFinished`, deletion with `Background`, `Foreground`
 * or `Orphan` propagation) and a kubelet that plays each pod's scenario (`./scenarios.ts`): local processes, or the
 * scripted failure states. Status shapes follow the batch/v1 and core/v1 API reference.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ObjectStore, type KubeObject } from './objects';
import { ContainerLog, startContainer, type ContainerSpec, type RunningContainer } from './pod-runner';
import { scenarioOf } from './scenarios';

/** The node every simulated pod is scheduled to. */
export const NODE_NAME = 'mloe-test-node';

/** Counters tests assert on. */
export interface ClusterStats {
  /** Successful job creations, by `namespace/name`. */
  jobsCreated: Map<string, number>;
  /** Create calls refused with AlreadyExists. */
  jobConflicts: number;
  /** Pods created. */
  podsCreated: number;
}

interface PodState {
  logs: Map<string, ContainerLog>;
  running: Map<string, RunningContainer>;
  directory?: string;
  stopped: boolean;
  timers: NodeJS.Timeout[];
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

type Spec = Record<string, unknown>;
const podSpecOf = (
  pod: KubeObject,
): {
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  volumes?: { name: string; emptyDir?: object }[];
  terminationGracePeriodSeconds?: number;
} => pod.spec as never;

/** How a scripted scenario that runs ends: the pod's phase and reason, its condition, the main container's end. */
interface ScriptedEnding {
  phase: 'Succeeded' | 'Failed';
  reason?: string;
  message?: string;
  disruption?: { reason: string; message: string };
  terminated: { exitCode: number; reason: string; message?: string };
}

/** The endings of the scenarios that run before they end. */
const SCRIPTED_ENDINGS: Readonly<Record<string, ScriptedEnding>> = {
  succeed: { phase: 'Succeeded', terminated: { exitCode: 0, reason: 'Completed' } },
  oom: { phase: 'Failed', terminated: { exitCode: 137, reason: 'OOMKilled' } },
  evicted: {
    phase: 'Failed',
    reason: 'Evicted',
    message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51Mi. ',
    disruption: { reason: 'TerminationByKubelet', message: 'The node was low on resource: memory.' },
    terminated: {
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
      message: 'The container could not be located when the pod was terminated',
    },
  },
  'node-lost': {
    phase: 'Failed',
    disruption: { reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' },
    terminated: {
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
      message: 'The container could not be located when the pod was deleted. The container used to be Running',
    },
  },
};

/** The simulated control plane and node. */
export class SimulatedCluster {
  readonly stats: ClusterStats = { jobsCreated: new Map(), jobConflicts: 0, podsCreated: 0 };
  private readonly pods = new Map<string, PodState>();
  private readonly jobTimers = new Map<string, NodeJS.Timeout[]>();
  private closed = false;

  constructor(readonly store: ObjectStore) {}

  /** Starts the job's first pod and its deadline. */
  jobCreated(job: KubeObject): void {
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    this.stats.jobsCreated.set(key, (this.stats.jobsCreated.get(key) ?? 0) + 1);
    this.store.update('jobs', job.metadata.namespace, job.metadata.name, (object) => {
      object.status = { startTime: now(), active: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {} };
    });
    const deadline = (job.spec as { activeDeadlineSeconds?: number }).activeDeadlineSeconds;
    if (typeof deadline === 'number') {
      this.jobTimer(
        key,
        setTimeout(() => void this.deadlineExceeded(job.metadata.namespace, job.metadata.name), deadline * 1000),
      );
    }
    this.createPod(job);
  }

  private jobTimer(key: string, timer: NodeJS.Timeout): void {
    timer.unref();
    const timers = this.jobTimers.get(key) ?? [];
    timers.push(timer);
    this.jobTimers.set(key, timers);
  }

  private createPod(job: KubeObject): void {
    const template =
      (
        job.spec as {
          template?: {
            metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
            spec?: Spec;
          };
        }
      ).template ?? {};
    const name = `${job.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const jobLabels = {
      'batch.kubernetes.io/controller-uid': job.metadata.uid,
      'batch.kubernetes.io/job-name': job.metadata.name,
      'controller-uid': job.metadata.uid,
      'job-name': job.metadata.name,
    };
    const spec = structuredClone(template.spec ?? {});
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: job.metadata.namespace,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        generateName: `${job.metadata.name}-`,
        labels: { ...template.metadata?.labels, ...jobLabels },
        ...(template.metadata?.annotations === undefined ? {} : { annotations: { ...template.metadata.annotations } }),
        ownerReferences: [
          { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true },
        ],
      },
      spec: { ...spec, nodeName: NODE_NAME },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }],
        qosClass: 'Burstable',
      },
    };
    this.store.create('pods', pod);
    this.stats.podsCreated += 1;
    const state: PodState = { logs: new Map(), running: new Map(), stopped: false, timers: [] };
    this.pods.set(`${pod.metadata.namespace}/${name}`, state);
    void this.play(pod, state).catch((error: unknown) => {
      this.setPod(pod, (status) => {
        status.phase = 'Failed';
        status.reason = 'SimulatorError';
        status.message = error instanceof Error ? error.message : String(error);
      });
    });
  }

  private setPod(pod: KubeObject, change: (status: Record<string, unknown>) => void): KubeObject | undefined {
    const state = this.pods.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    if (state === undefined || this.closed) return undefined;
    const updated = this.store.update('pods', pod.metadata.namespace, pod.metadata.name, (object) => {
      object.status ??= {};
      change(object.status);
    });
    if (updated !== undefined) {
      const phase = updated.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') this.podFinished(updated);
    }
    return updated;
  }

  private static statuses(containers: ContainerSpec[], state: Record<string, unknown>): Record<string, unknown>[] {
    return containers.map((container) => ({
      name: container.name,
      image: container.image ?? '',
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state,
    }));
  }

  private static setContainer(
    status: Record<string, unknown>,
    field: 'containerStatuses' | 'initContainerStatuses',
    name: string,
    state: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): void {
    const list = (status[field] as Record<string, unknown>[] | undefined) ?? [];
    const entry = list.find((item) => item.name === name);
    if (entry !== undefined) Object.assign(entry, { state, ...extra });
  }

  /** Plays a pod's scenario through to its end (or its deletion). */
  private async play(pod: KubeObject, state: PodState): Promise<void> {
    const spec = podSpecOf(pod);
    const main = spec.containers[0];
    const scenario = scenarioOf(main?.image);
    const initContainers = spec.initContainers ?? [];
    for (const container of [...initContainers, ...spec.containers]) state.logs.set(container.name, new ContainerLog());
    this.setPod(pod, (status) => {
      status.initContainerStatuses = SimulatedCluster.statuses(initContainers, {
        waiting: { reason: 'PodInitializing' },
      });
      status.containerStatuses = SimulatedCluster.statuses(spec.containers, {
        waiting: { reason: initContainers.length > 0 ? 'PodInitializing' : 'ContainerCreating' },
      });
      status.hostIP = '127.0.0.1';
      status.podIP = '127.0.0.1';
      status.startTime = now();
    });
    const endAll = (): void => state.logs.forEach((log) => log.end());

    switch (scenario) {
      case 'imagepull': {
        const image = main?.image ?? '';
        this.setPod(pod, (status) =>
          SimulatedCluster.setContainer(status, 'containerStatuses', main?.name ?? '', {
            waiting: {
              reason: 'ErrImagePull',
              message: `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`,
            },
          }),
        );
        this.later(state, 50, () =>
          this.setPod(pod, (status) =>
            SimulatedCluster.setContainer(status, 'containerStatuses', main?.name ?? '', {
              waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` },
            }),
          ),
        );
        return;
      }
      case 'oom':
      case 'evicted':
      case 'node-lost':
      case 'hang':
      case 'succeed': {
        const started = now();
        this.setPod(pod, (status) => {
          status.phase = 'Running';
          for (const container of initContainers) {
            SimulatedCluster.setContainer(status, 'initContainerStatuses', container.name, {
              terminated: { exitCode: 0, reason: 'Completed', startedAt: started, finishedAt: started },
            });
          }
          SimulatedCluster.setContainer(
            status,
            'containerStatuses',
            main?.name ?? '',
            { running: { startedAt: started } },
            { started: true, ready: true },
          );
        });
        const mainLog = state.logs.get(main?.name ?? '');
        mainLog?.append(Buffer.from(`simulated ${scenario} container started\n`));
        if (scenario === 'hang') return;
        const duration = Number(pod.metadata.annotations?.['mloe.dev/test-duration-ms'] ?? 20);
        this.later(state, Number.isFinite(duration) ? duration : 20, () => {
          endAll();
          const ending = SCRIPTED_ENDINGS[scenario];
          if (ending === undefined) return;
          this.setPod(pod, (status) => {
            status.phase = ending.phase;
            if (ending.reason !== undefined) [status.reason, status.message] = [ending.reason, ending.message];
            if (ending.disruption !== undefined) {
              status.conditions = [
                ...((status.conditions as object[]) ?? []),
                { type: 'DisruptionTarget', status: 'True', ...ending.disruption, lastTransitionTime: now() },
              ];
            }
            SimulatedCluster.setContainer(
              status,
              'containerStatuses',
              main?.name ?? '',
              { terminated: { ...ending.terminated, startedAt: started, finishedAt: now() } },
              ending.phase === 'Succeeded' || ending.terminated.reason === 'OOMKilled' ? { ready: false } : {},
            );
          });
          if (scenario === 'node-lost') {
            this.later(state, 20, () => void this.removePod(pod.metadata.namespace, pod.metadata.name));
          }
        });
        return;
      }
      case 'local':
        await this.runLocal(pod, state, spec, initContainers);
        return;
    }
  }

  private later(state: PodState, ms: number, body: () => void): void {
    const timer = setTimeout(() => {
      if (!state.stopped) body();
    }, ms);
    timer.unref();
    state.timers.push(timer);
  }

  private async runLocal(
    pod: KubeObject,
    state: PodState,
    spec: ReturnType<typeof podSpecOf>,
    initContainers: ContainerSpec[],
  ): Promise<void> {
    state.directory = await mkdtemp(join(tmpdir(), `mloe-kube-pod-${pod.metadata.name}-`));
    const volumes = new Map<string, string>();
    for (const volume of spec.volumes ?? [])
      volumes.set(volume.name, await mkdtemp(join(state.directory, `${volume.name}-`)));
    const graceMs = (spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const sidecars: RunningContainer[] = [];
    const terminated = (exitCode: number, startedAt: string) => ({
      terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt: now() },
    });

    const start = async (
      container: ContainerSpec,
      field: 'containerStatuses' | 'initContainerStatuses',
    ): Promise<RunningContainer | undefined> => {
      if (state.stopped) return undefined;
      const log = state.logs.get(container.name) ?? new ContainerLog();
      try {
        const running = await startContainer(
          container,
          volumes,
          volumes.values().next().value ?? state.directory ?? tmpdir(),
          log,
        );
        state.running.set(container.name, running);
        return running;
      } catch (error) {
        log.append(Buffer.from(`exec: ${error instanceof Error ? error.message : String(error)}\n`));
        log.end();
        this.setPod(pod, (status) =>
          SimulatedCluster.setContainer(status, field, container.name, {
            terminated: {
              exitCode: 128,
              reason: 'StartError',
              message: `failed to create containerd task: exec: "${container.command?.[0] ?? ''}": executable file not found in $PATH`,
              startedAt: now(),
              finishedAt: now(),
            },
          }),
        );
        return undefined;
      }
    };
    const stopSidecars = async (): Promise<void> => {
      await Promise.all(sidecars.map((sidecar) => sidecar.terminate(graceMs)));
    };

    for (const container of initContainers) {
      const startedAt = now();
      const running = await start(container, 'initContainerStatuses');
      if (running === undefined) {
        await stopSidecars();
        this.setPod(pod, (status) => void (status.phase = 'Failed'));
        return;
      }
      this.setPod(pod, (status) =>
        SimulatedCluster.setContainer(
          status,
          'initContainerStatuses',
          container.name,
          { running: { startedAt } },
          { started: true },
        ),
      );
      if (container.restartPolicy === 'Always') {
        sidecars.push(running);
        void running.exited.then(({ exitCode }) => {
          state.logs.get(container.name)?.end();
          this.setPod(pod, (status) =>
            SimulatedCluster.setContainer(
              status,
              'initContainerStatuses',
              container.name,
              terminated(exitCode, startedAt),
              { started: false },
            ),
          );
        });
        continue;
      }
      const { exitCode } = await running.exited;
      state.logs.get(container.name)?.end();
      this.setPod(pod, (status) =>
        SimulatedCluster.setContainer(
          status,
          'initContainerStatuses',
          container.name,
          terminated(exitCode, startedAt),
          { started: false },
        ),
      );
      if (exitCode !== 0) {
        await stopSidecars();
        if (!state.stopped) this.setPod(pod, (status) => void (status.phase = 'Failed'));
        return;
      }
    }
    const results = await Promise.all(
      spec.containers.map(async (container) => {
        const startedAt = now();
        const running = await start(container, 'containerStatuses');
        if (running === undefined) return 128;
        this.setPod(pod, (status) => {
          status.phase = 'Running';
          SimulatedCluster.setContainer(
            status,
            'containerStatuses',
            container.name,
            { running: { startedAt } },
            { started: true, ready: true },
          );
        });
        const { exitCode } = await running.exited;
        state.logs.get(container.name)?.end();
        // The pod's phase changes only once its sidecars are gone (below).
        this.store.update('pods', pod.metadata.namespace, pod.metadata.name, (object) =>
          SimulatedCluster.setContainer(
            object.status ?? {},
            'containerStatuses',
            container.name,
            terminated(exitCode, startedAt),
            { ready: false },
          ),
        );
        return exitCode;
      }),
    );
    await stopSidecars();
    if (state.stopped) return;
    this.setPod(pod, (status) => void (status.phase = results.every((code) => code === 0) ? 'Succeeded' : 'Failed'));
  }

  /** The job controller's view of a finished pod. */
  private podFinished(pod: KubeObject): void {
    const owner = pod.metadata.ownerReferences?.[0];
    if (owner === undefined) return;
    const job = this.store.get('jobs', pod.metadata.namespace, owner.name);
    if (job === undefined || job.metadata.deletionTimestamp !== undefined || isFinished(job)) return;
    const succeeded = pod.status?.phase === 'Succeeded';
    const failed = ((job.status?.failed as number | undefined) ?? 0) + (succeeded ? 0 : 1);
    const backoffLimit = (job.spec as { backoffLimit?: number }).backoffLimit ?? 6;
    if (!succeeded && failed <= backoffLimit) {
      this.store.update('jobs', job.metadata.namespace, job.metadata.name, (object) => {
        object.status = { ...object.status, failed };
      });
      this.createPod(job);
      return;
    }
    const time = now();
    this.store.update('jobs', job.metadata.namespace, job.metadata.name, (object) => {
      object.status = {
        ...object.status,
        active: 0,
        ready: 0,
        ...(succeeded ? { succeeded: 1, completionTime: time } : { failed }),
        conditions: succeeded
          ? [
              {
                type: 'SuccessCriteriaMet',
                status: 'True',
                reason: 'CompletionsReached',
                message: 'Reached expected number of succeeded pods',
                lastProbeTime: time,
                lastTransitionTime: time,
              },
              {
                type: 'Complete',
                status: 'True',
                reason: 'CompletionsReached',
                message: 'Reached expected number of succeeded pods',
                lastProbeTime: time,
                lastTransitionTime: time,
              },
            ]
          : [
              {
                type: 'FailureTarget',
                status: 'True',
                reason: 'BackoffLimitExceeded',
                message: 'Job has reached the specified backoff limit',
                lastProbeTime: time,
                lastTransitionTime: time,
              },
              {
                type: 'Failed',
                status: 'True',
                reason: 'BackoffLimitExceeded',
                message: 'Job has reached the specified backoff limit',
                lastProbeTime: time,
                lastTransitionTime: time,
              },
            ],
      };
    });
    this.jobEnded(job);
  }

  private jobEnded(job: KubeObject): void {
    const ttl = (job.spec as { ttlSecondsAfterFinished?: number }).ttlSecondsAfterFinished;
    if (typeof ttl === 'number') {
      this.jobTimer(
        `${job.metadata.namespace}/${job.metadata.name}`,
        setTimeout(() => this.deleteJob(job.metadata.namespace, job.metadata.name, 'Background'), ttl * 1000),
      );
    }
  }

  private async deadlineExceeded(namespace: string, name: string): Promise<void> {
    const job = this.store.get('jobs', namespace, name);
    if (job === undefined || isFinished(job) || job.metadata.deletionTimestamp !== undefined) return;
    const time = now();
    this.store.update('jobs', namespace, name, (object) => {
      object.status = {
        ...object.status,
        active: 0,
        conditions: [
          {
            type: 'FailureTarget',
            status: 'True',
            reason: 'DeadlineExceeded',
            message: 'Job was active longer than specified deadline',
            lastProbeTime: time,
            lastTransitionTime: time,
          },
          {
            type: 'Failed',
            status: 'True',
            reason: 'DeadlineExceeded',
            message: 'Job was active longer than specified deadline',
            lastProbeTime: time,
            lastTransitionTime: time,
          },
        ],
      };
    });
    await this.deletePodsOf(namespace, name);
    this.jobEnded(job);
  }

  private async deletePodsOf(namespace: string, jobName: string): Promise<void> {
    const pods = this.store.list('pods', namespace, (labels) => labels?.['batch.kubernetes.io/job-name'] === jobName);
    await Promise.all(pods.map((pod) => this.removePod(namespace, pod.metadata.name)));
  }

  /** Deletes a pod gracefully: marked, its processes terminated, then removed. */
  async removePod(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const state = this.pods.get(key);
    if (state === undefined) return;
    this.store.update('pods', namespace, name, (object) => {
      object.metadata.deletionTimestamp ??= now();
    });
    state.stopped = true;
    state.timers.forEach(clearTimeout);
    const grace =
      ((this.store.get('pods', namespace, name)?.spec as { terminationGracePeriodSeconds?: number } | undefined)
        ?.terminationGracePeriodSeconds ?? 30) * 1000;
    await Promise.all([...state.running.values()].map((running) => running.terminate(Math.min(grace, 10_000))));
    state.logs.forEach((log) => log.end());
    this.pods.delete(key);
    this.store.remove('pods', namespace, name);
    if (state.directory !== undefined) await rm(state.directory, { recursive: true, force: true });
  }

  /**
   * Deletes a job with a propagation policy: `Background` removes it at once and its pods after; `Foreground` marks
   * it (`deletionTimestamp`, finalizer `foregroundDeletion`) and removes it once its pods are gone; `Orphan` leaves
   * the pods.
   */
  deleteJob(namespace: string, name: string, policy: 'Background' | 'Foreground' | 'Orphan'): KubeObject | undefined {
    const key = `${namespace}/${name}`;
    this.jobTimers.get(key)?.forEach(clearTimeout);
    this.jobTimers.delete(key);
    if (policy === 'Foreground') {
      const marked = this.store.update('jobs', namespace, name, (object) => {
        object.metadata.deletionTimestamp ??= now();
        object.metadata.finalizers = [...new Set([...(object.metadata.finalizers ?? []), 'foregroundDeletion'])];
      });
      void this.deletePodsOf(namespace, name).then(() => this.store.remove('jobs', namespace, name));
      return marked;
    }
    const removed = this.store.remove('jobs', namespace, name);
    if (policy === 'Background') void this.deletePodsOf(namespace, name);
    return removed;
  }

  /** A container's log, or undefined. */
  log(namespace: string, pod: string, container: string): ContainerLog | undefined {
    return this.pods.get(`${namespace}/${pod}`)?.logs.get(container);
  }

  /** Stops every pod (their processes terminated). */
  async close(): Promise<void> {
    const keys = [...this.pods.keys()];
    await Promise.all(
      keys.map((key) => {
        const [namespace = '', name = ''] = key.split('/');
        return this.removePod(namespace, name);
      }),
    );
    this.closed = true;
    this.jobTimers.forEach((timers) => timers.forEach(clearTimeout));
  }
}

/** Whether a job has its `Complete` or `Failed` condition. */
export function isFinished(job: KubeObject): boolean {
  const conditions = (job.status?.conditions as { type: string; status: string }[] | undefined) ?? [];
  return conditions.some(
    (condition) => (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
  );
}
