/**
 * Building the `runStep` request of one step execution: expression variables bound to the run's parameters and the
 * outputs of finished steps, input values resolved (port defaults, then `with`, where an output reference passes the
 * stored value), and a command's `run` templates resolved with those inputs (and `item` in a `foreach`).
 */
import type { RunStepRequest } from '../activities/steps';
import { evaluateTemplate, interpolate, resolveTemplates, type ExpressionBindings } from '../core/expressions';
import {
  parseOutputReference,
  stepBindings,
  type ExpressionField,
  type JsonValue,
  type OutputReference,
  stepPlacement,
} from '../core/spec';
import type { PipelineDefinition } from './pipeline-definition';
import type { StepOutputs } from './step-outputs';
import type { RunPipelineInput } from './types';

/** What requests are built from: the run and what its finished steps produced. */
export interface StepRequestContext {
  input: RunPipelineInput;
  definition: PipelineDefinition;
  outputs: StepOutputs;
  workflowId: string;
  firstExecutionRunId: string;
}

/** One iteration of a `foreach` step. */
export interface ForeachIteration {
  item: JsonValue;
  index: number;
}

/** Builds the requests of a run's step executions. */
export class StepRequests {
  /** The output references among each step's `with` values, parsed once per step (not once per `foreach` item). */
  private readonly references = new Map<string, ReadonlyMap<string, OutputReference>>();

  constructor(private readonly context: StepRequestContext) {}

  /** The variables of a step's expressions in one field, bound to the run's values (`extra`: `item`, `inputs`). */
  bindings(id: string, field: ExpressionField, extra: object = {}): ExpressionBindings {
    const { input, definition, outputs } = this.context;
    return stepBindings(definition.scope, id, field, { params: input.params, outputs: outputs.visible, ...extra });
  }

  /** The input values of one execution: port defaults, then `with` (an output reference passes the stored value). */
  inputs(id: string, base: ExpressionBindings, item?: JsonValue): Record<string, JsonValue> {
    const { definition, outputs } = this.context;
    const step = definition.step(id);
    const references = this.referencesOf(id);
    const withBindings: ExpressionBindings =
      item === undefined || base.item === undefined ? base : { ...base, item: { type: base.item.type, value: item } };
    const values: Record<string, JsonValue> = {};
    for (const [name, port] of Object.entries(definition.portsOf(id).inputs)) {
      if (port.default !== undefined) values[name] = port.default;
    }
    for (const [name, value] of Object.entries(step.with ?? {})) {
      const reference = references.get(name);
      const stored = reference === undefined ? undefined : outputs.read(reference);
      values[name] = stored !== undefined ? stored : resolveTemplates(value, withBindings);
    }
    return values;
  }

  /** The request of one execution: `run` templates resolved with the inputs (and `item`). */
  request(
    id: string,
    inputs: Record<string, JsonValue>,
    runBase: ExpressionBindings | undefined,
    foreach?: ForeachIteration,
  ): RunStepRequest {
    const { input, definition, workflowId, firstExecutionRunId } = this.context;
    const step = definition.step(id);
    const noCache = definition.noCacheReason(id);
    const request: RunStepRequest = {
      stepId: id,
      workflowId,
      firstExecutionRunId,
      pipeline: definition.spec.metadata.name,
      inputs,
      params: input.params,
      outputs: Object.fromEntries(
        Object.entries(definition.portsOf(id).outputs).map(([name, port]) => [name, { type: port.type }]),
      ),
      ...(input.artifactStore === undefined ? {} : { artifactStore: input.artifactStore }),
      workingDir: input.workingDir,
      ...(noCache === undefined ? {} : { noCache }),
      ...(foreach === undefined ? {} : { index: foreach.index }),
    };
    // A registered step knows its outputs and sees only its inputs: no parameters (they are not in its cache key, and
    // a large parameter would otherwise be copied into every `foreach` iteration's request).
    if (step.run === undefined) {
      // A `uses:` step that names a remote executor (a built-in run as `mloe step exec`) carries its placement;
      // every other one's request stays as it was.
      const placement = stepPlacement(definition.spec.defaults, step);
      return {
        ...request,
        params: {},
        outputs: {},
        uses: definition.uses(id),
        ...(placement.executor === 'local' ? {} : { placement }),
      };
    }
    let runBindings: ExpressionBindings = {
      ...(runBase ?? {}),
      inputs: { type: runBase?.inputs?.type ?? 'dyn', value: inputs },
    };
    if (foreach !== undefined && runBindings.item !== undefined) {
      runBindings = { ...runBindings, item: { type: runBindings.item.type, value: foreach.item } };
    }
    const text = (value: string | number | boolean): string =>
      typeof value === 'string' ? interpolate(evaluateTemplate(value, runBindings)) : String(value);
    const { command, env, ...rest } = step.run;
    // Only remote steps carry a placement: the requests of local steps stay as they were.
    const placement = stepPlacement(definition.spec.defaults, step);
    return {
      ...request,
      ...(placement.executor === 'local' ? {} : { placement }),
      run: {
        ...rest,
        command: command.map(text),
        ...(env === undefined ? {} : { env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, text(v)])) }),
      },
    };
  }

  private referencesOf(id: string): ReadonlyMap<string, OutputReference> {
    let found = this.references.get(id);
    if (found === undefined) {
      const references = new Map<string, OutputReference>();
      for (const [name, value] of Object.entries(this.context.definition.step(id).with ?? {})) {
        const reference = parseOutputReference(value);
        if (reference !== undefined) references.set(name, reference);
      }
      found = references;
      this.references.set(id, found);
    }
    return found;
  }
}
