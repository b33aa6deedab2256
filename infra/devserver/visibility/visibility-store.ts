/**
 * The visibility index: one row per run in a `visibility` table of the dev server's SQLite database (system
 * attributes as columns, search attributes as JSON with a partial expression index per custom scalar attribute, and
 * keyword lists in a side table), written in the same transaction as the run itself and queried with translated
 * visibility queries. Like Temporal, a row is rewritten only when what it shows changes (start, search attribute
 * upserts, close), not on every history event.
 */
import type Database from 'better-sqlite3';
import type { Engine, RunRecord } from '../engine';
import { invalidArgument } from '../errors';
import type { SearchAttributes } from '../proto';
import type { Store } from '../store';
import { OPEN_CLOSE_TIME, textTokens, type TranslatedQuery } from './query-sql';
import {
  CLEARED,
  CUSTOM_NAME,
  SaType,
  decodeSaValue,
  payloadType,
  registryFor,
  type SearchAttributeRegistry,
} from './search-attributes';

/** What a row was last written from: when none of it changed, the row is not rewritten. */
interface WrittenSignature {
  status: number;
  closeTime: number;
  executionTime: number;
  searchAttributes: unknown;
  hadKeywordLists: boolean;
}

/** A page of run ids and the token for the next one. */
export interface VisibilityPage {
  runIds: string[];
  nextPageToken?: Buffer | undefined;
}

/** Keyset position of the default order (close time, start time, run id; all descending). */
interface KeysetToken {
  c: number;
  s: number;
  r: string;
}

/** Position in a custom (ORDER BY) order: an offset. */
interface OffsetToken {
  o: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS visibility (
    namespace TEXT NOT NULL,
    run_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_type TEXT NOT NULL,
    status INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    execution_time INTEGER NOT NULL,
    close_time INTEGER NOT NULL,
    execution_duration INTEGER,
    task_queue TEXT NOT NULL,
    history_length INTEGER NOT NULL,
    history_size_bytes INTEGER NOT NULL,
    state_transition_count INTEGER NOT NULL,
    parent_workflow_id TEXT,
    parent_run_id TEXT,
    root_workflow_id TEXT,
    root_run_id TEXT,
    sa TEXT NOT NULL,
    PRIMARY KEY (namespace, run_id));
  CREATE INDEX IF NOT EXISTS visibility_by_close ON visibility (namespace, close_time DESC, start_time DESC, run_id DESC);
  CREATE INDEX IF NOT EXISTS visibility_by_start ON visibility (namespace, start_time);
  CREATE INDEX IF NOT EXISTS visibility_by_execution_time ON visibility (namespace, execution_time);
  CREATE INDEX IF NOT EXISTS visibility_by_workflow_id ON visibility (namespace, workflow_id);
  CREATE INDEX IF NOT EXISTS visibility_by_type ON visibility (namespace, workflow_type, close_time DESC, start_time DESC);
  CREATE INDEX IF NOT EXISTS visibility_by_status ON visibility (namespace, status, close_time DESC, start_time DESC);
  CREATE INDEX IF NOT EXISTS visibility_by_task_queue ON visibility (namespace, task_queue, close_time DESC, start_time DESC);
  CREATE TABLE IF NOT EXISTS visibility_keyword_list (
    namespace TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, run_id TEXT NOT NULL,
    PRIMARY KEY (namespace, name, value, run_id)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS visibility_keyword_list_by_run ON visibility_keyword_list (namespace, run_id);
`;

/** Types whose values get an expression index (Text is matched by tokens, keyword lists live in the side table). */
const INDEXED_TYPES = new Set([SaType.Keyword, SaType.Int, SaType.Double, SaType.Bool, SaType.Datetime]);
const STATEMENT_CACHE_SIZE = 256;

/** The visibility index of one dev server store. */
export class VisibilityStore {
  readonly registry: SearchAttributeRegistry;
  private readonly db: Database.Database;
  private readonly upsertRow: Database.Statement;
  private readonly deleteLists: Database.Statement;
  private readonly insertList: Database.Statement;
  private readonly written = new WeakMap<RunRecord, WrittenSignature>();
  private readonly statements = new Map<string, Database.Statement>();

  constructor(store: Store) {
    this.db = store.db;
    this.db.exec(SCHEMA);
    // Text attributes match when any token of the query is a token of the value (Temporal's SQLite full-text match).
    this.db.function('mloe_text_match', { deterministic: true }, (text: unknown, query: unknown) => {
      if (typeof text !== 'string' || typeof query !== 'string') return 0;
      const tokens = new Set(textTokens(text));
      return textTokens(query).some((t) => tokens.has(t)) ? 1 : 0;
    });
    this.upsertRow = this.db.prepare(`
      INSERT OR REPLACE INTO visibility (namespace, run_id, workflow_id, workflow_type, status, start_time,
        execution_time, close_time, execution_duration, task_queue, history_length, history_size_bytes,
        state_transition_count, parent_workflow_id, parent_run_id, root_workflow_id, root_run_id, sa)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ? * 1000, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.deleteLists = this.db.prepare('DELETE FROM visibility_keyword_list WHERE namespace = ? AND run_id = ?');
    this.insertList = this.db.prepare(
      'INSERT OR IGNORE INTO visibility_keyword_list (namespace, name, value, run_id) VALUES (?, ?, ?, ?)',
    );
    this.registry = registryFor(store);
    this.registry.onRegister = (name, type) => this.ensureIndex(name, type);
    for (const [name, type] of this.registry.allCustom()) this.ensureIndex(name, type);
  }

  /** Creates the partial expression index of a custom scalar attribute (a no-op when it exists). */
  private ensureIndex(name: string, type: SaType): void {
    if (!INDEXED_TYPES.has(type)) return;
    if (!CUSTOM_NAME.test(name)) throw new Error(`search attribute name ${JSON.stringify(name)} is not SQL-safe`);
    const path = `json_extract(sa, '$."${name}"')`;
    this.db.exec(
      `CREATE INDEX IF NOT EXISTS "visibility_sa_${name}" ON visibility ` +
        `(namespace, ${path}, close_time DESC, start_time DESC, run_id DESC) WHERE ${path} IS NOT NULL`,
    );
  }

  /** True when the run's row does not show its current state. */
  needsWrite(run: RunRecord): boolean {
    const prev = this.written.get(run);
    const s = run.state;
    return (
      !prev ||
      prev.status !== s.status ||
      prev.closeTime !== s.closeTime ||
      prev.executionTime !== s.executionTime ||
      prev.searchAttributes !== s.searchAttributes
    );
  }

  /** Encodes search attributes for the row: typed JSON of every value, and the keyword-list memberships. */
  private encodeSearchAttributes(
    namespace: string,
    searchAttributes: SearchAttributes | null | undefined,
  ): { json: string; lists: [string, string][] } {
    const values: Record<string, unknown> = {};
    const lists: [string, string][] = [];
    for (const [name, payload] of Object.entries(searchAttributes?.indexedFields ?? {})) {
      if (!payload || !CUSTOM_NAME.test(name)) continue;
      const type = this.registry.settableType(namespace, name) ?? payloadType(payload);
      if (type === undefined) continue;
      const value = decodeSaValue(payload, type);
      if (value === undefined || value === CLEARED) continue;
      values[name] = value;
      if (type === SaType.KeywordList) for (const item of new Set(value as string[])) lists.push([name, item]);
    }
    return { json: JSON.stringify(values), lists };
  }

  /** Writes a run's row now (call inside the commit's transaction). */
  write(run: RunRecord): void {
    const s = run.state;
    const closed = !run.isOpen && s.closeTime > 0;
    const { json, lists } = this.encodeSearchAttributes(s.namespace, s.searchAttributes);
    this.upsertRow.run(
      s.namespace,
      s.runId,
      s.workflowId,
      s.workflowType,
      s.status,
      s.startTime * 1000,
      s.executionTime * 1000,
      closed ? s.closeTime * 1000 : OPEN_CLOSE_TIME,
      closed ? Math.max(0, s.closeTime - s.executionTime) * 1000 : null,
      s.taskQueue,
      run.persistedEvents,
      s.historySizeBytes,
      s.stateTransitionCount,
      s.parent?.workflowId ?? null,
      s.parent?.runId ?? null,
      s.rootWorkflowId || null,
      s.rootRunId || null,
      json,
    );
    const prev = this.written.get(run);
    if (lists.length > 0 || !prev || prev.hadKeywordLists) {
      this.deleteLists.run(s.namespace, s.runId);
      for (const [name, value] of lists) this.insertList.run(s.namespace, name, value, s.runId);
    }
    this.written.set(run, {
      status: s.status,
      closeTime: s.closeTime,
      executionTime: s.executionTime,
      searchAttributes: s.searchAttributes,
      hadKeywordLists: lists.length > 0,
    });
  }

  /** Writes the rows of runs that have none (a database from before visibility, or a crash between versions). */
  backfill(engine: Engine): number {
    const key = (namespace: string, runId: string): string => `${namespace}\u0000${runId}`;
    const rows = this.db.prepare('SELECT namespace, run_id FROM visibility').all() as {
      namespace: string;
      run_id: string;
    }[];
    const existing = new Set(rows.map((r) => key(r.namespace, r.run_id)));
    const missing = [...engine.runs.values()].filter((run) => !existing.has(key(run.state.namespace, run.state.runId)));
    if (missing.length > 0) this.db.transaction(() => missing.forEach((run) => this.write(run)))();
    return missing.length;
  }

  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private static filter(namespace: string, query: TranslatedQuery): { sql: string; params: unknown[] } {
    return {
      sql: `FROM visibility WHERE namespace = ?${query.where ? ` AND (${query.where})` : ''}`,
      params: [namespace, ...query.params],
    };
  }

  /** One page of the runs matching a query: the default order is Temporal's SQL one, newest close first. */
  list(
    namespace: string,
    query: TranslatedQuery,
    pageSize: number,
    token: Uint8Array | null | undefined,
  ): VisibilityPage {
    const { sql, params } = VisibilityStore.filter(namespace, query);
    if (query.orderBy.length > 0) {
      const offset = decodeToken<OffsetToken>(token, (t) => typeof t.o === 'number' && t.o >= 0)?.o ?? 0;
      const rows = this.statement(
        `SELECT run_id ${sql} ORDER BY ${query.orderBy.join(', ')}, run_id DESC LIMIT ? OFFSET ?`,
      ).all(...params, pageSize + 1, offset) as { run_id: string }[];
      const more = rows.length > pageSize;
      return {
        runIds: rows.slice(0, pageSize).map((r) => r.run_id),
        nextPageToken: more ? encodeToken({ o: offset + pageSize }) : undefined,
      };
    }
    const after = decodeToken<KeysetToken>(
      token,
      (t) => typeof t.c === 'number' && typeof t.s === 'number' && typeof t.r === 'string',
    );
    const rows = this.statement(
      `SELECT run_id, close_time, start_time ${sql}${after ? ' AND (close_time, start_time, run_id) < (?, ?, ?)' : ''} ` +
        'ORDER BY close_time DESC, start_time DESC, run_id DESC LIMIT ?',
    ).all(...params, ...(after ? [after.c, after.s, after.r] : []), pageSize + 1) as {
      run_id: string;
      close_time: number;
      start_time: number;
    }[];
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      runIds: page.map((r) => r.run_id),
      nextPageToken:
        rows.length > pageSize && last
          ? encodeToken({ c: last.close_time, s: last.start_time, r: last.run_id })
          : undefined,
    };
  }

  /**
   * The ids of rows kept in memory rather than indexed (schedules) that match a translated query, evaluated by SQLite
   * with the same SQL and the same encoding of values as {@link list}, so both agree on every operator. A row stands
   * for an execution whose WorkflowId and RunId are its id; the query may name those and settable attributes only
   * (other system columns do not exist here).
   */
  matchInMemory(
    namespace: string,
    query: TranslatedQuery,
    rows: readonly { id: string; searchAttributes: SearchAttributes | null | undefined }[],
  ): Set<string> {
    if (!query.where) return new Set(rows.map((r) => r.id));
    const input = rows.map((r) => ({ id: r.id, ...this.encodeSearchAttributes(namespace, r.searchAttributes) }));
    // Common table expressions shadow the tables of the same name, so the translated clause reads these rows.
    const matched = this.statement(
      `WITH input AS (SELECT value AS v FROM json_each(?)),
        visibility (namespace, run_id, workflow_id, sa) AS (
          SELECT ?, json_extract(v, '$.id'), json_extract(v, '$.id'), json_extract(v, '$.json') FROM input),
        visibility_keyword_list (namespace, name, value, run_id) AS (
          SELECT ?, json_extract(l.value, '$[0]'), json_extract(l.value, '$[1]'), json_extract(input.v, '$.id')
          FROM input, json_each(input.v, '$.lists') AS l)
      SELECT run_id FROM visibility WHERE ${query.where}`,
    ).all(JSON.stringify(input), namespace, namespace, ...query.params) as { run_id: string }[];
    return new Set(matched.map((r) => r.run_id));
  }

  /** How many runs match a query, and per ExecutionStatus when it groups by it. */
  count(namespace: string, query: TranslatedQuery): { count: number; groups?: { status: number; count: number }[] } {
    const { sql, params } = VisibilityStore.filter(namespace, query);
    if (!query.groupByStatus) {
      const row = this.statement(`SELECT COUNT(*) AS n ${sql}`).get(...params) as { n: number };
      return { count: row.n };
    }
    const rows = this.statement(`SELECT status, COUNT(*) AS n ${sql} GROUP BY status ORDER BY n DESC, status`).all(
      ...params,
    ) as { status: number; n: number }[];
    return {
      count: rows.reduce((sum, r) => sum + r.n, 0),
      groups: rows.map((r) => ({ status: r.status, count: r.n })),
    };
  }
}

function encodeToken(token: KeysetToken | OffsetToken): Buffer {
  return Buffer.from(JSON.stringify(token));
}

function decodeToken<T>(bytes: Uint8Array | null | undefined, valid: (t: T) => boolean): T | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const token = JSON.parse(Buffer.from(bytes).toString()) as T;
    if (token && typeof token === 'object' && valid(token)) return token;
  } catch {
    // answered below
  }
  throw invalidArgument('unable to deserialize page token: it does not belong to this query or is corrupted');
}

const stores = new WeakMap<Store, VisibilityStore>();

/** The visibility index of a server's store, created (tables, indexes) on first use. */
export function visibilityFor(store: Store): VisibilityStore {
  let vis = stores.get(store);
  if (!vis) {
    vis = new VisibilityStore(store);
    stores.set(store, vis);
  }
  return vis;
}

/**
 * Queues the visibility rows of the runs a commit writes whose visible state changed, so they are written in the
 * same transaction as the runs (an engine commit listener, registered by `initVisibility`).
 */
export function recordVisibility(store: Store, runs: Iterable<RunRecord>): void {
  const vis = visibilityFor(store);
  const changed: RunRecord[] = [];
  for (const run of runs) if (vis.needsWrite(run)) changed.push(run);
  if (changed.length === 0) return;
  store.queue({ apply: () => changed.forEach((run) => vis.write(run)) });
}
