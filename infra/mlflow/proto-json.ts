/**
 * MLflow's JSON encoding of its protobuf messages: snake_case field names, int64 as JSON numbers, empty fields left
 * out, and doubles that JSON cannot carry as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
 */

/** A double as MLflow's JSON carries it. */
export type JsonDouble = number | 'NaN' | 'Infinity' | '-Infinity';

/** Encodes a double. */
export function jsonDouble(value: number): JsonDouble {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** A key/value pair (tags, params). */
export interface KeyValueJson {
  key: string;
  value: string;
}

/** Sets `target[field] = list` only when the list is not empty (repeated fields are left out when empty). */
export function withList<T extends object, K extends string, V>(target: T, field: K, list: V[]): T {
  if (list.length > 0) (target as Record<string, unknown>)[field] = list;
  return target;
}
