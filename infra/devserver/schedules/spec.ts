/**
 * Schedule specs as Temporal defines them (temporal.api.schedule.v1.ScheduleSpec): cron strings and calendar strings
 * compiled into structured calendars, intervals with a phase, exclusions, start/end time, jitter and IANA time zones.
 * Pure functions of their inputs (times are passed in), so they are unit-tested without waiting.
 *
 * Calendar matching follows Temporal's documented semantics: literal matching of the wall-clock time in the spec's
 * time zone with no special handling of DST (a 2:30 spec does not fire on the day without a 2:30; a 1:30 spec fires
 * twice on the day with two). Time zone math uses `Intl` (the ICU data shipped with Node), so no dependency is needed.
 */
import { createHash } from 'node:crypto';

/** A set of integers `start..end` (inclusive) every `step`; `end < start` means `end = start`, step 0 means 1. */
export interface Range {
  start: number;
  end?: number;
  step?: number;
}

/** temporal.api.schedule.v1.StructuredCalendarSpec as plain data. */
export interface StructuredCalendar {
  second?: Range[];
  minute?: Range[];
  hour?: Range[];
  dayOfMonth?: Range[];
  month?: Range[];
  year?: Range[];
  dayOfWeek?: Range[];
  comment?: string;
}

/** temporal.api.schedule.v1.CalendarSpec (string fields) as plain data. */
export interface CalendarStrings {
  second?: string;
  minute?: string;
  hour?: string;
  dayOfMonth?: string;
  month?: string;
  year?: string;
  dayOfWeek?: string;
  comment?: string;
}

/** An interval spec in milliseconds. */
export interface IntervalMs {
  everyMs: number;
  phaseMs: number;
}

/** A spec in canonical form: only structured calendars, intervals and one time zone (what Describe returns). */
export interface CanonicalSpec {
  calendars: StructuredCalendar[];
  intervals: IntervalMs[];
  excludes: StructuredCalendar[];
  startTime: number;
  endTime: number;
  jitterMs: number;
  timezone: string;
}

/** Raised for a spec Temporal would reject; mapped onto INVALID_ARGUMENT by the API layer. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
}

/** Temporal stops searching calendars after this year. */
export const MAX_CALENDAR_YEAR = 2100;

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset added to a name's index (months are 1-based). */
  nameBase?: number;
}

const FIELDS = {
  second: { name: 'second', min: 0, max: 59 },
  minute: { name: 'minute', min: 0, max: 59 },
  hour: { name: 'hour', min: 0, max: 23 },
  dayOfMonth: { name: 'day_of_month', min: 1, max: 31 },
  month: { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  year: { name: 'year', min: 1970, max: MAX_CALENDAR_YEAR },
  // 7 is accepted as Sunday in strings and folded onto 0.
  dayOfWeek: { name: 'day_of_week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
} satisfies Record<string, FieldDef>;

function parseValue(text: string, f: FieldDef): number {
  const lower = text.toLowerCase();
  if (f.names) {
    const i = f.names.findIndex((n) => lower === n || (lower.length > 3 && lower.startsWith(n)));
    if (i >= 0) return i + (f.nameBase ?? 0);
  }
  if (!/^\d+$/.test(text)) throw new SpecError(`invalid value "${text}" in ${f.name}`);
  const v = Number(text);
  if (v < f.min || v > f.max) throw new SpecError(`${f.name} value ${v} out of range ${f.min}-${f.max}`);
  return v;
}

/** Parses one calendar field expression (`*`, `x`, `x-y`, `x/n`, `*\/n`, `x-y/n`, lists). Year `*` is no ranges. */
export function parseField(expr: string, f: FieldDef): Range[] {
  const ranges: Range[] = [];
  for (const part of expr.split(',')) {
    if (part === '') throw new SpecError(`empty item in ${f.name} "${expr}"`);
    const [base, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new SpecError(`invalid step in ${f.name} "${part}"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) throw new SpecError(`invalid step in ${f.name} "${part}"`);
      step = Number(stepText);
    }
    let start: number;
    let end: number;
    if (base === '*' || base === '?') {
      if (f === FIELDS.year && stepText === undefined) continue;
      start = f.min;
      end = f === FIELDS.dayOfWeek ? 6 : f.max;
    } else {
      const [a, b, more] = (base ?? '').split('-');
      if (more !== undefined) throw new SpecError(`invalid range in ${f.name} "${part}"`);
      start = parseValue(a ?? '', f);
      end = b === undefined ? (stepText === undefined ? start : f.max) : parseValue(b, f);
      if (end < start) throw new SpecError(`invalid range in ${f.name} "${part}"`);
    }
    if (f === FIELDS.dayOfWeek && end === 7) {
      // Sunday as 7: keep 0-6 as a range and add Sunday when the step lands on 7.
      if (start <= 6) ranges.push({ start, end: 6, step });
      if ((7 - start) % step === 0) ranges.push({ start: 0, end: 0, step: 1 });
      continue;
    }
    ranges.push({ start, end, step });
  }
  if (f === FIELDS.year && expr === '*') return [];
  return ranges;
}

/** Compiles a CalendarSpec (string fields, with Temporal's defaults) into a structured calendar. */
export function compileCalendarStrings(c: CalendarStrings): StructuredCalendar {
  const out: StructuredCalendar = {
    second: parseField(c.second || '0', FIELDS.second),
    minute: parseField(c.minute || '0', FIELDS.minute),
    hour: parseField(c.hour || '0', FIELDS.hour),
    dayOfMonth: parseField(c.dayOfMonth || '*', FIELDS.dayOfMonth),
    month: parseField(c.month || '*', FIELDS.month),
    year: parseField(c.year || '*', FIELDS.year),
    dayOfWeek: parseField(c.dayOfWeek || '*', FIELDS.dayOfWeek),
  };
  if (c.comment) out.comment = c.comment;
  return out;
}

/** The cron descriptors robfig/cron (and so Temporal) accepts for a five-field expression: `@daily` is `0 0 * * *`. */
export const CRON_SHORTHANDS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseDurationText(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (!m) throw new SpecError(`invalid duration "${text}" in @every (use an integer with s, m, h or d)`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** What one cron string compiles to. */
export interface CompiledCron {
  calendar?: StructuredCalendar;
  interval?: IntervalMs;
  timezone?: string;
}

/**
 * Compiles a cron string as Temporal accepts it: 5 fields (minute hour dom month dow), 6 (… year) or 7 (second …
 * year); `@yearly`-style shorthands; `@every <n><unit>[/<phase>]`; an optional `CRON_TZ=` or `TZ=` prefix; an
 * optional trailing `# comment`.
 */
export function compileCron(cron: string): CompiledCron {
  let text = cron.trim();
  let comment: string | undefined;
  const hash = text.indexOf('#');
  if (hash >= 0) {
    comment = text.slice(hash + 1).trim();
    text = text.slice(0, hash).trim();
  }
  let timezone: string | undefined;
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(text);
  if (tz) {
    timezone = tz[1]!;
    text = tz[2]!.trim();
  }
  const result: CompiledCron = timezone === undefined ? {} : { timezone };
  if (text.startsWith('@every')) {
    const m = /^@every\s+(\S+?)(?:\/(\S+))?$/.exec(text);
    if (!m) throw new SpecError(`invalid @every spec "${cron}"`);
    const everyMs = parseDurationText(m[1]!);
    if (everyMs <= 0) throw new SpecError(`@every interval must be positive in "${cron}"`);
    return { ...result, interval: { everyMs, phaseMs: m[2] ? parseDurationText(m[2]) : 0 } };
  }
  if (text.startsWith('@')) {
    const expanded = CRON_SHORTHANDS[text.toLowerCase()];
    if (!expanded) throw new SpecError(`unknown cron shorthand "${text}"`);
    text = expanded;
  }
  const fields = text.split(/\s+/);
  if (fields.length < 5 || fields.length > 7) {
    throw new SpecError(`cron string "${cron}" must have 5, 6 or 7 fields`);
  }
  // 5 fields: minute to day of week (second 0, any year); 6: and the year; 7: the second first.
  const all = [...(fields.length === 7 ? [] : ['0']), ...fields, ...(fields.length === 5 ? ['*'] : [])];
  const [second, minute, hour, dayOfMonth, month, dayOfWeek, year] = all as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const strings: CalendarStrings = { second, minute, hour, dayOfMonth, month, dayOfWeek, year };
  const calendar = compileCalendarStrings(strings);
  if (comment) calendar.comment = comment;
  return { ...result, calendar };
}

/** Normalizes a structured calendar's ranges (explicit end and step) and checks their bounds. */
export function normalizeCalendar(c: StructuredCalendar): StructuredCalendar {
  const norm = (ranges: Range[] | undefined, f: FieldDef): Range[] =>
    (ranges ?? []).map((r) => {
      const start = Number(r.start ?? 0);
      const endRaw = Number(r.end ?? 0);
      const end = endRaw < start ? start : endRaw;
      const step = Number(r.step ?? 0) > 0 ? Number(r.step) : 1;
      const max = f === FIELDS.dayOfWeek ? 6 : f.max;
      if (f !== FIELDS.year && (start < f.min || end > max)) {
        throw new SpecError(`${f.name} range ${start}-${end} out of bounds ${f.min}-${max}`);
      }
      return { start, end, step };
    });
  const out: StructuredCalendar = {
    second: norm(c.second, FIELDS.second),
    minute: norm(c.minute, FIELDS.minute),
    hour: norm(c.hour, FIELDS.hour),
    dayOfMonth: norm(c.dayOfMonth, FIELDS.dayOfMonth),
    month: norm(c.month, FIELDS.month),
    year: norm(c.year, FIELDS.year),
    dayOfWeek: norm(c.dayOfWeek, FIELDS.dayOfWeek),
  };
  if (c.comment) out.comment = c.comment;
  return out;
}

// ---------------------------------------------------------------- time zones

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Whether `tz` is a time zone name the server knows (empty means UTC). */
export function isValidTimezone(tz: string): boolean {
  if (!tz || tz === 'UTC') return true;
  try {
    formatterFor(tz);
    return true;
  } catch {
    return false;
  }
}

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock time of instant `utcMs` in `tz`, expressed as if it were a UTC instant (whole seconds). */
export function wallClock(tz: string, utcMs: number): number {
  const secMs = Math.floor(utcMs / 1000) * 1000;
  if (!tz || tz === 'UTC') return secMs;
  const parts: Record<string, number> = {};
  for (const p of formatterFor(tz).formatToParts(new Date(secMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return Date.UTC(parts['year']!, parts['month']! - 1, parts['day'], parts['hour'], parts['minute'], parts['second']);
}

/** Every instant whose wall-clock time in `tz` is `wall`: none in a DST gap, two in a repeated hour. */
export function instantsForWallClock(tz: string, wall: number): number[] {
  if (!tz || tz === 'UTC') return [wall];
  const day = 86_400_000;
  const offsets = new Set([-day, 0, day].map((d) => wallClock(tz, wall + d) - (wall + d)));
  const out = new Set<number>();
  for (const o of offsets) {
    const t = wall - o;
    if (wallClock(tz, t) === wall) out.add(t);
  }
  return [...out].sort((a, b) => a - b);
}

// ---------------------------------------------------------------- matching

function matches(ranges: Range[] | undefined, v: number): boolean {
  for (const r of ranges ?? []) {
    const end = (r.end ?? 0) < r.start ? r.start : (r.end ?? r.start);
    const step = (r.step ?? 0) > 0 ? r.step! : 1;
    if (v >= r.start && v <= end && (v - r.start) % step === 0) return true;
  }
  return false;
}

/** Whether a wall-clock time (as a UTC instant) matches a structured calendar. */
export function calendarMatchesWall(c: StructuredCalendar, wall: number): boolean {
  const d = new Date(wall);
  return (
    (!c.year?.length || matches(c.year, d.getUTCFullYear())) &&
    matches(c.month, d.getUTCMonth() + 1) &&
    matches(c.dayOfMonth, d.getUTCDate()) &&
    matches(c.dayOfWeek, d.getUTCDay()) &&
    matches(c.hour, d.getUTCHours()) &&
    matches(c.minute, d.getUTCMinutes()) &&
    matches(c.second, d.getUTCSeconds())
  );
}

/** The first wall-clock time at or after `from` (whole seconds) matching the calendar, if any before 2101. */
export function nextWallMatch(c: StructuredCalendar, from: number): number | undefined {
  for (const f of [c.second, c.minute, c.hour, c.dayOfMonth, c.month, c.dayOfWeek]) if (!f?.length) return undefined;
  let t = Math.ceil(from / 1000) * 1000;
  for (let i = 0; i < 2_000_000; i++) {
    const d = new Date(t);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth();
    const day = d.getUTCDate();
    const h = d.getUTCHours();
    const mi = d.getUTCMinutes();
    if (y > MAX_CALENDAR_YEAR) return undefined;
    if (c.year?.length && !matches(c.year, y)) t = Date.UTC(y + 1, 0, 1);
    else if (!matches(c.month, mo + 1)) t = Date.UTC(y, mo + 1, 1);
    else if (!matches(c.dayOfMonth, day) || !matches(c.dayOfWeek, d.getUTCDay())) t = Date.UTC(y, mo, day + 1);
    else if (!matches(c.hour, h)) t = Date.UTC(y, mo, day, h + 1);
    else if (!matches(c.minute, mi)) t = Date.UTC(y, mo, day, h, mi + 1);
    else if (!matches(c.second, d.getUTCSeconds())) t += 1000;
    else return t;
  }
  return undefined;
}

/** Largest change of a UTC offset across one transition we allow for (Temporal zones shift by at most 2 h). */
const MAX_SHIFT_MS = 3 * 3_600_000;

/** The first instant strictly after `after` whose wall-clock time in `tz` matches the calendar. */
export function nextCalendarTime(c: StructuredCalendar, tz: string, after: number): number | undefined {
  const afterSec = Math.floor(after / 1000) * 1000;
  if (!tz || tz === 'UTC') return nextWallMatch(c, afterSec + 1000);
  // Start a little before the wall time of `after`: in a repeated hour, later instants have earlier wall times.
  let w: number | undefined = wallClock(tz, afterSec) - MAX_SHIFT_MS;
  let best: number | undefined;
  let bestWall = 0;
  while (w !== undefined) {
    w = nextWallMatch(c, w);
    if (w === undefined || (best !== undefined && w > bestWall + MAX_SHIFT_MS)) break;
    for (const t of instantsForWallClock(tz, w)) {
      if (t > afterSec && (best === undefined || t < best)) {
        best = t;
        bestWall = w;
      }
    }
    w += 1000;
  }
  return best;
}

/** The first instant strictly after `after` matched by an interval spec (epoch + n * interval + phase). */
export function nextIntervalTime(i: IntervalMs, after: number): number {
  const n = Math.floor((after - i.phaseMs) / i.everyMs) + 1;
  return i.phaseMs + n * i.everyMs;
}

// ---------------------------------------------------------------- whole specs

/** The raw spec fields the compiler reads (temporal.api.schedule.v1.ScheduleSpec, times in ms). */
export interface SpecInput {
  structuredCalendar?: StructuredCalendar[];
  cronString?: string[];
  calendar?: CalendarStrings[];
  interval?: IntervalMs[];
  excludeCalendar?: CalendarStrings[];
  excludeStructuredCalendar?: StructuredCalendar[];
  startTime?: number;
  endTime?: number;
  jitterMs?: number;
  timezoneName?: string;
}

/** Compiles a spec into canonical form, validating it as Temporal's frontend does. */
export function canonicalizeSpec(input: SpecInput): CanonicalSpec {
  let timezone = input.timezoneName ?? '';
  const calendars = (input.structuredCalendar ?? []).map(normalizeCalendar);
  const intervals: IntervalMs[] = [];
  for (const c of input.calendar ?? []) calendars.push(compileCalendarStrings(c));
  for (const cron of input.cronString ?? []) {
    const compiled = compileCron(cron);
    if (compiled.timezone) {
      if (timezone && timezone !== compiled.timezone) {
        throw new SpecError('CRON_TZ / TZ in a cron string conflicts with the timezone name');
      }
      timezone = compiled.timezone;
    }
    if (compiled.calendar) calendars.push(compiled.calendar);
    if (compiled.interval) intervals.push(compiled.interval);
  }
  for (const i of input.interval ?? []) {
    const everyMs = Math.floor(i.everyMs / 1000) * 1000;
    const phaseMs = Math.floor(i.phaseMs / 1000) * 1000;
    if (everyMs < 1000) throw new SpecError('Interval is too small (must be at least 1 second)');
    if (phaseMs < 0) throw new SpecError('Interval phase must not be negative');
    intervals.push({ everyMs, phaseMs });
  }
  for (const i of intervals)
    if (i.phaseMs >= i.everyMs) throw new SpecError('Interval phase must be less than the interval');
  const excludes = (input.excludeStructuredCalendar ?? []).map(normalizeCalendar);
  for (const c of input.excludeCalendar ?? []) excludes.push(compileCalendarStrings(c));
  if (!isValidTimezone(timezone)) throw new SpecError(`invalid time zone name: ${timezone}`);
  const jitterMs = input.jitterMs ?? 0;
  if (jitterMs < 0) throw new SpecError('Jitter must not be negative');
  return {
    calendars,
    intervals,
    excludes,
    startTime: input.startTime ?? 0,
    endTime: input.endTime ?? 0,
    jitterMs,
    timezone,
  };
}

/** One time a spec matches: the nominal time and the time with jitter applied. */
export interface SpecTime {
  nominal: number;
  actual: number;
}

function nextNominal(spec: CanonicalSpec, after: number): number | undefined {
  let t = after;
  if (spec.startTime && t < spec.startTime) t = spec.startTime - 1;
  for (let guard = 0; guard < 100_000; guard++) {
    let best: number | undefined;
    for (const c of spec.calendars) {
      const n = nextCalendarTime(c, spec.timezone, t);
      if (n !== undefined && (best === undefined || n < best)) best = n;
    }
    for (const i of spec.intervals) {
      const n = nextIntervalTime(i, t);
      if (best === undefined || n < best) best = n;
    }
    if (best === undefined) return undefined;
    if (spec.endTime && best > spec.endTime) return undefined;
    if (spec.excludes.some((x) => calendarMatchesWall(x, wallClock(spec.timezone, best)))) {
      t = best;
      continue;
    }
    return best;
  }
  return undefined;
}

/**
 * A deterministic jitter in [0, max): the same schedule and nominal time always get the same actual time, so a
 * restarted server recomputes the same start (and the same request id).
 */
function jitterFor(seed: string, nominal: number, maxMs: number): number {
  if (maxMs <= 0) return 0;
  const h = createHash('sha256').update(`${seed}:${nominal}`).digest();
  return Math.floor((h.readUInt32BE(0) / 2 ** 32) * maxMs);
}

/**
 * The first time of the spec whose nominal time is strictly after `after`, with jitter (bounded by the gap to the
 * following nominal time, so actual times keep their order).
 */
export function nextSpecTime(spec: CanonicalSpec, after: number, jitterSeed = ''): SpecTime | undefined {
  const nominal = nextNominal(spec, after);
  if (nominal === undefined) return undefined;
  if (spec.jitterMs <= 0) return { nominal, actual: nominal };
  const following = nextNominal(spec, nominal);
  const max = following === undefined ? spec.jitterMs : Math.min(spec.jitterMs, following - nominal);
  return { nominal, actual: nominal + jitterFor(jitterSeed, nominal, max) };
}

/** Times in (start, end] (by actual time, as Temporal's ListScheduleMatchingTimes and backfills use), at most `limit`. */
export function specTimesBetween(
  spec: CanonicalSpec,
  start: number,
  end: number,
  jitterSeed = '',
  limit = 1000,
): SpecTime[] {
  const out: SpecTime[] = [];
  let t = start;
  while (out.length < limit) {
    const next = nextSpecTime(spec, t, jitterSeed);
    if (!next || next.actual > end) break;
    out.push(next);
    t = next.nominal;
  }
  return out;
}
