/**
 * The typed client API of pipeline schedules (docs/schedules.md): Temporal Schedules whose action is an ordinary
 * `runPipeline` start, built by `clients/pipelines.ts` as for `mloe run`, carrying the validated spec and its hash.
 * The spec is pinned: editing the file changes nothing until {@link updatePipelineSchedule} re-pins it. Each run's id
 * is `<schedule>-<scheduled time>` (Temporal appends the time), it carries the `MloeSchedule` search attribute, and
 * the schedule's `scheduledTimeParam` parameter (`scheduledTime` when the spec declares it) gets the scheduled time.
 * Everything is a plain Temporal Schedule, so the Temporal Web UI and `temporal schedule` show and drive it as usual.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
  type ScheduleSpecDescription,
  type Workflow,
} from '@temporalio/client';

import { ConfigError, MloeError } from '../../core/errors';
import { createStepRegistry, type ParamSpec } from '../../core/spec';
import { BUILTIN_STEPS } from '../../core/steps/builtin';
import {
  PIPELINE_SEARCH_ATTRIBUTE,
  RUN_PIPELINE_WORKFLOW_TYPE,
  SCHEDULE_SEARCH_ATTRIBUTE,
  type RunPipelineInput,
} from '../../workflows/types';
import {
  pipelineRunInput,
  pipelineRunStartFields,
  type PipelineRunInputOptions,
  type StartPipelineOptions,
} from '../pipelines';
import { loadPipelineFileTree, loadPipelineObjectTree } from '../spec-files';
import { overlapPolicyName, parseOverlapPolicy, schedulePolicies, type SchedulePolicyOptions } from './policies';
import { diffSpecs, type SpecChange } from './spec-diff';
import { parseScheduleTime, scheduleSpecOf, type ScheduleTiming } from './timing';

/** The parameter a schedule fills with the scheduled time when the spec declares it and nothing else is named. */
export const DEFAULT_SCHEDULED_TIME_PARAM = 'scheduledTime';

/**
 * A schedule name (its Temporal schedule id, and the start of its runs' ids): letters, digits, `_` and `-`, starting
 * with a letter or digit, at most 100 characters (a run id adds the 21 characters of `-<scheduled time>`).
 */
export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** The run settings a schedule pins with its spec (what `mloe run` takes, less the run id). */
export type ScheduledRunSettings = PipelineRunInputOptions &
  Pick<StartPipelineOptions, 'taskQueue'> & {
    /**
     * The `string` parameter each run gets its scheduled time in (RFC 3339, UTC, e.g. `2026-01-01T00:00:00Z`);
     * `scheduledTime` when the spec declares a parameter of that name, none otherwise.
     */
    scheduledTimeParam?: string;
  };

/** Options of {@link createPipelineSchedule}. */
export type CreatePipelineScheduleOptions = ScheduledRunSettings &
  SchedulePolicyOptions & {
    /** The schedule's name (see {@link SCHEDULE_NAME_PATTERN}). */
    name: string;
    /** When it runs. */
    timing: ScheduleTiming;
    /** A note kept with the schedule's state (`--note`, the Temporal CLI's `--notes`). */
    note?: string;
    /** Create it paused. */
    paused?: boolean;
    /** Run at most this many scheduled times (triggers and backfills do not count), then stop. */
    remainingActions?: number;
  };

/** One run a schedule started, with how it went. */
export interface ScheduledRun {
  /** The run id: `<schedule>-<scheduled time>`. */
  workflowId: string;
  scheduledAt: Date;
  startedAt: Date;
  /** Temporal's execution status (`RUNNING`, `COMPLETED`, `FAILED`, …), or `UNKNOWN` once the run is gone. */
  status: string;
}

/** A pipeline schedule, as {@link describePipelineSchedule} reads it. */
export interface PipelineScheduleDescription {
  name: string;
  pipeline: string;
  /** The hash of the pinned spec. */
  specHash: string;
  /** The spec file it was pinned from, when it came from a file. */
  specFile?: string;
  /** The parameter values runs get (the scheduled time parameter holds the time the schedule was pinned). */
  params: Record<string, unknown>;
  scheduledTimeParam?: string;
  /** The run input every action starts (the pinned spec is `input.spec`). */
  input: RunPipelineInput;
  spec: ScheduleSpecDescription;
  overlap: string;
  /** The catch-up window, or `undefined` for the server's default (a year on Temporal and the dev server). */
  catchupWindowMs?: number;
  pauseOnFailure: boolean;
  paused: boolean;
  note?: string;
  remainingActions?: number;
  nextRuns: Date[];
  /** The most recent runs (up to 10, as Temporal keeps), oldest first, with their status now. */
  recentRuns: ScheduledRun[];
  runningRuns: string[];
  counts: { taken: number; missedCatchupWindow: number; skippedOverlap: number };
  createdAt: Date;
  updatedAt?: Date;
}

/** A schedule as {@link listPipelineSchedules} lists it. */
export interface PipelineScheduleSummary {
  name: string;
  pipeline?: string;
  paused: boolean;
  note?: string;
  nextRun?: Date;
  lastRun?: Date;
}

/** Checks a schedule name; `CONFIG_INVALID` saying what is allowed. */
export function checkScheduleName(name: string): void {
  if (SCHEDULE_NAME_PATTERN.test(name)) return;
  throw new ConfigError(
    `schedule name ${JSON.stringify(name)} is not usable: letters, digits, '_' and '-', starting with a letter or ` +
      `digit, at most 100 characters (it starts the ids of its runs)`,
  );
}

/** The declared parameters of a pipeline, or `undefined` when it does not validate (the full load says why). */
async function declaredParams(settings: ScheduledRunSettings): Promise<Record<string, ParamSpec> | undefined> {
  const registry = createStepRegistry([...(settings.descriptors ?? BUILTIN_STEPS)]);
  const result =
    'file' in settings
      ? await loadPipelineFileTree(settings.file, { registry })
      : await loadPipelineObjectTree(settings.spec, {
          registry,
          ...(settings.baseDirectory === undefined ? {} : { baseDirectory: settings.baseDirectory }),
        });
  return result.ok ? (result.spec.params ?? {}) : undefined;
}

/** The parameter the scheduled time goes to, checked against the declarations and the values given. */
function scheduledTimeParamOf(
  settings: ScheduledRunSettings,
  declared: Record<string, ParamSpec> | undefined,
): string | undefined {
  const explicit = settings.scheduledTimeParam;
  const name = explicit ?? (declared?.[DEFAULT_SCHEDULED_TIME_PARAM] ? DEFAULT_SCHEDULED_TIME_PARAM : undefined);
  if (name === undefined || declared === undefined) return name;
  const param = declared[name];
  if (param === undefined) {
    throw new ConfigError(
      `--scheduled-time-param ${name}: the pipeline declares no parameter ${name}; declare it ` +
        `(params: { ${name}: { type: string, default: "" } }) or name one it declares`,
    );
  }
  if (param.type !== 'string') {
    throw new ConfigError(`parameter ${name} gets the scheduled time (RFC 3339 text): declare it type: string`);
  }
  const given =
    (settings.params !== undefined && name in settings.params) ||
    (settings.paramTexts ?? []).some((text) => text.startsWith(`${name}=`));
  if (given) {
    throw new ConfigError(
      `parameter ${name} is set by the schedule to each run's scheduled time: drop -p ${name}=…, or name another ` +
        'parameter with --scheduled-time-param',
    );
  }
  return name;
}

/**
 * The input a schedule's action carries: the pipeline validated (`SPEC_INVALID` with file, line and field otherwise)
 * with its parameters, the scheduled time parameter given a placeholder (the time now) that each run replaces.
 */
export async function scheduledRunInput(name: string, settings: ScheduledRunSettings): Promise<RunPipelineInput> {
  const param = scheduledTimeParamOf(settings, await declaredParams(settings));
  const placeholder = param === undefined ? {} : { [param]: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  const input = await pipelineRunInput({ ...settings, params: { ...placeholder, ...settings.params } });
  return { ...input, schedule: { name, ...(param === undefined ? {} : { scheduledTimeParam: param }) } };
}

/** The schedule's action: a `runPipeline` start as any other (search attributes, memo), plus `MloeSchedule`. */
function pipelineAction(
  name: string,
  input: RunPipelineInput,
  taskQueue: string | undefined,
): ScheduleOptionsStartWorkflowAction<Workflow> {
  return {
    type: 'startWorkflow',
    workflowType: RUN_PIPELINE_WORKFLOW_TYPE,
    workflowId: name,
    ...pipelineRunStartFields(input, {
      ...(taskQueue === undefined ? {} : { taskQueue }),
      memo: { schedule: name },
      searchAttributes: [{ key: SCHEDULE_SEARCH_ATTRIBUTE, value: name }],
      staticSummary: `pipeline ${input.spec.metadata.name} (schedule ${name})`,
    }),
  };
}

/** `SCHEDULE_NOT_FOUND` for a name. */
const notFound = (name: string): MloeError =>
  new MloeError(
    'SCHEDULE_NOT_FOUND',
    `no schedule named ${name} in this namespace: \`mloe schedule list\` shows the schedules there are`,
  );

/** Describes a schedule, `SCHEDULE_NOT_FOUND` when there is none or it does not run pipelines. */
async function describeRaw(handle: ScheduleHandle): Promise<ScheduleDescription> {
  let description: ScheduleDescription;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) throw notFound(handle.scheduleId);
    throw error;
  }
  if (description.action.workflowType !== RUN_PIPELINE_WORKFLOW_TYPE) {
    throw new MloeError(
      'SCHEDULE_NOT_FOUND',
      `schedule ${handle.scheduleId} starts ${description.action.workflowType} workflows, not pipeline runs: ` +
        'manage it with `temporal schedule`',
    );
  }
  return description;
}

/** The pinned input of a described schedule. */
function pinnedInput(description: ScheduleDescription): RunPipelineInput {
  const args: readonly unknown[] = description.action.args ?? [];
  const input = args[0];
  if (typeof input !== 'object' || input === null || !('spec' in input) || !('specHash' in input)) {
    throw new MloeError('CONFIG_INVALID', `schedule ${description.scheduleId} carries no pipeline run input`);
  }
  return input as RunPipelineInput;
}

/** A schedule checked and built, not created yet: what {@link preparePipelineSchedule} returns. */
export interface PreparedPipelineSchedule {
  options: CreatePipelineScheduleOptions;
  spec: ScheduleSpec;
  policies: ReturnType<typeof schedulePolicies>;
  input: RunPipelineInput;
}

/**
 * Checks everything about a new schedule that needs no server: the name (`CONFIG_INVALID`), the timing
 * (`SCHEDULE_SPEC_INVALID`), the policies, the spec and its parameters (`SPEC_INVALID` with file, line and field).
 */
export async function preparePipelineSchedule(
  options: CreatePipelineScheduleOptions,
): Promise<PreparedPipelineSchedule> {
  checkScheduleName(options.name);
  const spec = scheduleSpecOf(options.timing);
  const policies = schedulePolicies(options);
  const remaining = options.remainingActions;
  if (remaining !== undefined && !(Number.isInteger(remaining) && remaining > 0)) {
    throw new ConfigError(`--remaining-actions ${remaining}: expected a whole number of at least 1`);
  }
  const input = await scheduledRunInput(options.name, options);
  return { options, spec, policies, input };
}

/**
 * Creates a schedule of pipeline runs. Everything is checked before anything is created: what
 * {@link preparePipelineSchedule} checks, then that no schedule has the name (`SCHEDULE_EXISTS`).
 */
export async function createPipelineSchedule(
  client: Client,
  schedule: CreatePipelineScheduleOptions | PreparedPipelineSchedule,
): Promise<PipelineScheduleDescription> {
  const { options, spec, policies, input } =
    'input' in schedule && 'policies' in schedule ? schedule : await preparePipelineSchedule(schedule);
  const handle = client.schedule.getHandle(options.name);
  const exists = await handle.describe().then(
    () => true,
    (error: unknown) => {
      if (error instanceof ScheduleNotFoundError) return false;
      throw error;
    },
  );
  const existsError = (): MloeError =>
    new MloeError(
      'SCHEDULE_EXISTS',
      `a schedule named ${options.name} exists already: choose another name, or re-pin it with ` +
        `\`mloe schedule update ${options.name} FILE\``,
    );
  if (exists) throw existsError();
  try {
    await client.schedule.create({
      scheduleId: options.name,
      spec,
      action: pipelineAction(options.name, input, options.taskQueue),
      policies,
      typedSearchAttributes: [{ key: PIPELINE_SEARCH_ATTRIBUTE, value: input.spec.metadata.name }],
      state: {
        ...(options.paused === true ? { paused: true } : {}),
        ...(options.note === undefined ? {} : { note: options.note }),
        ...(options.remainingActions === undefined ? {} : { remainingActions: options.remainingActions }),
      },
    });
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) throw existsError();
    throw missingSearchAttributesError(error, client.options.namespace) ?? error;
  }
  return describePipelineSchedule(client, options.name);
}

/** `SEARCH_ATTRIBUTES_MISSING` for a create refused for want of mloe's search attributes, else `undefined`. */
function missingSearchAttributesError(error: unknown, namespace: string): MloeError | undefined {
  const details = (error as { details?: unknown } | undefined)?.details;
  const text = `${(error as Error | undefined)?.message ?? ''} ${typeof details === 'string' ? details : ''}`;
  if (!/search attribute/i.test(text) || !/Mloe(Pipeline|Status|Schedule)/.test(text)) return undefined;
  return new MloeError(
    'SEARCH_ATTRIBUTES_MISSING',
    `namespace ${namespace} lacks mloe's search attributes: run \`mloe setup --namespace ${namespace}\` once ` +
      '(starting `mloe worker` or `mloe dev` registers them too)',
    { cause: error },
  );
}

/** A pipeline schedule: what it runs (the pinned spec), when, its policies and state, its next and recent runs. */
export async function describePipelineSchedule(client: Client, name: string): Promise<PipelineScheduleDescription> {
  checkScheduleName(name);
  const description = await describeRaw(client.schedule.getHandle(name));
  const input = pinnedInput(description);
  const recentRuns = await Promise.all(
    description.info.recentActions.map(async (action): Promise<ScheduledRun> => {
      const { workflowId, firstExecutionRunId } = action.action.workflow;
      const status = await client.workflow
        .getHandle(workflowId, undefined, { firstExecutionRunId })
        .describe()
        .then(
          (run) => run.status.name,
          () => 'UNKNOWN',
        );
      return { workflowId, scheduledAt: action.scheduledAt, startedAt: action.takenAt, status };
    }),
  );
  const { state, info, policies } = description;
  const scheduledTimeParam = input.schedule?.scheduledTimeParam;
  return {
    name,
    pipeline: input.spec.metadata.name,
    specHash: input.specHash,
    ...(input.metadata?.specFile === undefined ? {} : { specFile: input.metadata.specFile }),
    params: input.params,
    ...(scheduledTimeParam === undefined ? {} : { scheduledTimeParam }),
    input,
    spec: description.spec,
    overlap: overlapPolicyName(policies.overlap),
    // The SDK describes an unset window as 60 s; the server's default (a year) is what applies.
    ...(description.raw.schedule?.policies?.catchupWindow ? { catchupWindowMs: policies.catchupWindow } : {}),
    pauseOnFailure: policies.pauseOnFailure,
    paused: state.paused,
    ...(state.note === undefined || state.note === '' ? {} : { note: state.note }),
    ...(state.remainingActions === undefined ? {} : { remainingActions: state.remainingActions }),
    nextRuns: info.nextActionTimes,
    recentRuns,
    runningRuns: info.runningActions.map((action) => action.workflow.workflowId),
    counts: {
      taken: info.numActionsTaken,
      missedCatchupWindow: info.numActionsMissedCatchupWindow,
      skippedOverlap: info.numActionsSkippedOverlap,
    },
    createdAt: info.createdAt,
    ...(info.lastUpdatedAt === undefined ? {} : { updatedAt: info.lastUpdatedAt }),
  };
}

/** The namespace's pipeline schedules (those whose action starts `runPipeline`), by name. */
export async function listPipelineSchedules(client: Client): Promise<PipelineScheduleSummary[]> {
  const out: PipelineScheduleSummary[] = [];
  for await (const schedule of client.schedule.list()) {
    if (schedule.action?.workflowType !== RUN_PIPELINE_WORKFLOW_TYPE) continue;
    const pipeline = schedule.typedSearchAttributes?.get(PIPELINE_SEARCH_ATTRIBUTE);
    const last = schedule.info.recentActions[schedule.info.recentActions.length - 1];
    const next = schedule.info.nextActionTimes[0];
    out.push({
      name: schedule.scheduleId,
      ...(pipeline === undefined ? {} : { pipeline }),
      paused: schedule.state.paused,
      ...(schedule.state.note === undefined || schedule.state.note === '' ? {} : { note: schedule.state.note }),
      ...(next === undefined ? {} : { nextRun: next }),
      ...(last === undefined ? {} : { lastRun: last.scheduledAt }),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Pauses a schedule (no run starts until it is unpaused); the note says why. */
export async function pausePipelineSchedule(client: Client, name: string, note?: string): Promise<void> {
  const handle = client.schedule.getHandle(name);
  await describeRaw(handle);
  await handle.pause(note ?? 'paused by mloe schedule pause');
}

/** Unpauses a schedule: it runs at its next time (times passed while paused are not caught up; backfill them). */
export async function unpausePipelineSchedule(client: Client, name: string, note?: string): Promise<void> {
  const handle = client.schedule.getHandle(name);
  await describeRaw(handle);
  await handle.unpause(note ?? 'unpaused by mloe schedule unpause');
}

/**
 * Starts a run now (its scheduled time is now), under `overlap` or else the schedule's own overlap policy (as the
 * server does for a trigger that names none; the SDK's `trigger()` alone would send allow-all).
 */
export async function triggerPipelineSchedule(client: Client, name: string, overlap?: string): Promise<void> {
  const handle = client.schedule.getHandle(name);
  const description = await describeRaw(handle);
  await handle.trigger(overlap === undefined ? description.policies.overlap : parseOverlapPolicy(overlap));
}

/**
 * Runs the schedule's times between `from` and `to` now, as if that time passed again (each run gets its own
 * scheduled time), under `overlap`: `buffer-all` by default, one run after another, none skipped (`allow-all` runs
 * them at once).
 */
export async function backfillPipelineSchedule(
  client: Client,
  name: string,
  range: { from: string | Date; to: string | Date; overlap?: string },
): Promise<void> {
  const start = range.from instanceof Date ? range.from : parseScheduleTime(range.from, '--from');
  const end = range.to instanceof Date ? range.to : parseScheduleTime(range.to, '--to');
  if (end.getTime() <= start.getTime()) {
    throw new MloeError('SCHEDULE_SPEC_INVALID', '--to must be after --from');
  }
  const handle = client.schedule.getHandle(name);
  await describeRaw(handle);
  await handle.backfill({ start, end, overlap: parseOverlapPolicy(range.overlap ?? 'buffer-all') });
}

/** Options of {@link updatePipelineSchedule}. */
export type UpdatePipelineScheduleOptions = ScheduledRunSettings &
  SchedulePolicyOptions & {
    /** A new timing; the schedule keeps its own when absent. */
    timing?: ScheduleTiming;
    /** Show the difference only: change nothing. */
    dryRun?: boolean;
  };

/** What {@link updatePipelineSchedule} found and did. */
export interface PipelineScheduleUpdate {
  /** The fields of the spec that change. */
  changes: SpecChange[];
  before: { specHash: string };
  after: { specHash: string };
  /** Whether the schedule was changed (false for a dry run, or when nothing differs). */
  updated: boolean;
}

/**
 * Re-pins a schedule to a spec (validated first, `SPEC_INVALID` otherwise, nothing changed), with the parameters it
 * had unless new ones are given, and returns the difference from the pinned spec. Timing and policies change only
 * when given. Runs already started keep the spec they started with.
 */
export async function updatePipelineSchedule(
  client: Client,
  name: string,
  options: UpdatePipelineScheduleOptions,
): Promise<PipelineScheduleUpdate> {
  checkScheduleName(name);
  const handle = client.schedule.getHandle(name);
  const current = await describeRaw(handle);
  const pinned = pinnedInput(current);
  const spec = options.timing === undefined ? undefined : scheduleSpecOf(options.timing);
  const keptParam = pinned.schedule?.scheduledTimeParam;
  // The pinned values, less the scheduled time's placeholder, those the new spec no longer declares and those given.
  const declared = (await declaredParams(options)) ?? {};
  const givenAsText = new Set((options.paramTexts ?? []).map((text) => text.slice(0, text.indexOf('='))));
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pinned.params)) {
    if (key !== keptParam && key in declared && !givenAsText.has(key)) params[key] = value;
  }
  Object.assign(params, options.params);
  const input = await scheduledRunInput(name, {
    ...options,
    params,
    ...(options.scheduledTimeParam === undefined && keptParam !== undefined ? { scheduledTimeParam: keptParam } : {}),
  });
  const changes = diffSpecs(pinned.spec, input.spec);
  const settingsChanged =
    spec !== undefined ||
    options.overlap !== undefined ||
    options.catchupWindow !== undefined ||
    options.pauseOnFailure !== undefined ||
    JSON.stringify(pinned.params) !== JSON.stringify(input.params);
  const result = { changes, before: { specHash: pinned.specHash }, after: { specHash: input.specHash } };
  if (options.dryRun === true) return { ...result, updated: false };
  const policies = {
    overlap: options.overlap === undefined ? current.policies.overlap : parseOverlapPolicy(options.overlap),
    catchupWindow: current.policies.catchupWindow,
    pauseOnFailure: options.pauseOnFailure ?? current.policies.pauseOnFailure,
    ...(options.catchupWindow === undefined ? {} : schedulePolicies({ catchupWindow: options.catchupWindow })),
  };
  const taskQueue = options.taskQueue ?? current.action.taskQueue;
  await handle.update((previous) => ({
    spec: spec ?? previous.spec,
    action: pipelineAction(name, input, taskQueue),
    policies: {
      overlap: policies.overlap,
      catchupWindow: policies.catchupWindow,
      pauseOnFailure: policies.pauseOnFailure,
    },
    state: previous.state,
    typedSearchAttributes: [{ key: PIPELINE_SEARCH_ATTRIBUTE, value: input.spec.metadata.name }],
  }));
  return { ...result, updated: changes.length > 0 || settingsChanged || input.specHash !== pinned.specHash };
}

/** Deletes a schedule; the runs it started go on (cancel them with `mloe cancel`). */
export async function deletePipelineSchedule(client: Client, name: string): Promise<void> {
  const handle = client.schedule.getHandle(name);
  await describeRaw(handle);
  await handle.delete();
}
