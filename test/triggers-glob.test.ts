/**
 * Trigger patterns (`--pattern`, core/triggers/glob.ts over picomatch): what matches and what does not, relative to
 * the watched prefix, and the errors bad patterns get. The pattern test of triggers.test.ts checks the same code end
 * to end through a listing.
 */
import { compileGlob } from '../core/triggers/glob';
import { newObjects } from '../activities/triggers/listing';

describe('trigger patterns', () => {
  const cases: [pattern: string, matching: string[], notMatching: string[]][] = [
    ['*.csv', ['a.csv', '.a.csv', 'a b.csv'], ['a.csv.gz', 'x/a.csv', 'a.json']],
    ['**/*.csv', ['a.csv', 'x/a.csv', 'x/y/z/a.csv'], ['a.json', 'x/a.csv/b']],
    ['data/**', ['data/a', 'data/x/y'], ['other/a', 'database/a']],
    ['a/**/b.csv', ['a/b.csv', 'a/x/b.csv', 'a/x/y/b.csv'], ['b.csv', 'a/xb.csv']],
    ['?.csv', ['a.csv', '1.csv'], ['ab.csv', '.csv']],
    ['part-[0-4].csv', ['part-0.csv', 'part-4.csv'], ['part-5.csv', 'part-a.csv']],
    ['part-[!0-4].csv', ['part-5.csv', 'part-a.csv'], ['part-0.csv', 'part-/.csv']],
    ['part-[abc].csv', ['part-b.csv'], ['part-d.csv']],
    ['date=*/part-*.{csv,json}', ['date=1/part-0.csv', 'date=2026-01-01/part-7.json'], ['date=1/part-0.txt']],
    ['date=*/_SUCCESS', ['date=1/_SUCCESS'], ['_SUCCESS', 'date=1/x/_SUCCESS']],
    ['a\\*b', ['a*b'], ['axb']],
    ['!important.csv', ['!important.csv'], ['other.csv']],
    ['x+(y).csv', ['x+(y).csv'], ['xy.csv']],
    ['a.b', ['a.b'], ['axb']],
  ];
  it.each(cases)('%s', (pattern, matching, notMatching) => {
    const glob = compileGlob(pattern);
    expect(glob.pattern).toBe(pattern);
    for (const key of matching) expect([key, glob.matches(key)]).toEqual([key, true]);
    for (const key of notMatching) expect([key, glob.matches(key)]).toEqual([key, false]);
  });

  it('refuses malformed patterns with CONFIG_INVALID naming the pattern and saying why', () => {
    const refused: [string, RegExp][] = [
      ['', /the pattern is empty/],
      ['/data/*.csv', /relative to the watched prefix: drop the leading \//],
      ['data/[abc', /Missing closing: "\]"/],
      ['data/abc]', /Missing opening: "\["/],
      ['{a,b', /Missing closing: "\}"/],
      ['a**/b', /'\*\*' must be a whole path segment/],
      ['a/**b', /'\*\*' must be a whole path segment/],
      ['a/b\\', /a '\\' must escape a character/],
      ['x'.repeat(1025), /longer than 1024 characters/],
    ];
    for (const [pattern, why] of refused) {
      let error: unknown;
      try {
        compileGlob(pattern);
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
      const message = (error as Error).message;
      expect(message).toMatch(why);
      expect(message).toContain(`invalid --pattern ${JSON.stringify(pattern)}`);
      expect(message).toMatch(/e\.g\. '\*\.csv'/);
    }
    expect(() => compileGlob('a\\*\\*b')).not.toThrow();
  });

  it('matches keys relative to the watched prefix, and partitions by their marker', () => {
    const listed = ['a.csv', 'sub/b.csv', 'sub/c.json', 'day=1/_SUCCESS', 'day=1/part-0.csv'].map((key, i) => ({
      key,
      etag: `etag-${i}`,
      lastModifiedMs: 1_000 + i,
      size: 1,
    }));
    const input = { trigger: 't', on: 's3://bucket/in/', settleMs: 0, includeExisting: true, limit: 100 };
    const uris = (extra: { pattern?: string; marker?: string }): string[] =>
      newObjects(listed, { ...input, ...extra }).objects.map((object) => object.uri);
    expect(uris({ pattern: '*.csv' })).toEqual(['s3://bucket/in/a.csv']);
    expect(uris({ pattern: '**/*.csv' })).toEqual([
      's3://bucket/in/a.csv',
      's3://bucket/in/sub/b.csv',
      's3://bucket/in/day=1/part-0.csv',
    ]);
    expect(uris({ pattern: 'in/*.csv' })).toEqual([]);
    expect(uris({ marker: '_SUCCESS', pattern: 'day=*/_SUCCESS' })).toEqual(['s3://bucket/in/day=1/']);
    expect(uris({ marker: '_SUCCESS', pattern: 'month=*/_SUCCESS' })).toEqual([]);
  });
});
