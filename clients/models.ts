/**
 * `mloe models`: the MLflow model registry from the command line, through the typed MLflow client, against
 * `MLFLOW_TRACKING_URI` (and MLflow's other variables), or, when it is unset, the embedded server `mloe dev` starts on
 * 127.0.0.1:5000.
 *
 * ```
 * mloe models list                              registered models: name, latest version, aliases, last update
 * mloe models versions NAME                     its versions, newest first: version, created, aliases, run, source
 * mloe models show NAME@ALIAS | NAME/VERSION    one version: source, run, status, aliases, tags, MLmodel
 * mloe models alias set NAME ALIAS VERSION      point an alias at a version
 * mloe models alias delete NAME ALIAS           remove an alias
 * mloe models rollback NAME [--reason R]        champion back to previous, recorded (--identity, MLOE_IDENTITY)
 * ```
 *
 * Errors say what was asked for and where: an unreachable server (and how to start one), an unknown model, version
 * or alias (exit 1); a malformed argument (exit 2). The CLI loads this module only for these commands.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ACTIVITY_MLFLOW_LIMITS } from '../activities/tracking/config';
import {
  createMlflowClient,
  isMlflowError,
  type MlflowClient,
  type MlflowConfig,
  type ModelVersion,
} from '../activities/mlflow';
import { MLOE_TAGS } from '../activities/tracking/names';
import { rollbackAlias } from '../activities/promotion/aliases';
import { DEFAULT_PREVIOUS_ALIAS, DEFAULT_PROMOTION_ALIAS } from '../core/promotion';
import { ensureError } from '../core/errors';
import type { StartDevIo } from './start-dev';

/** Where `mloe models` talks to, as `workers/config.ts` resolved it. */
export interface ModelsTarget {
  mlflow: MlflowConfig;
  /** `env`: `MLFLOW_TRACKING_URI`; `default`: `mloe dev`'s server. */
  origin: 'env' | 'default';
}

/** A usage error (exit 2): a malformed argument. */
class UsageError extends Error {}

/** `NAME@ALIAS` or `NAME/VERSION`. */
export type VersionReference = { name: string; alias: string } | { name: string; version: string };

/** Parses `NAME@ALIAS` or `NAME/VERSION` (a model name may hold `/`; the version is the last segment). */
export function parseVersionReference(text: string): VersionReference {
  const at = text.lastIndexOf('@');
  if (at > 0 && at < text.length - 1) return { name: text.slice(0, at), alias: text.slice(at + 1) };
  const match = /^(.+)\/(\d+)$/.exec(text);
  if (match?.[1] !== undefined && match[2] !== undefined) return { name: match[1], version: match[2] };
  throw new UsageError(
    `expected NAME@ALIAS or NAME/VERSION (e.g. housing-price@champion, housing-price/3), got "${text}"`,
  );
}

/** The client of `mloe models`: few and short retries, none when nobody chose the server (`mloe dev` may be down). */
export function modelsClient(target: ModelsTarget): MlflowClient {
  const limits = ACTIVITY_MLFLOW_LIMITS;
  return createMlflowClient({
    ...target.mlflow,
    timeoutMs: Math.min(target.mlflow.timeoutMs, limits.timeoutMs),
    retry: {
      ...target.mlflow.retry,
      maxRetries: target.origin === 'default' ? 0 : Math.min(target.mlflow.retry.maxRetries, limits.maxRetries),
      backoffBaseMs: Math.min(target.mlflow.retry.backoffBaseMs, limits.backoffBaseMs),
      backoffJitterMs: Math.min(target.mlflow.retry.backoffJitterMs, limits.backoffBaseMs),
    },
  });
}

/** Runs one `mloe models` action; its exit code: 0, 1 (a failure, said on stderr) or 2 (a usage error). */
export async function runModelsCommand(
  target: ModelsTarget,
  io: StartDevIo,
  action: (client: MlflowClient) => Promise<string[]>,
): Promise<number> {
  try {
    for (const line of await action(modelsClient(target))) io.stdout(line);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}`);
      return 2;
    }
    io.stderr(`error: ${describeFailure(error, target)}`);
    return 1;
  }
}

/** A failure as one line: an unreachable server says how to start one; MLflow's refusals keep its message. */
export function describeFailure(error: unknown, target: ModelsTarget): string {
  const server = target.mlflow.registryUri;
  if (isMlflowError(error, 'CONNECTION_FAILED') || isMlflowError(error, 'TIMEOUT')) {
    const hint =
      target.origin === 'default'
        ? 'start one with `mloe dev` (MLflow on 127.0.0.1:5000) or set MLFLOW_TRACKING_URI'
        : 'check MLFLOW_TRACKING_URI';
    return `no MLflow tracking server answers at ${server}: ${hint} (${error.errorCode})`;
  }
  if (isMlflowError(error)) return `MLflow at ${server}: ${error.message}`;
  return ensureError(error).message;
}

/** Fixed-width columns, the last left ragged. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `mloe models list`. */
export async function listModels(client: MlflowClient): Promise<string[]> {
  const rows: string[][] = [];
  for await (const model of client.registeredModels.searchAll({ orderBy: ['name ASC'] })) {
    const latest = model.latestVersions.map((version) => Number(version.version)).sort((a, b) => b - a)[0];
    rows.push([
      model.name,
      latest === undefined ? '-' : String(latest),
      model.aliases.map((alias) => `${alias.alias}→${alias.version}`).join(', ') || '-',
      time(model.lastUpdatedTimestamp),
      model.description ?? '',
    ]);
  }
  if (rows.length === 0) return ['no registered models'];
  return table(['name', 'latest', 'aliases', 'updated', 'description'], rows);
}

/** `mloe models versions NAME`: newest first. */
export async function listVersions(client: MlflowClient, name: string): Promise<string[]> {
  await client.registeredModels.get(name); // RESOURCE_DOES_NOT_EXIST names the model
  const versions: ModelVersion[] = [];
  for await (const version of client.modelVersions.searchAll({ filter: `name = '${name.replace(/'/g, "''")}'` })) {
    versions.push(version);
  }
  versions.sort((a, b) => Number(b.version) - Number(a.version));
  if (versions.length === 0) return [`model ${name} has no versions`];
  return table(
    ['version', 'created', 'aliases', 'run', 'mloe run', 'source'],
    versions.map((version) => [
      version.version,
      time(version.creationTimestamp),
      version.aliases.join(', ') || '-',
      version.runId ?? '-',
      tagOf(version, MLOE_TAGS.workflowId) ?? '-',
      version.source,
    ]),
  );
}

function tagOf(version: ModelVersion, key: string): string | undefined {
  return version.tags.find((tag) => tag.key === key)?.value;
}

/** `mloe models show NAME@ALIAS | NAME/VERSION`. */
export async function showVersion(client: MlflowClient, reference: string): Promise<string[]> {
  const parsed = parseVersionReference(reference);
  const version =
    'alias' in parsed
      ? await client.registeredModels.getVersionByAlias(parsed.name, parsed.alias)
      : await client.modelVersions.get(parsed.name, parsed.version);
  const lines = [
    `model    ${version.name} version ${version.version}`,
    `aliases  ${version.aliases.join(', ') || '-'}`,
    `status   ${version.status}`,
    `created  ${time(version.creationTimestamp)}`,
    `source   ${version.source}`,
    `run      ${version.runId ?? '-'}`,
    ...(version.description === undefined || version.description === '' ? [] : [`about    ${version.description}`]),
    'tags:',
    ...version.tags.map((tag) => `  ${tag.key} = ${tag.value}`),
  ];
  const mlmodel = await readMlmodel(client, version);
  return mlmodel === undefined
    ? lines
    : [
        ...lines,
        'MLmodel:',
        ...mlmodel
          .trimEnd()
          .split('\n')
          .map((line) => `  ${line}`),
      ];
}

/**
 * The version's `MLmodel` file: through the server's artifact proxy for a source there (`mlflow-artifacts:`,
 * `runs:`), else from the model directory `register@1` wrote in a local (`file://`) artifact store; undefined when it
 * cannot be read here (an `s3://` source, a model registered by another tool without one).
 */
async function readMlmodel(client: MlflowClient, version: ModelVersion): Promise<string | undefined> {
  try {
    if (/^(mlflow-artifacts|runs):/.test(version.source)) {
      const bytes = await client.artifacts.downloadBytes({ uri: version.source, path: 'MLmodel' });
      return Buffer.from(bytes).toString('utf8');
    }
    const local = [version.source, tagOf(version, MLOE_TAGS.modelPackage)].find((uri) => uri?.startsWith('file:///'));
    return local === undefined ? undefined : await readFile(join(fileURLToPath(local), 'MLmodel'), 'utf8');
  } catch {
    return undefined;
  }
}

/** `mloe models alias set NAME ALIAS VERSION`. */
export async function setAlias(client: MlflowClient, name: string, alias: string, version: string): Promise<string[]> {
  if (!/^\d+$/.test(version)) throw new UsageError(`VERSION must be a version number, got "${version}"`);
  await client.registeredModels.setAlias(name, alias, version);
  return [`${name}@${alias} → version ${version}`];
}

/** `mloe models alias delete NAME ALIAS`. */
export async function deleteAlias(client: MlflowClient, name: string, alias: string): Promise<string[]> {
  await client.registeredModels.deleteAlias(name, alias);
  return [`${name}@${alias} deleted`];
}

/** Options of `mloe models rollback`. */
export interface RollbackOptions {
  identity: string;
  reason?: string;
  /** The production alias (default `champion`) and the alias of the version before it (default `previous`). */
  alias?: string;
  previousAlias?: string;
}

/**
 * `mloe models rollback NAME`: the alias back to the previous version, recorded (who, when, why) on the version
 * taken out and in the registered model's alias history (`activities/promotion/aliases.ts`).
 */
export async function rollbackModel(client: MlflowClient, name: string, options: RollbackOptions): Promise<string[]> {
  const alias = options.alias ?? DEFAULT_PROMOTION_ALIAS;
  const previousAlias = options.previousAlias ?? DEFAULT_PREVIOUS_ALIAS;
  if (alias === previousAlias) throw new UsageError(`--alias and --previous-alias are both "${alias}"`);
  const result = await rollbackAlias(client, {
    model: name,
    alias,
    previousAlias,
    identity: options.identity,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  });
  return [
    `${name}@${alias} → version ${result.to} (was ${result.from}), rolled back by ${options.identity}` +
      (options.reason === undefined ? '' : `: ${options.reason}`),
    result.previousVersion === undefined
      ? `${name}@${previousAlias} removed (no version before ${result.to})`
      : `${name}@${previousAlias} → version ${result.previousVersion}`,
  ];
}
