/**
 * Registered models: create, get, rename (versions follow), update, delete (with every version, tag and alias),
 * search with MLflow's registered model filter (`name`, `tags.<key>`) and order_by, tags, the latest version per
 * stage, and aliases (`latest` and `v<N>` are reserved; a missing alias is INVALID_PARAMETER_VALUE, as on MLflow).
 */
import type Database from 'better-sqlite3';

import { alreadyExists, invalidParameter } from '../errors';
import type { KeyValueJson } from '../proto-json';
import { parseFilter, pySet, splitIdentifier } from '../search/filter';
import { parseOrderBy } from '../search/order-by';
import { checkMaxResults, pageToken, parsePageToken } from '../search/page-token';
import { sqlComparison, type Comparator } from '../search/sql';
import { checkComparator, quotedString } from '../search/values';
import type { MlflowDatabase } from '../store/database';
import { validateAliasName, validateModelName, validateRegisteredModelTag, validateTagName } from '../validation';
import {
  canonicalStage,
  RegistryReader,
  STAGES,
  type ModelRow,
  type ModelVersionJson,
  type RegisteredModelJson,
} from './entities';

/** Search registered models' default page size and bound (MLflow's). */
export const SEARCH_REGISTERED_MODELS_MAX_RESULTS_DEFAULT = 100;
const SEARCH_REGISTERED_MODELS_MAX_RESULTS_THRESHOLD = 1000;

const ORDER_BY_COLUMNS: Record<string, string> = {
  name: 'm.name',
  creation_timestamp: 'm.creation_time',
  last_updated_timestamp: 'm.last_updated_time',
  // MLflow's SQL store reads `timestamp` as the last update.
  timestamp: 'm.last_updated_time',
};

/** Options of {@link RegisteredModelStore.search}. */
export interface SearchRegisteredModelsOptions {
  filter?: string;
  maxResults?: number;
  orderBy?: readonly string[];
  pageToken?: string;
}

/** The registered models of the registry. */
export class RegisteredModelStore {
  private readonly db: Database.Database;

  constructor(
    private readonly database: MlflowDatabase,
    private readonly reader: RegistryReader,
    private readonly now: () => number,
  ) {
    this.db = database.db;
  }

  /** Creates a registered model; its name must be new. */
  create(name: string, tags: readonly KeyValueJson[], description: string): Promise<RegisteredModelJson> {
    validateModelName(name);
    for (const tag of tags) validateRegisteredModelTag(tag.key, tag.value);
    return this.database.write(() => {
      if (this.db.prepare('SELECT 1 FROM registered_models WHERE name = ?').get(name) !== undefined) {
        throw alreadyExists(`Registered Model (name=${name}) already exists.`);
      }
      const time = this.now();
      const { lastInsertRowid } = this.db
        .prepare(
          'INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)',
        )
        .run(name, time, time, description);
      const insertTag = this.db.prepare('INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)');
      for (const tag of tags) insertTag.run(Number(lastInsertRowid), tag.key, tag.value);
      return this.reader.modelJson(this.reader.model(name));
    });
  }

  /** A registered model with its latest versions, tags and aliases. */
  get(name: string): RegisteredModelJson {
    return this.reader.modelJson(this.reader.model(name));
  }

  /** Renames a model (its versions follow); the new name must be free. */
  rename(name: string, newName: string): Promise<RegisteredModelJson> {
    validateModelName(newName);
    return this.database.write(() => {
      const model = this.reader.model(name);
      if (newName !== name && this.db.prepare('SELECT 1 FROM registered_models WHERE name = ?').get(newName)) {
        throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
      }
      const time = this.now();
      this.db
        .prepare('UPDATE registered_models SET name = ?, last_updated_time = ? WHERE model_id = ?')
        .run(newName, time, model.model_id);
      this.db.prepare('UPDATE model_versions SET last_updated_time = ? WHERE model_id = ?').run(time, model.model_id);
      return this.reader.modelJson(this.reader.model(newName));
    });
  }

  /** Sets a model's description (an absent description clears it, as MLflow's handler does). */
  update(name: string, description: string): Promise<RegisteredModelJson> {
    return this.database.write(() => {
      const model = this.reader.model(name);
      this.db
        .prepare('UPDATE registered_models SET description = ?, last_updated_time = ? WHERE model_id = ?')
        .run(description, this.now(), model.model_id);
      return this.reader.modelJson(this.reader.model(name));
    });
  }

  /** Deletes a model with all its versions, tags and aliases. */
  delete(name: string): Promise<void> {
    return this.database.write(() => {
      const { model_id: id } = this.reader.model(name);
      for (const table of [
        'registered_model_aliases',
        'model_version_tags',
        'model_versions',
        'registered_model_tags',
        'registered_models',
      ]) {
        this.db.prepare(`DELETE FROM ${table} WHERE model_id = ?`).run(id);
      }
    });
  }

  /** Sets (or overwrites) a model's tag. */
  setTag(name: string, key: string, value: string): Promise<void> {
    validateRegisteredModelTag(key, value);
    return this.database.write(() => {
      const model = this.reader.model(name);
      this.db.prepare('INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)').run(model.model_id, key, value);
    });
  }

  /** Deletes a model's tag (a tag it does not have is no error, as on MLflow). */
  deleteTag(name: string, key: string): Promise<void> {
    validateTagName(key);
    return this.database.write(() => {
      const model = this.reader.model(name);
      this.db.prepare('DELETE FROM registered_model_tags WHERE model_id = ? AND key = ?').run(model.model_id, key);
    });
  }

  /** The newest live version in each of `stages` (all stages when empty). */
  latestVersions(name: string, stages: readonly string[]): ModelVersionJson[] {
    const wanted = new Set(stages.length === 0 ? STAGES : stages.map(canonicalStage));
    const model = this.reader.model(name);
    return this.reader
      .latestVersions(model)
      .filter((v) => wanted.has(v.current_stage as (typeof STAGES)[number]))
      .map((v) => this.reader.versionJson(v, model.name));
  }

  /** Points an alias at a live version (moving it if it pointed elsewhere). */
  setAlias(name: string, alias: string, version: string): Promise<void> {
    validateAliasName(alias);
    return this.database.write(() => {
      const model = this.reader.model(name);
      const row = this.reader.versionOf(model, version);
      this.db
        .prepare('INSERT OR REPLACE INTO registered_model_aliases VALUES (?, ?, ?)')
        .run(model.model_id, alias, row.version);
      this.touch(model);
    });
  }

  /** Removes an alias (one the model does not have is no error, as on MLflow). */
  deleteAlias(name: string, alias: string): Promise<void> {
    validateAliasName(alias);
    return this.database.write(() => {
      const model = this.reader.model(name);
      const { changes } = this.db
        .prepare('DELETE FROM registered_model_aliases WHERE model_id = ? AND alias = ?')
        .run(model.model_id, alias);
      if (changes > 0) this.touch(model);
    });
  }

  /** The version an alias points at; a missing alias is INVALID_PARAMETER_VALUE. */
  versionByAlias(name: string, alias: string): ModelVersionJson {
    const model = this.reader.model(name);
    const row = this.db
      .prepare('SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?')
      .get(model.model_id, alias) as { version: number } | undefined;
    if (row === undefined) throw invalidParameter(`Registered model alias ${alias} not found.`);
    return this.reader.versionJson(this.reader.versionOf(model, String(row.version)), model.name);
  }

  /** Models matching MLflow's registered model filter, in order, one page at a time. */
  search(options: SearchRegisteredModelsOptions): { registeredModels: RegisteredModelJson[]; nextPageToken?: string } {
    const maxResults = options.maxResults ?? SEARCH_REGISTERED_MODELS_MAX_RESULTS_DEFAULT;
    checkMaxResults(maxResults, SEARCH_REGISTERED_MODELS_MAX_RESULTS_THRESHOLD);
    const joins: string[] = [];
    const joinParams: unknown[] = [];
    const where: string[] = [];
    const whereParams: unknown[] = [];
    parseFilter(options.filter).forEach((clause, index) => {
      const { entity, key } = splitIdentifier(clause.identifier);
      if (entity === undefined || entity === 'attribute') {
        if (key !== 'name') {
          throw invalidParameter(`Invalid attribute key '${key}' specified. Valid keys are '{'name'}'`);
        }
        const value = quotedString(clause, 'attributes');
        checkComparator(clause, ['=', '!=', 'LIKE', 'ILIKE'], "{'=', '!=', 'LIKE', 'ILIKE'}");
        where.push(sqlComparison('m.name', clause.comparator as Comparator, value, whereParams));
      } else if (entity === 'tag' || entity === 'tags') {
        const value = quotedString(clause, 'tag');
        checkComparator(clause, ['=', '!=', 'LIKE', 'ILIKE'], "{'=', '!=', 'LIKE', 'ILIKE'}");
        const a = `t${index}`;
        joinParams.push(key);
        const condition = sqlComparison(`${a}.value`, clause.comparator as Comparator, value, joinParams);
        joins.push(`JOIN registered_model_tags ${a} ON ${a}.model_id = m.model_id AND ${a}.key = ? AND ${condition}`);
      } else {
        throw invalidParameter(`Invalid entity type '${entity}'. Valid entity types are ('attribute', 'tag', 'tags')`);
      }
    });
    const order = (options.orderBy ?? []).map((text) => {
      const clause = parseOrderBy(text);
      const column =
        clause.entity === undefined || clause.entity === 'attribute' ? ORDER_BY_COLUMNS[clause.key] : undefined;
      if (column === undefined) {
        throw invalidParameter(
          `Invalid order by key '${clause.key}' specified. Valid keys are '${pySet(Object.keys(ORDER_BY_COLUMNS))}'`,
        );
      }
      return `${column} ${clause.ascending ? 'ASC' : 'DESC'}`;
    });
    if (!order.some((o) => o.startsWith('m.name '))) order.push('m.name ASC');
    const offset = parsePageToken(options.pageToken);
    const rows = this.db
      .prepare(
        `SELECT m.* FROM registered_models m ${joins.join(' ')} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ` +
          `ORDER BY ${order.join(', ')} LIMIT ? OFFSET ?`,
      )
      .all(...joinParams, ...whereParams, maxResults + 1, offset) as ModelRow[];
    const registeredModels = rows.slice(0, maxResults).map((row) => this.reader.modelJson(row));
    return rows.length > maxResults
      ? { registeredModels, nextPageToken: pageToken(offset + maxResults) }
      : { registeredModels };
  }

  private touch(model: ModelRow): void {
    this.db
      .prepare('UPDATE registered_models SET last_updated_time = ? WHERE model_id = ?')
      .run(this.now(), model.model_id);
  }
}
