/**
 * What a run started by a schedule takes from it (docs/schedules.md): the scheduled time, read from the
 * `TemporalScheduledStartTime` search attribute Temporal (and the dev server) sets on every scheduled start, into the
 * parameter the schedule names. Reading the run's search attributes issues no command, so this is deterministic and
 * changes nothing for runs not started by a schedule (their input has no `schedule`).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { workflowInfo } from '@temporalio/workflow';

import type { RunPipelineInput } from './types';

/** Temporal's search attribute holding a scheduled run's nominal time (jitter excluded). */
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** A time as RFC 3339 in UTC with whole seconds (`2026-01-01T00:00:00Z`), as Temporal appends it to workflow ids. */
export function rfc3339Seconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The input with the schedule's `scheduledTimeParam` set to the run's scheduled time, when the schedule names one and
 * the run carries the attribute; the input unchanged otherwise.
 */
export function withScheduledTime(input: RunPipelineInput): RunPipelineInput {
  const name = input.schedule?.scheduledTimeParam;
  if (name === undefined) return input;
  const time = scheduledStartTime();
  if (time === undefined) return input;
  return { ...input, params: { ...input.params, [name]: rfc3339Seconds(time) } };
}

/** The run's scheduled time when a schedule started it (`TemporalScheduledStartTime`), undefined otherwise. */
export function scheduledStartTime(): Date | undefined {
  const value: unknown = workflowInfo().typedSearchAttributes.get(SCHEDULED_START_TIME);
  const time = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  return time === undefined || Number.isNaN(time.getTime()) ? undefined : time;
}
