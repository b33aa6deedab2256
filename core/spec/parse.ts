/**
 * Reads pipeline spec text (YAML 1.2, and so JSON too) into plain data plus a {@link SourceMap}, so every later error
 * can name its line and column. Uses the `yaml` package's document AST and `LineCounter`; pure (no I/O).
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
} from 'yaml';

import { finalizeIssues, formatPath, type IssueDraft, type SpecIssue } from './issues';
import { SourceMap, pathKey, type PathSegment, type SourceEntry } from './source-map';

/** What {@link parseSpecText} returns. */
export interface ParsedSpecText {
  /** The document as plain data; `undefined` when the text is empty or not a single well-formed document. */
  value: unknown;
  /** Where each field is in the text. */
  sourceMap: SourceMap;
  /** Syntax problems (and duplicate keys, non-JSON values); when any is a `YAML_SYNTAX`, `value` is undefined. */
  issues: SpecIssue[];
}

/** Options of {@link parseSpecText}. */
export interface ParseOptions {
  /** The file name that error messages show. */
  file?: string;
}

/** Aliases (`*anchor`) expanded at most this many times: guards against "billion laughs" documents. */
const MAX_ALIAS_EXPANSIONS = 1000;

const YAML_QUOTING_HINT =
  "quote values that contain ': ' or ' #' or that start with '{', '[', '*', '&', '!', '|', '>', '%' or '@', " +
  `e.g. "\${{ params.deploy ? 'a' : 'b' }}"`;

/** How to fix a YAML syntax error, by the `yaml` package's error code. */
function syntaxHint(code: string): string {
  switch (code) {
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'indent every item of a mapping or list to the same column, with spaces, and close every [ and {';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
    case 'UNEXPECTED_TOKEN':
      return YAML_QUOTING_HINT;
    case 'DUPLICATE_KEY':
      return 'remove or rename one of the keys';
    default:
      return 'fix the YAML syntax at this position';
  }
}

/**
 * Parses spec text. YAML and JSON are both accepted (JSON is YAML 1.2). Repeated keys are reported as
 * `DUPLICATE_ID` (the first occurrence wins), and values JSON cannot hold (`.inf`, binary, ...) as `INVALID_TYPE`.
 */
export function parseSpecText(text: string, options: ParseOptions = {}): ParsedSpecText {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: false, prettyErrors: false, version: '1.2' });
  const entries = new Map<string, SourceEntry>();
  const sourceMap = new SourceMap(lineCounter.lineStarts, entries);
  const drafts: IssueDraft[] = [];
  const finish = (value: unknown): ParsedSpecText => ({
    value,
    sourceMap,
    issues: finalizeIssues(drafts, sourceMap, options.file),
  });

  const list = Array.isArray(documents) ? documents : [];
  const [document, second] = list;
  if (document === undefined || document.contents === null) {
    drafts.push({
      code: 'YAML_SYNTAX',
      message: 'the file holds no document',
      hint: 'write a pipeline spec starting with `apiVersion: mloe.dev/v1`',
      path: [],
    });
    return finish(undefined);
  }
  if (second !== undefined) {
    drafts.push({
      code: 'YAML_SYNTAX',
      message: 'the file holds more than one YAML document',
      hint: 'keep one pipeline per file: remove the second `---` and what follows it',
      path: [],
      offset: second.range[0],
    });
  }
  // Only the first syntax error: the parser's recovery turns one mistake into errors on every line after it.
  const [syntaxError] = list.flatMap((doc) => doc.errors);
  if (syntaxError !== undefined) {
    drafts.push({
      code: 'YAML_SYNTAX',
      message: syntaxError.message,
      hint: syntaxHint(syntaxError.code),
      path: [],
      offset: syntaxError.pos[0],
    });
  }
  if (drafts.length > 0) return finish(undefined);

  const converter = new Converter(document, text, entries, drafts);
  const value = converter.convert(document.contents, [], undefined);
  return finish(value);
}

/** Turns the YAML AST into plain data, recording where every node is. */
class Converter {
  private aliasExpansions = 0;

  constructor(
    private readonly document: Document.Parsed,
    private readonly text: string,
    private readonly entries: Map<string, SourceEntry>,
    private readonly drafts: IssueDraft[],
  ) {}

  convert(node: unknown, path: PathSegment[], keyOffset: number | undefined): unknown {
    const valueOffset = nodeOffset(node) ?? keyOffset ?? 0;
    const entry: SourceEntry = { valueOffset, ...(keyOffset === undefined ? {} : { keyOffset }) };
    this.entries.set(pathKey(path), entry);

    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      this.aliasExpansions += 1;
      const target = node.resolve(this.document);
      if (target === undefined || this.aliasExpansions > MAX_ALIAS_EXPANSIONS) {
        this.drafts.push({
          code: 'YAML_SYNTAX',
          message: target === undefined ? `unknown alias *${node.source}` : 'too many alias expansions',
          hint: 'define the anchor (&name) before using it, and do not nest aliases deeply',
          path,
        });
        return null;
      }
      // Positions inside the alias point at the anchored node; the alias itself keeps its own position.
      const value = this.convert(target, path, keyOffset);
      this.entries.set(pathKey(path), entry);
      return value;
    }
    if (isScalar(node)) {
      const value: unknown = node.value;
      if (typeof value === 'string') {
        const verbatimOffset = this.verbatimOffset(node.range?.[0], node.type, value);
        if (verbatimOffset !== undefined) entry.verbatimOffset = verbatimOffset;
        return value;
      }
      if (value === null || typeof value === 'boolean') return value;
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      this.drafts.push({
        code: 'INVALID_TYPE',
        message: `${formatScalar(node.source ?? typeof value)} is not a value a spec can hold`,
        hint: 'use strings, finite numbers, booleans, null, lists and mappings only',
        path,
      });
      return null;
    }
    if (isSeq(node)) {
      return node.items.map((item, index) => this.convert(item, [...path, index], undefined));
    }
    if (isMap(node)) {
      const result: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const keyStart = nodeOffset(keyNode) ?? valueOffset;
        if (!isScalar(keyNode) || !['string', 'number', 'boolean'].includes(typeof keyNode.value)) {
          this.drafts.push({
            code: 'INVALID_TYPE',
            message: 'a mapping key must be a plain string',
            hint: 'write keys as words, e.g. `train:`; lists and mappings cannot be keys',
            path,
            offset: keyStart,
          });
          continue;
        }
        const key = String(keyNode.value);
        const childPath = [...path, key];
        if (Object.prototype.hasOwnProperty.call(result, key)) {
          this.drafts.push({
            code: 'DUPLICATE_ID',
            message: `'${key}' appears twice in ${path.length === 0 ? 'the document' : formatPath(path)}`,
            hint:
              path.length === 1 && path[0] === 'steps'
                ? 'step ids must be unique: rename one of the steps'
                : 'remove or rename one of them; the first one is used',
            path: childPath,
            offset: keyStart,
          });
          continue;
        }
        // defineProperty: a key named `__proto__` is data, not the object's prototype.
        Object.defineProperty(result, key, {
          value: this.convert(pair.value, childPath, keyStart),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return result;
    }
    return null;
  }

  /** Where a string scalar's value starts in the text, if the text spells it verbatim (no escapes, one line). */
  private verbatimOffset(start: number | undefined, type: string | undefined, value: string): number | undefined {
    if (start === undefined) return undefined;
    const first = type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE' ? start + 1 : type === 'PLAIN' ? start : -1;
    if (first < 0) return undefined;
    return this.text.startsWith(value, first) ? first : undefined;
  }
}

function nodeOffset(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as { range?: readonly number[] | null }).range;
  return range?.[0];
}

function formatScalar(source: string): string {
  return source.length > 40 ? `'${source.slice(0, 37)}...'` : `'${source}'`;
}
