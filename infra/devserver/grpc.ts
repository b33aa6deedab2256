/**
 * gRPC plumbing: service definitions built from the SDK's protobuf reflection root, request decoding that turns
 * malformed bytes into INVALID_ARGUMENT instead of killing the call, response encoding that passes pre-encoded
 * histories through, and mapping of handler errors to statuses.
 */
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { RawResponse } from './engine';
import { RpcError } from './errors';
import type { Logger } from './logger';
import { TO_OBJECT, protoRoot } from './proto';

/** Marks a request whose bytes could not be decoded. */
class DecodeFailure {
  constructor(readonly message: string) {}
}

/** A call's context: an abort signal for long polls and the method name. */
export type UnaryHandler = (request: unknown, signal: AbortSignal) => unknown;

/**
 * Builds a grpc-js service definition and implementation for `serviceName`, routing each method to
 * `handlers[name]` or answering UNIMPLEMENTED.
 */
export function buildService(
  serviceName: string,
  handlers: Record<string, UnaryHandler | undefined>,
  logger: Logger,
  afterHandler: (method: string) => Promise<void>,
): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const service = protoRoot.lookupService(serviceName);
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const reqType = method.resolvedRequestType as protobuf.Type;
    const resType = method.resolvedResponseType as protobuf.Type;
    definition[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: unknown) => Buffer.from(reqType.encode(reqType.fromObject(value as object)).finish()),
      requestDeserialize: (bytes: Buffer) => {
        try {
          return reqType.toObject(reqType.decode(bytes), TO_OBJECT);
        } catch (err) {
          return new DecodeFailure(`request is not a valid ${reqType.fullName.slice(1)}: ${(err as Error).message}`);
        }
      },
      responseSerialize: (value: unknown) =>
        value instanceof RawResponse
          ? value.bytes
          : Buffer.from(resType.encode(resType.fromObject(value as object)).finish()),
      responseDeserialize: (bytes: Buffer) => resType.toObject(resType.decode(bytes), TO_OBJECT),
    };
    const handler = handlers[method.name];
    implementation[method.name] = (
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      void handleCall(method.name, handler, call, callback, logger, afterHandler, serviceName);
    };
  }
  return { definition: definition, implementation };
}

async function handleCall(
  name: string,
  handler: UnaryHandler | undefined,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<unknown>,
  logger: Logger,
  afterHandler: (method: string) => Promise<void>,
  serviceName: string,
): Promise<void> {
  const controller = new AbortController();
  const onCancel = (): void => controller.abort();
  call.on('cancelled', onCancel);
  try {
    if (call.request instanceof DecodeFailure) throw new RpcError(grpc.status.INVALID_ARGUMENT, call.request.message);
    callback(null, await invokeUnary(serviceName, name, handler, call.request, controller.signal, afterHandler));
  } catch (err) {
    callback(toServiceError(err, name, logger));
  } finally {
    call.removeListener('cancelled', onCancel);
  }
}

/**
 * Runs one unary call the way every transport must (gRPC here, the HTTP API in `http/`): UNIMPLEMENTED for a method
 * without a handler, the handler, then the commit. Some refusals follow a change the caller must not lose (a workflow
 * task failed as UnhandledCommand, say): an {@link RpcError} commits before it is answered too, and a commit failure
 * is answered instead. Resolves with the response (`{}` when the handler returned nothing) or rejects with the error.
 */
export async function invokeUnary(
  serviceName: string,
  name: string,
  handler: UnaryHandler | undefined,
  request: unknown,
  signal: AbortSignal,
  afterHandler: (method: string) => Promise<void>,
): Promise<unknown> {
  try {
    if (!handler) {
      throw new RpcError(
        grpc.status.UNIMPLEMENTED,
        `${serviceName.split('.').pop()}/${name} is not implemented by the mloe dev server yet`,
      );
    }
    const response = await handler(request, signal);
    await afterHandler(name);
    return response ?? {};
  } catch (err) {
    const commitFailure =
      err instanceof RpcError
        ? await afterHandler(name).then(
            () => undefined,
            (e: unknown) => e,
          )
        : undefined;
    throw commitFailure ?? err;
  }
}

/**
 * Error messages may echo user input (a query string, an id); grpc-js percent-encodes them with `encodeURI`, which
 * throws on lone UTF-16 surrogates and would take the process down. Replace those with U+FFFD.
 */
function wellFormed(message: string): string {
  return message.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A call's outcome as a status: code, message and optional encoded `google.rpc.Status` details. */
export interface RpcStatus {
  code: grpc.status;
  message: string;
  details?: Uint8Array | undefined;
}

/**
 * Maps a thrown value to the status a caller receives, on every transport: an {@link RpcError} as it is, anything
 * else as INTERNAL (logged with its stack, since it is a bug).
 */
export function rpcStatusOf(err: unknown, method: string, logger: Logger): RpcStatus {
  if (err instanceof RpcError) return { code: err.code, message: wellFormed(err.message), details: err.details };
  const e = err instanceof Error ? err : new Error(String(err));
  logger.error('internal error', { method, error: e.message, stack: e.stack });
  return { code: grpc.status.INTERNAL, message: wellFormed(`internal error in ${method}: ${e.message}`) };
}

/** Maps a thrown value to a gRPC error (unknown errors become INTERNAL and are logged). */
function toServiceError(err: unknown, method: string, logger: Logger): Partial<grpc.StatusObject> {
  const status = rpcStatusOf(err, method, logger);
  const metadata = new grpc.Metadata();
  if (status.details) metadata.set('grpc-status-details-bin', Buffer.from(status.details));
  return { code: status.code, details: status.message, metadata };
}
