/**
 * `mloe explain RUN STEP`: why a step of a run was served from the cache or executed. It prints the cache decision,
 * the key, and the reasons the worker recorded: whose outputs a hit reused; for a miss, which parts of the key
 * changed since the step was last cached (an input, a parameter, a file the step reads, its code or command), that
 * it never was, or that the cached outputs were gone; for a disabled cache, what disabled it.
 */
import type { ConnectionConfig } from '../workers/config';
import type { StepRunStatus } from '../workflows';
import { withConnectedClient } from './connection';
import { getPipelineStatus } from './pipelines';
import type { StartDevIo } from './start-dev';

/** Prints the explanation of one step's cache decision; resolves with the exit code (1 for an unknown run or step). */
export function runExplain(
  runId: string,
  stepId: string,
  config: Pick<ConnectionConfig, 'address' | 'namespace' | 'addressOrigin'>,
  io: StartDevIo,
): Promise<number> {
  return withConnectedClient(config, io, async (client) => {
    const status = await getPipelineStatus(client, runId);
    const step = status.steps.find((candidate) => candidate.id === stepId);
    if (step === undefined) {
      io.stderr(`error: no step ${stepId} in run ${runId}; its steps are ${status.steps.map((s) => s.id).join(', ')}`);
      return 1;
    }
    for (const line of formatExplanation(runId, step)) io.stdout(line);
    return 0;
  });
}

/** The explanation as lines. */
export function formatExplanation(runId: string, step: StepRunStatus): string[] {
  const lines = [`${step.id} (${step.uses}) in run ${runId}: ${describeDecision(step)}`];
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
