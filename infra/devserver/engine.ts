/**
 * The dev server's core: runs in memory, written through to SQLite, with the history operations every API area
 * shares (append, buffer, schedule a workflow task, close a run, notify parents). API handlers live in `api/`.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock';
import { parseState, stringifyState } from './codec';
import { invalidArgument, namespaceNotFound, workflowNotFound } from './errors';
import { Matching } from './matching';
import {
  EventType,
  WorkflowExecutionStatus,
  decodeEvent,
  encodeEvent,
  msToTimestamp,
  type HistoryEvent,
} from './proto';
import type { RunState, WorkflowTaskState } from './state';
import { Store } from './store';
import { TimerQueue, type TimerHandle } from './timer-queue';
import type { Logger } from './logger';
import { DEFAULT_LIMITS, type Limits } from './limits';

/** One history event with its encoded bytes (encoded once, reused for every history response). */
export interface StoredEvent {
  event: HistoryEvent;
  bytes: Uint8Array;
}

/** A namespace as registered. */
export interface NamespaceRecord {
  name: string;
  id: string;
  description: string;
  ownerEmail: string;
  retentionMs: number;
  data: Record<string, string>;
  createdTime: number;
}

/** Pre-encoded gRPC response bytes (histories are assembled from already-encoded events). */
export class RawResponse {
  constructor(readonly bytes: Buffer) {}
}

/** A query waiting for a worker's answer. */
export interface PendingQuery {
  id: string;
  query: Record<string, unknown>;
  resolve(result: { answer?: unknown; failure?: { message: string } }): void;
  dispatched: boolean;
  /** The workflow task it rides on (0: its own query task). */
  taskSeq: number;
  /** Counts deliveries as a query task of its own; only the latest copy may still be handed out. */
  deliveries?: number;
}

/** A workflow run in memory: its mutable state, its history, and transient waiters. */
export class RunRecord {
  history: StoredEvent[] = [];
  persistedEvents = 0;
  readonly deadlines = new Map<string, TimerHandle>();
  /** Called after each commit that changed this run (history long-polls, update waiters). */
  readonly watchers = new Set<() => void>();
  readonly queries = new Map<string, PendingQuery>();
  /**
   * The worker-specific (sticky) queue of the worker that has this run cached, if any. Not persisted: after a
   * restart every task goes to the normal queue with the full history, which is always correct.
   */
  sticky: { queue: string; scheduleToStartMs: number } | undefined;
  /** The large-history warning was logged for this run (once per run per server process). */
  warnedLargeHistory = false;
  constructor(public state: RunState) {}

  get key(): string {
    return runKey(this.state.namespace, this.state.runId);
  }

  get isOpen(): boolean {
    return this.state.status === WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
  }
}

/**
 * Long-poll helper: resolves once `ready()` holds after a commit that changed the run, when the call is cancelled,
 * or after `timeoutMs` (whichever comes first). The caller re-reads the state afterwards.
 */
export function waitForRun(
  run: RunRecord,
  ready: () => boolean,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<void> {
  if (ready()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      run.watchers.delete(check);
      resolve();
    };
    const check = (): void => {
      if (ready()) done();
    };
    const timer = setTimeout(done, timeoutMs);
    signal.addEventListener('abort', done);
    run.watchers.add(check);
  });
}

export const runKey = (namespace: string, runId: string): string => `${namespace}\u0000${runId}`;
const workflowKey = (namespace: string, workflowId: string): string => `${namespace}\u0000${workflowId}`;

const EVENT_ATTRIBUTE_KEYS = new Map<number, string>();
for (const [name, value] of Object.entries(EventType)) {
  if (typeof value !== 'number' || value === 0) continue;
  const camel = name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  EVENT_ATTRIBUTE_KEYS.set(value, `${camel}EventAttributes`);
}

/** Hooks from the engine into the API areas (set by the server when it wires the handlers). */
export interface EngineHooks {
  /** Enqueue the run's scheduled workflow task for dispatch. */
  dispatchWorkflowTask(run: RunRecord): void;
  /** Arm (or re-arm) every deadline of a run from its state. */
  armDeadlines(run: RunRecord): void;
  /** Carry out side effects recorded in state (children to start, external signals and cancels). */
  runTransferTasks(run: RunRecord): void;
  /** A run closed: notify the parent, apply parent close policies, fail waiting updates and queries. */
  onClosed(run: RunRecord): void;
}

/**
 * A listener that takes part in each commit: called with the runs the commit writes, after their rows are queued
 * and before the transaction runs. Whatever it queues on the store (`store.queue`) is written in the same
 * transaction as those runs, so derived data (the visibility index) can never disagree with them after a crash.
 * Listeners must not change runs (they are already serialized) and must not throw for a run they do not understand.
 */
export type BeforeCommitListener = (runs: readonly RunRecord[]) => void;

/** Options for {@link Engine}. */
export interface EngineOptions {
  /** Temporal's limits (defaults when absent). */
  limits?: Partial<Limits>;
  clock: Clock;
  store: Store;
  logger: Logger;
  pollTimeoutMs: number;
  /**
   * Whether StartWorkflowExecution may hand the first workflow task back to the caller (Temporal's dynamic config
   * `system.enableEagerWorkflowStart`, which `temporal server start-dev` turns on). Default true.
   */
  eagerWorkflowStart?: boolean;
}

/** The dev server engine. */
export class Engine {
  readonly clock: Clock;
  readonly store: Store;
  readonly logger: Logger;
  readonly timers: TimerQueue;
  readonly limits: Limits;
  /** Eager workflow start is allowed in every namespace (see {@link EngineOptions.eagerWorkflowStart}). */
  readonly eagerWorkflowStart: boolean;
  readonly namespaces = new Map<string, NamespaceRecord>();
  readonly runs = new Map<string, RunRecord>();
  /** The latest run of each workflow id. */
  readonly currentRuns = new Map<string, string>();
  readonly workflowMatching: Matching<unknown>;
  readonly activityMatching: Matching<unknown>;
  /** Runs cached by the worker behind each sticky queue (so ShutdownWorker can send their tasks elsewhere). */
  readonly stickyRuns = new Map<string, Set<RunRecord>>();
  hooks!: EngineHooks;
  /** Called after every commit, whether or not anything changed (the time-skipping server re-checks if it may skip). */
  onCommitted: (() => void) | undefined;
  /** Listeners of {@link beforeCommit}, in registration order. */
  private readonly beforeCommitListeners: BeforeCommitListener[] = [];
  private taskId = 1;
  private readonly dirty = new Set<RunRecord>();
  private commitWaiters: { resolve(): void; reject(err: unknown): void }[] = [];
  private commitScheduled = false;
  closed = false;

  constructor(options: EngineOptions) {
    this.clock = options.clock;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.eagerWorkflowStart = options.eagerWorkflowStart ?? true;
    this.store = options.store;
    this.logger = options.logger;
    this.timers = new TimerQueue(this.clock);
    this.workflowMatching = new Matching(options.pollTimeoutMs);
    this.activityMatching = new Matching(options.pollTimeoutMs);
  }

  now(): number {
    return this.clock.now();
  }

  // ---------------------------------------------------------------- namespaces

  /** Registers a namespace (idempotent for the built-in ones). */
  addNamespace(ns: Omit<NamespaceRecord, 'id' | 'createdTime'> & Partial<NamespaceRecord>): NamespaceRecord {
    const record: NamespaceRecord = { id: randomUUID(), createdTime: this.now(), ...ns };
    this.namespaces.set(record.name, record);
    this.store.saveNamespace(record.name, JSON.stringify(record));
    return record;
  }

  /** The namespace, or NOT_FOUND as Temporal answers. */
  namespace(name: string | null | undefined): NamespaceRecord {
    if (!name) throw invalidArgument('Namespace is not set on request.');
    const ns = this.namespaces.get(name);
    if (!ns) throw namespaceNotFound(name);
    return ns;
  }

  // ---------------------------------------------------------------- runs

  /** The run with this id, or the current run of the workflow when runId is empty. */
  findRun(namespace: string, workflowId: string, runId?: string | null): RunRecord | undefined {
    const id = runId || this.currentRuns.get(workflowKey(namespace, workflowId));
    if (!id) return undefined;
    const run = this.runs.get(runKey(namespace, id));
    if (!run || run.state.workflowId !== workflowId) return undefined;
    return run;
  }

  /** Like {@link findRun} but answers NOT_FOUND. */
  getRun(namespace: string, workflowId: string | null | undefined, runId?: string | null): RunRecord {
    if (!workflowId) throw invalidArgument('WorkflowId is not set on request.');
    const run = this.findRun(namespace, workflowId, runId);
    if (!run) throw workflowNotFound(workflowId, runId);
    return run;
  }

  /** The latest run of a workflow id. */
  currentRun(namespace: string, workflowId: string): RunRecord | undefined {
    return this.findRun(namespace, workflowId);
  }

  /** Adds a new run and makes it the current one for its workflow id. */
  addRun(state: RunState): RunRecord {
    const run = new RunRecord(state);
    this.runs.set(run.key, run);
    this.currentRuns.set(workflowKey(state.namespace, state.workflowId), state.runId);
    this.markDirty(run);
    return run;
  }

  // ---------------------------------------------------------------- history

  /** Appends an event to the run's history now (assigning the next event id). */
  append(run: RunRecord, type: EventType, attributes: Record<string, unknown>, eventTime?: number): HistoryEvent {
    const event = this.makeEvent(type, attributes, run.state.nextEventId, eventTime);
    this.appendEvent(run, event);
    return event;
  }

  /** Appends a fully built event whose id is the run's next event id. */
  appendEvent(run: RunRecord, event: HistoryEvent): void {
    if (Number(event.eventId) !== run.state.nextEventId) {
      throw new Error(`event id ${String(event.eventId)} out of order (next is ${run.state.nextEventId})`);
    }
    const bytes = encodeEvent(event);
    run.history.push({ event, bytes });
    run.state.nextEventId++;
    run.state.historySizeBytes += bytes.length;
    this.markDirty(run);
  }

  /** Builds an event object (not appended). */
  makeEvent(type: EventType, attributes: Record<string, unknown>, eventId: number, eventTime?: number): HistoryEvent {
    const key = EVENT_ATTRIBUTE_KEYS.get(type);
    if (!key) throw new Error(`unknown event type ${type}`);
    return {
      eventId,
      eventTime: msToTimestamp(eventTime ?? this.now()),
      eventType: type,
      taskId: this.taskId++,
      [key]: attributes,
    };
  }

  /** Reads an event's attributes object. */
  attributes<T = Record<string, unknown>>(event: HistoryEvent): T {
    const key = EVENT_ATTRIBUTE_KEYS.get(Number(event.eventType));
    return (event as Record<string, unknown>)[key ?? ''] as T;
  }

  /**
   * Adds an event that does not come from the workflow's own commands (a signal, an activity result, a timer):
   * buffered while a workflow task is started, otherwise appended; then a workflow task is scheduled.
   */
  addExternalEvent(run: RunRecord, type: EventType, attributes: Record<string, unknown>): void {
    this.addExternalEvents(run, [[type, attributes]]);
  }

  /**
   * Adds several related external events at once (an activity's started and completed events). A `startedEventId`
   * of -1 in a closing event is a placeholder for the id its started event gets when written.
   */
  addExternalEvents(run: RunRecord, events: [EventType, Record<string, unknown>, number?][]): void {
    if (!run.isOpen) return;
    for (const [type, attributes, eventTime] of events)
      run.state.buffered.push(this.makeEvent(type, attributes, 0, eventTime));
    this.markDirty(run);
    if (run.state.wft && run.state.wft.startedEventId > 0) return;
    this.convertTransientTask(run);
    this.flushBuffered(run);
    this.scheduleWorkflowTask(run);
  }

  /** Appends buffered events (after a workflow task closed). Returns how many there were. */
  flushBuffered(run: RunRecord): number {
    const buffered = run.state.buffered;
    if (buffered.length === 0) return 0;
    run.state.buffered = [];
    const startedIds = new Map<number, number>();
    for (const e of buffered) {
      e.eventId = run.state.nextEventId;
      const attrs = this.attributes<Record<string, unknown>>(e);
      const type = Number(e.eventType);
      if (type === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        startedIds.set(Number(attrs['scheduledEventId']), Number(e.eventId));
      } else if (type === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) {
        const initiated = Number(attrs['initiatedEventId']);
        startedIds.set(initiated, Number(e.eventId));
        const child = run.state.children[String(initiated)];
        if (child) child.startedEventId = Number(e.eventId);
      } else if (attrs && attrs['startedEventId'] === -1) {
        const ref = Number(attrs['scheduledEventId'] ?? attrs['initiatedEventId']);
        attrs['startedEventId'] = startedIds.get(ref) ?? this.findStartedEventId(run, ref);
      }
      this.appendEvent(run, e);
    }
    return buffered.length;
  }

  /** The id of the started event written earlier for a scheduled activity or initiated child. */
  private findStartedEventId(run: RunRecord, ref: number): number {
    const child = run.state.children[String(ref)];
    if (child?.startedEventId) return child.startedEventId;
    for (let i = run.history.length - 1; i >= 0; i--) {
      const e = run.history[i]!.event;
      const attrs = this.attributes<Record<string, unknown>>(e);
      const type = Number(e.eventType);
      if (
        (type === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED && Number(attrs['scheduledEventId']) === ref) ||
        (type === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED && Number(attrs['initiatedEventId']) === ref)
      ) {
        return Number(e.eventId);
      }
    }
    return 0;
  }

  /**
   * A transient or speculative task that has not been dispatched yet becomes a normal one when another event is
   * written first (its scheduled event is then written after that event, at dispatch).
   */
  private convertTransientTask(run: RunRecord): void {
    const wft = run.state.wft;
    if (wft && wft.startedEventId === 0 && wft.kind === 'speculative') {
      wft.kind = 'normal';
      wft.scheduledEventId = 0;
    }
  }

  /**
   * Schedules a workflow task unless one is already scheduled or started. With `dispatch: false` the task is
   * scheduled but not put on its task queue: the caller starts it at once (eager workflow start) or dispatches it.
   */
  scheduleWorkflowTask(
    run: RunRecord,
    options: { attempt?: number; kind?: WorkflowTaskState['kind']; notBefore?: number; dispatch?: boolean } = {},
  ): void {
    const s = run.state;
    if (!run.isOpen || s.wft) return;
    const kind = options.kind ?? 'normal';
    const attempt = options.attempt ?? 1;
    const now = this.now();
    const wft: WorkflowTaskState = {
      seq: ++s.taskSeq,
      attempt,
      kind,
      scheduledEventId: 0,
      startedEventId: 0,
      scheduledTime: now,
      startedTime: 0,
      notBefore: options.notBefore ?? 0,
      identity: '',
      requestId: '',
      synthesized: [],
      deliveredUpdates: [],
    };
    s.wft = wft;
    if (kind === 'normal' && wft.notBefore <= now) this.writeWorkflowTaskScheduled(run, wft);
    this.markDirty(run);
    if (wft.notBefore > now) this.hooks.armDeadlines(run);
    else if (options.dispatch !== false) this.hooks.dispatchWorkflowTask(run);
  }

  /** Writes the WorkflowTaskScheduled event of a normal task. */
  writeWorkflowTaskScheduled(run: RunRecord, wft: WorkflowTaskState): void {
    const e = this.append(run, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, {
      taskQueue: { name: run.state.taskQueue, kind: 1 },
      startToCloseTimeout: { seconds: Math.floor(run.state.workflowTaskTimeoutMs / 1000) },
      attempt: wft.attempt,
    });
    wft.scheduledEventId = Number(e.eventId);
    wft.scheduledTime = this.now();
  }

  /** Closes a run with its close event (already built by the caller's attributes). */
  closeRun(
    run: RunRecord,
    status: WorkflowExecutionStatus,
    type: EventType,
    attributes: Record<string, unknown>,
  ): HistoryEvent {
    const s = run.state;
    // Events that arrived during the last task belong before the close event.
    this.flushBuffered(run);
    const event = this.append(run, type, attributes);
    s.status = status;
    s.closeTime = this.now();
    s.closeEventId = Number(event.eventId);
    s.wft = undefined;
    for (const h of run.deadlines.values()) h.cancel();
    run.deadlines.clear();
    // Nothing pending can make progress on a closed run.
    s.activities = {};
    s.timers = {};
    this.markDirty(run);
    this.hooks.onClosed(run);
    s.children = {};
    return event;
  }

  // ---------------------------------------------------------------- persistence

  /**
   * Registers a listener called by every commit with the runs it writes, inside the same transaction (see
   * {@link BeforeCommitListener}). Listeners run in the order they were registered. The server registers its derived
   * stores (the visibility index) here when it is assembled; the engine itself knows none of them.
   */
  beforeCommit(listener: BeforeCommitListener): void {
    this.beforeCommitListeners.push(listener);
  }

  /** Marks a run as changed; its state and new events are written by the next commit. */
  markDirty(run: RunRecord): void {
    this.dirty.add(run);
  }

  /**
   * Commits every pending change (group commit: all changes made before the next turn of the event loop are
   * written in one transaction). Resolves once the data is on disk; RPCs answer only after that.
   */
  commit(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.commitWaiters.push({ resolve, reject });
      if (!this.commitScheduled) {
        this.commitScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Writes dirty runs now (synchronously). */
  flush(): void {
    this.commitScheduled = false;
    const waiters = this.commitWaiters;
    this.commitWaiters = [];
    const dirty = [...this.dirty];
    this.dirty.clear();
    try {
      for (const run of dirty) {
        const s = run.state;
        const events = run.history.slice(run.persistedEvents).map((e) => ({
          namespace: s.namespace,
          runId: s.runId,
          eventId: Number(e.event.eventId),
          bytes: e.bytes,
        }));
        run.persistedEvents = run.history.length;
        s.stateTransitionCount++;
        this.store.queue({
          events,
          execution: { namespace: s.namespace, workflowId: s.workflowId, runId: s.runId, state: stringifyState(s) },
        });
      }
      for (const listener of this.beforeCommitListeners) listener(dirty);
      this.store.commit();
    } catch (err) {
      this.logger.error('commit failed', { error: (err as Error).message });
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
    for (const run of dirty) for (const watcher of [...run.watchers]) watcher();
    this.onCommitted?.();
  }

  /** Loads namespaces and runs from the store and re-arms every deadline and task (after a restart). */
  recover(): void {
    for (const row of this.store.loadNamespaces()) {
      const ns = JSON.parse(row.data) as NamespaceRecord;
      this.namespaces.set(ns.name, ns);
    }
    const rows = this.store.loadExecutions();
    const byStart: RunRecord[] = [];
    for (const row of rows) {
      const state = parseState<RunState>(row.state);
      const run = new RunRecord(state);
      run.history = this.store.loadEvents(row.namespace, row.runId).map((bytes) => ({
        event: decodeEvent(bytes),
        bytes: Buffer.from(bytes),
      }));
      run.persistedEvents = run.history.length;
      this.runs.set(run.key, run);
      byStart.push(run);
      this.taskId = Math.max(this.taskId, ...run.history.slice(-1).map((e) => Number(e.event.taskId) + 1));
    }
    byStart.sort((a, b) => a.state.startTime - b.state.startTime);
    for (const run of byStart)
      this.currentRuns.set(workflowKey(run.state.namespace, run.state.workflowId), run.state.runId);
    for (const run of byStart) {
      if (!run.isOpen) continue;
      const wft = run.state.wft;
      // A task that was dispatched before the restart went to a worker that may be gone: its start-to-close timeout
      // (re-armed below) retries it, as Temporal does.
      if (wft && wft.startedEventId === 0) this.hooks.dispatchWorkflowTask(run);
      this.hooks.armDeadlines(run);
      this.hooks.runTransferTasks(run);
    }
  }

  /** Sets (or replaces) a named deadline of a run. */
  setDeadline(run: RunRecord, name: string, at: number, fire: () => void): void {
    run.deadlines.get(name)?.cancel();
    const handle = this.timers.schedule(at, () => {
      run.deadlines.delete(name);
      if (this.closed) return;
      fire();
    });
    run.deadlines.set(name, handle);
  }

  /** Records (or clears, with undefined) the sticky queue of a run. */
  setSticky(run: RunRecord, sticky: RunRecord['sticky']): void {
    if (run.sticky) this.stickyRuns.get(run.sticky.queue)?.delete(run);
    run.sticky = sticky;
    if (sticky) {
      let set = this.stickyRuns.get(sticky.queue);
      if (!set) this.stickyRuns.set(sticky.queue, (set = new Set()));
      set.add(run);
    }
  }

  /** Cancels a named deadline. */
  clearDeadline(run: RunRecord, name: string): void {
    run.deadlines.get(name)?.cancel();
    run.deadlines.delete(name);
  }

  close(): void {
    this.closed = true;
    this.timers.close();
    this.workflowMatching.close();
    this.activityMatching.close();
  }
}
