/**
 * A schedule's policies as `mloe schedule` takes them: the overlap policy by name (`skip`, `buffer-one`, `buffer-all`,
 * `cancel-other`, `terminate-other`, `allow-all`; the Temporal CLI's `Skip`, `BufferOne`, … and the SDK's
 * `BUFFER_ONE` spellings are accepted too), the catch-up window (at least 10 s, as Temporal requires; shorter ones are
 * raised by the server) and pause on failure.
 */
import { ScheduleOverlapPolicy } from '@temporalio/client';

import { ConfigError } from '../../core/errors';
import { parseScheduleDuration } from './timing';

/** The overlap policies by the names `--overlap` takes, with what each does to a run that would overlap. */
export const OVERLAP_POLICIES = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
} as const;

/** A name of {@link OVERLAP_POLICIES}. */
export type OverlapPolicyName = keyof typeof OVERLAP_POLICIES;

/** The SDK's overlap policy values. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[OverlapPolicyName];

const squash = (text: string): string => text.toLowerCase().replace(/[-_\s]/g, '');

/** The overlap policy a name gives (any of the spellings above); `CONFIG_INVALID` listing the names otherwise. */
export function parseOverlapPolicy(text: string, flag = '--overlap'): OverlapPolicy {
  const wanted = squash(text);
  const found = Object.entries(OVERLAP_POLICIES).find(([name]) => squash(name) === wanted);
  if (found === undefined) {
    throw new ConfigError(
      `${flag} "${text}" is not an overlap policy: use ${Object.keys(OVERLAP_POLICIES).join(', ')}`,
    );
  }
  return found[1];
}

/** The name `--overlap` takes for an SDK overlap policy (`skip` for none). */
export function overlapPolicyName(policy: string | undefined): OverlapPolicyName {
  const found = Object.entries(OVERLAP_POLICIES).find(([, value]) => value === policy);
  return (found?.[0] as OverlapPolicyName | undefined) ?? 'skip';
}

/** The policies of a schedule, as the API takes them. */
export interface SchedulePolicyOptions {
  /** What a run does that would start while another runs (`skip` by default, as in Temporal). */
  overlap?: string;
  /** How late a missed run may still start after the server was down (a duration; the server's default is a year). */
  catchupWindow?: string;
  /** Pause the schedule when a run fails or times out. */
  pauseOnFailure?: boolean;
}

/** The SDK's `policies` of a schedule. */
export function schedulePolicies(options: SchedulePolicyOptions): {
  overlap: OverlapPolicy;
  catchupWindow?: number;
  pauseOnFailure: boolean;
} {
  return {
    overlap: options.overlap === undefined ? ScheduleOverlapPolicy.SKIP : parseOverlapPolicy(options.overlap),
    ...(options.catchupWindow === undefined
      ? {}
      : { catchupWindow: parseScheduleDuration(options.catchupWindow, '--catchup-window') }),
    pauseOnFailure: options.pauseOnFailure === true,
  };
}
