/**
 * Step implementations: the TypeScript code behind `uses: name@version`. A registry pairs each descriptor (what the
 * validator and the interpreter know: typed ports) with the function that runs it (what the worker knows). The
 * built-in steps are one registry; workers and tests add their own with {@link createStepImplementations}.
 */
import { createStepRegistry, type JsonValue, type StepDescriptor, type StepRegistry } from '../../core/spec';
import { MloeError } from '../../clients/errors';

/** What a step implementation gets besides its inputs. */
export interface StepContext {
  stepId: string;
  runId: string;
  /** The `foreach` iteration, when the step fans out. */
  index?: number;
  params: Readonly<Record<string, JsonValue>>;
  /** Root directory of the file artifact store (absolute). */
  artifactRoot: string;
  /** Directory relative paths in inputs are resolved against (absolute). */
  workingDir: string;
  /** The attempt being made, 1 for the first. */
  attempt: number;
  /** Aborted when the pipeline (or the step) is cancelled; long steps should pass it on or check it. */
  signal: AbortSignal;
}

/** What a step implementation returns: output values by port name, and the numbers of a `metrics` output. */
export interface StepOutput {
  outputs: Record<string, JsonValue>;
  metrics?: Record<string, number>;
}

/** A registered step: its descriptor and the function that runs it. */
export interface StepImplementation {
  descriptor: StepDescriptor;
  run(inputs: Readonly<Record<string, JsonValue>>, context: StepContext): Promise<StepOutput>;
}

/** Step implementations by `name@version`, with the descriptor registry the validator uses. */
export interface StepImplementations {
  /** The implementation of exactly `name@version`, if registered. */
  get(ref: string): StepImplementation | undefined;
  /** The descriptors, as a registry for validation (`uses` without a version picks the highest). */
  readonly registry: StepRegistry;
  readonly descriptors: readonly StepDescriptor[];
}

/** The key of a descriptor: `name@version`. */
export function stepRef(descriptor: Pick<StepDescriptor, 'name' | 'version'>): string {
  return `${descriptor.name}@${descriptor.version}`;
}

/**
 * Builds a registry of implementations; later lists may not repeat a `name@version` of an earlier one. Throws
 * `CONFIG_INVALID` on a duplicate or malformed descriptor.
 */
export function createStepImplementations(...lists: readonly (readonly StepImplementation[])[]): StepImplementations {
  const byRef = new Map<string, StepImplementation>();
  for (const implementation of lists.flat()) {
    const ref = stepRef(implementation.descriptor);
    if (byRef.has(ref)) throw new MloeError('CONFIG_INVALID', `step ${ref} is implemented twice`);
    byRef.set(ref, implementation);
  }
  const descriptors = [...byRef.values()].map((implementation) => implementation.descriptor);
  return { get: (ref) => byRef.get(ref), registry: createStepRegistry(descriptors), descriptors };
}
