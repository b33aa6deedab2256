/**
 * Sub-pipelines: a step with `pipeline: ./train.yaml` runs another spec as a child workflow, like a GitHub Actions
 * reusable workflow (`uses: ./.github/workflows/x.yml` with `with:` and `outputs:`), an Argo `templateRef` or a
 * Kubeflow nested pipeline. This module holds the pure rules: how a path resolves, what the step's ports are (the
 * sub-pipeline's parameters are its inputs, its declared `outputs` its outputs) and how a validated set of specs is
 * looked up by path. Reading files is the client's job (`load-tree.ts` takes a reader); the workflow receives every
 * spec it may run inside its input and never reads a file.
 *
 * Path rules: a path is relative to the directory of the spec that names it; `/` separates segments; absolute paths,
 * URLs (`scheme://...`), drive paths (`C:...`), `~`, backslashes and NUL characters are refused; the file name must end
 * in `.yaml`, `.yml` or `.json`; and a path may not leave the directory of the root spec (the file `mloe run` or
 * `mloe validate` was given), so a pipeline and everything it runs can be moved or shipped as one directory and a spec
 * cannot make the client read arbitrary files. These rules are checked here, on the path as written, before anything
 * is read; the reader (`clients/spec-files.ts`) then checks what the path is on disk: its real path (symbolic links
 * resolved) must stay under the root spec's real directory, and it must be a regular file of at most 1 MiB.
 */
import type { SpecIssueCode } from './issues';
import { isParamRequired } from './params';
import type { InputPort, OutputPort, ParamSpec, PipelineSpec } from './schema';

/** A sub-pipeline path resolved against the spec that names it: a key of the run's set of specs, or why not. */
export type PipelinePathResult =
  { ok: true; path: string } | { ok: false; code: 'PIPELINE_PATH_INVALID'; message: string; hint: string };

/** What a step's `pipeline:` names, as the validator is told: a valid spec, or the problem to report at the step. */
export type PipelineResolution =
  { ok: true; path: string; spec: PipelineSpec } | { ok: false; code: SpecIssueCode; message: string; hint: string };

/** Finds the validated spec a step's `pipeline:` names (as written in the spec), or `undefined`. */
export type PipelineLookup = (reference: string) => PipelineSpec | undefined;

/** The file names a sub-pipeline path may end in: YAML or JSON specs. */
const PIPELINE_FILE_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

/** The directory part of a path relative to the root directory (`''` for the root directory itself). */
export function directoryOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/**
 * Resolves a step's `pipeline:` path against the path of the spec that names it (both relative to the root spec's
 * directory; the root spec's own path is its file name, or `''` for a spec object). Returns the normalised path
 * (`lib/train.yaml`), which keys the specs a run carries.
 */
export function resolvePipelinePath(from: string, reference: string): PipelinePathResult {
  const refuse = (message: string, hint: string): PipelinePathResult => ({
    ok: false,
    code: 'PIPELINE_PATH_INVALID',
    message,
    hint,
  });
  const relativeHint = "write a path relative to this spec's file, e.g. './train.yaml' or 'lib/train.yaml'";
  if (reference.includes('\\')) {
    return refuse(`'${reference}' contains a backslash`, `separate directories with '/': ${relativeHint}`);
  }
  if (reference.includes('\0')) {
    return refuse(`'${reference.replaceAll('\0', '\\0')}' contains a NUL character`, relativeHint);
  }
  // Only `scheme://` is a URL: `train:v2.yaml` is a file name (a colon is a valid character on POSIX file systems).
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(reference)) {
    return refuse(`'${reference}' is a URL; a sub-pipeline is a file next to this spec`, relativeHint);
  }
  if (/^[a-z]:/i.test(reference)) {
    return refuse(`'${reference}' is a drive path; sub-pipeline paths are relative`, relativeHint);
  }
  if (reference.startsWith('/') || reference.startsWith('~')) {
    return refuse(`'${reference}' is an absolute path; sub-pipeline paths are relative`, relativeHint);
  }
  // Before anything is read: a file that is not a spec by its name is never opened, so its contents cannot leak.
  if (!PIPELINE_FILE_EXTENSIONS.some((extension) => reference.endsWith(extension))) {
    return refuse(
      `'${reference}' is not a pipeline spec file: its name must end in .yaml, .yml or .json`,
      "point pipeline: at a YAML or JSON spec file, e.g. './train.yaml' or 'lib/evaluate.json'",
    );
  }
  const segments = directoryOf(from)
    .split('/')
    .filter((segment) => segment !== '');
  for (const segment of reference.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) {
        return refuse(
          `'${reference}' leaves the directory of the root pipeline spec`,
          "keep sub-pipelines in the root spec's directory or below it, so a pipeline's files travel together",
        );
      }
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return { ok: true, path: segments.join('/') };
}

/** The input port a parameter of a sub-pipeline is, seen from the step that runs it (an `enum` is a string). */
export function paramInputPort(param: ParamSpec): InputPort {
  return {
    type: param.type === 'enum' ? 'string' : param.type,
    ...(param.type === 'list' && param.items !== undefined ? { items: param.items } : {}),
    ...(param.description === undefined ? {} : { description: param.description }),
    required: isParamRequired(param),
    ...(param.default === undefined ? {} : { default: param.default }),
  };
}

/** The ports of a step that runs a pipeline: its parameters as inputs, its declared `outputs` as outputs. */
export function pipelinePorts(spec: Pick<PipelineSpec, 'params' | 'outputs'>): {
  inputs: Record<string, InputPort>;
  outputs: Record<string, OutputPort>;
} {
  const inputs: Record<string, InputPort> = {};
  for (const [name, param] of Object.entries(spec.params ?? {})) inputs[name] = paramInputPort(param);
  const outputs: Record<string, OutputPort> = {};
  for (const [name, output] of Object.entries(spec.outputs ?? {})) {
    outputs[name] = {
      type: output.type,
      ...(output.items === undefined ? {} : { items: output.items }),
      ...(output.description === undefined ? {} : { description: output.description }),
    };
  }
  return { inputs, outputs };
}
