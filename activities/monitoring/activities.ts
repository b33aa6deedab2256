/**
 * The activities of the drift monitor (`workflows/monitor.ts`): reading and saving the monitor's state (a record in
 * its artifact store), and one check: the reference and the current data compared per feature, the drift report
 * stored as a content-addressed artifact, and its figures logged to MLflow as one run per tick. Each is idempotent: a
 * retried check writes the same report (same bytes, same digest) and finds the tick's MLflow run by its tag.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Context } from '@temporalio/activity';

import { MloeError } from '../../core/errors';
import type { MonitorDefinition } from '../../core/monitoring/definition';
import type { FeatureDrift } from '../../core/monitoring/drift';
import {
  EMPTY_MONITOR_STATE,
  monitorStateSchema,
  type MonitorState,
  type TickObservation,
} from '../../core/monitoring/episodes';
import { getText, putJson, type ArtifactRef, type ArtifactStore } from '../artifacts';
import type { S3StoreConfigInput } from '../artifacts/config';
import { withFailureMapping } from '../failures';
import { fetchSource, parseDataSource } from '../ml/data/sources';
import { predictionLogsSince } from '../serving/prediction-log-index';
import { tagEquals, type MlflowTracker } from '../tracking';
import { compareDatasets, formatOfPath, type DataFile } from './data';
import { checkPerformance, type PerformanceCheck } from './performance';

/** The report's format name. */
export const DRIFT_REPORT_FORMAT = 'mloe.drift-report';

/** One feature as a tick's result summarises it (the report has the bins). */
export interface FeatureSummary {
  feature: string;
  kind: 'numeric' | 'categorical';
  psi: number;
  ksPValue?: number;
  ksStatistic?: number;
  chiSquarePValue?: number;
  drifted: boolean;
  reasons: string[];
}

/** What {@link MonitorActivities.checkDrift} answers. */
export interface DriftCheck {
  observation: TickObservation;
  referenceRows: number;
  currentRows: number;
  features: FeatureSummary[];
  driftedFeatures: string[];
  /** The model's performance on labelled current data, when the monitor measures it. */
  performance?: PerformanceCheck;
  /** The drift report artifact. */
  report: ArtifactRef;
  /** The tick's MLflow run, when the worker tracks. */
  mlflowRunId?: string;
}

/** Input of {@link MonitorActivities.checkDrift}. */
export interface CheckDriftInput {
  definition: MonitorDefinition;
  /** The tick: its workflow id and time (ISO). */
  tick: { id: string; at: string };
}

/** The monitor's activities. */
export interface MonitorActivities {
  loadMonitorState(input: { artifactStore: string; name: string }): Promise<MonitorState>;
  saveMonitorState(input: { artifactStore: string; name: string; state: MonitorState }): Promise<void>;
  checkDrift(input: CheckDriftInput): Promise<DriftCheck>;
}

/** Options of {@link createMonitorActivities}. */
export interface MonitorActivityOptions {
  /** Opens the store at a URI (the worker's store resolver). */
  stores: (location?: string) => ArtifactStore;
  /** Where tick metrics go; none when absent. */
  tracker?: MlflowTracker;
  /** The worker's S3 settings, for `s3://` data. */
  s3?: S3StoreConfigInput;
}

/** MLflow tags of a tick's run. */
export const MONITOR_TAGS = {
  monitor: 'mloe.monitor',
  tick: 'mloe.monitor.tick',
  model: 'mloe.monitor.model',
  observation: 'mloe.drift.observation',
  report: 'mloe.drift.report',
  drifted: 'mloe.drift.features',
} as const;

/** The MLflow experiment of a monitor's ticks. */
export function monitorExperimentName(name: string): string {
  return `mloe-monitor-${name}`;
}

function summarise(feature: FeatureDrift): FeatureSummary {
  return {
    feature: feature.feature,
    kind: feature.kind,
    psi: feature.psi,
    ...(feature.ks === undefined ? {} : { ksPValue: feature.ks.pValue, ksStatistic: feature.ks.statistic }),
    ...(feature.chiSquare === undefined ? {} : { chiSquarePValue: feature.chiSquare.pValue }),
    drifted: feature.drifted,
    reasons: feature.reasons,
  };
}

/** A metric key MLflow accepts for a feature name (letters, digits, `_ - . /` and spaces). */
function metricKey(feature: string, statistic: string): string {
  return `drift.${feature.replace(/[^A-Za-z0-9_\-. /]/g, '_')}.${statistic}`;
}

/** The monitor's activities, bound to the worker's stores and tracker. */
export function createMonitorActivities(options: MonitorActivityOptions): MonitorActivities {
  return {
    loadMonitorState: (input) =>
      withFailureMapping(async () => {
        const value = await options.stores(input.artifactStore).getRecord('monitors', input.name);
        if (value === undefined) return EMPTY_MONITOR_STATE;
        const parsed = monitorStateSchema.safeParse(value);
        if (!parsed.success) {
          throw new MloeError(
            'ARTIFACT_CORRUPT',
            `the state of monitor ${input.name} (records/monitors/${input.name}.json) is not a monitor state: ${parsed.error.message}`,
          );
        }
        return parsed.data;
      }),

    saveMonitorState: (input) =>
      withFailureMapping(() => options.stores(input.artifactStore).putRecord('monitors', input.name, input.state)),

    checkDrift: (input) => withFailureMapping(() => checkDrift(input, options)),
  };
}

async function checkDrift(input: CheckDriftInput, options: MonitorActivityOptions): Promise<DriftCheck> {
  const { definition, tick } = input;
  const store = options.stores(definition.artifactStore);
  const directory = await mkdtemp(join(tmpdir(), 'mloe-monitor-'));
  const signal = activitySignal();
  try {
    const sourceOptions = {
      ...(options.s3 === undefined ? {} : { s3: options.s3 }),
      ...(signal === undefined ? {} : { signal }),
    };
    const referenceSource = parseDataSource(definition.reference, '/');
    const reference = await fetchSource(referenceSource, directory, sourceOptions);
    const referenceFile: DataFile = { path: reference.path, format: formatOfPath(referenceSource.display) };
    const current = await currentData(definition, tick.at, store, directory, sourceOptions);
    const comparison =
      current.file === undefined
        ? { referenceRows: 0, currentRows: 0, features: [], skipped: [] }
        : await compareDatasets(referenceFile, current.file, {
            ...(definition.features === undefined ? {} : { features: definition.features }),
            exclude: definition.exclude,
            thresholds: definition.thresholds,
            bins: definition.bins,
            ...(signal === undefined ? {} : { signal }),
          });
    const drifted = comparison.features.filter((feature) => feature.drifted).map((feature) => feature.feature);
    const performance =
      definition.performance === undefined || current.file === undefined
        ? undefined
        : await performanceOf(definition, current.file, directory, sourceOptions, options.tracker);
    const degraded = performance?.status === 'measured' && performance.degraded;
    const observation: TickObservation =
      comparison.currentRows < definition.minRows
        ? 'insufficient-data'
        : drifted.length >= definition.minDriftedFeatures || degraded
          ? 'drifted'
          : 'stable';
    const report = await putJson(
      store,
      {
        format: DRIFT_REPORT_FORMAT,
        version: 1,
        monitor: definition.name,
        model: { name: definition.model, alias: definition.alias },
        tick,
        observation,
        reference: { source: referenceSource.display, digest: reference.digest, rows: comparison.referenceRows },
        current: { ...current.describe, rows: comparison.currentRows },
        thresholds: definition.thresholds,
        minDriftedFeatures: definition.minDriftedFeatures,
        minRows: definition.minRows,
        driftedFeatures: drifted,
        ...(performance === undefined ? {} : { performance }),
        features: comparison.features,
        skipped: comparison.skipped,
      },
      { type: 'report', metadata: { kind: 'drift-report', monitor: definition.name, observation } },
    );
    const features = comparison.features.map(summarise);
    const result: DriftCheck = {
      observation,
      referenceRows: comparison.referenceRows,
      currentRows: comparison.currentRows,
      features,
      driftedFeatures: drifted,
      ...(performance === undefined ? {} : { performance }),
      report,
    };
    if (options.tracker === undefined) return result;
    const mlflowRunId = await logTick(options.tracker, definition, tick, result);
    return { ...result, mlflowRunId };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** The performance check of a tick; it needs the MLflow registry to load the deployed model. */
async function performanceOf(
  definition: MonitorDefinition,
  current: DataFile,
  directory: string,
  sourceOptions: { s3?: S3StoreConfigInput; signal?: AbortSignal },
  tracker: MlflowTracker | undefined,
): Promise<PerformanceCheck> {
  if (tracker === undefined) {
    throw new MloeError(
      'TRACKING_NOT_CONFIGURED',
      'a monitor that measures performance loads the deployed model from the MLflow registry, and this worker has none: start it with MLFLOW_TRACKING_URI set',
    );
  }
  const source = parseDataSource(definition.performance?.evaluation ?? '', '/');
  const local = await fetchSource(source, join(directory), sourceOptions);
  return checkPerformance(tracker.client, definition, current, {
    path: local.path,
    format: formatOfPath(source.display),
  });
}

function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** The current data of a tick as a local file (none when serving logged nothing), and how the report names it. */
async function currentData(
  definition: MonitorDefinition,
  at: string,
  store: ArtifactStore,
  directory: string,
  sourceOptions: { s3?: S3StoreConfigInput; signal?: AbortSignal },
): Promise<{ file?: DataFile; describe: Record<string, unknown> }> {
  if (definition.current.kind === 'batch') {
    const source = parseDataSource(definition.current.uri, '/');
    const local = await fetchSource(source, directory, sourceOptions);
    return {
      file: { path: local.path, format: formatOfPath(source.display) },
      describe: { kind: 'batch', source: source.display, digest: local.digest },
    };
  }
  const since = new Date(Date.parse(at) - definition.current.windowMs).toISOString();
  const logs = await predictionLogsSince(store, definition.model, since);
  const rows: string[] = [];
  for (const log of logs) {
    for (const line of (await getText(store, log.uri)).split('\n')) {
      if (line.trim() === '') continue;
      const entry = JSON.parse(line) as { time?: string; model?: string; input?: unknown };
      if (
        entry.model === definition.model &&
        typeof entry.time === 'string' &&
        entry.time >= since &&
        entry.time <= at &&
        typeof entry.input === 'object'
      ) {
        rows.push(JSON.stringify(entry.input));
      }
    }
  }
  const describe = { kind: 'serving', since, until: at, logs: logs.map((log) => log.uri) };
  if (rows.length === 0) return { describe };
  const path = join(directory, 'serving-inputs.jsonl');
  await writeFile(path, `${rows.join('\n')}\n`);
  return { file: { path, format: 'json' }, describe };
}

/** Logs a tick's figures to its MLflow run (found again by its tag when retried); the run id. */
async function logTick(
  tracker: MlflowTracker,
  definition: MonitorDefinition,
  tick: { id: string; at: string },
  check: DriftCheck,
): Promise<string> {
  const experiment = await tracker.client.experiments.ensure({
    name: monitorExperimentName(definition.name),
    tags: { [MONITOR_TAGS.monitor]: definition.name },
  });
  const experimentId = experiment.experimentId;
  const existing = await tracker.findRun(experimentId, tagEquals(MONITOR_TAGS.tick, tick.id));
  const runId =
    existing?.runId ??
    (
      await tracker.client.runs.create({
        experimentId,
        runName: `tick ${tick.at}`,
        startTime: Date.parse(tick.at),
        tags: { [MONITOR_TAGS.tick]: tick.id, [MONITOR_TAGS.monitor]: definition.name },
      })
    ).info.runId;
  const timestamp = Date.parse(tick.at);
  const metrics = [
    { key: 'drift.drifted_features', value: check.driftedFeatures.length, timestamp },
    { key: 'drift.current_rows', value: check.currentRows, timestamp },
    { key: 'drift.reference_rows', value: check.referenceRows, timestamp },
    ...check.features.flatMap((feature) => [
      { key: metricKey(feature.feature, 'psi'), value: feature.psi, timestamp },
      ...(feature.ksPValue === undefined
        ? []
        : [
            { key: metricKey(feature.feature, 'ks_pvalue'), value: feature.ksPValue, timestamp },
            { key: metricKey(feature.feature, 'ks_statistic'), value: feature.ksStatistic ?? 0, timestamp },
          ]),
      ...(feature.chiSquarePValue === undefined
        ? []
        : [{ key: metricKey(feature.feature, 'chi2_pvalue'), value: feature.chiSquarePValue, timestamp }]),
    ]),
  ];
  const performance = check.performance;
  if (performance?.status === 'measured') {
    metrics.push(
      { key: `performance.${performance.metric}.current`, value: performance.current, timestamp },
      { key: `performance.${performance.metric}.evaluation`, value: performance.evaluation, timestamp },
      { key: 'performance.degradation', value: performance.degradation, timestamp },
    );
  }
  const tags = [
    { key: MONITOR_TAGS.model, value: `${definition.model}@${definition.alias}` },
    { key: MONITOR_TAGS.observation, value: check.observation },
    { key: MONITOR_TAGS.report, value: check.report.uri },
    { key: MONITOR_TAGS.drifted, value: check.driftedFeatures.join(',').slice(0, 4000) },
  ];
  const problems = await tracker.logChecked(runId, { metrics, tags });
  for (const problem of problems) tracker.warn(`monitor ${definition.name}: ${problem}`);
  await tracker.client.runs.terminate(runId, 'FINISHED', timestamp);
  return runId;
}
