/**
 * `${{ }}` expressions: template syntax, CEL syntax, their references (checked in `references.ts`) and their CEL
 * types, for conditions (booleans), `foreach` (lists), bound values and text with templates inside.
 */
import { checkCel, findReferences, parseCel } from '../../expressions/cel';
import { conditionSource } from '../../expressions/evaluate';
import { hasTemplate, parseTemplate } from '../../expressions/template';
import { celIssueCode } from '../issues';
import { outputReferenceOfAst } from '../output-reference';
import type { JsonValue } from '../schema';
import type { PathSegment } from '../source-map';
import { describeCelType } from '../types';
import type { ExpressionInfo, ExpressionScope } from './expression-scope';
import { checkReference } from './references';
import type { ValidationState } from './state';

/** Root variables of expressions; `inputs` only inside `run:`, `item` only in `foreach` steps. */
const EXPRESSION_ROOTS = new Set(['params', 'steps', 'inputs', 'item']);

const INT_DOUBLE_HINT =
  'CEL does not mix integers and numbers: write 1.0 rather than 1 next to a number, or convert with double() or int()';

/** Checks the expressions inside a value whose type is free (mappings under an `object` input, ...). */
export function checkTemplates(
  state: ValidationState,
  value: JsonValue,
  path: PathSegment[],
  scope: ExpressionScope,
): void {
  if (typeof value === 'string') {
    if (hasTemplate(value)) checkInterpolation(state, value, path, scope);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => checkTemplates(state, item, [...path, index], scope));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) checkTemplates(state, item, [...path, key], scope);
  }
}

/** Checks a string that may hold templates anywhere (command arguments, env values). */
export function checkInterpolation(
  state: ValidationState,
  text: string,
  path: PathSegment[],
  scope: ExpressionScope,
): void {
  if (!hasTemplate(text)) return;
  const parsed = parseTemplate(text);
  if (!parsed.ok) {
    state.report({ code: 'EXPRESSION_SYNTAX', message: parsed.message, hint: parsed.hint, path, index: parsed.index });
    return;
  }
  for (const expression of parsed.expressions) {
    checkExpression(state, expression.source, path, expression.sourceOffset, scope);
  }
}

/** Checks a `when` condition: a `${{ }}` or bare CEL expression that gives true or false. */
export function checkCondition(
  state: ValidationState,
  when: string,
  path: PathSegment[],
  scope: ExpressionScope,
): void {
  const condition = conditionSource(when);
  if (!condition.ok) {
    state.report({
      code: 'EXPRESSION_SYNTAX',
      message: condition.message,
      hint: condition.hint,
      path,
      index: condition.index,
    });
    return;
  }
  const info = checkExpression(state, condition.source, path, condition.offset, scope);
  if (info !== undefined && info.type !== 'bool' && info.type !== 'dyn') {
    state.report({
      code: 'EXPRESSION_TYPE',
      message: `a condition must be true or false, but this one gives ${describeCelType(info.type)}`,
      hint: 'compare the value, e.g. ${{ steps.evaluate.outputs.metrics.r2 > 0.9 }}',
      path,
      index: startOf(condition.source, condition.offset),
    });
  }
}

/** Checks a `foreach` value: a list (its items' templates checked), or one expression that gives a list. */
export function checkForeach(
  state: ValidationState,
  foreach: string | JsonValue[],
  path: PathSegment[],
  scope: ExpressionScope,
): void {
  if (Array.isArray(foreach)) {
    foreach.forEach((item, index) => checkTemplates(state, item, [...path, index], scope));
    return;
  }
  const parsed = parseTemplate(foreach);
  if (!parsed.ok) {
    state.report({ code: 'EXPRESSION_SYNTAX', message: parsed.message, hint: parsed.hint, path, index: parsed.index });
    return;
  }
  const [expression] = parsed.expressions;
  if (!parsed.whole || expression === undefined) {
    state.report({
      code: 'INVALID_TYPE',
      message: 'foreach takes a list, or one ${{ }} expression that gives a list',
      hint: "write a list ([1, 2, 3]) or an expression, e.g. '${{ params.folds }}'",
      path,
    });
    return;
  }
  const info = checkExpression(state, expression.source, path, expression.sourceOffset, scope);
  if (info !== undefined && !info.type.startsWith('list') && info.type !== 'dyn') {
    state.report({
      code: 'EXPRESSION_TYPE',
      message: `foreach needs a list, but the expression gives ${describeCelType(info.type)}`,
      hint: "iterate over a list parameter or output, e.g. '${{ params.folds }}'",
      path,
      index: startOf(expression.source, expression.sourceOffset),
    });
  }
}

/**
 * Checks one CEL expression: syntax, the references it makes (unknown parameters, steps, outputs, steps that do
 * not run before this one), then its types. Returns its type, or undefined after reporting a problem.
 */
export function checkExpression(
  state: ValidationState,
  source: string,
  path: PathSegment[],
  offset: number,
  scope: ExpressionScope,
): ExpressionInfo | undefined {
  const parsed = parseCel(source);
  if (!parsed.ok) {
    state.report({
      code: 'EXPRESSION_SYNTAX',
      message: `invalid expression: ${parsed.problem.message}`,
      hint: "check the CEL syntax: strings in quotes, 'a && b' for and, 'x ? y : z' for if-then-else",
      path,
      index: offset + parsed.problem.index,
    });
    return undefined;
  }
  const references = findReferences(parsed.ast, EXPRESSION_ROOTS);
  const before = state.drafts.length;
  let suppressed = false;
  let output: ExpressionInfo['output'];
  for (const reference of references) {
    const result = checkReference(state, reference, path, offset, scope);
    if (result === 'unknown') suppressed = true;
    else if (result !== undefined && references.length === 1) output = result;
  }
  if (state.drafts.length > before) return undefined;
  if (suppressed) return { type: 'dyn' };

  // Type only the steps the expression reads: environments are built per expression, and small ones are cheap.
  const stepReferences = references.filter((reference) => reference.root === 'steps');
  const readsAllSteps = stepReferences.some((reference) => reference.fields.length === 0);
  const read = new Set(stepReferences.flatMap((reference) => reference.fields[0]?.name ?? []));
  const variables = scope.variablesFor(readsAllSteps ? undefined : read);
  const checked = checkCel(source, variables);
  if (!checked.ok) {
    const { problem } = checked;
    const names = Object.keys(variables).join(', ');
    state.report({
      code: celIssueCode(problem.kind),
      message: `invalid expression: ${problem.message}`,
      hint:
        problem.kind === 'unknown-variable'
          ? `variables here: ${names}`
          : /\b(int|double)\b.*\b(int|double)\b/.test(problem.message)
            ? INT_DOUBLE_HINT
            : 'check the types of the operands and functions',
      path,
      index: offset + problem.index,
    });
    return undefined;
  }
  // Only an expression that is exactly `steps.X.outputs.Y` passes an output (an artifact) by reference.
  const whole = outputReferenceOfAst(parsed.ast) !== undefined;
  return { type: checked.type, ...(whole && output !== undefined ? { output } : {}) };
}

/** The offset of an expression's first non-blank character, where errors about the whole expression point. */
export function startOf(source: string, offset: number): number {
  return offset + (source.length - source.trimStart().length);
}
