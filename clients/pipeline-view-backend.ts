/**
 * The pipeline view's backend for the embedded UI (`infra/ui/pipeline-view-api.ts`): step runs found in the MLflow
 * tracking server the stack tracks to, and an artifact's lineage read from the artifact store its URI names (the
 * records `mloe lineage` reads). Loaded only when a UI starts.
 */
import { createMlflowClient, mlflowConfig, type MlflowConfig } from '../activities/mlflow';
import { MLOE_TAGS, tagEquals } from '../activities/tracking/names';
import { defaultAllowedHosts } from '../infra/devserver/http/security';
import type { PipelineViewBackend, StepRunLink } from '../infra/ui/pipeline-view-api';

/** An artifact's lineage in both directions, as `mloe lineage <uri> --json` prints it. */
export async function artifactLineage(artifactUri: string): Promise<unknown> {
  // Loaded on the first lineage request, not when the UI starts (the S3 store brings the AWS SDK).
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { storeForUri } =
    require('../activities/artifacts/factory') as typeof import('../activities/artifacts/factory');
  const { DEFAULT_LINEAGE_DEPTH, LineageGraph } =
    require('../activities/lineage/graph') as typeof import('../activities/lineage/graph');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const store = storeForUri(artifactUri);
  try {
    const graph = await LineageGraph.load(store);
    return graph.lineageOfArtifact(artifactUri, { direction: 'both', depth: DEFAULT_LINEAGE_DEPTH });
  } finally {
    await store.close().catch(() => undefined);
  }
}

/**
 * Finds the MLflow runs of a pipeline run's steps with the typed client (`runs/search`, every page): runs in the
 * experiment tagged as steps of the workflow (`mloe.kind`, `mloe.workflowId`), one per step execution
 * (`mloe.execution`, or `mloe.prepared` for a run prepared for a step that has not written to it yet; should an
 * execution have several, the latest started wins), in execution order.
 */
export function mlflowStepRuns(config: MlflowConfig): NonNullable<PipelineViewBackend['stepRuns']> {
  const client = createMlflowClient(config);
  return async (experimentId, workflowId) => {
    const latest = new Map<string, { link: StepRunLink; started: number }>();
    const runs = client.runs.searchAll({
      experimentIds: [experimentId],
      filter: `${tagEquals(MLOE_TAGS.kind, 'step')} and ${tagEquals(MLOE_TAGS.workflowId, workflowId)}`,
    });
    for await (const run of runs) {
      const tags = new Map(run.data.tags.map((tag) => [tag.key, tag.value]));
      // A run prepared for a step that is still running has its execution in `mloe.prepared` until its first write.
      const execution = tags.get(MLOE_TAGS.execution) ?? tags.get(MLOE_TAGS.prepared);
      const stepId = tags.get(MLOE_TAGS.stepId);
      if (!execution || !stepId) continue;
      const index = tags.get(MLOE_TAGS.index);
      const started = run.info.startTime ?? 0;
      const known = latest.get(execution);
      if (known && known.started >= started) continue;
      latest.set(execution, {
        started,
        link: {
          execution,
          stepId,
          ...(index === undefined || index === '' ? {} : { index: Number(index) }),
          runId: run.info.runId,
          experimentId: run.info.experimentId || experimentId,
        },
      });
    }
    return [...latest.values()].map((entry) => entry.link).sort((a, b) => a.execution.localeCompare(b.execution));
  };
}

/** The backend for a UI bound to `ip`, finding step runs in `mlflowTrackingUri` when one is given. */
export function pipelineViewBackend(options: { ip: string; mlflowTrackingUri?: string }): PipelineViewBackend {
  return {
    ...(options.mlflowTrackingUri === undefined
      ? {}
      : { stepRuns: mlflowStepRuns(mlflowConfig({ trackingUri: options.mlflowTrackingUri })) }),
    artifactLineage,
    allowedHosts: defaultAllowedHosts(options.ip),
  };
}
