/**
 * Loading a pipeline with its sub-pipelines: the root spec, then every file its `pipeline:` steps name, recursively,
 * each parsed and validated with its own file name and positions, before anything starts. Files are read through a
 * reader the caller passes (the client reads the file system), so this module stays pure. A file included from
 * several places is loaded once; files that include each other in a circle are an error at the step that closes
 * the circle; a missing file is an error at the step that names it; and a file with errors makes each step that
 * runs it an error too, so the chain from the root to the broken file is visible.
 */
import { sortIssues, type SpecIssue } from './issues';
import { parseSpecText } from './parse';
import type { StepRegistry } from './registry';
import type { PipelineSpec } from './schema';
import { resolvePipelinePath, type PipelineResolution } from './sub-pipelines';
import { validatePipeline, type InvalidPipeline, type ValidPipeline } from './validate';

/**
 * Access to the files of a pipeline, by path relative to the root spec's directory (`lib/train.yaml`). Paths reach
 * the reader only after the path rules of `resolvePipelinePath` accepted them; what the path is on disk (where its
 * symbolic links lead, whether it is a regular file, its size) is the reader's to check.
 */
export interface PipelineFiles {
  /**
   * The text of a file, `undefined` when there is no such file, or why the file is refused (reported at the step
   * naming it, after `step '<id>': `); throws when it exists but cannot be read.
   */
  read(path: string): Promise<string | undefined | Extract<PipelineResolution, { ok: false }>>;
  /** How a file is named in errors (e.g. the root spec's directory as the user wrote it, joined with the path). */
  display(path: string): string;
}

/** The root of a tree: spec text from a file, or a spec object (parsed or built in code). */
export type PipelineTreeRoot =
  | {
      /** The root file's path relative to its own directory: its file name. */
      path: string;
      text: string;
      /** The file name errors show, as the user gave it. */
      file: string;
    }
  | { spec: unknown };

/** Options of {@link loadPipelineTree}. */
export interface LoadTreeOptions {
  registry: StepRegistry;
  files: PipelineFiles;
  /** Parameter values of a run (of the root pipeline); when given, they are checked as by `validatePipeline`. */
  params?: Readonly<Record<string, unknown>>;
}

/** A valid pipeline with every sub-pipeline it runs, directly or not: what a run needs, with no file left to read. */
export interface ValidPipelineTree extends ValidPipeline {
  /** The root spec's path relative to the root directory: its file name, or `''` for a spec object. */
  specPath: string;
  /** Every sub-pipeline the root runs, directly or through others, by normalised path (`lib/train.yaml`). */
  pipelines: Record<string, PipelineSpec>;
}

/** The answer of {@link loadPipelineTree}. */
export type PipelineTreeResult = ValidPipelineTree | InvalidPipeline;

/** A loaded file: valid, or its own problems. */
interface LoadedFile {
  valid?: ValidPipeline;
  issues: SpecIssue[];
}

/**
 * Loads, parses and validates a pipeline and, recursively, the sub-pipelines its `pipeline:` steps name. Every
 * problem of every file is reported, each with its file, line and column: the root's first, then each included
 * file's in the order they were reached.
 */
export async function loadPipelineTree(root: PipelineTreeRoot, options: LoadTreeOptions): Promise<PipelineTreeResult> {
  const loaded = new Map<string, LoadedFile>();
  /** Paths in the order they were first reached (the order their problems are listed in). */
  const reached: string[] = [];

  /** What a `pipeline:` reference of the file at `from` resolves to, loading it when needed. */
  const resolveReference = async (
    from: string,
    reference: string,
    chain: readonly string[],
  ): Promise<PipelineResolution> => {
    const resolved = resolvePipelinePath(from, reference);
    if (!resolved.ok) return resolved;
    const path = resolved.path;
    const loop = chain.indexOf(path);
    if (loop >= 0) {
      return {
        ok: false,
        code: 'PIPELINE_CYCLE',
        message: `pipelines run each other in a cycle: ${[...chain.slice(loop), path].map((file) => options.files.display(file)).join(' → ')}`,
        hint: 'a pipeline cannot run itself, directly or through others: remove this step or point it at another file',
      };
    }
    let file = loaded.get(path);
    if (file === undefined) {
      let text: Awaited<ReturnType<PipelineFiles['read']>>;
      try {
        text = await options.files.read(path);
      } catch (error) {
        return {
          ok: false,
          code: 'PIPELINE_NOT_FOUND',
          message: `cannot read ${options.files.display(path)}: ${error instanceof Error ? error.message : String(error)}`,
          hint: 'point pipeline: at a readable YAML or JSON spec file',
        };
      }
      if (typeof text === 'object') return text;
      if (text === undefined) {
        return {
          ok: false,
          code: 'PIPELINE_NOT_FOUND',
          message: `there is no file ${options.files.display(path)} (pipeline: ${reference})`,
          hint: `the path is relative to the directory of ${from === '' ? 'the root spec' : options.files.display(from)}`,
        };
      }
      reached.push(path);
      file = await loadFile({ path, text, file: options.files.display(path) }, chain);
      loaded.set(path, file);
    }
    if (file.valid === undefined) {
      const count = file.issues.length === 1 ? '1 error' : `${file.issues.length} errors`;
      return {
        ok: false,
        code: 'PIPELINE_INVALID',
        message: `pipeline ${reference} is invalid (${count} in ${options.files.display(path)})`,
        hint: `fix the errors reported for ${options.files.display(path)}`,
      };
    }
    return { ok: true, path, spec: file.valid.spec };
  };

  /** Parses and validates one file (the root with the run's parameters), its sub-pipelines first. */
  const loadFile = async (
    source: PipelineTreeRoot,
    chain: readonly string[],
    params?: Readonly<Record<string, unknown>>,
  ): Promise<LoadedFile> => {
    let value: unknown;
    let parsed: ReturnType<typeof parseSpecText> | undefined;
    if ('spec' in source) {
      value = source.spec;
    } else {
      parsed = parseSpecText(source.text, { file: source.file });
      if (parsed.value === undefined) return { issues: parsed.issues };
      value = parsed.value;
    }
    const path = 'spec' in source ? '' : source.path;
    const resolutions = new Map<string, PipelineResolution>();
    for (const reference of pipelineReferences(value)) {
      resolutions.set(reference, await resolveReference(path, reference, [...chain, path]));
    }
    const result = validatePipeline(value, {
      registry: options.registry,
      ...(parsed === undefined ? {} : { sourceMap: parsed.sourceMap }),
      ...('spec' in source ? {} : { file: source.file }),
      ...(params === undefined ? {} : { params }),
      pipelines: (reference) =>
        resolutions.get(reference) ?? {
          ok: false,
          code: 'PIPELINE_NOT_FOUND',
          message: `pipeline ${reference} was not loaded`,
          hint: 'check the path',
        },
    });
    const prior = parsed?.issues ?? [];
    if (result.ok && prior.length === 0) return { valid: result, issues: [] };
    return { issues: sortIssues([...prior, ...explainRefusedPaths(result.issues, value, resolutions)]) };
  };

  const rootFile = await loadFile(root, [], options.params);
  const subIssues = reached.flatMap((path) => loaded.get(path)?.issues ?? []);
  if (rootFile.valid === undefined || subIssues.length > 0) {
    return { ok: false, issues: [...rootFile.issues, ...subIssues] };
  }
  const pipelines: Record<string, PipelineSpec> = {};
  for (const [path, file] of loaded) if (file.valid !== undefined) pipelines[path] = file.valid.spec;
  return { ...rootFile.valid, specPath: 'spec' in root ? '' : root.path, pipelines };
}

/** The `pipeline:` strings of a spec's steps, once each, in declaration order (malformed ones are left out). */
function pipelineReferences(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  const steps = (value as { steps?: unknown }).steps;
  if (steps === null || typeof steps !== 'object' || Array.isArray(steps)) return [];
  const references = new Set<string>();
  for (const step of Object.values(steps as Record<string, unknown>)) {
    const reference = (step as { pipeline?: unknown } | null)?.pipeline;
    if (typeof reference === 'string') references.add(reference);
  }
  return [...references];
}

/**
 * The schema refuses a `pipeline:` value that does not look like a spec file with a generic message (`cannot be the
 * string "sub"`); when the path rules refuse it too, their reason (which extensions are allowed, that it is absolute,
 * ...) replaces that message at the same place.
 */
function explainRefusedPaths(
  issues: readonly SpecIssue[],
  value: unknown,
  resolutions: ReadonlyMap<string, PipelineResolution>,
): SpecIssue[] {
  if (value === null || typeof value !== 'object') return [...issues];
  const steps = (value as { steps?: Record<string, { pipeline?: unknown } | null> | null }).steps;
  return issues.map((issue) => {
    const [field, id, key, ...rest] = issue.segments;
    if (issue.code !== 'INVALID_VALUE' || field !== 'steps' || key !== 'pipeline' || rest.length > 0) return issue;
    if (typeof id !== 'string') return issue;
    const reference = steps?.[id]?.pipeline;
    const resolution = typeof reference === 'string' ? resolutions.get(reference) : undefined;
    if (resolution === undefined || resolution.ok || resolution.code !== 'PIPELINE_PATH_INVALID') return issue;
    return { ...issue, code: resolution.code, message: `step '${id}': ${resolution.message}`, hint: resolution.hint };
  });
}
