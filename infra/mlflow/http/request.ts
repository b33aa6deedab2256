/**
 * Request messages as MLflow's server reads them: GET parameters from the query string (repeated fields from repeated
 * keys), everything else from a JSON body (absent means `{}`; a JSON string holding JSON is decoded again, as MLflow
 * does for old clients). Fields are read with their protobuf types, and a missing required field or a value of the
 * wrong type is MLflow's INVALID_PARAMETER_VALUE message naming the parameter.
 */
import type { Context } from 'hono';

import { invalidParameter } from '../errors';
import type { JsonDouble, KeyValueJson } from '../proto-json';

const API_DOCS = ' See the API docs for more information about request parameters.';

function pythonType(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (Array.isArray(value)) return 'list';
  return 'dict';
}

/** MLflow's message for a missing required parameter. */
export function missingValue(path: string): Error {
  return invalidParameter(`Missing value for required parameter '${path}'.${API_DOCS}`);
}

/** MLflow's message for a parameter of the wrong type or form. */
export function invalidValue(path: string, value: unknown, hint?: string): Error {
  return invalidParameter(
    `Invalid value ${JSON.stringify(value) ?? 'null'} for parameter '${path}' supplied: ` +
      `${hint ?? `Hint: Value was of type '${pythonType(value)}'.`}${API_DOCS}`,
  );
}

/** The fields of one request message (or of one nested message, with its path prefix). */
export class RequestFields {
  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    private readonly prefix = '',
  ) {}

  private value(name: string): unknown {
    const value = this.raw[name];
    return value === null ? undefined : value;
  }

  private path(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Whether the field is present (not absent, not null). */
  has(name: string): boolean {
    return this.value(name) !== undefined;
  }

  /** A string field; undefined when absent. */
  string(name: string): string | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw invalidValue(this.path(name), value);
    return value;
  }

  /** A required string field: absent or empty is MLflow's "Missing value". */
  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') throw missingValue(this.path(name));
    return value;
  }

  /** `run_id`, or the deprecated `run_uuid` when `run_id` is absent. */
  runId(): string {
    const runId = this.string('run_id');
    if (runId !== undefined && runId !== '') return runId;
    const runUuid = this.string('run_uuid');
    if (runUuid !== undefined && runUuid !== '') return runUuid;
    throw missingValue(this.path('run_id'));
  }

  /** An int64 field (a JSON number or a decimal string); undefined when absent. */
  int(name: string): number | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    const number = typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isSafeInteger(number)) throw invalidValue(this.path(name), value);
    return number;
  }

  /** A required int64 field. */
  requiredInt(name: string): number {
    const value = this.int(name);
    if (value === undefined) throw missingValue(this.path(name));
    return value;
  }

  /** A required double field: a JSON number, a decimal string, or `"NaN"`, `"Infinity"`, `"-Infinity"`. */
  requiredDouble(name: string): number {
    const value = this.value(name);
    if (value === undefined || value === '') throw missingValue(this.path(name));
    if (typeof value === 'number') return value;
    if (typeof value === 'string') {
      const special: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
      const text = value.trim();
      if (text in special) return special[text as JsonDouble & string]!;
      if (/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return Number(text);
    }
    throw invalidValue(this.path(name), value);
  }

  /** A bool field (`true`/`false`, or those words in a query string); undefined when absent. */
  bool(name: string): boolean | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'True') return true;
    if (value === 'false' || value === 'False') return false;
    throw invalidValue(this.path(name), value);
  }

  /** An enum field by name (or by number, as protobuf JSON allows); undefined when absent. */
  enumValue<T extends string>(
    name: string,
    values: readonly T[],
    numbers: Readonly<Record<number, T>> = {},
  ): T | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof number === 'number' && numbers[number] !== undefined) return numbers[number];
    throw invalidValue(this.path(name), value, `Hint: expected one of ${values.join(', ')}.`);
  }

  /** A repeated string field; empty when absent. */
  stringList(name: string): string[] {
    const value = this.value(name);
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
      throw invalidValue(this.path(name), value);
    }
    return value as string[];
  }

  /** A repeated message field, each item read by `read` with its own path (`metrics[3].key`); empty when absent. */
  messages<T>(name: string, read: (item: RequestFields) => T): T[] {
    const value = this.value(name);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw invalidValue(this.path(name), value);
    return value.map((item: unknown, index) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw invalidValue(`${this.path(name)}[${index}]`, item);
      }
      return read(new RequestFields(item as Record<string, unknown>, `${this.path(name)}[${index}].`));
    });
  }

  /** A nested message field; undefined when absent. */
  message<T>(name: string, read: (item: RequestFields) => T): T | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw invalidValue(this.path(name), value);
    return read(new RequestFields(value as Record<string, unknown>, `${this.path(name)}.`));
  }

  /** A repeated key/value field (tags, params); `key` is required in each, `value` defaults to ''. */
  keyValues(name: string): KeyValueJson[] {
    return this.messages(name, (item) => ({ key: item.requiredString('key'), value: item.string('value') ?? '' }));
  }
}

/** What {@link parseRequest} reads a request's message from. */
export interface RawRequest {
  method: string;
  /** The query string, without its `?` (GET and HEAD). */
  query: string;
  /** The `Content-Type` header, if any. */
  contentType: string | undefined;
  /** The body, decoded as UTF-8 (a byte order mark dropped); not read for GET and HEAD. */
  body: () => string | Promise<string>;
}

/**
 * Reads a request's message: GET from the query (`repeated` names the repeated fields), other methods from a JSON
 * body. A POST must say `Content-Type: application/json`, as MLflow's server requires.
 */
export async function readRequest(c: Context, repeated: readonly string[]): Promise<RequestFields> {
  const { method } = c.req;
  return parseRequest(
    {
      method,
      query: method === 'GET' || method === 'HEAD' ? new URL(c.req.url).search.slice(1) : '',
      contentType: c.req.header('content-type'),
      body: () => c.req.text(),
    },
    repeated,
  );
}

/** {@link readRequest} over the parts of a request, whichever server read them. */
export async function parseRequest(request: RawRequest, repeated: readonly string[]): Promise<RequestFields> {
  const { method } = request;
  if (method === 'GET' || method === 'HEAD') {
    const params = new URLSearchParams(request.query);
    const raw: Record<string, unknown> = {};
    for (const key of new Set(params.keys())) {
      raw[key] = repeated.includes(key) ? params.getAll(key) : params.get(key);
    }
    return new RequestFields(raw);
  }
  if (method === 'POST' || method === 'PUT') {
    const { contentType } = request;
    if (contentType === undefined) throw invalidParameter('Bad Request. Content-Type header is missing.');
    if (contentType.split(';')[0]!.trim().toLowerCase() !== 'application/json') {
      throw invalidParameter("Bad Request. Content-Type must be one of ['application/json'].");
    }
  }
  const text = await request.body();
  if (text.trim() === '') return new RequestFields({});
  let body: unknown;
  try {
    body = JSON.parse(text);
    if (typeof body === 'string') body = JSON.parse(body);
  } catch (error) {
    throw invalidParameter(`Malformed JSON request body: ${(error as Error).message}`);
  }
  if (body === null) return new RequestFields({});
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw invalidParameter(
      `Malformed request body: expected a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`,
    );
  }
  return new RequestFields(stringifyExperimentIds(body as Record<string, unknown>));
}

/** MLflow accepts experiment ids sent as JSON numbers (`_stringify_all_experiment_ids`); so does this server. */
function stringifyExperimentIds(message: Record<string, unknown>): Record<string, unknown> {
  const out = { ...message };
  if (typeof out.experiment_id === 'number') out.experiment_id = String(out.experiment_id);
  if (Array.isArray(out.experiment_ids)) {
    out.experiment_ids = out.experiment_ids.map((id: unknown) => (typeof id === 'number' ? String(id) : id));
  }
  return out;
}
