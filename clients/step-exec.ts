/**
 * `mloe step exec NAME@VERSION`: runs a built-in step under the command-step contract (docs/command-steps.md), as
 * the container command of a `uses:` step on a remote executor (docs/executors.md). It reads the step's inputs from
 * `$MLOE_INPUTS_FILE` (artifacts from the staged files it names, each checked against its digest), runs the same
 * implementation the worker runs (`activities/steps/builtin.ts`), and writes the step's artifact outputs to
 * `$MLOE_OUTPUTS_DIR/<name>`, its values to `outputs.json` (with each artifact's type and metadata under
 * `mloe.artifacts`) and its metrics to `metrics.json`. Nothing here talks to the run's store, Temporal or MLflow:
 * the worker stores what it wrote. The CLI loads this module only for this command.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { z } from 'zod';

import { artifactRefSchema, FileArtifactStore, shortDigest, type ArtifactRef } from '../activities/artifacts';
import { BUILTIN_ARTIFACTS_KEY } from '../activities/runner/contract';
import { BUILTIN_STEP_IMPLEMENTATIONS } from '../activities/steps/run-step';
import type { StepContext, StepImplementations } from '../activities/steps/registry';
import { stepExecFailureLine } from '../activities/steps/remote-builtin';
import { StagedInputStore } from '../activities/steps/staged-inputs-store';
import { MloeError, ensureError } from '../core/errors';
import type { JsonValue } from '../core/spec';
import { CONTAINER_BUILTIN_STEPS, runsInContainer } from '../core/steps/remote';
import type { ConfigEnv } from '../workers/config';
import type { StartDevIo } from './start-dev';

/** An absolute path the contract names. */
const contractPath = z
  .string({ error: 'is not set' })
  .min(1, 'is empty')
  .refine((path) => isAbsolute(path), 'is not an absolute path');

/** The contract's variables `mloe step exec` reads (the runner and the remote executors set them). */
const contractEnvSchema = z.object({
  MLOE_INPUTS_FILE: contractPath,
  MLOE_PARAMS_FILE: contractPath,
  MLOE_OUTPUTS_DIR: contractPath,
  MLOE_WORK_DIR: contractPath,
  MLOE_STEP_ID: z.string().min(1).optional(),
  MLOE_WORKFLOW_ID: z.string().min(1).optional(),
  TMPDIR: z.string().min(1).optional(),
});

/** Where the contract put the step's files. */
export type StepContract = z.output<typeof contractEnvSchema>;

/** Reads the contract's variables; `STEP_COMMAND_INVALID` naming each one missing or malformed. */
export function stepContractFromEnv(env: ConfigEnv): StepContract {
  const parsed = contractEnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
  throw new MloeError(
    'STEP_COMMAND_INVALID',
    `mloe step exec runs inside a command step, whose runner sets the contract's variables: ${problems.join('; ')} ` +
      '(docs/command-steps.md)',
  );
}

/** What one execution wrote. */
export interface StepExecSummary {
  ref: string;
  /** Artifact outputs written to the outputs directory. */
  artifacts: Record<string, ArtifactRef>;
  /** Values written to `outputs.json`. */
  values: Record<string, JsonValue>;
  metrics?: Record<string, number>;
}

/** The implementation of a built-in step that runs in a container; `CONFIG_INVALID` naming those that do. */
function implementationOf(ref: string, implementations: StepImplementations) {
  const implementation = implementations.get(ref);
  if (implementation === undefined || !runsInContainer(ref)) {
    const known = implementation === undefined ? 'there is no built-in step' : 'the built-in step';
    throw new MloeError(
      'CONFIG_INVALID',
      `${known} ${JSON.stringify(ref)}${implementation === undefined ? '' : ' runs on the worker only'}: ` +
        `mloe step exec runs ${CONTAINER_BUILTIN_STEPS.join(', ')} (name@version, exactly)`,
    );
  }
  return implementation;
}

/** A JSON object file of the contract; `STEP_COMMAND_INVALID` when it is missing or not a JSON object. */
async function readContractObject(path: string, variable: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MloeError(
      'STEP_COMMAND_INVALID',
      `${variable} names ${path}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): ` +
        'the stage-in step writes it before the command starts',
      { cause: error },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MloeError('STEP_COMMAND_INVALID', `${variable} (${path}) is not valid JSON`, { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MloeError('STEP_COMMAND_INVALID', `${variable} (${path}) must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * The step's input values from `inputs.json`: each artifact (a reference with the `path` of its staged file) staged
 * into `store` under its reference, every other value as it is.
 */
async function readInputs(contract: StepContract, store: StagedInputStore): Promise<Record<string, JsonValue>> {
  const described = await readContractObject(contract.MLOE_INPUTS_FILE, 'MLOE_INPUTS_FILE');
  const inputs: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(described)) {
    if (value !== null && typeof value === 'object' && 'digest' in value && 'path' in value) {
      const { path, ...rest } = value as { path: unknown };
      const ref = artifactRefSchema.safeParse(rest);
      if (!ref.success || typeof path !== 'string' || !isAbsolute(path)) {
        throw new MloeError(
          'STEP_COMMAND_INVALID',
          `input ${name} in MLOE_INPUTS_FILE is not an artifact reference with the absolute path of its file: ${
            ref.success ? 'path is not absolute' : z.prettifyError(ref.error)
          }`,
        );
      }
      await store.stage(name, ref.data, path);
      inputs[name] = ref.data;
    } else {
      inputs[name] = value as JsonValue;
    }
  }
  return inputs;
}

/**
 * Runs built-in step `ref` under the contract: inputs from the staged files, outputs into `MLOE_OUTPUTS_DIR`.
 * Rejects with the step's own error (`DATA_INVALID`, ...) or `STEP_COMMAND_INVALID` / `ARTIFACT_NOT_FOUND` /
 * `ARTIFACT_CORRUPT` for a broken contract, `CONFIG_INVALID` for a step it cannot run.
 */
export async function execBuiltinStep(
  ref: string,
  contract: StepContract,
  options: { signal?: AbortSignal; implementations?: StepImplementations } = {},
): Promise<StepExecSummary> {
  const implementation = implementationOf(ref, options.implementations ?? BUILTIN_STEP_IMPLEMENTATIONS);
  const outputsDir = contract.MLOE_OUTPUTS_DIR;
  const isDirectory = await stat(outputsDir).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isDirectory) {
    throw new MloeError('STEP_COMMAND_INVALID', `MLOE_OUTPUTS_DIR names ${outputsDir}, which is not a directory`);
  }
  // Built-in steps take no parameters, but a missing params.json means the contract was not set up.
  await readContractObject(contract.MLOE_PARAMS_FILE, 'MLOE_PARAMS_FILE');
  const scratch = await mkdtemp(join(contract.TMPDIR ?? tmpdir(), 'mloe-step-exec-'));
  const store = new StagedInputStore(new FileArtifactStore({ root: join(scratch, 'artifacts') }));
  try {
    const inputs = await readInputs(contract, store);
    const context: StepContext = {
      stepId: contract.MLOE_STEP_ID ?? implementation.descriptor.name,
      workflowId: contract.MLOE_WORKFLOW_ID ?? 'mloe-step-exec',
      store,
      workingDir: contract.MLOE_WORK_DIR,
      attempt: 1,
      signal: options.signal ?? new AbortController().signal,
    };
    const output = await implementation.run(inputs, context);
    const artifacts: Record<string, ArtifactRef> = {};
    const values: Record<string, JsonValue> = {};
    for (const [name, value] of Object.entries(output.outputs)) {
      const artifact = artifactRefSchema.safeParse(value);
      if (artifact.success) {
        await pipeline(await store.get(artifact.data), createWriteStream(join(outputsDir, name), { flags: 'wx' }));
        artifacts[name] = artifact.data;
      } else values[name] = value;
    }
    const listed = Object.fromEntries(
      Object.entries(artifacts).map(([name, artifact]) => [name, { type: artifact.type, metadata: artifact.metadata }]),
    );
    await writeFile(
      join(outputsDir, 'outputs.json'),
      `${JSON.stringify({ ...values, [BUILTIN_ARTIFACTS_KEY]: listed }, null, 2)}\n`,
      { flag: 'wx' },
    );
    if (output.metrics !== undefined) {
      await writeFile(join(outputsDir, 'metrics.json'), `${JSON.stringify(output.metrics, null, 2)}\n`, {
        flag: 'wx',
      });
    }
    return { ref, artifacts, values, ...(output.metrics === undefined ? {} : { metrics: output.metrics }) };
  } finally {
    await store.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * `mloe step exec`: runs the step and prints what it wrote (the step's log); exit code 0 when it succeeded, else
 * `error: CODE: message` and {@link stepExecFailureLine} on stderr and exit code 2 for `CONFIG_INVALID` and
 * `STEP_COMMAND_INVALID` (an unknown step, a missing contract variable, refused inputs), 1 for anything else. SIGTERM (the kubelet stopping the container) ends the process at once, as Node's default does:
 * nothing it wrote is collected from a cancelled job.
 */
export async function runStepExec(ref: string, env: ConfigEnv, io: StartDevIo): Promise<number> {
  const started = performance.now();
  try {
    // The step first: an unknown one is the mistake whatever the environment.
    implementationOf(ref, BUILTIN_STEP_IMPLEMENTATIONS);
    const contract = stepContractFromEnv(env);
    io.stdout(`mloe step exec ${ref}: step ${contract.MLOE_STEP_ID ?? '?'} of run ${contract.MLOE_WORKFLOW_ID ?? '?'}`);
    const summary = await execBuiltinStep(ref, contract);
    for (const [name, artifact] of Object.entries(summary.artifacts)) {
      io.stdout(`  output ${name}: ${artifact.type} ${shortDigest(artifact.digest)} (${artifact.size} bytes)`);
    }
    const valueNames = Object.keys(summary.values);
    if (valueNames.length > 0) io.stdout(`  values: ${valueNames.join(', ')}`);
    if (summary.metrics !== undefined) {
      io.stdout(
        `  metrics: ${Object.entries(summary.metrics)
          .map(([key, value]) => `${key}=${value}`)
          .join(', ')}`,
      );
    }
    io.stdout(`mloe step exec ${ref}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (unknown) {
    const error = ensureError(unknown);
    const code = error instanceof MloeError ? error.code : 'INTERNAL';
    io.stderr(`error: ${code}: ${error.message}`);
    // Read back by the worker from the job's log tail: the step's code, and whether a retry could help.
    io.stderr(stepExecFailureLine(code, !(error instanceof MloeError) || error.retryable));
    return error instanceof MloeError && (code === 'CONFIG_INVALID' || code === 'STEP_COMMAND_INVALID') ? 2 : 1;
  }
}
