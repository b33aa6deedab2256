/**
 * Translates a parsed visibility query into a SQLite WHERE clause over the `visibility` table, with every value a
 * bound parameter (names reach the SQL only after they matched a registered attribute, whose names are restricted
 * to a safe alphabet). Semantics follow Temporal's SQL visibility (the store behind `temporal server start-dev`):
 * SQL three-valued logic for scalar attributes (`X != 'a'` does not match executions without X), membership for
 * keyword lists, any-token matching for Text, ExecutionStatus by name, datetimes as RFC 3339 or Unix nanoseconds,
 * and an open execution's CloseTime compared as the end of time.
 */
import { WorkflowExecutionStatus } from '../proto';
import {
  INVALID_EXPRESSION,
  NOT_SUPPORTED,
  QueryError,
  type ColumnRef,
  type ComparisonOp,
  type Expr,
  type Literal,
  type ParsedQuery,
} from './query-parser';
import {
  CUSTOM_NAME,
  SA_TYPE_NAMES,
  SYSTEM_ATTRIBUTES,
  SaType,
  parseRfc3339Micros,
  type SearchAttributeRegistry,
} from './search-attributes';

/** The close time stored for open executions (Temporal's SQL stores coalesce(close_time, end of time)). */
export const OPEN_CLOSE_TIME = Number.MAX_SAFE_INTEGER;

/** A search attribute resolved against the namespace: its type and the SQL expression that reads it. */
interface Resolved {
  name: string;
  type: SaType;
  sql: string;
  system: boolean;
}

/** A WHERE clause with its parameters, and what the query asked for besides. */
export interface TranslatedQuery {
  where: string;
  params: unknown[];
  /** ORDER BY terms (SQL), empty for the default order. */
  orderBy: string[];
  /** True when the query groups by ExecutionStatus. */
  groupByStatus: boolean;
}

/** `ExecutionStatus` values by the names Temporal accepts ('Running', 'ContinuedAsNew', …, or the enum names). */
const STATUS_BY_NAME = new Map<string, number>();
/** Temporal's short name of each status (Go's `WorkflowExecutionStatus.String()`). */
export const STATUS_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(WorkflowExecutionStatus)) {
  if (typeof value !== 'number') continue;
  const short = name
    .replace(/^WORKFLOW_EXECUTION_STATUS_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());
  STATUS_NAMES.set(value, short);
  STATUS_BY_NAME.set(short.toLowerCase(), value);
  STATUS_BY_NAME.set(name.toLowerCase(), value);
}

const DURATION_UNITS_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Parses an ExecutionDuration value: a Go duration ('1h30m', '2.5s') or 'hh:mm:ss'. Nanoseconds. */
export function parseDurationNs(text: string): number | undefined {
  const clock = /^(\d+):([0-5]\d):([0-5]\d)$/.exec(text);
  if (clock) return (Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3])) * 1e9;
  if (!/^(?:\d*\.?\d+(?:ns|us|µs|μs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d*\.?\d+)(ns|us|µs|μs|ms|s|m|h)/g))
    total += Number(m[1]) * DURATION_UNITS_NS[m[2]!]!;
  return Math.round(total);
}

const literalText = (lit: Literal): string =>
  lit.kind === 'string' ? `'${lit.value}'` : lit.kind === 'number' ? lit.text : String(lit.value);

/** The SQL expression reading a non-system attribute from the row's JSON. */
function jsonPath(name: string): string {
  // Defence in depth: registered names are checked when registered, so this never fires.
  if (!CUSTOM_NAME.test(name)) throw new Error(`search attribute name ${JSON.stringify(name)} is not SQL-safe`);
  return `json_extract(sa, '$."${name}"')`;
}

const OPERATORS: Record<SaType, ReadonlySet<string>> = {
  [SaType.Keyword]: new Set(['=', '!=', '<', '<=', '>', '>=', 'in', 'not in', 'starts_with', 'not starts_with']),
  [SaType.KeywordList]: new Set(['=', '!=', 'in', 'not in']),
  [SaType.Text]: new Set(['=', '!=']),
  [SaType.Int]: new Set(['=', '!=', '<', '<=', '>', '>=', 'in', 'not in']),
  [SaType.Double]: new Set(['=', '!=', '<', '<=', '>', '>=', 'in', 'not in']),
  [SaType.Bool]: new Set(['=', '!=', '<', '<=', '>', '>=', 'in', 'not in']),
  [SaType.Datetime]: new Set(['=', '!=', '<', '<=', '>', '>=', 'in', 'not in']),
};
const RANGE_TYPES = new Set([SaType.Datetime, SaType.Double, SaType.Int, SaType.Keyword]);

/** Splits text into lowercase tokens of letters and digits (SQLite FTS5's default tokenizer, roughly). */
export function textTokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

class Translator {
  readonly params: unknown[] = [];

  constructor(
    private readonly registry: SearchAttributeRegistry,
    private readonly namespace: string,
  ) {}

  private bind(value: unknown): string {
    this.params.push(value);
    return '?';
  }

  resolve(ref: ColumnRef): Resolved {
    let name = ref.name;
    // Temporal lets queries name ScheduleId even when no such attribute exists: it means the workflow id.
    if (name === 'ScheduleId' && this.registry.settableType(this.namespace, name) === undefined) name = 'WorkflowId';
    const system = SYSTEM_ATTRIBUTES[name];
    if (system) return { name, type: system.type, sql: system.column, system: true };
    const type = this.registry.settableType(this.namespace, name);
    if (type === undefined) {
      throw new QueryError(`${INVALID_EXPRESSION}: column name '${ref.name}' is not a valid search attribute`, ref.pos);
    }
    return { name, type, sql: jsonPath(name), system: false };
  }

  private checkOperator(col: Resolved, op: string, pos: number): void {
    const allowed =
      col.name === 'ExecutionStatus' ? !op.includes('starts_with') : OPERATORS[col.type].has(op.toLowerCase());
    if (!allowed) {
      throw new QueryError(
        `${INVALID_EXPRESSION}: operator '${op}' not supported for ${SA_TYPE_NAMES[col.type]} type search attribute '${col.name}'`,
        pos,
      );
    }
  }

  /** Converts a literal to the parameter stored for the attribute's type. */
  value(col: Resolved, lit: Literal): unknown {
    const typeError = (): QueryError =>
      new QueryError(
        `${INVALID_EXPRESSION}: invalid value type for search attribute ${col.name} of type ${SA_TYPE_NAMES[col.type]}: ${literalText(lit)}`,
        lit.pos,
      );
    if (col.name === 'ExecutionStatus') {
      const status =
        lit.kind === 'string'
          ? STATUS_BY_NAME.get(lit.value.toLowerCase())
          : lit.kind === 'number' && STATUS_NAMES.has(Number(lit.text))
            ? Number(lit.text)
            : undefined;
      if (status === undefined) {
        throw new QueryError(`${INVALID_EXPRESSION}: invalid ExecutionStatus value ${literalText(lit)}`, lit.pos);
      }
      return status;
    }
    if (col.name === 'ExecutionDuration' && lit.kind === 'string') {
      const ns = parseDurationNs(lit.value);
      if (ns === undefined) {
        throw new QueryError(
          `${INVALID_EXPRESSION}: invalid duration value for search attribute ExecutionDuration: ${literalText(lit)}`,
          lit.pos,
        );
      }
      return ns;
    }
    switch (col.type) {
      case SaType.Keyword:
      case SaType.KeywordList:
        if (lit.kind !== 'string') throw typeError();
        return lit.value;
      case SaType.Text:
        if (lit.kind !== 'string') throw typeError();
        if (textTokens(lit.value).length === 0) {
          throw new QueryError(
            `${INVALID_EXPRESSION}: no tokens found filtering on Text type search attribute ${col.name}`,
            lit.pos,
          );
        }
        return lit.value;
      case SaType.Int:
      case SaType.Double:
        if (lit.kind !== 'number') throw typeError();
        return numberParam(lit.text);
      case SaType.Bool:
        if (lit.kind !== 'bool') throw typeError();
        return lit.value ? 1 : 0;
      case SaType.Datetime: {
        if (lit.kind === 'number' && /^-?\d+$/.test(lit.text)) return Number(BigInt(lit.text) / 1000n);
        if (lit.kind !== 'string') throw typeError();
        const micros = parseRfc3339Micros(lit.value);
        if (micros === undefined) {
          throw new QueryError(`${INVALID_EXPRESSION}: unable to parse datetime '${lit.value}'`, lit.pos);
        }
        return micros;
      }
    }
  }

  /** A keyword-list membership test through the side table (Temporal's SQLite uses a full-text index). */
  private keywordListMembership(col: Resolved, values: unknown[], negated: boolean): string {
    // Parameters are bound in the order their placeholders appear.
    const ns = this.bind(this.namespace);
    const name = this.bind(col.name);
    const placeholders = values.map((v) => this.bind(v)).join(', ');
    return (
      `run_id ${negated ? 'NOT IN' : 'IN'} (SELECT run_id FROM visibility_keyword_list ` +
      `WHERE namespace = ${ns} AND name = ${name} AND value IN (${placeholders}))`
    );
  }

  expr(e: Expr): string {
    switch (e.kind) {
      case 'and':
      case 'or':
        return `(${this.expr(e.left)} ${e.kind.toUpperCase()} ${this.expr(e.right)})`;
      case 'not':
        return `NOT (${this.expr(e.expr)})`;
      case 'compare':
        return this.compare(e.column, e.op, e.value);
      case 'in': {
        const col = this.resolve(e.column);
        this.checkOperator(col, e.negated ? 'not in' : 'in', e.column.pos);
        const values = e.values.map((v) => this.value(col, v));
        if (col.type === SaType.KeywordList) return this.keywordListMembership(col, values, e.negated);
        return `${col.sql} ${e.negated ? 'NOT IN' : 'IN'} (${values.map((v) => this.bind(v)).join(', ')})`;
      }
      case 'between': {
        const col = this.resolve(e.column);
        if (!RANGE_TYPES.has(col.type)) {
          throw new QueryError(
            `${INVALID_EXPRESSION}: cannot do range condition on search attribute '${col.name}' of type ${SA_TYPE_NAMES[col.type]}`,
            e.column.pos,
          );
        }
        const from = this.bind(this.value(col, e.from));
        const to = this.bind(this.value(col, e.to));
        return `${col.sql} ${e.negated ? 'NOT BETWEEN' : 'BETWEEN'} ${from} AND ${to}`;
      }
      case 'isNull': {
        const col = this.resolve(e.column);
        if (col.name === 'CloseTime') return `close_time ${e.negated ? '!=' : '='} ${this.bind(OPEN_CLOSE_TIME)}`;
        return `${col.sql} IS ${e.negated ? 'NOT NULL' : 'NULL'}`;
      }
      case 'startsWith': {
        const col = this.resolve(e.column);
        this.checkOperator(col, e.negated ? 'not starts_with' : 'starts_with', e.column.pos);
        const prefix = this.value(col, e.value) as string;
        const length = [...prefix].length;
        // substr() keeps the match case-sensitive (SQLite's LIKE is not); the >= bound lets an index narrow the scan.
        if (e.negated) return `substr(${col.sql}, 1, ${this.bind(length)}) != ${this.bind(prefix)}`;
        return `(${col.sql} >= ${this.bind(prefix)} AND substr(${col.sql}, 1, ${this.bind(length)}) = ${this.bind(prefix)})`;
      }
    }
  }

  private compare(ref: ColumnRef, op: ComparisonOp, lit: Literal): string {
    const col = this.resolve(ref);
    this.checkOperator(col, op, ref.pos);
    const value = this.value(col, lit);
    if (col.type === SaType.KeywordList) return this.keywordListMembership(col, [value], op === '!=');
    if (col.type === SaType.Text) {
      return `mloe_text_match(${col.sql}, ${this.bind(value)}) = ${op === '=' ? 1 : 0}`;
    }
    return `${col.sql} ${op} ${this.bind(value)}`;
  }
}

/** Integer literals beyond 2^53 stay exact as BigInt (better-sqlite3 binds them as 64-bit integers). */
function numberParam(text: string): number | bigint {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  return Number(text);
}

/**
 * Translates a parsed query for one namespace. `purpose` says whether GROUP BY is allowed (count) or not (list).
 * Throws {@link QueryError} with Temporal's wording for unknown attributes, bad values and unsupported clauses.
 */
export function translateQuery(
  parsed: ParsedQuery,
  registry: SearchAttributeRegistry,
  namespace: string,
  purpose: 'list' | 'count',
): TranslatedQuery {
  const t = new Translator(registry, namespace);
  const where = parsed.where ? t.expr(parsed.where) : '';
  let groupByStatus = false;
  if (parsed.groupBy.length > 0) {
    const first = parsed.groupBy[0]!;
    if (purpose === 'list') throw new QueryError(`${NOT_SUPPORTED}: 'group by' clause`, first.pos);
    if (parsed.groupBy.length > 1) {
      throw new QueryError(`${NOT_SUPPORTED}: 'group by' clause supports only a single field`, parsed.groupBy[1]!.pos);
    }
    if (t.resolve(first).name !== 'ExecutionStatus') {
      throw new QueryError(
        `${NOT_SUPPORTED}: 'group by' clause is only supported for ExecutionStatus search attribute`,
        first.pos,
      );
    }
    groupByStatus = true;
  }
  const orderBy = parsed.orderBy.map((term) => {
    const col = t.resolve(term.column);
    if (col.type === SaType.Text || col.type === SaType.KeywordList) {
      throw new QueryError(
        `${NOT_SUPPORTED}: unable to sort by search attribute type ${SA_TYPE_NAMES[col.type]}`,
        term.column.pos,
      );
    }
    return `${col.sql} ${term.descending ? 'DESC' : 'ASC'}`;
  });
  return { where, params: t.params, orderBy, groupByStatus };
}
