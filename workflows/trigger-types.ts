/**
 * What clients, workers and activities need to know about data-arrival triggers (`watchPrefix`) without loading
 * workflow code: the workflow type, its input and state, the search attribute, the signals and the query. Importing
 * this module runs no workflow code.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';

import type { JsonValue } from '../core/spec';
import type { RunPipelineInput } from './types';

/** The workflow type of a trigger. */
export const WATCH_PREFIX_WORKFLOW_TYPE = 'watchPrefix';

/** The signature of `watchPrefix`, for typed starts by name. */
export type WatchPrefixWorkflow = (input: WatchPrefixInput) => Promise<TriggerDescription>;

/** Search attribute (Keyword): the trigger's name, on the trigger's workflow and on every run it starts. */
export const TRIGGER_SEARCH_ATTRIBUTE = defineSearchAttributeKey('MloeTrigger', SearchAttributeType.KEYWORD);

/** The workflow id of the trigger called `name`: one running trigger per name. */
export function triggerWorkflowId(name: string): string {
  return `mloe-trigger-${name}`;
}

/** A trigger's names: lowercase letters, digits and `-`, like a pipeline's (it prefixes the ids of its runs). */
export const TRIGGER_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** The longest trigger name (its runs' ids add 33 characters). */
export const MAX_TRIGGER_NAME_LENGTH = 63;

/** Memo key of a trigger's settings, readable from visibility (`mloe trigger list` needs no worker). */
export const TRIGGER_MEMO_KEY = 'mloeTrigger';

/** The settings of a trigger, as it was created (immutable: delete and create again to change one). */
export interface TriggerSettings {
  /** The trigger's name. */
  name: string;
  /** The watched location: `s3://bucket/prefix/` or `file:///absolute/dir/`. */
  on: string;
  /** Only keys (relative to `on`) matching this glob count. */
  pattern?: string;
  /** Partition mode: a run per directory once this marker object (e.g. `_SUCCESS`) appears in it. */
  marker?: string;
  /** How often the prefix is listed, in ms. */
  pollMs: number;
  /** Objects arriving with less than this between them (ms) are grouped into one run. */
  debounceMs?: number;
  /** At most this many runs start in any hour; the rest wait, in order. */
  maxRunsPerHour?: number;
  /** The pipeline parameter that receives the object's (or partition's) URI. */
  uriParam: string;
  /**
   * With `debounceMs`: the pipeline parameter that receives the URI of the run's object manifest (a JSON artifact
   * listing every object the run covers, {@link TriggerObjectManifest}).
   */
  objectsParam?: string;
  /** Objects present when the trigger is created start runs too (by default, only objects that arrive later). */
  includeExisting: boolean;
  /**
   * How far before the newest object seen an object may still appear and count as new (ms): S3 stamps an object's
   * `LastModified` when its upload starts, so a slow upload appears after quicker, later ones.
   */
  settleMs: number;
  /** The pipeline: its name and spec hash (pinned at creation). */
  pipeline: string;
  specHash: string;
  /** The task queue runs start on. */
  taskQueue: string;
}

/** Input of `watchPrefix`: the settings, the pinned run input, and (after continue-as-new) the state. */
export interface WatchPrefixInput {
  settings: TriggerSettings;
  /** The run input every run starts from; the URI parameter is set per object. Validated by the client. */
  run: RunPipelineInput;
  /** The state carried over by continue-as-new. */
  state?: WatchState;
}

/** Where a listing has got to. */
export interface ListCursor {
  /** The newest `LastModified` (ms since the epoch, the store's clock) of the objects seen. */
  watermarkMs: number;
  /** Objects seen whose `LastModified` is within `settleMs` of the watermark: short digest → `LastModified`. */
  seen: Record<string, number>;
}

/** An object (or a partition, by its marker) a listing found new. */
export interface FoundObject {
  /** Relative to the watched location. */
  key: string;
  /** What the run gets: the object's URI, or the partition's (ending in `/`). */
  uri: string;
  /** The object's ETag (S3) or `<mtime>-<size>` in hex (files, nginx-style). */
  etag: string;
  lastModifiedMs: number;
  size: number;
  /** A short digest of the key and ETag: how the cursor remembers it. */
  seenId: string;
  /** The workflow id of its run: the trigger's name and a digest of the URI and ETag. */
  runId: string;
}

/** A run waiting to start: one object, or a debounced group. */
export interface PendingRun {
  runId: string;
  /** The URI parameter's value. */
  uri: string;
  /** The objects it covers (one, unless debounced). */
  objects: number;
  /** First and last object of the group (keys), for the memo. */
  firstKey: string;
  lastKey: string;
  /** The URI of the group's object manifest (debounced runs of a trigger with `objectsParam`). */
  manifest?: string;
}

/** A run the trigger started. */
export interface StartedRun {
  runId: string;
  uri: string;
  /** Workflow time (ISO 8601). */
  startedAt: string;
  /** True when a run with this id existed already (a replayed start): nothing new started. */
  existing: boolean;
  /** The URI of its object manifest, if it has one. */
  manifest?: string;
}

/** Counters of a trigger's life, across continue-as-new. */
export interface TriggerCounters {
  polls: number;
  objectsSeen: number;
  runsStarted: number;
  /** Starts refused because the run existed already. */
  duplicates: number;
  pollFailures: number;
}

/** A trigger's state, carried across continue-as-new. */
export interface WatchState {
  cursor?: ListCursor;
  paused: boolean;
  note?: string;
  pending: PendingRun[];
  /** The debounce group being formed. */
  group?: {
    objects: FoundObject[];
    firstSeenMs: number;
    lastSeenMs: number;
    /** Writing its manifest failed: the group closes no sooner than this (workflow time, ms). */
    retryAtMs?: number;
  };
  /** Start times (ms, workflow time) of the runs of the last hour, for `maxRunsPerHour`. */
  recentStarts: number[];
  counters: TriggerCounters;
  /** The latest runs started, newest last (at most {@link MAX_RECENT_RUNS}). */
  lastRuns: StartedRun[];
  lastPollAt?: string;
  lastError?: string;
  /** Executions of the workflow so far, this one included. */
  generation?: number;
}

/** Runs `describe` lists. */
export const MAX_RECENT_RUNS = 20;

/** What the `describe` query answers (and what the workflow returns when it ends). */
export interface TriggerDescription {
  settings: TriggerSettings;
  paused: boolean;
  note?: string;
  counters: TriggerCounters;
  /** Runs waiting to start (debounced groups, or held back by `maxRunsPerHour`). */
  pending: number;
  /** Objects in the debounce group being formed. */
  grouping: number;
  /** Runs started in the last hour. */
  runsLastHour: number;
  lastRuns: StartedRun[];
  /** The newest `LastModified` seen (ISO 8601). */
  watermark?: string;
  lastPollAt?: string;
  lastError?: string;
  /** Executions of the workflow so far (continue-as-new makes a new one). */
  generation: number;
}

/** Signal `pause`: stop listing and starting runs until `unpause`; objects that arrive meanwhile are found later. */
export const pauseTriggerSignal = defineSignal<[{ note?: string }]>('pause');
/** Signal `unpause`: list again at once. */
export const unpauseTriggerSignal = defineSignal<[{ note?: string }]>('unpause');
/** Query `describe`: the trigger's settings and state. */
export const describeTriggerQuery = defineQuery<TriggerDescription>('describe');

/** Input of the `listNewObjects` activity. */
export interface ListNewObjectsInput {
  trigger: string;
  on: string;
  pattern?: string;
  marker?: string;
  settleMs: number;
  /** Absent on the first listing. */
  cursor?: ListCursor;
  /** First listing only: whether what exists counts as new. */
  includeExisting: boolean;
  /** At most this many objects are returned (oldest first); the rest on the next listing. */
  limit: number;
}

/** What `listNewObjects` answers: the new objects, oldest first, and the cursor after them. */
export interface ListNewObjectsResult {
  objects: FoundObject[];
  cursor: ListCursor;
  /** Objects listed in all (matching or not). */
  listed: number;
}

/**
 * The parameters of a run of `uri`: the pinned ones with the URI parameter set, and the objects parameter when the
 * run has an object manifest.
 */
export function runParams(
  run: RunPipelineInput,
  uriParam: string,
  uri: string,
  objects?: { param: string; manifest: string },
): Record<string, JsonValue> {
  return { ...run.params, [uriParam]: uri, ...(objects === undefined ? {} : { [objects.param]: objects.manifest }) };
}

/** The `kind` of a trigger's object manifest. */
export const TRIGGER_OBJECTS_KIND = 'mloe.dev/trigger-objects';

/** One object of a manifest (a partition's marker, in partition mode: `uri` is then the partition's). */
export interface TriggerManifestObject {
  uri: string;
  etag: string;
  size: number;
  /** `LastModified` (ISO 8601). */
  lastModified: string;
}

/**
 * The object manifest of a debounced run: a JSON artifact (content-addressed, in the run's artifact store) listing
 * the objects the run covers, in key order. The run gets its URI in the trigger's `objectsParam`.
 */
export interface TriggerObjectManifest {
  kind: typeof TRIGGER_OBJECTS_KIND;
  version: 1;
  trigger: string;
  /** The watched location. */
  on: string;
  count: number;
  objects: TriggerManifestObject[];
}

/** Input of the `writeObjectManifest` activity. */
export interface WriteObjectManifestInput {
  /** The run's artifact store; the worker's default when absent. */
  artifactStore?: string;
  trigger: string;
  on: string;
  /** In key order; `lastModifiedMs` since the epoch (the activity writes ISO 8601). */
  objects: Pick<FoundObject, 'uri' | 'etag' | 'size' | 'lastModifiedMs'>[];
}

/** What `writeObjectManifest` answers: where the manifest is. */
export interface WrittenObjectManifest {
  uri: string;
  /** `sha256:<hex>` of its bytes. */
  digest: string;
  count: number;
}

/** Input of the `startTriggeredRuns` activity: the runs to start, and what every run starts from. */
export interface StartTriggeredRunsInput {
  settings: TriggerSettings;
  run: RunPipelineInput;
  runs: PendingRun[];
}
