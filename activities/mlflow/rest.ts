/**
 * The REST endpoints of MLflow's API 2.0 as values, and the one way the API modules call them: GET fields go in the
 * query string (repeated keys for lists), every other method sends them as a JSON body (DELETE included), as
 * MLflow's Python client does.
 */
import { z } from 'zod';

import type { HttpMethod, MlflowHttpClient, MlflowService, QueryValue } from './http';
import type { Page } from './types';
import { checkInput, compact, pageTokenSchema } from './wire';

/** Where MLflow's tracking and registry endpoints live. */
export const MLFLOW_API = '/api/2.0/mlflow';

/** One REST endpoint. */
export interface Endpoint {
  method: HttpMethod;
  /** The full path, e.g. `/api/2.0/mlflow/runs/create`. */
  path: string;
  service: MlflowService;
  /** `METHOD /path`, how errors name it. */
  name: string;
}

/** An endpoint of the tracking service (or of the registry, `service: 'registry'`) under `/api/2.0/mlflow`. */
export function endpoint(method: HttpMethod, path: string, service: MlflowService = 'tracking'): Endpoint {
  const full = `${MLFLOW_API}/${path}`;
  return { method, path: full, service, name: `${method} ${full}` };
}

/**
 * Calls `target` with `fields` (snake_case, undefined ones left out) and validates the answer with `schema`.
 */
export async function call<T>(
  http: MlflowHttpClient,
  target: Endpoint,
  fields: Readonly<Record<string, unknown>>,
  schema: z.ZodType<T>,
): Promise<T> {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  return http.json(
    target.method === 'GET'
      ? {
          method: target.method,
          path: target.path,
          service: target.service,
          query: defined as Record<string, QueryValue>,
        }
      : { method: target.method, path: target.path, service: target.service, body: { kind: 'json', value: defined } },
    schema,
  );
}

/**
 * Calls a paged endpoint (a search, a metric's history) with `fields` and answers one page: the items MLflow lists
 * under `key` (`runs`, `experiments`, ...; none when the answer leaves the list out, as proto3 JSON does for an empty
 * one), each validated with `item`, and the next page's token, absent on the last page.
 */
export async function callPage<T>(
  http: MlflowHttpClient,
  target: Endpoint,
  fields: Readonly<Record<string, unknown>>,
  key: string,
  item: z.ZodType<T>,
): Promise<Page<T>> {
  return call(http, target, fields, pageSchema(key, item));
}

/** Page schemas by item schema and list key: zod compiles a schema on its first use, so each is built once. */
const pageSchemas = new WeakMap<z.ZodType, Map<string, z.ZodType>>();

function pageSchema<T>(key: string, item: z.ZodType<T>): z.ZodType<Page<T>> {
  const byKey = pageSchemas.get(item) ?? new Map<string, z.ZodType>();
  pageSchemas.set(item, byKey);
  const known = byKey.get(key);
  if (known !== undefined) return known as z.ZodType<Page<T>>;
  const schema = z
    .object({ [key]: z.array(item).default([]), next_page_token: pageTokenSchema })
    .transform((answer): Page<T> => {
      // Both checked by the schema; the narrowing only tells the type checker which is which.
      const items = answer[key];
      const token = answer.next_page_token;
      return compact({
        items: Array.isArray(items) ? items : [],
        nextPageToken: typeof token === 'string' ? token : undefined,
      });
    });
  byKey.set(key, schema);
  return schema;
}

/** {@link checkInput} naming `target`. */
export function check<T>(schema: z.ZodType<T>, input: unknown, target: Endpoint): T {
  return checkInput(schema, input, target.name);
}
