/**
 * Experiments: create (with the default artifact location `<root>/<id>`), get by id or name, rename, delete and
 * restore (which take the experiment's runs with them, as MLflow's SQL store does), tags, and search with MLflow's
 * experiment filter (`name`, `creation_time`, `last_update_time`, `tags.<key>`) and order_by.
 */
import type Database from 'better-sqlite3';

import { alreadyExists, doesNotExist, invalidParameter, MlflowError } from '../errors';
import { withList, type KeyValueJson } from '../proto-json';
import { parseFilter, pySet, splitIdentifier } from '../search/filter';
import { parseOrderBy } from '../search/order-by';
import { checkMaxResults, pageToken, parsePageToken } from '../search/page-token';
import { sqlComparison, type Comparator } from '../search/sql';
import { checkComparator, numeric, quotedString } from '../search/values';
import type { MlflowDatabase } from '../store/database';
import { validateExperimentName, validateExperimentTag } from '../validation';
import { appendToUriPath } from '../uris';

/** An experiment as MLflow's JSON carries it. */
export interface ExperimentJson {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  last_update_time: number;
  creation_time: number;
  tags?: KeyValueJson[];
}

/** Whether an experiment or run is live or (softly) deleted. */
export type LifecycleStage = 'active' | 'deleted';

/** Which lifecycle stages a search returns. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

/** The lifecycle stages a view type selects. */
export function stagesOf(viewType: ViewType): LifecycleStage[] {
  switch (viewType) {
    case 'ACTIVE_ONLY':
      return ['active'];
    case 'DELETED_ONLY':
      return ['deleted'];
    case 'ALL':
      return ['active', 'deleted'];
  }
}

/** MLflow's default experiment, created with every new store. */
export const DEFAULT_EXPERIMENT_ID = '0';
const DEFAULT_EXPERIMENT_NAME = 'Default';

/** Search experiments' defaults and bounds (MLflow's SEARCH_MAX_RESULTS_DEFAULT and _THRESHOLD). */
export const SEARCH_EXPERIMENTS_MAX_RESULTS_DEFAULT = 1000;
const SEARCH_MAX_RESULTS_THRESHOLD = 50_000;

interface ExperimentRow {
  experiment_id: number;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: number;
  last_update_time: number;
}

/** Options of {@link ExperimentStore.search}. */
export interface SearchExperimentsOptions {
  viewType?: ViewType;
  maxResults?: number;
  filter?: string;
  orderBy?: readonly string[];
  pageToken?: string;
}

const STRING_ATTRIBUTES = ['name'];
const NUMERIC_ATTRIBUTES = ['creation_time', 'last_update_time'];
const ORDER_BY_ATTRIBUTES = ['name', 'experiment_id', 'creation_time', 'last_update_time'];

/** Parses an experiment id; ids are integers, anything else names no experiment. */
export function experimentIdNumber(experimentId: string): number | undefined {
  return /^\d{1,15}$/.test(experimentId) ? Number(experimentId) : undefined;
}

/** The experiments of the tracking store. */
export class ExperimentStore {
  private readonly db: Database.Database;
  private readonly selectById: Database.Statement<[number], ExperimentRow>;
  private readonly selectTags: Database.Statement<[number], KeyValueJson>;

  constructor(
    private readonly database: MlflowDatabase,
    private readonly defaultArtifactRoot: string,
    private readonly now: () => number,
  ) {
    this.db = database.db;
    this.selectById = this.db.prepare('SELECT * FROM experiments WHERE experiment_id = ?');
    this.selectTags = this.db.prepare('SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key');
    const count = this.db.prepare('SELECT count(*) AS n FROM experiments').get() as { n: number };
    if (count.n === 0) {
      const time = this.now();
      this.db
        .prepare('INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?)')
        .run(0, DEFAULT_EXPERIMENT_NAME, appendToUriPath(this.defaultArtifactRoot, '0'), 'active', time, time);
    }
  }

  /** Creates an experiment; its name must be new (deleted experiments keep theirs). Resolves with its id. */
  create(name: string, artifactLocation: string | undefined, tags: readonly KeyValueJson[]): Promise<string> {
    validateExperimentName(name);
    if (artifactLocation?.startsWith('runs:') === true) {
      throw invalidParameter(`Artifact location cannot be a runs:/ URI. Given: '${artifactLocation}'`);
    }
    for (const tag of tags) validateExperimentTag(tag.key, tag.value);
    return this.database.write(() => {
      if (this.db.prepare('SELECT 1 FROM experiments WHERE name = ?').get(name) !== undefined) {
        throw alreadyExists(`Experiment(name=${name}) already exists.`);
      }
      const time = this.now();
      const { lastInsertRowid } = this.db
        .prepare(
          'INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) ' +
            "VALUES (?, '', 'active', ?, ?)",
        )
        .run(name, time, time);
      const id = Number(lastInsertRowid);
      const location =
        artifactLocation === undefined || artifactLocation === ''
          ? appendToUriPath(this.defaultArtifactRoot, String(id))
          : artifactLocation;
      this.db.prepare('UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?').run(location, id);
      const insertTag = this.db.prepare('INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)');
      for (const tag of tags) insertTag.run(id, tag.key, tag.value);
      return String(id);
    });
  }

  /** An experiment, active or deleted. */
  get(experimentId: string): ExperimentJson {
    return this.toJson(this.row(experimentId, ['active', 'deleted']));
  }

  /** The experiment with this name, active or deleted, if any. */
  getByName(name: string): ExperimentJson | undefined {
    const row = this.db.prepare('SELECT * FROM experiments WHERE name = ?').get(name) as ExperimentRow | undefined;
    return row === undefined ? undefined : this.toJson(row);
  }

  /** The active experiment runs are created in (an empty id means the default experiment). */
  activeForNewRun(experimentId: string): { experimentId: number; artifactLocation: string } {
    const row = this.row(experimentId === '' ? DEFAULT_EXPERIMENT_ID : experimentId, ['active', 'deleted']);
    if (row.lifecycle_stage !== 'active') {
      throw invalidParameter(
        `The experiment ${row.experiment_id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
      );
    }
    return { experimentId: row.experiment_id, artifactLocation: row.artifact_location };
  }

  /** Marks an active experiment and all its runs deleted. */
  delete(experimentId: string): Promise<void> {
    return this.database.write(() => {
      const row = this.row(experimentId, ['active']);
      const time = this.now();
      this.db
        .prepare("UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = ? WHERE experiment_id = ?")
        .run(time, row.experiment_id);
      this.db
        .prepare("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE experiment_id = ?")
        .run(time, row.experiment_id);
    });
  }

  /** Restores a deleted experiment and all its runs. */
  restore(experimentId: string): Promise<void> {
    return this.database.write(() => {
      const row = this.row(experimentId, ['deleted']);
      this.db
        .prepare("UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ? WHERE experiment_id = ?")
        .run(this.now(), row.experiment_id);
      this.db
        .prepare("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = ?")
        .run(row.experiment_id);
    });
  }

  /** Renames an active experiment. */
  rename(experimentId: string, newName: string): Promise<void> {
    validateExperimentName(newName);
    return this.database.write(() => {
      const row = this.row(experimentId, ['active', 'deleted']);
      if (row.lifecycle_stage !== 'active') {
        throw new MlflowError('INVALID_STATE', 'Cannot rename a non-active experiment.');
      }
      if (newName === row.name) return;
      if (this.db.prepare('SELECT 1 FROM experiments WHERE name = ?').get(newName) !== undefined) {
        throw alreadyExists(`Experiment(name=${newName}) already exists.`);
      }
      this.db
        .prepare('UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?')
        .run(newName, this.now(), row.experiment_id);
    });
  }

  /** Sets (or overwrites) a tag of an active experiment. */
  setTag(experimentId: string, key: string, value: string): Promise<void> {
    validateExperimentTag(key, value);
    return this.database.write(() => {
      const row = this.row(experimentId, ['active', 'deleted']);
      this.requireActive(row);
      this.db.prepare('INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)').run(row.experiment_id, key, value);
    });
  }

  /** Deletes a tag of an active experiment. */
  deleteTag(experimentId: string, key: string): Promise<void> {
    return this.database.write(() => {
      const row = this.row(experimentId, ['active', 'deleted']);
      this.requireActive(row);
      const { changes } = this.db
        .prepare('DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?')
        .run(row.experiment_id, key);
      if (changes === 0) throw doesNotExist(`No tag with name: ${key} in experiment with id ${experimentId}`);
    });
  }

  /** Experiments matching MLflow's experiment filter, in order, one page at a time. */
  search(options: SearchExperimentsOptions): { experiments: ExperimentJson[]; nextPageToken?: string } {
    const maxResults = options.maxResults ?? SEARCH_EXPERIMENTS_MAX_RESULTS_DEFAULT;
    checkMaxResults(maxResults, SEARCH_MAX_RESULTS_THRESHOLD);
    const joinParams: unknown[] = [];
    const whereParams: unknown[] = [];
    const joins: string[] = [];
    const where: string[] = [];
    parseFilter(options.filter).forEach((clause, index) => {
      const { entity, key } = splitIdentifier(clause.identifier);
      if (entity === undefined || entity === 'attribute' || entity === 'attributes') {
        if (STRING_ATTRIBUTES.includes(key)) {
          if (!['=', '!=', 'LIKE', 'ILIKE'].includes(clause.comparator)) {
            throw invalidParameter(`Invalid comparator for string attribute: ${clause.comparator}`);
          }
          const value = quotedString(clause, 'attributes');
          where.push(sqlComparison(`e.${key}`, clause.comparator as Comparator, value, whereParams));
        } else if (NUMERIC_ATTRIBUTES.includes(key)) {
          if (!['=', '!=', '<', '<=', '>', '>='].includes(clause.comparator)) {
            throw invalidParameter(`Invalid comparator for numeric attribute: ${clause.comparator}`);
          }
          const value = numeric(clause, `Expected numeric value type for numeric attribute: ${key}`);
          where.push(sqlComparison(`e.${key}`, clause.comparator as Comparator, value, whereParams));
        } else {
          throw invalidParameter(
            `Invalid attribute key '${key}' specified. Valid keys are '${pySet([...STRING_ATTRIBUTES, ...NUMERIC_ATTRIBUTES])}'`,
          );
        }
      } else if (entity === 'tag' || entity === 'tags') {
        checkComparator(clause, ['=', '!=', 'LIKE', 'ILIKE'], "{'=', '!=', 'LIKE', 'ILIKE'}");
        const alias = `t${index}`;
        const value = quotedString(clause, 'tag');
        joinParams.push(key);
        const condition = sqlComparison(`${alias}.value`, clause.comparator as Comparator, value, joinParams);
        joins.push(
          `JOIN experiment_tags ${alias} ON ${alias}.experiment_id = e.experiment_id AND ${alias}.key = ? AND ${condition}`,
        );
      } else {
        throw invalidParameter(`Invalid entity type '${entity}'. Valid entity types are ('attribute', 'tag', 'tags')`);
      }
    });
    const stages = stagesOf(options.viewType ?? 'ACTIVE_ONLY');
    where.push(`e.lifecycle_stage IN (${stages.map(() => '?').join(', ')})`);
    whereParams.push(...stages);
    const offset = parsePageToken(options.pageToken);
    const sql =
      `SELECT e.* FROM experiments e ${joins.join(' ')} WHERE ${where.join(' AND ')} ` +
      `ORDER BY ${this.orderBy(options.orderBy)} LIMIT ? OFFSET ?`;
    const rows = this.db.prepare(sql).all(...joinParams, ...whereParams, maxResults + 1, offset) as ExperimentRow[];
    const experiments = rows.slice(0, maxResults).map((row) => this.toJson(row));
    return rows.length > maxResults ? { experiments, nextPageToken: pageToken(offset + maxResults) } : { experiments };
  }

  private orderBy(orderBy: readonly string[] | undefined): string {
    const clauses = (
      orderBy === undefined || orderBy.length === 0 ? ['creation_time DESC', 'experiment_id ASC'] : orderBy
    ).map((text) => {
      const clause = parseOrderBy(text);
      if (clause.entity !== undefined && clause.entity !== 'attribute' && clause.entity !== 'attributes') {
        if (clause.entity === 'tag' || clause.entity === 'tags') {
          throw invalidParameter(`Invalid order_by entity: tag`);
        }
        throw invalidParameter(
          `Invalid entity type '${clause.entity}'. Valid entity types are ('attribute', 'tag', 'tags')`,
        );
      }
      if (!ORDER_BY_ATTRIBUTES.includes(clause.key)) {
        throw invalidParameter(
          `Invalid attribute key '${clause.key}' specified. Valid keys are '${pySet(ORDER_BY_ATTRIBUTES)}'`,
        );
      }
      return clause;
    });
    const sql = clauses.map((c) => `e.${c.key} ${c.ascending ? 'ASC' : 'DESC'}`);
    if (!clauses.some((c) => c.key === 'experiment_id')) sql.push('e.experiment_id DESC');
    return sql.join(', ');
  }

  private row(experimentId: string, stages: readonly LifecycleStage[]): ExperimentRow {
    const id = experimentIdNumber(experimentId);
    const row = id === undefined ? undefined : this.selectById.get(id);
    if (row === undefined || !stages.includes(row.lifecycle_stage)) {
      throw doesNotExist(`No Experiment with id=${experimentId} exists`);
    }
    return row;
  }

  private requireActive(row: ExperimentRow): void {
    if (row.lifecycle_stage !== 'active') {
      throw invalidParameter(
        `The experiment ${row.experiment_id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
      );
    }
  }

  private toJson(row: ExperimentRow): ExperimentJson {
    return withList<ExperimentJson, 'tags', KeyValueJson>(
      {
        experiment_id: String(row.experiment_id),
        name: row.name,
        artifact_location: row.artifact_location,
        lifecycle_stage: row.lifecycle_stage,
        last_update_time: row.last_update_time,
        creation_time: row.creation_time,
      },
      'tags',
      this.selectTags.all(row.experiment_id),
    );
  }
}
