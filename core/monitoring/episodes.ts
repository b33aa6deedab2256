/**
 * Drift episodes and the retraining decision, pure. An episode opens at the first drifted tick after an undrifted
 * one (or the first tick) and closes at the next undrifted tick. It gets at most one retraining run, ever: the run's
 * workflow id is derived from the monitor and the episode (`retrainWorkflowId`), and is started with
 * `REJECT_DUPLICATE`. A run also waits for the cooldown since the last run and for room under the daily cap; an
 * episode that had to wait starts its run at a later tick once both allow it.
 */
import { z } from 'zod';

import { retrainWorkflowId } from './definition';

/** A retraining run a monitor started. */
export const startedRunSchema = z.object({ workflowId: z.string(), episode: z.string(), startedAt: z.string() });

/** What a monitor remembers between ticks (a record in its artifact store). */
export const monitorStateSchema = z.object({
  version: z.literal(1),
  /** The open drift episode: its id, when it opened, and the run started for it. */
  episode: z.object({ id: z.string(), openedAt: z.string(), run: z.string().optional() }).optional(),
  /** Retraining runs started, newest last (kept for a day past the cooldown and cap). */
  runs: z.array(startedRunSchema),
  /** The last tick: when, what it concluded, its report. */
  lastTick: z.object({ at: z.string(), outcome: z.string(), report: z.string().optional() }).optional(),
});

/** {@link monitorStateSchema}'s type. */
export type MonitorState = z.infer<typeof monitorStateSchema>;

/** The state of a monitor that never ticked. */
export const EMPTY_MONITOR_STATE: MonitorState = { version: 1, runs: [] };

/** What a tick saw. */
export type TickObservation = 'drifted' | 'stable' | 'insufficient-data';

/** What a tick decided. */
export type RetrainDecision =
  | { action: 'none'; reason: 'stable' | 'insufficient-data' | 'already-retrained'; episode?: string }
  | { action: 'start'; episode: string; workflowId: string }
  | { action: 'suppressed'; reason: 'cooldown' | 'daily-cap'; episode: string; until: string };

/** The retraining limits of a monitor. */
export interface RetrainPolicy {
  cooldownMs: number;
  maxRunsPerDay: number;
}

const DAY_MS = 86_400_000;

/** An episode id from the time its first drifted tick ran: `YYYYMMDDTHHMMSSZ`. */
export function episodeId(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

function utcDay(at: Date): number {
  return Math.floor(at.getTime() / DAY_MS);
}

/**
 * Decides a tick: the next state and what to do. `observation` is the tick's conclusion; `now` the tick's time.
 * The state records a `start` as already done: the caller starts the run (deduplicated by its workflow id) and then
 * saves the state.
 */
export function decideTick(
  monitor: string,
  state: MonitorState,
  observation: TickObservation,
  now: Date,
  policy: RetrainPolicy,
): { state: MonitorState; decision: RetrainDecision } {
  const runs = state.runs.filter(
    (run) => now.getTime() - Date.parse(run.startedAt) < Math.max(DAY_MS, policy.cooldownMs) + DAY_MS,
  );
  if (observation === 'insufficient-data') {
    return {
      state: { ...state, runs },
      decision: {
        action: 'none',
        reason: 'insufficient-data',
        ...(state.episode === undefined ? {} : { episode: state.episode.id }),
      },
    };
  }
  if (observation === 'stable') {
    const { episode: _closed, ...rest } = state;
    return { state: { ...rest, runs }, decision: { action: 'none', reason: 'stable' } };
  }
  const episode = state.episode ?? { id: episodeId(now), openedAt: now.toISOString() };
  if (episode.run !== undefined) {
    return {
      state: { ...state, episode, runs },
      decision: { action: 'none', reason: 'already-retrained', episode: episode.id },
    };
  }
  const last = runs[runs.length - 1];
  if (last !== undefined && now.getTime() - Date.parse(last.startedAt) < policy.cooldownMs) {
    const until = new Date(Date.parse(last.startedAt) + policy.cooldownMs).toISOString();
    return {
      state: { ...state, episode, runs },
      decision: { action: 'suppressed', reason: 'cooldown', episode: episode.id, until },
    };
  }
  const today = runs.filter((run) => utcDay(new Date(run.startedAt)) === utcDay(now));
  if (today.length >= policy.maxRunsPerDay) {
    const until = new Date((utcDay(now) + 1) * DAY_MS).toISOString();
    return {
      state: { ...state, episode, runs },
      decision: { action: 'suppressed', reason: 'daily-cap', episode: episode.id, until },
    };
  }
  const workflowId = retrainWorkflowId(monitor, episode.id);
  return {
    state: {
      ...state,
      episode: { ...episode, run: workflowId },
      runs: [...runs, { workflowId, episode: episode.id, startedAt: now.toISOString() }],
    },
    decision: { action: 'start', episode: episode.id, workflowId },
  };
}
