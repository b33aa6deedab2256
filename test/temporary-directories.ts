/**
 * Temporary directories for a test suite: each call makes a fresh one, and all are removed after the suite.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Returns a maker of fresh directories named `<prefix>XXXXXX`; registers their removal with `afterAll`. */
export function suiteTemporaryDirectories(prefix: string): () => Promise<string> {
  const made: string[] = [];
  afterAll(async () => {
    await Promise.all(made.map((directory) => rm(directory, { recursive: true, force: true })));
  });
  return async () => {
    const directory = await mkdtemp(join(tmpdir(), prefix));
    made.push(directory);
    return directory;
  };
}
