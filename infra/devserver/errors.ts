/**
 * gRPC errors answered by the dev server, with the status codes and message shapes Temporal's frontend uses, so the
 * official SDK maps them onto the same exceptions it raises against a real cluster.
 */
import { status } from '@grpc/grpc-js';
import { google, temporal } from '@temporalio/proto';

/** An error answered to a gRPC caller with a status code (the code is the contract, the message is for people). */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
    /** Optional `google.rpc.Status` details (encoded) sent in `grpc-status-details-bin`. */
    readonly details?: Uint8Array,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const invalidArgument = (message: string): RpcError => new RpcError(status.INVALID_ARGUMENT, message);
/**
 * NOT_FOUND with a `NotFoundFailure` detail, as Temporal's `serviceerror.NotFound` answers it (gRPC and HTTP
 * clients see the same `details`).
 */
export const notFound = (message: string): RpcError => {
  const failure = temporal.api.errordetails.v1.NotFoundFailure;
  const detail = {
    type_url: 'type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure',
    value: failure.encode(failure.fromObject({})).finish(),
  };
  const details = google.rpc.Status.encode(
    google.rpc.Status.fromObject({ code: status.NOT_FOUND, message, details: [detail] }),
  ).finish();
  return new RpcError(status.NOT_FOUND, message, details);
};
export const alreadyExists = (message: string, details?: Uint8Array): RpcError =>
  new RpcError(status.ALREADY_EXISTS, message, details);
export const failedPrecondition = (message: string): RpcError => new RpcError(status.FAILED_PRECONDITION, message);
export const resourceExhausted = (message: string): RpcError => new RpcError(status.RESOURCE_EXHAUSTED, message);
export const unimplemented = (message: string): RpcError => new RpcError(status.UNIMPLEMENTED, message);
export const internal = (message: string): RpcError => new RpcError(status.INTERNAL, message);

/**
 * Temporal's answer when a namespace is unknown: NOT_FOUND with a `NamespaceNotFoundFailure` detail, which the SDK
 * raises as `NamespaceNotFoundError` (without the detail it reports a missing workflow instead).
 */
export const namespaceNotFound = (namespace: string): RpcError => {
  const message = `Namespace ${namespace} is not found.`;
  const failure = temporal.api.errordetails.v1.NamespaceNotFoundFailure;
  const detail = {
    type_url: 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure',
    value: failure.encode(failure.fromObject({ namespace })).finish(),
  };
  const details = google.rpc.Status.encode(
    google.rpc.Status.fromObject({ code: status.NOT_FOUND, message, details: [detail] }),
  ).finish();
  return new RpcError(status.NOT_FOUND, message, details);
};

/** Temporal's answer when an execution is unknown. */
export const workflowNotFound = (workflowId: string, runId?: string | null): RpcError =>
  notFound(`workflow execution not found for workflow ID "${workflowId}"${runId ? ` and run ID "${runId}"` : ''}`);
