/**
 * The names tracking writes into MLflow: MLflow's own system tags (`mlflow.parentRunId`, `mlflow.runName`,
 * `mlflow.user`, `mlflow.source.*`), mloe's tags that lead back from an MLflow run to the Temporal run and step
 * execution, run names, and the links to runs and model versions.
 */
import type { LinkStyle } from './config';
import type { MlflowRunLink } from './types';

/** MLflow's system tags (`mlflow/utils/mlflow_tags.py`). */
export const MLFLOW_TAGS = {
  parentRunId: 'mlflow.parentRunId',
  runName: 'mlflow.runName',
  user: 'mlflow.user',
  sourceName: 'mlflow.source.name',
  sourceType: 'mlflow.source.type',
  gitCommit: 'mlflow.source.git.commit',
  note: 'mlflow.note.content',
} as const;

/** mloe's tags on MLflow runs and model versions. */
export const MLOE_TAGS = {
  /** `pipeline` (a pipeline run) or `step` (a step execution or a `foreach` iteration). */
  kind: 'mloe.kind',
  /** The run's Temporal workflow id: `mloe status <it>`. */
  workflowId: 'mloe.workflowId',
  /** The Temporal run id of the execution that last reported the run. */
  temporalRunId: 'mloe.temporalRunId',
  /** The Temporal run id of the run's first execution (a reset keeps it). */
  firstExecutionRunId: 'mloe.firstExecutionRunId',
  /** The Temporal namespace. */
  namespace: 'mloe.namespace',
  pipeline: 'mloe.pipeline',
  specHash: 'mloe.specHash',
  version: 'mloe.version',
  /** The git commit of the spec's directory, `-dirty` included. */
  gitCommit: 'mloe.gitCommit',
  /** The pipeline run's final state (`completed`, `failed`, `cancelled`). */
  state: 'mloe.state',
  error: 'mloe.error',
  stepId: 'mloe.stepId',
  /** The `foreach` iteration. */
  index: 'mloe.index',
  uses: 'mloe.uses',
  /** `<workflowId>/<stepId>[/<index>]`: one step execution, the key runs and model versions are found by. */
  execution: 'mloe.execution',
  /**
   * On a step run created before its step was dispatched (`prepared-runs.ts`): the execution it was made for. Such a
   * run gets `mloe.execution` with the first data an attempt writes to it.
   */
  prepared: 'mloe.prepared',
  /** The attempt whose data the run holds. */
  attempt: 'mloe.attempt',
  /** The attempt that logged a step run's data, set last: a later attempt logs nothing again. */
  logged: 'mloe.logged',
  /** The cache decision: `hit`, `miss` or `disabled`. */
  cache: 'mloe.cache',
  /** Data MLflow would refuse, left out of the run: one line per item, naming the step and the key. */
  problems: 'mloe.tracking.problems',
  /** Prefix of `mloe.output.<port>` / `mloe.input.<port>` tags: an artifact's digest. */
  output: 'mloe.output.',
  input: 'mloe.input.',
  /** On a model version: the model artifact's digest and URI in mloe's artifact store. */
  artifactDigest: 'mloe.artifactDigest',
  artifactUri: 'mloe.artifactUri',
  /** On a model version: the MLflow model directory (`MLmodel` and the model) in mloe's artifact store. */
  modelPackage: 'mloe.modelPackage',
} as const;

/** What `mloe.kind` says. */
export type RunKind = 'pipeline' | 'step';

/** `<workflowId>/<stepId>[/<index>]`. */
export function executionKey(workflowId: string, stepId: string, index?: number): string {
  return index === undefined ? `${workflowId}/${stepId}` : `${workflowId}/${stepId}/${index}`;
}

/** The run name of a step execution: its id, with the iteration in brackets (`train`, `sweep[3]`). */
export function stepRunName(stepId: string, index?: number): string {
  return index === undefined ? stepId : `${stepId}[${index}]`;
}

/** A string quoted for an MLflow filter (`'it''s'`). */
export function quoted(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** An equality clause on a tag, the key in backticks (it has dots): `` tags.`mloe.kind` = 'step' ``. */
export function tagEquals(key: string, value: string): string {
  return `tags.\`${key}\` = ${quoted(value)}`;
}

/** The link to an MLflow run. */
export function runLink(serverUrl: string, style: LinkStyle, experimentId: string, runId: string): MlflowRunLink {
  const url =
    style === 'ui'
      ? `${serverUrl}/#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`
      : `${serverUrl}/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(runId)}`;
  return { runId, experimentId, url };
}

/** The link to a registered model's version. */
export function modelVersionLink(serverUrl: string, style: LinkStyle, name: string, version: string): string {
  return style === 'ui'
    ? `${serverUrl}/#/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`
    : `${serverUrl}/api/2.0/mlflow/model-versions/get?name=${encodeURIComponent(name)}&version=${encodeURIComponent(version)}`;
}
