/**
 * Output references: a binding that is exactly `${{ steps.<id>.outputs.<name> }}`. Such a binding passes the step's
 * output on as stored (an artifact by reference, a `metrics` output as its artifact rather than its numbers): the
 * validator types it as the output's port, the interpreter and sub-pipeline outputs hand over the stored value
 * instead of evaluating CEL. All of them recognise it here, on the CEL syntax tree, so they cannot disagree about
 * spelling (`steps.a.outputs.b`, `steps['a'].outputs.b`, any whitespace inside `${{ }}`).
 */
import type { ASTNode } from '@marcbachmann/cel-js';

import { parseCel, referenceOf } from '../expressions/cel';
import { parseTemplate } from '../expressions/template';
import type { JsonValue } from './schema';

/** The output an output reference reads. */
export interface OutputReference {
  /** The step id. */
  step: string;
  /** The output's name. */
  output: string;
}

/** The output an expression reads when its whole syntax tree is the field path `steps.<id>.outputs.<name>`. */
export function outputReferenceOfAst(ast: ASTNode): OutputReference | undefined {
  const reference = referenceOf(ast);
  if (reference === undefined || reference.root !== 'steps' || reference.fields.length !== 3) return undefined;
  const [step, outputs, output] = reference.fields;
  if (step === undefined || outputs?.name !== 'outputs' || output === undefined) return undefined;
  return { step: step.name, output: output.name };
}

/**
 * The output a bound value reads when it is exactly one `${{ steps.<id>.outputs.<name> }}` (no text around it);
 * `undefined` for anything else, including text that does not parse.
 */
export function parseOutputReference(value: JsonValue): OutputReference | undefined {
  if (typeof value !== 'string') return undefined;
  const template = parseTemplate(value);
  if (!template.ok || !template.whole) return undefined;
  const [expression] = template.expressions;
  if (expression === undefined) return undefined;
  const parsed = parseCel(expression.source);
  return parsed.ok ? outputReferenceOfAst(parsed.ast) : undefined;
}

/** The binding that reads an output: `${{ steps.<id>.outputs.<name> }}`. */
export function outputReferenceText(reference: OutputReference): string {
  return `\${{ steps.${reference.step}.outputs.${reference.output} }}`;
}
