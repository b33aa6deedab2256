/**
 * Reading a job and its pod: the phase to report in heartbeats, and the terminal outcome with its error, mapped from
 * the states the API reports (job conditions `Complete`/`Failed` with reasons `BackoffLimitExceeded` and
 * `DeadlineExceeded`; container `waiting` reasons `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`,
 * `CreateContainerConfigError`; `terminated` reasons `OOMKilled`, `StartError`; pod reason `Evicted`; the
 * `DisruptionTarget` condition of node loss and preemption).
 */
import type { V1ContainerStatus, V1Job, V1Pod } from '@kubernetes/client-node';

import { MloeError, type MloeErrorCode } from '../../../core/errors';
import { MAIN_CONTAINER, STAGE_IN_CONTAINER } from './manifest';

/** Waiting reasons that will not clear by themselves: the pod can never start. */
const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError']);

/** What a job's state means for the step. */
export type JobOutcome =
  | { state: 'running'; phase: string }
  | { state: 'succeeded' }
  | { state: 'failed'; error: (logTail: string) => MloeError; deleteJob: boolean };

/** A failed outcome: the step error (from the log's tail), whether a retry could help, whether to delete the job. */
function failure(
  code: MloeErrorCode,
  message: (tail: string) => string,
  retryable: boolean,
  deleteJob = false,
): JobOutcome {
  return { state: 'failed', deleteJob, error: (tail) => new MloeError(code, message(tail), { retryable }) };
}

function condition(job: V1Job, type: string): { reason?: string; message?: string } | undefined {
  return job.status?.conditions?.find((item) => item.type === type && item.status === 'True');
}

function container(pod: V1Pod | undefined, name: string, init = false): V1ContainerStatus | undefined {
  const list = init ? pod?.status?.initContainerStatuses : pod?.status?.containerStatuses;
  return list?.find((status) => status.name === name);
}

/** The phase heartbeats report: the pod's phase, refined by the container's state. */
export function describePhase(job: V1Job | undefined, pod: V1Pod | undefined): string {
  if (job !== undefined && condition(job, 'Complete')) return 'Succeeded';
  if (job !== undefined && condition(job, 'Failed')) return 'Failed';
  if (pod === undefined) return 'Pending (no pod yet)';
  const stageIn = container(pod, STAGE_IN_CONTAINER, true);
  if (stageIn?.state?.running !== undefined) return 'Pending (staging inputs)';
  const main = container(pod, MAIN_CONTAINER);
  const waiting = main?.state?.waiting?.reason;
  const phase = pod.status?.phase ?? 'Pending';
  return waiting === undefined ? phase : `${phase} (${waiting})`;
}

const tailOf = (tail: string): string => (tail === '' ? '(the log was empty)' : `last lines of its log:\n${tail}`);

/**
 * The outcome of a job from its state and its pod's (the last pod seen, which may be gone). `image` names the image
 * in image-pull errors; `step` names the step.
 */
export function jobOutcome(job: V1Job, pod: V1Pod | undefined, step: string, podGone: boolean): JobOutcome {
  const name = job.metadata?.name ?? '';
  const main = container(pod, MAIN_CONTAINER);
  const waiting = main?.state?.waiting;
  if (waiting?.reason !== undefined && IMAGE_PULL_REASONS.has(waiting.reason)) {
    const image = main?.image ?? '';
    return failure(
      'STEP_IMAGE_PULL_FAILED',
      () =>
        `step ${step}: the image ${JSON.stringify(image)} cannot be pulled (${waiting.reason}: ${waiting.message ?? 'no message'}); ` +
        'check its name and tag, and that the namespace has an imagePullSecret for its registry (job ' +
        name +
        ')',
      false,
      true,
    );
  }
  if (waiting?.reason !== undefined && CONFIG_REASONS.has(waiting.reason)) {
    return failure(
      'STEP_COMMAND_INVALID',
      () => `step ${step}: the container cannot be created (${waiting.reason}: ${waiting.message ?? ''}) (job ${name})`,
      false,
      true,
    );
  }
  const failed = condition(job, 'Failed');
  if (condition(job, 'Complete')) return { state: 'succeeded' };
  if (failed === undefined) {
    // A pod that is gone while the job still runs was lost with its node (or deleted by hand).
    return { state: 'running', phase: describePhase(job, pod) };
  }
  if (failed.reason === 'DeadlineExceeded') {
    return failure(
      'STEP_DEADLINE_EXCEEDED',
      (tail) =>
        `step ${step}: job ${name} ran longer than its deadline (activeDeadlineSeconds ${job.spec?.activeDeadlineSeconds ?? '?'}, the step's timeout); ${tailOf(tail)}`,
      true,
    );
  }
  const terminated = main?.state?.terminated;
  if (terminated?.reason === 'OOMKilled') {
    return failure(
      'STEP_OUT_OF_MEMORY',
      (tail) =>
        `step ${step}: the container was killed for exceeding its memory limit (OOMKilled, exit code ${terminated.exitCode}); raise resources.memory (job ${name}); ${tailOf(tail)}`,
      false,
    );
  }
  if (pod?.status?.reason === 'Evicted') {
    return failure(
      'STEP_INFRASTRUCTURE_FAILED',
      () =>
        `step ${step}: the pod of job ${name} was evicted: ${pod.status?.message ?? 'no message'}; a retry runs it again`,
      true,
    );
  }
  const disruption = pod?.status?.conditions?.find(
    (item) => item.type === 'DisruptionTarget' && item.status === 'True',
  );
  if (disruption !== undefined || (pod === undefined && podGone) || terminated?.reason === 'ContainerStatusUnknown') {
    return failure(
      'STEP_INFRASTRUCTURE_FAILED',
      () =>
        `step ${step}: the pod of job ${name} was lost with its node${disruption === undefined ? '' : ` (${disruption.reason ?? ''}: ${disruption.message ?? ''})`}; a retry runs it again`,
      true,
    );
  }
  const stageIn = container(pod, STAGE_IN_CONTAINER, true)?.state?.terminated;
  if (stageIn !== undefined && stageIn.exitCode !== 0) {
    return failure(
      'STEP_STAGING_FAILED',
      (tail) =>
        `step ${step}: fetching the inputs failed (container ${STAGE_IN_CONTAINER} exited with code ${stageIn.exitCode}: a URL expired, the store is unreachable from the cluster, or an input does not match its digest) (job ${name}); ${tailOf(tail)}`,
      true,
    );
  }
  if (terminated?.reason === 'StartError') {
    return failure(
      'STEP_COMMAND_NOT_FOUND',
      () =>
        `step ${step}: the command cannot be started in the image (${terminated.message ?? 'StartError'}) (job ${name})`,
      false,
    );
  }
  if (terminated !== undefined) {
    return failure(
      'STEP_COMMAND_FAILED',
      (tail) =>
        `step ${step}: the command exited with code ${terminated.exitCode}${terminated.signal ? ` (signal ${terminated.signal})` : ''} in job ${name}; ${tailOf(tail)}`,
      true,
    );
  }
  return failure(
    'STEP_COMMAND_FAILED',
    (tail) =>
      `step ${step}: job ${name} failed (${failed.reason ?? 'no reason'}: ${failed.message ?? ''}); ${tailOf(tail)}`,
    true,
  );
}
