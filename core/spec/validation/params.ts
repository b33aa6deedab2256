/**
 * Parameters: each declaration on its own (`values` only on enums, `items` only on lists, bounds in order, a default
 * of the declared type, `required` consistent with the default), and, when a run supplies values, those values
 * (types, ranges, enum membership, unknown names, required parameters).
 */
import { suggest } from '../issues';
import { isParamRequired, paramValueProblem, resolveParamValues } from '../params';
import { paramSchema, type JsonValue, type ParamSpec } from '../schema';
import { paramsType } from '../scope';
import type { PathSegment } from '../source-map';
import { describePortType, withArticle } from '../types';
import { zodIssueDrafts } from '../zod-issues';
import { checkIdentifier, type ValidationState } from './state';

/** Checks the `params:` declarations and records the usable ones and every parameter's CEL type. */
export function checkParams(state: ValidationState, raw: unknown): void {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return; // the shell schema reported it
  for (const [name, value] of Object.entries(raw)) {
    const path = ['params', name];
    state.paramNames.add(name);
    checkIdentifier(state, name, path, 'parameter');
    const parsed = paramSchema.safeParse(value, { reportInput: true });
    if (!parsed.success) {
      state.drafts.push(...zodIssueDrafts(parsed.error, path, paramSchema));
      continue;
    }
    if (checkParamDeclaration(state, parsed.data, path)) state.params[name] = parsed.data;
  }
  const types = paramsType({ params: state.params });
  for (const name of state.paramNames) types[name] ??= 'dyn';
  state.paramTypes = types;
}

/** Checks the type-specific fields of a declaration; true when it is usable. */
function checkParamDeclaration(state: ValidationState, param: ParamSpec, path: PathSegment[]): boolean {
  const before = state.drafts.length;
  const misplaced = (field: keyof ParamSpec, types: string): void => {
    if (param[field] === undefined || types.split(' and ').includes(param.type)) return;
    state.report({
      code: 'INVALID_PARAM',
      message: `'${field}' applies only to ${types} parameters, and this one is ${param.type}`,
      hint: `remove '${field}', or change the type`,
      path: [...path, field],
      at: 'key',
    });
  };
  misplaced('values', 'enum');
  misplaced('items', 'list');
  misplaced('minimum', 'number and integer');
  misplaced('maximum', 'number and integer');
  if (param.type === 'enum') {
    if (param.values === undefined) {
      state.report({
        code: 'INVALID_PARAM',
        message: 'an enum parameter needs its allowed values',
        hint: 'add values: [a, b, c]',
        path: [...path, 'type'],
      });
    } else {
      const seen = new Set<string>();
      param.values.forEach((value, index) => {
        if (seen.has(value)) {
          state.report({
            code: 'INVALID_PARAM',
            message: `'${value}' is listed twice in values`,
            hint: 'remove the repeated value',
            path: [...path, 'values', index],
          });
        }
        seen.add(value);
      });
    }
  }
  if (param.minimum !== undefined && param.maximum !== undefined && param.minimum > param.maximum) {
    state.report({
      code: 'INVALID_PARAM',
      message: `minimum ${param.minimum} is above maximum ${param.maximum}`,
      hint: 'swap them, or fix one',
      path: [...path, 'minimum'],
    });
  }
  if (param.required === true && param.default !== undefined) {
    state.report({
      code: 'INVALID_PARAM',
      message: 'a parameter with a default is not required',
      hint: "remove 'required: true' or the default",
      path: [...path, 'required'],
    });
  }
  if (param.required === false && param.default === undefined) {
    state.report({
      code: 'INVALID_PARAM',
      message: 'an optional parameter needs a default, so expressions always have a value to read',
      hint: "add a default, or remove 'required: false'",
      path: [...path, 'required'],
    });
  }
  if (param.default !== undefined && state.drafts.length === before) {
    const problem = paramValueProblem(param, param.default);
    if (problem !== undefined) {
      state.report({
        code: 'INVALID_PARAM',
        message: `default: ${problem}`,
        hint:
          param.type === 'enum'
            ? `give a default from values: ${(param.values ?? []).join(', ')}`
            : `give a default of type ${describePortType({ type: param.type, items: param.items })}`,
        path: [...path, 'default'],
      });
    }
  }
  return state.drafts.length === before;
}

/** With values supplied: checks them and the required parameters; returns the resolved values. */
export function checkParamValues(state: ValidationState): Record<string, JsonValue> | undefined {
  const supplied = state.options.params;
  if (supplied === undefined) return undefined;
  for (const [name, value] of Object.entries(supplied)) {
    const param = state.params[name];
    if (param === undefined) {
      if (state.paramNames.has(name)) continue;
      state.report({
        code: 'UNKNOWN_PARAM_VALUE',
        message: `a value was given for '${name}', which the pipeline does not declare`,
        hint: suggest(
          name,
          [...state.paramNames],
          `declared parameters: ${[...state.paramNames].join(', ') || 'none'}`,
        ),
        path: ['params', name],
        at: 'none',
      });
      continue;
    }
    const problem = paramValueProblem(param, value);
    if (problem !== undefined) {
      state.report({
        code: 'PARAM_VALUE_INVALID',
        message: `value of parameter '${name}': ${problem}`,
        hint: `pass ${describeParam(param)}`,
        path: ['params', name],
        at: 'none',
      });
    }
  }
  for (const [name, param] of Object.entries(state.params)) {
    if (isParamRequired(param) && !Object.prototype.hasOwnProperty.call(supplied, name)) {
      state.report({
        code: 'PARAM_REQUIRED',
        message: `parameter '${name}' is required and has no value`,
        hint: `pass it (e.g. --param ${name}=<${param.type}>), or give it a default`,
        path: ['params', name],
        at: 'key',
      });
    }
  }
  return resolveParamValues(state.params, supplied);
}

/** What a parameter accepts, in words: `a number from 0 to 1`, `one of ols, ridge`. */
export function describeParam(param: ParamSpec): string {
  switch (param.type) {
    case 'enum':
      return `one of ${(param.values ?? []).join(', ')}`;
    case 'list':
      return `a list${param.items === undefined ? '' : ` of ${param.items}`} (comma-separated or JSON)`;
    case 'number':
    case 'integer': {
      const { minimum, maximum } = param;
      const range =
        minimum !== undefined && maximum !== undefined
          ? ` from ${minimum} to ${maximum}`
          : minimum !== undefined
            ? ` of at least ${minimum}`
            : maximum !== undefined
              ? ` of at most ${maximum}`
              : '';
      return `${withArticle(param.type)}${range}`;
    }
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
  }
}
