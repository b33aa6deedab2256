/**
 * The shapes MLflow tracking shares with the rest of mloe: the link from a pipeline run to its MLflow run (kept in
 * the run record and the workflow's status), and the parts of a run's status tracking reads. Plain data with no
 * imports, so the workflow and the lineage recorder can import it as types.
 */

/** A pipeline run's MLflow run: where to find it. */
export interface MlflowRunLink {
  /** The MLflow run id. */
  runId: string;
  /** The MLflow experiment it is in. */
  experimentId: string;
  /**
   * Where a person looks at it: the MLflow UI's page of the run (`<server>/#/experiments/<id>/runs/<run>`), or, for a
   * server without a UI (the embedded one), its REST answer (`<server>/api/2.0/mlflow/runs/get?run_id=<run>`).
   */
  url: string;
}

/** The state of a pipeline run or of one of its steps, as mloe's status names it. */
export type TrackedState = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled';

/**
 * What tracking reads of a pipeline run's status (the workflow's `PipelineRunStatus` fits): identity, parameters,
 * provenance, state and the steps' states (to settle step runs a crash or a cancellation left running).
 */
export interface TrackedPipelineRun {
  pipeline: string;
  workflowId: string;
  specHash: string;
  state: 'running' | 'completed' | 'failed' | 'cancelled';
  params: Readonly<Record<string, unknown>>;
  metadata?: { mloeVersion?: string; gitCommit?: string; specFile?: string };
  startedAt: string;
  finishedAt?: string;
  error?: string;
  steps: readonly { id: string; state: TrackedState; finishedAt?: string; error?: string }[];
  /** The MLflow run recorded when the run started, if it was. */
  mlflow?: MlflowRunLink;
}

/** The Temporal identity of the execution that reports a pipeline run. */
export interface TemporalIdentity {
  temporalRunId: string;
  firstExecutionRunId: string;
  namespace: string;
}

/** A step execution the workflow just scheduled on its own task queue: what its run is prepared from. */
export interface ScheduledStep {
  workflowId: string;
  pipeline: string;
  stepId: string;
  index?: number;
  /** `name@version`, or `run` for a command step. */
  uses: string;
}

/**
 * The sink a pipeline workflow tells its worker through that it scheduled a step (`prepared-runs.ts`): a worker that
 * tracks runs creates the step's MLflow run while Temporal dispatches the activity. Sinks issue no commands and are
 * not called on replay. (A type alias: the SDK's `Sinks` is a record type, which interfaces do not satisfy.)
 */
export type StepTrackingSinks = {
  mloeTracking: {
    stepScheduled(step: ScheduledStep): void;
  };
};
