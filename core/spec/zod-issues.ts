/**
 * Turns zod's issues into spec problems a person can act on: unknown fields with a "did you mean", missing fields,
 * wrong types in the spec's words, and the hint each field's schema carries (`.meta({ hint })`, see `schema.ts`).
 */
import type { z } from 'zod';

import { suggest, type IssueDraft, type SpecIssueCode } from './issues';
import type { PathSegment } from './source-map';
import type { FieldMeta } from './schema';
import { describeValue } from './types';

type Issue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

const EXPECTED_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
};

/** The schema wrapped by optional/default/pipe wrappers, with the first hint found on the way. */
function unwrap(schema: AnySchema): { schema: AnySchema; meta: FieldMeta } {
  let current: AnySchema = schema;
  const found: FieldMeta = {};
  for (;;) {
    const meta = (current as unknown as { meta?: () => FieldMeta | undefined }).meta?.();
    if (found.hint === undefined && meta?.hint !== undefined) found.hint = meta.hint;
    if (found.typeErrorCode === undefined && meta?.typeErrorCode !== undefined)
      found.typeErrorCode = meta.typeErrorCode;
    const def = current._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) {
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      current = def.in;
    } else {
      return { schema: current, meta: found };
    }
  }
}

/** The schema at a path inside another (undefined where the path leaves the schema). */
function schemaAt(root: AnySchema, path: readonly PropertyKey[]): { schema: AnySchema; meta: FieldMeta } | undefined {
  let found = unwrap(root);
  for (const segment of path) {
    const def = found.schema._zod.def as {
      type: string;
      shape?: Record<string, AnySchema>;
      valueType?: AnySchema;
      element?: AnySchema;
    };
    let next: AnySchema | undefined;
    if (def.type === 'object' && typeof segment === 'string') next = def.shape?.[segment];
    else if (def.type === 'record') next = def.valueType;
    else if (def.type === 'array') next = def.element;
    if (next === undefined) return undefined;
    found = unwrap(next);
  }
  return found;
}

function fieldKeys(root: AnySchema, path: readonly PropertyKey[]): string[] {
  const found = schemaAt(root, path);
  const def = found?.schema._zod.def as { type: string; shape?: Record<string, AnySchema> } | undefined;
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

function lastName(path: readonly PathSegment[]): string {
  for (let i = path.length - 1; i >= 0; i -= 1) {
    const segment = path[i];
    if (typeof segment === 'string') return segment;
  }
  return 'value';
}

/** The issues of a failed zod parse, as drafts under `base` (the path of the parsed value in the document). */
export function zodIssueDrafts(error: z.ZodError, base: readonly PathSegment[], schema: AnySchema): IssueDraft[] {
  const drafts: IssueDraft[] = [];
  for (const issue of error.issues) drafts.push(...issueDrafts(issue, base, schema));
  return drafts;
}

function issueDrafts(issue: Issue, base: readonly PathSegment[], schema: AnySchema): IssueDraft[] {
  const relative = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
  const path = [...base, ...relative];
  const field = lastName(path);
  const metaHere = (): FieldMeta => schemaAt(schema, relative)?.meta ?? {};
  const hintHere = (): string | undefined => metaHere().hint;
  const draft = (code: SpecIssueCode, message: string, hint: string): IssueDraft => ({ code, message, hint, path });
  const missing = (): IssueDraft =>
    draft(
      'MISSING_FIELD',
      `missing required field '${field}'`,
      hintHere() === undefined ? `add '${field}:'` : `add '${field}:' (${hintHere()})`,
    );

  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = fieldKeys(schema, relative);
      return issue.keys.map((key) => ({
        code: 'UNKNOWN_FIELD',
        message: `unknown field '${key}'${path.length === 0 ? '' : ` in ${describeOwner(path)}`}`,
        hint: suggest(key, allowed, `allowed fields: ${allowed.join(', ')}`),
        path: [...path, key],
        at: 'key',
      }));
    }
    case 'invalid_type': {
      if (issue.input === undefined) return [missing()];
      const expected = EXPECTED_WORDS[issue.expected] ?? issue.expected;
      if (issue.expected === 'int' && typeof issue.input === 'number') {
        return [
          draft(
            'INVALID_VALUE',
            `'${field}' must be a whole number, got ${issue.input}`,
            hintHere() ?? 'drop the fraction',
          ),
        ];
      }
      const code = metaHere().typeErrorCode;
      const wanted = code === 'INVALID_DURATION' ? "a duration with a unit, such as '30s'" : expected;
      return [
        draft(
          code ?? 'INVALID_TYPE',
          `'${field}' must be ${wanted}, got ${describeValue(issue.input)}`,
          hintHere() ?? `write ${expected}`,
        ),
      ];
    }
    case 'invalid_union': {
      if (issue.input === undefined) return [missing()];
      const expected = [
        ...new Set(
          issue.errors.map((branch) => {
            const first = branch[0];
            return first?.code === 'invalid_type'
              ? (EXPECTED_WORDS[first.expected] ?? first.expected)
              : 'another value';
          }),
        ),
      ];
      return [
        draft(
          metaHere().typeErrorCode ?? 'INVALID_TYPE',
          `'${field}' must be ${expected.join(' or ')}, got ${describeValue(issue.input)}`,
          hintHere() ?? `write ${expected.join(' or ')}`,
        ),
      ];
    }
    case 'invalid_value': {
      if (issue.input === undefined) return [missing()];
      const values = issue.values.map((value) => JSON.stringify(value)).join(', ');
      const allowed = issue.values.map(String);
      const hint =
        typeof issue.input === 'string' && allowed.length > 1
          ? suggest(issue.input, allowed, `expected one of: ${values}`)
          : (hintHere() ?? `expected ${issue.values.length === 1 ? values : `one of: ${values}`}`);
      return [draft('INVALID_VALUE', `'${field}' cannot be ${describeValue(issue.input)}`, hint)];
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      const message =
        issue.origin === 'array'
          ? `'${field}' needs ${word} ${String(bound)} item${bound === 1 ? '' : 's'}`
          : issue.origin === 'string'
            ? issue.code === 'too_small' && bound === 1
              ? `'${field}' cannot be empty`
              : `'${field}' must be ${word} ${String(bound)} characters long`
            : `'${field}' must be ${word} ${String(bound)}, got ${describeValue(issue.input)}`;
      return [draft('INVALID_VALUE', message, hintHere() ?? `use a value ${word} ${String(bound)}`)];
    }
    case 'invalid_format':
      return [
        draft(
          'INVALID_VALUE',
          `'${field}' cannot be ${describeValue(issue.input)}`,
          hintHere() ?? `match the pattern ${'pattern' in issue ? String(issue.pattern) : issue.format}`,
        ),
      ];
    case 'custom': {
      const params = (issue.params ?? {}) as { code?: SpecIssueCode; hint?: string };
      if (params.code !== undefined) return [draft(params.code, issue.message, params.hint ?? hintHere() ?? '')];
      return [draft('INVALID_TYPE', `'${field}': ${issue.message}`, hintHere() ?? 'see the spec reference')];
    }
    default:
      return [draft('INVALID_VALUE', `'${field}': ${issue.message}`, hintHere() ?? 'see the spec reference')];
  }
}

/** "step 'train'", "the retry policy of step 'train'", ... for unknown-field messages. */
function describeOwner(path: readonly PathSegment[]): string {
  const [first, second, third] = path;
  if (first === 'steps' && typeof second === 'string') {
    return third === undefined ? `step '${second}'` : `${String(third)} of step '${second}'`;
  }
  if (first === 'params' && typeof second === 'string') return `parameter '${second}'`;
  return String(path[path.length - 1]);
}
