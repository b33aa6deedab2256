/**
 * The syntax of MLflow's search filters (`mlflow/utils/search_utils.py`, which parses them with sqlparse): clauses
 * `<identifier> <comparator> <value>` joined by `AND`. Identifiers are `entity.key` (the key may be quoted with
 * backticks or double quotes) or a bare attribute name; values are single- or double-quoted strings, numbers, or a
 * parenthesised list of single-quoted strings. This module only reads the syntax; what each search accepts (which
 * entities, keys, comparators and value types) is checked by the search that uses it.
 */
import { invalidParameter } from '../errors';

/** A clause's value as written. */
export type FilterValue =
  | { kind: 'string'; value: string; quote: "'" | '"' | undefined; text: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'list'; values: string[]; text: string };

/** One `<identifier> <comparator> <value>` clause, before a search gives it meaning. */
export interface FilterClause {
  /** The identifier as written (`metrics.rmse`, ``tags.`mlflow.runName` ``, `run_name`). */
  identifier: string;
  /** Upper-cased comparator: `=`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE`, `ILIKE`, `IN`, `NOT IN` (or another operator). */
  comparator: string;
  value: FilterValue;
}

type Token =
  | { kind: 'ident'; text: string }
  | { kind: 'keyword'; text: string; upper: string }
  | { kind: 'string'; text: string; value: string }
  | { kind: 'number'; text: string; value: number }
  | { kind: 'op'; text: string }
  | { kind: 'list'; text: string; items: Token[] }
  | { kind: 'other'; text: string };

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE', 'IS', 'NULL', 'BETWEEN']);
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])/;
const WORD = /^[\p{L}\p{N}_$]+/u;

/** Reads the quoted run starting at `at` (which holds the quote); undefined when it never closes. */
function readQuoted(text: string, at: number): string | undefined {
  const quote = text[at]!;
  let i = at + 1;
  while (i < text.length) {
    if (text[i] === quote) {
      // SQL doubles a quote to escape it inside single-quoted strings; sqlparse keeps it verbatim, as we do.
      if (quote === "'" && text[i + 1] === "'") {
        i += 2;
        continue;
      }
      return text.slice(at, i + 1);
    }
    if (text[i] === '\\' && quote === "'") i++;
    i++;
  }
  return undefined;
}

function tokenize(text: string, from = 0, until = text.length): Token[] {
  const tokens: Token[] = [];
  let i = from;
  while (i < until) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const rest = text.slice(i, until);
    if (ch === "'") {
      const quoted = readQuoted(text, i);
      if (quoted === undefined || i + quoted.length > until) throw unparsable(text, rest);
      tokens.push({ kind: 'string', text: quoted, value: quoted.slice(1, -1) });
      i += quoted.length;
      continue;
    }
    const number = NUMBER.exec(rest);
    if (number !== null && (ch !== '-' || tokens.length > 0)) {
      tokens.push({ kind: 'number', text: number[0], value: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    if (ch === '`' || ch === '"' || WORD.test(rest)) {
      // An identifier: segments (words or quoted runs) joined by dots, with nothing in between.
      let j = i;
      for (;;) {
        const c = text[j];
        if (c === '`' || c === '"') {
          const quoted = readQuoted(text, j);
          if (quoted === undefined || j + quoted.length > until) throw unparsable(text, text.slice(j, until));
          j += quoted.length;
        } else {
          const word = WORD.exec(text.slice(j, until));
          if (word === null) break;
          j += word[0].length;
        }
        if (text[j] === '.' && j + 1 < until) j++;
        else break;
      }
      const word = text.slice(i, j);
      const upper = word.toUpperCase();
      tokens.push(KEYWORDS.has(upper) ? { kind: 'keyword', text: word, upper } : { kind: 'ident', text: word });
      i = j;
      continue;
    }
    const op = /^(?:!=|<>|<=|>=|==|=|<|>)/.exec(rest);
    if (op !== null) {
      tokens.push({ kind: 'op', text: op[0] });
      i += op[0].length;
      continue;
    }
    if (ch === '(') {
      const close = closingParenthesis(text, i, until);
      if (close === undefined) throw unparsable(text, rest);
      tokens.push({ kind: 'list', text: text.slice(i, close + 1), items: tokenize(text, i + 1, close) });
      i = close + 1;
      continue;
    }
    tokens.push({ kind: 'other', text: ch });
    i++;
  }
  return tokens;
}

function closingParenthesis(text: string, open: number, until: number): number | undefined {
  let depth = 0;
  for (let i = open; i < until; i++) {
    const ch = text[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      const quoted = readQuoted(text, i);
      if (quoted === undefined) return undefined;
      i += quoted.length - 1;
    } else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i;
  }
  return undefined;
}

function unparsable(filter: string, part: string): Error {
  return invalidParameter(`Invalid filter '${filter}'. Could not be parsed near '${part.trim()}'.`);
}

function invalidClauses(tokens: readonly Token[]): Error {
  return invalidParameter(`Invalid clause(s) in filter string: ${tokens.map((t) => `'${t.text}'`).join(', ')}`);
}

function listValue(token: Extract<Token, { kind: 'list' }>): FilterValue {
  if (token.items.length === 0) {
    throw invalidParameter(
      'While parsing a list in the query, expected a non-empty list of string values, but got empty list',
    );
  }
  const values: string[] = [];
  token.items.forEach((item, index) => {
    const expectComma = index % 2 === 1;
    if (expectComma ? item.kind === 'other' && item.text === ',' : item.kind === 'string') {
      if (item.kind === 'string') values.push(item.value);
      return;
    }
    throw invalidParameter(
      'While parsing a list in the query, expected string value, punctuation, or whitespace, but got different ' +
        `type in list: ${token.text}`,
    );
  });
  if (token.items.length % 2 === 0) {
    throw invalidParameter(
      'While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.',
    );
  }
  return { kind: 'list', values, text: token.text };
}

function clauseValue(token: Token): FilterValue | undefined {
  switch (token.kind) {
    case 'string':
      return { kind: 'string', value: token.value, quote: "'", text: token.text };
    case 'number':
      return { kind: 'number', value: token.value, text: token.text };
    case 'ident': {
      const quoted = token.text.length >= 2 && token.text.startsWith('"') && token.text.endsWith('"');
      return quoted
        ? { kind: 'string', value: token.text.slice(1, -1), quote: '"', text: token.text }
        : { kind: 'string', value: token.text, quote: undefined, text: token.text };
    }
    case 'list':
      return listValue(token);
    case 'keyword':
    case 'op':
    case 'other':
      return undefined;
  }
}

/** Parses a filter into its AND-ed clauses; an empty or blank filter has none. */
export function parseFilter(filter: string | undefined): FilterClause[] {
  if (filter === undefined || filter.trim() === '') return [];
  const tokens = tokenize(filter);
  const clauses: FilterClause[] = [];
  let i = 0;
  while (i < tokens.length) {
    if (clauses.length > 0) {
      const and = tokens[i]!;
      if (and.kind !== 'keyword' || and.upper !== 'AND') throw invalidClauses(tokens.slice(i));
      i++;
    }
    const identifier = tokens[i];
    if (identifier?.kind !== 'ident') throw invalidClauses(tokens.slice(i, i + 3));
    let comparator: string | undefined;
    const next = tokens[i + 1];
    let valueAt = i + 2;
    if (next?.kind === 'op') comparator = next.text;
    else if (next?.kind === 'keyword' && ['LIKE', 'ILIKE', 'IN'].includes(next.upper)) comparator = next.upper;
    else if (next?.kind === 'keyword' && next.upper === 'NOT' && tokens[i + 2]?.kind === 'keyword') {
      const inToken = tokens[i + 2] as Extract<Token, { kind: 'keyword' }>;
      if (inToken.upper === 'IN') {
        comparator = 'NOT IN';
        valueAt = i + 3;
      }
    }
    const valueToken = tokens[valueAt];
    const value = valueToken === undefined ? undefined : clauseValue(valueToken);
    if (comparator === undefined || value === undefined) throw invalidClauses(tokens.slice(i, valueAt + 1));
    if ((comparator === 'IN' || comparator === 'NOT IN') !== (value.kind === 'list')) {
      throw invalidParameter(
        comparator === 'IN' || comparator === 'NOT IN'
          ? `Invalid clause(s) in filter string: '${identifier.text} ${comparator} ${value.text}': ${comparator} ` +
              "takes a parenthesised list of quoted strings, e.g. ('a', 'b')"
          : `Invalid clause(s) in filter string: '${identifier.text} ${comparator} ${value.text}': a list is only ` +
              'compared with IN or NOT IN',
      );
    }
    clauses.push({ identifier: identifier.text, comparator, value });
    i = valueAt + 1;
  }
  return clauses;
}

/** Removes one pair of surrounding `'` or `"` (MLflow's `_strip_quotes`). */
export function stripQuotes(text: string): string {
  if (text.length >= 2 && (text[0] === "'" || text[0] === '"') && text[text.length - 1] === text[0]) {
    return text.slice(1, -1);
  }
  return text;
}

/** Removes one pair of surrounding backticks (MLflow's `_trim_backticks`). */
export function trimBackticks(text: string): string {
  return text.length >= 2 && text.startsWith('`') && text.endsWith('`') ? text.slice(1, -1) : text;
}

/** Splits `entity.key` at its first dot; a bare name is an attribute. Keys lose their quotes. */
export function splitIdentifier(identifier: string): { entity: string | undefined; key: string } {
  const dot = identifier.indexOf('.');
  if (dot < 0) return { entity: undefined, key: trimBackticks(stripQuotes(identifier)) };
  return {
    entity: trimBackticks(identifier.slice(0, dot)),
    key: trimBackticks(stripQuotes(identifier.slice(dot + 1))),
  };
}

/** A Python set of strings as MLflow's messages print it. */
export function pySet(values: Iterable<string>): string {
  return `{${[...values].map((v) => `'${v}'`).join(', ')}}`;
}
