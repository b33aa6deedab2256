/**
 * `pipeline` steps: no field that belongs to the sub-pipeline's own steps or file, and a path that resolves to a
 * valid sub-pipeline, whose parameters and outputs become the step's ports.
 */
import type { StepSpec } from '../schema';
import type { PathSegment } from '../source-map';
import { pipelinePorts } from '../sub-pipelines';
import type { ValidationState } from './state';

/** Fields a `pipeline` step cannot have: its steps carry their own policies and ports. */
const NOT_ON_PIPELINE_STEPS = [
  ['inputs', "the sub-pipeline's parameters are its inputs: bind them with 'with'"],
  ['outputs', "the sub-pipeline's outputs are declared in its own file, under outputs:"],
  ['retry', "set retry on the sub-pipeline's steps, or in its defaults"],
  ['timeout', "set timeout on the sub-pipeline's steps, or in its defaults"],
  ['heartbeatTimeout', "set heartbeatTimeout on the sub-pipeline's steps, or in its defaults"],
  ['resources', "set resources on the sub-pipeline's steps, or in its defaults"],
  ['cache', "set cache on the sub-pipeline's steps, or in its defaults"],
  ['kubernetes', "set kubernetes on the sub-pipeline's steps, or in its defaults"],
  ['batch', "set batch on the sub-pipeline's steps, or in its defaults"],
  ['taskQueue', "set taskQueue on the sub-pipeline's steps, or in its defaults"],
  [
    'foreach',
    'pass the list as a parameter of the sub-pipeline and put foreach on its steps, or write one step per case',
  ],
] as const;

/** A `pipeline` step: its file resolves to a valid sub-pipeline, and it sets nothing only activities have. */
export function checkPipelineStep(
  state: ValidationState,
  id: string,
  step: StepSpec,
  reference: string,
  path: PathSegment[],
): void {
  for (const [field, hint] of NOT_ON_PIPELINE_STEPS) {
    if (step[field] === undefined) continue;
    state.report({
      code: 'INVALID_STEP',
      message:
        field === 'foreach'
          ? `step '${id}' runs a sub-pipeline, which cannot be repeated per item with 'foreach'`
          : `step '${id}' runs a sub-pipeline, so it cannot set '${field}'`,
      hint,
      path: [...path, field],
      at: 'key',
    });
  }
  const resolver = state.options.pipelines;
  if (resolver === undefined) return;
  const resolved = resolver(reference);
  if (!resolved.ok) {
    state.report({
      code: resolved.code,
      message: `step '${id}': ${resolved.message}`,
      hint: resolved.hint,
      path: [...path, 'pipeline'],
    });
    return;
  }
  state.subPipelines.set(reference, resolved.spec);
  state.ports.set(id, pipelinePorts(resolved.spec));
}
