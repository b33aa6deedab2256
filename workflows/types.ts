/**
 * What clients, workers and activities need to know about the pipeline workflows without loading their code: the
 * workflow type and task queue, the search attributes, the input, the `status` query and its answer, and the limits
 * the interpreter works within. Importing this module runs no workflow code (`@temporalio/workflow`'s `defineQuery`
 * and `@temporalio/common`'s `defineSearchAttributeKey` only build descriptors).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';

import type { StepLogs } from '../activities/steps';
import type { MlflowRunLink } from '../activities/tracking/types';
import type { JsonValue, PipelineSpec, StepDescriptor } from '../core/spec';
import type { ApprovalDecision, ApprovalRequest, PromotionStatus } from '../core/promotion';

/** The workflow type of a pipeline run (and of a sub-pipeline's child run). */
export const RUN_PIPELINE_WORKFLOW_TYPE = 'runPipeline';

/** The signature of the `runPipeline` workflow, for typed starts by name: `client.workflow.start<RunPipelineWorkflow>`. */
export type RunPipelineWorkflow = (input: RunPipelineInput) => Promise<PipelineRunStatus>;

/** Search attribute (Keyword): the pipeline's `metadata.name`. */
export const PIPELINE_SEARCH_ATTRIBUTE = defineSearchAttributeKey('MloePipeline', SearchAttributeType.KEYWORD);
/** Search attribute (Keyword): `Running`, `Completed`, `Failed` or `Cancelled`. */
export const STATUS_SEARCH_ATTRIBUTE = defineSearchAttributeKey('MloeStatus', SearchAttributeType.KEYWORD);

/** Search attribute (Keyword): the schedule that started the run (`mloe schedule`, docs/schedules.md). */
export const SCHEDULE_SEARCH_ATTRIBUTE = defineSearchAttributeKey('MloeSchedule', SearchAttributeType.KEYWORD);

/** The task queue pipeline workers poll. */
export const PIPELINE_TASK_QUEUE = 'mloe-pipelines';

/** Iterations of a `foreach` step run in this workflow up to this many items; beyond, in child batches this big. */
export const DEFAULT_FOREACH_BATCH_SIZE = 500;
/** `foreach` iterations at once when the step sets no `maxParallel`. */
export const DEFAULT_FOREACH_PARALLEL = 50;
/** A `foreach` step's outputs appear in the status only up to this many items (see `outputsOmitted`). */
export const MAX_STATUS_FOREACH_OUTPUTS = 1_000;
/** In-flight activities of one workflow at most (Temporal's limit is 2,000 pending activities). */
export const MAX_IN_FLIGHT_ACTIVITIES = 1_000;
/**
 * A step input that is a list of more than this many bytes of JSON goes to the step as a manifest artifact instead of
 * inline (Temporal refuses payloads over 2 MB; a list of artifact references weighs about 300 bytes an element).
 */
export const LIST_MANIFEST_THRESHOLD_BYTES = 256 * 1024;
/** The most bytes of JSON one part of a list manifest holds: each part is one activity's input. */
export const LIST_MANIFEST_PART_BYTES = 384 * 1024;

/** Input of the `runPipeline` workflow. The client validates the spec first: no workflow starts for an invalid one. */
export interface RunPipelineInput extends SubPipelineFields {
  /** The validated spec. */
  spec: PipelineSpec;
  /** The run's parameter values, defaults applied. */
  params: Record<string, JsonValue>;
  /** sha256 of the spec, for the memo and the run record. */
  specHash: string;
  /**
   * The run's artifact store: a store URI (`file:///…/.mloe/artifacts`, `s3://bucket/prefix`) or the absolute root of
   * a file store. Outputs, cache entries and lineage records go there. Absent, each worker uses its default store
   * (`MLOE_ARTIFACT_STORE`).
   */
  artifactStore?: string;
  /** Directory relative paths in step inputs and command working directories resolve against (absolute). */
  workingDir: string;
  /** Who started the run, with which code: recorded with the run (see `RunMetadata`). */
  metadata?: RunMetadata;
  /** Run every step even if a cached result exists. */
  noCache?: boolean;
  /** Descriptors of the registered steps the spec may use; the built-in steps when omitted. */
  descriptors?: StepDescriptor[];
  /** Items of a `foreach` step beyond which iterations run in child workflows, this many per child. */
  foreachBatchSize?: number;
  /**
   * List inputs of more bytes of JSON than this go to their step as manifests; {@link LIST_MANIFEST_THRESHOLD_BYTES}
   * when absent (tests and recorded histories set a small one).
   */
  listManifestThresholdBytes?: number;
  /** Set for a rerun (`mloe rerun RUN --from STEP`): the run it repeats and the steps it takes from that run. */
  rerun?: RerunInput;
  /** Set in a schedule's action (`mloe schedule create`): what a scheduled run takes from its schedule. */
  schedule?: ScheduledRunInput;
}

/**
 * What a run started by a schedule takes from it (docs/schedules.md). The workflow reads the scheduled time from the
 * `TemporalScheduledStartTime` search attribute Temporal sets on scheduled starts (reading it issues no command).
 */
export interface ScheduledRunInput {
  /** The schedule's id. */
  name: string;
  /**
   * A `string` parameter of the spec the workflow sets to the run's scheduled time (RFC 3339, UTC, whole seconds,
   * e.g. `2026-01-01T00:00:00Z`) before anything else reads the parameters.
   */
  scheduledTimeParam?: string;
}

/**
 * What makes a run a rerun of an earlier one: the steps it starts from run again (without the cache), with
 * everything downstream of them; the steps the earlier run completed that are not downstream are taken from it, once
 * their outputs verify against their digests (a step whose outputs do not runs again, and so does everything after
 * it). See docs/rerun.md.
 */
export interface RerunInput {
  /** The run repeated: its workflow id. */
  sourceWorkflowId: string;
  /** The steps given as `--from`. */
  fromSteps: string[];
  /** The steps to take from the source run, by id: what each produced there. */
  reuse: Record<string, ReusedStep>;
}

/** A step of the source run, as a rerun takes it. */
export interface ReusedStep {
  /** What the step ran (`name@version`, `run`, `pipeline:<path>`), as the source run's status says. */
  uses: string;
  /** Its outputs as stored (artifact references; lists of them for `foreach`). */
  outputs: Record<string, JsonValue>;
  /** The numbers of its `metrics` output (a list of them for `foreach`). */
  metrics?: Record<string, number> | Record<string, number>[];
  /** For a `foreach` step: how many iterations it ran (each has its own step record in the source run). */
  iterations?: number;
  /** For a `pipeline` step: the child run that produced its outputs. */
  childWorkflow?: ChildWorkflowRef;
}

/** Facts about the code and the client that started a run, recorded with it. */
export interface RunMetadata {
  /** The mloe version of the client that started the run. */
  mloeVersion?: string;
  /** The git commit of the spec's directory, when it is in a repository (`-dirty` when it has local changes). */
  gitCommit?: string;
  /** The spec file, when the run was started from one (for a sub-pipeline's run, its own file). */
  specFile?: string;
  /** The root spec file's directory, which sub-pipeline paths are relative to. */
  specDir?: string;
}

/** Where a step is in its life. */
export type StepState = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled';
/** Where the pipeline is. */
export type PipelineState = 'running' | 'completed' | 'failed' | 'cancelled';
/**
 * What the cache did for a step: `unchecked` until it runs; `disabled` by `--no-cache` or `cache: false`; `partial`
 * for a `foreach` step some of whose iterations hit; `reused` for a step a rerun took from the run it repeats.
 */
export type CacheDecision = 'disabled' | 'unchecked' | 'hit' | 'miss' | 'partial' | 'reused';

/** One step as the `status` query reports it. Times are workflow times (ISO 8601), identical on replay. */
export interface StepRunStatus {
  id: string;
  name?: string;
  needs: string[];
  /** `name@version` of a registered step, `run` for a command, `pipeline:<path>` for a sub-pipeline, `promote`. */
  uses: string;
  state: StepState;
  /** Attempts made (for `foreach`: the most any iteration made). */
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  cache: CacheDecision;
  /** The cache key of the step's execution (for `foreach`, of the first iteration that missed, else the first). */
  cacheKey?: string;
  /**
   * Why the cache decided as it did: whose outputs a hit reused, which parts of the key changed for a miss (for
   * `foreach`, of the first iteration that missed). `mloe explain RUN STEP` prints them.
   */
  cacheReasons?: string[];
  /** Hits and misses of a `foreach` step's iterations. */
  cacheCounts?: { hits: number; misses: number };
  /** A command step's stdout and stderr, stored as artifacts. */
  logs?: StepLogs;
  /** For a `pipeline` step: the child workflow running the sub-pipeline. */
  childWorkflow?: ChildWorkflowRef;
  /**
   * Why `outputs` is absent though the step completed: a `foreach` over more than `MAX_STATUS_FOREACH_OUTPUTS` items
   * (its lists still reach downstream steps; each iteration's outputs are in its step record).
   */
  outputsOmitted?: string;
  /** Output values; artifacts as references. A `foreach` step's outputs are lists, one element per item. */
  outputs?: Record<string, JsonValue>;
  /** The numbers of the step's `metrics` output (a list of them for `foreach`). */
  metrics?: Record<string, number> | Record<string, number>[];
  /** Progress of a `foreach` step. */
  foreach?: { total: number; completed: number; failed: number; batches: number };
  /** Why the step was skipped. */
  reason?: string;
  /** In a rerun: the run whose outputs this step took (its `cache` is then `reused`). */
  reusedFrom?: string;
  /** In a rerun: why this step could not be taken from the source run, so it ran (an output missing or damaged). */
  notReused?: string;
  /** Why the step failed, with the error code. */
  error?: string;
  /** For a `promote` step: its policies, approval and alias move (docs/promotion.md). */
  promotion?: PromotionStatus;
}

/** The answer to {@link pipelineStatusQuery}, and what the `runPipeline` workflow returns. */
export interface PipelineRunStatus {
  pipeline: string;
  /** The run's id: its Temporal workflow id (records, `mloe status`, the Web UI all use it). */
  workflowId: string;
  specHash: string;
  state: PipelineState;
  params: Record<string, JsonValue>;
  /** The artifact store of the run; absent when it uses the workers' default store. */
  artifactStore?: string;
  /** Version and commit of what started it. */
  metadata: RunMetadata;
  startedAt: string;
  finishedAt?: string;
  /** In declaration order. */
  steps: StepRunStatus[];
  error?: string;
  /** For a rerun: the run it repeats and the steps it started from. */
  rerunOf?: { workflowId: string; fromSteps: string[] };
  /** The run's MLflow run, when the worker tracks runs (`MLFLOW_TRACKING_URI`): set once its start is tracked. */
  mlflow?: MlflowRunLink;
}

/** Query `status`: the DAG with each step's state, attempts, timings, cache decision, outputs and error. */
export const pipelineStatusQuery = defineQuery<PipelineRunStatus>('status');

/** Search attribute values of {@link STATUS_SEARCH_ATTRIBUTE}, by pipeline state. */
export const PIPELINE_STATUS_VALUES: Record<PipelineState, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** A validated sub-pipeline as a run carries it. */
export interface SubPipeline {
  spec: PipelineSpec;
  /** sha256 of the spec (computed by the client; the workflow cannot hash). */
  specHash: string;
}

/** The fields of a run's input that carry its sub-pipelines. */
export interface SubPipelineFields {
  /**
   * Every sub-pipeline the run may start, directly or through other sub-pipelines, by path relative to the root
   * spec's directory (`lib/train.yaml`). Validated by the client with the root spec.
   */
  pipelines?: Record<string, SubPipeline>;
  /** Where this run's spec is, relative to the root spec's directory: `pipeline:` paths resolve against it. */
  specPath?: string;
}

/** The child workflow of a `pipeline` step, as the step's status entry names it. */
export interface ChildWorkflowRef {
  workflowId: string;
  /** The Temporal run id of the child's first execution. */
  firstExecutionRunId: string;
}

/**
 * Search attribute (Keyword): `Pending` while a promote step of the run waits for approval, then `Approved`,
 * `Rejected` or `Cancelled` (`mloe approvals` lists the runs where it is `Pending`).
 */
export const APPROVAL_SEARCH_ATTRIBUTE = defineSearchAttributeKey('MloeApproval', SearchAttributeType.KEYWORD);

/** Values of {@link APPROVAL_SEARCH_ATTRIBUTE}. */
export const APPROVAL_STATUS_VALUES = {
  pending: 'Pending',
  approved: 'Approved',
  rejected: 'Rejected',
  /** The run stopped waiting without a decision (cancelled, or its escalation failed). */
  cancelled: 'Cancelled',
} as const;

/** The memo key of what a waiting run waits for (an `ApprovalMemo`, `core/promotion`), readable from visibility. */
export const APPROVAL_MEMO_KEY = 'mloeApproval';

/**
 * Update `approve`: approves the promotion the run waits for, as `identity` (required) and for `reason`; answers the
 * recorded decision. Refused (by its validator, so nothing is written to the history) when the run does not wait.
 */
export const approveUpdate = defineUpdate<ApprovalDecision, [ApprovalRequest]>('approve');

/** Update `reject`: rejects the promotion the run waits for; `identity` and `reason` are required. */
export const rejectUpdate = defineUpdate<ApprovalDecision, [ApprovalRequest]>('reject');

/** Input of a drift monitor's tick (`monitorModel`, docs/monitoring.md): the monitor and its pinned retraining run. */
export interface MonitorTickInput {
  definition: import('../core/monitoring/definition').MonitorDefinition;
  /** The retraining pipeline's run input, validated and pinned when the monitor was created. */
  retrain: RunPipelineInput;
}

/** What a monitor's tick concluded (its result). */
export interface MonitorTickResult {
  observation: import('../core/monitoring/episodes').TickObservation;
  decision: import('../core/monitoring/episodes').RetrainDecision;
  /** Whether the retraining run was started by this tick (false when its workflow id already existed). */
  started: boolean;
  driftedFeatures: string[];
  report: string;
  mlflowRunId?: string;
}

/** The signature of a monitor's tick workflow, for typed handles: `client.workflow.getHandle<MonitorModelWorkflow>`. */
export type MonitorModelWorkflow = (input: MonitorTickInput) => Promise<MonitorTickResult>;
