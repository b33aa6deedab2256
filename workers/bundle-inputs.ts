/**
 * The inputs of a workflow bundle: every file webpack read while bundling (with the sha256 of the bytes it read),
 * every directory it resolved through, and every path it probed and did not find (a file created there later would
 * change how an import resolves). A cached bundle is reused only while all of them are as recorded.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

import type { BundleOptions } from '@temporalio/worker';

/** One input of a bundle, as the bundler saw it. */
export type BundleInput =
  | { path: string; kind: 'file'; sha256: string }
  | { path: string; kind: 'directory' }
  | { path: string; kind: 'missing' };

/** The webpack configuration the SDK's bundler hands to `webpackConfigHook`. */
type WebpackConfiguration = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];
/** What the recording plugin uses of webpack's compiler (the SDK does not export webpack's types). */
interface WebpackCompiler {
  inputFileSystem: object | null;
  hooks: {
    beforeRun: { tap(name: string, hook: () => void): void };
    done: {
      tap(
        name: string,
        hook: (stats: {
          compilation: { fileDependencies: Iterable<string>; missingDependencies: Iterable<string> };
        }) => void,
      ): void;
    };
  };
}

/** Node's callback-style `readFile`, as webpack calls it on its input file system. */
type ReadFileCallback = (error: NodeJS.ErrnoException | null, data?: Buffer | string) => void;

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What is at `path` now: a file (with its sha256), a directory, or nothing. */
async function inspect(path: string): Promise<BundleInput> {
  try {
    const stats = await stat(path);
    if (stats.isDirectory()) return { path, kind: 'directory' };
    return { path, kind: 'file', sha256: sha256(await readFile(path)) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return { path, kind: 'missing' };
    }
    throw error;
  }
}

function sameInput(a: BundleInput, b: BundleInput): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.sha256 === b.sha256;
  return a.kind === b.kind;
}

/**
 * Whether every input is still as recorded: each file's content hashes the same, each directory is one, each
 * missing path is still missing. Reads every file (no timestamps are trusted).
 */
export async function inputsUnchanged(inputs: readonly BundleInput[]): Promise<boolean> {
  const now = await Promise.all(inputs.map((input) => inspect(input.path)));
  return now.every((current, index) => {
    const recorded = inputs[index];
    return recorded !== undefined && sameInput(recorded, current);
  });
}

/**
 * Records the inputs of one webpack build: install {@link InputRecorder.configHook} as the bundler's
 * `webpackConfigHook`, bundle, then call {@link InputRecorder.inputs}.
 */
export class InputRecorder {
  /** sha256 of the bytes webpack read, by path (first read; a path read twice with other bytes is unstable). */
  private readonly reads = new Map<string, string>();
  private unstable = false;
  private fileDependencies: string[] = [];
  private missingDependencies: string[] = [];

  /** Adds the recording plugin to the SDK's webpack configuration. */
  readonly configHook = (config: WebpackConfiguration): WebpackConfiguration => ({
    ...config,
    plugins: [...(config.plugins ?? []), { apply: (compiler: WebpackCompiler) => this.apply(compiler) }],
  });

  private apply(compiler: WebpackCompiler): void {
    // The SDK sets its own input file system (its in-memory entrypoint over the real disk) after creating the
    // compiler: wrap it when the run starts, before any module or resolver reads through it.
    compiler.hooks.beforeRun.tap('mloe-bundle-inputs', () => {
      if (compiler.inputFileSystem !== null) compiler.inputFileSystem = this.recording(compiler.inputFileSystem);
    });
    compiler.hooks.done.tap('mloe-bundle-inputs', (stats) => {
      this.fileDependencies = [...stats.compilation.fileDependencies];
      this.missingDependencies = [...stats.compilation.missingDependencies];
    });
  }

  /** The same file system, its `readFile` hashing whatever it hands webpack. */
  private recording<T extends object>(fileSystem: T): T {
    const record = (path: string, data: Buffer | string): void => {
      const digest = sha256(data);
      const earlier = this.reads.get(path);
      if (earlier !== undefined && earlier !== digest) this.unstable = true;
      this.reads.set(path, earlier ?? digest);
    };
    return new Proxy(fileSystem, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (property !== 'readFile') return (value as (...args: unknown[]) => unknown).bind(target);
        return (path: unknown, ...rest: unknown[]) => {
          const callback = rest.pop() as ReadFileCallback;
          (value as (...args: unknown[]) => void).call(target, path, ...rest, ((error, data) => {
            if (error === null && data !== undefined) record(String(path), data);
            callback(error, data);
          }) satisfies ReadFileCallback);
        };
      },
    });
  }

  /**
   * The inputs of the build that ran, or undefined when they cannot be trusted (a file changed while webpack read
   * it, or a path webpack found to be no file is a file by now). Files are recorded with the hash of the bytes webpack
   * read, so a change after the read shows at the next check. Paths in `virtual` (the SDK's generated entrypoint,
   * which exists only in memory and follows from the options) are left out.
   */
  async inputs(virtual: readonly string[] = []): Promise<BundleInput[] | undefined> {
    if (this.unstable) return undefined;
    const skip = new Set(virtual);
    const recorded = new Map<string, BundleInput>();
    for (const [path, digest] of this.reads) {
      if (!skip.has(path)) recorded.set(path, { path, kind: 'file', sha256: digest });
    }
    const missing = new Set(this.missingDependencies);
    for (const path of new Set([...this.fileDependencies, ...this.missingDependencies])) {
      if (skip.has(path) || recorded.has(path)) continue;
      const input = await inspect(path);
      // webpack's "missing" means "no file there" (a directory counts): one there now appeared during the build.
      if (missing.has(path) && input.kind === 'file') return undefined;
      recorded.set(path, input);
    }
    return [...recorded.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
