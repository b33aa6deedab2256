/**
 * Glob patterns of triggers (`--pattern`), matched with picomatch (its POSIX build: no platform detection, `/` is the
 * only separator): `*` matches within one path segment, `**` across segments (`**\/` also matches no segment at all,
 * so `**\/*.csv` matches `a.csv`), `?` one character of a segment, `[abc]`/`[a-z]`/`[!abc]` one character of a set,
 * `{a,b}` either alternative, `\` escapes. Names starting with `.` match like any other (S3 keys have no hidden
 * files); `!` and extglob characters (`+(…)`, `@(…)`) mean themselves. Patterns match a key relative to the watched
 * prefix, the way `.gitignore` and most globbing libraries do. Pure, so the client validates a pattern with the same
 * code the activity matches with.
 */
import picomatch from 'picomatch/posix';

import { MloeError } from '../errors';

/** The longest pattern accepted. */
const MAX_PATTERN_LENGTH = 1024;

/**
 * How patterns are read: brackets and braces must balance (an error, not a literal), `[!x]` negates as in POSIX, and
 * no negation or extglobs (a leading `!` or `+(…)` is literal, as in the shell's default mode).
 */
const OPTIONS: picomatch.PicomatchOptions = {
  dot: true,
  posix: true,
  strictBrackets: true,
  nonegate: true,
  noextglob: true,
  maxLength: MAX_PATTERN_LENGTH,
};

/** A compiled pattern. */
export interface GlobMatcher {
  /** The pattern as written. */
  pattern: string;
  /** Whether a relative key (`/`-separated) matches. */
  matches(key: string): boolean;
}

/** Compiles a glob; `CONFIG_INVALID` naming the pattern and saying why when it is malformed. */
export function compileGlob(pattern: string): GlobMatcher {
  const invalid = (why: string, cause?: unknown): MloeError =>
    new MloeError(
      'CONFIG_INVALID',
      `invalid --pattern ${JSON.stringify(pattern)}: ${why} (e.g. '*.csv', '**/*.parquet', ` +
        `'date=*/part-*.{csv,json}')`,
      cause === undefined ? {} : { cause },
    );
  if (pattern === '') throw invalid('the pattern is empty');
  if (pattern.length > MAX_PATTERN_LENGTH) throw invalid(`longer than ${MAX_PATTERN_LENGTH} characters`);
  if (pattern.startsWith('/')) throw invalid('patterns are relative to the watched prefix: drop the leading /');
  const unescaped = pattern.replace(/\\./gsu, '');
  // picomatch would read `a**` as `a*`: say so instead.
  if (unescaped.split('/').some((segment) => segment.includes('**') && segment !== '**')) {
    throw invalid("'**' must be a whole path segment (write 'a*' within a segment, 'a/**' across)");
  }
  if (unescaped.endsWith('\\')) throw invalid("a '\\' must escape a character");
  let matches: (key: string) => boolean;
  try {
    matches = picomatch(pattern, OPTIONS);
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error), error);
  }
  return { pattern, matches: (key) => matches(key) };
}
