/**
 * The SQLite database behind the tracking store and the registry (better-sqlite3, as the dev server). In durable mode
 * the file is opened with WAL, `synchronous=FULL` and an exclusive lock; in memory mode the same code runs on
 * `:memory:`.
 *
 * Writes are grouped: the first write of an event-loop turn opens a transaction, every write of that turn runs in
 * its own savepoint inside it (a failing write rolls back alone), and one COMMIT (one fsync) at the end of the turn
 * makes them all durable. {@link MlflowDatabase.write} resolves only after that commit, and the HTTP layer answers no
 * request, read or write, while a commit is pending ({@link MlflowDatabase.settled}), so nothing is ever acknowledged
 * or shown before it is on disk.
 */
import Database from 'better-sqlite3';

import { MlflowError } from '../errors';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema';

/** Raised when another live process holds the database file. */
export class DatabaseLockedError extends Error {
  readonly code = 'DB_LOCKED';
  constructor(file: string) {
    super(
      `database file ${file} is in use by another mloe MLflow server (it holds an exclusive lock); stop that ` +
        'server or choose another --backend-store-uri',
    );
    this.name = 'DatabaseLockedError';
  }
}

interface CommitGroup {
  committed: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** The connection, its group commit, and the SQL functions searches use. */
export class MlflowDatabase {
  /** The connection; stores prepare their statements on it. */
  readonly db: Database.Database;
  private group: CommitGroup | undefined;
  private readonly inSavepoint: (fn: () => unknown) => unknown;

  /** Opens `filename` (durable) or an in-memory database when it is undefined. */
  constructor(readonly filename: string | undefined) {
    this.db = new Database(filename ?? ':memory:', { timeout: 0 });
    if (filename !== undefined) {
      // Exclusive locking: a second server on the same file fails fast. The OS releases the lock when the process
      // dies (kill -9 included), so a restart reopens the file.
      this.db.pragma('locking_mode = EXCLUSIVE');
      try {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = FULL');
        this.db.exec('BEGIN IMMEDIATE; COMMIT;');
      } catch (error) {
        this.db.close();
        if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new DatabaseLockedError(filename);
        throw error;
      }
    }
    this.db.exec(SCHEMA_SQL);
    const version = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
      { value: string } | undefined;
    if (version === undefined) {
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    } else if (version.value !== String(SCHEMA_VERSION)) {
      this.db.close();
      throw new Error(
        `database ${filename ?? ':memory:'} has schema version ${version.value}; this server reads version ` +
          `${SCHEMA_VERSION}`,
      );
    }
    registerLikeFunctions(this.db);
    this.inSavepoint = this.db.transaction((fn: () => unknown) => fn());
  }

  /**
   * Runs `fn` in a savepoint of the current commit group and resolves with its result once the group is committed.
   * A throw rolls back `fn`'s changes only and rejects at once.
   */
  write<T>(fn: () => T): Promise<T> {
    const group = this.openGroup();
    let result: T;
    try {
      result = this.inSavepoint(fn) as T;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return group.committed.then(() => result);
  }

  /** Resolves when no commit is pending (at once when none is); rejects if the pending commit failed. */
  settled(): Promise<void> {
    return this.group?.committed ?? Promise.resolve();
  }

  /** Commits what is pending and closes the connection. */
  close(): void {
    if (!this.db.open) return;
    this.commit();
    this.db.close();
  }

  private openGroup(): CommitGroup {
    if (this.group !== undefined) return this.group;
    if (!this.db.open) throw new MlflowError('TEMPORARILY_UNAVAILABLE', 'the server is shutting down');
    this.db.exec('BEGIN IMMEDIATE');
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const committed = new Promise<void>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    // Every writer chains its own handler; this one keeps a failed group from being an unhandled rejection.
    committed.catch(() => undefined);
    this.group = { committed, resolve, reject };
    setImmediate(() => this.commit());
    return this.group;
  }

  private commit(): void {
    const group = this.group;
    if (group === undefined) return;
    this.group = undefined;
    try {
      this.db.exec('COMMIT');
      group.resolve();
    } catch (error) {
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // The rollback failing too leaves SQLite to roll back on the next open.
      }
      group.reject(
        new MlflowError('INTERNAL_ERROR', `could not commit to the backend store: ${(error as Error).message}`),
      );
    }
  }
}

/**
 * `mlflow_like(value, pattern)` and `mlflow_ilike(value, pattern)`: SQL LIKE as MLflow documents it (`%` any run of
 * characters, `_` one character, LIKE case-sensitive, ILIKE not), which SQLite's own LIKE is not (it ignores ASCII
 * case). Patterns are compiled once.
 */
function registerLikeFunctions(db: Database.Database): void {
  const cache = new Map<string, RegExp>();
  const compile = (pattern: string, flags: string): RegExp => {
    const key = `${flags}:${pattern}`;
    let regex = cache.get(key);
    if (regex === undefined) {
      let source = '';
      for (const ch of pattern) {
        if (ch === '%') source += '[\\s\\S]*';
        else if (ch === '_') source += '[\\s\\S]';
        else source += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      }
      regex = new RegExp(`^${source}$`, `u${flags}`);
      if (cache.size > 1000) cache.clear();
      cache.set(key, regex);
    }
    return regex;
  };
  const like =
    (flags: string) =>
    (value: unknown, pattern: unknown): number =>
      typeof value === 'string' && typeof pattern === 'string' && compile(pattern, flags).test(value) ? 1 : 0;
  db.function('mlflow_like', { deterministic: true }, like(''));
  db.function('mlflow_ilike', { deterministic: true }, like('i'));
}
