/**
 * The mloe error taxonomy: one base class with a stable `code`, and helpers for the boundaries.
 *
 * It lives in `core/` because every layer raises these errors (workflows, activities, clients); it is pure, so the
 * workflow sandbox can load it.
 */

/** Every error code mloe raises on purpose; add new codes here, never inline strings elsewhere. */
export type MloeErrorCode =
  /** Command-line flags or configuration failed validation. */
  | 'CONFIG_INVALID'
  /** The embedded dev server could not start (port in use, database locked, ...). */
  | 'SERVER_START_FAILED'
  /** Nothing answers as a Temporal at the configured address (no server listening, or not in time). */
  | 'TEMPORAL_UNAVAILABLE'
  /**
   * The payload codec could not encrypt or decrypt a payload: a key it does not know (the message names the key id),
   * a wrong key or tampered ciphertext, or a malformed encrypted payload.
   */
  | 'PAYLOAD_CODEC_FAILED'
  /** Input data failed validation: wrong columns, missing or non-numeric values, too few rows. */
  | 'DATA_INVALID'
  /** A path or artifact URI is not acceptable: relative, traversing (`..`), or outside the artifact store. */
  | 'PATH_INVALID'
  /** An artifact (or input file) that should exist does not. */
  | 'ARTIFACT_NOT_FOUND'
  /** An artifact's bytes no longer match the digest or size it was stored under. */
  | 'ARTIFACT_CORRUPT'
  /** A model could not be fitted to the data (e.g. collinear features make the normal equations singular). */
  | 'MODEL_FIT_FAILED'
  /** A pipeline step failed; the cause chain says which error the step raised. */
  | 'PIPELINE_STEP_FAILED'
  /** A pipeline spec failed validation; the error lists every problem with its file, line, column and field. */
  | 'SPEC_INVALID'
  /** A `${{ }}` expression failed at run time (e.g. a missing key or a division by zero). */
  | 'EXPRESSION_FAILED'
  /** A bug: a state the code believed impossible. */
  | 'INTERNAL'
  /** An artifact store (file system or S3) failed an operation; `retryable` says whether trying again may help. */
  | 'ARTIFACT_STORE_FAILED'
  /** A command step's request is unusable: empty argv, NUL bytes, a bad env var name, a missing working directory. */
  | 'STEP_COMMAND_INVALID'
  /** A command step's executable does not exist or is not executable; never retryable. */
  | 'STEP_COMMAND_NOT_FOUND'
  /** A command step exited non-zero or was killed by a signal; the message ends with the tail of its stderr. */
  | 'STEP_COMMAND_FAILED'
  /** A remote step's container image cannot be pulled (wrong name, missing tag, no pull secret); never retryable. */
  | 'STEP_IMAGE_PULL_FAILED'
  /** A remote step's container was killed for exceeding its memory limit (`OOMKilled`); never retryable. */
  | 'STEP_OUT_OF_MEMORY'
  /** A remote step's pod was evicted, or its node was lost: the infrastructure failed, a retry may succeed. */
  | 'STEP_INFRASTRUCTURE_FAILED'
  /** A remote step ran longer than its deadline (`activeDeadlineSeconds`, a Batch timeout). */
  | 'STEP_DEADLINE_EXCEEDED'
  /** Moving a remote step's inputs in or outputs out failed (presigned URLs, staging containers). */
  | 'STEP_STAGING_FAILED'
  /** The executor's backend (Kubernetes API, AWS Batch) refused or failed a call; `retryable` says whether to retry. */
  | 'EXECUTOR_FAILED'
  /** A command step did not write an output it declares. */
  | 'STEP_OUTPUT_MISSING'
  /** A command step wrote an output, `outputs.json` or `metrics.json` of the wrong shape or type. */
  | 'STEP_OUTPUT_INVALID'
  /** A run was started with a workflow id that already names another run (or a different request for it). */
  | 'RUN_ID_CONFLICT'
  /** No pipeline run has this workflow id in the namespace (never started, or past the namespace's retention). */
  | 'RUN_NOT_FOUND'
  /** The run is still running: what it did is not final yet (wait for it, or cancel it, first). */
  | 'RUN_NOT_FINISHED'
  /** A drift monitor of this name exists already (`mloe monitor create`); delete it first or choose another name. */
  | 'MONITOR_EXISTS'
  /** No drift monitor has this name in the namespace (`mloe monitor list` lists them). */
  | 'MONITOR_NOT_FOUND'
  /** The pipeline has no step with this id (the message lists the steps it has). */
  | 'STEP_NOT_FOUND'
  /** `mloe rerun` cannot take this run's steps as asked (the message says why and which `--from` would work). */
  | 'RERUN_UNSUPPORTED'
  /** A record would overwrite one written by another Temporal run with the same workflow id; nothing was written. */
  | 'RECORD_CONFLICT'
  /** The Temporal namespace lacks mloe's search attributes; `mloe setup` (or starting a worker) registers them. */
  | 'SEARCH_ATTRIBUTES_MISSING'
  /**
   * A request to an MLflow tracking server or model registry failed; the error (`MlflowError` in
   * `activities/mlflow/errors.ts`) carries MLflow's own `error_code`, the HTTP status and the endpoint.
   */
  | 'MLFLOW_REQUEST_FAILED'
  /** A step needs an MLflow tracking server (the model registry) and the worker has none: set MLFLOW_TRACKING_URI. */
  | 'TRACKING_NOT_CONFIGURED'
  /** A promotion policy failed (or could not be evaluated): the message names the rule and the values it read. */
  | 'PROMOTION_POLICY_FAILED'
  /** A promotion was rejected by a person, or its approval timed out. */
  | 'PROMOTION_REJECTED'
  /** An alias move was refused: the version failed a policy or was rejected, or there is nothing to roll back to. */
  | 'PROMOTION_REFUSED'
  /** An approval or rejection was sent to a run that does not wait for one (never did, or no longer does). */
  | 'NOT_AWAITING_APPROVAL'
  /** An escalation webhook did not take its request (no answer, or an HTTP error). */
  | 'WEBHOOK_FAILED'
  /** A schedule's timing is unusable: a bad cron, calendar, interval, duration, time zone or time range. */
  | 'SCHEDULE_SPEC_INVALID'
  /** A schedule with this name (schedule id) exists already in the namespace. */
  | 'SCHEDULE_EXISTS'
  /** No schedule has this name in the namespace, or it is not a schedule of pipeline runs. */
  | 'SCHEDULE_NOT_FOUND'
  /** The TLS handshake with Temporal failed (bad CA, wrong server name, missing or refused client certificate, ...). */
  | 'TEMPORAL_TLS_FAILED'
  /** Temporal refused the API key or client identity (UNAUTHENTICATED / PERMISSION_DENIED on connect). */
  | 'TEMPORAL_AUTH_FAILED'
  /** A step's secret reference cannot be resolved (unset variable, missing file); never retryable. */
  | 'SECRET_NOT_FOUND'
  /** A `file:` secret lies outside the worker's allowed secret roots, or a reference is unusable here. */
  | 'SECRET_REF_INVALID'
  /** A trigger of this name exists already (`mloe trigger delete` it first, or choose another name). */
  | 'TRIGGER_EXISTS'
  /** No running trigger has this name. */
  | 'TRIGGER_NOT_FOUND'
  /** A trigger could not list its prefix (no such bucket or directory, no permission, a server error). */
  | 'TRIGGER_LISTING_FAILED'
  /** A notification webhook names a secret variable the worker does not have (or one it may not read). */
  | 'WEBHOOK_SECRET_MISSING';

/** Options accepted by {@link MloeError}. */
export interface MloeErrorOptions {
  /** The underlying error, kept for logs and `error.cause` chains. */
  cause?: unknown;
  /** Whether retrying the same operation may succeed; maps to `ApplicationFailure.nonRetryable` when false. */
  retryable?: boolean;
}

/**
 * Base class of every error mloe throws on purpose.
 * The `code` is the stable, machine-readable part; the message is for humans and may change.
 */
export class MloeError extends Error {
  /** Stable machine-readable error code. */
  readonly code: MloeErrorCode;
  /** Whether retrying the same operation may succeed. */
  readonly retryable: boolean;

  constructor(code: MloeErrorCode, message: string, options: MloeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Invalid command-line flags or configuration; never retryable, the input has to change. */
export class ConfigError extends MloeError {
  constructor(message: string, options: Omit<MloeErrorOptions, 'retryable'> = {}) {
    super('CONFIG_INVALID', message, { ...options, retryable: false });
  }
}

/**
 * Turns anything thrown into an `Error`, so boundaries can rely on `message` and `stack`.
 * Use it in every `catch` that reports or rethrows.
 */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return new MloeError('INTERNAL', `non-error value thrown: ${text}`, { cause: value });
}

/**
 * Marks a branch the type checker proves unreachable, typically the `default` of an exhaustive `switch`.
 * Throws at run time if the proof was wrong (e.g. data from outside the type system).
 */
export function assertNever(value: never, what = 'value'): never {
  throw new MloeError('INTERNAL', `unexpected ${what}: ${JSON.stringify(value)}`);
}
