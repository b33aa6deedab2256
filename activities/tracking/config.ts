/**
 * Whether and where pipeline runs are tracked: the MLflow client's configuration (`MLFLOW_TRACKING_URI` and MLflow's
 * other variables, read by `activities/mlflow/config.ts`) and the experiment override `MLFLOW_EXPERIMENT_NAME`
 * (MLflow's own variable), read once when a worker starts (`workers/config.ts`). Tracking is off when
 * `MLFLOW_TRACKING_URI` is unset.
 *
 * Activities call MLflow with fewer and shorter in-request retries than MLflow's defaults (at most 2 retries, a 1 s
 * first backoff, 30 s per attempt): a step's own retry policy retries longer outages where the Temporal history and
 * UI show them, and five MLflow retries of up to 62 s would outlast most step timeouts and fail the step with a
 * timeout instead of with a message naming the server.
 */
import { z } from 'zod';

import { ConfigError } from '../../core/errors';
import { optionalMlflowConfigFromEnv, type MlflowConfig, type MlflowEnv } from '../mlflow/config';

/** The variables this module reads besides those of `activities/mlflow/config.ts`. */
export const TRACKING_ENV = {
  /** MLflow's experiment override: every pipeline run goes to this experiment instead of one named after it. */
  experimentName: 'MLFLOW_EXPERIMENT_NAME',
} as const;

/** How the links to MLflow runs and model versions are spelled. */
export type LinkStyle = 'ui' | 'api';

/** Tracking as a worker does it. */
export interface TrackingConfig {
  /** The MLflow server, as configured (the CLI uses it as is; activities through {@link activityMlflowConfig}). */
  mlflow: MlflowConfig;
  /** Every run's experiment (`MLFLOW_EXPERIMENT_NAME`); absent, each pipeline's runs go to one named after it. */
  experimentName?: string;
  /**
   * `ui` links to the MLflow UI's pages (a real MLflow); `api` to the REST answers (the embedded server, which
   * serves no UI).
   */
  links: LinkStyle;
}

/** MLflow's limit on experiment names. */
const MAX_EXPERIMENT_NAME_LENGTH = 500;

const experimentNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_EXPERIMENT_NAME_LENGTH, `must be at most ${MAX_EXPERIMENT_NAME_LENGTH} characters`);

/**
 * Tracking from the environment, or `undefined` when `MLFLOW_TRACKING_URI` is unset (tracking off). A bad value is a
 * `ConfigError` naming the variable.
 */
export function trackingConfigFromEnv(env: MlflowEnv, options: { links?: LinkStyle } = {}): TrackingConfig | undefined {
  const mlflow = optionalMlflowConfigFromEnv(env);
  if (mlflow === undefined) return undefined;
  const raw = env[TRACKING_ENV.experimentName];
  let experimentName: string | undefined;
  if (raw !== undefined && raw !== '') {
    const parsed = experimentNameSchema.safeParse(raw);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
      throw new ConfigError(
        `invalid ${TRACKING_ENV.experimentName}: ${reason}; fix: name an MLflow experiment, or unset it for one experiment per pipeline`,
        { cause: parsed.error },
      );
    }
    experimentName = parsed.data;
  }
  return { mlflow, ...(experimentName === undefined ? {} : { experimentName }), links: options.links ?? 'ui' };
}

/** The most retries, first backoff and per-attempt timeout of MLflow calls made inside activities. */
export const ACTIVITY_MLFLOW_LIMITS = { maxRetries: 2, backoffBaseMs: 1_000, maxDelayMs: 5_000, timeoutMs: 30_000 };

/** The MLflow configuration activities use: the configured one, its retries and timeout capped (see the module doc). */
export function activityMlflowConfig(config: MlflowConfig): MlflowConfig {
  const limits = ACTIVITY_MLFLOW_LIMITS;
  return {
    ...config,
    timeoutMs: Math.min(config.timeoutMs, limits.timeoutMs),
    retry: {
      ...config.retry,
      maxRetries: Math.min(config.retry.maxRetries, limits.maxRetries),
      backoffBaseMs: Math.min(config.retry.backoffBaseMs, limits.backoffBaseMs),
      backoffJitterMs: Math.min(config.retry.backoffJitterMs, limits.backoffBaseMs),
      maxDelayMs: Math.min(config.retry.maxDelayMs, limits.maxDelayMs),
    },
  };
}
