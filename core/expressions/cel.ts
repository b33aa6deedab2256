/**
 * CEL, the Common Expression Language, through `@marcbachmann/cel-js`: parsing, type checking against declared
 * variable types, reference extraction and evaluation. No JavaScript `eval`: the library interprets its own AST, has
 * no dependencies and uses no Node built-ins, so this module runs in Temporal's workflow sandbox. Evaluation is a pure
 * function of the expression and the variables (CEL has no clock, no randomness and no I/O).
 *
 * Types are CEL type names: `int`, `double`, `string`, `bool`, `list<string>`, `map<string, double>`, `dyn`, and
 * the artifact reference types `mloe.Dataset`, `mloe.Model`, `mloe.Report`, `mloe.File` (the fields of an
 * `ArtifactRef`: `uri`, `digest`, `size`, `type`, `metadata`, `createdAt`). A variable may also be typed as a record of fields (`{ lr: 'double' }`), checked field by field.
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';

import { MloeError } from '../errors';
import type { JsonValue } from '../spec/schema';

/** A CEL type name, or a record of field types (an object whose fields are known). */
export type CelType = string | { readonly [field: string]: CelType };

/** Declared variables of an expression: name to type. */
export type CelVariables = Readonly<Record<string, CelType>>;

/** The CEL type of each artifact type's reference, and the fields a reference has. */
export const ARTIFACT_CEL_TYPES = {
  dataset: 'mloe.Dataset',
  model: 'mloe.Model',
  report: 'mloe.Report',
  file: 'mloe.File',
} as const;

/** The fields of an artifact reference (as `activities/artifacts/ref.ts` defines `ArtifactRef`). */
const ARTIFACT_REF_FIELDS = {
  uri: 'string',
  digest: 'string',
  size: 'int',
  type: 'string',
  metadata: 'map<string, dyn>',
  createdAt: 'string',
} as const;

/** Why an expression is not usable; `index` is the offset in its source. */
export interface CelProblem {
  kind: 'syntax' | 'type' | 'unknown-variable';
  message: string;
  index: number;
}

const ENVIRONMENT_OPTIONS = {
  // Like cel-go: `[1, "a"]` is a list(dyn) rather than an error.
  homogeneousAggregateLiterals: false,
  // Expressions in specs are short; these bounds keep a hostile spec from exhausting a worker.
  limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
} as const;

/** The environment every checking environment is cloned from: mloe's types registered once. */
const baseEnvironment = (() => {
  const environment = new Environment(ENVIRONMENT_OPTIONS);
  for (const name of Object.values(ARTIFACT_CEL_TYPES)) {
    environment.registerType(name, { fields: { ...ARTIFACT_REF_FIELDS } });
  }
  return environment;
})();

const checkEnvironments = new WeakMap<CelVariables, Environment>();

function checkEnvironment(variables: CelVariables): Environment {
  let environment = checkEnvironments.get(variables);
  if (environment === undefined) {
    environment = baseEnvironment.clone();
    for (const [name, type] of Object.entries(variables)) {
      if (typeof type === 'string') environment.registerVariable(name, type);
      else environment.registerVariable({ name, schema: type });
    }
    checkEnvironments.set(variables, environment);
  }
  return environment;
}

const evaluationEnvironments = new Map<string, Environment>();

/**
 * Evaluation uses variables of type `dyn`: values arrive as plain JSON (converted to CEL's int/double by their
 * declared types), and results come back as plain data. Checking already proved the types.
 */
function evaluationEnvironment(names: readonly string[]): Environment {
  const key = [...names].sort().join(',');
  let environment = evaluationEnvironments.get(key);
  if (environment === undefined) {
    environment = new Environment(ENVIRONMENT_OPTIONS);
    for (const name of names) environment.registerVariable(name, 'dyn');
    evaluationEnvironments.set(key, environment);
  }
  return environment;
}

/** A library error's first line and source offset. */
function describeLibraryError(error: unknown): { code: string; message: string; index: number } {
  const value = error as { code?: unknown; summary?: unknown; message?: unknown; range?: { start?: unknown } };
  const summary = typeof value.summary === 'string' ? value.summary : String(value.message ?? error);
  const index = typeof value.range?.start === 'number' ? value.range.start : 0;
  return { code: typeof value.code === 'string' ? value.code : '', message: summary, index };
}

/** Parses an expression (no types involved). */
export function parseCel(source: string): { ok: true; ast: ASTNode } | { ok: false; problem: CelProblem } {
  try {
    return { ok: true, ast: baseEnvironment.parse(source).ast };
  } catch (error) {
    const { message, index } = describeLibraryError(error);
    return { ok: false, problem: { kind: 'syntax', message, index } };
  }
}

/** Type-checks an expression against declared variables; on success, returns its CEL type name. */
export function checkCel(
  source: string,
  variables: CelVariables,
): { ok: true; type: string } | { ok: false; problem: CelProblem } {
  let result: ReturnType<Environment['check']>;
  try {
    result = checkEnvironment(variables).check(source);
  } catch (error) {
    const { message, index } = describeLibraryError(error);
    return { ok: false, problem: { kind: 'type', message, index } };
  }
  if (result.valid) return { ok: true, type: String(result.type) };
  const { code, message, index } = describeLibraryError(result.error);
  const kind =
    result.error?.name === 'ParseError' ? 'syntax' : code === 'unknown_variable' ? 'unknown-variable' : 'type';
  return { ok: false, problem: { kind, message, index } };
}

/** A field path read from a variable: `steps.train.outputs.model` is root `steps`, fields `train.outputs.model`. */
export interface CelReference {
  root: string;
  /** Offset of the root identifier in the source. */
  index: number;
  /** The fields read, with the offset of each; stops at the first computed index (`steps[name]`). */
  fields: { name: string; index: number }[];
}

const COMPREHENSION_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

function isNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value;
}

/** The reference a node denotes, if it is a plain field path from an identifier (`steps.train.outputs.model`). */
export function referenceOf(node: ASTNode): CelReference | undefined {
  const fields: { name: string; index: number }[] = [];
  let current: ASTNode = node;
  for (;;) {
    if (current.op === 'id') {
      return { root: current.args, index: current.start, fields: fields.reverse() };
    }
    if (current.op === '.' || current.op === '.?') {
      const [receiver, name] = current.args;
      fields.push({ name, index: current.pos });
      current = receiver;
      continue;
    }
    if (current.op === '[]' || current.op === '[?]') {
      const [receiver, key] = current.args;
      if (key.op !== 'value' || typeof key.args !== 'string') return undefined;
      fields.push({ name: key.args, index: key.start });
      current = receiver;
      continue;
    }
    return undefined;
  }
}

/**
 * The field paths an expression reads from the given root variables (`params`, `steps`, ...), each as long as it can
 * be followed statically. Variables bound by comprehensions (`list.map(x, ...)`) and `cel.bind` shadow roots.
 */
export function findReferences(ast: ASTNode, roots: ReadonlySet<string>): CelReference[] {
  const references: CelReference[] = [];
  const visit = (node: ASTNode, bound: ReadonlySet<string>): void => {
    const reference = referenceOf(node);
    if (reference !== undefined) {
      if (roots.has(reference.root) && !bound.has(reference.root)) references.push(reference);
      return;
    }
    if (node.op === 'rcall') {
      const [method, receiver, args] = node.args;
      const [variable, ...rest] = args;
      if (method === 'bind' && receiver.op === 'id' && receiver.args === 'cel' && variable?.op === 'id') {
        // cel.bind(name, init, body): `name` is bound in `body` only.
        const [init, body] = rest;
        if (init !== undefined) visit(init, bound);
        if (body !== undefined) visit(body, new Set(bound).add(variable.args));
        return;
      }
      visit(receiver, bound);
      if (COMPREHENSION_MACROS.has(method) && variable?.op === 'id') {
        const inner = new Set(bound).add(variable.args);
        for (const arg of rest) visit(arg, inner);
        return;
      }
      for (const arg of args) visit(arg, bound);
      return;
    }
    if (node.op === 'call') {
      for (const arg of node.args[1]) visit(arg, bound);
      return;
    }
    visitChildren(node.args, (child) => visit(child, bound));
  };
  visit(ast, new Set());
  return references;
}

function visitChildren(value: unknown, visit: (node: ASTNode) => void): void {
  if (isNode(value)) visit(value);
  else if (Array.isArray(value)) for (const item of value as unknown[]) visitChildren(item, visit);
}

/** The type arguments of a generic CEL type name: `map<string, list<int>>` gives `['string', 'list<int>']`. */
export function typeArguments(type: string): string[] {
  const open = type.indexOf('<');
  if (open < 0 || !type.endsWith('>')) return [];
  const inner = type.slice(open + 1, -1);
  const result: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i += 1) {
    const char = inner[i];
    if (char === '<') depth += 1;
    else if (char === '>') depth -= 1;
    else if (char === ',' && depth === 0) {
      result.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  result.push(inner.slice(start).trim());
  return result;
}

/** The base name of a CEL type name: `list` for `list<int>`. */
export function typeBase(type: string): string {
  const open = type.indexOf('<');
  return open < 0 ? type : type.slice(0, open);
}

/** A JSON value as CEL sees it, given its declared type: integers become `bigint` where the type says `int`. */
export function toCel(value: unknown, type: CelType): unknown {
  if (value === null || value === undefined) return null;
  if (typeof type === 'object') {
    if (typeof value !== 'object' || Array.isArray(value)) return dynamicToCel(value);
    return mapObject(value as Record<string, unknown>, (key, item) => toCel(item, type[key] ?? 'dyn'));
  }
  const base = typeBase(type);
  switch (base) {
    case 'int':
    case 'uint':
      return typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : dynamicToCel(value);
    case 'list': {
      const [item = 'dyn'] = typeArguments(type);
      return Array.isArray(value) ? value.map((element) => toCel(element, item)) : dynamicToCel(value);
    }
    case 'map': {
      const [, item = 'dyn'] = typeArguments(type);
      if (typeof value !== 'object' || Array.isArray(value)) return dynamicToCel(value);
      return mapObject(value as Record<string, unknown>, (_key, element) => toCel(element, item));
    }
    default:
      if (base.startsWith('mloe.')) return toCel(value, ARTIFACT_REF_FIELDS);
      return dynamicToCel(value);
  }
}

/** JSON of unknown type: numbers stay doubles (CEL's reading of JSON, as for `google.protobuf.Value`). */
function dynamicToCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dynamicToCel);
  if (typeof value === 'object' && value !== null) {
    return mapObject(value as Record<string, unknown>, (_key, item) => dynamicToCel(item));
  }
  return value;
}

function mapObject(
  value: Readonly<Record<string, unknown>>,
  map: (key: string, item: unknown) => unknown,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    Object.defineProperty(result, key, { value: map(key, item), enumerable: true, writable: true, configurable: true });
  }
  return result;
}

/** A CEL result as JSON: `bigint` to number (if exact), maps to objects, timestamps to ISO 8601 strings. */
export function fromCel(value: unknown, source: string): JsonValue {
  const fail = (what: string): never => {
    throw new MloeError('EXPRESSION_FAILED', `\${{ ${source.trim()} }} produced ${what}, which JSON cannot hold`);
  };
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : fail(String(value));
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : fail(`the integer ${value}`);
    default:
      break;
  }
  if (Array.isArray(value)) return value.map((item) => fromCel(item, source));
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map) {
    const result: Record<string, JsonValue> = {};
    for (const [key, item] of value as Map<unknown, unknown>) {
      Object.defineProperty(result, String(key), {
        value: fromCel(item, source),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return mapObject(value as Record<string, unknown>, (_key, item) => fromCel(item, source)) as Record<
      string,
      JsonValue
    >;
  }
  return fail(`a value of type ${Object.prototype.toString.call(value).slice(8, -1)}`);
}

/** A variable's declared type and value, for {@link evaluateCel}. */
export interface CelBinding {
  type: CelType;
  value: unknown;
}

/**
 * Evaluates an expression. Values are converted by their declared types ({@link toCel}) and the result back to JSON
 * ({@link fromCel}). Failures (a missing key, a division by zero, an overflow) throw `EXPRESSION_FAILED`.
 */
export function evaluateCel(source: string, bindings: Readonly<Record<string, CelBinding>>): JsonValue {
  const names = Object.keys(bindings);
  // Converted on first read: an expression converts only the variables it reads. A `foreach` over N items
  // evaluates its `with` N times with the same bindings, which may hold a list of N elements (`steps.x.outputs`);
  // converting every binding each time made the fan-out quadratic (10,000 items: minutes of workflow CPU).
  const context: Record<string, unknown> = {};
  for (const [name, binding] of Object.entries(bindings)) {
    let converted: { value: unknown } | undefined;
    Object.defineProperty(context, name, {
      enumerable: true,
      get: () => (converted ??= { value: toCel(binding.value, binding.type) }).value,
    });
  }
  let result: unknown;
  try {
    result = evaluationEnvironment(names).evaluate(source, context);
  } catch (error) {
    const { message } = describeLibraryError(error);
    throw new MloeError('EXPRESSION_FAILED', `\${{ ${source.trim()} }} failed: ${message}`, { cause: error });
  }
  if (result instanceof Promise) {
    throw new MloeError('INTERNAL', `\${{ ${source.trim()} }} evaluated asynchronously`);
  }
  return fromCel(result, source);
}
