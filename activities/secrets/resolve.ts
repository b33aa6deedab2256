/**
 * Resolving a step's secret references to values, inside the activity only: the values go to the step's process
 * environment and to the redactor, never into requests, results, records, MLflow or logs. `env:` reads the worker's
 * environment as configured (`workers/config.ts`), `file:` reads a file under the worker's allowed secret roots
 * (symlinks resolved first, so none points outside), `k8s:` is for the Kubernetes executor, which passes it to the
 * pod as a `secretKeyRef`.
 */
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';

import { MloeError, ensureError } from '../../core/errors';
import { parseSecretRef, type SecretRef } from '../../core/spec/secrets';
import { processRedactor, type SecretRedactor } from './redactor';

/** Where a worker's secrets come from. */
export interface SecretSources {
  /** The worker's environment, for `env:` references (`process.env` as `workers/config.ts` hands it over). */
  env: Readonly<Record<string, string | undefined>>;
  /** Absolute directories `file:` references may name files under (`MLOE_SECRET_FILE_ROOTS`). */
  fileRoots: readonly string[];
}

/** The default secret roots: where Docker and Kubernetes mount secrets. */
export const DEFAULT_SECRET_FILE_ROOTS: readonly string[] = ['/run/secrets', '/var/run/secrets'];

/** A step's `run.secrets`, as the spec has them. */
export type StepSecrets = Record<string, { secretRef: string }>;

function refInvalid(message: string): MloeError {
  return new MloeError('SECRET_REF_INVALID', message, { retryable: false });
}

function notFound(message: string): MloeError {
  return new MloeError('SECRET_NOT_FOUND', message, { retryable: false });
}

/** Parses every reference of a step; `SECRET_REF_INVALID` naming the variable for a bad one. */
export function parseStepSecrets(stepId: string, secrets: StepSecrets): Map<string, SecretRef> {
  const parsed = new Map<string, SecretRef>();
  for (const [name, { secretRef }] of Object.entries(secrets)) {
    const ref = parseSecretRef(secretRef);
    if (typeof ref === 'string') throw refInvalid(`step ${stepId}: secrets.${name}: ${ref}`);
    parsed.set(name, ref);
  }
  return parsed;
}

/** Whether `path` is `root` or inside it. */
function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

/**
 * Reads a `file:` secret: an absolute path, or one relative to the first root; after resolving symlinks it must lie
 * under one of the roots. `SECRET_REF_INVALID` when it does not, `SECRET_NOT_FOUND` when it cannot be read.
 */
async function readSecretFile(stepId: string, name: string, path: string, roots: readonly string[]): Promise<string> {
  const where = `step ${stepId}: secrets.${name} (file:${path})`;
  if (roots.length === 0) {
    throw refInvalid(`${where}: this worker allows no secret files; set MLOE_SECRET_FILE_ROOTS to their directories`);
  }
  const candidate = isAbsolute(path) ? resolve(path) : resolve(roots[0] ?? '/', path);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (error) {
    throw notFound(`${where}: no such file on this worker (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  const realRoots = await Promise.all(roots.map((root) => realpath(root).catch(() => resolve(root))));
  if (!realRoots.some((root) => isInside(root, real))) {
    throw refInvalid(
      `${where}: the file is outside the worker's secret roots (${roots.join(', ')}); move it under one of them or ` +
        'add its directory to MLOE_SECRET_FILE_ROOTS',
    );
  }
  try {
    return (await readFile(real, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw notFound(`${where}: cannot read it (${ensureError(error).message.replace(real, '<file>')})`);
  }
}

/**
 * The values of a local step's secrets, by variable name, each registered with the redactor before it is returned.
 * `k8s:` references are refused here (only the Kubernetes executor can resolve them).
 */
export async function resolveStepSecrets(
  stepId: string,
  secrets: StepSecrets,
  sources: SecretSources,
  redactor: SecretRedactor = processRedactor,
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const [name, ref] of parseStepSecrets(stepId, secrets)) {
    let value: string;
    switch (ref.kind) {
      case 'env': {
        const found = sources.env[ref.name];
        if (found === undefined) {
          throw notFound(`step ${stepId}: secrets.${name} (env:${ref.name}): ${ref.name} is not set on this worker`);
        }
        value = found;
        break;
      }
      case 'file':
        value = await readSecretFile(stepId, name, ref.path, sources.fileRoots);
        break;
      case 'k8s':
        throw refInvalid(
          `step ${stepId}: secrets.${name} (k8s:${ref.secret}/${ref.key}): Kubernetes secrets are only for steps with ` +
            '`executor: kubernetes`; use env: or file: for steps on the worker',
        );
      case 'aws-sm':
      case 'ssm':
        throw refInvalid(
          `step ${stepId}: secrets.${name} (${ref.kind}:${ref.valueFrom}): AWS secrets are only for steps with ` +
            '`executor: batch` (their job definition declares them); use env: or file: for steps on the worker',
        );
    }
    redactor.add(value);
    values[name] = value;
  }
  return values;
}
