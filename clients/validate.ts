/**
 * `mloe validate FILE`: checks a pipeline spec and prints every problem as `file:line:col  path  message (hint)`,
 * or a short summary of a valid pipeline. Also the file-reading entry point the other commands will share, so that
 * nothing starts for an invalid spec.
 */
import {
  SpecInvalidError,
  createStepRegistry,
  executionLevels,
  formatIssue,
  paramValueFromText,
  type PipelineTreeResult,
  type StepRegistry,
  type ValidPipeline,
  type ValidPipelineTree,
} from '../core/spec';
import { BUILTIN_STEPS } from '../core/steps/builtin';
import { ConfigError, ensureError } from '../core/errors';
import { loadPipelineFileTree } from './spec-files';
import type { StartDevIo } from './start-dev';

/** The registry the CLI validates against: the built-in steps (registered step packages come later). */
export function defaultRegistry(): StepRegistry {
  return createStepRegistry(BUILTIN_STEPS);
}

/** Options of {@link validatePipelineFile}. */
export interface ValidateFileOptions {
  registry?: StepRegistry;
  /** Parameter values as `name=value` texts, converted by each parameter's declared type. */
  params?: readonly string[];
}

/**
 * Reads and validates a spec file and every sub-pipeline it runs (recursively, each error with its own file).
 * Parameter texts are converted by the declared types (the spec is parsed first to learn them). Throws
 * `CONFIG_INVALID` when the file cannot be read or a `--param` is not `name=value`.
 */
export async function validatePipelineFile(
  file: string,
  options: ValidateFileOptions = {},
): Promise<PipelineTreeResult> {
  const registry = options.registry ?? defaultRegistry();
  const result = await loadPipelineFileTree(file, { registry });
  if (!result.ok || options.params === undefined) return result;
  const params = parseParamTexts(options.params, result);
  return loadPipelineFileTree(file, { registry, params });
}

/** Like {@link validatePipelineFile}, but throws `SPEC_INVALID` with every problem: for commands that go on to run. */
export async function loadPipelineFile(file: string, options: ValidateFileOptions = {}): Promise<ValidPipelineTree> {
  const result = await validatePipelineFile(file, options);
  if (!result.ok) throw new SpecInvalidError(result.issues);
  return result;
}

/** `name=value` texts to values, each converted by its parameter's declared type. */
function parseParamTexts(texts: readonly string[], pipeline: ValidPipeline): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const text of texts) {
    const equals = text.indexOf('=');
    if (equals <= 0) throw new ConfigError(`--param takes name=value, got '${text}'`);
    const name = text.slice(0, equals);
    const value = text.slice(equals + 1);
    const param = pipeline.spec.params?.[name];
    values[name] = param === undefined ? value : paramValueFromText(param, value);
  }
  return values;
}

/** Runs `mloe validate` and returns its exit code: 0 for a valid spec, 1 otherwise. */
export async function runValidate(
  file: string,
  options: { param?: readonly string[] },
  io: StartDevIo,
): Promise<number> {
  let result: PipelineTreeResult;
  try {
    result = await validatePipelineFile(file, options.param === undefined ? {} : { params: options.param });
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  }
  if (!result.ok) {
    for (const issue of result.issues) io.stdout(formatIssue(issue));
    const count = result.issues.length;
    io.stdout(`${file}: ${count} ${count === 1 ? 'error' : 'errors'}`);
    return 1;
  }
  const { spec } = result;
  const params = Object.keys(spec.params ?? {});
  const levels = executionLevels(result.graph);
  io.stdout(`${file}: pipeline ${spec.metadata.name} is valid`);
  io.stdout(`  params (${params.length}): ${params.length === 0 ? '-' : params.join(', ')}`);
  io.stdout(`  steps (${result.order.length}): ${levels.map((level) => level.join(' | ')).join(' → ')}`);
  const pipelines = Object.keys(result.pipelines);
  if (pipelines.length > 0) io.stdout(`  sub-pipelines (${pipelines.length}): ${pipelines.join(', ')}`);
  return 0;
}
