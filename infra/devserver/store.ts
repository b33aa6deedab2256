/**
 * SQLite persistence for the dev server (better-sqlite3, WAL). In durable mode every batch of changes is committed
 * (fsync'd) before the RPCs that produced it are answered; in memory mode the same code runs on `:memory:`.
 */
import Database from 'better-sqlite3';

/** One execution row as stored: identity columns for lookups plus the serialized mutable state. */
export interface ExecutionRow {
  namespace: string;
  workflowId: string;
  runId: string;
  state: string;
}

/** A change to write in the next commit. */
export interface PendingWrite {
  execution?: ExecutionRow;
  events?: { namespace: string; runId: string; eventId: number; bytes: Uint8Array }[];
  /** Extra statements run inside the commit's transaction (the visibility index's rows). */
  apply?: () => void;
}

/** Error raised when another live process holds the database file. */
export class DatabaseLockedError extends Error {
  readonly code = 'DB_LOCKED';
  constructor(file: string) {
    super(
      `database file ${file} is in use by another mloe dev server (it holds an exclusive lock); ` +
        `stop that server or choose another --db-filename`,
    );
  }
}

/** The dev server's SQLite store. */
export class Store {
  /** The connection (shared with the visibility index, whose rows are written in the same transactions). */
  readonly db: Database.Database;
  private readonly insertEvent: Database.Statement;
  private readonly upsertExecution: Database.Statement;
  private readonly upsertNamespace: Database.Statement;
  private readonly upsertKv: Database.Statement;
  private writes: PendingWrite[] = [];

  constructor(
    readonly filename: string | undefined,
    /** `--sqlite-pragma` values (see {@link validatePragmas}); durable mode defaults to WAL with synchronous=FULL. */
    pragmas: Record<string, string> = {},
  ) {
    const applied = { journal_mode: 'WAL', synchronous: 'FULL', ...validatePragmas(pragmas) };
    const durable = filename !== undefined;
    this.db = new Database(filename ?? ':memory:', { timeout: 0 });
    if (durable) {
      // Exclusive locking: a second server on the same file fails fast instead of corrupting it. The OS releases the
      // lock when the process dies (kill -9 included), so a restart can reopen the file.
      this.db.pragma('locking_mode = EXCLUSIVE');
      try {
        // Switching to WAL already reads the file, so a server holding the lock makes it fail with SQLITE_BUSY.
        this.db.pragma(`journal_mode = ${applied.journal_mode}`);
        this.db.pragma(`synchronous = ${applied.synchronous}`);
        for (const [name, value] of Object.entries(applied)) {
          if (name !== 'journal_mode' && name !== 'synchronous') this.db.pragma(`${name} = ${value}`);
        }
        this.db.exec('BEGIN IMMEDIATE; COMMIT;');
      } catch (err) {
        this.db.close();
        if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DatabaseLockedError(filename);
        throw err;
      }
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS executions (
        namespace TEXT NOT NULL, run_id TEXT NOT NULL, workflow_id TEXT NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (namespace, run_id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS events (
        namespace TEXT NOT NULL, run_id TEXT NOT NULL, event_id INTEGER NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (namespace, run_id, event_id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.insertEvent = this.db.prepare(
      'INSERT OR REPLACE INTO events (namespace, run_id, event_id, data) VALUES (?, ?, ?, ?)',
    );
    this.upsertExecution = this.db.prepare(
      'INSERT OR REPLACE INTO executions (namespace, run_id, workflow_id, state) VALUES (?, ?, ?, ?)',
    );
    this.upsertNamespace = this.db.prepare('INSERT OR REPLACE INTO namespaces (name, data) VALUES (?, ?)');
    this.upsertKv = this.db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)');
  }

  /** Queues a write for the next {@link commit}. */
  queue(write: PendingWrite): void {
    this.writes.push(write);
  }

  /** Writes every queued change in one transaction. Throws (and keeps nothing half-written) on failure. */
  commit(): void {
    if (this.writes.length === 0) return;
    const writes = this.writes;
    this.writes = [];
    this.db.transaction(() => {
      for (const w of writes) {
        for (const e of w.events ?? []) this.insertEvent.run(e.namespace, e.runId, e.eventId, e.bytes);
        if (w.execution) {
          const x = w.execution;
          this.upsertExecution.run(x.namespace, x.runId, x.workflowId, x.state);
        }
        w.apply?.();
      }
    })();
  }

  /** Stores a namespace record immediately. */
  saveNamespace(name: string, data: string): void {
    this.upsertNamespace.run(name, data);
  }

  /** Stores a small server-wide value immediately. */
  saveKv(key: string, value: string): void {
    this.upsertKv.run(key, value);
  }

  loadKv(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  loadNamespaces(): { name: string; data: string }[] {
    return this.db.prepare('SELECT name, data FROM namespaces').all() as { name: string; data: string }[];
  }

  loadExecutions(): ExecutionRow[] {
    return (
      this.db.prepare('SELECT namespace, run_id, workflow_id, state FROM executions').all() as {
        namespace: string;
        run_id: string;
        workflow_id: string;
        state: string;
      }[]
    ).map((r) => ({ namespace: r.namespace, runId: r.run_id, workflowId: r.workflow_id, state: r.state }));
  }

  loadEvents(namespace: string, runId: string): Uint8Array[] {
    return (
      this.db
        .prepare('SELECT data FROM events WHERE namespace = ? AND run_id = ? ORDER BY event_id')
        .all(namespace, runId) as { data: Uint8Array }[]
    ).map((r) => r.data);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The SQLite pragmas `--sqlite-pragma` may set, with the values each accepts (as the Temporal CLI allows). */
const PRAGMAS: Record<string, RegExp> = {
  journal_mode: /^(WAL|DELETE|TRUNCATE|PERSIST)$/i,
  synchronous: /^(OFF|NORMAL|FULL|EXTRA|[0-3])$/i,
  cache_size: /^-?\d{1,9}$/,
  temp_store: /^(DEFAULT|FILE|MEMORY|[0-2])$/i,
  mmap_size: /^\d{1,12}$/,
};

/**
 * Checks `--sqlite-pragma` values against an allow-list (they are interpolated into PRAGMA statements, so nothing
 * else may pass). `synchronous=NORMAL` trades durability across power loss (not across a process crash) for speed.
 */
export function validatePragmas(pragmas: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(pragmas)) {
    const name = rawName.toLowerCase();
    const allowed = PRAGMAS[name];
    if (!allowed) {
      throw new Error(
        `unsupported --sqlite-pragma ${rawName}: supported pragmas are ${Object.keys(PRAGMAS).join(', ')}`,
      );
    }
    if (!allowed.test(value))
      throw new Error(`invalid value for --sqlite-pragma ${rawName}=${value}: expected ${allowed.source}`);
    out[name] = value;
  }
  return out;
}
