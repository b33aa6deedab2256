/**
 * `${{ expression }}` templates in spec strings. A string that is exactly one template evaluates to the expression's
 * value, with its type (a list stays a list); a string that mixes text and templates evaluates to a string.
 */

/** One `${{ }}` in a string. */
export interface TemplateExpression {
  /** The CEL source between `${{` and `}}`, spaces included, so offsets within it map back to the string. */
  source: string;
  /** Offset of `${{` in the string. */
  start: number;
  /** Offset just past `}}`. */
  end: number;
  /** Offset of the first character of {@link source} in the string. */
  sourceOffset: number;
}

/** A string split into text and templates. */
export type ParsedTemplate =
  | {
      ok: true;
      /** Text and expressions in order; empty text parts are left out. */
      parts: (string | TemplateExpression)[];
      expressions: TemplateExpression[];
      /** The string is exactly one template: it evaluates to the expression's value, not to a string. */
      whole: boolean;
    }
  | { ok: false; message: string; hint: string; index: number };

const OPEN = '${{';
const CLOSE = '}}';

/** Whether a string contains a template at all (cheap pre-check). */
export function hasTemplate(text: string): boolean {
  return text.includes(OPEN);
}

/**
 * Splits a string into text and `${{ }}` templates. `}}` inside a CEL string literal does not close a template, so
 * `${{ "}}" }}` works; a literal `${{` can be written as `${{ '${{' }}`.
 */
export function parseTemplate(text: string): ParsedTemplate {
  const parts: (string | TemplateExpression)[] = [];
  const expressions: TemplateExpression[] = [];
  let position = 0;
  while (position < text.length) {
    const start = text.indexOf(OPEN, position);
    if (start < 0) {
      parts.push(text.slice(position));
      break;
    }
    if (start > position) parts.push(text.slice(position, start));
    const sourceOffset = start + OPEN.length;
    const close = findClose(text, sourceOffset);
    if (close < 0) {
      return {
        ok: false,
        message: 'unclosed ${{: the expression has no closing }}',
        hint: 'end the expression with }}, e.g. ${{ params.lr }}',
        index: start,
      };
    }
    const source = text.slice(sourceOffset, close);
    if (source.trim() === '') {
      return {
        ok: false,
        message: 'empty expression ${{ }}',
        hint: 'write an expression between ${{ and }}, e.g. ${{ params.lr }}',
        index: start,
      };
    }
    const expression: TemplateExpression = { source, start, end: close + CLOSE.length, sourceOffset };
    parts.push(expression);
    expressions.push(expression);
    position = expression.end;
  }
  const whole = expressions.length === 1 && parts.length === 1;
  return { ok: true, parts, expressions, whole };
}

/** The offset of the `}}` closing a template whose source starts at `from`, skipping CEL string literals; or -1. */
function findClose(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const char = text[i];
    if (char === '}' && text[i + 1] === '}') return i;
    if (char === '"' || char === "'") {
      const raw = i > from && (text[i - 1] === 'r' || text[i - 1] === 'R');
      i = skipString(text, i, raw);
      if (i < 0) return -1;
      continue;
    }
    i += 1;
  }
  return -1;
}

/** The offset after the string literal opening at `start` (single, double or triple quoted); -1 if unterminated. */
function skipString(text: string, start: number, raw: boolean): number {
  const quote = text[start] ?? '';
  const triple = text.startsWith(quote.repeat(3), start);
  const delimiter = triple ? quote.repeat(3) : quote;
  let i = start + delimiter.length;
  while (i < text.length) {
    if (!raw && text[i] === '\\') {
      i += 2;
      continue;
    }
    if (text.startsWith(delimiter, i)) return i + delimiter.length;
    i += 1;
  }
  return -1;
}
