/**
 * Temporal's retry rules for activities and workflows: default policy, backoff, maximum attempts, non-retryable
 * error types and `nextRetryDelay`.
 */
import { RetryState, durationToMs, msToDuration, type Failure, type RetryPolicy } from './proto';

/** Fills in the defaults Temporal applies to an activity retry policy. */
export function withActivityDefaults(policy: RetryPolicy | null | undefined): RetryPolicy {
  const initialMs = durationToMs(policy?.initialInterval) || 1000;
  const coefficient = Number(policy?.backoffCoefficient) || 2;
  const maximumMs = durationToMs(policy?.maximumInterval) || initialMs * 100;
  return {
    initialInterval: msToDuration(initialMs),
    backoffCoefficient: coefficient,
    maximumInterval: msToDuration(maximumMs),
    maximumAttempts: Number(policy?.maximumAttempts ?? 0),
    nonRetryableErrorTypes: policy?.nonRetryableErrorTypes ?? [],
  };
}

/** Fills in defaults for a workflow retry policy (only when one was given: workflows do not retry by default). */
export function withWorkflowDefaults(policy: RetryPolicy | null | undefined): RetryPolicy | undefined {
  if (!policy) return undefined;
  return withActivityDefaults(policy);
}

/** The decision for a failed attempt. */
export interface RetryDecision {
  retry: boolean;
  backoffMs: number;
  state: RetryState;
}

/**
 * Decides whether attempt `attempt` (1-based) that failed with `failure` is retried and after how long.
 * `expirationTime` (ms since epoch, 0 for none) stops retries that would start after it.
 */
export function decideRetry(
  policy: RetryPolicy | undefined,
  attempt: number,
  failure: Failure | null | undefined,
  now: number,
  expirationTime: number,
  isTimeout = false,
): RetryDecision {
  const no = (state: RetryState): RetryDecision => ({ retry: false, backoffMs: 0, state });
  if (!policy) return no(RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET);
  const app = failure?.applicationFailureInfo;
  // Server failures can be non-retryable too (a payload over the blob limit, say).
  if (app?.nonRetryable || failure?.serverFailureInfo?.nonRetryable) {
    return no(RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
  }
  if (!isTimeout && app?.type && (policy.nonRetryableErrorTypes ?? []).includes(app.type)) {
    return no(RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
  }
  const maxAttempts = Number(policy.maximumAttempts ?? 0);
  if (maxAttempts > 0 && attempt >= maxAttempts) return no(RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
  let backoffMs: number;
  const explicit = durationToMs(app?.nextRetryDelay);
  if (explicit > 0) {
    backoffMs = explicit;
  } else {
    const initial = durationToMs(policy.initialInterval) || 1000;
    const coefficient = Number(policy.backoffCoefficient) || 2;
    const maximum = durationToMs(policy.maximumInterval) || initial * 100;
    backoffMs = Math.min(initial * Math.pow(coefficient, attempt - 1), maximum);
  }
  if (expirationTime > 0 && now + backoffMs >= expirationTime) return no(RetryState.RETRY_STATE_TIMEOUT);
  return { retry: true, backoffMs, state: RetryState.RETRY_STATE_IN_PROGRESS };
}
