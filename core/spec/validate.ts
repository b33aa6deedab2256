/**
 * Validates a pipeline spec and collects every problem, not just the first: the schema (unknown, missing and
 * mistyped fields), then what the schema cannot see (the step graph, registered step types, `with` bindings against
 * typed inputs, `${{ }}` expressions against the variables in scope, parameter declarations and values). Each step
 * and parameter is checked on its own, so one broken step does not hide the errors of another.
 *
 * The checks live in `validation/`, one module per concern: parameters (`params.ts`), the structure of steps
 * (`steps.ts`), their needs and the graph (`needs.ts`), retry and heartbeat policies (`policies.ts`), `pipeline` steps
 * (`sub-pipeline-steps.ts`), bindings to typed ports (`bindings.ts`), expressions and their references
 * (`expressions.ts`) and the pipeline's own outputs (`outputs.ts`), sharing what was found in `state.ts`.
 */
import { buildGraph, findCycles, topologicalOrder, type StepGraph } from './dag';
import { finalizeIssues, type SpecIssue } from './issues';
import { defaultsSchema, pipelineShellSchema, type JsonValue, type PipelineSpec } from './schema';
import type { ScopeContext } from './scope';
import { checkStepBindings } from './validation/bindings';
import { graphSteps, reportCycle } from './validation/needs';
import { checkOutputs } from './validation/outputs';
import { checkParams, checkParamValues } from './validation/params';
import { checkDefaultHeartbeat, checkRetry } from './validation/policies';
import { checkPromotionConflicts } from './validation/promotion';
import { ValidationState, type ValidateOptions } from './validation/state';
import { checkSteps } from './validation/steps';
import { zodIssueDrafts } from './zod-issues';

export type { ValidateOptions } from './validation/state';

/** A valid pipeline, ready for the engine. */
export interface ValidPipeline {
  ok: true;
  spec: PipelineSpec;
  graph: StepGraph;
  /** The steps in a valid execution order. */
  order: string[];
  /** With `params` given: the run's parameter values, defaults applied. */
  params?: Record<string, JsonValue>;
  issues: [];
}

/** An invalid pipeline: every problem found. */
export interface InvalidPipeline {
  ok: false;
  issues: SpecIssue[];
}

/** The answer of {@link validatePipeline}. */
export type ValidationResult = ValidPipeline | InvalidPipeline;

/** Validates a spec (as parsed from YAML or JSON, or built in code) and returns it typed, or every problem. */
export function validatePipeline(input: unknown, options: ValidateOptions): ValidationResult {
  const state = new ValidationState(options);
  const result = validate(state, input);
  const drafts = [...(options.priorIssues ?? []), ...state.drafts];
  if (drafts.length > 0 || result === undefined) {
    return { ok: false, issues: finalizeIssues(drafts, options.sourceMap, options.file) };
  }
  return { ...result, ok: true, issues: [] };
}

/** Runs every check in order; returns the typed spec when none found a problem. */
function validate(state: ValidationState, input: unknown): Omit<ValidPipeline, 'ok' | 'issues'> | undefined {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    state.report({
      code: 'INVALID_TYPE',
      message: `a pipeline spec is a mapping, got ${input === null ? 'null' : Array.isArray(input) ? 'a list' : typeof input}`,
      hint: 'start the file with `apiVersion: mloe.dev/v1`, `kind: Pipeline`, `metadata:` and `steps:`',
      path: [],
    });
    return undefined;
  }
  const shell = pipelineShellSchema.safeParse(input, { reportInput: true });
  if (!shell.success) state.drafts.push(...zodIssueDrafts(shell.error, [], pipelineShellSchema));
  const raw = input as Record<string, unknown>;

  const defaults = defaultsSchema.safeParse(raw.defaults);
  state.defaults = defaults.success ? defaults.data : undefined;
  checkParams(state, raw.params);
  checkSteps(state, raw.steps);
  const defaultRetry = shell.success ? shell.data.defaults?.retry : undefined;
  if (defaultRetry !== undefined) checkRetry(state, defaultRetry, ['defaults', 'retry']);
  checkDefaultHeartbeat(state);

  const graph = buildGraph(graphSteps(state));
  for (const cycle of findCycles(graph)) reportCycle(state, cycle);
  const context: ScopeContext = {
    spec: { params: state.params, steps: state.steps },
    registry: state.registry,
    graph,
    pipelines: (reference) => state.subPipelines.get(reference),
  };
  for (const [id, step] of Object.entries(state.steps)) checkStepBindings(state, id, step, context);
  checkOutputs(state, raw.outputs, context);
  checkPromotionConflicts(state);

  const params = checkParamValues(state);
  if (state.drafts.length > 0 || !shell.success) return undefined;
  const { params: declared, steps: _steps, outputs: declaredOutputs, ...rest } = shell.data;
  const spec: PipelineSpec = {
    ...rest,
    ...(declared === undefined ? {} : { params: state.params }),
    steps: state.steps,
    ...(declaredOutputs === undefined ? {} : { outputs: state.outputs }),
  };
  return { spec, graph, order: topologicalOrder(graph), ...(params === undefined ? {} : { params }) };
}
