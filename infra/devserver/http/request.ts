/**
 * Builds an RPC's request from an HTTP request the way grpc-gateway does for Temporal's HTTP API: with `body: "*"`
 * the JSON body is the request; path variables then set their fields (nested ones by their dotted paths); without
 * a body, query parameters set fields by their proto3 JSON (camelCase) or proto (snake_case) names, nested fields
 * by dotted paths, repeated fields by repeating the parameter. Query parameters naming no field are ignored, as
 * grpc-gateway ignores them; query parameters for fields the path binds are ignored too.
 */
import type * as protobuf from 'protobufjs';

import { invalidArgument } from '../errors';
import { camelCase, type Route } from './routes';

/** A JSON object under construction. */
type JsonObject = Record<string, unknown>;

/** Query parameters Temporal's HTTP API reads itself (output options), never request fields. */
export const RESERVED_QUERY_PARAMETERS = new Set(['pretty', 'noPayloadShorthand']);

/**
 * The request of `route` in proto3 JSON: `body` (already parsed JSON, or undefined when the request had none),
 * then the path parameters, then (for routes without a body) the query parameters.
 */
export function requestJson(
  route: Route,
  params: readonly { fieldPath: string[]; value: string }[],
  query: URLSearchParams,
  body: unknown,
): JsonObject {
  let json: JsonObject = {};
  if (route.body === '*') {
    if (body !== undefined) {
      if (!isPlainObject(body)) {
        throw invalidArgument(`the request body must be a JSON object (a ${route.requestType.name})`);
      }
      json = { ...body };
    }
  } else if (route.body !== undefined) {
    if (body !== undefined) json[camelCase(route.body)] = body;
  }
  for (const param of params) setField(route.requestType, json, param.fieldPath, [param.value], 'path');
  if (route.body !== '*') {
    const names = [...new Set(query.keys())];
    for (const name of names) {
      if (RESERVED_QUERY_PARAMETERS.has(name)) continue;
      const fieldPath = name.split('.').map(camelCase);
      if (route.body !== undefined && fieldPath[0] === camelCase(route.body)) continue;
      if (route.pathFields.some((bound) => startsWith(fieldPath, bound))) continue;
      if (!resolves(route.requestType, fieldPath)) continue;
      setField(route.requestType, json, fieldPath, query.getAll(name), 'query');
    }
  }
  return json;
}

function startsWith(path: string[], prefix: string[]): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
}

/** Whether `fieldPath` names a field of `type` (through singular message fields). */
function resolves(type: protobuf.Type, fieldPath: string[]): boolean {
  let current: protobuf.Type = type;
  for (let i = 0; i < fieldPath.length; i += 1) {
    const field = current.fields[fieldPath[i]!];
    if (!field) return false;
    if (i === fieldPath.length - 1) return true;
    const next = field.resolve().resolvedType;
    if (!next || !('fieldsArray' in next) || field.repeated || field.map) return false;
    current = next;
  }
  return false;
}

/**
 * Sets the field at `fieldPath` (camelCase names) in `json` from string values, converted for the field's type so
 * that the proto3 JSON reader accepts them (enums by name or number, booleans, base64 bytes, Timestamps and
 * Durations in their string forms, numbers as strings).
 */
function setField(
  type: protobuf.Type,
  json: JsonObject,
  fieldPath: string[],
  values: string[],
  source: 'path' | 'query',
): void {
  const where = `${source} parameter "${fieldPath.join('.')}"`;
  let current: protobuf.Type = type;
  let target = json;
  for (let i = 0; i < fieldPath.length - 1; i += 1) {
    const field = current.fields[fieldPath[i]!];
    const next = field?.resolve().resolvedType;
    if (!field || !next || !('fieldsArray' in next) || field.repeated || field.map) {
      throw invalidArgument(`${where} does not name a field of ${type.name}`);
    }
    const existing = target[field.name];
    const child: JsonObject = isPlainObject(existing) ? { ...existing } : {};
    target[field.name] = child;
    target = child;
    current = next;
  }
  const leaf = current.fields[fieldPath[fieldPath.length - 1]!];
  if (!leaf) throw invalidArgument(`${where} does not name a field of ${type.name}`);
  leaf.resolve();
  if (leaf.map) throw invalidArgument(`${where} is a map field, which cannot be set from a ${source} parameter`);
  const converted = values.map((v) => scalarJson(leaf, v, where));
  if (leaf.repeated) target[leaf.name] = converted;
  else if (converted.length > 1)
    throw invalidArgument(`${where} is given ${converted.length} times; it takes one value`);
  else target[leaf.name] = converted[0];
}

const WELL_KNOWN_FROM_STRING = new Set([
  '.google.protobuf.Timestamp',
  '.google.protobuf.Duration',
  '.google.protobuf.FieldMask',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
]);

function scalarJson(field: protobuf.Field, value: string, where: string): unknown {
  const resolved = field.resolvedType;
  if (resolved && 'values' in resolved) return /^-?\d+$/.test(value) ? Number(value) : value;
  if (resolved && 'fieldsArray' in resolved) {
    if (resolved.fullName === '.google.protobuf.BoolValue') return parseBool(value, where);
    if (WELL_KNOWN_FROM_STRING.has(resolved.fullName)) return value;
    throw invalidArgument(
      `${where} is a message (${resolved.name}); set its fields instead, e.g. "${field.name}.<field>"`,
    );
  }
  switch (field.type) {
    case 'bool':
      return parseBool(value, where);
    case 'bytes':
      // A "+" of base64 arrives as a space when the client did not percent-encode it.
      return value.replace(/ /g, '+');
    default:
      return value;
  }
}

/** Booleans as Go's strconv.ParseBool reads them (what grpc-gateway uses). */
function parseBool(value: string, where: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw invalidArgument(`${where} must be true or false, not "${value}"`);
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
