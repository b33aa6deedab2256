/**
 * Model versions: create (numbered after the highest number the model ever had, READY at once, as MLflow's SQL
 * store makes them), get, update, delete (the number is never reused; its aliases go), legacy stage transitions,
 * download URI, tags, and search with MLflow's model version filter (`name`, `run_id`, `source_path`,
 * `version_number`, `tags.<key>`) and order_by.
 */
import type Database from 'better-sqlite3';

import { invalidParameter } from '../errors';
import type { KeyValueJson } from '../proto-json';
import { parseFilter, pySet, splitIdentifier } from '../search/filter';
import { parseOrderBy } from '../search/order-by';
import { checkMaxResults, pageToken, parsePageToken } from '../search/page-token';
import { sqlComparison, type Comparator } from '../search/sql';
import { checkComparator, numeric, quotedString, stringList } from '../search/values';
import type { MlflowDatabase } from '../store/database';
import { uriScheme } from '../uris';
import { validateModelName, validateModelVersionTag, validateTagName } from '../validation';
import {
  canonicalStage,
  RegistryReader,
  STAGE_DELETED_INTERNAL,
  type ModelVersionJson,
  type VersionRow,
} from './entities';
import { validateModelVersionSource } from './sources';

/** Search model versions' default page size and bound (MLflow's). */
export const SEARCH_MODEL_VERSIONS_MAX_RESULTS_DEFAULT = 10_000;
const SEARCH_MODEL_VERSIONS_MAX_RESULTS_THRESHOLD = 200_000;

/** Options of {@link ModelVersionStore.create}. */
export interface CreateModelVersionOptions {
  name: string;
  source: string;
  runId: string;
  tags: readonly KeyValueJson[];
  runLink: string;
  description: string;
}

/** Options of {@link ModelVersionStore.search}. */
export interface SearchModelVersionsOptions {
  filter?: string;
  maxResults?: number;
  orderBy?: readonly string[];
  pageToken?: string;
}

const ORDER_BY_COLUMNS: Record<string, string> = {
  name: 'm.name',
  version_number: 'v.version',
  creation_timestamp: 'v.creation_time',
  last_updated_timestamp: 'v.last_updated_time',
  timestamp: 'v.creation_time',
};
const STRING_ATTRIBUTES: Record<string, string> = { name: 'm.name', run_id: 'v.run_id', source_path: 'v.source' };
const STRING_COMPARATORS = ['!=', '=', 'LIKE', 'ILIKE', 'IN'];
const NUMERIC_COMPARATORS = ['>', '>=', '!=', '=', '<', '<='];

/** The model versions of the registry. */
export class ModelVersionStore {
  private readonly db: Database.Database;

  constructor(
    private readonly database: MlflowDatabase,
    private readonly reader: RegistryReader,
    /** The artifact URI of a run (throws when there is no such run): local sources must live in it. */
    private readonly runArtifactRoot: (runId: string) => string,
    private readonly now: () => number,
  ) {
    this.db = database.db;
  }

  /** Registers a new version of an existing model, READY at once. */
  create(options: CreateModelVersionOptions): Promise<ModelVersionJson> {
    validateModelName(options.name);
    for (const tag of options.tags) validateModelVersionTag(tag.key, tag.value);
    return this.database.write(() => {
      validateModelVersionSource(options.source, options.runId, this.runArtifactRoot);
      const model = this.reader.model(options.name);
      const storageLocation = this.storageLocation(options.source);
      const { next } = this.db
        .prepare('SELECT coalesce(max(version), 0) + 1 AS next FROM model_versions WHERE model_id = ?')
        .get(model.model_id) as { next: number };
      const time = this.now();
      this.db
        .prepare(
          'INSERT INTO model_versions (model_id, version, creation_time, last_updated_time, description, user_id, ' +
            'current_stage, source, storage_location, run_id, run_link, status, status_message) ' +
            "VALUES (?, ?, ?, ?, ?, NULL, 'None', ?, ?, ?, ?, 'READY', NULL)",
        )
        .run(
          model.model_id,
          next,
          time,
          time,
          options.description,
          options.source,
          storageLocation,
          options.runId,
          options.runLink,
        );
      const insertTag = this.db.prepare('INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)');
      for (const tag of options.tags) insertTag.run(model.model_id, next, tag.key, tag.value);
      this.db
        .prepare('UPDATE registered_models SET last_updated_time = ? WHERE model_id = ?')
        .run(time, model.model_id);
      return this.reader.versionJson(this.reader.versionOf(model, String(next)), model.name);
    });
  }

  /** A live version. */
  get(name: string, version: string): ModelVersionJson {
    const model = this.reader.model(name);
    return this.reader.versionJson(this.reader.versionOf(model, version), model.name);
  }

  /** Sets a version's description (left as is when `description` is undefined). */
  update(name: string, version: string, description: string | undefined): Promise<ModelVersionJson> {
    return this.database.write(() => {
      const model = this.reader.model(name);
      const row = this.reader.versionOf(model, version);
      if (description !== undefined) {
        this.db
          .prepare(
            'UPDATE model_versions SET description = ?, last_updated_time = ? WHERE model_id = ? AND version = ?',
          )
          .run(description, this.now(), model.model_id, row.version);
      }
      return this.reader.versionJson(this.reader.versionOf(model, version), model.name);
    });
  }

  /** Deletes a version: its number stays taken, its tags and the aliases pointing at it go. */
  delete(name: string, version: string): Promise<void> {
    return this.database.write(() => {
      const model = this.reader.model(name);
      const row = this.reader.versionOf(model, version);
      const time = this.now();
      this.db
        .prepare(
          'UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description = NULL, user_id = NULL, ' +
            "source = 'REDACTED-SOURCE-PATH', storage_location = 'REDACTED-SOURCE-PATH', run_id = '', run_link = '' " +
            'WHERE model_id = ? AND version = ?',
        )
        .run(STAGE_DELETED_INTERNAL, time, model.model_id, row.version);
      this.db
        .prepare('DELETE FROM model_version_tags WHERE model_id = ? AND version = ?')
        .run(model.model_id, row.version);
      this.db
        .prepare('DELETE FROM registered_model_aliases WHERE model_id = ? AND version = ?')
        .run(model.model_id, row.version);
      this.db
        .prepare('UPDATE registered_models SET last_updated_time = ? WHERE model_id = ?')
        .run(time, model.model_id);
    });
  }

  /** Moves a version to a legacy stage, optionally archiving the versions already in it (Staging or Production). */
  transitionStage(name: string, version: string, stage: string, archiveExisting: boolean): Promise<ModelVersionJson> {
    const target = canonicalStage(stage);
    if (archiveExisting && target !== 'Staging' && target !== 'Production') {
      throw invalidParameter(
        `Model version transition cannot archive existing model versions because '${target}' is not an Active ` +
          'stage. Valid stages are Staging and Production',
      );
    }
    return this.database.write(() => {
      const model = this.reader.model(name);
      const row = this.reader.versionOf(model, version);
      const time = this.now();
      if (archiveExisting) {
        this.db
          .prepare(
            "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? " +
              'WHERE model_id = ? AND current_stage = ? AND version != ?',
          )
          .run(time, model.model_id, target, row.version);
      }
      this.db
        .prepare(
          'UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE model_id = ? AND version = ?',
        )
        .run(target, time, model.model_id, row.version);
      this.db
        .prepare('UPDATE registered_models SET last_updated_time = ? WHERE model_id = ?')
        .run(time, model.model_id);
      return this.reader.versionJson(this.reader.versionOf(model, version), model.name);
    });
  }

  /** Where a version's files are: its resolved storage location, else its source. */
  downloadUri(name: string, version: string): string {
    const row = this.reader.versionOf(this.reader.model(name), version);
    return row.storage_location || row.source;
  }

  /** Sets (or overwrites) a version's tag. */
  setTag(name: string, version: string, key: string, value: string): Promise<void> {
    validateModelVersionTag(key, value);
    return this.database.write(() => {
      const model = this.reader.model(name);
      const row = this.reader.versionOf(model, version);
      this.db
        .prepare('INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)')
        .run(model.model_id, row.version, key, value);
    });
  }

  /** Deletes a version's tag (one it does not have is no error). */
  deleteTag(name: string, version: string, key: string): Promise<void> {
    validateTagName(key);
    return this.database.write(() => {
      const model = this.reader.model(name);
      const row = this.reader.versionOf(model, version);
      this.db
        .prepare('DELETE FROM model_version_tags WHERE model_id = ? AND version = ? AND key = ?')
        .run(model.model_id, row.version, key);
    });
  }

  /** Live versions matching MLflow's model version filter, in order, one page at a time. */
  search(options: SearchModelVersionsOptions): { modelVersions: ModelVersionJson[]; nextPageToken?: string } {
    const maxResults = options.maxResults ?? SEARCH_MODEL_VERSIONS_MAX_RESULTS_DEFAULT;
    checkMaxResults(maxResults, SEARCH_MODEL_VERSIONS_MAX_RESULTS_THRESHOLD);
    const joins: string[] = [];
    const joinParams: unknown[] = [];
    const where: string[] = [`v.current_stage != '${STAGE_DELETED_INTERNAL}'`];
    const whereParams: unknown[] = [];
    parseFilter(options.filter).forEach((clause, index) => {
      const { entity, key } = splitIdentifier(clause.identifier);
      if (entity === undefined || entity === 'attribute') {
        const column = STRING_ATTRIBUTES[key];
        if (key === 'version_number') {
          const value = numeric(clause, `Expected numeric value type for numeric attribute: ${key}`);
          checkComparator(clause, NUMERIC_COMPARATORS, "{'>', '>=', '!=', '=', '<', '<='}");
          where.push(sqlComparison('v.version', clause.comparator as Comparator, value, whereParams));
        } else if (column !== undefined) {
          let value: string | string[];
          if (clause.value.kind === 'list') {
            if (key !== 'run_id') {
              throw invalidParameter(
                "Only the 'run_id' attribute supports comparison with a list of quoted string values.",
              );
            }
            value = stringList(clause);
          } else if (clause.value.kind === 'number') {
            throw invalidParameter(
              `Only the '${pySet(['version_number', 'creation_timestamp', 'last_updated_timestamp'])}' attributes ` +
                'support comparison with numeric values.',
            );
          } else value = quotedString(clause, 'attributes');
          checkComparator(clause, STRING_COMPARATORS, "{'!=', '=', 'LIKE', 'ILIKE', 'IN'}");
          where.push(sqlComparison(column, clause.comparator as Comparator, value, whereParams));
        } else {
          throw invalidParameter(
            `Invalid attribute key '${key}' specified. Valid keys are ` +
              `'${pySet(['name', 'version_number', 'run_id', 'source_path'])}'`,
          );
        }
      } else if (entity === 'tag' || entity === 'tags') {
        const value = quotedString(clause, 'tag');
        checkComparator(clause, ['=', '!=', 'LIKE', 'ILIKE'], "{'=', '!=', 'LIKE', 'ILIKE'}");
        const a = `t${index}`;
        joinParams.push(key);
        const condition = sqlComparison(`${a}.value`, clause.comparator as Comparator, value, joinParams);
        joins.push(
          `JOIN model_version_tags ${a} ON ${a}.model_id = v.model_id AND ${a}.version = v.version ` +
            `AND ${a}.key = ? AND ${condition}`,
        );
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
          `Invalid attribute key '${clause.key}' specified. Valid keys are ` +
            `'${pySet(['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'])}'`,
        );
      }
      return `${column} ${clause.ascending ? 'ASC' : 'DESC'}`;
    });
    if (!order.some((o) => o.startsWith('m.name '))) order.push('m.name ASC');
    if (!order.some((o) => o.startsWith('v.version '))) order.push('v.version DESC');
    const offset = parsePageToken(options.pageToken);
    const rows = this.db
      .prepare(
        `SELECT v.*, m.name AS model_name FROM model_versions v JOIN registered_models m ON m.model_id = v.model_id ` +
          `${joins.join(' ')} WHERE ${where.join(' AND ')} ORDER BY ${order.join(', ')} LIMIT ? OFFSET ?`,
      )
      .all(...joinParams, ...whereParams, maxResults + 1, offset) as (VersionRow & { model_name: string })[];
    const modelVersions = rows.slice(0, maxResults).map((row) => this.reader.versionJson(row, row.model_name));
    return rows.length > maxResults
      ? { modelVersions, nextPageToken: pageToken(offset + maxResults) }
      : { modelVersions };
  }

  /** The storage location of a source: a `models:/` URI resolves to the version it names. */
  private storageLocation(source: string): string {
    if (uriScheme(source) !== 'models') return source;
    const match = /^models:\/+([^/@]+)(?:\/([^/]+)|@([^/]+))\/?$/i.exec(source);
    try {
      if (match === null) throw new Error('expected models:/<name>/<version> or models:/<name>@<alias>');
      const model = this.reader.model(match[1]!);
      let version = match[2];
      if (version === undefined) {
        const alias = this.db
          .prepare('SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?')
          .get(model.model_id, match[3]) as { version: number } | undefined;
        if (alias === undefined) throw new Error(`Registered model alias ${match[3]} not found.`);
        version = String(alias.version);
      }
      const row = this.reader.versionOf(model, version);
      return row.storage_location || row.source;
    } catch (error) {
      throw invalidParameter(
        `Unable to fetch model from model URI source artifact location '${source}'.Error: ${(error as Error).message}`,
      );
    }
  }
}
