/**
 * Into a pipeline from text: parse, then validate, one file. Entry points that run or validate a file for a user
 * (`mloe validate`, `mloe run`, the client API) go through `loadPipelineTree` instead, which does this for the file
 * and for every sub-pipeline its `pipeline:` steps name (here they are not checked against their files).
 */
import { SpecInvalidError, sortIssues } from './issues';
import { parseSpecText } from './parse';
import type { StepRegistry } from './registry';
import { validatePipeline, type ValidPipeline, type ValidationResult } from './validate';

/** Options of {@link loadPipeline}. */
export interface LoadOptions {
  /** The file name errors show. */
  file?: string;
  /** The steps `uses:` may name. */
  registry: StepRegistry;
  /** Parameter values of a run; when given, they are checked and required parameters must have one. */
  params?: Readonly<Record<string, unknown>>;
}

/** Parses and validates spec text (YAML or JSON), collecting every problem. */
export function loadPipeline(text: string, options: LoadOptions): ValidationResult {
  const parsed = parseSpecText(text, options.file === undefined ? {} : { file: options.file });
  if (parsed.value === undefined) return { ok: false, issues: parsed.issues };
  const result = validatePipeline(parsed.value, {
    registry: options.registry,
    sourceMap: parsed.sourceMap,
    ...(options.file === undefined ? {} : { file: options.file }),
    ...(options.params === undefined ? {} : { params: options.params }),
  });
  if (parsed.issues.length === 0) return result;
  return { ok: false, issues: sortIssues([...parsed.issues, ...result.issues]) };
}

/** Like {@link loadPipeline}, but throws {@link SpecInvalidError} (code `SPEC_INVALID`) listing every problem. */
export function loadPipelineOrThrow(text: string, options: LoadOptions): ValidPipeline {
  const result = loadPipeline(text, options);
  if (!result.ok) throw new SpecInvalidError(result.issues);
  return result;
}
