/**
 * The registry's rows and their JSON: registered models (with their latest version per stage, tags and aliases) and
 * model versions (with tags and the aliases that point at them), and the legacy stages.
 */
import type Database from 'better-sqlite3';

import { doesNotExist, invalidParameter } from '../errors';
import { withList, type KeyValueJson } from '../proto-json';
import { parseModelVersion, validateModelName } from '../validation';

/** The legacy stages, in MLflow's order. */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
/** A legacy stage. */
export type Stage = (typeof STAGES)[number];
/** The stage a deleted version is kept under (so its number is never reused), never shown. */
export const STAGE_DELETED_INTERNAL = 'Deleted_Internal';

/** MLflow's `get_canonical_stage`: stages are matched without regard to case. */
export function canonicalStage(stage: string): Stage {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (found === undefined) {
    throw invalidParameter(`Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(', ')}.`);
  }
  return found;
}

/** A model version as MLflow's JSON carries it. */
export interface ModelVersionJson {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  user_id?: string;
  current_stage: string;
  source: string;
  run_id: string;
  status: 'READY';
  status_message?: string;
  tags?: KeyValueJson[];
  run_link: string;
  aliases?: string[];
}

/** A registered model as MLflow's JSON carries it. */
export interface RegisteredModelJson {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  latest_versions?: ModelVersionJson[];
  tags?: KeyValueJson[];
  aliases?: { alias: string; version: string }[];
}

/** A registered model row. */
export interface ModelRow {
  model_id: number;
  name: string;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
}

/** A model version row. */
export interface VersionRow {
  model_id: number;
  version: number;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  storage_location: string;
  run_id: string;
  run_link: string;
  status: 'READY';
  status_message: string | null;
}

/** Lookups shared by the registry's stores. */
export class RegistryReader {
  private readonly modelByName: Database.Statement<[string], ModelRow>;
  private readonly version: Database.Statement<[number, number], VersionRow>;
  private readonly modelTags: Database.Statement<[number], KeyValueJson>;
  private readonly modelAliases: Database.Statement<[number], { alias: string; version: number }>;
  private readonly versions: Database.Statement<[number], VersionRow>;
  private readonly versionTags: Database.Statement<[number, number], KeyValueJson>;
  private readonly versionAliases: Database.Statement<[number, number], { alias: string }>;

  constructor(readonly db: Database.Database) {
    this.modelByName = db.prepare('SELECT * FROM registered_models WHERE name = ?');
    this.version = db.prepare(
      `SELECT * FROM model_versions WHERE model_id = ? AND version = ? AND current_stage != '${STAGE_DELETED_INTERNAL}'`,
    );
    this.modelTags = db.prepare('SELECT key, value FROM registered_model_tags WHERE model_id = ? ORDER BY key');
    this.modelAliases = db.prepare(
      'SELECT alias, version FROM registered_model_aliases WHERE model_id = ? ORDER BY alias',
    );
    this.versions = db.prepare(
      `SELECT * FROM model_versions WHERE model_id = ? AND current_stage != '${STAGE_DELETED_INTERNAL}' ORDER BY version`,
    );
    this.versionTags = db.prepare(
      'SELECT key, value FROM model_version_tags WHERE model_id = ? AND version = ? ORDER BY key',
    );
    this.versionAliases = db.prepare(
      'SELECT alias FROM registered_model_aliases WHERE model_id = ? AND version = ? ORDER BY alias',
    );
  }

  /** A registered model by name; RESOURCE_DOES_NOT_EXIST when there is none. */
  model(name: string): ModelRow {
    validateModelName(name);
    const row = this.modelByName.get(name);
    if (row === undefined) throw doesNotExist(`Registered Model with name=${name} not found`);
    return row;
  }

  /** A live version of a model; RESOURCE_DOES_NOT_EXIST when there is none. */
  versionOf(model: ModelRow, version: string): VersionRow {
    const number = parseModelVersion(version);
    const row = this.version.get(model.model_id, number);
    if (row === undefined) throw doesNotExist(`Model Version (name=${model.name}, version=${version}) not found`);
    return row;
  }

  /** A registered model's JSON; `latest_versions` holds the newest live version of each stage. */
  modelJson(row: ModelRow): RegisteredModelJson {
    const json: RegisteredModelJson = {
      name: row.name,
      creation_timestamp: row.creation_time,
      last_updated_timestamp: row.last_updated_time,
    };
    if (row.description !== null && row.description !== '') json.description = row.description;
    withList(
      json,
      'latest_versions',
      this.latestVersions(row).map((v) => this.versionJson(v, row.name)),
    );
    withList(json, 'tags', this.modelTags.all(row.model_id));
    withList(
      json,
      'aliases',
      this.modelAliases.all(row.model_id).map((a) => ({ alias: a.alias, version: String(a.version) })),
    );
    return json;
  }

  /** The newest live version of each stage, stages in the order their first version was made (as MLflow lists them). */
  latestVersions(row: ModelRow): VersionRow[] {
    const latest = new Map<string, VersionRow>();
    for (const version of this.versions.all(row.model_id)) latest.set(version.current_stage, version);
    return [...latest.values()];
  }

  /** A model version's JSON. */
  versionJson(row: VersionRow, name: string): ModelVersionJson {
    const json: ModelVersionJson = {
      name,
      version: String(row.version),
      creation_timestamp: row.creation_time,
      last_updated_timestamp: row.last_updated_time,
      current_stage: row.current_stage,
      source: row.source,
      run_id: row.run_id,
      status: row.status,
      run_link: row.run_link,
    };
    if (row.description !== null) json.description = row.description;
    if (row.user_id !== null) json.user_id = row.user_id;
    if (row.status_message !== null && row.status_message !== '') json.status_message = row.status_message;
    withList(json, 'tags', this.versionTags.all(row.model_id, row.version));
    withList(
      json,
      'aliases',
      this.versionAliases.all(row.model_id, row.version).map((a) => a.alias),
    );
    return json;
  }
}
