/**
 * Protobuf types and codecs for the Temporal API, taken from the official SDK's `@temporalio/proto` package so that
 * the dev server and the SDK always agree on the wire format (never hand-copied definitions).
 */
import * as proto from '@temporalio/proto';
import type * as protobuf from 'protobufjs';
import type Long from 'long';

export { temporal, google } from '@temporalio/proto';
/** The reflection root, used to build gRPC service definitions and look up message types. */
export const protoRoot = proto as unknown as protobuf.Root;

/** Temporal API namespaces, re-exported under short names (types and values). */
export type { proto };
export const enums = proto.temporal.api.enums.v1;
export const EventType = enums.EventType;
export type EventType = proto.temporal.api.enums.v1.EventType;
export const CommandType = enums.CommandType;
export const WorkflowExecutionStatus = enums.WorkflowExecutionStatus;
export type WorkflowExecutionStatus = proto.temporal.api.enums.v1.WorkflowExecutionStatus;
export const RetryState = enums.RetryState;
export type RetryState = proto.temporal.api.enums.v1.RetryState;
export const TimeoutType = enums.TimeoutType;
export type TimeoutType = proto.temporal.api.enums.v1.TimeoutType;
export const WorkflowTaskFailedCause = enums.WorkflowTaskFailedCause;
export type WorkflowTaskFailedCause = proto.temporal.api.enums.v1.WorkflowTaskFailedCause;
export type Failure = Loose<proto.temporal.api.failure.v1.IFailure>;
export type RetryPolicy = Loose<proto.temporal.api.common.v1.IRetryPolicy>;
export type Memo = Loose<proto.temporal.api.common.v1.IMemo>;
export type SearchAttributes = Loose<proto.temporal.api.common.v1.ISearchAttributes>;
export type Header = Loose<proto.temporal.api.common.v1.IHeader>;
export type Command = Loose<proto.temporal.api.command.v1.ICommand>;
export type ProtocolMessage = Loose<proto.temporal.api.protocol.v1.IMessage>;
export type WorkflowExecutionRef = Loose<proto.temporal.api.common.v1.IWorkflowExecution>;

export type Payloads = Loose<proto.temporal.api.common.v1.IPayloads>;
export type HistoryEvent = Loose<proto.temporal.api.history.v1.IHistoryEvent>;
export type Timestamp = Loose<proto.google.protobuf.ITimestamp>;
export type Duration = Loose<proto.google.protobuf.IDuration>;

/**
 * The protobufjs interfaces type int64 fields as `Long`; we decode them as JS numbers (see {@link TO_OBJECT}).
 * `Loose<T>` is the shape we actually handle: the same fields with numbers for longs.
 */
export type Loose<T> = T extends Long
  ? number
  : T extends Uint8Array
    ? Uint8Array
    : T extends (infer U)[]
      ? Loose<U>[]
      : T extends object
        ? { [K in keyof T]?: Loose<NonNullable<T[K]>> | null | undefined }
        : T;

/** Options used for every decode: int64 as JS numbers, enums as numbers, bytes as Buffers, no defaults. */
export const TO_OBJECT: protobuf.IConversionOptions = { longs: Number };

const eventType = proto.temporal.api.history.v1.HistoryEvent;
/** Encodes one history event into protobuf bytes (done once per event; histories are sent by concatenation). */
export function encodeEvent(event: HistoryEvent): Uint8Array {
  return eventType.encode(eventType.fromObject(event)).finish();
}

/** Decodes one history event from protobuf bytes into a plain object. */
export function decodeEvent(bytes: Uint8Array): HistoryEvent {
  return eventType.toObject(eventType.decode(bytes), TO_OBJECT);
}

/** Converts milliseconds since the epoch to a protobuf Timestamp. */
export function msToTimestamp(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** Converts a protobuf Timestamp to milliseconds since the epoch (0 when absent). */
export function timestampToMs(ts: Timestamp | null | undefined): number {
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor(Number(ts.nanos ?? 0) / 1e6);
}

/** Converts a protobuf Duration to milliseconds (0 when absent). */
export function durationToMs(d: Duration | null | undefined): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) * 1000 + Math.floor(Number(d.nanos ?? 0) / 1e6);
}

/** Converts milliseconds to a protobuf Duration. */
export function msToDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos ? { seconds, nanos } : { seconds };
}

/** Packs a message into a `google.protobuf.Any`. */
export function packAny(typeName: string, value: Record<string, unknown>): proto.google.protobuf.IAny {
  const type = protoRoot.lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: type.encode(type.fromObject(value)).finish() };
}

/** Unpacks a `google.protobuf.Any` whose type is expected to be `typeName`; undefined if it is another type. */
export function unpackAny<T>(
  any: Loose<proto.google.protobuf.IAny> | null | undefined,
  typeName: string,
): T | undefined {
  if (!any?.value || any.type_url !== `type.googleapis.com/${typeName}`) return undefined;
  const type = protoRoot.lookupType(typeName);
  return type.toObject(type.decode(any.value), TO_OBJECT) as T;
}
