/**
 * When a pipeline schedule acts, as `mloe schedule create` takes it (`--cron`, `--every [--offset]`, `--calendar`,
 * `--timezone`, `--jitter`, `--start-time`, `--end-time`), turned into the SDK's `ScheduleSpec` and checked before
 * anything is created, with the same spec compiler the embedded dev server uses (`infra/devserver/schedules/spec.ts`,
 * which follows Temporal's frontend): a cron string or calendar Temporal would refuse, an unknown time zone, a bad
 * duration or a spec that never fires is `SCHEDULE_SPEC_INVALID`, naming the flag. Flag forms follow the Temporal
 * CLI's `temporal schedule create`: `--every 90m` or `--every 60m/15m` (its `--interval`), `--calendar` as JSON with
 * string fields (`{"dayOfWeek":"Fri","hour":"3","minute":"30"}`), compiled to a cron string as the CLI does.
 */
import type { ScheduleSpec } from '@temporalio/client';

import { MloeError } from '../../core/errors';
import { DURATION_HINT, parseDuration } from '../../core/spec/units';
import {
  SpecError,
  canonicalizeSpec,
  isValidTimezone,
  nextSpecTime,
  type SpecInput,
} from '../../infra/devserver/schedules/spec';

/** The timing of a schedule, as flags (or API callers) give it; at least one of `cron`, `every`, `calendar`. */
export interface ScheduleTiming {
  /** Cron strings: 5, 6 or 7 fields, `@daily`-style shorthands, `@every 1h`, an optional `CRON_TZ=` prefix. */
  cron?: readonly string[];
  /** Intervals: a duration (`1d`, `90m`), or `EVERY/OFFSET` (`60m/15m`) as the Temporal CLI's `--interval`. */
  every?: readonly string[];
  /** The offset of every interval that names none (`--offset`), e.g. `5m` for xx:05 with `--every 1h`. */
  offset?: string;
  /** Calendars as JSON objects of string fields, as the Temporal CLI's `--calendar`. */
  calendar?: readonly string[];
  /** IANA time zone calendars and cron strings are read in; UTC by default. */
  timezone?: string;
  /** Each action starts up to this much later, at random (a duration). */
  jitter?: string;
  /** No action before this time (RFC 3339). */
  startTime?: string;
  /** No action after this time (RFC 3339). */
  endTime?: string;
}

const invalid = (message: string): MloeError => new MloeError('SCHEDULE_SPEC_INVALID', message);

const DAYS = /(\d+(?:\.\d*)?|\.\d+)d/g;

/**
 * Milliseconds of a duration as Temporal's CLI reads it: Go's `time.ParseDuration` (`90s`, `1h30m`) plus `d` for
 * 24 hours (`1d`, `1d12h`). `SCHEDULE_SPEC_INVALID` naming `flag` otherwise.
 */
export function parseScheduleDuration(text: string, flag: string): number {
  let days = 0;
  const rest = text.trim().replace(DAYS, (_match, count: string) => {
    days += Number(count);
    return '';
  });
  const other = rest === '' ? 0 : parseDuration(rest);
  const total = other === undefined ? undefined : days * 86_400_000 + other;
  if (text.trim() === '' || total === undefined || !(total > 0)) {
    throw invalid(`${flag} "${text}" is not a duration: ${DURATION_HINT}, or days as '1d'`);
  }
  return total;
}

/** A time given as RFC 3339 (`2026-01-01T00:00:00Z`) or a date (`2026-01-01`, midnight UTC), for `flag`. */
export function parseScheduleTime(text: string, flag: string): Date {
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;
  const time = iso.test(text.trim()) ? new Date(text.trim()) : undefined;
  if (time === undefined || Number.isNaN(time.getTime())) {
    throw invalid(`${flag} "${text}" is not a time: write RFC 3339 with a zone, e.g. 2026-01-01T00:00:00Z`);
  }
  return time;
}

const CALENDAR_FIELDS = ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek', 'year', 'comment'] as const;
type CalendarField = (typeof CALENDAR_FIELDS)[number];

/**
 * A `--calendar` JSON object as a 7-field cron string (`second minute hour dayOfMonth month dayOfWeek year`, then
 * `# comment`), with Temporal's defaults (0 for second, minute and hour, `*` for the rest), as the Temporal CLI does.
 */
export function calendarToCron(json: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw invalid(`--calendar '${json}' is not JSON (${(error as Error).message}): write e.g. '{"hour":"3"}'`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(`--calendar '${json}' must be a JSON object such as {"dayOfWeek":"Fri","hour":"3","minute":"30"}`);
  }
  const fields: Partial<Record<CalendarField, string>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(CALENDAR_FIELDS as readonly string[]).includes(key)) {
      throw invalid(`--calendar: unknown field "${key}"; the fields are ${CALENDAR_FIELDS.join(', ')}`);
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw invalid(`--calendar: field "${key}" must be a string such as "1-5" or "*/2"`);
    }
    const text = String(value).trim();
    if (key !== 'comment' && (text === '' || /\s/.test(text))) {
      throw invalid(`--calendar: field "${key}" must be one expression without spaces, such as "1,15" or "9-17"`);
    }
    fields[key as CalendarField] = text;
  }
  const cron = [
    fields.second ?? '0',
    fields.minute ?? '0',
    fields.hour ?? '0',
    fields.dayOfMonth ?? '*',
    fields.month ?? '*',
    fields.dayOfWeek ?? '*',
    fields.year ?? '*',
  ].join(' ');
  return fields.comment === undefined || fields.comment === '' ? cron : `${cron} # ${fields.comment}`;
}

/** Splits `EVERY[/OFFSET]` into milliseconds, the offset defaulting to `offset`. */
function parseInterval(text: string, offset: number): { every: number; offset: number } {
  const parts = text.split('/');
  if (parts.length > 2) throw invalid(`--every "${text}" must be "<duration>" or "<duration>/<offset>"`);
  const every = parseScheduleDuration(parts[0] ?? '', '--every');
  const own = parts[1] === undefined ? offset : parseScheduleDuration(parts[1], '--every offset');
  return { every, offset: own };
}

/** Compiles one part of a spec with the server's compiler, turning its error into one naming `what`. */
function check(what: string, input: SpecInput): void {
  try {
    canonicalizeSpec(input);
  } catch (error) {
    if (error instanceof SpecError) throw invalid(`${what}: ${error.message}`);
    throw error;
  }
}

/**
 * The SDK `ScheduleSpec` of a timing, checked part by part (each error names its flag and value) and as a whole:
 * `SCHEDULE_SPEC_INVALID` for anything Temporal would refuse, and for a spec with no time after `now` (a calendar
 * that never matches, an end time in the past).
 */
export function scheduleSpecOf(timing: ScheduleTiming, now: Date = new Date()): ScheduleSpec {
  const cron = [...(timing.cron ?? [])];
  const calendars = (timing.calendar ?? []).map(calendarToCron);
  const offset = timing.offset === undefined ? 0 : parseScheduleDuration(timing.offset, '--offset');
  const intervals = (timing.every ?? []).map((text) => parseInterval(text, offset));
  if (cron.length + calendars.length + intervals.length === 0) {
    throw invalid('a schedule needs a time: give --cron EXPR, --every DURATION or --calendar JSON');
  }
  if (timing.offset !== undefined && intervals.length === 0) {
    throw invalid('--offset shifts an interval: give it with --every');
  }
  const timezone = timing.timezone?.trim() ?? '';
  if (timezone !== '' && !isValidTimezone(timezone)) {
    throw invalid(
      `--timezone "${timing.timezone}" is not a time zone: use an IANA name such as Europe/Paris or America/New_York`,
    );
  }
  for (const text of cron) check(`--cron "${text}"`, { cronString: [text], timezoneName: timezone });
  (timing.calendar ?? []).forEach((json, i) => {
    check(`--calendar '${json}'`, { cronString: [calendars[i] ?? ''], timezoneName: timezone });
  });
  intervals.forEach((interval, i) => {
    check(`--every "${timing.every?.[i] ?? ''}"`, {
      interval: [{ everyMs: interval.every, phaseMs: interval.offset }],
    });
  });
  const jitter = timing.jitter === undefined ? undefined : parseScheduleDuration(timing.jitter, '--jitter');
  const startAt = timing.startTime === undefined ? undefined : parseScheduleTime(timing.startTime, '--start-time');
  const endAt = timing.endTime === undefined ? undefined : parseScheduleTime(timing.endTime, '--end-time');
  if (startAt !== undefined && endAt !== undefined && endAt.getTime() < startAt.getTime()) {
    throw invalid('--end-time is before --start-time');
  }
  const whole = canonicalizeSpec({
    cronString: [...cron, ...calendars],
    interval: intervals.map((i) => ({ everyMs: i.every, phaseMs: i.offset })),
    timezoneName: timezone,
    ...(startAt === undefined ? {} : { startTime: startAt.getTime() }),
    ...(endAt === undefined ? {} : { endTime: endAt.getTime() }),
  });
  if (nextSpecTime(whole, now.getTime()) === undefined) {
    throw invalid('the schedule would never run: no time it matches is after now (check the calendar and --end-time)');
  }
  return {
    ...(cron.length + calendars.length > 0 ? { cronExpressions: [...cron, ...calendars] } : {}),
    ...(intervals.length > 0 ? { intervals } : {}),
    ...(timezone === '' ? {} : { timezone }),
    ...(jitter === undefined ? {} : { jitter }),
    ...(startAt === undefined ? {} : { startAt }),
    ...(endAt === undefined ? {} : { endAt }),
  };
}
