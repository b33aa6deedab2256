/**
 * The `batch/v1` Job of one attempt: one pod, never restarted by Kubernetes (`backoffLimit: 0`, `restartPolicy:
 * Never`: Temporal's retry policy decides about retries), with
 * - the stage-in init container and the stage-out native sidecar (`initContainers` with `restartPolicy: Always`,
 *   Kubernetes 1.29+) around the user's container (`../staging.ts`), all sharing an `emptyDir` at `/mloe`;
 * - the step's resources as requests and limits (`cpu`, `memory`; GPUs as the `nvidia.com/gpu` limit);
 * - `nodeSelector`, `tolerations`, `serviceAccountName`;
 * - `activeDeadlineSeconds` from the step's timeout, `ttlSecondsAfterFinished`, and the labels and annotations a
 *   sweep uses to find jobs whose run is gone (`./names.ts`).
 */
import type { V1Container, V1Job, V1ResourceRequirements } from '@kubernetes/client-node';

import type { ResourcesSpec } from '../../../core/spec';
import type { RemoteCommandRequest } from '../contract';
import { STAGE_ROOT, type StagingPlan } from '../staging';
import type { KubernetesExecutorConfig } from './config';
import {
  ATTEMPT_LABEL,
  EXECUTION_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  STEP_ANNOTATION,
  STEP_LABEL,
  TEMPORAL_NAMESPACE_ANNOTATION,
  WORKFLOW_ANNOTATION,
  executionHash,
  labelValue,
} from './names';

/** The user's container. */
export const MAIN_CONTAINER = 'main';
/** The init container that fetches inputs. */
export const STAGE_IN_CONTAINER = 'mloe-stage-in';
/** The sidecar that uploads outputs. */
export const STAGE_OUT_CONTAINER = 'mloe-stage-out';

const VOLUME = 'mloe';

/** `resources` as Kubernetes requests and limits: requests = limits for cpu and memory, GPUs as a limit. */
export function resourceRequirements(resources: ResourcesSpec | undefined): V1ResourceRequirements | undefined {
  if (resources === undefined) return undefined;
  const quantities: Record<string, string> = {};
  if (resources.cpu !== undefined) quantities.cpu = String(resources.cpu);
  if (resources.memory !== undefined) quantities.memory = String(resources.memory);
  const limits: Record<string, string> = { ...quantities };
  if (resources.gpu !== undefined && resources.gpu > 0) limits['nvidia.com/gpu'] = String(resources.gpu);
  if (Object.keys(limits).length === 0) return undefined;
  return { ...(Object.keys(quantities).length === 0 ? {} : { requests: quantities }), limits };
}

/** What {@link buildJob} needs. */
export interface JobParts {
  name: string;
  namespace: string;
  attempt: number;
  request: RemoteCommandRequest;
  staging: StagingPlan;
  config: KubernetesExecutorConfig;
  /** The attempt's deadline in seconds (the step's timeout), when it has one. */
  deadlineSeconds?: number;
}

/** The Job manifest of one attempt. */
export function buildJob(parts: JobParts): V1Job {
  const { request, staging, config } = parts;
  const kubernetes = request.placement.kubernetes ?? {};
  const labels = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [EXECUTION_LABEL]: executionHash(request),
    [ATTEMPT_LABEL]: String(parts.attempt),
    [STEP_LABEL]: labelValue(request.stepId) || 'step',
  };
  const annotations = {
    [WORKFLOW_ANNOTATION]: request.workflowId,
    [TEMPORAL_NAMESPACE_ANNOTATION]: config.temporalNamespace,
    [STEP_ANNOTATION]: request.index === undefined ? request.stepId : `${request.stepId}[${request.index}]`,
  };
  const mount = [{ name: VOLUME, mountPath: STAGE_ROOT }];
  const workingDir = request.workingDir?.startsWith('/') === true ? request.workingDir : `${STAGE_ROOT}/work`;
  const resources = resourceRequirements(request.placement.resources);
  const main: V1Container = {
    name: MAIN_CONTAINER,
    image: request.image,
    command: request.command,
    env: [
      ...staging.commandEnv,
      // Secrets by reference: the kubelet reads the Secret; the Job object names it and never holds the value.
      ...Object.entries(request.secretKeyRefs ?? {}).map(([name, ref]) => ({
        name,
        valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } },
      })),
    ],
    workingDir,
    volumeMounts: mount,
    ...(resources === undefined ? {} : { resources }),
  };
  const small = { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '128Mi' } };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: parts.name, namespace: parts.namespace, labels, annotations },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: config.ttlSecondsAfterFinished,
      ...(parts.deadlineSeconds === undefined
        ? {}
        : { activeDeadlineSeconds: Math.max(1, Math.ceil(parts.deadlineSeconds)) }),
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: config.terminationGracePeriodSeconds,
          ...(kubernetes.serviceAccountName === undefined ? {} : { serviceAccountName: kubernetes.serviceAccountName }),
          ...(kubernetes.nodeSelector === undefined ? {} : { nodeSelector: kubernetes.nodeSelector }),
          ...(kubernetes.tolerations === undefined
            ? {}
            : {
                tolerations: kubernetes.tolerations.map((toleration) =>
                  Object.fromEntries(Object.entries(toleration).filter(([, value]) => value !== undefined)),
                ),
              }),
          volumes: [{ name: VOLUME, emptyDir: {} }],
          initContainers: [
            {
              name: STAGE_IN_CONTAINER,
              image: config.stagingImage,
              command: ['sh', '-c', staging.stageIn.script],
              env: staging.stageIn.env,
              volumeMounts: mount,
              resources: small,
            },
            {
              name: STAGE_OUT_CONTAINER,
              image: config.stagingImage,
              restartPolicy: 'Always',
              command: ['sh', '-c', staging.stageOut.script],
              env: staging.stageOut.env,
              volumeMounts: mount,
              resources: small,
            },
          ],
          containers: [main],
        },
      },
    },
  };
}
