/**
 * mloe's pipeline view in headless Chromium, against Temporal's HTTP API contract: the run's `status` query answered
 * as proto3 JSON (a base64 `json/plain` payload), DescribeWorkflowExecution and ListWorkflowExecutions. The API is a
 * stand-in serving a fixed run here, recording the requests it got; `ui-pages.test.ts` runs the same page against
 * the dev server's real HTTP API and a real demo run.
 */
import type { PipelineRunStatus } from '../../workflows/types';
import { MLOE_PAGES_DIR } from '../../clients/ui';
import { startUiServer, type UiServerHandle } from '../../infra/ui/server';
import { launchBrowser, type BrowserHarness } from './harness';

const artifact = (name: string, digit: string): Record<string, unknown> => ({
  uri: `file:///tmp/.mloe/artifacts/sha256/${digit}${digit}/${digit.repeat(64)}`,
  digest: `sha256:${digit.repeat(64)}`,
  size: 1234,
  type: 'table',
  metadata: { name },
  createdAt: '2026-12-07T02:00:00.000Z',
});

const status: PipelineRunStatus = {
  pipeline: 'housing',
  workflowId: 'housing-01J0000000000000000000000',
  specHash: 'ab'.repeat(32),
  state: 'running',
  params: { dataPath: 'housing.csv', target: 'price' },
  metadata: {},
  startedAt: '2026-12-07T02:00:00.000Z',
  steps: [
    {
      id: 'ingest',
      needs: [],
      uses: 'mloe/ingest-csv@1',
      state: 'completed',
      attempts: 1,
      durationMs: 420,
      cache: 'hit',
      cacheReasons: ['outputs reused from housing-01J...'],
      outputs: { table: artifact('table', 'a') },
    },
    {
      id: 'train',
      needs: ['ingest'],
      uses: 'mloe/linear-regression@1',
      state: 'completed',
      attempts: 2,
      durationMs: 1500,
      cache: 'miss',
      outputs: { model: artifact('model', 'b'), intercept: 1.5 },
      metrics: { rmse: 0.5123, r2: 0.9 },
    },
    {
      id: 'sweep',
      needs: ['ingest'],
      uses: 'run',
      state: 'running',
      attempts: 1,
      cache: 'partial',
      foreach: { total: 10, completed: 4, failed: 0, batches: 1 },
    },
    { id: 'report', needs: ['train', 'sweep'], uses: 'run', state: 'pending', attempts: 0, cache: 'unchecked' },
  ],
} as PipelineRunStatus;

const base64 = (text: string): string => Buffer.from(text).toString('base64');

/** Temporal's HTTP API for one pipeline run (proto3 JSON), and the requests that reached it. */
function runApi(seen: string[]): (request: Request) => Response {
  return (request) => {
    const { pathname, searchParams } = new URL(request.url);
    seen.push(`${request.method} ${pathname}${request.headers.get('x-csrf-token') ? ' (csrf)' : ''}`);
    const run = `/api/v1/namespaces/default/workflows/${status.workflowId}`;
    if (request.method === 'POST' && pathname === `${run}/query/status`) {
      return Response.json({
        queryResult: {
          payloads: [{ metadata: { encoding: base64('json/plain') }, data: base64(JSON.stringify(status)) }],
        },
      });
    }
    if (request.method === 'GET' && pathname === run) {
      return Response.json({
        workflowExecutionInfo: {
          execution: { workflowId: status.workflowId, runId: '0193-run' },
          type: { name: 'runPipeline' },
          status: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
        },
      });
    }
    if (request.method === 'GET' && pathname === '/api/v1/namespaces/default/workflows') {
      seen.push(`query ${searchParams.get('query')}`);
      return Response.json({
        executions: [
          {
            execution: { workflowId: status.workflowId, runId: '0193-run' },
            type: { name: 'runPipeline' },
            startTime: '2026-12-07T02:00:00Z',
            status: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
          },
        ],
        nextPageToken: '',
      });
    }
    return Response.json({ code: 5, message: `not found: ${pathname}`, details: [] }, { status: 404 });
  };
}

let harness: BrowserHarness;
let server: UiServerHandle;
const seen: string[] = [];
beforeAll(async () => {
  harness = await launchBrowser();
  server = await startUiServer({ port: 0, publicPath: '/temporal', api: runApi(seen), mloePagesDir: MLOE_PAGES_DIR });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await harness?.close();
});

describe('the pipeline view', () => {
  it("draws the run's DAG and steps: state, duration, attempts, cache, outputs with digests, metrics, progress", async () => {
    const { page, errors } = await harness.open();
    await page.goto(`${server.url}/mloe/pipelines/?namespace=default&run=${status.workflowId}`);
    await page.getByTestId('run-title').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('run-title').innerText()).toBe(`housing · ${status.workflowId}`);

    const nodes = page.locator('[data-testid=dag] g.node');
    expect(await nodes.count()).toBe(4);
    expect(await page.locator('g.node[data-step=train]').getAttribute('data-state')).toBe('completed');
    expect(await page.locator('g.node[data-step=train]').textContent()).toContain('cache miss · 2 attempts');
    expect(await page.locator('g.node[data-step=sweep]').textContent()).toContain('4/10 items');
    expect(await page.locator('[data-testid=dag] path.edge').count()).toBe(4);

    const train = page.locator('tr[data-step=train]');
    expect(await train.innerText()).toContain('1.50 s');
    expect(await train.innerText()).toContain(`sha256:${'b'.repeat(64)}`);
    expect(await train.innerText()).toContain('rmse=0.5123');
    expect(await page.locator('tr[data-step=ingest]').innerText()).toContain('outputs reused from');
    expect(await page.getByTestId('temporal-link').getAttribute('href')).toBe(
      `/temporal/namespaces/default/workflows/${status.workflowId}/0193-run/history`,
    );
    await harness.screenshot(page, 'pipeline-view-run');
    expect(errors).toEqual([]);
    // The query went out with the CSRF token, under the public path.
    expect(seen).toContain(`POST /api/v1/namespaces/default/workflows/${status.workflowId}/query/status (csrf)`);
    await page.context().close();
  });

  it('refreshes a running run (live) by querying its status again', async () => {
    const { page } = await harness.open();
    const before = seen.filter((line) => line.startsWith('POST')).length;
    await page.goto(`${server.url}/mloe/pipelines/?namespace=default&run=${status.workflowId}`);
    await page.waitForRequest((request) => request.url().endsWith('/query/status'), { timeout: 30_000 });
    await page.waitForRequest((request) => request.url().endsWith('/query/status'), { timeout: 30_000 });
    expect(seen.filter((line) => line.startsWith('POST')).length).toBeGreaterThanOrEqual(before + 2);
    await page.context().close();
  });

  it('lists the runs of a pipeline with a search-attribute filter', async () => {
    const { page, errors } = await harness.open();
    await page.goto(`${server.url}/mloe/pipelines?namespace=default&pipeline=housing`);
    await page.getByTestId('runs').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('runs-title').innerText()).toBe('Runs of housing');
    expect(await page.locator('tr[data-run]').count()).toBe(1);
    expect(seen).toContain(`query WorkflowType = 'runPipeline' AND MloePipeline = 'housing'`);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shows what the API said when the run does not exist', async () => {
    const { page } = await harness.open();
    await page.goto(`${server.url}/mloe/pipelines/?namespace=default&run=missing`);
    await page.getByTestId('view-error').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('view-error').innerText()).toContain('HTTP 404: not found');
    await page.context().close();
  });
});
