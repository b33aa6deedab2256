/**
 * Errors of the MLflow client: one class, {@link MlflowError}, with MLflow's own `error_code` beside the HTTP status,
 * the endpoint and whether trying again may help.
 *
 * MLflow answers an error with `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}` and the matching HTTP
 * status. An answer without such a body (a proxy's HTML page, an unknown route) gets the code MLflow's Python client
 * derives from the status: a 404 without a JSON body is `ENDPOINT_NOT_FOUND`. Failures that never reached an answer
 * get this client's own codes: `CONNECTION_FAILED`, `TIMEOUT`, `ABORTED`, `INVALID_RESPONSE`, `INVALID_REQUEST`.
 */
import { MloeError } from '../../core/errors';

/** The error codes MLflow servers answer with (`databricks.proto`'s `ErrorCode`, the ones MLflow uses). */
export type MlflowServerErrorCode =
  | 'INTERNAL_ERROR'
  | 'TEMPORARILY_UNAVAILABLE'
  | 'IO_ERROR'
  | 'BAD_REQUEST'
  | 'INVALID_PARAMETER_VALUE'
  | 'ENDPOINT_NOT_FOUND'
  | 'MALFORMED_REQUEST'
  | 'INVALID_STATE'
  | 'PERMISSION_DENIED'
  | 'FEATURE_DISABLED'
  | 'CUSTOMER_UNAUTHORIZED'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'RESOURCE_CONFLICT'
  | 'UNPARSEABLE_HTTP_ERROR'
  | 'NOT_IMPLEMENTED'
  | 'DATA_LOSS'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'RESOURCE_EXHAUSTED'
  | 'ABORTED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'RESOURCE_DOES_NOT_EXIST';

/** Codes of failures this client detects itself, before or without an answer from the server. */
export type MlflowClientErrorCode =
  /** No connection (refused, reset, DNS failure, TLS failure); retryable. */
  | 'CONNECTION_FAILED'
  /** No complete answer within the request timeout; retryable. */
  | 'TIMEOUT'
  /** The caller's `AbortSignal` fired; never retried. */
  | 'ABORTED'
  /** A successful answer that is not the JSON shape MLflow documents for the endpoint; never retried. */
  | 'INVALID_RESPONSE'
  /** The request failed this client's own checks before it was sent (wrong type, unsupported URI); never retried. */
  | 'INVALID_REQUEST';

/** Every code an {@link MlflowError} carries; a server may send codes not listed, kept as they came. */
export type MlflowErrorCode = MlflowServerErrorCode | MlflowClientErrorCode | (string & {});

/** Options of {@link MlflowError}. */
export interface MlflowErrorOptions {
  /** MLflow's `error_code`, or this client's own code. */
  errorCode: MlflowErrorCode;
  /** `METHOD /path` of the request, without host, query or credentials. */
  endpoint: string;
  /** The HTTP status, when an answer arrived. */
  httpStatus?: number;
  /** Whether the same request may succeed later (429, 5xx, connection failures, timeouts). */
  retryable: boolean;
  /** How many times the request was sent. */
  attempts?: number;
  /** The underlying error (a network error, a zod error). */
  cause?: unknown;
}

/**
 * A failed MLflow request. `errorCode` is what callers branch on (`RESOURCE_ALREADY_EXISTS` when creating something
 * that exists, `RESOURCE_DOES_NOT_EXIST`, `INVALID_PARAMETER_VALUE`, ...), exactly as MLflow's own clients do. The
 * message names the endpoint and MLflow's message; it never contains credentials or request bodies.
 */
export class MlflowError extends MloeError {
  /** MLflow's `error_code` (or this client's own code, see {@link MlflowClientErrorCode}). */
  readonly errorCode: MlflowErrorCode;
  /** The HTTP status, when the server answered. */
  readonly httpStatus: number | undefined;
  /** `METHOD /path` of the failed request. */
  readonly endpoint: string;
  /** How many times the request was sent (1 when it was not retried). */
  readonly attempts: number;

  constructor(message: string, options: MlflowErrorOptions) {
    super('MLFLOW_REQUEST_FAILED', message, {
      retryable: options.retryable,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.errorCode = options.errorCode;
    this.httpStatus = options.httpStatus;
    this.endpoint = options.endpoint;
    this.attempts = options.attempts ?? 1;
  }
}

/** Whether `error` is an {@link MlflowError} with the given MLflow error code. */
export function isMlflowError(error: unknown, errorCode?: MlflowErrorCode): error is MlflowError {
  return error instanceof MlflowError && (errorCode === undefined || error.errorCode === errorCode);
}

/**
 * The code MLflow's Python client gives an error answer that carries no `error_code` (e.g. an HTML 404 from a proxy
 * or an unknown route): the reverse of MLflow's error-code-to-status table, with 400, 404 and 500 pinned to
 * `BAD_REQUEST`, `ENDPOINT_NOT_FOUND` and `INTERNAL_ERROR`.
 */
export function errorCodeForStatus(status: number): MlflowServerErrorCode {
  switch (status) {
    case 400:
      return 'BAD_REQUEST';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'ENDPOINT_NOT_FOUND';
    case 409:
      return 'RESOURCE_CONFLICT';
    case 429:
      return 'REQUEST_LIMIT_EXCEEDED';
    case 501:
      return 'NOT_IMPLEMENTED';
    case 503:
      return 'TEMPORARILY_UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return 'INTERNAL_ERROR';
  }
}

/**
 * Whether an HTTP status is worth retrying: 429 (rate limited) and the 5xx family except 501 (not implemented) and
 * 505 (HTTP version), which will not change. Every other 4xx is the request's fault and is never retried.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}
