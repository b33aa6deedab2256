/**
 * Parameter values: checking a value against its declaration, reading one from command-line text, and resolving
 * the values of a run (supplied values over defaults).
 */
import type { JsonValue, ParamSpec } from './schema';
import { describeValue } from './types';

/** Why a value does not fit a parameter's declaration, or `undefined` when it does. */
export function paramValueProblem(param: ParamSpec, value: unknown): string | undefined {
  switch (param.type) {
    case 'string':
      return typeof value === 'string' ? undefined : `expected a string, got ${describeValue(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${describeValue(value)}`;
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return `expected ${param.type === 'integer' ? 'an integer' : 'a number'}, got ${describeValue(value)}`;
      }
      if (param.type === 'integer' && !Number.isInteger(value)) return `expected an integer, got ${value}`;
      if (param.minimum !== undefined && value < param.minimum) return `${value} is below the minimum ${param.minimum}`;
      if (param.maximum !== undefined && value > param.maximum) return `${value} is above the maximum ${param.maximum}`;
      return undefined;
    }
    case 'enum': {
      const values = param.values ?? [];
      if (typeof value === 'string' && values.includes(value)) return undefined;
      return `${describeValue(value)} is not one of ${values.map((v) => `'${v}'`).join(', ')}`;
    }
    case 'list': {
      if (!Array.isArray(value)) return `expected a list, got ${describeValue(value)}`;
      if (param.items === undefined) {
        const bad = value.findIndex((item) => item !== null && typeof item === 'object');
        return bad < 0 ? undefined : `item ${bad} is ${describeValue(value[bad])}, not a scalar`;
      }
      const items = param.items;
      for (const [index, item] of value.entries()) {
        const problem = paramValueProblem({ type: items }, item);
        if (problem !== undefined) return `item ${index}: ${problem}`;
      }
      return undefined;
    }
  }
}

/** Whether a parameter must be given a value: explicitly `required`, or else when it has no default. */
export function isParamRequired(param: ParamSpec): boolean {
  return param.required ?? param.default === undefined;
}

/**
 * Reads a parameter value from command-line text by the parameter's type: `--param epochs=10` is the integer 10,
 * `--param features=a,b` (or a JSON list) is a list. Returns the text itself when it does not convert, so that
 * {@link paramValueProblem} reports it.
 */
export function paramValueFromText(param: ParamSpec, text: string): unknown {
  switch (param.type) {
    case 'number':
    case 'integer': {
      const number = text.trim() === '' ? Number.NaN : Number(text);
      return Number.isFinite(number) ? number : text;
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'list': {
      if (text.trim().startsWith('[')) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return text;
        }
      }
      const items = text === '' ? [] : text.split(',');
      return items.map((item) => (param.items === undefined ? item : paramValueFromText({ type: param.items }, item)));
    }
    default:
      return text;
  }
}

/** The values of a run: each supplied value, else the default. Assumes the values were validated. */
export function resolveParamValues(
  params: Readonly<Record<string, ParamSpec>>,
  supplied: Readonly<Record<string, unknown>>,
): Record<string, JsonValue> {
  const values: Record<string, JsonValue> = {};
  for (const [name, param] of Object.entries(params)) {
    const value = Object.prototype.hasOwnProperty.call(supplied, name) ? supplied[name] : param.default;
    if (value !== undefined) values[name] = value as JsonValue;
  }
  return values;
}
