/**
 * What a step's expressions can see: `params`, the outputs of the steps it needs (transitively) as `steps`, `item`
 * in a `foreach` step, and its own `inputs` inside `run:`. The validator types these variables; the engine binds
 * them to values with the same types, so an expression that type-checked evaluates the way it was checked.
 */
import {
  checkCel,
  findReferences,
  parseCel,
  typeArguments,
  typeBase,
  type CelType,
  type CelVariables,
} from '../expressions/cel';
import type { ExpressionBindings } from '../expressions/evaluate';
import { hasTemplate, parseTemplate } from '../expressions/template';
import { upstreamOf, type StepGraph } from './dag';
import type { StepDescriptor, StepRegistry } from './registry';
import type { InputPort, JsonValue, OutputPort, PipelineSpec, StepSpec } from './schema';
import { pipelinePorts, type PipelineLookup } from './sub-pipelines';
import { celTypeOf, celTypeOfOutput, celTypeOfParam } from './types';
import { PROMOTE_PORTS } from '../promotion/policies';

/** Where in a step an expression is: `run` fields also see the step's `inputs`. */
export type ExpressionField = 'with' | 'when' | 'foreach' | 'run';

/**
 * The inputs and outputs of a step: its registration's for `uses`, its own declarations for `run`, and for
 * `pipeline` the sub-pipeline's parameters and declared outputs.
 */
export interface StepPorts {
  inputs: Readonly<Record<string, InputPort>>;
  outputs: Readonly<Record<string, OutputPort>>;
  /** The registered step, for `uses` steps. */
  descriptor?: StepDescriptor;
}

/**
 * The ports of a step, or `undefined` when its `uses` is not registered or its `pipeline` is not among `pipelines`
 * (the validated sub-pipelines; without them, no `pipeline` step has ports).
 */
export function stepPorts(step: StepSpec, registry: StepRegistry, pipelines?: PipelineLookup): StepPorts | undefined {
  if (step.promote !== undefined) return { inputs: PROMOTE_PORTS.inputs, outputs: PROMOTE_PORTS.outputs };
  if (step.pipeline !== undefined) {
    const spec = pipelines?.(step.pipeline);
    return spec === undefined ? undefined : pipelinePorts(spec);
  }
  if (step.uses !== undefined) {
    const resolved = registry.resolve(step.uses);
    if (!resolved.ok) return undefined;
    return {
      inputs: resolved.descriptor.inputs,
      outputs: resolved.descriptor.outputs,
      descriptor: resolved.descriptor,
    };
  }
  return { inputs: step.inputs ?? {}, outputs: step.outputs ?? {} };
}

/** The CEL type of the parameters record. */
export function paramsType(spec: Pick<PipelineSpec, 'params'>): Record<string, CelType> {
  const result: Record<string, CelType> = {};
  for (const [name, param] of Object.entries(spec.params ?? {})) result[name] = celTypeOfParam(param);
  return result;
}

/** The CEL type of `steps.<id>` for a step: `{ outputs: { name: type } }`. */
export function stepOutputsType(step: StepSpec, ports: StepPorts): CelType {
  const outputs: Record<string, CelType> = {};
  for (const [name, port] of Object.entries(ports.outputs)) {
    outputs[name] = celTypeOfOutput(port, step.foreach !== undefined);
  }
  return { outputs };
}

/** The element type of a literal `foreach` list: a common scalar type, else `dyn`. */
function literalItemType(items: readonly JsonValue[]): string {
  const types = new Set(
    items.map((item) => {
      if (typeof item === 'string') return hasTemplate(item) ? 'dyn' : 'string';
      if (typeof item === 'boolean') return 'bool';
      if (typeof item === 'number') return Number.isInteger(item) ? 'int' : 'double';
      return 'dyn';
    }),
  );
  if (types.size === 2 && types.has('int') && types.has('double')) return 'double';
  const [only] = types;
  return types.size === 1 && only !== undefined ? only : 'dyn';
}

/** The element type of a list type name (`dyn` if unknown). */
function elementType(type: string): string {
  return typeBase(type) === 'list' ? (typeArguments(type)[0] ?? 'dyn') : 'dyn';
}

/** Everything needed to type a step's expressions; computed once per pipeline. */
export interface ScopeContext {
  spec: Pick<PipelineSpec, 'params' | 'steps'>;
  registry: StepRegistry;
  graph: StepGraph;
  /** The sub-pipelines `pipeline` steps run (their ports are the sub-pipeline's parameters and outputs). */
  pipelines?: PipelineLookup;
}

/** Which variables to type, when not all of them (typing fewer is faster: environments are built per expression). */
export interface VariableOptions {
  /** Parameter types to use instead of the declared ones (the validator types invalid parameters as `dyn`). */
  params?: Record<string, CelType>;
  /** Type only these of the visible steps (those an expression reads). */
  steps?: ReadonlySet<string>;
  /** The type of `item`, when already known. */
  item?: CelType;
}

/**
 * The CEL variables of one step's expressions in one field. `steps` holds only the steps it needs, directly or
 * transitively: reading any other step is a type error, as it would be a race at run time.
 */
export function stepVariables(
  context: ScopeContext,
  stepId: string,
  field: ExpressionField,
  options: VariableOptions = {},
): CelVariables {
  const step = context.spec.steps[stepId];
  const params = options.params ?? paramsType(context.spec);
  const variables: Record<string, CelType> = {
    params,
    steps: visibleStepsType(context, stepId, options.steps),
  };
  if (step === undefined) return Object.freeze(variables);
  if (field !== 'foreach' && step.foreach !== undefined) {
    variables.item = options.item ?? foreachItemType(context, stepId, params);
  }
  if (field === 'run') {
    const inputs: Record<string, CelType> = {};
    for (const [name, port] of Object.entries(step.inputs ?? {})) inputs[name] = celTypeOf(port);
    variables.inputs = inputs;
  }
  return Object.freeze(variables);
}

/** The type of `steps` for a step: the outputs of the steps it needs, directly or transitively (or of `only`). */
function visibleStepsType(context: ScopeContext, stepId: string, only?: ReadonlySet<string>): Record<string, CelType> {
  const upstream = upstreamOf(context.graph, stepId);
  return stepsType(context, (id) => id !== stepId && upstream.has(id) && (only === undefined || only.has(id)));
}

/** The type of `steps` holding the steps `include` accepts, in declaration order. */
function stepsType(context: ScopeContext, include: (id: string) => boolean): Record<string, CelType> {
  const steps: Record<string, CelType> = {};
  for (const id of context.graph.ids) {
    if (!include(id)) continue;
    const need = context.spec.steps[id];
    const ports = need === undefined ? undefined : stepPorts(need, context.registry, context.pipelines);
    steps[id] = need === undefined || ports === undefined ? 'dyn' : stepOutputsType(need, ports);
  }
  return steps;
}

/**
 * The CEL variables of the pipeline's own `outputs:` values: `params`, and every step (they are read once all
 * steps are done). `steps` may be narrowed to those an expression reads, and `params` typed as given.
 */
export function pipelineOutputVariables(
  context: ScopeContext,
  options: Pick<VariableOptions, 'params' | 'steps'> = {},
): CelVariables {
  const only = options.steps;
  return Object.freeze({
    params: options.params ?? paramsType(context.spec),
    steps: stepsType(context, (id) => only === undefined || only.has(id)),
  });
}

/**
 * Binds the variables of the pipeline's `outputs:` values, typed as {@link pipelineOutputVariables} types them. A
 * step that did not complete (skipped) has no outputs, so reading it fails.
 */
export function pipelineOutputBindings(
  context: ScopeContext,
  values: Pick<ScopeValues, 'params' | 'outputs'>,
): ExpressionBindings {
  const variables = pipelineOutputVariables(context);
  const visible: Record<string, JsonValue> = {};
  for (const id of context.graph.ids) {
    const outputs = values.outputs[id];
    if (outputs !== undefined) visible[id] = { outputs: { ...outputs } };
  }
  return {
    params: { type: variables.params ?? 'dyn', value: values.params },
    steps: { type: variables.steps ?? 'dyn', value: visible },
  };
}

/**
 * The type of `item` in a `foreach` step: the element type of the list it iterates over (`dyn` when that cannot be
 * known, e.g. the expression is invalid).
 */
export function foreachItemType(context: ScopeContext, stepId: string, params?: Record<string, CelType>): CelType {
  const foreach = context.spec.steps[stepId]?.foreach;
  if (foreach === undefined) return 'dyn';
  if (typeof foreach !== 'string') return literalItemType(foreach);
  const parsed = parseTemplate(foreach);
  const [expression] = parsed.ok && parsed.whole ? parsed.expressions : [];
  if (expression === undefined) return 'dyn';
  const ast = parseCel(expression.source);
  if (!ast.ok) return 'dyn';
  const referenced = new Set(
    findReferences(ast.ast, new Set(['steps'])).flatMap((reference) => reference.fields[0]?.name ?? []),
  );
  const variables = stepVariables(context, stepId, 'foreach', {
    ...(params === undefined ? {} : { params }),
    steps: referenced,
  });
  const checked = checkCel(expression.source, variables);
  return checked.ok ? elementType(checked.type) : 'dyn';
}

/** Values of a step's expression variables at run time. */
export interface ScopeValues {
  /** The run's parameter values (defaults applied). */
  params: Readonly<Record<string, JsonValue>>;
  /** Outputs of finished steps, by step id then output name. */
  outputs: Readonly<Record<string, Readonly<Record<string, JsonValue>>>>;
  /** The current element, in a `foreach` step. */
  item?: JsonValue;
  /** The step's input values, inside `run:`. */
  inputs?: Readonly<Record<string, JsonValue>>;
}

/**
 * Binds a step's expression variables to values, typed as {@link stepVariables} types them (so integers are CEL
 * ints and numbers doubles). Only the steps the step needs are visible.
 */
export function stepBindings(
  context: ScopeContext,
  stepId: string,
  field: ExpressionField,
  values: ScopeValues,
): ExpressionBindings {
  const variables = stepVariables(context, stepId, field);
  const stepsType = variables.steps;
  const visible: Record<string, JsonValue> = {};
  if (typeof stepsType === 'object') {
    for (const id of Object.keys(stepsType)) {
      const outputs = values.outputs[id];
      if (outputs !== undefined) visible[id] = { outputs: { ...outputs } };
    }
  }
  const bindings: Record<string, { type: CelType; value: unknown }> = {
    params: { type: variables.params ?? 'dyn', value: values.params },
    steps: { type: stepsType ?? 'dyn', value: visible },
  };
  if (variables.item !== undefined) bindings.item = { type: variables.item, value: values.item ?? null };
  if (variables.inputs !== undefined) bindings.inputs = { type: variables.inputs, value: values.inputs ?? {} };
  return bindings;
}
