/**
 * What an expression references: declared parameters (`params.x`), steps of the pipeline that the step needs,
 * directly or transitively, and their declared outputs (`steps.x.outputs.y`), `inputs` only inside `run:`, `item`
 * only in `foreach` steps.
 */
import type { CelReference } from '../../expressions/cel';
import { suggest, type IssueDraft } from '../issues';
import type { PathSegment } from '../source-map';
import type { ExpressionInfo, ExpressionScope } from './expression-scope';
import type { ValidationState } from './state';

/**
 * Checks one reference. Returns the output it names when it is `steps.X.outputs.Y`, 'unknown' when it reads a
 * step or parameter that is itself invalid (already reported; its types are unknown), else undefined.
 */
export function checkReference(
  state: ValidationState,
  reference: CelReference,
  path: PathSegment[],
  offset: number,
  scope: ExpressionScope,
): ExpressionInfo['output'] | 'unknown' | undefined {
  const [first, second, third] = reference.fields;
  const at = (index: number): Pick<IssueDraft, 'path' | 'index'> => ({ path, index: offset + index });
  switch (reference.root) {
    case 'params': {
      if (first === undefined || state.params[first.name] !== undefined) return undefined;
      if (state.paramNames.has(first.name)) return 'unknown';
      const names = [...state.paramNames];
      state.report({
        code: 'UNKNOWN_PARAM',
        message: `params.${first.name} is not a declared parameter`,
        hint: suggest(
          first.name,
          names,
          names.length === 0 ? 'declare it under params:' : `parameters: ${names.join(', ')}`,
        ),
        ...at(first.index),
      });
      return undefined;
    }
    case 'steps': {
      if (first === undefined) return undefined;
      const id = first.name;
      if (!state.stepIds.has(id)) {
        state.report({
          code: 'UNKNOWN_STEP_REFERENCE',
          message: `steps.${id} is not a step of this pipeline`,
          hint: suggest(
            id,
            [...scope.upstream],
            `steps it can read: ${[...scope.upstream].join(', ') || 'none (add needs)'}`,
          ),
          ...at(first.index),
        });
        return undefined;
      }
      if (id === scope.stepId) {
        state.report({
          code: 'NOT_UPSTREAM',
          message: `step '${id}' reads its own outputs, which do not exist before it runs`,
          hint: 'read outputs of the steps it needs instead',
          ...at(first.index),
        });
        return undefined;
      }
      if (!scope.upstream.has(id)) {
        const needs = state.steps[scope.stepId]?.needs ?? [];
        state.report({
          code: 'NOT_UPSTREAM',
          message: `step '${scope.stepId}' reads steps.${id}, but '${id}' is not among its needs (directly or transitively), so it may not have run yet`,
          hint: `add it: needs: [${[...needs, id].join(', ')}]`,
          ...at(first.index),
        });
        return undefined;
      }
      const ports = state.ports.get(id);
      if (ports === undefined || state.steps[id] === undefined) return 'unknown';
      if (second === undefined) return undefined;
      if (second.name !== 'outputs') {
        state.report({
          code: 'UNKNOWN_OUTPUT',
          message: `steps.${id}.${second.name}: only a step's outputs can be read`,
          hint: `write steps.${id}.outputs.<name>`,
          ...at(second.index),
        });
        return undefined;
      }
      if (third === undefined) return undefined;
      const port = ports.outputs[third.name];
      if (port === undefined) {
        const names = Object.keys(ports.outputs);
        state.report({
          code: 'UNKNOWN_OUTPUT',
          message: `step '${id}' has no output '${third.name}'`,
          hint: suggest(
            third.name,
            names,
            names.length === 0 ? `step '${id}' has no outputs` : `outputs: ${names.join(', ')}`,
          ),
          ...at(third.index),
        });
        return undefined;
      }
      return { step: id, name: third.name, port, foreach: state.steps[id]?.foreach !== undefined };
    }
    case 'inputs': {
      if (scope.inputs === undefined) {
        state.report({
          code: 'UNKNOWN_VARIABLE',
          message: "'inputs' can only be read inside run: of a step",
          hint: 'read the value the input is bound from (a parameter or an output) instead',
          ...at(reference.index),
        });
        return undefined;
      }
      if (first === undefined || scope.inputs[first.name] !== undefined) return undefined;
      const names = Object.keys(scope.inputs);
      state.report({
        code: 'UNKNOWN_INPUT',
        message: `inputs.${first.name} is not an input of step '${scope.stepId}'`,
        hint: suggest(
          first.name,
          names,
          names.length === 0 ? 'declare it under inputs:' : `inputs: ${names.join(', ')}`,
        ),
        ...at(first.index),
      });
      return undefined;
    }
    case 'item': {
      if (scope.hasItem) return undefined;
      state.report({
        code: 'UNKNOWN_VARIABLE',
        message:
          scope.field === 'foreach'
            ? "'item' is the element of the foreach list, so the list itself cannot use it"
            : "'item' is only defined in a step with foreach",
        hint: scope.field === 'foreach' ? 'iterate over a parameter or an output' : 'add foreach: [...] to the step',
        ...at(reference.index),
      });
      return undefined;
    }
    default:
      return undefined;
  }
}
