/**
 * Cron schedules of workflows (`cron_schedule` on a start, a child or signal-with-start), read as Temporal's server
 * reads them: with robfig/cron's standard parser (five fields: minute, hour, day of month, month, day of week; names
 * for months and days; `*`, `?`, ranges, steps and lists; the `@yearly`…`@hourly` descriptors and `@every <Go
 * duration>`; an optional `CRON_TZ=` or `TZ=` prefix, UTC otherwise), and with its matching rules (a day matches when
 * both day fields match, or either one when neither is `*`). Calendar times come from the schedules' calendar engine
 * (`schedules/spec.ts`, with its handling of time zones and DST).
 *
 * Temporal's backoff rule: the next run starts at the first cron time after the scheduled time of the current run that
 * is not before now, and the wait is rounded up to whole seconds. Pure functions of their inputs.
 */
import {
  CRON_SHORTHANDS,
  isValidTimezone,
  nextCalendarTime,
  type Range,
  type StructuredCalendar,
} from './schedules/spec';

/** A parsed workflow cron schedule. */
export type WorkflowCron =
  | { kind: 'calendar'; calendar: StructuredCalendar; timezone: string; domStar: boolean; dowStar: boolean }
  | { kind: 'every'; everyMs: number };

interface FieldBounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTHS: Record<string, number> = Object.fromEntries(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((n, i) => [n, i + 1]),
);
const DAYS: Record<string, number> = Object.fromEntries(
  ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((n, i) => [n, i]),
);
const MINUTE: FieldBounds = { min: 0, max: 59 };
const HOUR: FieldBounds = { min: 0, max: 23 };
const DOM: FieldBounds = { min: 1, max: 31 };
const MONTH: FieldBounds = { min: 1, max: 12, names: MONTHS };
const DOW: FieldBounds = { min: 0, max: 6, names: DAYS };

/** Raised for a schedule robfig/cron would not parse; Temporal answers it with `Invalid CronSchedule.`. */
export class CronError extends Error {
  override readonly name = 'CronError';
}

function parseNumber(text: string, bounds: FieldBounds): number {
  const named = bounds.names?.[text.toLowerCase()];
  if (named !== undefined) return named;
  if (!/^\+?\d+$/.test(text)) throw new CronError(`failed to parse int from ${text}`);
  return Number(text);
}

/** One field: ranges and whether it is `*` (or `?`) for the day-matching rule. */
function parseField(expr: string, bounds: FieldBounds): { ranges: Range[]; star: boolean } {
  const ranges: Range[] = [];
  let star = false;
  for (const item of expr.split(',')) {
    const [range = '', stepText, extraSlash] = item.split('/');
    if (extraSlash !== undefined) throw new CronError(`too many slashes: ${item}`);
    const [low = '', high, extraHyphen] = range.split('-');
    let start: number;
    let end: number;
    let isStar = false;
    if (low === '*' || low === '?') {
      start = bounds.min;
      end = bounds.max;
      isStar = true;
    } else {
      if (extraHyphen !== undefined) throw new CronError(`too many hyphens: ${item}`);
      start = parseNumber(low, bounds);
      end = high === undefined ? start : parseNumber(high, bounds);
    }
    let step = 1;
    if (stepText !== undefined) {
      step = parseNumber(stepText, {} as FieldBounds);
      // `N/step` means `N-max/step`; a step above 1 makes `*` a restriction.
      if (high === undefined) end = bounds.max;
      if (step > 1) isStar = false;
    }
    if (start < bounds.min) throw new CronError(`beginning of range (${start}) below minimum (${bounds.min}): ${item}`);
    if (end > bounds.max) throw new CronError(`end of range (${end}) above maximum (${bounds.max}): ${item}`);
    if (start > end) throw new CronError(`beginning of range (${start}) beyond end of range (${end}): ${item}`);
    if (step === 0) throw new CronError(`step of range should be a positive number: ${item}`);
    ranges.push({ start, end, step });
    star ||= isStar;
  }
  return { ranges, star };
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's `time.ParseDuration`, in milliseconds. */
function parseGoDuration(text: string): number {
  const m = /^([-+]?)(.*)$/.exec(text)!;
  const body = m[2]!;
  if (body === '0') return 0;
  if (body === '') throw new CronError(`invalid duration "${text}"`);
  let total = 0;
  let rest = body;
  while (rest.length > 0) {
    const part = /^(\d*\.?\d*)([a-zµμ]+)/.exec(rest);
    const unit = part ? DURATION_UNITS_MS[part[2]!] : undefined;
    if (!part || unit === undefined || part[1] === '' || part[1] === '.') {
      throw new CronError(`invalid duration "${text}"`);
    }
    total += Number(part[1]) * unit;
    rest = rest.slice(part[0].length);
  }
  return m[1] === '-' ? -total : total;
}

/** Parses a workflow cron schedule as Temporal does; throws {@link CronError} when Temporal would refuse it. */
export function parseWorkflowCron(schedule: string): WorkflowCron {
  let spec = schedule;
  if (spec.length === 0) throw new CronError('empty spec string');
  let timezone = '';
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const space = spec.indexOf(' ');
    if (space < 0) throw new CronError(`missing schedule after the time zone: ${spec}`);
    timezone = spec.slice(spec.indexOf('=') + 1, space);
    if (!timezone || !isValidTimezone(timezone)) throw new CronError(`provided bad location ${timezone}`);
    spec = spec.slice(space).trim();
  }
  if (spec.startsWith('@every ')) {
    // robfig/cron: at least one second, whole seconds.
    const ms = parseGoDuration(spec.slice('@every '.length));
    return { kind: 'every', everyMs: Math.max(1000, Math.floor(ms / 1000) * 1000) };
  }
  if (spec.startsWith('@')) {
    const expanded = CRON_SHORTHANDS[spec];
    if (!expanded) throw new CronError(`unrecognized descriptor: ${spec}`);
    spec = expanded;
  }
  const fields = spec.split(/\s+/).filter((f) => f.length > 0);
  if (fields.length !== 5) throw new CronError(`expected exactly 5 fields, found ${fields.length}: ${spec}`);
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const dayOfMonth = parseField(dom, DOM);
  const dayOfWeek = parseField(dow, DOW);
  return {
    kind: 'calendar',
    calendar: {
      second: [{ start: 0, end: 0, step: 1 }],
      minute: parseField(minute, MINUTE).ranges,
      hour: parseField(hour, HOUR).ranges,
      dayOfMonth: dayOfMonth.ranges,
      month: parseField(month, MONTH).ranges,
      dayOfWeek: dayOfWeek.ranges,
      year: [],
    },
    timezone,
    domStar: dayOfMonth.star,
    dowStar: dayOfWeek.star,
  };
}

/** True when Temporal accepts the schedule (`backoff.ValidateSchedule`). */
export function isValidWorkflowCron(schedule: string): boolean {
  try {
    parseWorkflowCron(schedule);
    return true;
  } catch {
    return false;
  }
}

const ALL_DAYS_OF_MONTH: Range[] = [{ start: 1, end: 31, step: 1 }];
const ALL_DAYS_OF_WEEK: Range[] = [{ start: 0, end: 6, step: 1 }];

/** The first cron time at or after `from` (ms, rounded up to a whole second), if any. */
function firstTimeFrom(cron: WorkflowCron & { kind: 'calendar' }, from: number): number | undefined {
  const after = Math.ceil(from / 1000) * 1000 - 1000;
  const c = cron.calendar;
  if (cron.domStar || cron.dowStar) return nextCalendarTime(c, cron.timezone, after);
  // Both day fields restricted: a day matches either one (robfig/cron, like Vixie cron).
  const byDom = nextCalendarTime({ ...c, dayOfWeek: ALL_DAYS_OF_WEEK }, cron.timezone, after);
  const byDow = nextCalendarTime({ ...c, dayOfMonth: ALL_DAYS_OF_MONTH }, cron.timezone, after);
  if (byDom === undefined) return byDow;
  if (byDow === undefined) return byDom;
  return Math.min(byDom, byDow);
}

/**
 * Temporal's `GetBackoffForNextSchedule`: how long to wait (ms, whole seconds) from `now` until the run that follows
 * one scheduled at `scheduledTime` (its execution time); undefined when the schedule has no such time (no backoff:
 * the chain ends).
 */
export function cronBackoffMs(cron: WorkflowCron, scheduledTime: number, now: number): number | undefined {
  let next: number | undefined;
  if (now < scheduledTime) {
    next = scheduledTime;
  } else if (cron.kind === 'every') {
    // Times are the scheduled time (whole seconds) plus whole intervals; the first one not before now.
    const first = Math.floor(scheduledTime / 1000) * 1000 + cron.everyMs;
    next = first >= now ? first : first + Math.ceil((now - first) / cron.everyMs) * cron.everyMs;
  } else {
    // The first cron time strictly after the scheduled time that is not before now.
    next = firstTimeFrom(cron, Math.max(Math.floor(scheduledTime / 1000) * 1000 + 1000, now));
  }
  if (next === undefined) return undefined;
  return Math.ceil((next - now) / 1000) * 1000;
}

/** The first run's wait (`firstWorkflowTaskBackoff`): the backoff from now, never negative (0 without a time). */
export function firstCronBackoffMs(cron: WorkflowCron, now: number): number {
  return Math.max(0, cronBackoffMs(cron, now, now) ?? 0);
}
