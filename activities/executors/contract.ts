/**
 * The one contract every remote executor implements: given a command step's request (the same `CommandStepRequest`
 * the local runner takes, plus the image and the step's placement), run it somewhere else and hand back the same
 * `CommandStepResult`. The process inside the container sees the same files and variables as a local one
 * (docs/command-steps.md); `./staging.ts` moves inputs in and outputs out around it.
 */
import type { ExecutorKind, StepPlacement } from '../../core/spec';
import type { ArtifactStore } from '../artifacts';
import type { CommandStepRequest, CommandStepResult } from '../runner';
import type { OrphanJobSource } from './sweep';

/** A command step as a remote executor takes it. */
export interface RemoteCommandRequest extends CommandStepRequest {
  /** The `foreach` iteration, when the step fans out (part of the job's identity). */
  index?: number;
  /** The container image the command runs in. */
  image: string;
  /**
   * Environment variables filled from Kubernetes Secrets (`run.secrets` with `k8s:secret/key` references): the
   * Kubernetes executor maps each to a `secretKeyRef`, so the value never passes through the worker.
   */
  secretKeyRefs?: Record<string, { secret: string; key: string }>;
  /**
   * Environment variables filled from AWS Secrets Manager or the SSM Parameter Store (`run.secrets` with `aws-sm:` or
   * `ssm:` references): the Batch executor checks that the job definition declares each under that name with that
   * `valueFrom` (Batch takes secrets from the job definition only), so the value never passes through the worker.
   */
  awsSecrets?: Record<string, { kind: 'aws-sm' | 'ssm'; valueFrom: string }>;
  /** Resources and executor settings, `defaults` applied. */
  placement: StepPlacement;
}

/** What a remote executor records in its heartbeats: enough for the next attempt to find the job again. */
export interface RemoteProgress {
  executor: ExecutorKind;
  /** The job's name (Kubernetes) or id (Batch). */
  job: string;
  /** Where the job is: `namespace` (Kubernetes) or job queue (Batch). */
  where: string;
  /** The job's phase as last observed (`Pending`, `Running`, `Succeeded`, `Failed`, ...). */
  phase: string;
  /** The activity attempt that created the job. */
  createdByAttempt: number;
}

/** What an executor gets from the activity around it. */
export interface ExecutionContext {
  /** The activity attempt (1 for the first). */
  attempt: number;
  /** Aborted when the activity is cancelled; its `reason` says why (`WORKER_SHUTDOWN`, `CANCELLED`, `TIMED_OUT`). */
  signal: AbortSignal;
  /** The previous attempt's last progress, from its heartbeats (absent on a first attempt). */
  previous?: RemoteProgress;
  /** Records progress; the activity heartbeats with the latest. */
  progress(progress: RemoteProgress): void;
  /** The attempt's deadline from now, in ms (start-to-close), when the activity has one. */
  timeoutMs?: number;
  /** The run's artifact store (open; the executor must not close it): inputs come from it, outputs go to it. */
  store: ArtifactStore;
}

/** A remote executor: Kubernetes Jobs, AWS Batch; the orphan sweep (`./sweep.ts`) lists and removes its jobs. */
export interface CommandExecutor extends OrphanJobSource {
  readonly kind: Exclude<ExecutorKind, 'local'>;
  /** Runs the command to completion; rejects with an `MloeError` whose `retryable` says what a retry could do. */
  run(request: RemoteCommandRequest, context: ExecutionContext): Promise<CommandStepResult>;
  /** Releases watches and connections. */
  close(): Promise<void>;
}

/** Whether the activity's cancellation is a worker shutting down (the job is left for the next attempt to attach to). */
export function isWorkerShutdown(signal: AbortSignal): boolean {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.message === 'WORKER_SHUTDOWN';
}
