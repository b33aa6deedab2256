/**
 * Errors over HTTP as Temporal's HTTP API answers them: the gRPC status mapped to an HTTP status the way
 * grpc-gateway's `HTTPStatusFromCode` does, and the body a `google.rpc.Status` in proto3 JSON,
 * `{"code": 5, "message": "...", "details": [{"@type": "type.googleapis.com/...", ...}]}`.
 */
import { status as Code } from '@grpc/grpc-js';
import { google } from '@temporalio/proto';

import { RpcError } from '../errors';
import { protoRoot } from '../proto';
import { toProtoJson } from './protojson';

/** grpc-gateway's mapping of gRPC status codes to HTTP statuses. */
export function httpStatusFromCode(code: Code): number {
  switch (code) {
    case Code.OK:
      return 200;
    case Code.CANCELLED:
      return 499;
    case Code.UNKNOWN:
      return 500;
    case Code.INVALID_ARGUMENT:
      return 400;
    case Code.DEADLINE_EXCEEDED:
      return 504;
    case Code.NOT_FOUND:
      return 404;
    case Code.ALREADY_EXISTS:
      return 409;
    case Code.PERMISSION_DENIED:
      return 403;
    case Code.UNAUTHENTICATED:
      return 401;
    case Code.RESOURCE_EXHAUSTED:
      return 429;
    case Code.FAILED_PRECONDITION:
      return 400;
    case Code.ABORTED:
      return 409;
    case Code.OUT_OF_RANGE:
      return 400;
    case Code.UNIMPLEMENTED:
      return 501;
    case Code.INTERNAL:
      return 500;
    case Code.UNAVAILABLE:
      return 503;
    case Code.DATA_LOSS:
      return 500;
    default:
      return 500;
  }
}

const statusType = protoRoot.lookupType('google.rpc.Status');

/** The JSON body of an error: the RpcError's `google.rpc.Status` details when it has them, else code and message. */
export function errorBody(error: RpcError): unknown {
  let details: unknown[] = [];
  if (error.details) {
    try {
      details = google.rpc.Status.decode(error.details).details;
    } catch {
      details = [];
    }
  }
  const message = statusType.fromObject({ code: error.code, message: error.message, details });
  // The details are Temporal's own error messages (errordetails), never payloads: no shorthand to apply.
  return toProtoJson(statusType, message, { payloadShorthand: false });
}

/** An HTTP error response's parts for an RpcError. */
export function errorResponse(error: RpcError): { status: number; body: unknown } {
  return { status: httpStatusFromCode(error.code), body: errorBody(error) };
}
