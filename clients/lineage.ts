/**
 * `mloe lineage <run-or-artifact>`: where an artifact came from and where it went, or what a run read and wrote,
 * from the run and step records in an artifact store (see docs/lineage.md). The argument is a run id
 * (its workflow id, `<pipeline>-<ULID>` unless chosen), an artifact URI, a digest (`sha256:<hex>`) or a unique digest prefix of at least 8 hex
 * digits. Prints a tree, or JSON with `--json`. The CLI loads this module only for this command.
 */
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { S3StoreConfigInput } from '../activities/artifacts/config';
import { storeForUri } from '../activities/artifacts/factory';
import { shortDigest } from '../activities/artifacts/ref';
import { DEFAULT_ARTIFACTS_SUBDIRECTORY, FileArtifactStore } from '../activities/artifacts/file-store';
import type { ArtifactStore } from '../activities/artifacts/store';
import {
  DEFAULT_LINEAGE_DEPTH,
  LineageGraph,
  MAX_LINEAGE_DEPTH,
  type ArtifactLineage,
  type ArtifactSummary,
  type DownstreamEdge,
  type ExecutionSummary,
  type LineageDirection,
  type RunLineage,
  type UpstreamEdge,
} from '../activities/lineage/graph';
import { ConfigError, ensureError } from '../core/errors';
import type { StartDevIo } from './start-dev';

/** Options of {@link runLineage}, as commander passes them. */
export interface LineageCommandOptions {
  /** `--artifact-store URI`: the store to read records from (a URI, or an absolute directory). */
  artifactStore?: string;
  /** `--upstream`: only what the artifact was made from. */
  upstream?: boolean;
  /** `--downstream`: only what was made from the artifact. */
  downstream?: boolean;
  /** `--depth N`: execution levels to follow (default 10). */
  depth?: string | number;
  /** `--json`: print the lineage as JSON. */
  json?: boolean;
  /**
   * The store when neither `artifactStore` nor an artifact URI argument names one: the workers' default store
   * (`MLOE_ARTIFACT_STORE`, as `workers/config.ts` reads and checks it). Without it, `<cwd>/.mloe/artifacts`.
   */
  defaultArtifactStore?: string;
  /** The directory whose `.mloe/artifacts` is the fallback store; the working directory by default. */
  cwd?: string;
  /** Settings of `s3://` stores (endpoint, region, path style), from the CLI's configuration. */
  s3?: S3StoreConfigInput;
}

/**
 * Runs `mloe lineage` and returns its exit code: 0 when the lineage was printed, 1 when the argument names nothing in
 * the store (the message says what was looked for and where) or an option is invalid.
 */
export async function runLineage(target: string, options: LineageCommandOptions, io: StartDevIo): Promise<number> {
  let store: ArtifactStore | undefined;
  try {
    const direction = directionOf(options);
    const depth = depthOf(options.depth);
    store = openStore(target, options);
    const graph = await LineageGraph.load(store, {
      onInvalid: (name, error) => io.stderr(`warning: skipping record ${name}: ${error.message}`),
    });
    const resolved = graph.resolve(target);
    if (resolved.kind === 'run') {
      const lineage = graph.lineageOfRun(resolved.workflowId);
      if (options.json === true) io.stdout(JSON.stringify(lineage, null, 2));
      else for (const line of formatRunLineage(lineage)) io.stdout(line);
    } else {
      const lineage = graph.lineageOfArtifact(resolved.digest, { direction, depth });
      if (options.json === true) io.stdout(JSON.stringify(lineage, null, 2));
      else for (const line of formatArtifactLineage(lineage)) io.stdout(line);
    }
    return 0;
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  } finally {
    await store?.close().catch(() => undefined);
  }
}

function directionOf(options: LineageCommandOptions): LineageDirection {
  if (options.upstream === true && options.downstream !== true) return 'upstream';
  if (options.downstream === true && options.upstream !== true) return 'downstream';
  return 'both';
}

function depthOf(depth: string | number | undefined): number {
  if (depth === undefined) return DEFAULT_LINEAGE_DEPTH;
  const text = String(depth).trim();
  if (!/^\d+$/.test(text) || Number(text) > MAX_LINEAGE_DEPTH) {
    throw new ConfigError(
      `--depth must be a whole number from 0 to ${MAX_LINEAGE_DEPTH}, got ${JSON.stringify(String(depth))}`,
    );
  }
  return Number(text);
}

/**
 * The store to read: `--artifact-store` (a URI or an absolute directory); else the store an artifact URI argument
 * belongs to; else the workers' default store (`MLOE_ARTIFACT_STORE`); else `<cwd>/.mloe/artifacts`.
 */
function openStore(target: string, options: LineageCommandOptions): ArtifactStore {
  const storeConfig = options.s3 === undefined ? {} : { s3: options.s3 };
  const given = options.artifactStore?.trim();
  if (given !== undefined && given !== '') {
    return isAbsolute(given) ? new FileArtifactStore({ root: given }) : storeForUri(given, storeConfig);
  }
  if (/^(file|s3):\/\//i.test(target.trim())) return storeForUri(target.trim(), storeConfig);
  if (options.defaultArtifactStore !== undefined) return storeForUri(options.defaultArtifactStore, storeConfig);
  const root = join(options.cwd ?? process.cwd(), DEFAULT_ARTIFACTS_SUBDIRECTORY);
  return storeForUri(pathToFileURL(root).href);
}

/** A tree node for printing. */
interface TreeNode {
  label: string;
  children: TreeNode[];
}

/** Draws trees with box characters: `├─`, `└─` and `│` guides. */
function drawTree(nodes: readonly TreeNode[], prefix = ''): string[] {
  const lines: string[] = [];
  nodes.forEach((node, position) => {
    const last = position === nodes.length - 1;
    lines.push(`${prefix}${last ? '└─ ' : '├─ '}${node.label}`);
    lines.push(...drawTree(node.children, `${prefix}${last ? '   ' : '│  '}`));
  });
  return lines;
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

function formatArtifact(artifact: ArtifactSummary): string {
  return `${artifact.type} ${shortDigest(artifact.digest)} (${formatSize(artifact.size)})`;
}

function formatStep(execution: ExecutionSummary): string {
  return `${execution.workflowId} › ${execution.stepId}${execution.index === undefined ? '' : `[${execution.index}]`}`;
}

function formatExecution(execution: ExecutionSummary): string {
  const cache =
    execution.cache === 'hit'
      ? `  [cache hit from ${execution.sourceWorkflowId ?? '?'}]`
      : execution.cache === 'disabled'
        ? '  [cache disabled]'
        : '';
  return `${formatStep(execution)} (${execution.uses})  ${execution.state}  ${execution.finishedAt}${cache}`;
}

function upstreamNode(edge: UpstreamEdge): TreeNode {
  const verb = edge.relation === 'produced' ? 'produced by' : 'reused by';
  const from = edge.source === undefined ? '' : `  ← outputs of ${formatStep(edge.source)}`;
  const mark = edge.repeated === true ? '  (shown above)' : edge.truncated === true ? '  (…depth limit)' : '';
  return {
    label: `${verb} ${formatExecution(edge.execution)}${from}${mark}`,
    children: (edge.inputs ?? []).map((input) => ({
      label: `${input.port}: ${formatArtifact(input.artifact)}${
        input.producedBy.length === 0 ? '  (no recorded producer: an input from outside mloe)' : ''
      }`,
      children: input.producedBy.map(upstreamNode),
    })),
  };
}

function downstreamNode(edge: DownstreamEdge): TreeNode {
  const mark = edge.repeated === true ? '  (shown above)' : edge.truncated === true ? '  (…depth limit)' : '';
  return {
    label: `consumed by ${formatExecution(edge.execution)} as ${edge.ports.join(', ')}${mark}`,
    children: (edge.outputs ?? []).map((output) => ({
      label: `${output.relation === 'reused' ? 'reused' : 'produced'} ${output.port}: ${formatArtifact(output.artifact)}`,
      children: output.consumedBy.map(downstreamNode),
    })),
  };
}

/** The readable form of an artifact's lineage: the artifact, then an upstream and a downstream tree. */
export function formatArtifactLineage(lineage: ArtifactLineage): string[] {
  const lines = [`${formatArtifact(lineage.artifact)}  ${lineage.artifact.uri}`];
  if (lineage.upstream !== undefined) {
    lines.push('upstream (what it was made from):');
    lines.push(
      ...(lineage.upstream.length === 0
        ? ['   (no recorded producer: an input from outside mloe)']
        : drawTree(lineage.upstream.map(upstreamNode))),
    );
  }
  if (lineage.downstream !== undefined) {
    lines.push('downstream (what was made from it):');
    lines.push(
      ...(lineage.downstream.length === 0
        ? ['   (no recorded consumer)']
        : drawTree(lineage.downstream.map(downstreamNode))),
    );
  }
  return lines;
}

/** At most this many producers are listed per input of a run's step. */
const MAX_SOURCES_SHOWN = 3;

/** The readable form of a run's lineage: each step execution with its inputs (and their origin) and outputs. */
export function formatRunLineage(lineage: RunLineage): string[] {
  const run = lineage.run;
  const header = [`run ${lineage.workflowId}`, `pipeline ${lineage.pipeline}`];
  if (run !== undefined) {
    header.push(run.state, `started ${run.startedAt}`);
    if (run.finishedAt !== undefined) header.push(`finished ${run.finishedAt}`);
  } else {
    header.push('(no run record; from step records)');
  }
  const lines = [header.join('  ')];
  if (run !== undefined) lines.push(`store ${run.artifactStore}  spec ${shortDigest(run.specHash)}`);
  if (run?.error !== undefined) lines.push(`error: ${run.error}`);
  const nodes: TreeNode[] = lineage.steps.map((step) => {
    const name = `${step.stepId}${step.index === undefined ? '' : `[${step.index}]`} (${step.uses})`;
    if (!step.recorded || step.execution === undefined) {
      return { label: `${name}  ${step.state}  (no execution record)`, children: [] };
    }
    const execution = step.execution;
    const cache =
      execution.cache === 'hit'
        ? `cache hit from ${execution.sourceWorkflowId ?? '?'}`
        : execution.cache === 'miss'
          ? 'cache miss'
          : 'cache disabled';
    const children: TreeNode[] = [
      ...step.inputs.map((input) => {
        const sources = input.producedBy.slice(0, MAX_SOURCES_SHOWN).map((source) => {
          const who = source.sameRun ? `this run's ${source.execution.stepId}` : formatStep(source.execution);
          return source.relation === 'reused' ? `${who} (cache hit)` : who;
        });
        const more =
          input.producedBy.length > MAX_SOURCES_SHOWN ? ` and ${input.producedBy.length - MAX_SOURCES_SHOWN} more` : '';
        const origin = sources.length === 0 ? 'no recorded producer' : `from ${sources.join(', ')}${more}`;
        return { label: `in  ${input.port}: ${formatArtifact(input.artifact)}  ← ${origin}`, children: [] };
      }),
      ...step.outputs.map((output) => {
        const reused =
          output.relation === 'reused'
            ? `  (reused${output.source === undefined ? '' : ` from ${formatStep(output.source)}`})`
            : '';
        return { label: `out ${output.port}: ${formatArtifact(output.artifact)}${reused}`, children: [] };
      }),
    ];
    if (step.error !== undefined) children.push({ label: `error: ${step.error}`, children: [] });
    return { label: `${name}  ${step.state}  attempt ${execution.attempt}  ${cache}`, children };
  });
  lines.push(...drawTree(nodes));
  return lines;
}
