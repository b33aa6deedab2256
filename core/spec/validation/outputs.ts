/**
 * The pipeline's own `outputs:`: each a typed port whose `value` may read any step (all have run by then), checked
 * like a binding to an input of that type.
 */
import { pipelineOutputSchema } from '../schema';
import { pipelineOutputVariables, type ScopeContext } from '../scope';
import type { PathSegment } from '../source-map';
import { withArticle } from '../types';
import { zodIssueDrafts } from '../zod-issues';
import { checkBinding } from './bindings';
import type { ExpressionScope } from './expression-scope';
import { checkIdentifier, type ValidationState } from './state';

/** The pseudo step id of the pipeline's own `outputs:` expressions (not an identifier, so never a real step). */
const OUTPUTS_SCOPE = '<outputs>';

/**
 * The pipeline's own `outputs:`: each a typed port whose `value` reads the outputs of any step (all of them have
 * run by then), type-checked like a binding to an input of that type.
 */
export function checkOutputs(state: ValidationState, raw: unknown, context: ScopeContext): void {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return; // the shell schema reported it
  const all = new Set(state.stepIds);
  const scope: ExpressionScope = {
    stepId: OUTPUTS_SCOPE,
    field: 'with',
    variablesFor: (steps) =>
      pipelineOutputVariables(context, { params: state.paramTypes, ...(steps === undefined ? {} : { steps }) }),
    hasItem: false,
    upstream: all,
  };
  for (const [name, value] of Object.entries(raw)) {
    const path: PathSegment[] = ['outputs', name];
    checkIdentifier(state, name, path, 'output name');
    const parsed = pipelineOutputSchema.safeParse(value, { reportInput: true });
    if (!parsed.success) {
      state.drafts.push(...zodIssueDrafts(parsed.error, path, pipelineOutputSchema));
      continue;
    }
    const output = parsed.data;
    if (output.items !== undefined && output.type !== 'list') {
      state.report({
        code: 'INVALID_VALUE',
        message: `'items' applies only to lists, and output '${name}' is ${withArticle(output.type)}`,
        hint: "remove 'items', or make the type 'list'",
        path: [...path, 'items'],
        at: 'key',
      });
      continue;
    }
    const before = state.drafts.length;
    checkBinding(state, output.value, output, [...path, 'value'], scope, `output '${name}' of the pipeline`, name);
    if (state.drafts.length === before) state.outputs[name] = output;
  }
}
