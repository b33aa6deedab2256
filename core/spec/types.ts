/**
 * The spec's value types seen from CEL, and which values fit which types. Shared by the validator (static checks)
 * and the engine (typing the variables of `${{ }}` at run time), so both read a value the same way.
 */
import { ARTIFACT_CEL_TYPES, typeArguments, typeBase, type CelType } from '../expressions/cel';
import {
  ARTIFACT_TYPES,
  type ArtifactType,
  type ItemType,
  type JsonValue,
  type ParamSpec,
  type ValueType,
} from './schema';

/** A port's type: what an input accepts or an output produces. `any` accepts anything (unknown element types). */
export interface PortType {
  type: ValueType | 'any';
  items?: ItemType | undefined;
}

/** Whether a type is stored in the artifact store and passed by reference. */
export function isArtifactType(type: string): type is ArtifactType {
  return (ARTIFACT_TYPES as readonly string[]).includes(type);
}

/** The CEL type of a value of a spec type. Metrics read as a map of numbers (`metrics.accuracy > 0.9`). */
export function celTypeOf(port: PortType): string {
  switch (port.type) {
    case 'string':
      return 'string';
    case 'number':
      return 'double';
    case 'integer':
      return 'int';
    case 'boolean':
      return 'bool';
    case 'object':
      return 'map<string, dyn>';
    case 'metrics':
      return 'map<string, double>';
    case 'list':
      return `list<${port.items === undefined ? 'dyn' : celTypeOf({ type: port.items })}>`;
    case 'dataset':
    case 'model':
    case 'report':
    case 'file':
      return ARTIFACT_CEL_TYPES[port.type];
    case 'any':
      return 'dyn';
  }
}

/** The CEL type of a parameter (an `enum` is a string). */
export function celTypeOfParam(param: ParamSpec): string {
  switch (param.type) {
    case 'enum':
      return 'string';
    case 'list':
      return celTypeOf({ type: 'list', items: param.items });
    default:
      return celTypeOf({ type: param.type });
  }
}

/** The CEL type of an output as other steps see it: a `foreach` step's outputs are lists, one element per item. */
export function celTypeOfOutput(port: PortType, foreach: boolean): CelType {
  const type = celTypeOf(port);
  return foreach ? `list<${type}>` : type;
}

/** A word with its indefinite article: `an integer`, `a list`. */
export function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}

/** A spec type in words, for messages: `integer`, `list of string`, `dataset`. */
export function describePortType(port: PortType): string {
  if (port.type === 'list' && port.items !== undefined) return `list of ${port.items}`;
  return port.type === 'any' ? 'any value' : port.type;
}

const CEL_TYPE_WORDS: Readonly<Record<string, string>> = {
  int: 'integer',
  uint: 'integer',
  double: 'number',
  bool: 'boolean',
  string: 'string',
  null: 'null',
  bytes: 'bytes',
  timestamp: 'timestamp',
  duration: 'duration',
};

/** A CEL type name in the spec's words, for messages: `int` is `integer`, `mloe.Dataset` is `dataset`. */
export function describeCelType(type: string): string {
  const artifact = Object.entries(ARTIFACT_CEL_TYPES).find(([, name]) => name === type);
  if (artifact !== undefined) return artifact[0];
  if (type === 'map<string, double>') return 'map of numbers (e.g. metrics)';
  const base = typeBase(type);
  if (base === 'list') {
    const [item] = typeArguments(type);
    return item === undefined || item === 'dyn' ? 'list' : `list of ${describeCelType(item)}`;
  }
  if (base === 'map') return 'mapping';
  return CEL_TYPE_WORDS[type] ?? type;
}

/**
 * Whether an expression of CEL type `type` may be bound to a port. `dyn` always may (it is checked at run time);
 * an integer may feed a number; an artifact type feeds `file`, which takes any artifact.
 */
export function isAssignable(type: string, port: PortType): boolean {
  if (type === 'dyn' || port.type === 'any') return true;
  const base = typeBase(type);
  switch (port.type) {
    case 'string':
      return type === 'string';
    case 'number':
      return type === 'double' || type === 'int' || type === 'uint';
    case 'integer':
      return type === 'int' || type === 'uint';
    case 'boolean':
      return type === 'bool';
    case 'object':
      return base === 'map';
    case 'metrics':
      return base === 'map';
    case 'list': {
      if (base !== 'list') return false;
      const [item] = typeArguments(type);
      return item === undefined || port.items === undefined || isAssignable(item, { type: port.items });
    }
    case 'file':
      return Object.values(ARTIFACT_CEL_TYPES).includes(type as never);
    case 'dataset':
    case 'model':
    case 'report':
      return type === ARTIFACT_CEL_TYPES[port.type];
  }
}

/** Whether an output of one spec type may feed an input of another: equal, or any artifact into `file`. */
export function isPortAssignable(output: PortType, input: PortType): boolean {
  if (input.type === 'any' || output.type === 'any') return true;
  if (input.type === 'file') return isArtifactType(output.type);
  if (input.type === 'number' && output.type === 'integer') return true;
  if (input.type !== output.type) return false;
  if (input.type !== 'list' || input.items === undefined || output.items === undefined) return true;
  return isPortAssignable({ type: output.items }, { type: input.items });
}

/** A JSON value in words, for messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return String(value);
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/** Why a literal value does not fit a port type, or `undefined` when it fits. Artifacts accept URIs (`scheme://`). */
export function literalMismatch(value: JsonValue, port: PortType): string | undefined {
  const fits = (() => {
    switch (port.type) {
      case 'any':
        return true;
      case 'string':
        return typeof value === 'string';
      case 'number':
        return typeof value === 'number';
      case 'integer':
        return typeof value === 'number' && Number.isInteger(value);
      case 'boolean':
        return typeof value === 'boolean';
      case 'object':
        return value !== null && typeof value === 'object' && !Array.isArray(value);
      case 'list':
        return Array.isArray(value);
      case 'dataset':
      case 'model':
      case 'metrics':
      case 'report':
      case 'file':
        return typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
    }
  })();
  if (fits) return undefined;
  const expected = isArtifactType(port.type)
    ? `a ${port.type} (an output reference or a URI)`
    : withArticle(describePortType(port));
  return `expected ${expected}, got ${describeValue(value)}`;
}
