/**
 * What the `runStep` activity and the pipeline workflow call to leave lineage behind: write the run and step records
 * and emit the matching OpenLineage events. Record writes may fail like any store write (the caller decides what that
 * means); events never fail anything.
 *
 * - `runStep`, when an execution starts (not for a cache hit): {@link emitStepStart};
 * - `runStep`, when it ends (completed, failed, or a cache hit): {@link recordStepExecution};
 * - the workflow, through the `recordRun` activity of {@link createLineageActivities}, when the run starts and ends;
 * - a rerun, through its `reuseSteps` activity, for the steps it takes from the run it repeats (`./reuse.ts`).
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Context } from '@temporalio/activity';

import packageJson from '../../package.json';
import { ensureError } from '../../core/errors';
import { toApplicationFailure, withFailureMapping } from '../failures';
import { storeForUri } from '../artifacts/factory';
import { isSecretName } from '../cache/key';
import { FileArtifactStore } from '../artifacts/file-store';
import type { ArtifactStore } from '../artifacts/store';
import { lineageConfigFromEnv } from './config';
import { pipelineRunEvent, runEventType, stepEventType, stepRunEvent, type StepExecutionInfo } from './openlineage';
import { runStepSummarySchema, writeRunRecord, writeStepRecord, type RunRecord, type StepRecord } from './records';
import { reuseSteps as reuseStepsIn, type ReuseStepsInput, type ReuseStepsResult } from './reuse';
import { createLineageEmitter, noopEmitter, type LineageEmitter, type LineageLogger } from './transport';
import type { MlflowRunLink } from '../tracking/types';

/** Options of {@link recordStepExecution}. */
export interface RecordStepOptions {
  /** Also emit the START event first: for a cache hit, which had no start of its own. */
  withStart?: boolean;
  /** Where delivery problems go (e.g. `Context.current().log`); the emitter's logger otherwise. */
  logger?: LineageLogger;
}

/**
 * Emits the START event of a step execution (inputs known, outputs not yet). Every attempt reports the same
 * OpenLineage run, so calling it on retries is harmless; calling it on the first attempt only is enough.
 */
export async function emitStepStart(
  emitter: LineageEmitter,
  execution: StepExecutionInfo,
  logger?: LineageLogger,
): Promise<void> {
  if (!emitter.enabled) return;
  await emitter.emit(stepRunEvent(execution, 'START', { namespace: emitter.namespace }), logger);
}

/**
 * Writes a step execution's record (`records/steps/<workflowId>.<stepId>[.<index>].json`), then emits its COMPLETE or FAIL
 * event. A write failure rejects (store errors keep their code and retryability); the event never does.
 */
export async function recordStepExecution(
  store: ArtifactStore,
  record: StepRecord,
  emitter: LineageEmitter,
  options: RecordStepOptions = {},
): Promise<void> {
  await writeStepRecord(store, record);
  if (!emitter.enabled) return;
  const eventOptions = { namespace: emitter.namespace };
  if (options.withStart === true) await emitter.emit(stepRunEvent(record, 'START', eventOptions), options.logger);
  await emitter.emit(stepRunEvent(record, stepEventType(record.state), eventOptions), options.logger);
}

/**
 * Writes a run record (`records/runs/<workflowId>.json`), then emits the pipeline event of its state: START while
 * running, COMPLETE, FAIL, or ABORT for a cancelled run.
 */
export async function recordRun(
  store: ArtifactStore,
  record: RunRecord,
  emitter: LineageEmitter,
  logger?: LineageLogger,
): Promise<void> {
  await writeRunRecord(store, record);
  if (!emitter.enabled) return;
  await emitter.emit(pipelineRunEvent(record, runEventType(record.state), { namespace: emitter.namespace }), logger);
}

/**
 * The status of a pipeline run as the workflow keeps it (`PipelineRunStatus` fits): what a {@link RunRecord} is made
 * of. Extra fields (outputs, metrics, needs) are ignored.
 */
export interface RunStatusSnapshot {
  pipeline: string;
  workflowId: string;
  specHash: string;
  state: RunRecord['state'];
  params: RunRecord['params'];
  /** The run's artifact store: a store URI, or the absolute root directory of a file store; the worker's default when absent. */
  artifactStore?: string;
  metadata?: { mloeVersion?: string; gitCommit?: string; specFile?: string };
  startedAt: string;
  finishedAt?: string;
  error?: string;
  /** For a rerun: the run it repeats and the steps it started from. */
  rerunOf?: { workflowId: string; fromSteps: readonly string[] };
  /** The run's MLflow run, once `recordRun` tracked its start. */
  mlflow?: MlflowRunLink;
  steps: readonly {
    id: string;
    uses: string;
    state: RunRecord['steps'][number]['state'];
    attempts: number;
    startedAt?: string;
    finishedAt?: string;
    durationMs?: number;
    cache: string;
    error?: string;
  }[];
}

/** The fields of a step summary (`runStepSummarySchema`), present in `step`. */
function pickSummary(step: RunStatusSnapshot['steps'][number]): RunRecord['steps'][number] {
  const fields = Object.keys(runStepSummarySchema.shape) as (keyof RunRecord['steps'][number])[];
  return Object.fromEntries(
    fields.filter((field) => step[field] !== undefined).map((field) => [field, step[field]]),
  ) as RunRecord['steps'][number];
}

/** The root URI of a store given as a URI or an absolute directory. */
export function artifactStoreUri(artifactStore: string): string {
  return isAbsolute(artifactStore) ? pathToFileURL(artifactStore).href : artifactStore;
}

/** The run record of a run status, with the Temporal identity of the execution. */
export function runRecordFromStatus(
  status: RunStatusSnapshot & { artifactStore: string },
  temporal: { temporalRunId: string; firstExecutionRunId: string; namespace: string },
): RunRecord {
  const metadata = status.metadata ?? {};
  return {
    version: 2,
    workflowId: status.workflowId,
    temporalRunId: temporal.temporalRunId,
    firstExecutionRunId: temporal.firstExecutionRunId,
    namespace: temporal.namespace,
    pipeline: status.pipeline,
    specHash: status.specHash,
    mloeVersion: metadata.mloeVersion ?? packageJson.version,
    ...(metadata.gitCommit === undefined ? {} : { gitCommit: metadata.gitCommit }),
    ...(metadata.specFile === undefined ? {} : { specFile: metadata.specFile }),
    // Parameters whose names suggest a secret are recorded as redacted: records may live in a shared bucket.
    params: Object.fromEntries(
      Object.entries(status.params).map(([name, value]) => [name, isSecretName(name) ? '[redacted]' : value]),
    ),
    state: status.state,
    startedAt: status.startedAt,
    ...(status.finishedAt === undefined ? {} : { finishedAt: status.finishedAt }),
    artifactStore: artifactStoreUri(status.artifactStore),
    ...(status.error === undefined ? {} : { error: status.error }),
    ...(status.rerunOf === undefined
      ? {}
      : { rerunOf: { workflowId: status.rerunOf.workflowId, fromSteps: [...status.rerunOf.fromSteps] } }),
    ...(status.mlflow === undefined
      ? {}
      : { mlflow: { runId: status.mlflow.runId, experimentId: status.mlflow.experimentId, url: status.mlflow.url } }),
    // The fields of a step summary, whatever else the caller's status holds (outputs, metrics, needs, ...).
    // (`writeRunRecord` then checks them, with a clear error.)
    steps: status.steps.map((step) => pickSummary(step)),
  };
}

/** A logger for lineage outside an activity: `console.warn`/`console.info` with a prefix. */
export const consoleLineageLogger: LineageLogger = {
  warn: (message) => console.warn(`[mloe lineage] ${message}`),
  info: (message) => console.info(`[mloe lineage] ${message}`),
};

let shared: LineageEmitter | undefined;

/**
 * The process's emitter, configured from the environment on first use. An invalid configuration does not fail steps:
 * it is reported once to `logger` and lineage events are off. Workers should call `lineageConfigFromEnv()` at
 * start-up to refuse a bad configuration early.
 */
export function sharedLineageEmitter(logger: LineageLogger = consoleLineageLogger): LineageEmitter {
  if (shared === undefined) {
    try {
      shared = createLineageEmitter(lineageConfigFromEnv(), logger);
    } catch (error) {
      logger.warn(`OpenLineage events are off: ${ensureError(error).message}`);
      shared = noopEmitter();
    }
  }
  return shared;
}

/** Input of the `recordRun` activity. */
export interface RecordRunInput {
  /** The run's status as the workflow has it now (at the start, or once it ended). */
  status: RunStatusSnapshot;
  /** The Temporal run id of the run's first execution: the record's owner (see `core/run-ids.ts`). */
  firstExecutionRunId: string;
}

/** Options of {@link createLineageActivities}. */
export interface LineageActivitiesOptions {
  /** The emitter; {@link sharedLineageEmitter} by default. */
  emitter?: LineageEmitter;
  /**
   * Resolves the store a run names (or the worker's default store when it names none) and keeps it open: the
   * activity never closes it. By default a store is opened per call (the run's, or `.mloe/artifacts` in the working
   * directory) and closed after it.
   */
  openStore?: (artifactStore?: string) => ArtifactStore;
  /** Where runs are tracked besides their records (MLflow, `activities/tracking`); nowhere when absent. */
  tracker?: RunTracker;
}

/**
 * Tracks pipeline runs beside their records (the pipeline worker's is MLflow's, `activities/tracking`): told of the
 * run when it starts and when it ends, it answers the link the record and the workflow's status keep. It throws when
 * the tracking server fails; `recordRun` then fails after writing the record, and is retried.
 */
export interface RunTracker {
  trackRun(status: RunStatusSnapshot, temporal: TemporalIds): Promise<MlflowRunLink>;
}

/** The Temporal identity of the execution a record is written by. */
export interface TemporalIds {
  temporalRunId: string;
  firstExecutionRunId: string;
  namespace: string;
}

/** What `recordRun` answers: the run's MLflow run, when the worker tracks runs. */
export interface RecordRunResult {
  mlflow?: MlflowRunLink;
}

/** The activities {@link createLineageActivities} makes. */
export interface LineageActivities {
  /**
   * Writes the run record of a status and emits the pipeline's event (START, COMPLETE, FAIL or ABORT), then tracks
   * the run (MLflow) when the worker does, and answers the link to its MLflow run (also written into the record).
   * Idempotent: the same status writes the same record, reports the same OpenLineage run and finds the same MLflow
   * run.
   */
  recordRun: (input: RecordRunInput) => Promise<RecordRunResult>;
  /**
   * For a rerun, before any of its steps starts: checks the outputs of the steps it would take from the run it
   * repeats (each artifact read in full and hashed, as for a cache hit), says which it takes, and records those in the
   * rerun (see `./reuse.ts`). Idempotent.
   */
  reuseSteps: (input: ReuseStepsInput) => Promise<ReuseStepsResult>;
}

/** Makes the lineage activities a worker registers next to `runStep`. */
export function createLineageActivities(options: LineageActivitiesOptions = {}): LineageActivities {
  const openStore = (artifactStore: string): ArtifactStore =>
    isAbsolute(artifactStore) ? new FileArtifactStore({ root: artifactStore }) : storeForUri(artifactStore);
  return {
    recordRun: async (input: RecordRunInput): Promise<RecordRunResult> => {
      const context = Context.current();
      const { info } = context;
      const emitter = options.emitter ?? sharedLineageEmitter();
      const owned = options.openStore === undefined;
      const store =
        options.openStore?.(input.status.artifactStore) ??
        openStore(input.status.artifactStore ?? FileArtifactStore.inWorkingDirectory().root);
      const temporal: TemporalIds = {
        temporalRunId: info.workflowExecution?.runId ?? 'unknown',
        firstExecutionRunId: input.firstExecutionRunId,
        namespace: info.workflowNamespace ?? 'default',
      };
      const status = { ...input.status, artifactStore: input.status.artifactStore ?? store.rootUri };
      try {
        // The record first: it refuses a run that is not the owner of the workflow id (RECORD_CONFLICT) before
        // anything is tracked under that id. Then tracking, then the record again if it learnt the MLflow run.
        await withFailureMapping(() => recordRun(store, runRecordFromStatus(status, temporal), emitter, context.log));
        if (options.tracker === undefined) return status.mlflow === undefined ? {} : { mlflow: status.mlflow };
        let mlflow: MlflowRunLink;
        try {
          mlflow = await options.tracker.trackRun(status, temporal);
        } catch (error) {
          throw toApplicationFailure(error);
        }
        if (mlflow.runId !== status.mlflow?.runId) {
          await withFailureMapping(() => writeRunRecord(store, runRecordFromStatus({ ...status, mlflow }, temporal)));
        }
        return { mlflow };
      } finally {
        if (owned) await store.close();
      }
    },
    reuseSteps: async (input: ReuseStepsInput): Promise<ReuseStepsResult> => {
      const context = Context.current();
      const emitter = options.emitter ?? sharedLineageEmitter();
      const owned = options.openStore === undefined;
      const store =
        options.openStore?.(input.artifactStore) ??
        openStore(input.artifactStore ?? FileArtifactStore.inWorkingDirectory().root);
      try {
        return await withFailureMapping(() =>
          reuseStepsIn(store, input, {
            emitter,
            logger: context.log,
            progress: () => context.heartbeat(),
            warn: (message) => {
              context.log.warn(message);
            },
          }),
        );
      } finally {
        if (owned) await store.close();
      }
    },
  };
}
