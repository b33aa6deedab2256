/**
 * Canonical JSON: object keys sorted at every level and `undefined` properties left out, so equal values always give
 * equal text (and equal hashes), whatever order their keys were written in. Pure: usable from workflows too.
 */

/** The canonical JSON text of a JSON-like value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
