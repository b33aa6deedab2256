/**
 * A small renderer for the mloe-worker chart's templates (infra/helm/mloe-worker), for tests: no helm binary exists
 * on this machine or in CI. It implements the subset of Go's text/template and of Helm's functions the chart uses,
 * with their semantics, and refuses anything else loudly (an unknown function or action is an error, never silence):
 *
 * - actions: `{{ pipeline }}`, `if` / `else if` / `else` / `end`, `range $x := …`, `define` (in `_helpers.tpl`),
 *   variables (`$x := …`, `$x = …`, `$`), comments, and the `{{-` / `-}}` whitespace trimming;
 * - pipelines: fields (`.Values.a.b`, `$x.a`), string and number literals, `true`/`false`, parentheses, `|`;
 * - functions: include, toYaml, nindent, indent, quote, default, trunc, trimSuffix, printf, replace, contains, merge
 *   (mergo's: only empty fields of the destination are filled), deepCopy, add, join, not, and, or, eq, ne, fail.
 *
 * Values are those of `values.yaml` merged with overrides (as `helm template -f`); numbers print as Go prints Helm's
 * float64 values (whole numbers without a decimal point).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { parseAllDocuments, parse as parseYaml, stringify as stringifyYaml } from 'yaml';

type Value = unknown;

/** A node of a parsed template. */
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; expr: Expr; assign?: { name: string; declare: boolean } }
  | { kind: 'if'; branches: { cond: Expr; body: Node[] }[]; otherwise: Node[] }
  | { kind: 'range'; variable?: string; expr: Expr; body: Node[] };

type Expr =
  | { kind: 'pipeline'; commands: Expr[][] }
  /** `base` is `dot` for `.a.b`, or a variable's name (`$`, `$x`). */
  | { kind: 'field'; base: string; path: string[] }
  | { kind: 'literal'; value: Value }
  | { kind: 'ident'; name: string };

/** A token of an action. */
interface Token {
  type: 'string' | 'number' | 'ident' | 'field' | 'var' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign';
  text: string;
}

/** Raised for a template this renderer cannot render, or that `fail`s. */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

function tokenize(source: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const rest = source.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const patterns: [Token['type'], RegExp][] = [
      ['string', /^"(?:[^"\\]|\\.)*"/],
      ['string', /^`[^`]*`/],
      ['number', /^-?\d+(?:\.\d+)?/],
      ['declare', /^:=/],
      ['assign', /^=/],
      ['pipe', /^\|/],
      ['lparen', /^\(/],
      ['rparen', /^\)/],
      ['var', /^\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*/],
      ['field', /^(?:\.[A-Za-z0-9_]+)+|^\./],
      ['ident', /^[A-Za-z_][A-Za-z0-9_]*/],
    ];
    const match = patterns.map(([type, pattern]) => [type, pattern.exec(rest)] as const).find(([, m]) => m !== null);
    if (match === undefined || match[1] === null)
      throw new TemplateError(`${where}: cannot read ${JSON.stringify(rest)}`);
    tokens.push({ type: match[0], text: match[1][0] });
    i += match[1][0].length;
  }
  return tokens;
}

function parseExpr(tokens: Token[], where: string): Expr {
  let position = 0;
  const pipeline = (): Expr => {
    const commands: Expr[][] = [[]];
    while (position < tokens.length) {
      const token = tokens[position];
      if (token === undefined || token.type === 'rparen') break;
      position += 1;
      const current = commands[commands.length - 1] as Expr[];
      switch (token.type) {
        case 'pipe':
          commands.push([]);
          break;
        case 'lparen': {
          current.push(pipeline());
          if (tokens[position]?.type !== 'rparen') throw new TemplateError(`${where}: missing )`);
          position += 1;
          break;
        }
        case 'string':
          current.push({
            kind: 'literal',
            value: token.text.startsWith('`') ? token.text.slice(1, -1) : (JSON.parse(token.text) as string),
          });
          break;
        case 'number':
          current.push({ kind: 'literal', value: Number(token.text) });
          break;
        case 'field':
          current.push({ kind: 'field', base: 'dot', path: token.text === '.' ? [] : token.text.slice(1).split('.') });
          break;
        case 'var': {
          const [name = '$', ...path] = token.text.split('.');
          current.push({ kind: 'field', base: name, path });
          break;
        }
        case 'ident':
          if (token.text === 'true' || token.text === 'false') {
            current.push({ kind: 'literal', value: token.text === 'true' });
          } else if (token.text === 'nil') current.push({ kind: 'literal', value: undefined });
          else current.push({ kind: 'ident', name: token.text });
          break;
        default:
          throw new TemplateError(`${where}: unexpected ${token.text}`);
      }
    }
    if (commands.some((command) => command.length === 0)) throw new TemplateError(`${where}: empty command`);
    return { kind: 'pipeline', commands };
  };
  const expr = pipeline();
  if (position !== tokens.length) throw new TemplateError(`${where}: unexpected ${tokens[position]?.text ?? ''}`);
  return expr;
}

/** The text and actions of a template, with whitespace trimmed where `{{-` and `-}}` say. */
function lex(source: string): ({ kind: 'text'; text: string } | { kind: 'action'; body: string })[] {
  const parts: ({ kind: 'text'; text: string } | { kind: 'action'; body: string })[] = [];
  let rest = source;
  let trimNext = false;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    let text = open === -1 ? rest : rest.slice(0, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      parts.push({ kind: 'text', text });
      break;
    }
    let body = rest.slice(open + 2);
    const close = body.indexOf('}}');
    if (close === -1) throw new TemplateError('unclosed {{');
    const raw = body.slice(0, close);
    rest = body.slice(close + 2);
    body = raw;
    if (/^-\s/.test(body)) {
      text = text.replace(/\s+$/, '');
      body = body.slice(1);
    }
    trimNext = /\s-$/.test(body);
    if (trimNext) body = body.slice(0, -1);
    parts.push({ kind: 'text', text });
    const trimmed = body.trim();
    if (!(trimmed.startsWith('/*') && trimmed.endsWith('*/'))) parts.push({ kind: 'action', body: trimmed });
  }
  return parts.filter((part) => part.kind === 'action' || part.text !== '');
}

/** Parses a template file into its main body and the templates it defines. */
function parseTemplate(source: string, file: string): { body: Node[]; defines: Map<string, Node[]> } {
  const defines = new Map<string, Node[]>();
  const parts = lex(source);
  let index = 0;
  const block = (inDefine: boolean): { nodes: Node[]; ender: string } => {
    const nodes: Node[] = [];
    while (index < parts.length) {
      const part = parts[index++];
      if (part === undefined) break;
      if (part.kind === 'text') {
        nodes.push({ kind: 'text', text: part.text });
        continue;
      }
      const where = `${file}: {{ ${part.body} }}`;
      const [keyword = ''] = part.body.split(/\s+/, 1);
      const rest = part.body.slice(keyword.length).trim();
      if (keyword === 'end' || keyword === 'else') return { nodes, ender: part.body };
      if (keyword === 'if') {
        const branches = [{ cond: parseExpr(tokenize(rest, where), where), body: [] as Node[] }];
        let otherwise: Node[] = [];
        for (;;) {
          const inner = block(inDefine);
          (branches[branches.length - 1] as { body: Node[] }).body = inner.nodes;
          if (inner.ender === 'end') break;
          if (inner.ender === 'else') {
            const last = block(inDefine);
            if (last.ender !== 'end') throw new TemplateError(`${where}: else without end`);
            otherwise = last.nodes;
            break;
          }
          const elseIf = /^else\s+if\s+(.*)$/.exec(inner.ender);
          if (elseIf === null) throw new TemplateError(`${where}: unsupported ${inner.ender}`);
          branches.push({ cond: parseExpr(tokenize(elseIf[1] ?? '', where), where), body: [] });
        }
        nodes.push({ kind: 'if', branches, otherwise });
      } else if (keyword === 'range') {
        const declared = /^(\$[A-Za-z0-9_]+)\s*:=\s*(.*)$/.exec(rest);
        const expr = parseExpr(tokenize(declared ? (declared[2] ?? '') : rest, where), where);
        const inner = block(inDefine);
        if (inner.ender !== 'end') throw new TemplateError(`${where}: range with else is not supported`);
        nodes.push({ kind: 'range', ...(declared ? { variable: declared[1] ?? '' } : {}), expr, body: inner.nodes });
      } else if (keyword === 'define') {
        const name = JSON.parse(rest) as string;
        const inner = block(true);
        if (inner.ender !== 'end') throw new TemplateError(`${where}: define without end`);
        defines.set(name, inner.nodes);
      } else if (['with', 'template', 'block', 'break', 'continue', 'tpl'].includes(keyword)) {
        throw new TemplateError(`${where}: "${keyword}" is outside this renderer's subset`);
      } else {
        const assignment = /^(\$[A-Za-z0-9_]+)\s*(:=|=)\s*(.*)$/.exec(part.body);
        if (assignment) {
          nodes.push({
            kind: 'action',
            expr: parseExpr(tokenize(assignment[3] ?? '', where), where),
            assign: { name: assignment[1] ?? '', declare: assignment[2] === ':=' },
          });
        } else nodes.push({ kind: 'action', expr: parseExpr(tokenize(part.body, where), where) });
      }
    }
    return { nodes, ender: '' };
  };
  const { nodes, ender } = block(false);
  if (ender !== '') throw new TemplateError(`${file}: unexpected {{ ${ender} }}`);
  return { body: nodes, defines };
}

/** Go template truthiness: false, 0, nil, "" and empty collections are false. */
function truthy(value: Value): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function isMap(value: Value): value is Record<string, Value> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How Go prints a value in a template (`%v`), for the kinds the chart prints. */
function show(value: Value): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateError(`printing a ${Array.isArray(value) ? 'list' : 'map'} (use toYaml)`);
}

/** mergo.Merge as sprig's `merge` uses it: fills the destination's missing or empty fields, recursing into maps. */
function mergeInto(dest: Record<string, Value>, src: Record<string, Value>): Record<string, Value> {
  for (const [key, value] of Object.entries(src)) {
    const current = dest[key];
    if (isMap(current) && isMap(value)) mergeInto(current, value);
    else if (!truthy(current)) dest[key] = structuredClone(value);
  }
  return dest;
}

function printf(format: string, args: Value[]): string {
  let index = 0;
  return format.replace(/%([svdq%])/g, (_all, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[index++];
    if (verb === 'q') return JSON.stringify(show(arg));
    if (verb === 'd') return String(Math.trunc(Number(arg)));
    return show(arg);
  });
}

/** Options of {@link renderChart}. */
export interface RenderOptions {
  /** Values over the chart's `values.yaml` (deep-merged, as `helm template -f`). */
  values?: Record<string, Value>;
  releaseName?: string;
  namespace?: string;
}

/** A rendered manifest: the template it came from and the object. */
export interface RenderedManifest {
  template: string;
  object: Record<string, Value>;
}

/** Deep merge of value overrides, as Helm merges `-f` files over the chart's values (maps merge, the rest replace). */
function overrideValues(base: Value, override: Value): Value {
  if (isMap(base) && isMap(override)) {
    const result: Record<string, Value> = { ...base };
    for (const [key, value] of Object.entries(override)) result[key] = overrideValues(base[key], value);
    return result;
  }
  return override === undefined ? base : override;
}

/** Renders every template of the chart in `chartDir` and parses the YAML documents they produce. */
export function renderChart(chartDir: string, options: RenderOptions = {}): RenderedManifest[] {
  const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, Value>;
  const defaults = parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, Value>;
  const root = {
    Values: overrideValues(defaults, options.values ?? {}),
    Release: { Name: options.releaseName ?? 'mloe', Namespace: options.namespace ?? 'default', Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Capabilities: { KubeVersion: { Version: 'v1.34.0' } },
  };
  const templatesDir = join(chartDir, 'templates');
  const files = readdirSync(templatesDir).sort();
  const defines = new Map<string, Node[]>();
  const bodies: [string, Node[]][] = [];
  for (const file of files) {
    const parsed = parseTemplate(readFileSync(join(templatesDir, file), 'utf8'), file);
    for (const [name, body] of parsed.defines) defines.set(name, body);
    if (!file.startsWith('_') && /\.ya?ml$/.test(file)) bodies.push([file, parsed.body]);
  }

  type Scope = Map<string, Value>[];
  const lookup = (scopes: Scope, name: string): Value => {
    for (let i = scopes.length - 1; i >= 0; i -= 1) if (scopes[i]?.has(name)) return scopes[i]?.get(name);
    throw new TemplateError(`undefined variable ${name}`);
  };

  const call = (name: string, args: Value[], dot: Value): Value => {
    switch (name) {
      case 'include': {
        const body = defines.get(String(args[0]));
        if (body === undefined) throw new TemplateError(`include of an undefined template ${String(args[0])}`);
        return execute(body, args[1], [new Map<string, Value>([['$', args[1]]])]);
      }
      case 'toYaml':
        return truthy(args[0]) || args[0] === false || args[0] === 0
          ? stringifyYaml(args[0], { version: '1.1' }).replace(/\n$/, '')
          : isMap(args[0])
            ? '{}'
            : Array.isArray(args[0])
              ? '[]'
              : 'null';
      case 'nindent':
      case 'indent': {
        const pad = ' '.repeat(Number(args[0]));
        const text = show(args[1])
          .split('\n')
          .map((line) => pad + line)
          .join('\n');
        return name === 'nindent' ? `\n${text}` : text;
      }
      case 'quote':
        return args.map((arg) => JSON.stringify(show(arg))).join(' ');
      case 'default':
        return truthy(args[1]) ? args[1] : args[0];
      case 'trunc':
        return show(args[1]).slice(0, Number(args[0]));
      case 'trimSuffix': {
        const text = show(args[1]);
        const suffix = show(args[0]);
        return suffix !== '' && text.endsWith(suffix) ? text.slice(0, -suffix.length) : text;
      }
      case 'printf':
        return printf(show(args[0]), args.slice(1));
      case 'replace':
        return show(args[2]).split(show(args[0])).join(show(args[1]));
      case 'contains':
        return show(args[1]).includes(show(args[0]));
      case 'merge': {
        const [dest, ...sources] = args;
        if (!isMap(dest)) throw new TemplateError('merge of a non-map');
        for (const source of sources) if (isMap(source)) mergeInto(dest, source);
        return dest;
      }
      case 'deepCopy':
        return structuredClone(args[0]);
      case 'add':
        return args.reduce<number>((sum, arg) => sum + Math.trunc(Number(arg)), 0);
      case 'join':
        return (Array.isArray(args[1]) ? args[1] : []).map(show).join(show(args[0]));
      case 'not':
        return !truthy(args[0]);
      case 'and':
        return args.find((arg) => !truthy(arg)) ?? args[args.length - 1];
      case 'or':
        return args.find((arg) => truthy(arg)) ?? args[args.length - 1];
      case 'eq':
        return args.slice(1).some((arg) => arg === args[0]);
      case 'ne':
        return args[0] !== args[1];
      case 'fail':
        throw new TemplateError(`fail: ${show(args[0])}`);
      default:
        void dot;
        throw new TemplateError(`function "${name}" is outside this renderer's subset`);
    }
  };

  const evaluate = (expr: Expr, dot: Value, scopes: Scope): Value => {
    switch (expr.kind) {
      case 'literal':
        return expr.value;
      case 'field': {
        let value = expr.base === 'dot' ? dot : lookup(scopes, expr.base);
        for (const key of expr.path) value = isMap(value) ? value[key] : undefined;
        return value;
      }
      case 'ident':
        return call(expr.name, [], dot);
      case 'pipeline': {
        let piped: Value;
        let first = true;
        for (const command of expr.commands) {
          const [head, ...rest] = command;
          if (head === undefined) throw new TemplateError('empty command');
          const args = rest.map((arg) => evaluate(arg, dot, scopes));
          if (!first) args.push(piped);
          if (head.kind === 'ident') piped = call(head.name, args, dot);
          else if (args.length === 0) piped = evaluate(head, dot, scopes);
          else throw new TemplateError('arguments given to a value that is not a function');
          first = false;
        }
        return piped;
      }
    }
  };

  const execute = (nodes: Node[], dot: Value, scopes: Scope): string => {
    let out = '';
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          out += node.text;
          break;
        case 'action': {
          const value = evaluate(node.expr, dot, scopes);
          if (node.assign === undefined) out += show(value);
          else if (node.assign.declare) scopes[scopes.length - 1]?.set(node.assign.name, value);
          else {
            const scope = [...scopes].reverse().find((candidate) => candidate.has(node.assign?.name ?? ''));
            if (scope === undefined) throw new TemplateError(`assignment to undeclared ${node.assign.name}`);
            scope.set(node.assign.name, value);
          }
          break;
        }
        case 'if': {
          const branch = node.branches.find((candidate) => truthy(evaluate(candidate.cond, dot, scopes)));
          out += execute(branch === undefined ? node.otherwise : branch.body, dot, [
            ...scopes,
            new Map<string, Value>(),
          ]);
          break;
        }
        case 'range': {
          const items = evaluate(node.expr, dot, scopes);
          const list = Array.isArray(items) ? items : isMap(items) ? Object.values(items) : [];
          for (const item of list) {
            const scope = new Map<string, Value>();
            if (node.variable !== undefined) scope.set(node.variable, item);
            out += execute(node.body, item, [...scopes, scope]);
          }
          break;
        }
      }
    }
    return out;
  };

  const manifests: RenderedManifest[] = [];
  for (const [file, body] of bodies) {
    const text = execute(body, root, [new Map<string, Value>([['$', root]])]);
    for (const document of parseAllDocuments(text, { version: '1.1' })) {
      if (document.errors.length > 0) {
        throw new TemplateError(`${file} renders invalid YAML: ${document.errors[0]?.message ?? ''}\n${text}`);
      }
      const object = document.toJS() as Value;
      if (object === null || object === undefined) continue;
      if (!isMap(object)) throw new TemplateError(`${file} renders a document that is not an object`);
      manifests.push({ template: file, object });
    }
  }
  return manifests;
}
