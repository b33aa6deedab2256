/**
 * What MLflow holds of a finished pipeline run, read back through the typed client: the run (status and link), its
 * nested step runs, its metrics, and the model versions its `register@1` steps made. `mloe demo` prints it, so that
 * what was tracked is shown from the tracking server itself rather than from mloe's own status.
 */
import type { MlflowClient } from '../activities/mlflow';
import { MLFLOW_TAGS, tagEquals } from '../activities/tracking/names';
import type { PipelineRunStatus } from '../workflows/types';

/** Shortens a number for a summary line. */
function number(value: number): string {
  return Number.isInteger(value) ? String(value) : Number(value.toPrecision(4)).toString();
}

/** Lines describing the run's MLflow run (none when it is not tracked). */
export async function trackedRunLines(client: MlflowClient, status: PipelineRunStatus): Promise<string[]> {
  const link = status.mlflow;
  if (link === undefined) return [];
  const run = await client.runs.get(link.runId);
  const steps: string[] = [];
  for await (const stepRun of client.runs.searchAll({
    experimentIds: [link.experimentId],
    filter: tagEquals(MLFLOW_TAGS.parentRunId, link.runId),
    orderBy: ['attributes.start_time ASC'],
  })) {
    steps.push(`${stepRun.info.runName} ${stepRun.info.status}`);
  }
  const metrics = [...run.data.metrics]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((metric) => `${metric.key} ${number(metric.value)}`);
  const models = status.steps
    .filter((step) => step.uses.startsWith('register@') && step.state === 'completed')
    .map((step) => {
      const { modelUri, url } = step.outputs ?? {};
      return `${typeof modelUri === 'string' ? modelUri : '-'}  ${typeof url === 'string' ? url : ''}`;
    });
  return [
    `MLflow run   ${run.info.runName}  ${run.info.status}  ${link.url}`,
    `  steps      ${steps.join(' · ') || '-'}`,
    `  metrics    ${metrics.join(' · ') || '-'}`,
    ...models.map((model) => `  model      ${model}`),
  ];
}
