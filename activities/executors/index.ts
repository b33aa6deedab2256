/**
 * Remote executors of command steps: the contract (`./contract.ts`), the staging of inputs and outputs through
 * presigned S3 URLs (`./staging.ts`), and the Kubernetes Job executor (`./kubernetes/`). See docs/executors.md.
 */
export type { CommandExecutor, ExecutionContext, RemoteCommandRequest, RemoteProgress } from './contract';
export { isWorkerShutdown } from './contract';
export { KubernetesExecutor, apiError } from './kubernetes/executor';
export {
  DEFAULT_STAGING_IMAGE,
  parseKubernetesExecutorConfig,
  type KubernetesExecutorConfig,
  type KubernetesExecutorConfigInput,
} from './kubernetes/config';
export {
  jobName,
  executionHash,
  MANAGED_BY_LABEL,
  MANAGED_BY,
  EXECUTION_LABEL,
  WORKFLOW_ANNOTATION,
} from './kubernetes/names';
export { buildJob, resourceRequirements } from './kubernetes/manifest';
export { JobWatcher } from './kubernetes/watcher';
export {
  BatchExecutor,
  batchFailure,
  batchResourceRequirements,
  type BatchExecutorConfig,
  type BatchExecutorConfigInput,
} from './batch/executor';

/** The remote executors a worker has, by kind. */
export type Executors = Partial<Record<'kubernetes' | 'batch', import('./contract').CommandExecutor>>;
export {
  sweepOrphanJobs,
  describeSweptJob,
  type ManagedJob,
  type OrphanJobSource,
  type RunState,
  type SweptJob,
  type SweepOptions,
} from './sweep';
