/**
 * The validated pipeline as the interpreter reads it: the spec, its step graph, the registered steps, and the ports
 * of every step (from its registration, its own declaration or its sub-pipeline), resolved once when the run starts.
 */
import { ApplicationFailure } from '@temporalio/workflow';

import { MloeError } from '../core/errors';
import {
  buildGraph,
  createStepRegistry,
  downstreamOf,
  stepPorts,
  type PipelineSpec,
  type ScopeContext,
  type StepGraph,
  type StepPorts,
  type StepRegistry,
  type StepSpec,
} from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { subPipelineLookup } from './sub-pipeline';
import type { RunPipelineInput } from './types';

/** A run's pipeline: what each step is, needs, takes and produces. */
export class PipelineDefinition {
  readonly spec: PipelineSpec;
  /** The steps `uses:` may name: the run's descriptors, the built-in steps when it has none. */
  readonly registry: StepRegistry;
  readonly graph: StepGraph;
  /** What the steps' expressions are typed and bound against. */
  readonly scope: ScopeContext;
  private readonly ports = new Map<string, StepPorts>();
  /** In a rerun: the steps it runs again without the cache (its `--from` steps and everything downstream). */
  private readonly rerunSteps: ReadonlySet<string>;

  /** Throws a non-retryable `SPEC_INVALID` when a step's type is not registered or its sub-pipeline not loaded. */
  constructor(private readonly input: RunPipelineInput) {
    this.spec = input.spec;
    this.registry = createStepRegistry(input.descriptors ?? BUILTIN_STEPS);
    this.graph = buildGraph(this.spec.steps);
    this.scope = { spec: this.spec, registry: this.registry, graph: this.graph, pipelines: subPipelineLookup(input) };
    for (const id of this.graph.ids) {
      const step = this.step(id);
      const ports = stepPorts(step, this.registry, this.scope.pipelines);
      if (ports === undefined) {
        throw invalidSpec(`step ${id} uses ${step.uses ?? step.pipeline ?? ''}, which is not registered or not loaded`);
      }
      this.ports.set(id, ports);
    }
    const fromSteps = input.rerun?.fromSteps ?? [];
    for (const id of fromSteps)
      if (this.spec.steps[id] === undefined) throw invalidSpec(`rerun from unknown step ${id}`);
    this.rerunSteps = new Set(fromSteps.flatMap((id) => [id, ...downstreamOf(this.graph, id)]));
  }

  /** In a rerun, whether a step runs again (a `--from` step, or downstream of one). */
  runsAgain(id: string): boolean {
    return this.rerunSteps.has(id);
  }

  /** The step with this id. */
  step(id: string): StepSpec {
    const step = this.spec.steps[id];
    if (step === undefined) throw invalidSpec(`no step ${id}`);
    return step;
  }

  /** The step's inputs and outputs. */
  portsOf(id: string): StepPorts {
    const ports = this.ports.get(id);
    if (ports === undefined) throw new MloeError('INTERNAL', `no ports for step ${id}`);
    return ports;
  }

  /** What the step runs: `name@version` of a registered step, `run` for a command, `pipeline:<path>`, `promote`. */
  uses(id: string): string {
    const step = this.step(id);
    if (step.pipeline !== undefined) return `pipeline:${step.pipeline}`;
    if (step.promote !== undefined) return 'promote';
    const descriptor = this.portsOf(id).descriptor;
    return descriptor === undefined ? 'run' : `${descriptor.name}@${descriptor.version}`;
  }

  /**
   * Why the cache is off for a step (`--no-cache` for the run, a rerun running it again, `cache: false` on it or in
   * `defaults`), if it is.
   */
  noCacheReason(id: string): string | undefined {
    const step = this.step(id);
    if (this.input.noCache === true) return '--no-cache';
    if (this.rerunSteps.has(id)) return `mloe rerun --from ${this.input.rerun?.fromSteps.join(',') ?? ''}`;
    if (step.cache === false) return 'cache: false';
    if (step.cache === undefined && this.spec.defaults?.cache === false) return 'defaults.cache: false';
    return undefined;
  }
}

function invalidSpec(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'SPEC_INVALID', message, nonRetryable: true });
}
