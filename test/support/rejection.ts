/**
 * What a call that must fail failed with, for expectations on the error itself (its class, code, message, gRPC
 * status). Each helper fails the test when the call succeeds instead.
 */
import { MloeError } from '../../core/errors';

/** What `body` threw (synchronously) or its promise rejected with; throws when it succeeded. */
export async function failureOf(body: () => unknown): Promise<unknown> {
  try {
    await body();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** What `body` threw; throws when it returned. */
export function thrownBy(body: () => unknown): unknown {
  try {
    body();
  } catch (error) {
    return error;
  }
  throw new Error('expected an exception');
}

/** What `promise` rejected with; throws when it resolved. */
export function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return failureOf(() => promise);
}

/** The {@link MloeError} `promise` rejected with; throws when it resolved or rejected with anything else. */
export async function mloeRejection(promise: Promise<unknown>): Promise<MloeError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  if (!(error instanceof MloeError)) throw new Error(`expected an MloeError, got ${String(error)}`);
  return error;
}

/** A gRPC status: its code (5 is NOT_FOUND, ...) and message. */
export interface GrpcStatus {
  code?: number;
  details?: string;
}

/** The gRPC status an error carries (the Temporal SDK wraps it in a ServiceError's `cause`). */
export function grpcStatus(error: unknown): GrpcStatus {
  const e = error as GrpcStatus & { cause?: GrpcStatus };
  return e.cause?.code !== undefined ? e.cause : e;
}

/** The gRPC status `call` rejected with; throws when it resolved. */
export async function grpcRejection(call: Promise<unknown>): Promise<GrpcStatus> {
  try {
    await call;
  } catch (error) {
    return grpcStatus(error);
  }
  throw new Error('the call was expected to fail');
}
