/**
 * Validates a pipeline spec and collects every problem, not just the first: the schema (unknown, missing and
 * mistyped fields), then what the schema cannot see (the step graph, registered step types, `with` bindings against
 * typed inputs, `${{ }}` expressions against the variables in scope, parameter declarations and values). Each step
 * and parameter is checked on its own, so one broken step does not hide the errors of another.
 */
import {
  checkCel,
  findReferences,
  parseCel,
  type CelReference,
  type CelType,
  type CelVariables,
} from '../expressions/cel';
import { conditionSource } from '../expressions/evaluate';
import { hasTemplate, parseTemplate } from '../expressions/template';
import { buildGraph, findCycles, topologicalOrder, upstreamOf, type StepGraph } from './dag';
import { finalizeIssues, suggest, type IssueDraft, type SpecIssue } from './issues';
import { outputReferenceOfAst, outputReferenceText } from './output-reference';
import { isParamRequired, paramValueProblem, resolveParamValues } from './params';
import type { StepRegistry } from './registry';
import {
  DEFAULT_STEP_TIMEOUT,
  IDENTIFIER_PATTERN,
  defaultsSchema,
  paramSchema,
  pipelineOutputSchema,
  pipelineShellSchema,
  stepSchema,
  type DefaultsSpec,
  type JsonValue,
  type OutputPort,
  type ParamSpec,
  type PipelineOutputSpec,
  type PipelineSpec,
  type RetrySpec,
  type StepSpec,
} from './schema';
import {
  foreachItemType,
  paramsType,
  pipelineOutputVariables,
  stepVariables,
  type ExpressionField,
  type ScopeContext,
  type StepPorts,
} from './scope';
import { pipelinePorts, type PipelineResolution } from './sub-pipelines';
import type { PathSegment, SourceMap } from './source-map';
import {
  describeCelType,
  describePortType,
  isArtifactType,
  isAssignable,
  isPortAssignable,
  literalMismatch,
  withArticle,
  type PortType,
} from './types';
import { parseDuration } from './units';
import { zodIssueDrafts } from './zod-issues';

/** Options of {@link validatePipeline}. */
export interface ValidateOptions {
  /** The steps `uses:` may name. */
  registry: StepRegistry;
  /** Positions of the fields, when the spec came from text. */
  sourceMap?: SourceMap;
  /** The file name errors show. */
  file?: string;
  /**
   * Parameter values for a run. When given, they are checked (types, ranges, enum membership, unknown names) and
   * every required parameter must have one; when absent, only the declarations are checked.
   */
  params?: Readonly<Record<string, unknown>>;
  /** Problems already found (by the parser or the builder), reported with the rest. */
  priorIssues?: readonly IssueDraft[];
  /**
   * What each `pipeline:` path (as written) resolves to: the validated sub-pipeline, or the problem to report at the
   * step (see `loadPipelineTree`, which reads and validates them). Without it, `pipeline` steps are not checked
   * against their sub-pipelines (their outputs read as `dyn`); every entry point that runs a spec passes it.
   */
  pipelines?: (reference: string) => PipelineResolution;
}

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

/** Fields a `pipeline` step cannot have: its steps carry their own policies and ports. */
const NOT_ON_PIPELINE_STEPS = [
  ['inputs', "the sub-pipeline's parameters are its inputs: bind them with 'with'"],
  ['outputs', "the sub-pipeline's outputs are declared in its own file, under outputs:"],
  ['retry', "set retry on the sub-pipeline's steps, or in its defaults"],
  ['timeout', "set timeout on the sub-pipeline's steps, or in its defaults"],
  ['heartbeatTimeout', "set heartbeatTimeout on the sub-pipeline's steps, or in its defaults"],
  ['resources', "set resources on the sub-pipeline's steps, or in its defaults"],
  ['cache', "set cache on the sub-pipeline's steps, or in its defaults"],
  [
    'foreach',
    'pass the list as a parameter of the sub-pipeline and put foreach on its steps, or write one step per case',
  ],
] as const;

/** The pseudo step id of the pipeline's own `outputs:` expressions (not an identifier, so never a real step). */
const OUTPUTS_SCOPE = '<outputs>';

/** Root variables of expressions; `inputs` only inside `run:`, `item` only in `foreach` steps. */
const EXPRESSION_ROOTS = new Set(['params', 'steps', 'inputs', 'item']);

const INT_DOUBLE_HINT =
  'CEL does not mix integers and numbers: write 1.0 rather than 1 next to a number, or convert with double() or int()';

/** Validates a spec (as parsed from YAML or JSON, or built in code) and returns it typed, or every problem. */
export function validatePipeline(input: unknown, options: ValidateOptions): ValidationResult {
  const validator = new Validator(options);
  const result = validator.run(input);
  const drafts = [...(options.priorIssues ?? []), ...validator.drafts];
  if (drafts.length > 0 || result === undefined) {
    return { ok: false, issues: finalizeIssues(drafts, options.sourceMap, options.file) };
  }
  return { ...result, ok: true, issues: [] };
}

/** What an expression was found to be. */
interface ExpressionInfo {
  /** Its CEL type. */
  type: string;
  /** When it is exactly `steps.X.outputs.Y`: that output. */
  output?: { step: string; name: string; port: OutputPort; foreach: boolean };
}

/** Everything an expression of one step in one field is checked against. */
interface ExpressionScope {
  stepId: string;
  field: ExpressionField;
  /** The variables in scope, typing only the given steps of those visible (all when undefined). */
  variablesFor: (steps?: ReadonlySet<string>) => CelVariables;
  /** Whether `item` is in scope (a `foreach` step, outside its `foreach` field). */
  hasItem: boolean;
  upstream: ReadonlySet<string>;
  /** The step's own declared inputs (inside `run:`). */
  inputs?: Readonly<Record<string, unknown>>;
}

class Validator {
  readonly drafts: IssueDraft[] = [];
  private readonly registry: StepRegistry;
  private readonly params: Record<string, ParamSpec> = {};
  /** Parameter names, valid or not: a reference to an invalid parameter is not also reported as unknown. */
  private readonly paramNames = new Set<string>();
  private readonly steps: Record<string, StepSpec> = {};
  /** Step ids, valid or not. */
  private readonly stepIds = new Set<string>();
  private readonly ports = new Map<string, StepPorts>();
  /** The needs of steps that failed the schema (so they are in the graph too). */
  private readonly brokenStepNeeds: Record<string, string[]> = {};
  private paramTypes: Record<string, CelType> = {};
  private defaults: DefaultsSpec | undefined;
  /** The sub-pipelines of valid `pipeline` steps, by the path as written. */
  private readonly subPipelines = new Map<string, PipelineSpec>();
  /** Valid declared pipeline outputs. */
  private readonly outputs: Record<string, PipelineOutputSpec> = {};

  constructor(private readonly options: ValidateOptions) {
    this.registry = options.registry;
  }

  private report(draft: IssueDraft): void {
    this.drafts.push(draft);
  }

  run(input: unknown): Omit<ValidPipeline, 'ok' | 'issues'> | undefined {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      this.report({
        code: 'INVALID_TYPE',
        message: `a pipeline spec is a mapping, got ${input === null ? 'null' : Array.isArray(input) ? 'a list' : typeof input}`,
        hint: 'start the file with `apiVersion: mloe.dev/v1`, `kind: Pipeline`, `metadata:` and `steps:`',
        path: [],
      });
      return undefined;
    }
    const shell = pipelineShellSchema.safeParse(input, { reportInput: true });
    if (!shell.success) this.drafts.push(...zodIssueDrafts(shell.error, [], pipelineShellSchema));
    const raw = input as Record<string, unknown>;

    const defaults = defaultsSchema.safeParse(raw.defaults);
    this.defaults = defaults.success ? defaults.data : undefined;
    this.checkParams(raw.params);
    this.checkSteps(raw.steps);
    const defaultRetry = shell.success ? shell.data.defaults?.retry : undefined;
    if (defaultRetry !== undefined) this.checkRetry(defaultRetry, ['defaults', 'retry']);
    this.checkDefaultHeartbeat();

    const graph = buildGraph(this.graphSteps());
    for (const cycle of findCycles(graph)) this.reportCycle(cycle);
    const context: ScopeContext = {
      spec: { params: this.params, steps: this.steps },
      registry: this.registry,
      graph,
      pipelines: (reference) => this.subPipelines.get(reference),
    };
    for (const [id, step] of Object.entries(this.steps)) this.checkStepBindings(id, step, context);
    this.checkOutputs(raw.outputs, context);

    const params = this.checkParamValues();
    if (this.drafts.length > 0 || !shell.success) return undefined;
    const { params: declared, steps: _steps, outputs: declaredOutputs, ...rest } = shell.data;
    const spec: PipelineSpec = {
      ...rest,
      ...(declared === undefined ? {} : { params: this.params }),
      steps: this.steps,
      ...(declaredOutputs === undefined ? {} : { outputs: this.outputs }),
    };
    return { spec, graph, order: topologicalOrder(graph), ...(params === undefined ? {} : { params }) };
  }

  /** Every step with its needs, in declaration order, broken steps included. */
  private graphSteps(): Record<string, { needs?: readonly string[] | undefined }> {
    const steps: Record<string, { needs?: readonly string[] | undefined }> = {};
    for (const id of this.stepIds) steps[id] = this.steps[id] ?? { needs: this.brokenStepNeeds[id] };
    return steps;
  }

  // ---------------------------------------------------------------- parameters

  private checkParams(raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return; // the shell schema reported it
    for (const [name, value] of Object.entries(raw)) {
      const path = ['params', name];
      this.paramNames.add(name);
      this.checkIdentifier(name, path, 'parameter');
      const parsed = paramSchema.safeParse(value, { reportInput: true });
      if (!parsed.success) {
        this.drafts.push(...zodIssueDrafts(parsed.error, path, paramSchema));
        continue;
      }
      if (this.checkParamDeclaration(parsed.data, path)) this.params[name] = parsed.data;
    }
    const types = paramsType({ params: this.params });
    for (const name of this.paramNames) types[name] ??= 'dyn';
    this.paramTypes = types;
  }

  /** Checks the type-specific fields of a declaration; true when it is usable. */
  private checkParamDeclaration(param: ParamSpec, path: PathSegment[]): boolean {
    const before = this.drafts.length;
    const misplaced = (field: keyof ParamSpec, types: string): void => {
      if (param[field] === undefined || types.split(' and ').includes(param.type)) return;
      this.report({
        code: 'INVALID_PARAM',
        message: `'${field}' applies only to ${types} parameters, and this one is ${param.type}`,
        hint: `remove '${field}', or change the type`,
        path: [...path, field],
        at: 'key',
      });
    };
    misplaced('values', 'enum');
    misplaced('items', 'list');
    misplaced('minimum', 'number and integer');
    misplaced('maximum', 'number and integer');
    if (param.type === 'enum') {
      if (param.values === undefined) {
        this.report({
          code: 'INVALID_PARAM',
          message: 'an enum parameter needs its allowed values',
          hint: 'add values: [a, b, c]',
          path: [...path, 'type'],
        });
      } else {
        const seen = new Set<string>();
        param.values.forEach((value, index) => {
          if (seen.has(value)) {
            this.report({
              code: 'INVALID_PARAM',
              message: `'${value}' is listed twice in values`,
              hint: 'remove the repeated value',
              path: [...path, 'values', index],
            });
          }
          seen.add(value);
        });
      }
    }
    if (param.minimum !== undefined && param.maximum !== undefined && param.minimum > param.maximum) {
      this.report({
        code: 'INVALID_PARAM',
        message: `minimum ${param.minimum} is above maximum ${param.maximum}`,
        hint: 'swap them, or fix one',
        path: [...path, 'minimum'],
      });
    }
    if (param.required === true && param.default !== undefined) {
      this.report({
        code: 'INVALID_PARAM',
        message: 'a parameter with a default is not required',
        hint: "remove 'required: true' or the default",
        path: [...path, 'required'],
      });
    }
    if (param.required === false && param.default === undefined) {
      this.report({
        code: 'INVALID_PARAM',
        message: 'an optional parameter needs a default, so expressions always have a value to read',
        hint: "add a default, or remove 'required: false'",
        path: [...path, 'required'],
      });
    }
    if (param.default !== undefined && this.drafts.length === before) {
      const problem = paramValueProblem(param, param.default);
      if (problem !== undefined) {
        this.report({
          code: 'INVALID_PARAM',
          message: `default: ${problem}`,
          hint:
            param.type === 'enum'
              ? `give a default from values: ${(param.values ?? []).join(', ')}`
              : `give a default of type ${describePortType({ type: param.type, items: param.items })}`,
          path: [...path, 'default'],
        });
      }
    }
    return this.drafts.length === before;
  }

  /** With values supplied: checks them and the required parameters; returns the resolved values. */
  private checkParamValues(): Record<string, JsonValue> | undefined {
    const supplied = this.options.params;
    if (supplied === undefined) return undefined;
    for (const [name, value] of Object.entries(supplied)) {
      const param = this.params[name];
      if (param === undefined) {
        if (this.paramNames.has(name)) continue;
        this.report({
          code: 'UNKNOWN_PARAM_VALUE',
          message: `a value was given for '${name}', which the pipeline does not declare`,
          hint: suggest(
            name,
            [...this.paramNames],
            `declared parameters: ${[...this.paramNames].join(', ') || 'none'}`,
          ),
          path: ['params', name],
          at: 'none',
        });
        continue;
      }
      const problem = paramValueProblem(param, value);
      if (problem !== undefined) {
        this.report({
          code: 'PARAM_VALUE_INVALID',
          message: `value of parameter '${name}': ${problem}`,
          hint: `pass ${describeParam(param)}`,
          path: ['params', name],
          at: 'none',
        });
      }
    }
    for (const [name, param] of Object.entries(this.params)) {
      if (isParamRequired(param) && !Object.prototype.hasOwnProperty.call(supplied, name)) {
        this.report({
          code: 'PARAM_REQUIRED',
          message: `parameter '${name}' is required and has no value`,
          hint: `pass it (e.g. --param ${name}=<${param.type}>), or give it a default`,
          path: ['params', name],
          at: 'key',
        });
      }
    }
    return resolveParamValues(this.params, supplied);
  }

  // ---------------------------------------------------------------- steps

  private checkSteps(raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return; // the shell schema reported it
    const entries = Object.entries(raw);
    if (entries.length === 0) {
      this.report({
        code: 'MISSING_FIELD',
        message: 'the pipeline has no steps',
        hint: 'add at least one step under steps:, e.g. `train: { uses: train@1 }`',
        path: ['steps'],
      });
    }
    for (const [id] of entries) this.stepIds.add(id);
    for (const [id, value] of entries) {
      const path = ['steps', id];
      this.checkIdentifier(id, path, 'step id');
      const parsed = stepSchema.safeParse(value, { reportInput: true });
      if (!parsed.success) {
        this.drafts.push(...zodIssueDrafts(parsed.error, path, stepSchema));
        // Keep its needs in the graph, so steps after it still see the steps before it.
        const needs = (value as { needs?: unknown } | null)?.needs;
        if (Array.isArray(needs)) this.brokenStepNeeds[id] = needs.filter((need) => typeof need === 'string');
        continue;
      }
      const step = parsed.data;
      this.steps[id] = step;
      this.checkStepShape(id, step, path);
    }
  }

  /** Checks what one step says about itself: its kind, type, ports, needs and policies. */
  private checkStepShape(id: string, step: StepSpec, path: PathSegment[]): void {
    const kinds = (['uses', 'run', 'pipeline'] as const).filter((kind) => step[kind] !== undefined);
    if (kinds.length !== 1) {
      this.report({
        code: 'INVALID_STEP',
        message:
          kinds.length === 0
            ? `step '${id}' has none of 'uses', 'run' and 'pipeline'`
            : `step '${id}' has ${kinds.map((kind) => `'${kind}'`).join(' and ')}; a step is exactly one kind`,
        hint: "give a step exactly one of 'uses: <registered step>', 'run: { command: [...] }' and 'pipeline: ./file.yaml'",
        path: kinds.length === 0 ? path : [...path, kinds[1] ?? kinds[0] ?? 'uses'],
        at: 'key',
      });
    }
    if (step.pipeline !== undefined && kinds.length === 1) {
      this.checkPipelineStep(id, step, step.pipeline, path);
    } else if (step.uses !== undefined) {
      const resolved = this.registry.resolve(step.uses);
      if (resolved.ok) {
        this.ports.set(id, { inputs: resolved.descriptor.inputs, outputs: resolved.descriptor.outputs });
      } else {
        this.report({ code: resolved.code, message: resolved.message, hint: resolved.hint, path: [...path, 'uses'] });
      }
      for (const field of ['inputs', 'outputs'] as const) {
        if (step[field] === undefined) continue;
        this.report({
          code: 'INVALID_STEP',
          message: `a 'uses' step takes its ${field} from its registration; they cannot be declared here`,
          hint: field === 'inputs' ? `remove '${field}' and bind values with 'with'` : `remove '${field}'`,
          path: [...path, field],
          at: 'key',
        });
      }
    } else if (step.run !== undefined) {
      this.checkPorts(step, path);
      this.ports.set(id, { inputs: step.inputs ?? {}, outputs: step.outputs ?? {} });
    }

    const seen = new Set<string>();
    (step.needs ?? []).forEach((need, index) => {
      const needPath = [...path, 'needs', index];
      if (seen.has(need)) {
        this.report({
          code: 'DUPLICATE_NEED',
          message: `'${need}' is listed twice in needs`,
          hint: 'remove the repeated entry',
          path: needPath,
        });
      } else if (!this.stepIds.has(need)) {
        const others = [...this.stepIds].filter((other) => other !== id);
        this.report({
          code: 'UNKNOWN_NEED',
          message: `step '${id}' needs '${need}', which is not a step of this pipeline`,
          hint: suggest(need, others, `steps: ${others.join(', ') || 'none other'}`),
          path: needPath,
        });
      }
      seen.add(need);
    });

    if (step.retry !== undefined) this.checkRetry(step.retry, [...path, 'retry']);
    if (step.pipeline === undefined) this.checkHeartbeat(step, path);
    if (step.maxParallel !== undefined && step.foreach === undefined) {
      this.report({
        code: 'INVALID_STEP',
        message: "'maxParallel' limits the iterations of a 'foreach' step, and this step has no foreach",
        hint: "remove 'maxParallel', or add 'foreach'",
        path: [...path, 'maxParallel'],
        at: 'key',
      });
    }
  }

  /** A `pipeline` step: its file resolves to a valid sub-pipeline, and it sets nothing only activities have. */
  private checkPipelineStep(id: string, step: StepSpec, reference: string, path: PathSegment[]): void {
    for (const [field, hint] of NOT_ON_PIPELINE_STEPS) {
      if (step[field] === undefined) continue;
      this.report({
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
    const resolver = this.options.pipelines;
    if (resolver === undefined) return;
    const resolved = resolver(reference);
    if (!resolved.ok) {
      this.report({
        code: resolved.code,
        message: `step '${id}': ${resolved.message}`,
        hint: resolved.hint,
        path: [...path, 'pipeline'],
      });
      return;
    }
    this.subPipelines.set(reference, resolved.spec);
    this.ports.set(id, pipelinePorts(resolved.spec));
  }

  /** The step's heartbeat timeout (its own or the default) is shorter than its timeout (its own or the default). */
  private checkHeartbeat(step: StepSpec, path: PathSegment[]): void {
    const heartbeat = step.heartbeatTimeout ?? this.defaults?.heartbeatTimeout;
    if (heartbeat === undefined) return;
    // Both from defaults: reported once, at defaults (checkDefaultHeartbeat).
    if (step.heartbeatTimeout === undefined && step.timeout === undefined) return;
    const timeout = step.timeout ?? this.defaults?.timeout ?? DEFAULT_STEP_TIMEOUT;
    const heartbeatMs = parseDuration(heartbeat);
    const timeoutMs = parseDuration(timeout);
    if (heartbeatMs === undefined || timeoutMs === undefined || heartbeatMs < timeoutMs) return;
    const own = step.heartbeatTimeout !== undefined;
    this.report({
      code: 'INVALID_HEARTBEAT',
      message: own
        ? `heartbeatTimeout ${heartbeat} is not shorter than the step's timeout ${timeout}${step.timeout === undefined ? ` (${this.defaults?.timeout === undefined ? 'the default' : 'from defaults'})` : ''}, so it could never fire`
        : `timeout ${timeout} is not longer than the heartbeatTimeout ${heartbeat} from defaults, so that could never fire`,
      hint: own
        ? `make heartbeatTimeout shorter than ${timeout} (e.g. 30s), or remove it`
        : `give this step a shorter heartbeatTimeout of its own, or a longer timeout`,
      path: [...path, own ? 'heartbeatTimeout' : 'timeout'],
    });
  }

  /** `defaults.heartbeatTimeout` is shorter than `defaults.timeout` (or the built-in timeout). */
  private checkDefaultHeartbeat(): void {
    const heartbeat = this.defaults?.heartbeatTimeout;
    if (heartbeat === undefined) return;
    const timeout = this.defaults?.timeout ?? DEFAULT_STEP_TIMEOUT;
    const heartbeatMs = parseDuration(heartbeat);
    const timeoutMs = parseDuration(timeout);
    if (heartbeatMs === undefined || timeoutMs === undefined || heartbeatMs < timeoutMs) return;
    this.report({
      code: 'INVALID_HEARTBEAT',
      message: `defaults.heartbeatTimeout ${heartbeat} is not shorter than ${this.defaults?.timeout === undefined ? `the default timeout ${timeout}` : `defaults.timeout ${timeout}`}, so it could never fire`,
      hint: `make heartbeatTimeout shorter than ${timeout} (e.g. 30s), or remove it`,
      path: ['defaults', 'heartbeatTimeout'],
    });
  }

  /** Declared ports of a `run` step: names, `items` only on lists, defaults of the port's type. */
  private checkPorts(step: StepSpec, path: PathSegment[]): void {
    for (const field of ['inputs', 'outputs'] as const) {
      for (const [name, port] of Object.entries(step[field] ?? {})) {
        const portPath = [...path, field, name];
        this.checkIdentifier(name, portPath, field === 'inputs' ? 'input name' : 'output name');
        if (port.items !== undefined && port.type !== 'list') {
          this.report({
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
        this.report({
          code: 'INVALID_VALUE',
          message: `input '${name}' has a default, so it is not required`,
          hint: "remove 'required: true' or the default",
          path: [...portPath, 'required'],
        });
      }
      if (port.default !== undefined) {
        const problem = literalMismatch(port.default, port);
        if (problem !== undefined) {
          this.report({
            code: 'TYPE_MISMATCH',
            message: `default of input '${name}': ${problem}`,
            hint: `give a default of type ${describePortType(port)}`,
            path: [...portPath, 'default'],
          });
        }
      }
    }
  }

  private checkRetry(retry: RetrySpec, path: PathSegment[]): void {
    if (retry.initialInterval === undefined || retry.maximumInterval === undefined) return;
    const initial = parseDuration(retry.initialInterval);
    const maximum = parseDuration(retry.maximumInterval);
    if (initial !== undefined && maximum !== undefined && maximum < initial) {
      this.report({
        code: 'INVALID_RETRY',
        message: `maximumInterval ${retry.maximumInterval} is shorter than initialInterval ${retry.initialInterval}`,
        hint: 'make maximumInterval at least initialInterval',
        path: [...path, 'maximumInterval'],
      });
    }
  }

  private checkIdentifier(name: string, path: PathSegment[], what: string): void {
    if (IDENTIFIER_PATTERN.test(name)) return;
    const fixed = name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_');
    this.report({
      code: 'INVALID_ID',
      message: `'${name}' is not a valid ${what}: expressions could not name it`,
      hint: `use letters, digits and underscores, not starting with a digit, e.g. '${fixed}'`,
      path,
      at: 'key',
    });
  }

  private reportCycle(cycle: string[]): void {
    const [first] = cycle;
    if (first === undefined) return;
    const next = cycle[1] ?? first;
    const needIndex = (this.steps[first]?.needs ?? []).indexOf(next);
    this.report({
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

  // ---------------------------------------------------------------- bindings and expressions

  private checkStepBindings(id: string, step: StepSpec, context: ScopeContext): void {
    const path: PathSegment[] = ['steps', id];
    const ports = this.ports.get(id);
    const upstream = upstreamOf(context.graph, id);
    const itemType = step.foreach === undefined ? undefined : foreachItemType(context, id, this.paramTypes);
    const scopeFor = (field: ExpressionField): ExpressionScope => ({
      stepId: id,
      field,
      variablesFor: (steps) =>
        stepVariables(context, id, field, {
          params: this.paramTypes,
          ...(steps === undefined ? {} : { steps }),
          ...(itemType === undefined ? {} : { item: itemType }),
        }),
      hasItem: field !== 'foreach' && itemType !== undefined,
      upstream,
      ...(field === 'run' ? { inputs: step.inputs ?? {} } : {}),
    });

    if (step.foreach !== undefined) this.checkForeach(step.foreach, [...path, 'foreach'], scopeFor('foreach'));
    if (typeof step.when === 'string') this.checkCondition(step.when, [...path, 'when'], scopeFor('when'));

    const withScope = scopeFor('with');
    if (ports !== undefined) {
      for (const [name, value] of Object.entries(step.with ?? {})) {
        const port = ports.inputs[name];
        const sub = step.pipeline === undefined ? undefined : this.subPipelines.get(step.pipeline);
        if (port === undefined) {
          const names = Object.keys(ports.inputs);
          const what = sub === undefined ? 'input' : 'parameter';
          this.report({
            code: 'UNKNOWN_INPUT',
            message:
              sub === undefined
                ? `step '${id}' has no input '${name}'`
                : `pipeline ${step.pipeline ?? ''} (${sub.metadata.name}) has no parameter '${name}'`,
            hint: suggest(
              name,
              names,
              names.length === 0 ? `this step takes no ${what}s` : `${what}s: ${names.join(', ')}`,
            ),
            path: [...path, 'with', name],
            at: 'key',
          });
          this.checkTemplates(value, [...path, 'with', name], withScope);
          continue;
        }
        const what = sub === undefined ? `input '${name}' of step '${id}'` : `parameter '${name}' of ${step.pipeline}`;
        const before = this.drafts.length;
        this.checkBinding(value, port, [...path, 'with', name], withScope, what, name);
        const param = sub?.params?.[name];
        if (param !== undefined && this.drafts.length === before && !containsTemplate(value)) {
          // A literal for a sub-pipeline's parameter: enum values and bounds too, as for a run's --param.
          const problem = paramValueProblem(param, value);
          if (problem !== undefined) {
            this.report({
              code: 'PARAM_VALUE_INVALID',
              message: `${what}: ${problem}`,
              hint: `pass ${describeParam(param)}`,
              path: [...path, 'with', name],
            });
          }
        }
      }
      for (const [name, port] of Object.entries(ports.inputs)) {
        const required = port.required ?? port.default === undefined;
        if (required && step.with?.[name] === undefined) {
          this.report({
            code: 'MISSING_INPUT',
            message:
              step.pipeline === undefined
                ? `step '${id}' needs a value for its input '${name}' (${describePortType(port)})`
                : `step '${id}' needs a value for the required parameter '${name}' (${describePortType(port)}) of ${step.pipeline}`,
            hint: `add it under with:, e.g. '${name}: ${exampleBinding(port)}'`,
            path: step.with === undefined ? path : [...path, 'with'],
            at: 'key',
          });
        }
      }
    } else {
      // The step type is unknown (reported): still check the expressions in its values.
      for (const [name, value] of Object.entries(step.with ?? {})) {
        this.checkTemplates(value, [...path, 'with', name], withScope);
      }
    }

    if (step.run !== undefined) {
      const runScope = scopeFor('run');
      const runPath = [...path, 'run'];
      step.run.command.forEach((argument, index) => {
        if (typeof argument === 'string') this.checkInterpolation(argument, [...runPath, 'command', index], runScope);
      });
      for (const [name, value] of Object.entries(step.run.env ?? {})) {
        if (typeof value === 'string') this.checkInterpolation(value, [...runPath, 'env', name], runScope);
      }
      if (step.run.image !== undefined) this.checkInterpolation(step.run.image, [...runPath, 'image'], runScope);
      if (step.run.workingDir !== undefined) {
        this.checkInterpolation(step.run.workingDir, [...runPath, 'workingDir'], runScope);
      }
    }
  }

  /**
   * The pipeline's own `outputs:`: each a typed port whose `value` reads the outputs of any step (all of them have
   * run by then), type-checked like a binding to an input of that type.
   */
  private checkOutputs(raw: unknown, context: ScopeContext): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return; // the shell schema reported it
    const all = new Set(this.stepIds);
    const scope: ExpressionScope = {
      stepId: OUTPUTS_SCOPE,
      field: 'with',
      variablesFor: (steps) =>
        pipelineOutputVariables(context, { params: this.paramTypes, ...(steps === undefined ? {} : { steps }) }),
      hasItem: false,
      upstream: all,
    };
    for (const [name, value] of Object.entries(raw)) {
      const path: PathSegment[] = ['outputs', name];
      this.checkIdentifier(name, path, 'output name');
      const parsed = pipelineOutputSchema.safeParse(value, { reportInput: true });
      if (!parsed.success) {
        this.drafts.push(...zodIssueDrafts(parsed.error, path, pipelineOutputSchema));
        continue;
      }
      const output = parsed.data;
      if (output.items !== undefined && output.type !== 'list') {
        this.report({
          code: 'INVALID_VALUE',
          message: `'items' applies only to lists, and output '${name}' is ${withArticle(output.type)}`,
          hint: "remove 'items', or make the type 'list'",
          path: [...path, 'items'],
          at: 'key',
        });
        continue;
      }
      const before = this.drafts.length;
      this.checkBinding(output.value, output, [...path, 'value'], scope, `output '${name}' of the pipeline`, name);
      if (this.drafts.length === before) this.outputs[name] = output;
    }
  }

  /** Checks a value bound to a typed port: literals by their type, expressions by their CEL type. */
  private checkBinding(
    value: JsonValue,
    port: PortType,
    path: PathSegment[],
    scope: ExpressionScope,
    what: string,
    name?: string,
  ): void {
    if (typeof value === 'string' && hasTemplate(value)) {
      const parsed = parseTemplate(value);
      if (!parsed.ok) {
        this.report({
          code: 'EXPRESSION_SYNTAX',
          message: parsed.message,
          hint: parsed.hint,
          path,
          index: parsed.index,
        });
        return;
      }
      const [expression] = parsed.expressions;
      if (!parsed.whole || expression === undefined) {
        const checked = parsed.expressions.map((e) => this.checkExpression(e.source, path, e.sourceOffset, scope));
        const ok = checked.every((info) => info !== undefined);
        if (ok && !isAssignable('string', port)) {
          this.report({
            code: 'TYPE_MISMATCH',
            message: `${what} is ${describePortType(port)}, but text with \${{ }} inside is a string`,
            hint: 'write the whole value as one ${{ }} expression',
            path,
          });
        }
        return;
      }
      const info = this.checkExpression(expression.source, path, expression.sourceOffset, scope);
      if (info === undefined) return;
      this.checkExpressionType(info, port, path, startOf(expression.source, expression.sourceOffset), what, name);
      return;
    }
    if (Array.isArray(value) && port.type === 'list') {
      const items: PortType = { type: port.items ?? 'any' };
      value.forEach((item, index) => this.checkBinding(item, items, [...path, index], scope, `an item of ${what}`));
      return;
    }
    const problem = literalMismatch(value, port);
    if (problem !== undefined) {
      this.report({
        code: 'TYPE_MISMATCH',
        message: `${what}: ${problem}`,
        hint: isArtifactType(port.type)
          ? `bind an output of type ${port.type}: ${this.exampleOutput(port, [...scope.upstream], name)}`
          : `give a value of type ${describePortType(port)}`,
        path,
      });
      return;
    }
    this.checkTemplates(value, path, scope);
  }

  /**
   * An example binding of the wanted type for hints: an output of one of `candidates` (steps before this one),
   * preferring an output with the input's own name; a placeholder when there is none.
   */
  private exampleOutput(port: PortType, candidates: readonly string[], name: string | undefined): string {
    const matches: string[] = [];
    for (const id of candidates) {
      if (this.steps[id]?.foreach !== undefined) continue;
      for (const [output, produced] of Object.entries(this.ports.get(id)?.outputs ?? {})) {
        if (!isPortAssignable(produced, port)) continue;
        const example = outputReferenceText({ step: id, output });
        if (output === name) return example;
        matches.push(example);
      }
    }
    return matches[0] ?? '${{ steps.<id>.outputs.<name> }}';
  }

  /** Checks an expression's type against the port it feeds. Artifacts must be passed by reference. */
  private checkExpressionType(
    info: ExpressionInfo,
    port: PortType,
    path: PathSegment[],
    index: number,
    what: string,
    name: string | undefined,
  ): void {
    const { output } = info;
    if (output !== undefined) {
      const produced: PortType = output.foreach ? { type: 'list', items: toItemType(output.port) } : output.port;
      if (isPortAssignable(produced, port)) return;
      // An artifact output read into a string input is fine when CEL says so (e.g. never); report otherwise.
      this.report({
        code: 'TYPE_MISMATCH',
        message: `${what} is ${describePortType(port)}, but steps.${output.step}.outputs.${output.name} is ${describePortType(produced)}`,
        hint: `bind an output of type ${describePortType(port)}, e.g. ${this.exampleOutput(port, [output.step, ...[...this.stepIds].filter((id) => id !== output.step)], name)}`,
        path,
        index,
      });
      return;
    }
    if (isArtifactType(port.type) && port.type !== 'metrics' && !info.type.startsWith('mloe.') && info.type !== 'dyn') {
      this.report({
        code: 'TYPE_MISMATCH',
        message: `${what} is a ${port.type} artifact, but the expression gives ${describeCelType(info.type)}`,
        hint: `pass the artifact by reference: \${{ steps.<id>.outputs.<name> }} of an output of type ${port.type}`,
        path,
        index,
      });
      return;
    }
    if (!isAssignable(info.type, port)) {
      this.report({
        code: 'TYPE_MISMATCH',
        message: `${what} is ${describePortType(port)}, but the expression gives ${describeCelType(info.type)}`,
        hint:
          port.type === 'number' || port.type === 'integer'
            ? `give ${withArticle(port.type)}; convert with ${port.type === 'integer' ? 'int(...)' : 'double(...)'} if needed`
            : `give a value of type ${describePortType(port)}`,
        path,
        index,
      });
    }
  }

  /** Checks the expressions inside a value whose type is free (mappings under an `object` input, ...). */
  private checkTemplates(value: JsonValue, path: PathSegment[], scope: ExpressionScope): void {
    if (typeof value === 'string') {
      if (hasTemplate(value)) this.checkInterpolation(value, path, scope);
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => this.checkTemplates(item, [...path, index], scope));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) this.checkTemplates(item, [...path, key], scope);
    }
  }

  /** Checks a string that may hold templates anywhere (command arguments, env values). */
  private checkInterpolation(text: string, path: PathSegment[], scope: ExpressionScope): void {
    if (!hasTemplate(text)) return;
    const parsed = parseTemplate(text);
    if (!parsed.ok) {
      this.report({ code: 'EXPRESSION_SYNTAX', message: parsed.message, hint: parsed.hint, path, index: parsed.index });
      return;
    }
    for (const expression of parsed.expressions) {
      this.checkExpression(expression.source, path, expression.sourceOffset, scope);
    }
  }

  private checkCondition(when: string, path: PathSegment[], scope: ExpressionScope): void {
    const condition = conditionSource(when);
    if (!condition.ok) {
      this.report({
        code: 'EXPRESSION_SYNTAX',
        message: condition.message,
        hint: condition.hint,
        path,
        index: condition.index,
      });
      return;
    }
    const info = this.checkExpression(condition.source, path, condition.offset, scope);
    if (info !== undefined && info.type !== 'bool' && info.type !== 'dyn') {
      this.report({
        code: 'EXPRESSION_TYPE',
        message: `a condition must be true or false, but this one gives ${describeCelType(info.type)}`,
        hint: 'compare the value, e.g. ${{ steps.evaluate.outputs.metrics.r2 > 0.9 }}',
        path,
        index: startOf(condition.source, condition.offset),
      });
    }
  }

  private checkForeach(foreach: string | JsonValue[], path: PathSegment[], scope: ExpressionScope): void {
    if (Array.isArray(foreach)) {
      foreach.forEach((item, index) => this.checkTemplates(item, [...path, index], scope));
      return;
    }
    const parsed = parseTemplate(foreach);
    if (!parsed.ok) {
      this.report({ code: 'EXPRESSION_SYNTAX', message: parsed.message, hint: parsed.hint, path, index: parsed.index });
      return;
    }
    const [expression] = parsed.expressions;
    if (!parsed.whole || expression === undefined) {
      this.report({
        code: 'INVALID_TYPE',
        message: 'foreach takes a list, or one ${{ }} expression that gives a list',
        hint: "write a list ([1, 2, 3]) or an expression, e.g. '${{ params.folds }}'",
        path,
      });
      return;
    }
    const info = this.checkExpression(expression.source, path, expression.sourceOffset, scope);
    if (info !== undefined && !info.type.startsWith('list') && info.type !== 'dyn') {
      this.report({
        code: 'EXPRESSION_TYPE',
        message: `foreach needs a list, but the expression gives ${describeCelType(info.type)}`,
        hint: "iterate over a list parameter or output, e.g. '${{ params.folds }}'",
        path,
        index: startOf(expression.source, expression.sourceOffset),
      });
    }
  }

  /**
   * Checks one CEL expression: syntax, the references it makes (unknown parameters, steps, outputs, steps that do
   * not run before this one), then its types. Returns its type, or undefined after reporting a problem.
   */
  private checkExpression(
    source: string,
    path: PathSegment[],
    offset: number,
    scope: ExpressionScope,
  ): ExpressionInfo | undefined {
    const parsed = parseCel(source);
    if (!parsed.ok) {
      this.report({
        code: 'EXPRESSION_SYNTAX',
        message: `invalid expression: ${parsed.problem.message}`,
        hint: "check the CEL syntax: strings in quotes, 'a && b' for and, 'x ? y : z' for if-then-else",
        path,
        index: offset + parsed.problem.index,
      });
      return undefined;
    }
    const references = findReferences(parsed.ast, EXPRESSION_ROOTS);
    const before = this.drafts.length;
    let suppressed = false;
    let output: ExpressionInfo['output'];
    for (const reference of references) {
      const result = this.checkReference(reference, path, offset, scope);
      if (result === 'unknown') suppressed = true;
      else if (result !== undefined && references.length === 1) output = result;
    }
    if (this.drafts.length > before) return undefined;
    if (suppressed) return { type: 'dyn' };

    // Type only the steps the expression reads: environments are built per expression, and small ones are cheap.
    const stepReferences = references.filter((reference) => reference.root === 'steps');
    const readsAllSteps = stepReferences.some((reference) => reference.fields.length === 0);
    const read = new Set(stepReferences.flatMap((reference) => reference.fields[0]?.name ?? []));
    const variables = scope.variablesFor(readsAllSteps ? undefined : read);
    const checked = checkCel(source, variables);
    if (!checked.ok) {
      const { problem } = checked;
      const names = Object.keys(variables).join(', ');
      this.report({
        code:
          problem.kind === 'syntax'
            ? 'EXPRESSION_SYNTAX'
            : problem.kind === 'unknown-variable'
              ? 'UNKNOWN_VARIABLE'
              : 'EXPRESSION_TYPE',
        message: `invalid expression: ${problem.message}`,
        hint:
          problem.kind === 'unknown-variable'
            ? `variables here: ${names}`
            : /\b(int|double)\b.*\b(int|double)\b/.test(problem.message)
              ? INT_DOUBLE_HINT
              : 'check the types of the operands and functions',
        path,
        index: offset + problem.index,
      });
      return undefined;
    }
    // Only an expression that is exactly `steps.X.outputs.Y` passes an output (an artifact) by reference.
    const whole = outputReferenceOfAst(parsed.ast) !== undefined;
    return { type: checked.type, ...(whole && output !== undefined ? { output } : {}) };
  }

  /**
   * Checks one reference. Returns the output it names when it is `steps.X.outputs.Y`, 'unknown' when it reads a
   * step or parameter that is itself invalid (already reported; its types are unknown), else undefined.
   */
  private checkReference(
    reference: CelReference,
    path: PathSegment[],
    offset: number,
    scope: ExpressionScope,
  ): ExpressionInfo['output'] | 'unknown' | undefined {
    const [first, second, third] = reference.fields;
    const at = (index: number): Pick<IssueDraft, 'path' | 'index'> => ({ path, index: offset + index });
    switch (reference.root) {
      case 'params': {
        if (first === undefined || this.params[first.name] !== undefined) return undefined;
        if (this.paramNames.has(first.name)) return 'unknown';
        const names = [...this.paramNames];
        this.report({
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
        if (!this.stepIds.has(id)) {
          this.report({
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
          this.report({
            code: 'NOT_UPSTREAM',
            message: `step '${id}' reads its own outputs, which do not exist before it runs`,
            hint: 'read outputs of the steps it needs instead',
            ...at(first.index),
          });
          return undefined;
        }
        if (!scope.upstream.has(id)) {
          const needs = this.steps[scope.stepId]?.needs ?? [];
          this.report({
            code: 'NOT_UPSTREAM',
            message: `step '${scope.stepId}' reads steps.${id}, but '${id}' is not among its needs (directly or transitively), so it may not have run yet`,
            hint: `add it: needs: [${[...needs, id].join(', ')}]`,
            ...at(first.index),
          });
          return undefined;
        }
        const ports = this.ports.get(id);
        if (ports === undefined || this.steps[id] === undefined) return 'unknown';
        if (second === undefined) return undefined;
        if (second.name !== 'outputs') {
          this.report({
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
          this.report({
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
        return { step: id, name: third.name, port, foreach: this.steps[id]?.foreach !== undefined };
      }
      case 'inputs': {
        if (scope.inputs === undefined) {
          this.report({
            code: 'UNKNOWN_VARIABLE',
            message: "'inputs' can only be read inside run: of a step",
            hint: 'read the value the input is bound from (a parameter or an output) instead',
            ...at(reference.index),
          });
          return undefined;
        }
        if (first === undefined || scope.inputs[first.name] !== undefined) return undefined;
        const names = Object.keys(scope.inputs);
        this.report({
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
        this.report({
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
}

/** Whether a value holds a `${{ }}` template anywhere. */
function containsTemplate(value: JsonValue): boolean {
  if (typeof value === 'string') return hasTemplate(value);
  if (Array.isArray(value)) return value.some(containsTemplate);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsTemplate);
  return false;
}

/** The offset of an expression's first non-blank character, where errors about the whole expression point. */
function startOf(source: string, offset: number): number {
  return offset + (source.length - source.trimStart().length);
}

/** What a parameter accepts, in words: `a number from 0 to 1`, `one of ols, ridge`. */
function describeParam(param: ParamSpec): string {
  switch (param.type) {
    case 'enum':
      return `one of ${(param.values ?? []).join(', ')}`;
    case 'list':
      return `a list${param.items === undefined ? '' : ` of ${param.items}`} (comma-separated or JSON)`;
    case 'number':
    case 'integer': {
      const { minimum, maximum } = param;
      const range =
        minimum !== undefined && maximum !== undefined
          ? ` from ${minimum} to ${maximum}`
          : minimum !== undefined
            ? ` of at least ${minimum}`
            : maximum !== undefined
              ? ` of at most ${maximum}`
              : '';
      return `${withArticle(param.type)}${range}`;
    }
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
  }
}

/** The list element type of an output port (outputs of foreach steps become lists of it). */
function toItemType(port: OutputPort): PortType['items'] {
  return port.type === 'list' ? undefined : port.type;
}

/** An example value for a missing input, for hints. */
function exampleBinding(port: PortType): string {
  switch (port.type) {
    case 'string':
      return 'text';
    case 'number':
      return '0.5';
    case 'integer':
      return '10';
    case 'boolean':
      return 'true';
    case 'list':
      return '[a, b]';
    case 'object':
      return '{ key: value }';
    default:
      return '${{ steps.<id>.outputs.<name> }}';
  }
}
