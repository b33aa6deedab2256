/**
 * A rerun's start (`mloe rerun RUN --from STEP`, docs/rerun.md): before any step runs, the steps it takes from the run
 * it repeats are checked by the `reuseSteps` activity (their outputs read in full and hashed, as a cache hit's are)
 * and recorded; each one that passes is settled in the status as `reused`, with the source run's outputs, as if it
 * had completed. A step whose outputs do not verify is not taken, and neither is anything that needs it: they run,
 * like the `--from` steps and everything downstream of them (which the definition runs without the cache).
 *
 * Only runs started with `rerun` in their input come here: the commands of other runs are unchanged.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';

import type { LineageActivities, ReuseStepInput } from '../activities/lineage';
import { MloeError } from '../core/errors';
import { topologicalOrder } from '../core/spec';
import type { PipelineDefinition } from './pipeline-definition';
import type { RunStatus } from './run-status';
import type { StepProgress } from './scheduler';
import { describeFailure } from './step-execution';
import type { StepOutputs } from './step-outputs';
import type { RerunInput, RunPipelineInput } from './types';

/** What taking the reused steps works on. */
export interface RerunContext {
  input: RunPipelineInput;
  rerun: RerunInput;
  definition: PipelineDefinition;
  status: RunStatus;
  outputs: StepOutputs;
  progress: StepProgress;
  workflowId: string;
  firstExecutionRunId: string;
}

/**
 * Checks and records the steps a rerun takes from its source run, then settles those that passed as completed.
 * Throws a non-retryable `RERUN_UNSUPPORTED` when they could not be checked at all (the store failed): the run then
 * ends before any step starts, rather than silently running everything again.
 */
export async function takeReusedSteps(context: RerunContext): Promise<void> {
  const { input, rerun, definition, status, outputs, progress } = context;
  const candidates = topologicalOrder(definition.graph).filter(
    (id) => rerun.reuse[id] !== undefined && !definition.runsAgain(id),
  );
  if (candidates.length === 0) return;
  const chosen = new Set(candidates);
  const steps: ReuseStepInput[] = candidates.map((id) => {
    const step = rerun.reuse[id];
    if (step === undefined) throw new MloeError('INTERNAL', `no reused step ${id}`);
    return {
      stepId: id,
      uses: step.uses,
      outputs: step.outputs,
      needs: (definition.graph.needs.get(id) ?? []).filter((need) => chosen.has(need)),
      ...(step.iterations === undefined ? {} : { iterations: step.iterations }),
      ...(step.childWorkflow === undefined ? {} : { childWorkflowId: step.childWorkflow.workflowId }),
    };
  });
  const { reuseSteps } = proxyActivities<LineageActivities>({
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '1 minute',
    retry: { maximumAttempts: 3 },
    summary: `reuse ${candidates.length} steps of run ${rerun.sourceWorkflowId}`,
  });
  let decisions;
  try {
    ({ decisions } = await reuseSteps({
      ...(input.artifactStore === undefined ? {} : { artifactStore: input.artifactStore }),
      sourceWorkflowId: rerun.sourceWorkflowId,
      fromSteps: rerun.fromSteps,
      workflowId: context.workflowId,
      firstExecutionRunId: context.firstExecutionRunId,
      pipeline: definition.spec.metadata.name,
      steps,
    }));
  } catch (error) {
    throw ApplicationFailure.create({
      type: 'RERUN_UNSUPPORTED',
      message: `could not check the outputs of run ${rerun.sourceWorkflowId}: ${describeFailure(error)}`,
      nonRetryable: true,
    });
  }
  for (const decision of decisions) {
    const id = decision.stepId;
    const step = rerun.reuse[id];
    if (step === undefined || !chosen.has(id)) continue;
    if (!decision.reused) {
      status.entry(id).notReused = decision.reason;
      continue;
    }
    status.reuse(id, rerun.sourceWorkflowId, step, rerun.fromSteps);
    outputs.record(id, step.outputs, step.metrics, definition.portsOf(id));
    progress.done.add(id);
  }
}
