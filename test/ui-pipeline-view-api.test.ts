/**
 * The pipeline view's backend (`infra/ui/pipeline-view-api.ts`): step runs found by their tags in a real MLflow
 * tracking server (the suite's embedded one, or MLFLOW_TRACKING_URI), over its REST API with the official request
 * shapes; the answers to missing parameters, to a server started without MLflow, and to a foreign Host header; and
 * the tag names kept equal to those tracking writes.
 */
import { randomUUID } from 'node:crypto';

import { mlflowConfig } from '../activities/mlflow';
import { mlflowStepRuns } from '../clients/pipeline-view-backend';
import { pipelineViewApi } from '../infra/ui/pipeline-view-api';

const trackingUri = (): string => {
  const uri = process.env.MLFLOW_TEST_TRACKING_URI;
  if (!uri) throw new Error('MLFLOW_TEST_TRACKING_URI is not set: run through jest (its globalSetup starts MLflow)');
  return uri.replace(/\/+$/, '');
};

async function mlflow(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${trackingUri()}/api/2.0/mlflow/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Creates a run with tags, as tracking creates step runs; returns its id. */
async function createRun(experimentId: string, tags: Record<string, string>, startTime: number): Promise<string> {
  const created = (await mlflow('runs/create', {
    experiment_id: experimentId,
    start_time: startTime,
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
  })) as { run: { info: { run_id: string } } };
  return created.run.info.run_id;
}

describe('step runs in MLflow', () => {
  it("finds each step execution's run of one pipeline run, iterations with their index, the latest of duplicates", async () => {
    const experimentId = (
      (await mlflow('experiments/create', { name: `ui-step-runs-${randomUUID()}` })) as { experiment_id: string }
    ).experiment_id;
    const workflowId = `housing-${randomUUID()}`;
    const step = (stepId: string, index?: number): Record<string, string> => ({
      'mloe.kind': 'step',
      'mloe.workflowId': workflowId,
      'mloe.stepId': stepId,
      'mloe.execution': index === undefined ? `${workflowId}/${stepId}` : `${workflowId}/${stepId}/${index}`,
      ...(index === undefined ? {} : { 'mloe.index': String(index) }),
    });
    const now = Date.now();
    const train = await createRun(experimentId, step('train'), now);
    const sweep0 = await createRun(experimentId, step('sweep', 0), now);
    await createRun(experimentId, step('sweep', 1), now - 1000);
    const sweep1Later = await createRun(experimentId, step('sweep', 1), now);
    // A run prepared for a step still running: its execution is in mloe.prepared until the step writes to it.
    const { 'mloe.execution': evalExecution, ...evalTags } = step('eval');
    const evaluate = await createRun(experimentId, { ...evalTags, 'mloe.prepared': evalExecution ?? '' }, now);
    // Not the run's steps: the pipeline run itself, and another pipeline run's step.
    await createRun(experimentId, { 'mloe.kind': 'pipeline', 'mloe.workflowId': workflowId }, now);
    await createRun(experimentId, { ...step('train'), 'mloe.workflowId': `other-${workflowId}` }, now);

    const runs = await mlflowStepRuns(mlflowConfig({ trackingUri: trackingUri() }))(
      experimentId,
      workflowId,
      new AbortController().signal,
    );
    expect(runs).toEqual([
      { execution: `${workflowId}/eval`, stepId: 'eval', runId: evaluate, experimentId },
      { execution: `${workflowId}/sweep/0`, stepId: 'sweep', index: 0, runId: sweep0, experimentId },
      { execution: `${workflowId}/sweep/1`, stepId: 'sweep', index: 1, runId: sweep1Later, experimentId },
      { execution: `${workflowId}/train`, stepId: 'train', runId: train, experimentId },
    ]);

    // Through the route, as the view asks for them.
    const app = pipelineViewApi({ stepRuns: mlflowStepRuns(mlflowConfig({ trackingUri: trackingUri() })) });
    const answer = await app.request(
      `http://127.0.0.1/mloe/api/step-runs?experimentId=${experimentId}&workflowId=${encodeURIComponent(workflowId)}`,
    );
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { runs: unknown[] }).runs).toEqual(runs);
  });

  it('answers 502 naming MLflow when the search fails', async () => {
    // A real server answering 404: a path it does not serve.
    const app = pipelineViewApi({
      stepRuns: mlflowStepRuns(mlflowConfig({ trackingUri: `${trackingUri()}/no-such-prefix` })),
    });
    const answer = await app.request(
      'http://127.0.0.1/mloe/api/step-runs?experimentId=no-such-experiment&workflowId=x',
    );
    expect(answer.status).toBe(502);
    expect(((await answer.json()) as { message: string }).message).toMatch(
      /cannot search MLflow for the step runs: MLflow tracking server http:\/\/\S+\/no-such-prefix: MLflow POST \/api\/2.0\/mlflow\/runs\/search failed with ENDPOINT_NOT_FOUND \(HTTP 404\)/,
    );
  });
});

describe('the routes', () => {
  const app = pipelineViewApi({});

  it('say which parameters are missing', async () => {
    const runs = await app.request('http://127.0.0.1/mloe/api/step-runs?workflowId=x');
    expect(runs.status).toBe(400);
    expect(((await runs.json()) as { message: string }).message).toContain('experimentId');
    const lineage = await app.request('http://127.0.0.1/mloe/api/lineage?artifact=/etc/passwd');
    expect(lineage.status).toBe(400);
    expect(((await lineage.json()) as { message: string }).message).toContain('artifact URI');
  });

  it('answer 404 saying what the server was started without', async () => {
    const runs = await app.request('http://127.0.0.1/mloe/api/step-runs?experimentId=1&workflowId=x');
    expect(runs.status).toBe(404);
    expect(((await runs.json()) as { message: string }).message).toContain('without an MLflow tracking server');
    const lineage = await app.request('http://127.0.0.1/mloe/api/lineage?artifact=file:///tmp/x/sha256/ab/cd');
    expect(lineage.status).toBe(404);
  });

  it('refuse a Host that is not loopback (DNS rebinding)', async () => {
    const answer = await app.request('http://127.0.0.1/mloe/api/step-runs?experimentId=1&workflowId=x', {
      headers: { Host: 'attacker.example' },
    });
    expect(answer.status).toBe(403);
  });
});
