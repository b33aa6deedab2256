/**
 * The difference between two pipeline specs, field by field, for `mloe schedule update`: which fields a re-pin adds,
 * removes or changes (`steps[train].with.epochs: 10 → 20`). Lists whose elements carry an `id` (steps) are matched
 * by id, so inserting a step does not show every later step as changed.
 */
import { canonicalJson } from '../../core/canonical-json';

/** One changed field. */
export interface SpecChange {
  /** Where: `metadata.name`, `steps[train].with.epochs`, `params.lr.default`. */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const idOf = (value: unknown): string | undefined =>
  isObject(value) && typeof value.id === 'string' ? value.id : undefined;

/** Whether every element of both lists has a distinct `id`. */
function keyedById(a: unknown[], b: unknown[]): boolean {
  for (const list of [a, b]) {
    const ids = list.map(idOf);
    if (ids.some((id) => id === undefined) || new Set(ids).size !== ids.length) return false;
  }
  return a.length + b.length > 0;
}

function walk(path: string, before: unknown, after: unknown, out: SpecChange[]): void {
  if (canonicalJson(before) === canonicalJson(after)) return;
  const at = (key: string): string => (path === '' ? key : `${path}.${key}`);
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (!(key in after)) out.push({ path: at(key), kind: 'removed', before: before[key] });
      else if (!(key in before)) out.push({ path: at(key), kind: 'added', after: after[key] });
      else walk(at(key), before[key], after[key], out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (keyedById(before, after)) {
      const old = new Map<string | undefined, unknown>(before.map((item: unknown) => [idOf(item), item]));
      const next = new Map<string | undefined, unknown>(after.map((item: unknown) => [idOf(item), item]));
      for (const [id, item] of old) {
        if (!next.has(id)) out.push({ path: `${path}[${id ?? ''}]`, kind: 'removed', before: item });
      }
      for (const [id, item] of next) {
        const was = old.get(id);
        if (was === undefined) out.push({ path: `${path}[${id ?? ''}]`, kind: 'added', after: item });
        else walk(`${path}[${id ?? ''}]`, was, item, out);
      }
      const order = (list: unknown[]): string => list.map(idOf).join(',');
      const kept = (list: unknown[], other: Map<string | undefined, unknown>): unknown[] =>
        list.filter((item) => other.has(idOf(item)));
      if (order(kept(before, next)) !== order(kept(after, old))) {
        out.push({ path: `${path} (order)`, kind: 'changed', before: before.map(idOf), after: after.map(idOf) });
      }
      return;
    }
    if (before.length === after.length) {
      before.forEach((item, i) => walk(`${path}[${i}]`, item, after[i], out));
      return;
    }
  }
  out.push({ path, kind: 'changed', before, after });
}

/** The fields that differ between two specs (empty when they are the same, whatever their formatting). */
export function diffSpecs(before: unknown, after: unknown): SpecChange[] {
  const out: SpecChange[] = [];
  walk('', before, after, out);
  return out;
}

/** A value on one line, shortened past `max` characters. */
function brief(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The changes as lines: `~ path: before → after`, `+ path: value`, `- path: value`. */
export function formatSpecChanges(changes: readonly SpecChange[]): string[] {
  return changes.map((change) => {
    switch (change.kind) {
      case 'added':
        return `+ ${change.path}: ${brief(change.after)}`;
      case 'removed':
        return `- ${change.path}: ${brief(change.before)}`;
      case 'changed':
        return `~ ${change.path}: ${brief(change.before)} → ${brief(change.after)}`;
    }
  });
}
