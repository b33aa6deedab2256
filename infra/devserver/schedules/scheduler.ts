/**
 * The schedules engine: every schedule's state in memory, written to its own SQLite table in the same transaction as
 * the runs it starts, so a crash never loses a start nor repeats one. Each schedule keeps a durable high-water mark
 * (`lastProcessedTime`, the last nominal time it handled); after a restart the times after it are taken if they are
 * still inside the catchup window, and counted as missed otherwise. Started workflow ids are
 * `<workflowId>-<nominal time, RFC 3339 seconds, UTC>` and request ids are derived from the schedule and the times, so
 * a start that is repeated after a crash finds the run it already created.
 */
import type Database from 'better-sqlite3';
import type { Engine, RunRecord } from '../engine';
import { parseState, stringifyState } from '../codec';
import { RpcError } from '../errors';
import {
  WorkflowExecutionStatus,
  enums,
  msToTimestamp,
  temporal,
  type Loose,
  type Payloads,
  type Failure,
} from '../proto';
import type { TimerHandle } from '../timer-queue';
import { requestCancelRun, terminateRun } from '../api/cancel';
import { startWorkflowExecution } from '../api/start';
import { nextSpecTime, specTimesBetween, type CanonicalSpec, type SpecTime } from './spec';

/** temporal.api.schedule.v1.Schedule as plain data (the stored, canonical form). */
export type ScheduleProto = Loose<temporal.api.schedule.v1.ISchedule>;
type Memo = Loose<temporal.api.common.v1.IMemo>;
type SearchAttributes = Loose<temporal.api.common.v1.ISearchAttributes>;

const P = enums.ScheduleOverlapPolicy;
const S = WorkflowExecutionStatus;

/** Temporal's defaults and limits for schedules. */
export const DEFAULT_CATCHUP_WINDOW_MS = 365 * 24 * 3600 * 1000;
export const MIN_CATCHUP_WINDOW_MS = 10_000;
const RECENT_ACTIONS = 10;
const FUTURE_ACTIONS = 10;
/** Most spec times handled in one pass (a schedule far behind catches up over several passes). */
const MAX_TIMES_PER_PASS = 1000;
const IDENTITY = 'temporal-scheduler';

/** One action waiting to start (from the spec, a trigger or a backfill). */
export interface BufferedStart {
  nominal: number;
  actual: number;
  overlapPolicy: number;
  manual: boolean;
  /** Distinguishes backfill requests, so their request ids never collide with automatic ones. */
  origin: string;
}

/** A started workflow, as recent actions and running workflows report it. */
export interface ActionResult {
  scheduleTime: number;
  actualTime: number;
  workflowId: string;
  runId: string;
}

/** Everything the server keeps about one schedule. */
export interface ScheduleRecord {
  namespace: string;
  scheduleId: string;
  schedule: ScheduleProto;
  spec: CanonicalSpec;
  memo?: Memo | undefined;
  searchAttributes?: SearchAttributes | undefined;
  createRequestId: string;
  conflictToken: number;
  createTime: number;
  updateTime: number;
  /** High-water mark: the last nominal spec time handled (taken, skipped or missed). */
  lastProcessedTime: number;
  actionCount: number;
  missedCatchupWindow: number;
  overlapSkipped: number;
  bufferDropped: number;
  buffer: BufferedStart[];
  running: ActionResult[];
  recent: ActionResult[];
  /** Payload of the last completed run (non-ALLOW_ALL), and the failure of the last failed one. */
  lastCompletionResult?: Payloads | undefined;
  continuedFailure?: Failure | undefined;
  /** Whether a cancel was already requested for the running workflows (CANCEL_OTHER). */
  cancelRequested: boolean;
  /**
   * The request ids of the latest patches applied (at most {@link PATCH_REQUEST_IDS_KEPT}): a patch sent again with
   * one of them (a client retrying a call whose answer it lost) is not applied twice, as Temporal's scheduler dedups
   * the signal a patch becomes. Absent in records stored before it was kept.
   */
  patchRequestIds?: string[];
}

/** How many patch request ids a schedule keeps to recognise a patch sent again. */
export const PATCH_REQUEST_IDS_KEPT = 100;

const key = (namespace: string, id: string): string => `${namespace}\u0000${id}`;

/** Formats a time as Go's `time.RFC3339` does for a UTC time truncated to seconds (`2026-01-01T00:00:00Z`). */
export function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Encodes the conflict token as Temporal does: an int64, big-endian. */
export function encodeConflictToken(token: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(token));
  return b;
}

const jsonPayload = (value: unknown, type: string): object => ({
  metadata: { encoding: Buffer.from('json/plain'), type: Buffer.from(type) },
  data: Buffer.from(JSON.stringify(value)),
});

/** The schedules of one engine. */
export class Scheduler {
  readonly schedules = new Map<string, ScheduleRecord>();
  private readonly timers = new Map<string, TimerHandle>();
  /** Running workflow id → schedule key, to find the schedule when a run closes. */
  private readonly byWorkflow = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private processing = false;

  constructor(readonly engine: Engine) {
    const db = engine.store.db;
    db.exec(`CREATE TABLE IF NOT EXISTS schedules (
      namespace TEXT NOT NULL, schedule_id TEXT NOT NULL, data TEXT NOT NULL,
      PRIMARY KEY (namespace, schedule_id)) WITHOUT ROWID;`);
    this.upsert = db.prepare('INSERT OR REPLACE INTO schedules (namespace, schedule_id, data) VALUES (?, ?, ?)');
    this.remove = db.prepare('DELETE FROM schedules WHERE namespace = ? AND schedule_id = ?');
  }

  /** Loads every schedule, reconciles runs that closed, and arms each schedule's next wake-up (after a restart). */
  recover(): void {
    const rows = this.engine.store.db.prepare('SELECT data FROM schedules').all() as { data: string }[];
    for (const row of rows) {
      const rec = parseState<ScheduleRecord>(row.data);
      this.schedules.set(key(rec.namespace, rec.scheduleId), rec);
      for (const r of rec.running)
        this.byWorkflow.set(key(rec.namespace, r.workflowId), key(rec.namespace, rec.scheduleId));
    }
    for (const rec of this.schedules.values()) {
      for (const r of [...rec.running]) {
        const run = this.engine.currentRun(rec.namespace, r.workflowId);
        if (!run || !run.isOpen) this.recordClosed(rec, r, run);
      }
      this.process(rec);
    }
  }

  get(namespace: string, scheduleId: string): ScheduleRecord | undefined {
    return this.schedules.get(key(namespace, scheduleId));
  }

  /** Adds a new schedule and takes its first actions (initial patch applied by the caller before). */
  add(rec: ScheduleRecord): void {
    this.schedules.set(key(rec.namespace, rec.scheduleId), rec);
    this.markDirty(rec);
  }

  /** Deletes a schedule (its running workflows keep running, as in Temporal). */
  delete(rec: ScheduleRecord): void {
    const k = key(rec.namespace, rec.scheduleId);
    this.schedules.delete(k);
    this.timers.get(k)?.cancel();
    this.timers.delete(k);
    for (const r of rec.running) this.byWorkflow.delete(key(rec.namespace, r.workflowId));
    this.dirty.delete(k);
    this.engine.store.queue({ apply: () => this.remove.run(rec.namespace, rec.scheduleId) });
  }

  /** Queues the schedule's state for the next commit (the same transaction as the runs it touched). */
  markDirty(rec: ScheduleRecord): void {
    const k = key(rec.namespace, rec.scheduleId);
    if (this.dirty.has(k)) return;
    this.dirty.add(k);
    this.engine.store.queue({
      apply: () => {
        this.dirty.delete(k);
        if (this.schedules.get(k) === rec) this.upsert.run(rec.namespace, rec.scheduleId, stringifyState(rec));
      },
    });
  }

  // ---------------------------------------------------------------- taking actions

  /**
   * Handles every spec time that is due, starts what the buffer allows, and arms the next wake-up. Synchronous: the
   * caller (an RPC, or the timer below) commits.
   */
  process(rec: ScheduleRecord): void {
    if (this.schedules.get(key(rec.namespace, rec.scheduleId)) !== rec) return;
    if (this.processing) {
      // Re-entered from a run closing inside a start or terminate: handle it on the next turn.
      this.wake(rec, this.engine.now());
      return;
    }
    this.processing = true;
    try {
      this.takeDueTimes(rec);
      this.drainBuffer(rec);
    } finally {
      this.processing = false;
    }
    this.markDirty(rec);
    this.armNext(rec);
  }

  private takeDueTimes(rec: ScheduleRecord): void {
    const now = this.engine.now();
    const state = rec.schedule.state ?? {};
    const catchup = this.catchupWindowMs(rec);
    for (let i = 0; i < MAX_TIMES_PER_PASS; i++) {
      const next = nextSpecTime(rec.spec, rec.lastProcessedTime, this.jitterSeed(rec));
      if (!next || next.actual > now) return;
      rec.lastProcessedTime = next.nominal;
      if (state.paused) continue;
      if (now - next.actual > catchup) {
        rec.missedCatchupWindow++;
        continue;
      }
      if (state.limitedActions && Number(state.remainingActions ?? 0) <= 0) continue;
      rec.buffer.push({ ...next, overlapPolicy: 0, manual: false, origin: 'auto' });
    }
  }

  /** Adds a manual action (trigger immediately). */
  trigger(rec: ScheduleRecord, overlapPolicy: number, at: number): void {
    rec.buffer.push({ nominal: at, actual: at, overlapPolicy, manual: true, origin: 'trigger' });
  }

  /** Adds the spec's times in (start, end] as manual actions (backfill). */
  backfill(rec: ScheduleRecord, start: number, end: number, overlapPolicy: number, origin: string): void {
    for (const t of specTimesBetween(rec.spec, start, end, this.jitterSeed(rec), 100_000)) {
      rec.buffer.push({ ...t, overlapPolicy, manual: true, origin });
    }
  }

  private policyOf(rec: ScheduleRecord, start: BufferedStart): number {
    return start.overlapPolicy || Number(rec.schedule.policies?.overlapPolicy ?? 0) || P.SCHEDULE_OVERLAP_POLICY_SKIP;
  }

  /** Applies the overlap policies to the buffer: starts what may start, keeps or drops the rest. */
  private drainBuffer(rec: ScheduleRecord): void {
    if (rec.buffer.length === 0) return;
    let running = rec.running.length > 0;
    const keep: BufferedStart[] = [];
    let cancel = false;
    let terminate = false;
    for (const start of rec.buffer) {
      const policy = this.policyOf(rec, start);
      if (policy === P.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL) {
        this.startAction(rec, start, policy);
        continue;
      }
      if (!running && keep.length === 0) {
        if (this.startAction(rec, start, policy)) running = true;
        continue;
      }
      switch (policy) {
        case P.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE:
          if (keep.length === 0) keep.push(start);
          else rec.overlapSkipped++;
          break;
        case P.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL:
          keep.push(start);
          break;
        case P.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER:
        case P.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER:
          // Only the newest start survives; it runs once the others are gone.
          rec.overlapSkipped += keep.length;
          keep.length = 0;
          keep.push(start);
          if (policy === P.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER) cancel = true;
          else terminate = true;
          break;
        default:
          rec.overlapSkipped++;
      }
    }
    rec.buffer = keep;
    if (terminate || cancel) {
      for (const r of [...rec.running]) {
        const run = this.engine.currentRun(rec.namespace, r.workflowId);
        if (!run?.isOpen) continue;
        if (terminate) {
          terminateRun(this.engine, run, 'terminated by schedule overlap policy', undefined, IDENTITY);
        } else if (!run.state.cancelRequested) {
          requestCancelRun(this.engine, run, 'cancelled by schedule overlap policy', IDENTITY);
        }
      }
    }
  }

  /** Starts one workflow for an action; false when the start was refused (logged, counted as skipped). */
  private startAction(rec: ScheduleRecord, start: BufferedStart, policy: number): boolean {
    const action = rec.schedule.action?.startWorkflow;
    if (!action) return false;
    const state = rec.schedule.state ?? {};
    const allowAll = policy === P.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL;
    // As Temporal: the nominal time is appended to the workflow id unless the policies keep the original id (runs
    // that may overlap, ALLOW_ALL, always get it).
    const keepId = Boolean(rec.schedule.policies?.keepOriginalWorkflowId) && !allowAll;
    const workflowId = keepId
      ? (action.workflowId ?? '')
      : `${action.workflowId ?? ''}-${rfc3339Seconds(start.nominal)}`;
    const requestId = `sched-${start.origin}-${rec.namespace}-${rec.scheduleId}-${start.nominal}-${start.actual}`;
    const searchAttributes = {
      indexedFields: {
        ...(action.searchAttributes?.indexedFields ?? {}),
        TemporalScheduledById: jsonPayload(rec.scheduleId, 'Keyword'),
        TemporalScheduledStartTime: jsonPayload(rfc3339Seconds(start.nominal), 'Datetime'),
      },
    };
    let response: ReturnType<typeof startWorkflowExecution>;
    // The last completion result and the last failure go to the next run (ALLOW_ALL runs do not take part).
    const carried = allowAll
      ? {}
      : { lastCompletionResult: rec.lastCompletionResult, continuedFailure: rec.continuedFailure };
    try {
      response = startWorkflowExecution(
        this.engine,
        {
          namespace: rec.namespace,
          workflowId,
          workflowType: action.workflowType,
          taskQueue: action.taskQueue,
          input: action.input,
          workflowExecutionTimeout: action.workflowExecutionTimeout,
          workflowRunTimeout: action.workflowRunTimeout,
          workflowTaskTimeout: action.workflowTaskTimeout,
          identity: IDENTITY,
          requestId,
          workflowIdReusePolicy: enums.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
          retryPolicy: action.retryPolicy,
          memo: action.memo,
          searchAttributes,
          header: action.header,
          userMetadata: action.userMetadata,
          priority: action.priority,
        },
        { carried },
      );
    } catch (err) {
      const message = err instanceof RpcError ? err.message : String(err);
      this.engine.logger.warn('schedule could not start its workflow', {
        scheduleId: rec.scheduleId,
        workflowId,
        error: message,
      });
      rec.overlapSkipped++;
      return false;
    }
    const result: ActionResult = {
      scheduleTime: start.actual,
      actualTime: this.engine.now(),
      workflowId,
      runId: response.runId ?? '',
    };
    rec.actionCount++;
    if (!start.manual && state.limitedActions) {
      rec.schedule.state = { ...state, remainingActions: Math.max(0, Number(state.remainingActions ?? 0) - 1) };
    }
    rec.recent.push(result);
    if (rec.recent.length > RECENT_ACTIONS) rec.recent.splice(0, rec.recent.length - RECENT_ACTIONS);
    if (response.run.isOpen) {
      rec.running.push(result);
      this.byWorkflow.set(key(rec.namespace, workflowId), key(rec.namespace, rec.scheduleId));
    }
    return true;
  }

  /** Engine hook: a run closed. Records the outcome for its schedule and lets buffered actions start. */
  onRunClosed(run: RunRecord): void {
    const s = run.state;
    if (s.newExecutionRunId) return; // retried or continued as new: the workflow is still running
    const k = this.byWorkflow.get(key(s.namespace, s.workflowId));
    const rec = k ? this.schedules.get(k) : undefined;
    if (!rec) return;
    const entry = rec.running.find((r) => r.workflowId === s.workflowId);
    if (!entry) return;
    this.recordClosed(rec, entry, run);
    this.markDirty(rec);
    this.wake(rec, this.engine.now());
  }

  private recordClosed(rec: ScheduleRecord, entry: ActionResult, run: RunRecord | undefined): void {
    rec.running = rec.running.filter((r) => r !== entry);
    this.byWorkflow.delete(key(rec.namespace, entry.workflowId));
    if (!run) return;
    const status = run.state.status;
    const last = run.history[run.history.length - 1]?.event;
    const attrs = last ? this.engine.attributes<{ result?: Payloads; failure?: Failure }>(last) : {};
    if (status === S.WORKFLOW_EXECUTION_STATUS_COMPLETED) {
      rec.lastCompletionResult = attrs.result ?? undefined;
      rec.continuedFailure = undefined;
    } else if (status === S.WORKFLOW_EXECUTION_STATUS_FAILED) {
      rec.continuedFailure = attrs.failure ?? undefined;
    }
    if (
      rec.schedule.policies?.pauseOnFailure &&
      (status === S.WORKFLOW_EXECUTION_STATUS_FAILED || status === S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT)
    ) {
      const what = status === S.WORKFLOW_EXECUTION_STATUS_FAILED ? 'failed' : 'timed out';
      rec.schedule.state = {
        ...(rec.schedule.state ?? {}),
        paused: true,
        notes: `paused due to workflow ${what}: ${entry.workflowId}`,
      };
    }
  }

  // ---------------------------------------------------------------- timers

  private jitterSeed(rec: ScheduleRecord): string {
    return `${rec.namespace}/${rec.scheduleId}`;
  }

  private catchupWindowMs(rec: ScheduleRecord): number {
    const d = rec.schedule.policies?.catchupWindow;
    const ms = d ? Number(d.seconds ?? 0) * 1000 + Math.floor(Number(d.nanos ?? 0) / 1e6) : 0;
    return ms > 0 ? Math.max(ms, MIN_CATCHUP_WINDOW_MS) : DEFAULT_CATCHUP_WINDOW_MS;
  }

  private armNext(rec: ScheduleRecord): void {
    // Buffered starts whose running workflows already closed (terminated just now) go on the next turn.
    if (rec.buffer.length > 0 && rec.running.length === 0) return this.wake(rec, this.engine.now());
    const next = nextSpecTime(rec.spec, rec.lastProcessedTime, this.jitterSeed(rec));
    if (next) this.wake(rec, next.actual);
    else {
      this.timers.get(key(rec.namespace, rec.scheduleId))?.cancel();
      this.timers.delete(key(rec.namespace, rec.scheduleId));
    }
  }

  /** Processes the schedule at `at` (and commits), replacing its pending wake-up. */
  private wake(rec: ScheduleRecord, at: number): void {
    const k = key(rec.namespace, rec.scheduleId);
    this.timers.get(k)?.cancel();
    const handle = this.engine.timers.schedule(at, () => {
      if (this.timers.get(k) === handle) this.timers.delete(k);
      if (this.engine.closed) return;
      this.process(rec);
      this.engine.commit().catch((err: unknown) => {
        this.engine.logger.error('schedule commit failed', { scheduleId: rec.scheduleId, error: String(err) });
      });
    });
    this.timers.set(k, handle);
  }

  // ---------------------------------------------------------------- reporting

  /** The next spec times a schedule will act on (none once its limited actions are used up). */
  futureActionTimes(rec: ScheduleRecord, count = FUTURE_ACTIONS): SpecTime[] {
    const state = rec.schedule.state ?? {};
    let n = count;
    if (state.limitedActions) n = Math.min(n, Math.max(0, Number(state.remainingActions ?? 0)));
    const out: SpecTime[] = [];
    let t = Math.max(rec.lastProcessedTime, this.engine.now());
    while (out.length < n) {
      const next = nextSpecTime(rec.spec, t, this.jitterSeed(rec));
      if (!next) break;
      out.push(next);
      t = next.nominal;
    }
    return out;
  }

  /** A started workflow's status now (eventually consistent in Temporal; exact here). */
  statusOf(rec: ScheduleRecord, r: ActionResult): number {
    const run = this.engine.currentRun(rec.namespace, r.workflowId);
    return run ? run.state.status : S.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED;
  }

  /** temporal.api.schedule.v1.ScheduleActionResult of a started workflow. */
  actionResult(rec: ScheduleRecord, r: ActionResult): object {
    return {
      scheduleTime: msToTimestamp(r.scheduleTime),
      actualTime: msToTimestamp(r.actualTime),
      startWorkflowResult: { workflowId: r.workflowId, runId: r.runId },
      startWorkflowStatus: this.statusOf(rec, r),
    };
  }
}

const schedulers = new WeakMap<Engine, Scheduler>();

/** Creates the engine's scheduler, loads stored schedules and arms them (call once at server start). */
export function initSchedules(engine: Engine): Scheduler {
  const scheduler = new Scheduler(engine);
  schedulers.set(engine, scheduler);
  scheduler.recover();
  return scheduler;
}

/** The engine's scheduler (created on first use for servers that did not call {@link initSchedules}). */
export function schedulerFor(engine: Engine): Scheduler {
  let s = schedulers.get(engine);
  if (!s) {
    s = new Scheduler(engine);
    schedulers.set(engine, s);
  }
  return s;
}

/** Engine hook for api/lifecycle.ts: a run closed. */
export function notifySchedulesRunClosed(engine: Engine, run: RunRecord): void {
  schedulers.get(engine)?.onRunClosed(run);
}
