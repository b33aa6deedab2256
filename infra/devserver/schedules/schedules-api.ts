/**
 * The schedule methods of the WorkflowService: Create/Describe/Update/Patch/Delete/List/CountSchedules and
 * ListScheduleMatchingTimes, with Temporal's validation, conflict tokens and response shapes.
 */
import type { Engine } from '../engine';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors';
import { durationToMs, msToDuration, msToTimestamp, timestampToMs, type Loose, type temporal } from '../proto';
import { NOT_SUPPORTED, QueryError, columnsOf, parseQuery } from '../visibility/query-parser';
import { translateQuery, type TranslatedQuery } from '../visibility/query-sql';
import { isReservedName, typedSearchAttributes, validateSearchAttributes } from '../visibility/search-attributes';
import { visibilityFor } from '../visibility/visibility-store';
import { validateId } from '../api/validate';
import { assertBlobSize } from '../api/payload-limits';
import {
  PATCH_REQUEST_IDS_KEPT,
  encodeConflictToken,
  schedulerFor,
  type ScheduleProto,
  type ScheduleRecord,
} from './scheduler';
import {
  SpecError,
  canonicalizeSpec,
  specTimesBetween,
  type CalendarStrings,
  type CanonicalSpec,
  type StructuredCalendar,
} from './spec';

type Patch = Loose<temporal.api.schedule.v1.ISchedulePatch>;
type SpecProto = Loose<temporal.api.schedule.v1.IScheduleSpec>;

const MAX_LIST_MATCHING_TIMES = 1000;

const scheduleNotFound = (id: string): Error => notFound(`schedule "${id}" not found`);

/** Compiles the request's spec into canonical form (INVALID_ARGUMENT on errors). */
function compileSpec(spec: SpecProto | null | undefined): CanonicalSpec {
  try {
    return canonicalizeSpec({
      structuredCalendar: (spec?.structuredCalendar ?? []) as StructuredCalendar[],
      cronString: spec?.cronString ?? [],
      calendar: (spec?.calendar ?? []) as CalendarStrings[],
      interval: (spec?.interval ?? []).map((i) => ({
        everyMs: durationToMs(i.interval),
        phaseMs: durationToMs(i.phase),
      })),
      excludeCalendar: (spec?.excludeCalendar ?? []) as CalendarStrings[],
      excludeStructuredCalendar: (spec?.excludeStructuredCalendar ?? []) as StructuredCalendar[],
      startTime: timestampToMs(spec?.startTime),
      endTime: timestampToMs(spec?.endTime),
      jitterMs: durationToMs(spec?.jitter),
      timezoneName: spec?.timezoneName ?? '',
    });
  } catch (err) {
    if (err instanceof SpecError) throw invalidArgument(`Invalid schedule spec: ${err.message}`);
    throw err;
  }
}

/** The canonical ScheduleSpec message of a compiled spec (what Describe returns). */
function specProto(spec: CanonicalSpec): SpecProto {
  return {
    structuredCalendar: spec.calendars,
    interval: spec.intervals.map((i) => ({
      interval: msToDuration(i.everyMs),
      ...(i.phaseMs ? { phase: msToDuration(i.phaseMs) } : {}),
    })),
    excludeStructuredCalendar: spec.excludes,
    ...(spec.startTime ? { startTime: msToTimestamp(spec.startTime) } : {}),
    ...(spec.endTime ? { endTime: msToTimestamp(spec.endTime) } : {}),
    ...(spec.jitterMs ? { jitter: msToDuration(spec.jitterMs) } : {}),
    ...(spec.timezone ? { timezoneName: spec.timezone } : {}),
  };
}

/** Validates a schedule's action and policies; returns the schedule with its canonical spec. */
function validateSchedule(
  engine: Engine,
  namespace: string,
  schedule: ScheduleProto | null | undefined,
): { schedule: ScheduleProto; spec: CanonicalSpec } {
  if (!schedule) throw invalidArgument('Schedule is not set on request.');
  const action = schedule.action?.startWorkflow;
  if (!action) throw invalidArgument('Schedule action is not set (only start_workflow is supported).');
  validateId('WorkflowId', action.workflowId);
  if (!action.workflowType?.name) throw invalidArgument('WorkflowType is not set on schedule action.');
  if (!action.taskQueue?.name) throw invalidArgument('TaskQueue is not set on schedule action.');
  if (action.cronSchedule) throw invalidArgument('CronSchedule is not allowed in a schedule action.');
  assertBlobSize(engine, action.input, { operation: 'CreateSchedule', workflowId: action.workflowId });
  validateSearchAttributes(engine, namespace, action.searchAttributes);
  const overlap = Number(schedule.policies?.overlapPolicy ?? 0);
  if (overlap < 0 || overlap > 6) throw invalidArgument(`Invalid overlap policy ${overlap}.`);
  const spec = compileSpec(schedule.spec);
  const state = schedule.state ?? {};
  if (state.limitedActions && Number(state.remainingActions ?? 0) < 0) {
    throw invalidArgument('RemainingActions must not be negative.');
  }
  return { schedule: { ...schedule, spec: specProto(spec) }, spec };
}

/** Applies a SchedulePatch: trigger immediately, backfills, pause/unpause (with notes). */
function applyPatch(engine: Engine, rec: ScheduleRecord, patch: Patch | null | undefined, requestId: string): void {
  if (!patch) return;
  const scheduler = schedulerFor(engine);
  if (patch.pause) rec.schedule.state = { ...(rec.schedule.state ?? {}), paused: true, notes: patch.pause };
  if (patch.unpause) rec.schedule.state = { ...(rec.schedule.state ?? {}), paused: false, notes: patch.unpause };
  if (patch.triggerImmediately) {
    const at = timestampToMs(patch.triggerImmediately.scheduledTime) || engine.now();
    scheduler.trigger(rec, Number(patch.triggerImmediately.overlapPolicy ?? 0), at);
  }
  (patch.backfillRequest ?? []).forEach((b, i) => {
    const start = timestampToMs(b.startTime);
    const end = timestampToMs(b.endTime);
    if (!b.startTime || !b.endTime || end < start) {
      throw invalidArgument('Backfill request needs a start time before its end time.');
    }
    scheduler.backfill(rec, start, end, Number(b.overlapPolicy ?? 0), `backfill${i}:${requestId}`);
  });
}

/** CreateSchedule. */
export function createSchedule(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.ICreateScheduleRequest>,
): object {
  const ns = engine.namespace(req.namespace).name;
  validateId('ScheduleId', req.scheduleId);
  const scheduler = schedulerFor(engine);
  const existing = scheduler.get(ns, req.scheduleId);
  if (existing) {
    if (req.requestId && existing.createRequestId === req.requestId) {
      return { conflictToken: encodeConflictToken(existing.conflictToken) };
    }
    throw alreadyExists('schedule with this ID is already registered');
  }
  validateSearchAttributes(engine, ns, req.searchAttributes);
  const { schedule, spec } = validateSchedule(engine, ns, req.schedule);
  const now = engine.now();
  const rec: ScheduleRecord = {
    namespace: ns,
    scheduleId: req.scheduleId,
    schedule,
    spec,
    memo: req.memo ?? undefined,
    searchAttributes: req.searchAttributes ?? undefined,
    createRequestId: req.requestId ?? '',
    conflictToken: 1,
    createTime: now,
    updateTime: 0,
    lastProcessedTime: now,
    actionCount: 0,
    missedCatchupWindow: 0,
    overlapSkipped: 0,
    bufferDropped: 0,
    buffer: [],
    running: [],
    recent: [],
    cancelRequested: false,
  };
  applyPatch(engine, rec, req.initialPatch, req.requestId ?? '');
  scheduler.add(rec);
  scheduler.process(rec);
  return { conflictToken: encodeConflictToken(rec.conflictToken) };
}

function getRecord(
  engine: Engine,
  req: { namespace?: string | null | undefined; scheduleId?: string | null | undefined },
): ScheduleRecord {
  const ns = engine.namespace(req.namespace).name;
  validateId('ScheduleId', req.scheduleId);
  const rec = schedulerFor(engine).get(ns, req.scheduleId);
  if (!rec) throw scheduleNotFound(req.scheduleId);
  return rec;
}

/** DescribeSchedule. */
export function describeSchedule(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IDescribeScheduleRequest>,
): object {
  const rec = getRecord(engine, req);
  const scheduler = schedulerFor(engine);
  const action = rec.schedule.action?.startWorkflow;
  // As Temporal's frontend does, the attributes of the workflow the schedule starts carry their types too.
  const schedule = action?.searchAttributes
    ? {
        ...rec.schedule,
        action: {
          ...rec.schedule.action,
          startWorkflow: {
            ...action,
            searchAttributes: typedSearchAttributes(engine, rec.namespace, action.searchAttributes),
          },
        },
      }
    : rec.schedule;
  return {
    schedule,
    info: {
      actionCount: rec.actionCount,
      missedCatchupWindow: rec.missedCatchupWindow,
      overlapSkipped: rec.overlapSkipped,
      bufferDropped: rec.bufferDropped,
      bufferSize: rec.buffer.length,
      runningWorkflows: rec.running.map((r) => ({ workflowId: r.workflowId, runId: r.runId })),
      recentActions: rec.recent.map((r) => scheduler.actionResult(rec, r)),
      futureActionTimes: scheduler.futureActionTimes(rec).map((t) => msToTimestamp(t.actual)),
      createTime: msToTimestamp(rec.createTime),
      ...(rec.updateTime ? { updateTime: msToTimestamp(rec.updateTime) } : {}),
    },
    memo: rec.memo,
    searchAttributes: typedSearchAttributes(engine, rec.namespace, rec.searchAttributes),
    conflictToken: encodeConflictToken(rec.conflictToken),
  };
}

/** UpdateSchedule: replaces the schedule; a conflict token, when given, must match the current one. */
export function updateSchedule(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IUpdateScheduleRequest>,
): object {
  const rec = getRecord(engine, req);
  if (req.conflictToken && req.conflictToken.length > 0) {
    if (!Buffer.from(req.conflictToken).equals(encodeConflictToken(rec.conflictToken))) {
      throw failedPrecondition('mismatched conflict token');
    }
  }
  const { schedule, spec } = validateSchedule(engine, rec.namespace, req.schedule);
  if (req.searchAttributes) validateSearchAttributes(engine, rec.namespace, req.searchAttributes);
  const now = engine.now();
  rec.schedule = schedule;
  rec.spec = spec;
  if (req.searchAttributes) rec.searchAttributes = req.searchAttributes;
  rec.conflictToken++;
  rec.updateTime = now;
  // A new spec applies from now on: it never reaches back to times before the update.
  rec.lastProcessedTime = Math.max(rec.lastProcessedTime, now);
  schedulerFor(engine).process(rec);
  return {};
}

/** PatchSchedule. */
export function patchSchedule(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IPatchScheduleRequest>,
): object {
  const rec = getRecord(engine, req);
  const requestId = req.requestId ?? '';
  // The same patch sent again (a retried call) was applied already: triggering or backfilling twice would start its
  // runs twice.
  if (requestId !== '' && rec.patchRequestIds?.includes(requestId)) return {};
  applyPatch(engine, rec, req.patch, requestId || String(engine.now()));
  if (requestId !== '') {
    rec.patchRequestIds = [...(rec.patchRequestIds ?? []), requestId].slice(-PATCH_REQUEST_IDS_KEPT);
  }
  schedulerFor(engine).process(rec);
  return {};
}

/** DeleteSchedule. */
export function deleteSchedule(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IDeleteScheduleRequest>,
): object {
  const rec = getRecord(engine, req);
  schedulerFor(engine).delete(rec);
  return {};
}

/** Kept equal to `state.paused` by Temporal's scheduler; the only Temporal attribute a schedule query may name. */
const PAUSED_ATTRIBUTE = 'TemporalSchedulePaused';

/**
 * The search attributes a schedule is found by: those given at creation (or by the last update), plus
 * TemporalSchedulePaused. That one is derived from the state at query time, so it follows pause, unpause, pause on
 * failure and initial patches without any bookkeeping.
 */
function indexedAttributes(rec: ScheduleRecord): Loose<temporal.api.common.v1.ISearchAttributes> {
  const paused = rec.schedule.state?.paused ?? false;
  return {
    indexedFields: {
      ...(rec.searchAttributes?.indexedFields ?? {}),
      [PAUSED_ATTRIBUTE]: {
        metadata: { encoding: Buffer.from('json/plain'), type: Buffer.from('Bool') },
        data: Buffer.from(JSON.stringify(paused)),
      },
    },
  };
}

/**
 * Compiles a ListSchedules/CountSchedules query with the visibility parser and translator. As in Temporal
 * (`scheduler.ValidateVisibilityQuery`), it may name ScheduleId, TemporalSchedulePaused and the namespace's custom
 * attributes; any other system or predefined attribute answers "invalid query filter for schedules". Temporal appends
 * the query to its own inside parentheses, so ORDER BY and GROUP BY are not accepted either.
 */
function compileScheduleQuery(engine: Engine, namespace: string, query: string): TranslatedQuery {
  const registry = visibilityFor(engine.store).registry;
  try {
    const parsed = parseQuery(query);
    const clause = parsed.orderBy[0]?.column ?? parsed.groupBy[0];
    if (clause) {
      const what = parsed.orderBy.length > 0 ? 'order by' : 'group by';
      throw new QueryError(`${NOT_SUPPORTED}: '${what}' clause in a schedule query`, clause.pos);
    }
    const translated = translateQuery(parsed, registry, namespace, 'list');
    for (const col of columnsOf(parsed.where)) {
      const custom = registry.custom(namespace).has(col.name);
      if (!custom && col.name !== 'ScheduleId' && col.name !== PAUSED_ATTRIBUTE && isReservedName(col.name)) {
        throw invalidArgument(
          `invalid query filter for schedules: cannot filter on "${col.name}" (at column ${col.pos})`,
        );
      }
    }
    return translated;
  } catch (err) {
    if (err instanceof QueryError) throw invalidArgument(`invalid query: ${err.message}`);
    throw err;
  }
}

/**
 * The namespace's schedules matching a query, sorted by id. Evaluated over the schedules in memory (they are few,
 * and already there) by the visibility index's own SQL, rather than kept in a second indexed table that every
 * create, update, patch, delete and pause on failure would have to keep in step.
 */
function matchingSchedules(engine: Engine, namespace: string, query: string | null | undefined): ScheduleRecord[] {
  const all = [...schedulerFor(engine).schedules.values()]
    .filter((r) => r.namespace === namespace)
    .sort((a, b) => (a.scheduleId < b.scheduleId ? -1 : a.scheduleId > b.scheduleId ? 1 : 0));
  if (!query || query.trim() === '') return all;
  const translated = compileScheduleQuery(engine, namespace, query);
  const ids = visibilityFor(engine.store).matchInMemory(
    namespace,
    translated,
    all.map((rec) => ({ id: rec.scheduleId, searchAttributes: indexedAttributes(rec) })),
  );
  return all.filter((rec) => ids.has(rec.scheduleId));
}

/** ListSchedules (sorted by id; the page token is the last id of the previous page), filtered by `query`. */
export function listSchedules(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IListSchedulesRequest>,
): object {
  const ns = engine.namespace(req.namespace).name;
  const scheduler = schedulerFor(engine);
  const pageSize = Number(req.maximumPageSize ?? 0) > 0 ? Number(req.maximumPageSize) : 1000;
  const after = req.nextPageToken?.length ? Buffer.from(req.nextPageToken).toString('utf8') : undefined;
  const all = matchingSchedules(engine, ns, req.query).filter((r) => after === undefined || r.scheduleId > after);
  const page = all.slice(0, pageSize);
  const schedules = page.map((rec) => ({
    scheduleId: rec.scheduleId,
    memo: rec.memo,
    // Like Temporal, the user's attributes only: TemporalSchedulePaused shows as info.paused.
    searchAttributes: typedSearchAttributes(engine, ns, rec.searchAttributes),
    info: {
      spec: rec.schedule.spec,
      workflowType: rec.schedule.action?.startWorkflow?.workflowType,
      notes: rec.schedule.state?.notes ?? '',
      paused: rec.schedule.state?.paused ?? false,
      recentActions: rec.recent.slice(-1).map((r) => scheduler.actionResult(rec, r)),
      futureActionTimes: scheduler.futureActionTimes(rec, 5).map((t) => msToTimestamp(t.actual)),
    },
  }));
  const more = all.length > pageSize;
  return { schedules, nextPageToken: more ? Buffer.from(page[page.length - 1]!.scheduleId, 'utf8') : undefined };
}

/** CountSchedules: how many schedules match `query` (exact here; approximate in Temporal). */
export function countSchedules(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.ICountSchedulesRequest>,
): object {
  const ns = engine.namespace(req.namespace).name;
  return { count: matchingSchedules(engine, ns, req.query).length, groups: [] };
}

/** ListScheduleMatchingTimes: the spec's times in (start, end], at most 1000. */
export function listScheduleMatchingTimes(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IListScheduleMatchingTimesRequest>,
): object {
  const rec = getRecord(engine, req);
  if (!req.startTime || !req.endTime) throw invalidArgument('StartTime and EndTime are required.');
  const start = timestampToMs(req.startTime);
  const end = timestampToMs(req.endTime);
  if (end < start) throw invalidArgument('EndTime must not be before StartTime.');
  const times = specTimesBetween(rec.spec, start, end, `${rec.namespace}/${rec.scheduleId}`, MAX_LIST_MATCHING_TIMES);
  return { startTime: times.map((t) => msToTimestamp(t.actual)) };
}

/** The schedule handlers for the WorkflowService method table. */
export const scheduleHandlers = {
  CreateSchedule: createSchedule,
  DescribeSchedule: describeSchedule,
  UpdateSchedule: updateSchedule,
  PatchSchedule: patchSchedule,
  DeleteSchedule: deleteSchedule,
  ListSchedules: listSchedules,
  CountSchedules: countSchedules,
  ListScheduleMatchingTimes: listScheduleMatchingTimes,
};
