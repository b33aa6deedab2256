/**
 * Proto3 JSON for the Temporal API, as Temporal's HTTP API writes and reads it: camelCase names, int64 as strings,
 * bytes as base64, enums by name, Timestamps and Durations as strings, `Any` with `@type`, default values left out.
 *
 * The conversion is protobufjs's own ProtoJSON extension (`protobufjs/ext/protojson`), taken from the protobufjs
 * that `@temporalio/proto` is built on, so that it reads the same reflection objects as the gRPC codec. On top of it,
 * Temporal's payload shorthand (its `temporalproto` JSON options, `common/v1/payload_json.go`): a `json/plain`
 * payload written as the JSON value it holds, `binary/null` as `null`, `json/protobuf` as its object with a
 * `_protoMessageType` member; any other payload keeps the full `{metadata, data}` form.
 */
import { createRequire } from 'node:module';
import type * as protobuf from 'protobufjs';

import { invalidArgument } from '../errors';
import { TO_OBJECT } from '../proto';

/** The part of `protobufjs/ext/protojson` we use. */
interface ProtoJsonModule {
  toJson(type: protobuf.Type, message: object): unknown;
  fromJson(type: protobuf.Type, json: unknown, options?: { ignoreUnknownFields?: boolean }): protobuf.Message;
}

// The extension must come from the protobufjs the reflection root was built with (the SDK's, not the project's).
const protoRequire = createRequire(require.resolve('@temporalio/proto'));
const protojson = protoRequire('protobufjs/ext/protojson') as ProtoJsonModule;

const PAYLOAD = '.temporal.api.common.v1.Payload';
const PAYLOADS = '.temporal.api.common.v1.Payloads';
const SHORTHAND_MESSAGE_TYPE = '_protoMessageType';

/** How payloads are written and read. */
export interface PayloadJsonOptions {
  /** Temporal's payload shorthand (the frontend HTTP API's default); off writes every payload in full form. */
  payloadShorthand: boolean;
}

/** Encodes a message as proto3 JSON. */
export function toProtoJson(type: protobuf.Type, message: protobuf.Message, options: PayloadJsonOptions): unknown {
  const json = protojson.toJson(type, message);
  return options.payloadShorthand ? mapPayloads(type, json, payloadToShorthand) : json;
}

/**
 * Decodes a request from proto3 JSON into the plain object shape the handlers receive over gRPC (the message goes
 * through its binary encoding, so the shape is exactly gRPC's: no default values, int64 as numbers, bytes as
 * Buffers, enums as numbers). Throws INVALID_ARGUMENT naming the field that is wrong.
 */
export function fromProtoJson(type: protobuf.Type, json: unknown, options: PayloadJsonOptions): unknown {
  const input = options.payloadShorthand ? mapPayloads(type, json, payloadFromShorthand) : json;
  let message: protobuf.Message;
  try {
    message = protojson.fromJson(type, input);
  } catch (err) {
    throw invalidArgument(`invalid ${type.fullName.slice(1)}: ${(err as Error).message}`);
  }
  return type.toObject(type.decode(type.encode(message).finish()), TO_OBJECT);
}

/** A rewrite of one payload's JSON: returns the replacement (`undefined` keeps the full form). */
type PayloadRewrite = (payload: unknown) => { value: unknown } | undefined;

/**
 * Walks `json` (a message of `type` in proto3 JSON) and rewrites every Payload and Payloads in it. Payloads is
 * rewritten element-wise; it takes the array form only when every element was rewritten (as Temporal does).
 */
function mapPayloads(type: protobuf.Type, json: unknown, rewrite: PayloadRewrite): unknown {
  if (!isPlainObject(json)) return json;
  if (type.fullName === PAYLOAD) return rewrite(json)?.value ?? json;
  if (type.fullName === PAYLOADS) return mapPayloadList(json, rewrite);
  let out: Record<string, unknown> | undefined;
  for (const field of type.fieldsArray) {
    const fieldType = field.resolve().resolvedType;
    if (!fieldType || !('fieldsArray' in fieldType) || fieldType.fullName.startsWith('.google.protobuf.')) continue;
    const value = json[field.name];
    if (value === undefined || value === null) continue;
    const messageType = fieldType;
    let mapped: unknown;
    if (field.map && isPlainObject(value)) {
      mapped = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, mapPayloadsValue(messageType, v, rewrite)] as const),
      );
    } else if (field.repeated && Array.isArray(value)) {
      mapped = value.map((v: unknown) => mapPayloadsValue(messageType, v, rewrite));
    } else {
      mapped = mapPayloadsValue(messageType, value, rewrite);
    }
    if (mapped !== value) (out ??= { ...json })[field.name] = mapped;
  }
  return out ?? json;
}

function mapPayloadsValue(type: protobuf.Type, value: unknown, rewrite: PayloadRewrite): unknown {
  if (type.fullName === PAYLOAD) return rewrite(value)?.value ?? value;
  if (type.fullName === PAYLOADS) return mapPayloadList(value, rewrite);
  return mapPayloads(type, value, rewrite);
}

function mapPayloadList(value: unknown, rewrite: PayloadRewrite): unknown {
  if (rewrite === payloadFromShorthand) {
    // Reading: an array is the shorthand of Payloads; an object is its full form.
    if (!Array.isArray(value)) return value;
    return { payloads: value.map((v: unknown) => payloadFromShorthand(v)?.value ?? v) };
  }
  if (!isPlainObject(value)) return value;
  const list = value.payloads;
  if (list === undefined) return [];
  if (!Array.isArray(list)) return value;
  const rewritten: unknown[] = [];
  for (const item of list) {
    const r = rewrite(item);
    if (!r) return value;
    rewritten.push(r.value);
  }
  return rewritten;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

function base64Text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return textDecoder.decode(Buffer.from(value, 'base64'));
  } catch {
    return undefined;
  }
}

/** Full form → shorthand, for the encodings Temporal shortens; undefined for any other payload. */
function payloadToShorthand(payload: unknown): { value: unknown } | undefined {
  if (!isPlainObject(payload) || !isPlainObject(payload.metadata)) return undefined;
  const metadata = payload.metadata;
  const keys = Object.keys(metadata);
  const encoding = base64Text(metadata.encoding);
  if (encoding === 'binary/null') return { value: null };
  const data = payload.data === undefined ? '' : base64Text(payload.data);
  if (data === undefined) return undefined;
  if (encoding === 'json/plain' && keys.length === 1) {
    const parsed = parseJson(data);
    return parsed === undefined ? undefined : { value: parsed.value };
  }
  if (encoding === 'json/protobuf' && keys.length === 2) {
    const messageType = base64Text(metadata.messageType);
    const parsed = parseJson(data);
    if (!messageType || !parsed || !isPlainObject(parsed.value)) return undefined;
    return { value: { ...parsed.value, [SHORTHAND_MESSAGE_TYPE]: messageType } };
  }
  return undefined;
}

/** Shorthand → full form; a value already in full form is kept (as Temporal's reader decides). */
function payloadFromShorthand(value: unknown): { value: unknown } | undefined {
  if (isFullPayload(value)) return undefined;
  const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  if (value === null) return { value: { metadata: { encoding: b64('binary/null') } } };
  if (isPlainObject(value) && typeof value[SHORTHAND_MESSAGE_TYPE] === 'string') {
    const { [SHORTHAND_MESSAGE_TYPE]: messageType, ...rest } = value;
    return {
      value: {
        metadata: { encoding: b64('json/protobuf'), messageType: b64(messageType) },
        data: b64(JSON.stringify(rest)),
      },
    };
  }
  return { value: { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(value)) } };
}

const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

/** `{metadata: {encoding: base64, ...}, data: base64}` (data may be absent for binary/null), nothing else. */
function isFullPayload(value: unknown): boolean {
  if (!isPlainObject(value) || !isPlainObject(value.metadata)) return false;
  const keys = Object.keys(value);
  if (keys.some((k) => k !== 'metadata' && k !== 'data')) return false;
  const metadata = Object.values(value.metadata);
  if (typeof value.metadata.encoding !== 'string') return false;
  if (!metadata.every((v) => typeof v === 'string' && BASE64.test(v))) return false;
  if (value.data === undefined) return base64Text(value.metadata.encoding) === 'binary/null';
  return typeof value.data === 'string' && BASE64.test(value.data);
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
