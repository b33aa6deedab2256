/**
 * Cache keys as pure functions: artifacts count by digest (a lone reference differs from a list of one), previews
 * never show secrets or URLs, the files a command names are hashed wherever the working directory is written from,
 * and explanations name exactly the parts that changed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { explainKeyChange } from '../activities/cache/explain';
import { cacheKeyOf, commandFileDigests, inputParts, valuePart, type CacheKeyParts } from '../activities/cache/key';

const REF = {
  uri: `file:///tmp/s/sha256/ab/${'ab'.repeat(32)}`,
  digest: `sha256:${'ab'.repeat(32)}`,
  size: 3,
  type: 'dataset',
  metadata: {},
  createdAt: '2026-11-28T00:00:00.000Z',
};

describe('cache keys', () => {
  it('counts an artifact by its digest, whatever its URI or metadata, and a list of one apart from the artifact', () => {
    const moved = { ...REF, uri: `file:///elsewhere/sha256/ab/${'ab'.repeat(32)}`, metadata: { run: 'x' } };
    expect(valuePart('data', REF).digest).toBe(REF.digest);
    expect(valuePart('data', moved).digest).toBe(REF.digest);
    expect(valuePart('data', [REF]).digest).not.toBe(REF.digest);
  });

  it('is the same for the same parts in any key order, and differs when any part does', () => {
    const parts: CacheKeyParts = {
      definition: { ref: 'train@1', digest: 'sha256:1' },
      inputs: inputParts({ a: 1, b: 'x' }),
      params: {},
      files: {},
    };
    const reordered: CacheKeyParts = { ...parts, inputs: inputParts({ b: 'x', a: 1 }) };
    expect(cacheKeyOf(reordered)).toBe(cacheKeyOf(parts));
    expect(cacheKeyOf({ ...parts, inputs: inputParts({ a: 2, b: 'x' }) })).not.toBe(cacheKeyOf(parts));
    expect(cacheKeyOf({ ...parts, definition: { ref: 'train@1', digest: 'sha256:2' } })).not.toBe(cacheKeyOf(parts));
  });

  it('never previews secrets, URLs, credentials or structured values', () => {
    expect(valuePart('rows', 4).preview).toBe('4');
    expect(valuePart('mode', 'fast').preview).toBe('"fast"');
    expect(valuePart('api_token', 'abc').preview).toBeUndefined();
    expect(valuePart('dbPassword', 'abc').preview).toBeUndefined();
    expect(valuePart('db_url', 'postgres://u:pw@h/db').preview).toBeUndefined();
    expect(valuePart('auth', { token: 'abc' }).preview).toBeUndefined();
    expect(valuePart('long', 'x'.repeat(100)).preview).toBeUndefined();
  });

  it('hashes the scripts a command names inside the working directory, however the directory is written', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'mloe-key-'));
    try {
      await writeFile(join(directory, 'train.py'), 'print(1)\n');
      const plain = await commandFileDigests(['python', 'train.py', '--lr', '0.1'], directory, directory);
      expect(Object.keys(plain)).toEqual(['argv[1] train.py']);
      expect(await commandFileDigests(['python', 'train.py'], `${directory}/`, `${directory}/`)).toEqual(plain);
      expect(await commandFileDigests(['python', 'train.py'], `${directory}/x/..`, directory)).toEqual(plain);
      // Relative names mean nothing when the command runs in a fresh directory; outside paths are the environment.
      expect(await commandFileDigests(['python', 'train.py'], directory, undefined)).toEqual({});
      expect(await commandFileDigests(['/bin/sh', '-c', 'true'], directory, directory)).toEqual({});
      await writeFile(join(directory, 'train.py'), 'print(2)\n');
      expect(await commandFileDigests(['python', 'train.py'], directory, directory)).not.toEqual(plain);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('explains a miss by the parts that changed, with previews where they are safe', () => {
    const before: CacheKeyParts = {
      definition: { ref: 'run', digest: 'sha256:1' },
      inputs: inputParts({ data: REF, rows: 4 }),
      params: inputParts({ lr: 0.1, api_key: 'a' }),
      files: { 'argv[1] train.py': { digest: 'sha256:aaaaaaaaaaaaaaaa', preview: 'sha256:aaaaaaaaaaaa' } },
    };
    const after: CacheKeyParts = {
      definition: { ref: 'run', digest: 'sha256:2' },
      inputs: inputParts({ data: REF, rows: 5, extra: true }),
      params: inputParts({ lr: 0.1, api_key: 'b' }),
      files: {},
    };
    expect(explainKeyChange(before, after)).toEqual([
      'command changed (its arguments, environment, image, working directory or outputs)',
      'input extra is new (true)',
      'input rows changed: 4 → 5',
      'parameter api_key changed',
      'file argv[1] train.py was removed',
    ]);
    expect(explainKeyChange(before, before)).toEqual([]);
  });
});
