/**
 * Evaluating spec values: strings with `${{ }}` templates, values that nest them, and `when:` conditions. Pure and
 * deterministic; the engine calls these with the run's parameters and the outputs of finished steps.
 */
import { MloeError } from '../errors';
import type { JsonValue } from '../spec/schema';
import { evaluateCel, type CelBinding } from './cel';
import { hasTemplate, parseTemplate } from './template';

/** The variables an expression sees, with their declared types and values. */
export type ExpressionBindings = Readonly<Record<string, CelBinding>>;

/** How an interpolated value reads inside a string: scalars as text, lists and maps as JSON. */
export function interpolate(value: JsonValue): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Evaluates a string: exactly one template gives the expression's value (typed); text with templates gives a
 * string; text without templates is returned as it is.
 */
export function evaluateTemplate(text: string, bindings: ExpressionBindings): JsonValue {
  if (!hasTemplate(text)) return text;
  const parsed = parseTemplate(text);
  if (!parsed.ok) throw new MloeError('EXPRESSION_FAILED', `${parsed.message} in '${text}'`);
  const [first] = parsed.expressions;
  if (parsed.whole && first !== undefined) return evaluateCel(first.source, bindings);
  return parsed.parts
    .map((part) => (typeof part === 'string' ? part : interpolate(evaluateCel(part.source, bindings))))
    .join('');
}

/** Evaluates every template in a value, through lists and mappings (keys are left as they are). */
export function resolveTemplates(value: JsonValue, bindings: ExpressionBindings): JsonValue {
  if (typeof value === 'string') return evaluateTemplate(value, bindings);
  if (Array.isArray(value)) return value.map((item) => resolveTemplates(item, bindings));
  if (value !== null && typeof value === 'object') {
    const result: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(result, key, {
        value: resolveTemplates(item, bindings),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }
  return value;
}

/**
 * The CEL source of a `when:` condition and its offset in the string: either one `${{ }}` template, or a bare
 * expression (`params.deploy && steps.evaluate.outputs.metrics.r2 > 0.9`), as GitHub Actions' `if:` allows.
 */
export function conditionSource(
  when: string,
): { ok: true; source: string; offset: number } | { ok: false; message: string; hint: string; index: number } {
  if (!hasTemplate(when)) return { ok: true, source: when, offset: 0 };
  const parsed = parseTemplate(when);
  if (!parsed.ok) return parsed;
  const [first] = parsed.expressions;
  if (!parsed.whole || first === undefined) {
    return {
      ok: false,
      message: 'a condition must be one expression, not text mixed with ${{ }}',
      hint: 'write the whole condition inside one ${{ }}, or write it without ${{ }}',
      index: 0,
    };
  }
  return { ok: true, source: first.source, offset: first.sourceOffset };
}

/** Evaluates a `when:` condition; anything but a boolean result is an `EXPRESSION_FAILED` error. */
export function evaluateCondition(when: boolean | string, bindings: ExpressionBindings): boolean {
  if (typeof when === 'boolean') return when;
  const condition = conditionSource(when);
  if (!condition.ok) throw new MloeError('EXPRESSION_FAILED', `${condition.message}: '${when}'`);
  const result = evaluateCel(condition.source, bindings);
  if (typeof result !== 'boolean') {
    throw new MloeError('EXPRESSION_FAILED', `condition '${when}' gave ${JSON.stringify(result)}, not true or false`);
  }
  return result;
}
