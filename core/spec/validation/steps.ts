/**
 * The structure of each step: the schema, its id, exactly one kind (`uses`, `run`, `pipeline` or `promote`), a registered type,
 * ports declared only where they belong (and well formed on `run` steps), its needs, its policies, and `maxParallel`
 * only with `foreach`. Records every step's ports for the checks of bindings and expressions.
 */
import { stepSchema, type StepSpec } from '../schema';
import type { PathSegment } from '../source-map';
import { describePortType, literalMismatch, withArticle } from '../types';
import { zodIssueDrafts } from '../zod-issues';
import { checkExecutor } from './executors';
import { checkNeeds } from './needs';
import { checkHeartbeat, checkRetry } from './policies';
import { checkPromoteStep } from './promotion';
import { checkIdentifier, type ValidationState } from './state';
import { checkPipelineStep } from './sub-pipeline-steps';

/** Checks the `steps:` mapping and each step's structure; records valid steps and their ports. */
export function checkSteps(state: ValidationState, raw: unknown): void {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return; // the shell schema reported it
  const entries = Object.entries(raw);
  if (entries.length === 0) {
    state.report({
      code: 'MISSING_FIELD',
      message: 'the pipeline has no steps',
      hint: 'add at least one step under steps:, e.g. `train: { uses: train@1 }`',
      path: ['steps'],
    });
  }
  for (const [id] of entries) state.stepIds.add(id);
  for (const [id, value] of entries) {
    const path = ['steps', id];
    checkIdentifier(state, id, path, 'step id');
    const parsed = stepSchema.safeParse(value, { reportInput: true });
    if (!parsed.success) {
      state.drafts.push(...zodIssueDrafts(parsed.error, path, stepSchema));
      // Keep its needs in the graph, so steps after it still see the steps before it.
      const needs = (value as { needs?: unknown } | null)?.needs;
      if (Array.isArray(needs)) state.brokenStepNeeds[id] = needs.filter((need) => typeof need === 'string');
      continue;
    }
    const step = parsed.data;
    state.steps[id] = step;
    checkStepShape(state, id, step, path);
  }
}

/** Checks what one step says about itself: its kind, type, ports, needs and policies. */
function checkStepShape(state: ValidationState, id: string, step: StepSpec, path: PathSegment[]): void {
  const kinds = (['uses', 'run', 'pipeline', 'promote'] as const).filter((kind) => step[kind] !== undefined);
  if (kinds.length !== 1) {
    state.report({
      code: 'INVALID_STEP',
      message:
        kinds.length === 0
          ? `step '${id}' has none of 'uses', 'run', 'pipeline' and 'promote'`
          : `step '${id}' has ${kinds.map((kind) => `'${kind}'`).join(' and ')}; a step is exactly one kind`,
      hint: "give a step exactly one of 'uses: <registered step>', 'run: { command: [...] }', 'pipeline: ./file.yaml' and 'promote: { ... }'",
      path: kinds.length === 0 ? path : [...path, kinds[1] ?? kinds[0] ?? 'uses'],
      at: 'key',
    });
  }
  if (step.promote !== undefined && kinds.length === 1) {
    checkPromoteStep(state, id, step, step.promote, path);
  } else if (step.pipeline !== undefined && kinds.length === 1) {
    checkPipelineStep(state, id, step, step.pipeline, path);
  } else if (step.uses !== undefined) {
    const resolved = state.registry.resolve(step.uses);
    if (resolved.ok) {
      state.ports.set(id, { inputs: resolved.descriptor.inputs, outputs: resolved.descriptor.outputs });
    } else {
      state.report({ code: resolved.code, message: resolved.message, hint: resolved.hint, path: [...path, 'uses'] });
    }
    for (const field of ['inputs', 'outputs'] as const) {
      if (step[field] === undefined) continue;
      state.report({
        code: 'INVALID_STEP',
        message: `a 'uses' step takes its ${field} from its registration; they cannot be declared here`,
        hint: field === 'inputs' ? `remove '${field}' and bind values with 'with'` : `remove '${field}'`,
        path: [...path, field],
        at: 'key',
      });
    }
  } else if (step.run !== undefined) {
    checkPorts(state, step, path);
    state.ports.set(id, { inputs: step.inputs ?? {}, outputs: step.outputs ?? {} });
  }

  checkNeeds(state, id, step, path);

  if (step.retry !== undefined) checkRetry(state, step.retry, [...path, 'retry']);
  if (step.pipeline === undefined) checkHeartbeat(state, step, path);
  checkExecutor(state, id, step, path);
  if (step.maxParallel !== undefined && step.foreach === undefined) {
    state.report({
      code: 'INVALID_STEP',
      message: "'maxParallel' limits the iterations of a 'foreach' step, and this step has no foreach",
      hint: "remove 'maxParallel', or add 'foreach'",
      path: [...path, 'maxParallel'],
      at: 'key',
    });
  }
}

/** Declared ports of a `run` step: names, `items` only on lists, defaults of the port's type. */
function checkPorts(state: ValidationState, step: StepSpec, path: PathSegment[]): void {
  for (const field of ['inputs', 'outputs'] as const) {
    for (const [name, port] of Object.entries(step[field] ?? {})) {
      const portPath = [...path, field, name];
      checkIdentifier(state, name, portPath, field === 'inputs' ? 'input name' : 'output name');
      if (port.items !== undefined && port.type !== 'list') {
        state.report({
          code: 'INVALID_VALUE',
          message: `'items' applies only to lists, and ${field.slice(0, -1)} '${name}' is ${withArticle(port.type)}`,
          hint: "remove 'items', or make the type 'list'",
          path: [...portPath, 'items'],
          at: 'key',
        });
      }
    }
  }
  for (const [name, port] of Object.entries(step.inputs ?? {})) {
    const portPath = [...path, 'inputs', name];
    if (port.required === true && port.default !== undefined) {
      state.report({
        code: 'INVALID_VALUE',
        message: `input '${name}' has a default, so it is not required`,
        hint: "remove 'required: true' or the default",
        path: [...portPath, 'required'],
      });
    }
    if (port.default !== undefined) {
      const problem = literalMismatch(port.default, port);
      if (problem !== undefined) {
        state.report({
          code: 'TYPE_MISMATCH',
          message: `default of input '${name}': ${problem}`,
          hint: `give a default of type ${describePortType(port)}`,
          path: [...portPath, 'default'],
        });
      }
    }
  }
}
