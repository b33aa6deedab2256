/**
 * Reading a pipeline spec from disk with every sub-pipeline its `pipeline:` steps name (recursively), and validating
 * them all before anything starts: the client side of `core/spec/load-tree.ts`, shared by `mloe validate`,
 * `mloe run` and the client API. Sub-pipeline paths resolve against the including file and may not leave the root
 * spec's directory (see `core/spec/sub-pipelines.ts`); errors name each file as the user would (the root's directory
 * as given, joined with the sub-pipeline's path).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import { loadPipelineTree, type PipelineFiles, type PipelineTreeResult, type StepRegistry } from '../core/spec';
import { ConfigError, ensureError } from './errors';

/** Options of {@link loadPipelineFileTree} and {@link loadPipelineObjectTree}. */
export interface SpecFilesOptions {
  registry: StepRegistry;
  /** Parameter values of a run; when given, they are checked and required parameters must have one. */
  params?: Readonly<Record<string, unknown>>;
}

/**
 * The files under a root directory, by path relative to it. `displayDirectory` is how the user named the directory
 * (e.g. `pipelines/demo`), for error messages.
 */
export function specFiles(rootDirectory: string, displayDirectory: string): PipelineFiles {
  const texts = new Map<string, string | undefined>();
  return {
    async read(path) {
      if (texts.has(path)) return texts.get(path);
      let text: string | undefined;
      try {
        text = await readFile(join(rootDirectory, path), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(readFailure(error), { cause: error });
        text = undefined;
      }
      texts.set(path, text);
      return text;
    },
    display: (path) => (displayDirectory === '.' || displayDirectory === '' ? path : join(displayDirectory, path)),
  };
}

/** Why a file could not be read, in a few words. */
function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : ensureError(error).message;
}

/**
 * Reads and validates a spec file and its sub-pipelines. Throws `CONFIG_INVALID` when the root file cannot be read
 * (a sub-pipeline that cannot be read is a validation error at the step naming it).
 */
export async function loadPipelineFileTree(file: string, options: SpecFilesOptions): Promise<PipelineTreeResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${readFailure(error)}`, { cause: error });
  }
  return loadPipelineTree(
    { path: basename(file), text, file },
    {
      registry: options.registry,
      files: specFiles(dirname(resolve(file)), dirname(file)),
      ...(options.params === undefined ? {} : { params: options.params }),
    },
  );
}

/**
 * Validates a spec object (parsed or built in code) and the sub-pipeline files it names, which resolve against
 * `baseDirectory` (the current directory by default).
 */
export async function loadPipelineObjectTree(
  spec: unknown,
  options: SpecFilesOptions & { baseDirectory?: string },
): Promise<PipelineTreeResult> {
  const base = options.baseDirectory ?? '.';
  return loadPipelineTree(
    { spec },
    {
      registry: options.registry,
      files: specFiles(resolve(base), base),
      ...(options.params === undefined ? {} : { params: options.params }),
    },
  );
}
