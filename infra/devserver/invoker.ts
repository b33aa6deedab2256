/**
 * One entry point to the dev server's method handlers for every transport: the gRPC server calls them through
 * `grpc.ts`, the HTTP API (`http/`) through an {@link RpcInvoker}, so both run the same handler, commit and error
 * path and answer the same statuses.
 */
import { RpcError } from './errors';
import { invokeUnary, rpcStatusOf, type UnaryHandler } from './grpc';
import type { Logger } from './logger';

/** Calls the dev server's method handlers in-process, as its gRPC server does. */
export interface RpcInvoker {
  /**
   * Calls `service`'s `method` with a decoded request (the plain object shape gRPC decoding produces: camelCase
   * fields, int64 as numbers, bytes as Buffers, enums as numbers). Resolves with the response object (or a
   * `RawResponse` of pre-encoded bytes) and rejects with an {@link RpcError} carrying the status a gRPC caller
   * would get (UNIMPLEMENTED for a method without a handler, INTERNAL, logged, for a bug).
   */
  invoke(service: string, method: string, request: unknown, signal: AbortSignal): Promise<unknown>;
  /** Whether the dev server has a handler for `service`'s `method` (others answer UNIMPLEMENTED). */
  implemented(service: string, method: string): boolean;
}

/** Builds the invoker over bound handler tables (full service name → method name → handler). */
export function createInvoker(
  services: ReadonlyMap<string, Readonly<Record<string, UnaryHandler | undefined>>>,
  afterHandler: (method: string) => Promise<void>,
  logger: Logger,
): RpcInvoker {
  return {
    invoke: async (service, method, request, signal) => {
      try {
        return await invokeUnary(service, method, services.get(service)?.[method], request, signal, afterHandler);
      } catch (err) {
        const status = rpcStatusOf(err, method, logger);
        throw new RpcError(status.code, status.message, status.details);
      }
    },
    implemented: (service, method) => services.get(service)?.[method] !== undefined,
  };
}
