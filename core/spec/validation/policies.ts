/**
 * Execution policies: a heartbeat timeout shorter than the timeout it must fire within (a step's own or its
 * defaults'), and retry intervals in order.
 */
import { DEFAULT_STEP_TIMEOUT, type RetrySpec, type StepSpec } from '../schema';
import type { PathSegment } from '../source-map';
import { parseDuration } from '../units';
import type { ValidationState } from './state';

/** The step's heartbeat timeout (its own or the default) is shorter than its timeout (its own or the default). */
export function checkHeartbeat(state: ValidationState, step: StepSpec, path: PathSegment[]): void {
  const heartbeat = step.heartbeatTimeout ?? state.defaults?.heartbeatTimeout;
  if (heartbeat === undefined) return;
  // Both from defaults: reported once, at defaults (checkDefaultHeartbeat).
  if (step.heartbeatTimeout === undefined && step.timeout === undefined) return;
  const timeout = step.timeout ?? state.defaults?.timeout ?? DEFAULT_STEP_TIMEOUT;
  const heartbeatMs = parseDuration(heartbeat);
  const timeoutMs = parseDuration(timeout);
  if (heartbeatMs === undefined || timeoutMs === undefined || heartbeatMs < timeoutMs) return;
  const own = step.heartbeatTimeout !== undefined;
  state.report({
    code: 'INVALID_HEARTBEAT',
    message: own
      ? `heartbeatTimeout ${heartbeat} is not shorter than the step's timeout ${timeout}${step.timeout === undefined ? ` (${state.defaults?.timeout === undefined ? 'the default' : 'from defaults'})` : ''}, so it could never fire`
      : `timeout ${timeout} is not longer than the heartbeatTimeout ${heartbeat} from defaults, so that could never fire`,
    hint: own
      ? `make heartbeatTimeout shorter than ${timeout} (e.g. 30s), or remove it`
      : `give this step a shorter heartbeatTimeout of its own, or a longer timeout`,
    path: [...path, own ? 'heartbeatTimeout' : 'timeout'],
  });
}

/** `defaults.heartbeatTimeout` is shorter than `defaults.timeout` (or the built-in timeout). */
export function checkDefaultHeartbeat(state: ValidationState): void {
  const heartbeat = state.defaults?.heartbeatTimeout;
  if (heartbeat === undefined) return;
  const timeout = state.defaults?.timeout ?? DEFAULT_STEP_TIMEOUT;
  const heartbeatMs = parseDuration(heartbeat);
  const timeoutMs = parseDuration(timeout);
  if (heartbeatMs === undefined || timeoutMs === undefined || heartbeatMs < timeoutMs) return;
  state.report({
    code: 'INVALID_HEARTBEAT',
    message: `defaults.heartbeatTimeout ${heartbeat} is not shorter than ${state.defaults?.timeout === undefined ? `the default timeout ${timeout}` : `defaults.timeout ${timeout}`}, so it could never fire`,
    hint: `make heartbeatTimeout shorter than ${timeout} (e.g. 30s), or remove it`,
    path: ['defaults', 'heartbeatTimeout'],
  });
}

/** `maximumInterval` is not shorter than `initialInterval`. */
export function checkRetry(state: ValidationState, retry: RetrySpec, path: PathSegment[]): void {
  if (retry.initialInterval === undefined || retry.maximumInterval === undefined) return;
  const initial = parseDuration(retry.initialInterval);
  const maximum = parseDuration(retry.maximumInterval);
  if (initial !== undefined && maximum !== undefined && maximum < initial) {
    state.report({
      code: 'INVALID_RETRY',
      message: `maximumInterval ${retry.maximumInterval} is shorter than initialInterval ${retry.initialInterval}`,
      hint: 'make maximumInterval at least initialInterval',
      path: [...path, 'maximumInterval'],
    });
  }
}
