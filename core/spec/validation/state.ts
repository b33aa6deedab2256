/**
 * What the spec validator collects while it checks a spec, shared by its parts: the problems found so far, and the
 * declarations found usable (parameters, steps, their ports, sub-pipelines, pipeline outputs), each kept even when
 * another part of the spec is broken, so one broken step does not hide the errors of another.
 */
import type { CelType } from '../../expressions/cel';
import type { IssueDraft } from '../issues';
import type { StepRegistry } from '../registry';
import {
  IDENTIFIER_PATTERN,
  type DefaultsSpec,
  type ParamSpec,
  type PipelineOutputSpec,
  type PipelineSpec,
  type StepSpec,
} from '../schema';
import type { StepPorts } from '../scope';
import type { PathSegment, SourceMap } from '../source-map';
import type { PipelineResolution } from '../sub-pipelines';

/** Options of `validatePipeline`. */
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

/** The validator's findings so far, for one spec. */
export class ValidationState {
  /** The problems found, in the order found. */
  readonly drafts: IssueDraft[] = [];
  readonly registry: StepRegistry;
  /** Valid parameter declarations. */
  readonly params: Record<string, ParamSpec> = {};
  /** Parameter names, valid or not: a reference to an invalid parameter is not also reported as unknown. */
  readonly paramNames = new Set<string>();
  /** The CEL types of the parameters (`dyn` for invalid ones). */
  paramTypes: Record<string, CelType> = {};
  /** Steps that passed the schema. */
  readonly steps: Record<string, StepSpec> = {};
  /** Step ids, valid or not. */
  readonly stepIds = new Set<string>();
  /** The ports of steps whose type is known. */
  readonly ports = new Map<string, StepPorts>();
  /** The needs of steps that failed the schema (so they are in the graph too). */
  readonly brokenStepNeeds: Record<string, string[]> = {};
  /** `defaults`, when it passed the schema. */
  defaults: DefaultsSpec | undefined;
  /** The sub-pipelines of valid `pipeline` steps, by the path as written. */
  readonly subPipelines = new Map<string, PipelineSpec>();
  /** Valid declared pipeline outputs. */
  readonly outputs: Record<string, PipelineOutputSpec> = {};

  constructor(readonly options: ValidateOptions) {
    this.registry = options.registry;
  }

  /** Records a problem. */
  report(draft: IssueDraft): void {
    this.drafts.push(draft);
  }
}

/** A parameter, step, port or output name is an identifier expressions can name. */
export function checkIdentifier(state: ValidationState, name: string, path: PathSegment[], what: string): void {
  if (IDENTIFIER_PATTERN.test(name)) return;
  const fixed = name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_');
  state.report({
    code: 'INVALID_ID',
    message: `'${name}' is not a valid ${what}: expressions could not name it`,
    hint: `use letters, digits and underscores, not starting with a digit, e.g. '${fixed}'`,
    path,
    at: 'key',
  });
}
