/**
 * The pipeline view's backend for the embedded UI (`infra/ui/pipeline-view-api.ts`): step runs found in the MLflow
 * tracking server the stack tracks to, and an artifact's lineage read from the artifact store its URI names (the
 * records `mloe lineage` reads). Loaded only when a UI starts.
 */
import { MLFLOW_ENV, createMlflowClient, isMlflowError, type MlflowConfig } from '../activities/mlflow';
import { activityMlflowConfig } from '../activities/tracking/config';
import { MLOE_TAGS, tagEquals } from '../activities/tracking/names';
import { MloeError, ensureError } from '../core/errors';
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
 * execution have several, the latest started wins), in execution order. A failed search is an `MLFLOW_REQUEST_FAILED`
 * error naming the server (never its credentials) and, when the server refused them, the variables that hold them.
 */
export function mlflowStepRuns(config: MlflowConfig): NonNullable<PipelineViewBackend['stepRuns']> {
  const client = createMlflowClient(config);
  return async (experimentId, workflowId) => {
    const latest = new Map<string, { link: StepRunLink; started: number }>();
    const runs = client.runs.searchAll({
      experimentIds: [experimentId],
      filter: `${tagEquals(MLOE_TAGS.kind, 'step')} and ${tagEquals(MLOE_TAGS.workflowId, workflowId)}`,
    });
    try {
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
    } catch (error) {
      throw searchFailure(config, error);
    }
    return [...latest.values()].map((entry) => entry.link).sort((a, b) => a.execution.localeCompare(b.execution));
  };
}

/** A failed step run search as the view shows it: the server, what it answered, and what to check. */
function searchFailure(config: MlflowConfig, error: unknown): MloeError {
  const cause = ensureError(error);
  const refused = isMlflowError(error, 'UNAUTHENTICATED') || isMlflowError(error, 'PERMISSION_DENIED');
  const { auth } = config;
  const fix = !refused
    ? ''
    : auth.type === 'none'
      ? `; the server wants credentials: set ${MLFLOW_ENV.token}, or ${MLFLOW_ENV.username} and ${MLFLOW_ENV.password}, where mloe runs`
      : `; the server refused ${auth.type === 'bearer' ? `the token of ${MLFLOW_ENV.token}` : `the password of ${auth.username} (${MLFLOW_ENV.password}, or the one in ${MLFLOW_ENV.trackingUri})`}: check it where mloe runs`;
  return new MloeError(
    'MLFLOW_REQUEST_FAILED',
    `MLflow tracking server ${config.trackingUri}: ${cause.message}${fix}`,
    {
      cause,
    },
  );
}

/**
 * The backend for a UI bound to `ip`, finding step runs in `mlflow` when given: the MLflow configuration the worker
 * tracks with (`TrackingConfig.mlflow`, credentials included), with the retries and timeout activities use, so that
 * a server that is down answers the view within seconds.
 */
export function pipelineViewBackend(options: { ip: string; mlflow?: MlflowConfig }): PipelineViewBackend {
  return {
    ...(options.mlflow === undefined ? {} : { stepRuns: mlflowStepRuns(activityMlflowConfig(options.mlflow)) }),
    artifactLineage,
    allowedHosts: defaultAllowedHosts(options.ip),
  };
}
