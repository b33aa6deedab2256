/**
 * Starting a trigger's runs from an activity, through the Temporal client: each run is a `runPipeline` workflow whose
 * id the listing derived from the object's URI and ETag, started with `REJECT_DUPLICATE` and conflict policy `FAIL`.
 * A retried activity (a worker crashed mid-batch) starts the same ids again, and the server refuses each that exists:
 * such a start is a no-op, reported as `existing`. Doing it here rather than with child workflows keeps the trigger's
 * history to a few events per batch, however many runs a batch starts.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';

import {
  TRIGGER_SEARCH_ATTRIBUTE,
  runParams,
  type PendingRun,
  type StartTriggeredRunsInput,
  type StartedRun,
} from '../../workflows/trigger-types';
import {
  PIPELINE_SEARCH_ATTRIBUTE,
  PIPELINE_STATUS_VALUES,
  RUN_PIPELINE_WORKFLOW_TYPE,
  STATUS_SEARCH_ATTRIBUTE,
  type RunPipelineWorkflow,
} from '../../workflows/types';

/** Starts at once, at most. */
const CONCURRENT_STARTS = 16;

/** Starts every run of `input` (each once ever); `onProgress` after each start (for heartbeats). */
export async function startTriggeredRuns(
  client: Client,
  input: StartTriggeredRunsInput,
  onProgress: () => void = () => undefined,
): Promise<StartedRun[]> {
  const results: StartedRun[] = new Array<StartedRun>(input.runs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < input.runs.length) {
      const index = next;
      next += 1;
      const pending = input.runs[index] as PendingRun;
      results[index] = await startOne(client, input, pending);
      onProgress();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_STARTS, input.runs.length) }, worker));
  return results;
}

async function startOne(client: Client, input: StartTriggeredRunsInput, pending: PendingRun): Promise<StartedRun> {
  const { settings, run } = input;
  const objects =
    pending.manifest === undefined || settings.objectsParam === undefined
      ? undefined
      : { param: settings.objectsParam, manifest: pending.manifest };
  const params = runParams(run, settings.uriParam, pending.uri, objects);
  const startedAt = new Date().toISOString();
  try {
    await client.workflow.start<RunPipelineWorkflow>(RUN_PIPELINE_WORKFLOW_TYPE, {
      workflowId: pending.runId,
      taskQueue: settings.taskQueue,
      args: [{ ...run, params }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: PIPELINE_SEARCH_ATTRIBUTE, value: settings.pipeline },
        { key: STATUS_SEARCH_ATTRIBUTE, value: PIPELINE_STATUS_VALUES.running },
        { key: TRIGGER_SEARCH_ATTRIBUTE, value: settings.name },
      ],
      memo: {
        pipeline: settings.pipeline,
        specHash: settings.specHash,
        params,
        trigger: {
          name: settings.name,
          objects: pending.objects,
          firstKey: pending.firstKey,
          lastKey: pending.lastKey,
        },
      },
      staticSummary: `pipeline ${settings.pipeline} (trigger ${settings.name}: ${pending.uri})`,
    });
    return { ...startedOf(pending, startedAt), existing: false };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return { ...startedOf(pending, startedAt), existing: true };
    }
    throw error;
  }
}

function startedOf(pending: PendingRun, startedAt: string): Omit<StartedRun, 'existing'> {
  return {
    runId: pending.runId,
    uri: pending.uri,
    startedAt,
    ...(pending.manifest === undefined ? {} : { manifest: pending.manifest }),
  };
}
