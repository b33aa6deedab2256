/**
 * Parser for Temporal's visibility query language: the WHERE clause of a SQL SELECT over search attributes, with an
 * optional GROUP BY and ORDER BY (`WorkflowType = 'train' AND StartTime > '2025-01-01T00:00:00Z' ORDER BY CloseTime`).
 * It produces a small AST; `query-sql.ts` checks names and types against the namespace and translates it to SQLite.
 * Errors carry the 1-based column of the offending token.
 */

/** A query the dev server cannot accept; `message` follows Temporal's wording, `column` is 1-based. */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly column?: number,
  ) {
    super(column === undefined ? message : `${message} (at column ${column})`);
    this.name = 'QueryError';
  }
}

/** Temporal's error categories (`common/persistence/visibility/store/query/errors.go`). */
export const MALFORMED = 'malformed SQL query';
export const NOT_SUPPORTED = 'operation is not supported';
export const INVALID_EXPRESSION = 'invalid expression';

/** A literal value. Numbers keep their text so integers beyond 2^53 survive. */
export type Literal =
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; text: string; pos: number }
  | { kind: 'bool'; value: boolean; pos: number };

/** A search attribute named in the query. */
export interface ColumnRef {
  name: string;
  pos: number;
}

export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** A boolean expression of the WHERE clause. */
export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'compare'; column: ColumnRef; op: ComparisonOp; value: Literal }
  | { kind: 'in'; column: ColumnRef; negated: boolean; values: Literal[] }
  | { kind: 'between'; column: ColumnRef; negated: boolean; from: Literal; to: Literal }
  | { kind: 'isNull'; column: ColumnRef; negated: boolean }
  | { kind: 'startsWith'; column: ColumnRef; negated: boolean; value: Literal };

/** One ORDER BY term. */
export interface OrderTerm {
  column: ColumnRef;
  descending: boolean;
}

/** A parsed query. */
export interface ParsedQuery {
  where?: Expr | undefined;
  groupBy: ColumnRef[];
  orderBy: OrderTerm[];
}

type TokenKind = 'ident' | 'quotedIdent' | 'string' | 'number' | 'op' | 'punct' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  /** 1-based column where the token starts. */
  pos: number;
}

const KEYWORDS = new Set([
  'AND',
  'OR',
  'NOT',
  'IN',
  'BETWEEN',
  'IS',
  'NULL',
  'TRUE',
  'FALSE',
  'ORDER',
  'GROUP',
  'BY',
  'ASC',
  'DESC',
  'LIMIT',
  'LIKE',
  'STARTS_WITH',
  'SELECT',
  'FROM',
  'WHERE',
  'HAVING',
]);

const ESCAPES: Record<string, string> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

function syntaxError(token: Token, expected?: string): QueryError {
  const near = token.kind === 'end' ? 'end of query' : `'${token.text}'`;
  return new QueryError(
    `${MALFORMED}: syntax error at column ${token.pos} near ${near}${expected ? `: expected ${expected}` : ''}`,
  );
}

/** Splits a query into tokens. */
function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = query.length;
  while (i < n) {
    const c = query[i]!;
    const pos = i + 1;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_.$]/.test(query[j]!)) j++;
      tokens.push({ kind: 'ident', text: query.slice(i, j), pos });
      i = j;
      continue;
    }
    if (c === '`') {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new QueryError(`${MALFORMED}: unterminated quoted name starting at column ${pos}`);
        if (query[j] === '`') {
          if (query[j + 1] === '`') {
            text += '`';
            j += 2;
            continue;
          }
          break;
        }
        text += query[j];
        j++;
      }
      tokens.push({ kind: 'quotedIdent', text, pos });
      i = j + 1;
      continue;
    }
    if (c === "'" || c === '"') {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new QueryError(`${MALFORMED}: unterminated string starting at column ${pos}`);
        const d = query[j]!;
        if (d === '\\' && j + 1 < n) {
          const e = query[j + 1]!;
          text += ESCAPES[e] ?? e;
          j += 2;
          continue;
        }
        if (d === c) {
          if (query[j + 1] === c) {
            text += c;
            j += 2;
            continue;
          }
          break;
        }
        text += d;
        j++;
      }
      tokens.push({ kind: 'string', text, pos });
      i = j + 1;
      continue;
    }
    const number = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(query.slice(i));
    if (number) {
      tokens.push({ kind: 'number', text: number[0], pos });
      i += number[0].length;
      continue;
    }
    const op = /^(?:<=>|<>|!=|<=|>=|=|<|>)/.exec(query.slice(i));
    if (op) {
      tokens.push({ kind: 'op', text: op[0], pos });
      i += op[0].length;
      continue;
    }
    if ('(),-+'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, pos });
      i++;
      continue;
    }
    // A whole code point, so the message never carries half of a surrogate pair (grpc-js cannot send that).
    throw syntaxError({ kind: 'punct', text: String.fromCodePoint(query.codePointAt(i)!), pos });
  }
  tokens.push({ kind: 'end', text: '', pos: n + 1 });
  return tokens;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.i++;
    return t;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.text.toUpperCase() === word;
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.i++;
    return true;
  }

  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) throw syntaxError(this.peek(), word);
  }

  private acceptPunct(p: string): boolean {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === p) {
      this.i++;
      return true;
    }
    return false;
  }

  private expectPunct(p: string): void {
    if (!this.acceptPunct(p)) throw syntaxError(this.peek(), `'${p}'`);
  }

  parse(): ParsedQuery {
    const result: ParsedQuery = { groupBy: [], orderBy: [] };
    if (this.peek().kind === 'end') return result;
    if (!this.isKeyword('ORDER') && !this.isKeyword('GROUP')) result.where = this.parseOr();
    if (this.acceptKeyword('GROUP')) {
      this.expectKeyword('BY');
      do result.groupBy.push(this.parseColumn());
      while (this.acceptPunct(','));
    }
    if (this.acceptKeyword('ORDER')) {
      this.expectKeyword('BY');
      do {
        const column = this.parseColumn();
        let descending = false;
        if (this.acceptKeyword('DESC')) descending = true;
        else this.acceptKeyword('ASC');
        result.orderBy.push({ column, descending });
      } while (this.acceptPunct(','));
    }
    if (this.isKeyword('LIMIT')) throw new QueryError(`${NOT_SUPPORTED}: 'limit' clause`, this.peek().pos);
    if (this.isKeyword('GROUP') || this.isKeyword('ORDER')) {
      throw syntaxError(this.peek(), 'GROUP BY before ORDER BY, each at most once');
    }
    if (this.peek().kind !== 'end') throw syntaxError(this.peek(), 'AND, OR, GROUP BY, ORDER BY or end of query');
    return result;
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.acceptKeyword('OR')) left = { kind: 'or', left, right: this.parseAnd() };
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.acceptKeyword('AND')) left = { kind: 'and', left, right: this.parseNot() };
    return left;
  }

  private parseNot(): Expr {
    if (this.acceptKeyword('NOT')) return { kind: 'not', expr: this.parseNot() };
    if (this.acceptPunct('(')) {
      const inner = this.parseOr();
      this.expectPunct(')');
      return inner;
    }
    return this.parsePredicate();
  }

  private parseColumn(): ColumnRef {
    const t = this.peek();
    if (t.kind === 'quotedIdent') {
      this.i++;
      return { name: t.text, pos: t.pos };
    }
    if (t.kind === 'ident' && !KEYWORDS.has(t.text.toUpperCase())) {
      this.i++;
      return { name: t.text, pos: t.pos };
    }
    if (t.kind === 'string' || t.kind === 'number' || this.isKeyword('TRUE') || this.isKeyword('FALSE')) {
      throw new QueryError(
        `${INVALID_EXPRESSION}: the left side of a comparison must be a search attribute name, not the value ${tokenText(t)}`,
        t.pos,
      );
    }
    throw syntaxError(t, 'a search attribute name');
  }

  private parsePredicate(): Expr {
    const column = this.parseColumn();
    const t = this.peek();
    if (t.kind === 'op') {
      this.i++;
      if (t.text === '<=>') throw new QueryError(`${INVALID_EXPRESSION}: operator '<=>' is not supported`, t.pos);
      const op = (t.text === '<>' ? '!=' : t.text) as ComparisonOp;
      return { kind: 'compare', column, op, value: this.parseValue() };
    }
    if (this.acceptKeyword('IS')) {
      const negated = this.acceptKeyword('NOT');
      if (!this.acceptKeyword('NULL')) {
        throw new QueryError(
          `${INVALID_EXPRESSION}: 'IS' operator can only be used as 'IS NULL' or 'IS NOT NULL'`,
          this.peek().pos,
        );
      }
      return { kind: 'isNull', column, negated };
    }
    let negated = false;
    if (this.isKeyword('NOT')) {
      const after = this.peek(1);
      if (after.kind === 'ident' && ['IN', 'BETWEEN', 'STARTS_WITH', 'LIKE'].includes(after.text.toUpperCase())) {
        this.i++;
        negated = true;
      }
    }
    if (this.acceptKeyword('IN')) {
      this.expectPunct('(');
      const values: Literal[] = [];
      do values.push(this.parseValue());
      while (this.acceptPunct(','));
      this.expectPunct(')');
      return { kind: 'in', column, negated, values };
    }
    if (this.acceptKeyword('BETWEEN')) {
      const from = this.parseValue();
      this.expectKeyword('AND');
      return { kind: 'between', column, negated, from, to: this.parseValue() };
    }
    if (this.acceptKeyword('STARTS_WITH')) return { kind: 'startsWith', column, negated, value: this.parseValue() };
    if (this.isKeyword('LIKE')) {
      throw new QueryError(
        `${NOT_SUPPORTED}: operator '${negated ? 'not like' : 'like'}' (use STARTS_WITH for prefix matching)`,
        this.peek().pos,
      );
    }
    if (t.kind === 'end' || this.isKeyword('AND') || this.isKeyword('OR') || (t.kind === 'punct' && t.text === ')')) {
      throw new QueryError(`${INVALID_EXPRESSION}: incomplete expression after '${column.name}'`, column.pos);
    }
    throw syntaxError(t, 'an operator (=, !=, <, <=, >, >=, IN, BETWEEN, STARTS_WITH, IS)');
  }

  private parseValue(): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.text, pos: t.pos };
      case 'number':
        return { kind: 'number', text: t.text, pos: t.pos };
      case 'punct':
        if (t.text === '-' || t.text === '+') {
          const n = this.next();
          if (n.kind !== 'number') {
            throw new QueryError(
              `${INVALID_EXPRESSION}: unary operator '${t.text}' must be followed by a number`,
              t.pos,
            );
          }
          return { kind: 'number', text: t.text === '-' ? `-${n.text}` : n.text, pos: t.pos };
        }
        break;
      case 'ident': {
        const upper = t.text.toUpperCase();
        if (upper === 'TRUE' || upper === 'FALSE') return { kind: 'bool', value: upper === 'TRUE', pos: t.pos };
        if (upper === 'NULL') {
          throw new QueryError(`${INVALID_EXPRESSION}: compare with NULL using 'IS NULL' or 'IS NOT NULL'`, t.pos);
        }
        if (!KEYWORDS.has(upper)) {
          throw new QueryError(
            `${NOT_SUPPORTED}: column name on the right side of comparison expression (did you forget to quote '${t.text}'?)`,
            t.pos,
          );
        }
        break;
      }
      case 'quotedIdent':
        throw new QueryError(
          `${NOT_SUPPORTED}: column name on the right side of comparison expression (did you forget to quote '${t.text}'?)`,
          t.pos,
        );
      default:
        break;
    }
    throw syntaxError(t, 'a value');
  }
}

const tokenText = (t: Token): string => (t.kind === 'string' ? `'${t.text}'` : t.text);

/** Parses a visibility query (an empty or blank query matches everything). */
export function parseQuery(query: string): ParsedQuery {
  return new Parser(tokenize(query)).parse();
}

/** Every search attribute a WHERE clause names, in query order (callers that allow only some attributes check them). */
export function columnsOf(expr: Expr | undefined): ColumnRef[] {
  if (!expr) return [];
  switch (expr.kind) {
    case 'and':
    case 'or':
      return [...columnsOf(expr.left), ...columnsOf(expr.right)];
    case 'not':
      return columnsOf(expr.expr);
    default:
      return [expr.column];
  }
}
