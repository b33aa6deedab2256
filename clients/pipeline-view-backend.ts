/**
 * The pipeline view's backend for the embedded UI (`infra/ui/pipeline-view-api.ts`): step runs found in the MLflow
 * tracking server the stack tracks to, and an artifact's lineage read from the artifact store its URI names (the
 * records `mloe lineage` reads). Loaded only when a UI starts.
 */
import { defaultAllowedHosts } from '../infra/devserver/http/security';
import { mlflowStepRuns, type PipelineViewBackend } from '../infra/ui/pipeline-view-api';

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

/** The backend for a UI bound to `ip`, finding step runs in `mlflowTrackingUri` when one is given. */
export function pipelineViewBackend(options: { ip: string; mlflowTrackingUri?: string }): PipelineViewBackend {
  return {
    ...(options.mlflowTrackingUri === undefined ? {} : { stepRuns: mlflowStepRuns(options.mlflowTrackingUri) }),
    artifactLineage,
    allowedHosts: defaultAllowedHosts(options.ip),
  };
}
