/**
 * Names and labels of the Jobs mloe creates. A job's name is derived from the run, the step (and `foreach` index) and
 * the activity attempt, so the same attempt always names the same job: a create that races a re-attach gets 409
 * AlreadyExists and attaches instead. Names are DNS-1123 labels of at most 63 characters (the Job controller copies
 * the name into the pods' `job-name` label, whose values are limited to 63), ending in a hash of the whole identity.
 */
import { createHash } from 'node:crypto';

/** The label every mloe job and pod carries, as the Kubernetes recommended labels spell it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Its value. */
export const MANAGED_BY = 'mloe';
/** One execution of a step (run, step, `foreach` index) across its attempts: a hash, since ids can exceed 63. */
export const EXECUTION_LABEL = 'mloe.dev/execution';
/** The activity attempt that created the job. */
export const ATTEMPT_LABEL = 'mloe.dev/attempt';
/** The step id, cut to a label value. */
export const STEP_LABEL = 'mloe.dev/step';
/** The run's workflow id in full (annotations have no length limit worth worrying about). */
export const WORKFLOW_ANNOTATION = 'mloe.dev/workflow-id';
/**
 * The Temporal namespace of the run: the orphan sweep (`../sweep.ts`) only ever touches jobs of the namespace it asks
 * Temporal about, so workers of several namespaces can share a cluster.
 */
export const TEMPORAL_NAMESPACE_ANNOTATION = 'mloe.dev/temporal-namespace';
/** The step id in full (with the `foreach` index). */
export const STEP_ANNOTATION = 'mloe.dev/step-id';
/** The label the Job controller puts on its pods. */
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';

/** The identity of one execution of a step. */
export interface ExecutionIdentity {
  workflowId: string;
  stepId: string;
  index?: number;
}

function hash(parts: readonly string[], length: number): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, length);
}

/** The execution label's value: the same for every attempt of one execution. */
export function executionHash(identity: ExecutionIdentity): string {
  return hash([identity.workflowId, identity.stepId, String(identity.index ?? '')], 20);
}

/** Lowercase letters, digits and single `-`, from any text. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The job of one attempt: `mloe-<step>[-<index>]-a<attempt>-<hash>`, the step part cut so the whole fits 63
 * characters; the hash (of workflow id, step, index and attempt) keeps cut names apart.
 */
export function jobName(identity: ExecutionIdentity, attempt: number): string {
  const digest = hash([identity.workflowId, identity.stepId, String(identity.index ?? ''), String(attempt)], 10);
  const suffix = `${identity.index === undefined ? '' : `-${identity.index}`}-a${attempt}-${digest}`;
  const room = 63 - 'mloe-'.length - suffix.length;
  const step = slug(identity.stepId).slice(0, Math.max(0, room)).replace(/-+$/, '');
  return `mloe-${step === '' ? 'step' : step}${suffix}`.slice(0, 63);
}

/** A label value (at most 63 characters of `[a-z0-9A-Z._-]`, alphanumeric at both ends) from any text. */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}
