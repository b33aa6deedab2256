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
