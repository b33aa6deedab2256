/**
 * Glob patterns of triggers (`--pattern`), compiled to regular expressions: `*` matches within one path segment,
 * `**` across segments (`**` followed by `/` also matches no segment at all, so `**\/*.csv` matches `a.csv`), `?` one
 * character of a segment, `[abc]`/`[a-z]`/`[!abc]` one character of a set, and `{a,b}` either alternative. Patterns
 * match a key relative to the watched prefix, the way `.gitignore` and most globbing libraries do. Pure, so the
 * client validates a pattern with the same code the activity matches with.
 */
import { MloeError } from '../errors';

/** The longest pattern accepted. */
const MAX_PATTERN_LENGTH = 1024;

/** Characters that mean themselves in a glob but something else in a regular expression. */
const REGEX_SPECIAL = /[.+^$()|\\]/;

/** A compiled pattern. */
export interface GlobMatcher {
  /** The pattern as written. */
  pattern: string;
  /** Whether a relative key (`/`-separated) matches. */
  matches(key: string): boolean;
}

/** Compiles a glob; `CONFIG_INVALID` saying where and why when it is malformed. */
export function compileGlob(pattern: string): GlobMatcher {
  const regex = new RegExp(`^${globSource(pattern)}$`, 'u');
  return { pattern, matches: (key) => regex.test(key) };
}

/** The regular expression source of a glob (without anchors). */
function globSource(pattern: string): string {
  const invalid = (at: number, why: string): MloeError =>
    new MloeError(
      'CONFIG_INVALID',
      `invalid --pattern ${JSON.stringify(pattern)} at character ${at + 1}: ${why} (e.g. '*.csv', '**/*.parquet', ` +
        `'date=*/part-*.{csv,json}')`,
    );
  if (pattern === '') throw invalid(0, 'the pattern is empty');
  if (pattern.length > MAX_PATTERN_LENGTH) throw invalid(MAX_PATTERN_LENGTH, `longer than ${MAX_PATTERN_LENGTH}`);
  if (pattern.startsWith('/')) throw invalid(0, 'patterns are relative to the watched prefix: drop the leading /');
  let source = '';
  let braceDepth = 0;
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] ?? '';
    if (char === '*') {
      if (pattern[i + 1] === '*') {
        const startOfSegment = i === 0 || pattern[i - 1] === '/';
        const endOfSegment = i + 2 === pattern.length || pattern[i + 2] === '/';
        if (!startOfSegment || !endOfSegment) throw invalid(i, "'**' must be a whole path segment");
        if (pattern[i + 2] === '/') {
          source += '(?:[^/]*(?:/[^/]*)*/)?';
          i += 2;
        } else {
          source += '.*';
          i += 1;
        }
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) throw invalid(i, "'[' has no closing ']'");
      let body = pattern.slice(i + 1, close);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      if (body === '' || body.includes('/')) throw invalid(i, 'a character set must name characters, and no /');
      source += `[${negated ? '^/' : ''}${body.replace(/[\\\]^]/g, (c) => `\\${c}`)}]`;
      i = close;
    } else if (char === '{') {
      braceDepth += 1;
      source += '(?:';
    } else if (char === '}') {
      if (braceDepth === 0) throw invalid(i, "'}' without '{'");
      braceDepth -= 1;
      source += ')';
    } else if (char === ',' && braceDepth > 0) {
      source += '|';
    } else if (char === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw invalid(i, "a '\\' must escape a character");
      source += escapeLiteral(next);
      i += 1;
    } else {
      source += escapeLiteral(char);
    }
  }
  if (braceDepth > 0) throw invalid(pattern.length - 1, "'{' has no closing '}'");
  try {
    new RegExp(source, 'u');
  } catch (error) {
    throw new MloeError('CONFIG_INVALID', `invalid --pattern ${JSON.stringify(pattern)}: ${String(error)}`, {
      cause: error,
    });
  }
  return source;
}

/** One literal character, escaped for a regular expression. */
function escapeLiteral(char: string): string {
  return REGEX_SPECIAL.test(char) || '[]{}*?'.includes(char) ? `\\${char}` : char;
}
