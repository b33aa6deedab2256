/**
 * The contract between the pipeline interpreter (`workflows/run-pipeline.ts`) and the one activity that runs any step
 * (`runStep`): what a step is asked to do and what it hands back. Plain data, so the workflow imports it as types only.
 */
import type { JsonValue, RunSpec, StepPlacement } from '../../core/spec';

/** One execution of one step (or one `foreach` iteration), with every `${{ }}` already resolved by the workflow. */
export interface RunStepRequest {
  /** The step id in the spec. */
  stepId: string;
  /** The `foreach` iteration, when the step fans out. */
  index?: number;
  /** The pipeline run (its workflow id), for logs, artifact metadata and lineage. */
  workflowId: string;
  /** The Temporal run id of the run's first execution: the owner of the step's lineage record. */
  firstExecutionRunId: string;
  /** The pipeline's `metadata.name`: cache entries remember the last key per pipeline and step. */
  pipeline: string;
  /** A registered step, exactly `name@version` (the workflow resolved the version). Exactly one of `uses`, `run`. */
  uses?: string;
  /** A command step with templates resolved: every argument and environment value is a string. */
  run?: Omit<RunSpec, 'command' | 'env'> & { command: string[]; env?: Record<string, string> };
  /**
   * Where a `run:` step runs when not on the worker's host (`executor: kubernetes | batch`), with its resources and
   * executor settings, `defaults` applied. Absent: the local runner.
   */
  placement?: StepPlacement;
  /**
   * Input values: literals, resolved expressions, artifact references as `ArtifactRef` objects. A list too large for
   * a Temporal payload arrives as a `ListManifestValue` (`core/list-manifest.ts`), which `runStep` reads back into
   * the list before anything else sees the input.
   */
  inputs: Record<string, JsonValue>;
  /** The run's parameter values. */
  params: Record<string, JsonValue>;
  /** Declared output ports (for `run` steps; a registered step knows its own). */
  outputs: Record<string, { type: string }>;
  /**
   * The run's artifact store: a store URI (`file:///…/.mloe/artifacts`, `s3://bucket/prefix`) or the absolute root
   * directory of a file store. Outputs, cache entries and lineage records go there. Absent, the worker's default.
   */
  artifactStore?: string;
  /** Why the cache is off for this execution (`--no-cache`, `cache: false`); absent, the cache is used. */
  noCache?: string;
  /** Directory that relative paths in inputs are resolved against (absolute). */
  workingDir: string;
}

/** What a step hands back: small values and artifact references, never artifact content. */
export interface RunStepResult {
  /** Output values by port name; artifact outputs are `ArtifactRef` objects. */
  outputs: Record<string, JsonValue>;
  /** The numbers of the step's `metrics` output, which expressions read as `steps.<id>.outputs.<name>.<metric>`. */
  metrics?: Record<string, number>;
  /** Which attempt succeeded (1 for the first); 1 for a cache hit. */
  attempt: number;
  durationMs: number;
  /** What the cache did, and why. */
  cache: CacheOutcome;
  /** A command step's stdout and stderr, stored as artifacts (`ArtifactRef`s). */
  logs?: StepLogs;
}

/** What the cache did for one execution. */
export interface CacheOutcome {
  decision: 'hit' | 'miss' | 'disabled';
  /** The cache key (64 hex digits); absent when the cache is disabled. */
  key?: string;
  /**
   * For a hit, whose outputs were reused; for a miss, which parts of the key changed since the step was last cached
   * (or that it never was, or that the cached outputs are gone); for `disabled`, why.
   */
  reasons: string[];
  /** The run whose outputs a hit reused. */
  sourceWorkflowId?: string;
}

/** Where a command step's output streams were stored. */
export interface StepLogs {
  stdout: JsonValue;
  stderr: JsonValue;
}

/**
 * The first detail of every failure `runStep` raises (an `ApplicationFailure`): which attempt failed, and the
 * original failure's own details (e.g. the data issues of `DATA_INVALID`).
 */
export interface StepFailureDetails {
  attempt: number;
  details: unknown[];
}
