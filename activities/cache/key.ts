/**
 * Cache keys. A step execution's key is the sha256 of its {@link CacheKeyParts}: what runs (a built-in step's
 * `name@version` and code hash, or a command step's command, environment, image and working directory), the digest of
 * every input value (an artifact counts by its content digest, never by its URI), the run's parameters for command
 * steps (they receive them all in `params.json`), and the content of files the step reads beyond its inputs (a
 * built-in step's data file, the scripts a command names). The parts are kept with each cache entry so a miss can
 * say which of them changed.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

import type { JsonValue } from '../../core/spec';
import { canonicalJson } from '../../core/canonical-json';
import { parseArtifactRef, sha256Hex, shortDigest } from '../artifacts';
import { fileDigest, valueDigest } from './digests';

/** One part of a key: its digest, and a short readable form for explanations (never a long or secret value). */
export interface KeyPart {
  digest: string;
  preview?: string | undefined;
}

/** What a cache key is computed from. */
export interface CacheKeyParts {
  /**
   * What runs: `name@version` (or `run`) and the digest of the implementation or command; for a built-in step on a
   * remote executor, also the image it runs in (in the digest too; absent for steps on the worker, whose keys it
   * leaves as they were).
   */
  definition: { ref: string; digest: string; image?: string | undefined };
  /** Each input port's value. */
  inputs: Record<string, KeyPart>;
  /** The run's parameters, for command steps; empty for registered steps (they only see their inputs). */
  params: Record<string, KeyPart>;
  /** Content the step reads besides its inputs: data files, scripts named on the command line. */
  files: Record<string, KeyPart>;
}

/** The key of a set of parts: 64 hex digits. */
export function cacheKeyOf(parts: CacheKeyParts): string {
  return sha256Hex(canonicalJson(parts));
}

/** Names that suggest a secret: their values never appear in previews. */
const SECRET_NAME = /(secret|password|passwd|token|api[-_]?key|credential|private)/i;

/** Previews longer than this are left out. */
const MAX_PREVIEW_LENGTH = 48;

/** The key part of a value: artifacts by digest, anything else by the digest of its canonical JSON. */
export function valuePart(name: string, value: JsonValue | undefined): KeyPart {
  const artifacts = artifactDigests(value);
  if (artifacts !== undefined) {
    // A list of one artifact is not the artifact itself: only a lone reference counts by its own digest.
    const digest = !Array.isArray(value) && artifacts.length === 1 ? (artifacts[0] ?? '') : valueDigest(artifacts);
    return { digest, preview: artifacts.map(shortDigest).join(', ') };
  }
  const digest = valueDigest(value ?? null);
  return isPreviewable(name, value) ? { digest, preview: JSON.stringify(value) } : { digest };
}

/**
 * Whether a value may be shown in explanations and records: numbers, booleans and short strings that do not look like
 * URLs or credentials, under a name that does not suggest a secret. Lists and objects never are (their keys could).
 */
function isPreviewable(name: string, value: JsonValue | undefined): boolean {
  if (isSecretName(name)) return false;
  if (typeof value === 'number' || typeof value === 'boolean') return true;
  return typeof value === 'string' && value.length <= MAX_PREVIEW_LENGTH && !/[@:]/.test(value);
}

/** Whether a name suggests a secret (`token`, `password`, `api_key`, ...): its value is never shown or recorded. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The digests of an artifact reference or a list of them; `undefined` when the value holds anything else. */
function artifactDigests(value: JsonValue | undefined): string[] | undefined {
  const values = Array.isArray(value) ? value : [value];
  if (values.length === 0) return undefined;
  const digests: string[] = [];
  for (const element of values) {
    if (element === null || typeof element !== 'object' || Array.isArray(element) || !('digest' in element)) {
      return undefined;
    }
    try {
      digests.push(parseArtifactRef(element).digest);
    } catch {
      return undefined;
    }
  }
  return digests;
}

/** The parts of every input value. */
export function inputParts(inputs: Readonly<Record<string, JsonValue>>): Record<string, KeyPart> {
  return Object.fromEntries(Object.entries(inputs).map(([name, value]) => [name, valuePart(name, value)]));
}

/** Digests of files, as key parts. */
export function fileParts(files: Readonly<Record<string, string>>): Record<string, KeyPart> {
  return Object.fromEntries(
    Object.entries(files).map(([name, digest]) => [name, { digest, preview: shortDigest(digest) }]),
  );
}

/** A command step as the cache sees it: the resolved command and everything that changes what it does. */
export interface CommandDefinition {
  command: readonly string[];
  env?: Readonly<Record<string, string>>;
  image?: string;
  workingDir?: string;
  /** Declared output ports and their types. */
  outputs: Readonly<Record<string, { type: string }>>;
}

/** The definition part of a command step. Environment values count by digest only: they may hold secrets. */
export function commandDefinition(definition: CommandDefinition): CacheKeyParts['definition'] {
  return { ref: 'run', digest: valueDigest(definition) };
}

/**
 * The digests of files a command names: every argument that is a path to an existing regular file inside the
 * pipeline's working directory, such as the script in `[python, train.py]`. Relative arguments count only when the
 * command runs in a directory of the pipeline (`cwd`; otherwise it runs in a fresh directory where they name
 * nothing of ours). Interpreters and tools outside the working directory are left out: they are the environment,
 * pinned by the image.
 */
export async function commandFileDigests(
  command: readonly string[],
  pipelineDir: string,
  cwd: string | undefined,
): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const root = resolve(pipelineDir);
  const inside = root === '/' ? '/' : `${root}/`;
  for (const [position, argument] of command.entries()) {
    if (argument === '' || argument.startsWith('-') || argument.includes('\0')) continue;
    if (!isAbsolute(argument) && cwd === undefined) continue;
    const path = isAbsolute(argument) ? resolve(argument) : resolve(cwd ?? root, argument);
    if (!path.startsWith(inside)) continue;
    const isFile = await stat(path).then(
      (stats) => stats.isFile(),
      () => false,
    );
    if (isFile) digests[`argv[${position}] ${argument}`] = await fileDigest(path);
  }
  return digests;
}
