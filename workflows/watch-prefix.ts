/**
 * `watchPrefix`: a data-arrival trigger. A long-running workflow that lists a `file://` or `s3://` location every poll
 * interval through the `listNewObjects` activity (with a cursor, so it answers only what is new), and starts one
 * pipeline run per new object, per completed partition (a marker object such as `_SUCCESS`), or, with a debounce
 * window, per burst, with the object's URI as a parameter. Runs are started by the `startTriggeredRuns` activity, a
 * batch at a time, as ordinary top-level runs (they outlive the trigger); their ids are derived from the object's URI
 * and ETag and they start with `REJECT_DUPLICATE`, so whatever is replayed, retried or listed twice, an object starts
 * one run ever. The trigger continues-as-new well before its history grows large, carrying its cursor, its queue and
 * its counters.
 *
 * With `objectsParam`, a debounced run also gets the URI of its object manifest (a JSON artifact listing the objects
 * it covers), written by the `writeObjectManifest` activity when its group closes: behind
 * `patched('mloe-trigger-object-manifest')`, since that is a command older code did not issue.
 *
 * `pause` and `unpause` signals stop and resume listing and starting (objects that arrive meanwhile are found on
 * resume); the `describe` query answers the settings and state. Deleting a trigger terminates its workflow.
 */
import {
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';

import type { TriggerActivities } from '../activities/triggers';
import { backoffRetry } from './activity-options';
import {
  MAX_RECENT_RUNS,
  TRIGGER_MEMO_KEY,
  describeTriggerQuery,
  pauseTriggerSignal,
  unpauseTriggerSignal,
  type FoundObject,
  type PendingRun,
  type StartedRun,
  type TriggerDescription,
  type WatchPrefixInput,
  type WatchPrefixWorkflow,
  type WatchState,
} from './trigger-types';

/** Listing: retried a few times, then the trigger records the error and lists again at the next poll. */
const listing = proxyActivities<TriggerActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: backoffRetry({ maximumAttempts: 3 }),
});

/** Starting runs: a batch retried through a worker's crash; its starts are idempotent. */
const starting = proxyActivities<TriggerActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: backoffRetry({ maximumAttempts: 5 }),
});

/** Writing a debounced run's object manifest: retried a few times, then the group is closed again a poll later. */
const manifests = proxyActivities<TriggerActivities>({
  startToCloseTimeout: '2 minutes',
  retry: backoffRetry({ maximumAttempts: 5 }),
});

/** The patch under which a debounced run's group writes an object manifest (a command older code did not issue). */
export const OBJECT_MANIFEST_PATCH = 'mloe-trigger-object-manifest';

const HOUR_MS = 3_600_000;
/** Objects one listing hands over at most (the rest come with the next one). */
const LIST_LIMIT = 1_000;
/** While this many runs wait (held back by `maxRunsPerHour`), the trigger stops listing. */
const MAX_PENDING = 1_000;
/** Runs one activity starts at most. */
const START_BATCH = 250;
/** A debounce group closes at this many objects, or this many debounce windows after its first object. */
const MAX_GROUP_OBJECTS = 1_000;
const MAX_GROUP_WINDOWS = 10;
/** Continue-as-new past this many events or bytes of history (well below Temporal's limits and suggestion). */
const MAX_HISTORY_EVENTS = 2_000;
const MAX_HISTORY_BYTES = 2 * 1024 * 1024;

/** Watches a location and starts runs for what arrives there (see the module comment). */
export async function watchPrefix(input: WatchPrefixInput): Promise<TriggerDescription> {
  const { settings, run } = input;
  const state: WatchState = input.state ?? {
    paused: false,
    pending: [],
    recentStarts: [],
    counters: { polls: 0, objectsSeen: 0, runsStarted: 0, duplicates: 0, pollFailures: 0 },
    lastRuns: [],
  };
  state.generation = (state.generation ?? 0) + 1;
  let wake = 0;
  let nextPollMs = workflowNow();
  let memoPaused = state.paused;

  setHandler(pauseTriggerSignal, (request) => {
    state.paused = true;
    setNote(state, request?.note);
    wake += 1;
  });
  setHandler(unpauseTriggerSignal, (request) => {
    state.paused = false;
    setNote(state, request?.note);
    nextPollMs = workflowNow();
    wake += 1;
  });
  setHandler(describeTriggerQuery, () => describe(input, state));

  for (;;) {
    if (!state.paused && workflowNow() >= nextPollMs && state.pending.length < MAX_PENDING) {
      await poll(input, state);
      nextPollMs = workflowNow() + settings.pollMs;
    }
    await closeGroupWhenDue(input, state, workflowNow());
    if (!state.paused) await startDue(input, state);
    if (memoPaused !== state.paused) {
      memoPaused = state.paused;
      upsertMemo({ [TRIGGER_MEMO_KEY]: triggerMemo(input, state) });
    }
    const info = workflowInfo();
    if (
      info.continueAsNewSuggested ||
      info.historyLength > MAX_HISTORY_EVENTS ||
      info.historySize > MAX_HISTORY_BYTES
    ) {
      await continueAsNew<WatchPrefixWorkflow>({ settings, run, state });
    }
    const seen = wake;
    const waitMs = state.paused ? undefined : nextWakeMs(input, state, nextPollMs, workflowNow());
    if (waitMs === undefined) await condition(() => wake !== seen);
    else await condition(() => wake !== seen, Math.max(1, waitMs));
  }
}

function setNote(state: WatchState, note: string | undefined): void {
  if (note === undefined || note === '') delete state.note;
  else state.note = note;
}

/** Lists once; new objects join the queue (or the debounce group). A failed listing is recorded, not fatal. */
async function poll({ settings }: WatchPrefixInput, state: WatchState): Promise<void> {
  try {
    const result = await listing.listNewObjects({
      trigger: settings.name,
      on: settings.on,
      ...(settings.pattern === undefined ? {} : { pattern: settings.pattern }),
      ...(settings.marker === undefined ? {} : { marker: settings.marker }),
      settleMs: settings.settleMs,
      ...(state.cursor === undefined ? {} : { cursor: state.cursor }),
      includeExisting: settings.includeExisting,
      limit: LIST_LIMIT,
    });
    state.cursor = result.cursor;
    state.counters.polls += 1;
    state.counters.objectsSeen += result.objects.length;
    state.lastPollAt = new Date().toISOString();
    delete state.lastError;
    if (result.objects.length === 0) return;
    if (settings.debounceMs === undefined) {
      state.pending.push(...result.objects.map((object) => pendingOf(object)));
    } else {
      const now = workflowNow();
      const group = state.group ?? { objects: [], firstSeenMs: now, lastSeenMs: now };
      group.objects.push(...result.objects);
      group.lastSeenMs = now;
      state.group = group;
    }
  } catch (error) {
    state.counters.pollFailures += 1;
    state.lastError = `${new Date().toISOString()}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function pendingOf(object: FoundObject): PendingRun {
  return { runId: object.runId, uri: object.uri, objects: 1, firstKey: object.key, lastKey: object.key };
}

/**
 * Closes the debounce group once quiet for the window (or full, or old): one run for all of it, with its object
 * manifest when the trigger has `objectsParam`. A manifest that cannot be written keeps the group, closed again a
 * poll interval later (the error is in `describe`).
 */
async function closeGroupWhenDue({ settings, run }: WatchPrefixInput, state: WatchState, now: number): Promise<void> {
  const group = state.group;
  const debounceMs = settings.debounceMs;
  if (group === undefined || debounceMs === undefined) return;
  const due =
    now - group.lastSeenMs >= debounceMs ||
    now - group.firstSeenMs >= MAX_GROUP_WINDOWS * debounceMs ||
    group.objects.length >= MAX_GROUP_OBJECTS;
  if (!due || (group.retryAtMs !== undefined && now < group.retryAtMs)) return;
  const objects = [...group.objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const first = objects[0];
  const last = objects[objects.length - 1];
  if (first === undefined || last === undefined) {
    delete state.group;
    return;
  }
  let manifest: string | undefined;
  if (settings.objectsParam !== undefined && patched(OBJECT_MANIFEST_PATCH)) {
    try {
      const written = await manifests.writeObjectManifest({
        ...(run.artifactStore === undefined ? {} : { artifactStore: run.artifactStore }),
        trigger: settings.name,
        on: settings.on,
        objects: objects.map(({ uri, etag, size, lastModifiedMs }) => ({ uri, etag, size, lastModifiedMs })),
      });
      manifest = written.uri;
    } catch (error) {
      state.lastError = `${new Date().toISOString()}: writing the object manifest of ${objects.length} objects: ${
        error instanceof Error ? error.message : String(error)
      }`;
      group.retryAtMs = workflowNow() + settings.pollMs;
      return;
    }
  }
  delete state.group;
  // The group's run takes the id of its first object's run: each object is in one group only.
  state.pending.push({
    runId: first.runId,
    uri: objects.length === 1 ? first.uri : settings.on,
    objects: objects.length,
    firstKey: first.key,
    lastKey: last.key,
    ...(manifest === undefined ? {} : { manifest }),
  });
}

/**
 * Starts what waits, as far as `maxRunsPerHour` allows, a batch per activity. A batch that fails stays queued and is
 * tried again after the next poll interval (its runs that did start are refused as existing then).
 */
async function startDue({ settings, run }: WatchPrefixInput, state: WatchState): Promise<void> {
  const limit = settings.maxRunsPerHour;
  while (state.pending.length > 0) {
    const now = workflowNow();
    state.recentStarts = state.recentStarts.filter((at) => at > now - HOUR_MS);
    const allowed = limit === undefined ? START_BATCH : Math.min(START_BATCH, limit - state.recentStarts.length);
    if (allowed <= 0) return;
    const batch = state.pending.slice(0, allowed);
    let started: StartedRun[];
    try {
      started = await starting.startTriggeredRuns({ settings, run, runs: batch });
    } catch (error) {
      state.lastError = `${new Date().toISOString()}: starting runs: ${error instanceof Error ? error.message : String(error)}`;
      return;
    }
    state.pending = state.pending.slice(batch.length);
    for (const one of started) {
      // A run that existed already was started by an earlier attempt of this same start: it counts once.
      state.counters.runsStarted += 1;
      if (one.existing) state.counters.duplicates += 1;
      state.recentStarts.push(now);
    }
    state.lastRuns = [...state.lastRuns, ...started].slice(-MAX_RECENT_RUNS);
  }
}

/** How long to sleep: until the next poll, the debounce group closes, or `maxRunsPerHour` frees a start. */
function nextWakeMs({ settings }: WatchPrefixInput, state: WatchState, nextPollMs: number, now: number): number {
  const times = [state.pending.length < MAX_PENDING ? nextPollMs : Number.POSITIVE_INFINITY];
  if (state.group !== undefined && settings.debounceMs !== undefined) {
    times.push(
      Math.max(
        Math.min(
          state.group.lastSeenMs + settings.debounceMs,
          state.group.firstSeenMs + MAX_GROUP_WINDOWS * settings.debounceMs,
        ),
        state.group.retryAtMs ?? Number.NEGATIVE_INFINITY,
      ),
    );
  }
  const oldest = state.recentStarts[0];
  if (state.pending.length > 0 && oldest !== undefined) times.push(oldest + HOUR_MS);
  const next = Math.min(...times);
  return Number.isFinite(next) ? next - now : settings.pollMs;
}

/** The trigger's memo entry: its settings and whether it is paused (`mloe trigger list` reads it). */
export function triggerMemo({ settings }: WatchPrefixInput, state: Pick<WatchState, 'paused' | 'note'>) {
  return { ...settings, paused: state.paused, ...(state.note === undefined ? {} : { note: state.note }) };
}

function describe(input: WatchPrefixInput, state: WatchState): TriggerDescription {
  const now = workflowNow();
  return {
    settings: input.settings,
    paused: state.paused,
    ...(state.note === undefined ? {} : { note: state.note }),
    counters: state.counters,
    pending: state.pending.length,
    grouping: state.group?.objects.length ?? 0,
    runsLastHour: state.recentStarts.filter((at) => at > now - HOUR_MS).length,
    lastRuns: state.lastRuns,
    ...(state.cursor === undefined || state.cursor.watermarkMs === 0
      ? {}
      : { watermark: new Date(state.cursor.watermarkMs).toISOString() }),
    ...(state.lastPollAt === undefined ? {} : { lastPollAt: state.lastPollAt }),
    ...(state.lastError === undefined ? {} : { lastError: state.lastError }),
    generation: state.generation ?? 1,
  };
}

/** The workflow's current time in ms (the SDK makes `Date` deterministic: the time of the current workflow task). */
function workflowNow(): number {
  return new Date().getTime();
}
