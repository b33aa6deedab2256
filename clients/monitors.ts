/**
 * Drift monitors from the client side (docs/monitoring.md): each monitor is a Temporal Schedule
 * (`mloe-monitor-<name>`, created with `@temporalio/client`'s ScheduleClient) whose action starts a `monitorModel`
 * tick with the monitor's definition and its retraining pipeline's run input, validated and pinned here. Everything
 * is checked before anything is created: the model reference, durations, thresholds, the reference data, the
 * pipeline (`SPEC_INVALID`), and that no monitor has the name.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
} from '@temporalio/client';

import { ConfigError, MloeError } from '../core/errors';
import {
  MONITOR_NAME_PATTERN,
  MONITOR_WORKFLOW_TYPE,
  monitorDefinitionSchema,
  monitorScheduleId,
  type MonitorDefinition,
} from '../core/monitoring/definition';
import { createStepRegistry, type StepDescriptor } from '../core/spec';
import { DURATION_HINT, parseDuration } from '../core/spec/units';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { monitorStateSchema, type MonitorState } from '../core/monitoring/episodes';
import { storeForUri } from '../activities/artifacts';
import { uriScheme } from '../activities/artifacts/keys';
import { formatOfPath } from '../activities/monitoring/data';
import { PIPELINE_TASK_QUEUE, type MonitorTickInput, type RunPipelineInput } from '../workflows/types';
import { loadPipelineForRun, runArtifactStore, runMetadata, specHash } from './pipelines';

/** The memo key of a monitor's schedule: its definition. */
export const MONITOR_MEMO_KEY = 'mloeMonitor';

/** Options of {@link createMonitor}: the CLI's flags, typed. */
export interface CreateMonitorOptions {
  /** `MODEL@ALIAS` (or `models:/MODEL@ALIAS`): the deployed model. */
  model: string;
  /** The monitor's name; `<model>-<alias>` made safe by default. */
  name?: string;
  /** The retraining pipeline's spec file. */
  pipeline: string;
  /** Its parameter values as `name=value` (`-p`). */
  paramTexts?: readonly string[];
  /** The reference (training) data: a path, `file://` or `s3://` URI of Parquet, CSV or JSON. */
  reference: string;
  /** A batch to compare each tick (read anew each time); without it, the model's sampled serving logs. */
  batch?: string;
  /** How far back serving logs count (a duration); the interval by default. */
  window?: string;
  /** The interval of ticks (`1h`). */
  every: string;
  psi: number;
  /** KS p-value threshold of numeric features. */
  ks?: number;
  /** Chi-square p-value threshold of categorical features. */
  chiSquare?: number;
  /** No retraining run within this long of the last (`24h` by default). */
  cooldown?: string;
  /** Retraining runs per UTC day at most (1 by default). */
  maxRunsPerDay?: number;
  /** The label column: when the current data has it, the model's performance is measured too (with `evaluation`). */
  label?: string;
  /** The held-out data the model was evaluated on (path or URI, with labels): the baseline of its performance. */
  evaluation?: string;
  /** Accuracy points lost (or RMSE gained) beyond this are drift; 0.05 by default. */
  maxDegradation?: number;
  features?: readonly string[];
  exclude?: readonly string[];
  minRows?: number;
  minDriftedFeatures?: number;
  bins?: number;
  /** The store of reports, state and the retraining runs; `<workingDir>/.mloe/artifacts` by default. */
  artifactStore?: string;
  /** Where the pipeline's relative paths resolve; the current directory by default. */
  workingDir?: string;
  /** The task queue of ticks and runs; `mloe-pipelines` by default. */
  taskQueue?: string;
  /** Create it paused. */
  paused?: boolean;
  note?: string;
  /** The steps the pipeline may use; the built-in steps by default. */
  descriptors?: readonly StepDescriptor[];
}

/** A monitor as `list` and `describe` show it. */
export interface MonitorSummary {
  name: string;
  scheduleId: string;
  definition: MonitorDefinition;
  paused: boolean;
  note?: string;
  nextRuns: Date[];
}

/** {@link describeMonitor}'s answer: the summary, recent ticks, and the monitor's state. */
export interface MonitorDetails extends MonitorSummary {
  recentTicks: { scheduledAt: Date; workflowId: string; runId: string }[];
  /** The state the ticks keep (open episode, runs started, last tick); absent before the first tick. */
  state?: MonitorState;
}

function parseModelReference(text: string): { model: string; alias: string } {
  const match = /^(?:models:\/)?([^@/]+)@([^@/]+)$/.exec(text.trim());
  if (match === null) {
    throw new ConfigError(
      `MODEL@ALIAS: expected a registered model and an alias such as penguins@champion, got "${text}"`,
    );
  }
  return { model: match[1] as string, alias: match[2] as string };
}

function duration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new ConfigError(`--${flag}: "${text}" is not a duration: ${DURATION_HINT}`);
  return ms;
}

function pValue(flag: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(value > 0 && value < 1)) throw new ConfigError(`--${flag}: expected a p-value between 0 and 1, got ${value}`);
  return value;
}

function positiveInteger(flag: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(`--${flag}: expected a positive integer, got ${value}`);
  return value;
}

/** The default name of a monitor of `model@alias`. */
export function defaultMonitorName(model: string, alias: string): string {
  return `${model}-${alias}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, 'm-')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/**
 * Checks a data location: a path (made absolute against `workingDir`; it must exist and be a .parquet, .csv or
 * .json file), `file://` or `s3://`. Returns it as the tick reads it.
 */
function dataLocation(flag: string, text: string, workingDir: string): string {
  const scheme = uriScheme(text);
  if (scheme === 's3') {
    formatOfPathFor(flag, text);
    return text;
  }
  let path: string;
  if (scheme === 'file') path = fileURLToPath(text);
  else if (scheme === undefined) path = isAbsolute(text) ? text : resolve(workingDir, text);
  else throw new ConfigError(`--${flag}: "${text}" must be a path, a file:// or an s3:// URI`);
  formatOfPathFor(flag, path);
  if (!existsSync(path)) throw new ConfigError(`--${flag}: ${path} does not exist`);
  return pathToFileURL(path).href;
}

function formatOfPathFor(flag: string, path: string): void {
  try {
    formatOfPath(path);
  } catch (error) {
    throw new ConfigError(`--${flag}: ${(error as Error).message}`);
  }
}

/**
 * Builds and checks a monitor's definition and tick input from `options`, reading the pipeline file; throws
 * `CONFIG_INVALID` or `SPEC_INVALID` saying what is wrong. Nothing is created.
 */
export async function prepareMonitor(options: CreateMonitorOptions): Promise<MonitorTickInput> {
  const { model, alias } = parseModelReference(options.model);
  const name = options.name ?? defaultMonitorName(model, alias);
  if (!MONITOR_NAME_PATTERN.test(name)) {
    throw new ConfigError(
      `--name: "${name}" is not a monitor name: lower-case letters, digits and "-", starting with a letter, at most 63`,
    );
  }
  const workingDir = resolve(options.workingDir ?? '.');
  const everyMs = duration('every', options.every);
  if (!(Number.isFinite(options.psi) && options.psi > 0)) {
    throw new ConfigError(
      `--psi: expected a positive number (0.2 is the usual "significant shift"), got ${options.psi}`,
    );
  }
  const ks = pValue('ks', options.ks);
  const chiSquare = pValue('chi-square', options.chiSquare);
  const maxRunsPerDay = positiveInteger('max-runs-per-day', options.maxRunsPerDay) ?? 1;
  const minRows = positiveInteger('min-rows', options.minRows);
  const minDrifted = positiveInteger('min-drifted-features', options.minDriftedFeatures);
  const bins = positiveInteger('bins', options.bins);
  if (bins !== undefined && (bins < 2 || bins > 100)) throw new ConfigError(`--bins: expected 2 to 100, got ${bins}`);
  const cooldownMs = options.cooldown === undefined ? 86_400_000 : duration('cooldown', options.cooldown);
  if (options.batch !== undefined && options.window !== undefined) {
    throw new ConfigError('--window applies to serving logs; a --batch is read whole');
  }
  const reference = dataLocation('reference', options.reference, workingDir);
  if ((options.label === undefined) !== (options.evaluation === undefined)) {
    throw new ConfigError(
      '--label and --evaluation go together: the model is scored on the labelled current data and on its evaluation data',
    );
  }
  if (options.maxDegradation !== undefined && !(options.maxDegradation >= 0)) {
    throw new ConfigError(`--max-degradation: expected a non-negative number, got ${options.maxDegradation}`);
  }
  const performance =
    options.label === undefined || options.evaluation === undefined
      ? undefined
      : {
          label: options.label,
          evaluation: dataLocation('evaluation', options.evaluation, workingDir),
          maxDegradation: options.maxDegradation ?? 0.05,
        };
  const current =
    options.batch !== undefined
      ? { kind: 'batch' as const, uri: dataLocation('batch', options.batch, workingDir) }
      : {
          kind: 'serving' as const,
          windowMs: options.window === undefined ? everyMs : duration('window', options.window),
        };
  const descriptors = [...(options.descriptors ?? BUILTIN_STEPS)];
  const file = resolve(workingDir, options.pipeline);
  if (!existsSync(file)) throw new ConfigError(`--pipeline: ${file} does not exist`);
  const pipeline = await loadPipelineForRun(
    { file, ...(options.paramTexts === undefined ? {} : { paramTexts: options.paramTexts }) },
    createStepRegistry(descriptors),
  );
  const artifactStore = runArtifactStore(
    options.artifactStore === undefined ? { artifactRoot: workingDir } : { artifactStore: options.artifactStore },
  );
  const hash = specHash(pipeline.spec);
  const retrain: RunPipelineInput = {
    spec: pipeline.spec,
    params: pipeline.params ?? {},
    specHash: hash,
    artifactStore,
    workingDir,
    metadata: await runMetadata(file),
    descriptors,
    specPath: pipeline.specPath,
    pipelines: Object.fromEntries(
      Object.entries(pipeline.pipelines).map(([path, sub]) => [path, { spec: sub, specHash: specHash(sub) }]),
    ),
  };
  const parsed = monitorDefinitionSchema.safeParse({
    name,
    model,
    alias,
    reference,
    current,
    ...(options.features === undefined ? {} : { features: [...options.features] }),
    ...(performance === undefined ? {} : { performance }),
    exclude: [...(options.exclude ?? [])],
    thresholds: {
      psi: options.psi,
      ...(ks === undefined ? {} : { ksPValue: ks }),
      ...(chiSquare === undefined ? {} : { chiSquarePValue: chiSquare }),
    },
    ...(minRows === undefined ? {} : { minRows }),
    ...(minDrifted === undefined ? {} : { minDriftedFeatures: minDrifted }),
    ...(bins === undefined ? {} : { bins }),
    everyMs,
    cooldownMs,
    maxRunsPerDay,
    artifactStore,
    pipeline: { name: pipeline.spec.metadata.name, file, specHash: hash },
  });
  if (!parsed.success) throw new ConfigError(`invalid monitor: ${parsed.error.message}`);
  return { definition: parsed.data, retrain };
}

/** Creates a monitor: its schedule, ticking every `every` (skipping a tick while the last one runs). */
export async function createMonitor(client: Client, options: CreateMonitorOptions): Promise<MonitorSummary> {
  const input = await prepareMonitor(options);
  const { definition } = input;
  const scheduleId = monitorScheduleId(definition.name);
  try {
    const handle = await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: definition.everyMs }] },
      action: {
        type: 'startWorkflow',
        workflowType: MONITOR_WORKFLOW_TYPE,
        workflowId: scheduleId,
        taskQueue: options.taskQueue ?? PIPELINE_TASK_QUEUE,
        args: [input],
        workflowExecutionTimeout: '1 hour',
      },
      // A tick missed while the server was down runs once on its return, if within an interval (Temporal's minimum
      // catch-up window is 10 s).
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: Math.max(definition.everyMs, 60_000) },
      memo: { [MONITOR_MEMO_KEY]: definition },
      state: {
        paused: options.paused ?? false,
        note: options.note ?? `drift monitor of ${definition.model}@${definition.alias}`,
      },
    });
    return summaryOf(definition.name, await handle.describe());
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) {
      throw new MloeError(
        'MONITOR_EXISTS',
        `a monitor named ${definition.name} exists already: delete it first (mloe monitor delete ${definition.name}) or choose another --name`,
        { cause: error },
      );
    }
    throw error;
  }
}

function definitionOf(memo: Record<string, unknown> | undefined): MonitorDefinition | undefined {
  const parsed = monitorDefinitionSchema.safeParse(memo?.[MONITOR_MEMO_KEY]);
  return parsed.success ? parsed.data : undefined;
}

function summaryOf(name: string, description: ScheduleDescription): MonitorSummary {
  const definition = definitionOf(description.memo);
  if (definition === undefined) {
    throw new MloeError('MONITOR_NOT_FOUND', `schedule ${description.scheduleId} is not a drift monitor`);
  }
  return {
    name,
    scheduleId: description.scheduleId,
    definition,
    paused: description.state.paused,
    ...(description.state.note === undefined ? {} : { note: description.state.note }),
    nextRuns: description.info.nextActionTimes,
  };
}

async function describeSchedule(client: Client, name: string): Promise<ScheduleDescription> {
  try {
    return await client.schedule.getHandle(monitorScheduleId(name)).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) {
      throw new MloeError('MONITOR_NOT_FOUND', `no monitor named ${name}: mloe monitor list shows those there are`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Every monitor of the namespace, by name. */
export async function listMonitors(client: Client): Promise<MonitorSummary[]> {
  const found: MonitorSummary[] = [];
  for await (const schedule of client.schedule.list()) {
    if (!schedule.scheduleId.startsWith(monitorScheduleId(''))) continue;
    const definition = definitionOf(schedule.memo);
    if (definition === undefined) continue;
    found.push({
      name: definition.name,
      scheduleId: schedule.scheduleId,
      definition,
      paused: schedule.state.paused,
      ...(schedule.state.note === undefined ? {} : { note: schedule.state.note }),
      nextRuns: schedule.info.nextActionTimes,
    });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** One monitor: its definition, schedule, recent ticks and the state its ticks keep. */
export async function describeMonitor(client: Client, name: string): Promise<MonitorDetails> {
  const description = await describeSchedule(client, name);
  const summary = summaryOf(name, description);
  const store = storeForUri(summary.definition.artifactStore);
  let state: MonitorState | undefined;
  try {
    const parsed = monitorStateSchema.safeParse(await store.getRecord('monitors', name));
    if (parsed.success) state = parsed.data;
  } finally {
    await store.close();
  }
  return {
    ...summary,
    recentTicks: description.info.recentActions.map((action) => ({
      scheduledAt: action.scheduledAt,
      workflowId: action.action.workflow.workflowId,
      runId: action.action.workflow.firstExecutionRunId,
    })),
    ...(state === undefined ? {} : { state }),
  };
}

/** Pauses a monitor's ticks (`paused` false: resumes them), with a note. */
export async function pauseMonitor(client: Client, name: string, options: { paused?: boolean; note?: string } = {}) {
  await describeSchedule(client, name);
  const handle = client.schedule.getHandle(monitorScheduleId(name));
  if (options.paused === false) await handle.unpause(options.note ?? 'resumed by mloe monitor unpause');
  else await handle.pause(options.note ?? 'paused by mloe monitor pause');
}

/** Runs a tick now (skipped if one is running). */
export async function triggerMonitor(client: Client, name: string): Promise<void> {
  await describeSchedule(client, name);
  await client.schedule.getHandle(monitorScheduleId(name)).trigger();
}

/** Deletes a monitor's schedule; its reports, state and the runs it started stay. */
export async function deleteMonitor(client: Client, name: string): Promise<void> {
  await describeSchedule(client, name);
  await client.schedule.getHandle(monitorScheduleId(name)).delete();
}
