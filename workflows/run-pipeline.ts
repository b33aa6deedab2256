/**
 * `runPipeline`: the interpreter of a validated pipeline spec. It records the run, starts every step whose needs are
 * settled (up to the spec's `maxParallel`) through the one `runStep` activity, evaluates `when`, `with`, `foreach` and
 * `run` templates deterministically with the outputs of finished steps, fans `foreach` steps out (in this workflow,
 * or over `foreachBatch` children for large lists), runs `pipeline` steps as child runs, and answers the `status`
 * query at any time. Cancelling the workflow cancels its running steps, records them as cancelled and ends the
 * workflow cancelled.
 *
 * The parts, each in its module: what the pipeline is (`pipeline-definition.ts`), the requests of step executions
 * (`step-requests.ts`) and their large lists (`list-manifests.ts`), one step from gate to outcome (`step-task.ts`),
 * `foreach` fan-out (`foreach-step.ts`), the main loop (`scheduler.ts`), the status (`run-status.ts`), the run record
 * (`run-record.ts`), and a rerun's reused steps (`rerun.ts`).
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import { ListManifests } from './list-manifests';
import { notify, runFailedData, wants } from './notifications';
import { PipelineDefinition } from './pipeline-definition';
import { ApprovalGates } from './promotion';
import { takeReusedSteps } from './rerun';
import { recordRunSafely } from './run-record';
import { RunStatus } from './run-status';
import { withScheduledTime } from './scheduled-run';
import { runSteps, StepProgress } from './scheduler';
import { ActivitySlots, describeFailure } from './step-execution';
import { StepOutputs } from './step-outputs';
import { StepRequests } from './step-requests';
import { StepTasks } from './step-task';
import {
  DEFAULT_FOREACH_BATCH_SIZE,
  MAX_IN_FLIGHT_ACTIVITIES,
  PIPELINE_SEARCH_ATTRIBUTE,
  PIPELINE_STATUS_VALUES,
  STATUS_SEARCH_ATTRIBUTE,
  pipelineStatusQuery,
  type PipelineRunStatus,
  type RunPipelineInput,
} from './types';

/** Runs a validated pipeline; returns the final status, or fails with `PIPELINE_STEP_FAILED`. */
export async function runPipeline(startInput: RunPipelineInput): Promise<PipelineRunStatus> {
  // A scheduled run's parameters take its scheduled time first, so the status, records and steps all see it.
  const input = withScheduledTime(startInput);
  const info = workflowInfo();
  const definition = new PipelineDefinition(input);
  const batchSize = Math.max(1, input.foreachBatchSize ?? DEFAULT_FOREACH_BATCH_SIZE);
  const slots = new ActivitySlots(MAX_IN_FLIGHT_ACTIVITIES);
  const run = new RunStatus(definition, input, info.workflowId);
  const { status } = run;
  setHandler(pipelineStatusQuery, () => status);
  const gates = new ApprovalGates(info.workflowId);
  gates.install();
  upsertSearchAttributes([
    { key: PIPELINE_SEARCH_ATTRIBUTE, value: definition.spec.metadata.name },
    { key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.running },
  ]);
  // The run record (and OpenLineage START) is written before any step starts: a run whose workflow id already names
  // another run's records fails here (RECORD_CONFLICT) with nothing run and nothing overwritten.
  try {
    await recordRunSafely(status, info.firstExecutionRunId);
  } catch (error) {
    upsertSearchAttributes([{ key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.failed }]);
    throw error;
  }

  const outputs = new StepOutputs();
  const requests = new StepRequests({
    input,
    definition,
    outputs,
    workflowId: info.workflowId,
    firstExecutionRunId: info.firstExecutionRunId,
  });
  const progress = new StepProgress();
  const stepsScope = new CancellationScope();
  const rootScope = CancellationScope.current();
  if (input.rerun !== undefined) {
    try {
      await takeReusedSteps({
        input,
        rerun: input.rerun,
        definition,
        status: run,
        outputs,
        progress,
        workflowId: info.workflowId,
        firstExecutionRunId: info.firstExecutionRunId,
      });
    } catch (error) {
      // A cancellation goes on to the end below, where no step starts and the run ends cancelled.
      if (!isCancellation(error)) {
        run.failBeforeSteps(describeFailure(error));
        upsertSearchAttributes([{ key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.failed }]);
        await recordRunSafely(status, info.firstExecutionRunId);
        if (wants(definition.spec.notifications, 'run.failed')) {
          await notify(definition.spec.notifications, 'run.failed', runFailedData(status), mlflowLink(status));
        }
        throw error;
      }
    }
  }
  const tasks = new StepTasks({
    input,
    definition,
    requests,
    outputs,
    slots,
    batchSize,
    workflowId: info.workflowId,
    manifests: new ListManifests(input),
    status: run,
    progress,
    stepsScope,
    gates,
  });
  await runSteps(definition.graph, progress, tasks, {
    maxParallel: definition.spec.maxParallel ?? Number.POSITIVE_INFINITY,
    stepsScope,
    rootScope,
  });

  run.close({
    cancelled: rootScope.consideredCancelled,
    failFast: progress.failFast,
    failures: progress.failures,
    stopped: progress.stopped,
  });
  upsertSearchAttributes([{ key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES[status.state] }]);
  await recordRunSafely(status, info.firstExecutionRunId);

  // A failed or cancelled run carries its final status in the failure's details, as a completed one returns it:
  // clients read it from the result, with no query (and no worker) needed.
  if (status.state === 'cancelled') throw new CancelledFailure('pipeline cancelled', [status]);
  if (status.state === 'failed') {
    // Only for a spec with webhooks for it: runs of other specs issue the same commands as before.
    if (wants(definition.spec.notifications, 'run.failed')) {
      await notify(definition.spec.notifications, 'run.failed', runFailedData(status), mlflowLink(status));
    }
    throw ApplicationFailure.create({
      type: 'PIPELINE_STEP_FAILED',
      message: status.error ?? 'a step failed',
      nonRetryable: true,
      details: [status],
    });
  }
  return status;
}

/** The run's MLflow page, for notifications, when it is tracked. */
function mlflowLink(status: PipelineRunStatus): { mlflowRun?: string } {
  return status.mlflow === undefined ? {} : { mlflowRun: status.mlflow.url };
}
