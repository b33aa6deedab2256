/**
 * The shape every gRPC method handler of the dev server has, in its own module so that the service tables of each
 * protocol area (workflows, visibility, schedules, operator, test service) can share it without importing each other.
 */
import type { Engine } from '../engine';

/** A method handler: request object in, response object (or pre-encoded bytes) out. */
export type Handler = (engine: Engine, request: never, signal: AbortSignal) => unknown;
