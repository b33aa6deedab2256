/**
 * MLflow's error model: every failure the server reports carries one of MLflow's `error_code` names and the HTTP
 * status MLflow's server maps it to, and is answered as `{"error_code": "...", "message": "..."}`.
 */

/** The error codes the server answers with (a subset of MLflow's `databricks.proto` ErrorCode). */
export type MlflowErrorCode =
  | 'INTERNAL_ERROR'
  | 'INVALID_STATE'
  | 'TEMPORARILY_UNAVAILABLE'
  | 'ENDPOINT_NOT_FOUND'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'INVALID_PARAMETER_VALUE'
  | 'BAD_REQUEST'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'NOT_IMPLEMENTED';

/** The HTTP status of each code, as `mlflow/exceptions.py` maps them (INVALID_STATE is a 500 there too). */
export function httpStatusOf(code: MlflowErrorCode): 400 | 404 | 429 | 500 | 501 | 503 {
  switch (code) {
    case 'INTERNAL_ERROR':
    case 'INVALID_STATE':
      return 500;
    case 'TEMPORARILY_UNAVAILABLE':
      return 503;
    case 'ENDPOINT_NOT_FOUND':
    case 'RESOURCE_DOES_NOT_EXIST':
      return 404;
    case 'RESOURCE_ALREADY_EXISTS':
    case 'INVALID_PARAMETER_VALUE':
    case 'BAD_REQUEST':
      return 400;
    case 'REQUEST_LIMIT_EXCEEDED':
      return 429;
    case 'NOT_IMPLEMENTED':
      return 501;
  }
}

/** A failure answered with MLflow's error body; the message is shown to the client as is. */
export class MlflowError extends Error {
  constructor(
    readonly errorCode: MlflowErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MlflowError';
  }

  /** The HTTP status MLflow answers this error with. */
  get httpStatus(): number {
    return httpStatusOf(this.errorCode);
  }

  /** The JSON body MLflow answers with. */
  toJson(): { error_code: MlflowErrorCode; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

/** `INVALID_PARAMETER_VALUE` (400): the request names something in a way MLflow refuses. */
export function invalidParameter(message: string): MlflowError {
  return new MlflowError('INVALID_PARAMETER_VALUE', message);
}

/** `RESOURCE_DOES_NOT_EXIST` (404). */
export function doesNotExist(message: string): MlflowError {
  return new MlflowError('RESOURCE_DOES_NOT_EXIST', message);
}

/** `RESOURCE_ALREADY_EXISTS` (400). */
export function alreadyExists(message: string): MlflowError {
  return new MlflowError('RESOURCE_ALREADY_EXISTS', message);
}
