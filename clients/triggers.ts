/**
 * The typed client API of data-arrival triggers (docs/triggers.md): create one (every flag and the pipeline checked
 * first, so nothing starts for bad input; the spec is validated and pinned into the trigger), list, describe, pause,
 * unpause and delete them. A trigger is a `watchPrefix` workflow with id `mloe-trigger-<name>`, its name as the
 * `MloeTrigger` search attribute and its settings in the memo; the runs it starts carry `MloeTrigger` too.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';

import { ConfigError, MloeError } from '../core/errors';
import { SpecInvalidError, createStepRegistry, type StepDescriptor } from '../core/spec';
import { parseDuration } from '../core/spec/units';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { compileGlob } from '../core/triggers/glob';
import { parseFileUri, parseS3Uri, uriScheme } from '../activities/artifacts/keys';
import {
  MAX_TRIGGER_NAME_LENGTH,
  TRIGGER_MEMO_KEY,
  TRIGGER_NAME_PATTERN,
  TRIGGER_SEARCH_ATTRIBUTE,
  WATCH_PREFIX_WORKFLOW_TYPE,
  describeTriggerQuery,
  pauseTriggerSignal,
  triggerWorkflowId,
  unpauseTriggerSignal,
  type TriggerDescription,
  type TriggerSettings,
  type WatchPrefixInput,
  type WatchPrefixWorkflow,
} from '../workflows/trigger-types';
import { PIPELINE_SEARCH_ATTRIBUTE, PIPELINE_TASK_QUEUE, type RunPipelineInput } from '../workflows/types';
import { queryString } from './list';
import { loadPipelineForRun, runInputOfLoaded, type PipelineSource, type StartPipelineOptions } from './pipelines';

/** The default poll interval. */
export const DEFAULT_TRIGGER_POLL = '1m';
/** The shortest poll interval accepted. */
export const MIN_TRIGGER_POLL_MS = 100;
/** The default settle window (see `TriggerSettings.settleMs`). */
export const DEFAULT_TRIGGER_SETTLE = '5m';
/** The parameter that receives the object's URI by default. */
export const DEFAULT_URI_PARAM = 'uri';
/** The largest `maxRunsPerHour` (the trigger remembers each start of the last hour). */
export const MAX_RUNS_PER_HOUR = 10_000;

/** Options of {@link createTrigger}. */
export type CreateTriggerOptions = PipelineSource &
  Pick<
    StartPipelineOptions,
    'params' | 'paramTexts' | 'noCache' | 'artifactStore' | 'artifactRoot' | 'workingDir' | 'taskQueue'
  > & {
    /** The trigger's name: lowercase letters, digits and `-`. */
    name: string;
    /** What to watch: `s3://bucket/prefix/`, `file:///dir/`, or a directory path. */
    on: string;
    /** Only relative keys matching this glob count (`*.csv`, `**\/*.parquet`). */
    pattern?: string;
    /** Partition mode: a run per directory once this marker object appears in it (e.g. `_SUCCESS`). */
    marker?: string;
    /** A duration (`30s`, `5m`): bursts with gaps shorter than this become one run. */
    debounce?: string;
    /** How often to list; {@link DEFAULT_TRIGGER_POLL} by default. */
    poll?: string;
    /** At most this many runs start in any hour. */
    maxRunsPerHour?: number;
    /** The pipeline parameter that gets the object's URI; {@link DEFAULT_URI_PARAM} by default. */
    uriParam?: string;
    /**
     * With `debounce`: the pipeline parameter (a string) that gets the URI of the run's object manifest, a JSON
     * artifact listing every object the run covers (docs/triggers.md).
     */
    objectsParam?: string;
    /** Objects present at creation start runs too. */
    includeExisting?: boolean;
    /** See `TriggerSettings.settleMs`; {@link DEFAULT_TRIGGER_SETTLE} by default. */
    settle?: string;
    /** Steps `uses:` may name; the built-in steps by default (must match the workers). */
    descriptors?: readonly StepDescriptor[];
    /** The task queue of the trigger's workflow; the runs' (`taskQueue`) by default. */
    triggerTaskQueue?: string;
  };

/** A trigger as `list` shows it (from visibility: no worker needed). */
export interface TriggerSummary extends TriggerSettings {
  paused: boolean;
  note?: string;
  /** When its workflow started (the trigger's creation, or its latest continue-as-new). */
  startTime: string;
}

/** Checks every option and validates the pipeline; what `watchPrefix` is started with. Nothing is started. */
export async function prepareTrigger(options: CreateTriggerOptions): Promise<WatchPrefixInput> {
  const name = checkTriggerName(options.name);
  const on = normaliseLocation(options.on);
  if (options.pattern !== undefined) compileGlob(options.pattern);
  if (options.marker !== undefined && !/^[^/\\\0]+$/.test(options.marker)) {
    throw new ConfigError(
      `--marker must be an object name without '/', e.g. _SUCCESS; got ${JSON.stringify(options.marker)}`,
    );
  }
  const pollMs = durationMs('--poll', options.poll ?? DEFAULT_TRIGGER_POLL);
  if (pollMs < MIN_TRIGGER_POLL_MS) throw new ConfigError(`--poll must be at least ${MIN_TRIGGER_POLL_MS}ms`);
  const debounceMs = options.debounce === undefined ? undefined : durationMs('--debounce', options.debounce);
  const settleMs = durationMs('--settle', options.settle ?? DEFAULT_TRIGGER_SETTLE);
  const max = options.maxRunsPerHour;
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > MAX_RUNS_PER_HOUR)) {
    throw new ConfigError(`--max-runs-per-hour must be a whole number from 1 to ${MAX_RUNS_PER_HOUR}, got ${max}`);
  }
  const uriParam = options.uriParam ?? DEFAULT_URI_PARAM;
  const { objectsParam } = options;
  if (objectsParam !== undefined && debounceMs === undefined) {
    throw new ConfigError(
      '--objects-param needs --debounce: only a debounced run covers several objects (without it, each run gets its ' +
        `object's URI in --uri-param)`,
    );
  }
  if (objectsParam !== undefined && objectsParam === uriParam) {
    throw new ConfigError(`--objects-param and --uri-param must name different parameters, both are '${uriParam}'`);
  }
  const descriptors = [...(options.descriptors ?? BUILTIN_STEPS)];
  const registry = createStepRegistry(descriptors);
  const source = pipelineSource(options);
  const paramTexts = options.paramTexts ?? [];
  const missing = (what: string, param = uriParam): ConfigError =>
    param === uriParam
      ? new ConfigError(
          `the pipeline ${what}: each run gets the object's URI in it. Declare ` +
            `'params: { ${uriParam}: { type: string } }' in the spec, or name another string parameter with --uri-param`,
        )
      : new ConfigError(
          `the pipeline ${what}: each debounced run gets the URI of its object manifest in it. Declare ` +
            `'params: { ${param}: { type: string } }' in the spec, or name another string parameter with --objects-param`,
        );
  // The location stands in for the URIs while the pipeline is validated.
  const stand = { [uriParam]: on, ...(objectsParam === undefined ? {} : { [objectsParam]: on }) };
  const pipeline = await loadPipelineForRun(
    { ...source, paramTexts, params: { ...options.params, ...stand } },
    registry,
  ).catch((error: unknown) => {
    const undeclared = [uriParam, ...(objectsParam === undefined ? [] : [objectsParam])].find(
      (param) =>
        error instanceof SpecInvalidError &&
        error.issues.some((issue) => issue.code === 'UNKNOWN_PARAM_VALUE' && issue.path === `params.${param}`),
    );
    throw undeclared === undefined ? error : missing(`declares no parameter '${undeclared}'`, undeclared);
  });
  const { spec } = pipeline;
  for (const param of [uriParam, ...(objectsParam === undefined ? [] : [objectsParam])]) {
    const declared = spec.params?.[param]?.type;
    if (declared !== 'string') throw missing(`declares '${param}' as ${declared ?? 'nothing'}, not a string`, param);
  }
  const taskQueue = options.taskQueue ?? PIPELINE_TASK_QUEUE;
  const run: RunPipelineInput = await runInputOfLoaded(pipeline, descriptors, options);
  const settings: TriggerSettings = {
    name,
    on,
    ...(options.pattern === undefined ? {} : { pattern: options.pattern }),
    ...(options.marker === undefined ? {} : { marker: options.marker }),
    pollMs,
    ...(debounceMs === undefined ? {} : { debounceMs }),
    ...(max === undefined ? {} : { maxRunsPerHour: max }),
    uriParam,
    ...(objectsParam === undefined ? {} : { objectsParam }),
    includeExisting: options.includeExisting ?? false,
    settleMs,
    pipeline: spec.metadata.name,
    specHash: run.specHash,
    taskQueue,
  };
  return { settings, run };
}

/**
 * Creates a trigger: validates everything ({@link prepareTrigger}), refuses a name in use (`TRIGGER_EXISTS`), and
 * starts its workflow. Answers the settings it runs with.
 */
export async function createTrigger(client: Client, options: CreateTriggerOptions): Promise<TriggerSettings> {
  return startTrigger(client, await prepareTrigger(options), options.triggerTaskQueue);
}

/**
 * Starts the workflow of a trigger {@link prepareTrigger} checked (the CLI checks first, so bad input is reported
 * even without a Temporal to reach); `TRIGGER_EXISTS` when the name is in use. `taskQueue` is the trigger workflow's,
 * the runs' by default.
 */
export async function startTrigger(
  client: Client,
  input: WatchPrefixInput,
  taskQueue?: string,
): Promise<TriggerSettings> {
  const { settings } = input;
  const workflowId = triggerWorkflowId(settings.name);
  const exists = (): MloeError =>
    new MloeError(
      'TRIGGER_EXISTS',
      `a trigger named ${settings.name} exists already: delete it first (mloe trigger delete ${settings.name}) or ` +
        'choose another name',
    );
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    if (description.status.name === 'RUNNING') throw exists();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  try {
    await client.workflow.start<WatchPrefixWorkflow>(WATCH_PREFIX_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: taskQueue ?? settings.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: TRIGGER_SEARCH_ATTRIBUTE, value: settings.name },
        { key: PIPELINE_SEARCH_ATTRIBUTE, value: settings.pipeline },
      ],
      memo: { [TRIGGER_MEMO_KEY]: { ...settings, paused: false } },
      staticSummary: `trigger ${settings.name}: ${settings.pipeline} on ${settings.on}`,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw exists();
    throw error;
  }
  return settings;
}

/** The running triggers, by name (from visibility). */
export async function listTriggers(client: Client): Promise<TriggerSummary[]> {
  const query = `WorkflowType = ${queryString(WATCH_PREFIX_WORKFLOW_TYPE)} AND ExecutionStatus = 'Running'`;
  const rows: TriggerSummary[] = [];
  for await (const execution of client.workflow.list({ query })) {
    const summary = summaryOf(execution);
    if (summary !== undefined) rows.push(summary);
  }
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function summaryOf(execution: WorkflowExecutionInfo): TriggerSummary | undefined {
  const memo = execution.memo?.[TRIGGER_MEMO_KEY];
  if (memo === null || typeof memo !== 'object') return undefined;
  const value = memo as Partial<TriggerSummary>;
  if (typeof value.name !== 'string' || typeof value.on !== 'string') return undefined;
  return { ...(value as TriggerSummary), startTime: execution.startTime.toISOString() };
}

/** A running trigger's settings and state (its `describe` query: a worker must be up). */
export async function describeTrigger(client: Client, name: string): Promise<TriggerDescription> {
  const handle = await runningTrigger(client, name);
  return handle.query(describeTriggerQuery);
}

/** Pauses a trigger: it stops listing and starting runs; what arrives meanwhile is found on unpause. */
export async function pauseTrigger(client: Client, name: string, note?: string): Promise<void> {
  const handle = await runningTrigger(client, name);
  await handle.signal(pauseTriggerSignal, note === undefined ? {} : { note });
}

/** Unpauses a trigger: it lists at once. */
export async function unpauseTrigger(client: Client, name: string, note?: string): Promise<void> {
  const handle = await runningTrigger(client, name);
  await handle.signal(unpauseTriggerSignal, note === undefined ? {} : { note });
}

/** Deletes a trigger: its workflow is terminated; the runs it started go on. */
export async function deleteTrigger(client: Client, name: string): Promise<void> {
  const handle = await runningTrigger(client, name);
  await handle.terminate(`trigger ${name} deleted`);
}

async function runningTrigger(client: Client, name: string) {
  checkTriggerName(name);
  const handle = client.workflow.getHandle<WatchPrefixWorkflow>(triggerWorkflowId(name));
  const notFound = new MloeError('TRIGGER_NOT_FOUND', `no trigger named ${name} (mloe trigger list shows them)`);
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING' || description.type !== WATCH_PREFIX_WORKFLOW_TYPE) throw notFound;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw notFound;
    throw error;
  }
  return handle;
}

/** Checks a trigger name; `CONFIG_INVALID` saying how to write one. */
export function checkTriggerName(name: string): string {
  if (name.length > MAX_TRIGGER_NAME_LENGTH || !TRIGGER_NAME_PATTERN.test(name)) {
    throw new ConfigError(
      `invalid trigger name ${JSON.stringify(name)}: use lowercase letters, digits and '-' (at most ` +
        `${MAX_TRIGGER_NAME_LENGTH}, starting and ending with a letter or digit), e.g. 'new-sales-data'`,
    );
  }
  return name;
}

/**
 * The watched location as the trigger keeps it, ending in `/`: `s3://bucket/prefix/` (checked as the stores check
 * them) or `file:///absolute/dir/` (a path is resolved against the current directory). `PATH_INVALID` otherwise.
 */
export function normaliseLocation(on: string): string {
  const scheme = uriScheme(on);
  if (scheme === 's3') {
    const { bucket, key } = parseS3Uri(on);
    return `s3://${bucket}/${key === '' ? '' : `${key}/`}`;
  }
  if (scheme === 'file') {
    const path = parseFileUri(on);
    return path === '/' ? 'file:///' : `${pathToFileURL(path).href}/`;
  }
  if (scheme !== undefined && !(scheme.length === 1 && !isAbsolute(on))) {
    throw new MloeError(
      'PATH_INVALID',
      `--on must be s3://bucket/prefix/, file:///absolute/dir/ or a directory, got "${on}" (unsupported scheme ${scheme}://)`,
    );
  }
  if (on === '') throw new MloeError('PATH_INVALID', '--on must name a location, e.g. s3://bucket/incoming/');
  return normaliseLocation(pathToFileURL(resolve(on)).href);
}

function durationMs(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new ConfigError(
      `${flag} ${JSON.stringify(text)} is not a duration: write e.g. '30s', '5m', '1h30m' or '500ms'`,
    );
  }
  return ms;
}

function pipelineSource(options: CreateTriggerOptions): PipelineSource {
  if ('file' in options) return { file: options.file };
  return {
    spec: options.spec,
    ...(options.baseDirectory === undefined ? {} : { baseDirectory: options.baseDirectory }),
  };
}
