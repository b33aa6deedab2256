/**
 * `mloe explain RUN STEP`: why a step of a run was served from the cache or executed. It prints the cache decision,
 * the key, and the reasons the worker recorded: whose outputs a hit reused; for a miss, which parts of the key
 * changed since the step was last cached (an input, a parameter, a file the step reads, its code or command), that
 * it never was, or that the cached outputs were gone; for a disabled cache, what disabled it.
 */
import type { S3StoreConfigInput } from '../activities/artifacts/config';
import { storeForUri } from '../activities/artifacts/factory';
import type { ArtifactStore } from '../activities/artifacts/store';
import { listStepRecords, type StepRecord } from '../activities/lineage/records';
import type { ConnectionConfig } from '../workers/config';
import type { PipelineRunStatus, StepRunStatus } from '../workflows/types';
import { connectClient, type ConnectedClient } from './connection';
import { summarizeCache } from '../core/cache-summary';
import { ensureError } from '../core/errors';
import { getPipelineStatus } from './pipelines';
import type { StartDevIo } from './start-dev';

/** Where `mloe explain` finds step records when the run's status cannot be read (no worker for a failed run). */
export interface ExplainStoreOptions {
  /** The store the run used (a URI); the workers' default store (`MLOE_ARTIFACT_STORE`) as the CLI passes it. */
  artifactStore?: string;
  /** Settings of `s3://` stores. */
  s3?: S3StoreConfigInput;
}

/**
 * Prints the explanation of one step's cache decision; resolves with the exit code (1 for an unknown run or step).
 * It reads the run's status (a completed run's result, else the `status` query); when that cannot be had (a failed
 * run and no worker to answer the query, or no Temporal at all) and a store is known, it reads the step's records
 * there instead, which hold the same decision. `fallbackStore` says which store (and is only called then).
 */
export async function runExplain(
  workflowId: string,
  stepId: string,
  config: Pick<ConnectionConfig, 'address' | 'namespace' | 'addressOrigin'>,
  io: StartDevIo,
  fallbackStore: () => ExplainStoreOptions | undefined = () => undefined,
): Promise<number> {
  let connected: ConnectedClient | undefined;
  let status: PipelineRunStatus;
  try {
    connected = await connectClient(config);
    status = await getPipelineStatus(connected.client, workflowId);
  } catch (error) {
    // The store's settings are only read now: a setting explain does not otherwise need cannot break it.
    const storeOptions = fallbackStore();
    if (storeOptions?.artifactStore === undefined) {
      io.stderr(`error: ${ensureError(error).message}`);
      return 1;
    }
    return explainFromRecords(
      workflowId,
      stepId,
      storeOptions.artifactStore,
      storeOptions,
      io,
      ensureError(error).message,
    );
  } finally {
    await connected?.close().catch(() => undefined);
  }
  const step = status.steps.find((candidate) => candidate.id === stepId);
  if (step === undefined) {
    io.stderr(
      `error: no step ${stepId} in run ${workflowId}; its steps are ${status.steps.map((s) => s.id).join(', ')}`,
    );
    return 1;
  }
  for (const line of formatExplanation(workflowId, step)) io.stdout(line);
  return 0;
}

/** The explanation from the step records in a store (every `foreach` iteration has its own). */
async function explainFromRecords(
  workflowId: string,
  stepId: string,
  storeUri: string,
  options: ExplainStoreOptions,
  io: StartDevIo,
  why: string,
): Promise<number> {
  let store: ArtifactStore | undefined;
  try {
    store = storeForUri(storeUri, options.s3 === undefined ? {} : { s3: options.s3 });
    const records = (await listStepRecords(store, workflowId)).filter((record) => record.stepId === stepId);
    if (records.length === 0) {
      io.stderr(`error: the status of run ${workflowId} could not be read (${why})`);
      io.stderr(`error: and ${storeUri} holds no record of its step ${stepId}`);
      return 1;
    }
    io.stdout(`(from the step records in ${storeUri}; the run's status could not be read: ${why})`);
    for (const line of formatExplanation(workflowId, stepFromRecords(stepId, records))) io.stdout(line);
    return 0;
  } catch (error) {
    io.stderr(`error: ${ensureError(error).message}`);
    return 1;
  } finally {
    await store?.close().catch(() => undefined);
  }
}

/**
 * A step's cache fields from its execution records (one, or one per `foreach` iteration), as the workflow's status
 * reports them (see `recordCacheDecisions` in workflows/run-status.ts).
 */
function stepFromRecords(stepId: string, records: readonly StepRecord[]): StepRunStatus {
  return {
    id: stepId,
    needs: [],
    uses: records[0]?.uses ?? '?',
    state: records.some((record) => record.state === 'failed') ? 'failed' : 'completed',
    attempts: Math.max(0, ...records.map((record) => record.attempt)),
    cache: 'unchecked',
    cacheReasons: [],
    ...summarizeCache(records.map((record) => record.cache)),
  };
}

/** The explanation as lines. */
export function formatExplanation(workflowId: string, step: StepRunStatus): string[] {
  const lines = [`${step.id} (${step.uses}) in run ${workflowId}: ${describeDecision(step)}`];
  if (step.cacheKey !== undefined) lines.push(`key: ${step.cacheKey}`);
  if (step.cacheCounts !== undefined) {
    lines.push(`iterations: ${step.cacheCounts.hits} hits, ${step.cacheCounts.misses} misses`);
  }
  const reasons = step.cacheReasons ?? [];
  if (reasons.length > 0) {
    lines.push(step.cacheCounts !== undefined && step.cache !== 'hit' ? 'why (first iteration that missed):' : 'why:');
    lines.push(...reasons.map((reason) => `  - ${reason}`));
  }
  return lines;
}

function describeDecision(step: StepRunStatus): string {
  switch (step.cache) {
    case 'unchecked':
      return step.state === 'skipped'
        ? `not run (skipped${step.reason === undefined ? '' : `: ${step.reason}`})`
        : `no cache decision yet (the step is ${step.state})`;
    case 'partial':
      return 'partial hit';
    default:
      return step.cache;
  }
}
