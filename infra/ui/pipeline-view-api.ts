/**
 * The pipeline view's backend, served by the UI server under `/mloe/api/`: what the view cannot read through
 * Temporal's HTTP API. `GET /mloe/api/step-runs?experimentId=&workflowId=` answers the MLflow runs of a pipeline
 * run's steps (found in MLflow by the tags tracking writes on them, not recorded in the workflow), and
 * `GET /mloe/api/lineage?artifact=<uri>` an artifact's lineage (`mloe lineage <uri> --json`). Both are read-only
 * GETs on the UI's own origin; each answers 404 when the server was not given what it needs.
 */
import { Hono } from 'hono';

import { securityMiddleware } from '../devserver/http/security';

/** One step execution's MLflow run. */
export interface StepRunLink {
  /** `<workflowId>/<stepId>[/<index>]`, the `mloe.execution` tag. */
  execution: string;
  stepId: string;
  /** The `foreach` iteration, when the run is one. */
  index?: number;
  runId: string;
  experimentId: string;
}

/** What the backend can answer; each part is optional. */
export interface PipelineViewBackend {
  /** The MLflow runs of the steps of the pipeline run `workflowId`, in the pipeline run's experiment. */
  stepRuns?: (experimentId: string, workflowId: string, signal: AbortSignal) => Promise<StepRunLink[]>;
  /** An artifact's lineage, as `mloe lineage <uri> --json` prints it; `undefined` when no record names it. */
  artifactLineage?: (artifactUri: string) => Promise<unknown>;
  /**
   * Host names served (as the HTTP API's `allowedHosts`, against DNS rebinding: lineage reads the artifact stores);
   * default: the loopback names.
   */
  allowedHosts?: readonly string[] | 'any';
}

/** Tags that tracking writes on a step's MLflow run (`activities/tracking/names.ts`, MLOE_TAGS; a test keeps them equal). */
export const STEP_RUN_TAGS = {
  kind: 'mloe.kind',
  workflowId: 'mloe.workflowId',
  execution: 'mloe.execution',
  stepId: 'mloe.stepId',
  index: 'mloe.index',
} as const;

/** An MLflow run as `runs/search` answers it (only the fields read here). */
interface SearchedRun {
  info?: { run_id?: string; experiment_id?: string; start_time?: number | string };
  data?: { tags?: { key?: string; value?: string }[] };
}

const quoted = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/**
 * Finds step runs through MLflow's REST API at `trackingUri` (`POST /api/2.0/mlflow/runs/search`, every page): runs
 * in the experiment tagged as steps of the workflow. When a step execution has several runs (it should not), the
 * latest started wins.
 */
export function mlflowStepRuns(
  trackingUri: string,
): (experimentId: string, workflowId: string, signal: AbortSignal) => Promise<StepRunLink[]> {
  const base = trackingUri.replace(/\/+$/, '');
  return async (experimentId, workflowId, signal) => {
    const filter =
      `tags.\`${STEP_RUN_TAGS.kind}\` = 'step' AND ` + `tags.\`${STEP_RUN_TAGS.workflowId}\` = ${quoted(workflowId)}`;
    const latest = new Map<string, { link: StepRunLink; started: number }>();
    let pageToken = '';
    do {
      const response = await fetch(`${base}/api/2.0/mlflow/runs/search`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          experiment_ids: [experimentId],
          filter,
          max_results: 1000,
          ...(pageToken ? { page_token: pageToken } : {}),
        }),
        signal,
      });
      const body = (await response.json().catch(() => ({}))) as {
        runs?: SearchedRun[];
        next_page_token?: string;
        message?: string;
      };
      if (!response.ok) throw new Error(`MLflow runs/search answered HTTP ${response.status}: ${body.message ?? ''}`);
      for (const run of body.runs ?? []) {
        const tags = new Map((run.data?.tags ?? []).map((tag) => [tag.key ?? '', tag.value ?? '']));
        const execution = tags.get(STEP_RUN_TAGS.execution);
        const stepId = tags.get(STEP_RUN_TAGS.stepId);
        const runId = run.info?.run_id;
        if (!execution || !stepId || !runId) continue;
        const index = tags.get(STEP_RUN_TAGS.index);
        const started = Number(run.info?.start_time ?? 0);
        const known = latest.get(execution);
        if (known && known.started >= started) continue;
        latest.set(execution, {
          started,
          link: {
            execution,
            stepId,
            ...(index === undefined || index === '' ? {} : { index: Number(index) }),
            runId,
            experimentId: run.info?.experiment_id ?? experimentId,
          },
        });
      }
      pageToken = body.next_page_token ?? '';
    } while (pageToken);
    return [...latest.values()].map((entry) => entry.link).sort((a, b) => a.execution.localeCompare(b.execution));
  };
}

function problem(status: 400 | 404 | 502, message: string): Response {
  return Response.json({ code: status === 400 ? 3 : status === 404 ? 5 : 14, message, details: [] }, { status });
}

/** The backend's routes (mount on the UI app; paths are relative to the public path). */
export function pipelineViewApi(backend: PipelineViewBackend): Hono {
  const app = new Hono();
  const guards = securityMiddleware(backend.allowedHosts === undefined ? {} : { allowedHosts: backend.allowedHosts });
  for (const guard of guards) app.use('/mloe/api/*', guard);
  app.get('/mloe/api/step-runs', async (c) => {
    const experimentId = c.req.query('experimentId') ?? '';
    const workflowId = c.req.query('workflowId') ?? '';
    if (experimentId === '' || workflowId === '') {
      return problem(400, 'give experimentId and workflowId: /mloe/api/step-runs?experimentId=<id>&workflowId=<id>');
    }
    if (backend.stepRuns === undefined) {
      return problem(404, 'this UI server was started without an MLflow tracking server to find step runs in');
    }
    try {
      c.header('Cache-Control', 'no-store');
      return c.json({ runs: await backend.stepRuns(experimentId, workflowId, c.req.raw.signal) });
    } catch (error) {
      return problem(502, `cannot search MLflow for the step runs: ${(error as Error).message}`);
    }
  });
  app.get('/mloe/api/lineage', async (c) => {
    const artifact = c.req.query('artifact') ?? '';
    if (!/^(file|s3):\/\/\S+$/i.test(artifact)) {
      return problem(400, 'give an artifact URI (file:// or s3://): /mloe/api/lineage?artifact=<uri>');
    }
    if (backend.artifactLineage === undefined) {
      return problem(404, 'this UI server was started without access to artifact stores');
    }
    try {
      const lineage = await backend.artifactLineage(artifact);
      if (lineage === undefined) return problem(404, `no lineage record names ${artifact}`);
      c.header('Cache-Control', 'no-store');
      return c.json(lineage);
    } catch (error) {
      return problem(404, `no lineage for ${artifact}: ${(error as Error).message}`);
    }
  });
  return app;
}
