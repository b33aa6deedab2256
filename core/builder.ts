/**
 * Code-first pipelines: a typed builder that produces the same spec object as the YAML, checked by the same
 * validator. The types track the declared parameters and steps, so `needs` and `ctx.output()` only accept steps
 * declared earlier (which also makes cycles impossible to write) and `ctx.param()` only declared parameters.
 *
 * ```ts
 * const spec = pipeline('housing-price')
 *   .param('dataPath', { type: 'string' })
 *   .step('ingest', (ctx) => ({ uses: 'ingest@1', with: { dataPath: ctx.param('dataPath') } }))
 *   .step('validate', (ctx) => ({
 *     uses: 'validate@1',
 *     needs: ['ingest'],
 *     with: { dataset: ctx.output('ingest', 'dataset'), columns: ['a', 'b'] },
 *   }))
 *   .build();
 * ```
 */
import { SpecInvalidError, type IssueDraft } from './spec/issues';
import { outputReferenceText } from './spec/output-reference';
import { createStepRegistry, type StepRegistry } from './spec/registry';
import {
  API_VERSION,
  PIPELINE_KIND,
  type DefaultsSpec,
  type ParamSpec,
  type PipelineMetadata,
  type PipelineSpec,
  type StepSpec,
} from './spec/schema';
import { validatePipeline, type ValidPipeline, type ValidationResult } from './spec/validate';
import { BUILTIN_STEPS } from './steps/builtin';

/** A step as the builder takes it: a {@link StepSpec} whose `needs` name steps declared before it. */
export type StepDefinition<S extends string> = Omit<StepSpec, 'needs'> & { needs?: readonly S[] };

/** Helpers for writing `${{ }}` expressions, typed by what the pipeline declares so far. */
export interface StepContext<P extends string, S extends string> {
  /** `${{ params.<name> }}` */
  param(name: P): string;
  /** `${{ steps.<step>.outputs.<name> }}` */
  output(step: S, name: string): string;
  /** `${{ <source> }}` for any other CEL expression. */
  expr(source: string): string;
}

/** Options of {@link PipelineBuilder.validate} and {@link PipelineBuilder.build}. */
export interface BuildOptions {
  /** The steps `uses:` may name; the built-in steps by default. */
  registry?: StepRegistry;
  /** Parameter values to check, as for a run. */
  params?: Readonly<Record<string, unknown>>;
}

/** Wraps a CEL expression as a template: `expr('params.lr * 2.0')` is `'${{ params.lr * 2.0 }}'`. */
export function expr(source: string): string {
  return `\${{ ${source} }}`;
}

interface BuilderState {
  readonly metadata: PipelineMetadata;
  readonly params: Readonly<Record<string, ParamSpec>>;
  readonly steps: Readonly<Record<string, StepSpec>>;
  readonly defaults?: DefaultsSpec;
  readonly maxParallel?: number;
  readonly continueOnFailure?: boolean;
  /** Ids declared more than once (the first declaration is kept), reported by `validate`. */
  readonly duplicates: readonly string[];
}

let defaultRegistry: StepRegistry | undefined;

/** A copy of JSON data: builders never share mutable state with their callers or with each other. */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** An immutable pipeline builder: every method returns a new builder. `P` and `S` are the parameter and step names. */
export class PipelineBuilder<P extends string = never, S extends string = never> {
  private constructor(private readonly state: BuilderState) {}

  /** Starts a pipeline (see {@link pipeline}). */
  static create(name: string, metadata: Omit<PipelineMetadata, 'name'> = {}): PipelineBuilder {
    return new PipelineBuilder({ metadata: { name, ...copy(metadata) }, params: {}, steps: {}, duplicates: [] });
  }

  private with<P2 extends string, S2 extends string>(state: Partial<BuilderState>): PipelineBuilder<P2, S2> {
    return new PipelineBuilder<P2, S2>({ ...this.state, ...state });
  }

  /** Sets the description. */
  describe(description: string): PipelineBuilder<P, S> {
    return this.with({ metadata: { ...this.state.metadata, description } });
  }

  /** Adds a label. */
  label(key: string, value: string): PipelineBuilder<P, S> {
    return this.with({ metadata: { ...this.state.metadata, labels: { ...this.state.metadata.labels, [key]: value } } });
  }

  /** Declares a parameter. */
  param<N extends string>(name: N, spec: ParamSpec): PipelineBuilder<P | N, S> {
    return this.with({ params: { ...this.state.params, [name]: copy(spec) } });
  }

  /** Sets the values every step gets unless it sets its own. */
  defaults(defaults: DefaultsSpec): PipelineBuilder<P, S> {
    return this.with({ defaults: copy(defaults) });
  }

  /** Limits how many steps run at once. */
  maxParallel(limit: number): PipelineBuilder<P, S> {
    return this.with({ maxParallel: limit });
  }

  /** Lets independent branches run on after a step fails. */
  continueOnFailure(enabled = true): PipelineBuilder<P, S> {
    return this.with({ continueOnFailure: enabled });
  }

  /**
   * Adds a step. `definition` is the step itself, or a function of a {@link StepContext} that writes expressions
   * with checked names. Declaring an id twice is reported by {@link validate} (the first declaration is kept).
   */
  step<Id extends string>(
    id: Id,
    definition: StepDefinition<S> | ((context: StepContext<P, S>) => StepDefinition<S>),
  ): PipelineBuilder<P, S | Id> {
    if (Object.prototype.hasOwnProperty.call(this.state.steps, id)) {
      return this.with({ duplicates: [...this.state.duplicates, id] });
    }
    const context: StepContext<P, S> = {
      param: (name) => expr(`params.${name}`),
      output: (step, output) => outputReferenceText({ step, output }),
      expr,
    };
    const { needs, ...rest } = typeof definition === 'function' ? definition(context) : definition;
    const step: StepSpec = copy({ ...rest, ...(needs === undefined ? {} : { needs: [...needs] }) });
    return this.with({ steps: { ...this.state.steps, [id]: step } });
  }

  /** The spec as built, not validated (a copy). */
  toSpec(): PipelineSpec {
    const { metadata, params, steps, defaults, maxParallel, continueOnFailure } = this.state;
    return copy({
      apiVersion: API_VERSION,
      kind: PIPELINE_KIND,
      metadata,
      ...(Object.keys(params).length === 0 ? {} : { params }),
      ...(defaults === undefined ? {} : { defaults }),
      ...(maxParallel === undefined ? {} : { maxParallel }),
      ...(continueOnFailure === undefined ? {} : { continueOnFailure }),
      steps,
    } satisfies PipelineSpec);
  }

  /** Validates the spec with the same rules as a YAML file, collecting every problem. */
  validate(options: BuildOptions = {}): ValidationResult {
    defaultRegistry ??= createStepRegistry(BUILTIN_STEPS);
    const priorIssues: IssueDraft[] = this.state.duplicates.map((id) => ({
      code: 'DUPLICATE_ID',
      message: `step '${id}' is declared twice`,
      hint: 'step ids must be unique: rename one of the steps',
      path: ['steps', id],
    }));
    return validatePipeline(this.toSpec(), {
      registry: options.registry ?? defaultRegistry,
      priorIssues,
      ...(options.params === undefined ? {} : { params: options.params }),
    });
  }

  /** The validated spec; throws `SPEC_INVALID` ({@link SpecInvalidError}) listing every problem. */
  build(options: BuildOptions = {}): PipelineSpec {
    return this.buildPipeline(options).spec;
  }

  /** The validated pipeline with its graph and order; throws like {@link build}. */
  buildPipeline(options: BuildOptions = {}): ValidPipeline {
    const result = this.validate(options);
    if (!result.ok) throw new SpecInvalidError(result.issues, `pipeline '${this.state.metadata.name}'`);
    return result;
  }
}

/** Starts a code-first pipeline named `name` (a DNS label, as in `metadata.name`). */
export function pipeline(name: string, metadata: Omit<PipelineMetadata, 'name'> = {}): PipelineBuilder {
  return PipelineBuilder.create(name, metadata);
}
