/**
 * The request of a command step, checked before anything runs, and the environment the process gets. Everything
 * here is pure validation: a request that fails it would fail the same way on every attempt, so the errors are
 * non-retryable.
 */
import { MloeError } from '../../core/errors';
import { ARTIFACT_TYPES, type ArtifactType } from '../artifacts';

/** What the engine asks the local runner to run. See `docs/command-steps.md` for the process's side of it. */
export interface CommandStepRequest {
  /** The step id; names the attempt directory and the stored artifacts' metadata. */
  stepId: string;
  /** The pipeline run id, passed to the process as `MLOE_WORKFLOW_ID`. */
  workflowId: string;
  /** The argv: `command[0]` is looked up on `PATH` (or is a path), no shell is involved. */
  command: string[];
  /** Extra environment variables; names are validated, values are never logged. */
  env?: Record<string, string>;
  /** An absolute directory to run in; defaults to the attempt's fresh working directory. */
  workingDir?: string;
  /** Written to `params.json` (`MLOE_PARAMS_FILE`). */
  params: Record<string, unknown>;
  /** ArtifactRefs (materialised as `inputs/<name>`) or JSON values. */
  inputs: Record<string, unknown>;
  /** Declared outputs: artifact types are files in the outputs directory, other types come from `outputs.json`. */
  outputs: Record<string, { type: string }>;
  /** The artifact store root (`file:///…`, `s3://…` or an absolute path) that outputs and logs are stored in. */
  artifactRoot: string;
  /**
   * Set (to `name@version`) when the command is `mloe step exec` of that built-in step: `outputs.json` then lists the
   * artifact outputs the step produced, with their types and metadata, under {@link BUILTIN_ARTIFACTS_KEY}, and
   * declared outputs it did not produce are left out (a built-in step's optional outputs), so the stored references
   * are those the step would have stored on the worker.
   */
  builtinStep?: string;
}

/**
 * The key of `outputs.json` under which `mloe step exec` lists a built-in step's artifact outputs: output name →
 * `{ type, metadata }` (not an identifier, so no declared output can have it).
 */
export const BUILTIN_ARTIFACTS_KEY = 'mloe.artifacts';

/** Names of inputs and outputs become file names: identifiers only, so they can never traverse or hide. */
const PORT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** POSIX-portable environment variable names. */
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Variables the runner sets itself; a step's `env` may not override them. */
export const RESERVED_ENV_PREFIX = 'MLOE_';

/**
 * Variables inherited from the worker's environment (besides `LC_*`): enough to find interpreters (pyenv, virtualenv,
 * conda) and to run with the worker's locale, and nothing else, so the worker's credentials do not leak into steps.
 */
export const INHERITED_ENV_NAMES = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'PYENV_ROOT',
  'PYENV_VERSION',
  'VIRTUAL_ENV',
  'CONDA_PREFIX',
  'CONDA_DEFAULT_ENV',
] as const;

function invalid(message: string): MloeError {
  return new MloeError('STEP_COMMAND_INVALID', message, { retryable: false });
}

/** Whether an artifact port type (a file) rather than a JSON value. */
export function isArtifactType(type: string): type is ArtifactType {
  return (ARTIFACT_TYPES as readonly string[]).includes(type);
}

/** Checks the parts of a request that do not need the file system; throws `STEP_COMMAND_INVALID`. */
export function checkRequest(request: CommandStepRequest): void {
  for (const [what, value] of [
    ['stepId', request.stepId],
    ['workflowId', request.workflowId],
  ] as const) {
    if (typeof value !== 'string' || value === '' || value.length > 256 || value.includes('\0')) {
      throw invalid(`${what} must be a non-empty string without NUL bytes`);
    }
  }
  const { command } = request;
  if (!Array.isArray(command) || command.length === 0) {
    throw invalid(`step ${request.stepId}: command must be a non-empty argv array`);
  }
  command.forEach((argument, index) => {
    if (typeof argument !== 'string') {
      throw invalid(`step ${request.stepId}: command[${index}] must be a string, got ${typeof argument}`);
    }
    if (argument.includes('\0')) throw invalid(`step ${request.stepId}: command[${index}] contains a NUL byte`);
  });
  if (command[0] === '') throw invalid(`step ${request.stepId}: command[0] (the executable) is empty`);

  for (const [name, value] of Object.entries(request.env ?? {})) {
    // The value is never part of a message: env often carries secrets.
    if (!ENV_NAME_PATTERN.test(name)) {
      throw invalid(`step ${request.stepId}: env name ${JSON.stringify(name)} is not a valid variable name`);
    }
    if (name.startsWith(RESERVED_ENV_PREFIX)) {
      throw invalid(`step ${request.stepId}: env name ${name} is reserved (${RESERVED_ENV_PREFIX}* is set by mloe)`);
    }
    if (typeof value !== 'string') throw invalid(`step ${request.stepId}: the value of env ${name} is not a string`);
    if (value.includes('\0')) throw invalid(`step ${request.stepId}: the value of env ${name} contains a NUL byte`);
  }

  for (const [kind, ports] of [
    ['input', request.inputs],
    ['output', request.outputs],
  ] as const) {
    if (ports === null || typeof ports !== 'object')
      throw invalid(`step ${request.stepId}: ${kind}s must be an object`);
    for (const name of Object.keys(ports)) {
      if (!PORT_NAME_PATTERN.test(name)) {
        throw invalid(`step ${request.stepId}: ${kind} name ${JSON.stringify(name)} is not an identifier`);
      }
    }
  }
  for (const [name, port] of Object.entries(request.outputs)) {
    if (port === null || typeof port !== 'object' || typeof port.type !== 'string') {
      throw invalid(`step ${request.stepId}: output ${name} has no type`);
    }
  }
  if (request.params === null || typeof request.params !== 'object' || Array.isArray(request.params)) {
    throw invalid(`step ${request.stepId}: params must be a JSON object`);
  }
}

/** The locations a process is told about. */
export interface AttemptPaths {
  workDir: string;
  inputsDir: string;
  outputsDir: string;
  paramsFile: string;
  inputsFile: string;
  tmpDir: string;
}

/**
 * The process environment: the allow-listed part of the worker's, then the step's `env`, then the `MLOE_*` contract
 * variables (which the step's `env` may not override).
 */
export function buildEnvironment(
  request: CommandStepRequest,
  paths: AttemptPaths,
  inherited: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value === undefined) continue;
    if ((INHERITED_ENV_NAMES as readonly string[]).includes(name) || name.startsWith('LC_')) environment[name] = value;
  }
  Object.assign(environment, request.env ?? {});
  Object.assign(environment, {
    TMPDIR: paths.tmpDir,
    MLOE_STEP_ID: request.stepId,
    MLOE_WORKFLOW_ID: request.workflowId,
    MLOE_WORK_DIR: paths.workDir,
    MLOE_INPUTS_DIR: paths.inputsDir,
    MLOE_INPUTS_FILE: paths.inputsFile,
    MLOE_OUTPUTS_DIR: paths.outputsDir,
    MLOE_PARAMS_FILE: paths.paramsFile,
  });
  return environment;
}
