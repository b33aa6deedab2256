/**
 * The step graph: each step's `needs` name other steps, once each; the graph is built from every step (broken ones
 * included, so the steps after them still see the steps before them) and has no cycle.
 */
import { suggest } from '../issues';
import type { StepSpec } from '../schema';
import type { PathSegment } from '../source-map';
import type { ValidationState } from './state';

/** Checks one step's `needs`: no step listed twice, none that is not a step of the pipeline. */
export function checkNeeds(state: ValidationState, id: string, step: StepSpec, path: PathSegment[]): void {
  const seen = new Set<string>();
  (step.needs ?? []).forEach((need, index) => {
    const needPath = [...path, 'needs', index];
    if (seen.has(need)) {
      state.report({
        code: 'DUPLICATE_NEED',
        message: `'${need}' is listed twice in needs`,
        hint: 'remove the repeated entry',
        path: needPath,
      });
    } else if (!state.stepIds.has(need)) {
      const others = [...state.stepIds].filter((other) => other !== id);
      state.report({
        code: 'UNKNOWN_NEED',
        message: `step '${id}' needs '${need}', which is not a step of this pipeline`,
        hint: suggest(need, others, `steps: ${others.join(', ') || 'none other'}`),
        path: needPath,
      });
    }
    seen.add(need);
  });
}

/** Every step with its needs, in declaration order, broken steps included. */
export function graphSteps(state: ValidationState): Record<string, { needs?: readonly string[] | undefined }> {
  const steps: Record<string, { needs?: readonly string[] | undefined }> = {};
  for (const id of state.stepIds) steps[id] = state.steps[id] ?? { needs: state.brokenStepNeeds[id] };
  return steps;
}

/** Reports a cycle of needs at the first step's need of the next. */
export function reportCycle(state: ValidationState, cycle: string[]): void {
  const [first] = cycle;
  if (first === undefined) return;
  const next = cycle[1] ?? first;
  const needIndex = (state.steps[first]?.needs ?? []).indexOf(next);
  state.report({
    code: 'CYCLE',
    message:
      cycle.length === 1
        ? `step '${first}' needs itself`
        : `steps need each other in a cycle: ${[...cycle, first].join(' → ')} (each needs the next)`,
    hint:
      cycle.length === 1
        ? `remove '${first}' from its own needs`
        : 'remove one of these needs to break the cycle; a step can only use outputs of steps that run before it',
    path: ['steps', first, 'needs', ...(needIndex < 0 ? [] : [needIndex])],
  });
}
