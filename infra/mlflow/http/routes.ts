/**
 * The shape of an endpoint: method, path under `/api/2.0/mlflow/` (also served under `/ajax-api/2.0/mlflow/`), the
 * request's repeated fields (for GET query strings) and the handler that turns request fields into a response body.
 */
import type { RequestFields } from './request';

/** HTTP methods MLflow's REST API uses. */
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** One REST endpoint. */
export interface Route {
  method: Method;
  /** Path after `/api/2.0/mlflow/`, e.g. `runs/log-batch`. */
  path: string;
  /** Repeated fields, read with every value from a query string. */
  repeated?: readonly string[];
  /** Produces the response body (a JSON object; empty fields left out). */
  handle: (fields: RequestFields) => unknown;
}

/** A response body with the empty repeated field `name` left out. */
export function listField<T>(name: string, list: readonly T[]): Record<string, readonly T[]> {
  return list.length > 0 ? { [name]: list } : {};
}

/** A response body with `next_page_token` when there is a next page. */
export function tokenField(token: string | undefined): { next_page_token?: string } {
  return token === undefined ? {} : { next_page_token: token };
}
