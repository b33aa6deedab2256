/**
 * Step implementations: the TypeScript code behind `uses: name@version`. A registry pairs each descriptor (what the
 * validator and the interpreter know: typed ports) with the function that runs it (what the worker knows). The
 * built-in steps are one registry; workers and tests add their own with {@link createStepImplementations}.
 */
import { createStepRegistry, type JsonValue, type StepDescriptor, type StepRegistry } from '../../core/spec';
import { MloeError } from '../../core/errors';
import type { ArtifactStore, S3StoreConfigInput } from '../artifacts';
import type { MlflowTracker } from '../tracking';
import { sha256Hex } from '../artifacts/ref';
import { valueDigest } from '../cache/digests';

/** What a step implementation gets besides its inputs. */
export interface StepContext {
  stepId: string;
  workflowId: string;
  /** The `foreach` iteration, when the step fans out. */
  index?: number;
  /** The run's artifact store: where outputs go and inputs are read from. */
  store: ArtifactStore;
  /** Directory relative paths in inputs are resolved against (absolute). */
  workingDir: string;
  /** The attempt being made, 1 for the first. */
  attempt: number;
  /** Aborted when the pipeline (or the step) is cancelled; long steps should pass it on or check it. */
  signal: AbortSignal;
  /** The pipeline's `metadata.name` (its MLflow experiment, unless the worker names one). */
  pipeline?: string;
  /** The worker's MLflow server, when it tracks runs: for steps that write to it (`register@1`). */
  tracking?: MlflowTracker;
  /** The worker's S3 client settings (endpoint, region, path style), for steps reading `s3://` sources. */
  s3?: S3StoreConfigInput;
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
  /**
   * The hash of the code behind `run` (e.g. `sourceDigest` of its modules), part of every cache key of the step.
   * Defaults to a hash of the descriptor and of `run`'s own source text, which misses changes in what `run` calls:
   * set it for anything non-trivial, or bump the descriptor's version.
   */
  codeHash?: string;
  /**
   * Digests of content the step reads besides its inputs (e.g. the file behind a path input), by a name for
   * explanations. They join the cache key, so the step re-runs when that content changes.
   */
  cacheInputs?(inputs: Readonly<Record<string, JsonValue>>, context: StepContext): Promise<Record<string, string>>;
  /**
   * `false` for a step whose effect lives outside the artifact store (a model registry): it always runs, as with
   * `cache: false`, because a cached result would name something that may no longer exist.
   */
  cacheable?: boolean;
}

/** Definition digests by implementation: computed once, not per execution. */
const definitionDigests = new WeakMap<StepImplementation, string>();

/** The digest of what a registered step runs: its descriptor and code hash. */
export function definitionDigest(implementation: StepImplementation): string {
  let digest = definitionDigests.get(implementation);
  if (digest === undefined) {
    digest = valueDigest({
      descriptor: implementation.descriptor,
      code: implementation.codeHash ?? sha256Hex(implementation.run.toString()),
    });
    definitionDigests.set(implementation, digest);
  }
  return digest;
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
