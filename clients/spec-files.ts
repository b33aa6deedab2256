/**
 * Reading a pipeline spec from disk with every sub-pipeline its `pipeline:` steps name (recursively), and validating
 * them all before anything starts: the client side of `core/spec/load-tree.ts`, shared by `mloe validate`,
 * `mloe run` and the client API. Sub-pipeline paths resolve against the including file and may not leave the root
 * spec's directory (see `core/spec/sub-pipelines.ts`); errors name each file as the user would (the root's directory
 * as given, joined with the sub-pipeline's path).
 *
 * A path the rules accept is still checked on disk before it is read, so a spec cannot make the client read (and echo
 * in errors) a file outside the root, nor hang on a FIFO or exhaust memory on a device: its real path (symbolic links
 * resolved) must lie under the real path of the root directory, it must be a regular file, and it is read through a
 * descriptor with a size cap ({@link PIPELINE_FILE_MAX_BYTES}). What is checked is what is opened (`O_NOFOLLOW`, then
 * `fstat` of the descriptor); a directory swapped for a link between the check and the open is not guarded against.
 */
import { constants, type Stats } from 'node:fs';
import { open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

import {
  loadPipelineTree,
  type PipelineFiles,
  type PipelineResolution,
  type PipelineTreeResult,
  type StepRegistry,
} from '../core/spec';
import { ConfigError, ensureError } from '../core/errors';

/** The largest sub-pipeline file the loader reads (1 MiB): far above any real spec, far below a memory problem. */
export const PIPELINE_FILE_MAX_BYTES = 1024 * 1024;

/** Bytes read from a spec file at a time. */
const READ_CHUNK_BYTES = 64 * 1024;

/** What {@link PipelineFiles.read} answers. */
type ReadResult = Awaited<ReturnType<PipelineFiles['read']>>;

/** A refused file, as `read` reports it. */
type Refusal = Extract<PipelineResolution, { ok: false }>;

/** Options of {@link loadPipelineFileTree} and {@link loadPipelineObjectTree}. */
export interface SpecFilesOptions {
  registry: StepRegistry;
  /** Parameter values of a run; when given, they are checked and required parameters must have one. */
  params?: Readonly<Record<string, unknown>>;
}

/**
 * The files under a root directory, by path relative to it. `displayDirectory` is how the user named the directory
 * (e.g. `pipelines/demo`), for error messages. Each file is checked before it is read (see the module comment).
 */
export function specFiles(rootDirectory: string, displayDirectory: string): PipelineFiles {
  const results = new Map<string, Promise<ReadResult>>();
  const display = (path: string): string =>
    displayDirectory === '.' || displayDirectory === '' ? path : join(displayDirectory, path);
  let rootReal: Promise<string | undefined> | undefined;
  const realRoot = (): Promise<string | undefined> =>
    (rootReal ??= realpath(rootDirectory).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }));

  const check = async (path: string): Promise<ReadResult> => {
    const root = await realRoot();
    if (root === undefined) return undefined;
    const real = await realpath(join(rootDirectory, path));
    const inside = relative(root, real);
    if (inside.split(sep)[0] === '..' || isAbsolute(inside)) {
      return {
        ok: false,
        code: 'PIPELINE_PATH_INVALID',
        message: `${display(path)} resolves through a symbolic link to ${real}, outside the root spec's directory ${displayDirectory === '' ? '.' : displayDirectory}`,
        hint: "keep sub-pipeline files, and what symbolic links to them point at, in the root spec's directory or below it; copy the file in instead of linking to it",
      };
    }
    // stat before open: opening a FIFO for reading would wait for a writer.
    const special = notRegular(await stat(real), display(path));
    if (special !== undefined) return special;
    return readCapped(real, display(path));
  };
  const read = async (path: string): Promise<ReadResult> => {
    try {
      return await check(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(readFailure(error), { cause: error });
    }
  };

  return {
    read(path) {
      let result = results.get(path);
      if (result === undefined) {
        result = read(path);
        results.set(path, result);
      }
      return result;
    },
    display,
  };
}

/** Why a file could not be read, in a few words. */
function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : ensureError(error).message;
}

/** Why a file that is not a regular file is refused, or `undefined` for a regular file. */
function notRegular(stats: Stats, file: string): Refusal | undefined {
  if (stats.isFile()) return undefined;
  const kind = stats.isDirectory()
    ? 'a directory'
    : stats.isFIFO()
      ? 'a FIFO (named pipe)'
      : stats.isCharacterDevice() || stats.isBlockDevice()
        ? 'a device'
        : stats.isSocket()
          ? 'a socket'
          : 'not a file';
  return {
    ok: false,
    code: 'PIPELINE_NOT_FOUND',
    message: `cannot read ${file}: it is ${kind}, not a regular file`,
    hint: 'point pipeline: at a regular YAML or JSON spec file',
  };
}

/** The refusal of a file over {@link PIPELINE_FILE_MAX_BYTES}. */
function tooLarge(file: string, size?: number): Refusal {
  const actual = size === undefined ? 'larger than that' : `${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes)`;
  return {
    ok: false,
    code: 'PIPELINE_NOT_FOUND',
    message: `cannot read ${file}: a pipeline spec file may be at most 1 MiB (${PIPELINE_FILE_MAX_BYTES} bytes), and this one is ${actual}`,
    hint: 'a spec this large is not a pipeline spec: check the path, or split the pipeline into sub-pipelines',
  };
}

/**
 * Reads a regular file of at most {@link PIPELINE_FILE_MAX_BYTES} through one descriptor: opened without following a
 * final symbolic link and without blocking, checked with `fstat`, then read in chunks and never past the cap (a file
 * growing meanwhile is refused, not read to its end).
 */
async function readCapped(real: string, file: string): Promise<ReadResult> {
  const handle = await open(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  try {
    const stats = await handle.stat();
    const special = notRegular(stats, file);
    if (special !== undefined) return special;
    if (stats.size > PIPELINE_FILE_MAX_BYTES) return tooLarge(file, stats.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, PIPELINE_FILE_MAX_BYTES + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > PIPELINE_FILE_MAX_BYTES) return tooLarge(file);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await handle.close();
  }
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
