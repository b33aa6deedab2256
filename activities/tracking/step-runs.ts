/**
 * A step execution as a nested MLflow run (`mlflow.parentRunId` → the pipeline's run), named after the step
 * (`train`, or `sweep[3]` for an iteration of a `foreach` step), tagged with the execution it is
 * (`mloe.execution = <workflowId>/<stepId>[/<index>]`).
 *
 * Idempotent under retries: a first attempt creates the run (or takes the one its worker prepared while the step was
 * dispatched, `prepared-runs.ts`); a later attempt finds it by `mloe.execution` instead.
 * The data of a successful attempt (params, metrics, tags) ends with the `mloe.logged` marker, and a later attempt
 * that finds the marker logs nothing again: a retry after a lost result never logs twice. Metric points carry the
 * run's start time as their timestamp unless the step gave one, so a batch resent after a partial failure holds
 * identical points, which MLflow stores once.
 */
import { formatDigest, digestHex, type ArtifactRef } from '../artifacts';
import type { DatasetInputInput, RunStatus } from '../mlflow';
import { mlflowDatasetFacts } from '../ml/data/dataset';
import { paramText, tagValue, type KeyValue } from './limits';
import { latestPoints, type MetricPoint } from './metrics';
import { MLFLOW_TAGS, MLOE_TAGS, executionKey, stepRunName, tagEquals } from './names';
import type { MlflowTracker, TrackedRun } from './tracker';
import type { ScheduledStep } from './types';

/** Which step execution a run is. */
export interface StepExecution {
  workflowId: string;
  firstExecutionRunId: string;
  temporalRunId?: string;
  pipeline: string;
  stepId: string;
  index?: number;
  /** `name@version`, or `run` for a command step. */
  uses: string;
}

/** A step execution's run, as opened for an attempt. */
export interface StepRun extends TrackedRun {
  parent: TrackedRun;
  execution: StepExecution;
  /** An earlier attempt logged the execution's data (the `mloe.logged` tag): it is not logged again. */
  logged: boolean;
  /** A prepared run this attempt took: its first write adds `mloe.execution`, which makes it the execution's run. */
  prepared?: boolean;
}

/** The tags a step run is created with, `mloe.execution` aside. */
function stepRunTags(
  tracker: MlflowTracker,
  parent: TrackedRun,
  execution: Pick<StepExecution, 'workflowId' | 'stepId' | 'index' | 'uses'>,
  attempt: number,
): Record<string, string> {
  return {
    // MLflow sets `mlflow.runName` from the run's name; the Temporal ids and the pipeline are on the parent.
    [MLFLOW_TAGS.parentRunId]: parent.runId,
    [MLFLOW_TAGS.user]: tracker.user,
    [MLFLOW_TAGS.sourceName]: execution.uses,
    [MLFLOW_TAGS.sourceType]: 'JOB',
    [MLOE_TAGS.kind]: 'step',
    [MLOE_TAGS.workflowId]: execution.workflowId,
    [MLOE_TAGS.stepId]: execution.stepId,
    ...(execution.index === undefined ? {} : { [MLOE_TAGS.index]: String(execution.index) }),
    [MLOE_TAGS.uses]: execution.uses,
    [MLOE_TAGS.attempt]: String(attempt),
  };
}

/**
 * Creates the run of a step the workflow just scheduled, for its first attempt on this worker to take (see
 * `prepared-runs.ts`), unless the tracker was made not to. Only a step whose pipeline run this worker knows is
 * prepared (no search is made for it); the creation is not waited for, and its failure only means the attempt creates
 * the run itself.
 */
export function prepareStepRun(tracker: MlflowTracker, step: ScheduledStep, scheduledAt: Date): void {
  const parent = tracker.knownPipelineRun(step.workflowId);
  const key = executionKey(step.workflowId, step.stepId, step.index);
  if (!tracker.preparesStepRuns || parent === undefined || tracker.prepared.refuses(key)) return;
  const startTime = scheduledAt.getTime();
  const runId = tracker.client.runs.createId({
    experimentId: parent.experimentId,
    runName: stepRunName(step.stepId, step.index),
    startTime,
    tags: { ...stepRunTags(tracker, parent, step, 1), [MLOE_TAGS.prepared]: key },
  });
  tracker.prepared.hold(key, { runId, parent, startTime });
}

/**
 * The run of a step execution under its pipeline's run: created by a first attempt, found (by `mloe.execution`) by a
 * later one. `startedAt` is the attempt's start.
 */
export async function openStepRun(
  tracker: MlflowTracker,
  parent: TrackedRun,
  execution: StepExecution,
  startedAt: Date,
  attempt: number,
): Promise<StepRun> {
  const key = executionKey(execution.workflowId, execution.stepId, execution.index);
  if (attempt > 1) {
    // A preparation is for a first attempt only: a later one finds the run an earlier attempt wrote to.
    tracker.prepared.withdraw(key);
    const found = await tracker.findRun(parent.experimentId, tagEquals(MLOE_TAGS.execution, key));
    if (found !== undefined) {
      return { ...found, parent, execution, logged: found.tags?.[MLOE_TAGS.logged] !== undefined };
    }
  } else {
    const prepared = tracker.prepared.take(key);
    if (prepared !== undefined && prepared.parent.runId !== parent.runId) tracker.prepared.discard(prepared);
    else if (prepared !== undefined) {
      const runId = await prepared.runId.catch(() => undefined);
      if (runId !== undefined) {
        const { startTime } = prepared;
        const { experimentId } = parent;
        return { runId, experimentId, startTime, status: 'RUNNING', parent, execution, logged: false, prepared: true };
      }
    }
  }
  const startTime = startedAt.getTime();
  const name = stepRunName(execution.stepId, execution.index);
  const runId = await tracker.client.runs.createId({
    experimentId: parent.experimentId,
    runName: name,
    startTime,
    tags: { ...stepRunTags(tracker, parent, execution, attempt), [MLOE_TAGS.execution]: key },
  });
  return {
    runId,
    experimentId: parent.experimentId,
    startTime,
    status: 'RUNNING',
    parent,
    execution,
    logged: false,
  };
}

/** What a successful execution leaves in its run. */
export interface StepRunData {
  attempt: number;
  finishedAt: Date;
  /** `hit`, `miss` or `disabled`. */
  cache: string;
  /** The step's `with` values: scalars become params, artifacts tags (datasets: inputs). */
  inputs: Readonly<Record<string, unknown>>;
  /** Its outputs: each artifact's digest becomes a `mloe.output.<port>` tag. */
  outputs: Readonly<Record<string, unknown>>;
  metrics: readonly MetricPoint[];
  /** Problems found before logging (unreadable metrics outputs). */
  problems: readonly string[];
  /** Artifact inputs and outputs, by port. */
  inputArtifacts: readonly { port: string; ref: ArtifactRef }[];
  outputArtifacts: readonly { port: string; ref: ArtifactRef }[];
}

/**
 * Logs a successful execution: its params, metrics and tags to its run, its latest metrics to the pipeline run as
 * `<stepId>.<key>` (at step = the iteration, 0 otherwise), its datasets to both (all at once), then its run's end
 * (`FINISHED`, written behind the step). The run's own data ends with the `mloe.logged` marker (in the same request when it fits, after it
 * otherwise). An attempt that finds the marker logs nothing to the step's run again, and repeats to the pipeline run
 * what the step's run holds (identical points, which MLflow stores once), in case that part failed the first time.
 * Data MLflow would refuse is left out and reported.
 */
export async function completeStepRun(tracker: MlflowTracker, run: StepRun, data: StepRunData): Promise<void> {
  const { execution } = run;
  const label = `step ${stepRunName(execution.stepId, execution.index)} of ${execution.workflowId}`;
  // The run's end is written behind the step (the next step of the run on this worker, or the run's end, waits for
  // it): the data and its marker are what must be there when the step completes; a lost end is settled by the run's.
  const finish = (): void =>
    tracker.writeBehind(execution.workflowId, `ending the MLflow run of ${label}`, async () => {
      await tracker.client.runs.setStatus(run.runId, 'FINISHED', data.finishedAt.getTime());
    });
  const datasets = data.inputArtifacts.filter(({ ref }) => ref.type === 'dataset');
  const logDatasets = (): Promise<unknown>[] =>
    datasets.length === 0
      ? []
      : [
          tracker.client.runs.logInputs(
            run.runId,
            datasets.map(({ port, ref }) => datasetInput(ref, port)),
          ),
          tracker.client.runs.logInputs(
            run.parent.runId,
            datasets.map(({ port, ref }) => datasetInput(ref, `${execution.stepId}.${port}`)),
          ),
        ];
  if (run.logged) {
    await Promise.all([logToPipelineRun(tracker, run, run.metrics ?? []), ...logDatasets()]);
    finish();
    return;
  }
  const tags: KeyValue[] = [
    ...claimTags(run),
    { key: MLOE_TAGS.attempt, value: String(data.attempt) },
    { key: MLOE_TAGS.cache, value: data.cache },
    ...digestTags(MLOE_TAGS.output, data.outputArtifacts),
    ...digestTags(
      MLOE_TAGS.input,
      data.inputArtifacts.filter(({ ref }) => ref.type !== 'dataset'),
    ),
  ];
  const metrics = data.metrics.map((point) => ({
    key: point.key,
    value: point.value,
    step: point.step,
    timestamp: point.timestamp ?? run.startTime,
  }));
  const [ownProblems, parentProblems] = await Promise.all([
    tracker.logChecked(
      run.runId,
      { params: paramsOf(data.inputs), metrics, tags },
      { marker: { key: MLOE_TAGS.logged, value: String(data.attempt) } },
    ),
    logToPipelineRun(tracker, run, data.metrics),
    ...logDatasets(),
  ]);
  const problems = [
    ...data.problems,
    ...ownProblems,
    ...parentProblems.map((problem) => `on the pipeline run, ${problem}`),
  ];
  if (problems.length > 0) await tracker.reportProblems(run.runId, label, problems);
  finish();
}

/**
 * Records a failed attempt: its number and error as tags; when no retry follows (`final`), the run ends `FAILED`.
 * A retried attempt leaves it `RUNNING` (the next attempt finds it), and the pipeline run's end settles a run no
 * attempt ended.
 */
export async function failStepRun(
  tracker: MlflowTracker,
  run: StepRun,
  failure: { attempt: number; error: string; final: boolean; finishedAt: Date },
): Promise<void> {
  if (run.logged) return; // an earlier attempt completed it
  const status: RunStatus = 'FAILED';
  await Promise.all([
    tracker.logChecked(run.runId, {
      tags: [
        ...claimTags(run),
        { key: MLOE_TAGS.attempt, value: String(failure.attempt) },
        { key: MLOE_TAGS.error, value: tagValue(failure.error) },
      ],
    }),
    failure.final ? tracker.client.runs.setStatus(run.runId, status, failure.finishedAt.getTime()) : undefined,
  ]);
}

/**
 * Logs the latest value of each of a step's metrics to its pipeline's run, as `<stepId>.<key>` at step = the
 * iteration (0 for a step that is not a `foreach`), so that pipeline runs compare by their steps' results. Used for
 * iterations too many to have runs of their own as well (`run` then names the pipeline run itself).
 */
export async function logToPipelineRun(
  tracker: MlflowTracker,
  run: Pick<StepRun, 'parent' | 'execution' | 'startTime'>,
  points: readonly MetricPoint[],
): Promise<string[]> {
  const latest = latestPoints(points);
  if (latest.length === 0) return [];
  return tracker.logChecked(run.parent.runId, {
    metrics: latest.map((point) => ({
      key: `${run.execution.stepId}.${point.key}`,
      value: point.value,
      step: run.execution.index ?? 0,
      timestamp: run.startTime,
    })),
  });
}

/**
 * A prepared run taken by an attempt becomes the execution's run (`mloe.execution`) with the attempt's first write,
 * which for a step that runs a while is this tag, set `afterMs` after the step started: a retry after the attempt
 * stopped (a crash, a heartbeat timeout) then finds the run as it would have found one the attempt created, and a
 * step shorter than that makes no extra call. Returns the cancel of a claim not yet made (the step ended first).
 */
export function claimWhileRunning(tracker: MlflowTracker, run: StepRun, afterMs: number): () => void {
  const [claim] = claimTags(run);
  if (claim === undefined) return () => undefined;
  const timer = setTimeout(() => {
    // A failure here is harmless: the attempt's first write carries the tag too.
    tracker.client.runs.setTag(run.runId, claim.key, claim.value).catch(() => undefined);
  }, afterMs);
  timer.unref();
  return () => clearTimeout(timer);
}

/** `mloe.execution` for a prepared run's first write, which makes it the execution's run (nothing otherwise). */
function claimTags(run: StepRun): KeyValue[] {
  if (run.prepared !== true) return [];
  const { workflowId, stepId, index } = run.execution;
  return [{ key: MLOE_TAGS.execution, value: executionKey(workflowId, stepId, index) }];
}

/** A step's scalar inputs as params (artifact references are tags and datasets instead). */
function paramsOf(inputs: Readonly<Record<string, unknown>>): KeyValue[] {
  return Object.entries(inputs)
    .filter(([, value]) => !holdsArtifact(value))
    .map(([key, value]) => ({ key, value: paramText(value) }));
}

/** Whether a value is, or is a list holding, an artifact reference. */
function holdsArtifact(value: unknown): boolean {
  if (Array.isArray(value)) return value.some((element) => holdsArtifact(element));
  return value !== null && typeof value === 'object' && 'digest' in value && 'uri' in value;
}

/** `<prefix><port>` → digest tags; a port holding a list gets `<port>.<i>` (the first 20). */
function digestTags(prefix: string, artifacts: readonly { port: string; ref: ArtifactRef }[]): KeyValue[] {
  const byPort = new Map<string, ArtifactRef[]>();
  for (const { port, ref } of artifacts) byPort.set(port, [...(byPort.get(port) ?? []), ref]);
  return [...byPort].flatMap(([port, refs]) =>
    refs.length === 1
      ? [{ key: `${prefix}${port}`, value: refs[0]?.digest ?? '' }]
      : refs.slice(0, 20).map((ref, i) => ({ key: `${prefix}${port}.${i}`, value: ref.digest })),
  );
}

/** MLflow keeps dataset digests short (36 characters): the first 36 hex digits of the sha256; `source` has it all. */
const DATASET_DIGEST_LENGTH = 36;

/**
 * A dataset artifact as an MLflow dataset input: its digest, its URI as the source, its size (and, for a dataset the
 * data steps wrote, its row count) as the profile, and its columns as the schema when its metadata has them.
 */
function datasetInput(ref: ArtifactRef, context: string): DatasetInputInput {
  const hex = digestHex(ref.digest);
  const facts = mlflowDatasetFacts(ref.metadata);
  return {
    dataset: {
      name: context,
      digest: hex.slice(0, DATASET_DIGEST_LENGTH),
      sourceType: ref.uri.startsWith('s3://') ? 's3' : 'local',
      source: JSON.stringify({ uri: ref.uri, digest: formatDigest(hex) }),
      profile: JSON.stringify({ num_bytes: ref.size, ...(facts.rows === undefined ? {} : { num_rows: facts.rows }) }),
      ...(facts.schema === undefined ? {} : { schema: facts.schema }),
    },
    tags: { 'mlflow.data.context': context },
  };
}
