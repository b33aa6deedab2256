/**
 * Search runs: MLflow's run filter (metrics, params, tags, attributes and datasets, with the comparators each takes)
 * and order_by, compiled to one SQL query over indexed tables (current metrics by key and value, params and tags by
 * key and value), then the page's runs loaded whole. Rows without an order_by key sort last, NaN metrics just before
 * them, then runs by start time (newest first) and id, as MLflow's SQL store orders them.
 */
import type Database from 'better-sqlite3';

import { invalidParameter } from '../errors';
import { parseFilter, pySet, splitIdentifier, type FilterClause } from '../search/filter';
import { parseOrderBy } from '../search/order-by';
import { checkMaxResults, pageToken, parsePageToken } from '../search/page-token';
import { sqlComparison, type Comparator } from '../search/sql';
import { checkComparator, numeric, quotedString, stringList } from '../search/values';
import { experimentIdNumber, stagesOf, type ViewType } from './experiments';
import { DATASET_CONTEXT_TAG, type RunJson, type RunStore } from './runs';

/** Search runs' default page size and its bound (MLflow's SEARCH_MAX_RESULTS_DEFAULT and _THRESHOLD). */
export const SEARCH_RUNS_MAX_RESULTS_DEFAULT = 1000;
const SEARCH_MAX_RESULTS_THRESHOLD = 50_000;

/** Options of {@link searchRuns}. */
export interface SearchRunsOptions {
  experimentIds: readonly string[];
  filter?: string;
  runViewType?: ViewType;
  maxResults?: number;
  orderBy?: readonly string[];
  pageToken?: string;
}

type Entity = 'metric' | 'parameter' | 'tag' | 'attribute' | 'dataset';

const ENTITY_NAMES: Record<string, Entity> = {
  metric: 'metric',
  metrics: 'metric',
  parameter: 'parameter',
  parameters: 'parameter',
  param: 'parameter',
  params: 'parameter',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attr: 'attribute',
  attributes: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};

/** Run attributes as filters name them, with the column each reads. */
const ATTRIBUTE_COLUMNS: Record<string, string> = {
  artifact_uri: 'r.artifact_uri',
  end_time: 'r.end_time',
  run_id: 'r.run_uuid',
  run_name: 'r.name',
  start_time: 'r.start_time',
  status: 'r.status',
  user_id: 'r.user_id',
  created: 'r.start_time',
  Created: 'r.start_time',
  'run name': 'r.name',
  'Run name': 'r.name',
  'Run Name': 'r.name',
};
const NUMERIC_ATTRIBUTES = new Set(['start_time', 'end_time', 'created', 'Created']);
const ORDER_BY_ATTRIBUTES = [
  'artifact_uri',
  'end_time',
  'run_id',
  'run_name',
  'start_time',
  'status',
  'user_id',
  'created',
  'Created',
];
const DATASET_KEYS = ['name', 'digest', 'context'];

const NUMERIC_COMPARATORS = ['>', '>=', '!=', '=', '<', '<='];
const STRING_COMPARATORS = ['!=', '=', 'LIKE', 'ILIKE'];
const LIST_COMPARATORS = ['!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];
const NUMERIC_SET = "{'>', '>=', '!=', '=', '<', '<='}";
const STRING_SET = "{'!=', '=', 'LIKE', 'ILIKE'}";
const LIST_SET = "{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}";

function entityOf(name: string | undefined): Entity {
  if (name === undefined) return 'attribute';
  const entity = ENTITY_NAMES[name];
  if (entity === undefined) {
    throw invalidParameter(
      `Invalid entity type '${name}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']`,
    );
  }
  return entity;
}

/** The SQL of one search: joins and conditions with their bound values, in the order they appear. */
class RunQuery {
  readonly joins: string[] = [];
  readonly joinParams: unknown[] = [];
  readonly where: string[] = [];
  readonly whereParams: unknown[] = [];
  readonly order: string[] = [];
  private aliases = 0;
  /** The inner-joined alias of each filtered metric, param or tag (`metric:acc`), which an order_by can reuse. */
  private readonly filtered = new Map<string, string>();

  alias(prefix: string): string {
    return `${prefix}${this.aliases++}`;
  }

  addFilter(clause: FilterClause): void {
    const { entity: entityName, key } = splitIdentifier(clause.identifier);
    const entity = entityOf(entityName);
    switch (entity) {
      case 'metric': {
        const value = numeric(clause, 'Expected numeric value type for metric');
        checkComparator(clause, NUMERIC_COMPARATORS, NUMERIC_SET);
        const a = this.alias('m');
        if (!this.filtered.has(`metric:${key}`)) this.filtered.set(`metric:${key}`, a);
        const condition =
          clause.comparator === '!='
            ? `(${a}.is_nan = 1 OR ${a}.value != ?)`
            : `${a}.is_nan = 0 AND ${a}.value ${clause.comparator} ?`;
        this.joins.push(`JOIN latest_metrics ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ? AND ${condition}`);
        this.joinParams.push(key, value);
        return;
      }
      case 'parameter':
      case 'tag': {
        const value = quotedString(clause, entity);
        checkComparator(clause, STRING_COMPARATORS, STRING_SET);
        const a = this.alias(entity === 'tag' ? 't' : 'p');
        if (!this.filtered.has(`${entity}:${key}`)) this.filtered.set(`${entity}:${key}`, a);
        this.joinParams.push(key);
        const condition = sqlComparison(`${a}.value`, clause.comparator as Comparator, value, this.joinParams);
        const table = entity === 'tag' ? 'tags' : 'params';
        this.joins.push(`JOIN ${table} ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ? AND ${condition}`);
        return;
      }
      case 'attribute': {
        const column = ATTRIBUTE_COLUMNS[key];
        if (column === undefined) {
          throw invalidParameter(
            `Invalid attribute key '${key}' specified. Valid keys are '${pySet(Object.keys(ATTRIBUTE_COLUMNS))}'`,
          );
        }
        if (NUMERIC_ATTRIBUTES.has(key)) {
          const value = numeric(clause, `Expected numeric value type for numeric attribute: ${key}`);
          checkComparator(clause, NUMERIC_COMPARATORS, NUMERIC_SET);
          this.where.push(sqlComparison(column, clause.comparator as Comparator, value, this.whereParams));
          return;
        }
        let value: string | string[];
        if (clause.value.kind === 'list') {
          if (key !== 'run_id') {
            throw invalidParameter(
              "Only the 'run_id' attribute supports comparison with a list of quoted string values.",
            );
          }
          value = stringList(clause);
        } else if (clause.value.kind === 'number') {
          throw invalidParameter(`Expected a quoted string value for attributes. Got value ${clause.value.text}`);
        } else value = quotedString(clause, 'attributes');
        checkComparator(clause, LIST_COMPARATORS, LIST_SET);
        this.where.push(sqlComparison(column, clause.comparator as Comparator, value, this.whereParams));
        return;
      }
      case 'dataset': {
        if (!DATASET_KEYS.includes(key)) {
          throw invalidParameter(`Invalid dataset key '${key}' specified. Valid keys are '${pySet(DATASET_KEYS)}'`);
        }
        let value: string | string[];
        if (clause.value.kind === 'list') value = stringList(clause);
        else if (clause.value.kind === 'number') {
          throw invalidParameter(
            `Expected a quoted string value for dataset attributes. Got value ${clause.value.text}`,
          );
        } else value = quotedString(clause, 'dataset attributes');
        checkComparator(clause, LIST_COMPARATORS, LIST_SET);
        const params: unknown[] = [];
        const sql =
          key === 'context'
            ? 'EXISTS (SELECT 1 FROM inputs i JOIN input_tags it ON it.input_uuid = i.input_uuid AND it.name = ? ' +
              `WHERE i.run_uuid = r.run_uuid AND ${sqlComparison('it.value', clause.comparator as Comparator, value, params)})`
            : 'EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.dataset_uuid ' +
              `WHERE i.run_uuid = r.run_uuid AND ${sqlComparison(`d.${key}`, clause.comparator as Comparator, value, params)})`;
        this.where.push(sql);
        if (key === 'context') this.whereParams.push(DATASET_CONTEXT_TAG);
        this.whereParams.push(...params);
        return;
      }
    }
  }

  addOrderBy(clauses: readonly string[]): void {
    const seen = new Set<string>();
    let startTimeOrdered = false;
    for (const text of clauses) {
      const { entity: entityName, key, ascending } = parseOrderBy(text);
      const entity = entityOf(entityName);
      const direction = ascending ? 'ASC' : 'DESC';
      const identity = `${entity}:${key}`;
      if (seen.has(identity)) throw invalidParameter(`\`order_by\` contains duplicate fields: [${clauses.join(', ')}]`);
      seen.add(identity);
      switch (entity) {
        case 'attribute': {
          if (!ORDER_BY_ATTRIBUTES.includes(key)) {
            throw invalidParameter(
              `Invalid attribute key '${key}' specified. Valid keys are '${pySet(ORDER_BY_ATTRIBUTES)}'`,
            );
          }
          const column = ATTRIBUTE_COLUMNS[key]!;
          if (column === 'r.start_time') startTimeOrdered = true;
          this.order.push(`(${column} IS NULL)`, `${column} ${direction}`);
          break;
        }
        case 'metric': {
          // A filter on the same metric already joined it (every row has it): order by that join.
          let a = this.filtered.get(`metric:${key}`);
          if (a === undefined) {
            a = this.alias('om');
            this.joins.push(`LEFT JOIN latest_metrics ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ?`);
            this.joinParams.push(key);
          }
          this.order.push(
            `(CASE WHEN ${a}.run_uuid IS NULL THEN 2 WHEN ${a}.is_nan = 1 THEN 1 ELSE 0 END)`,
            `${a}.value ${direction}`,
          );
          break;
        }
        case 'parameter':
        case 'tag': {
          let a = this.filtered.get(`${entity}:${key}`);
          if (a === undefined) {
            a = this.alias('o');
            const table = entity === 'tag' ? 'tags' : 'params';
            this.joins.push(`LEFT JOIN ${table} ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ?`);
            this.joinParams.push(key);
          }
          this.order.push(`(${a}.run_uuid IS NULL)`, `${a}.value ${direction}`);
          break;
        }
        case 'dataset':
          throw invalidParameter(`Invalid identifier type 'dataset'`);
      }
    }
    if (!startTimeOrdered) this.order.push('r.start_time DESC');
    this.order.push('r.run_uuid ASC');
  }
}

/** Runs of the given experiments that match the filter, ordered, one page at a time. */
export function searchRuns(
  db: Database.Database,
  runs: RunStore,
  options: SearchRunsOptions,
): { runs: RunJson[]; nextPageToken?: string } {
  const maxResults = options.maxResults ?? SEARCH_RUNS_MAX_RESULTS_DEFAULT;
  checkMaxResults(maxResults, SEARCH_MAX_RESULTS_THRESHOLD);
  const query = new RunQuery();
  for (const clause of parseFilter(options.filter)) query.addFilter(clause);
  query.addOrderBy(options.orderBy ?? []);
  const offset = parsePageToken(options.pageToken);
  const experimentIds = options.experimentIds.flatMap((id) => experimentIdNumber(id) ?? []);
  if (experimentIds.length === 0) return { runs: [] };
  const stages = stagesOf(options.runViewType ?? 'ACTIVE_ONLY');
  const sql =
    `SELECT r.run_uuid FROM runs r ${query.joins.join(' ')} ` +
    'WHERE r.experiment_id IN (SELECT value FROM json_each(?)) ' +
    `AND r.lifecycle_stage IN (${stages.map(() => '?').join(', ')}) ` +
    query.where.map((w) => `AND ${w} `).join('') +
    `ORDER BY ${query.order.join(', ')} LIMIT ? OFFSET ?`;
  const ids = (
    db
      .prepare(sql)
      .all(
        ...query.joinParams,
        JSON.stringify(experimentIds),
        ...stages,
        ...query.whereParams,
        maxResults + 1,
        offset,
      ) as { run_uuid: string }[]
  ).map((row) => row.run_uuid);
  const page = runs.load(ids.slice(0, maxResults));
  return ids.length > maxResults ? { runs: page, nextPageToken: pageToken(offset + maxResults) } : { runs: page };
}
