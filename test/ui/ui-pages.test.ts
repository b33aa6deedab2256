/**
 * The Temporal Web UI's pages in headless Chromium against an embedded dev server that
 * holds real executions: the demo pipeline run (completed, with activities), a failed run, a schedule; each page
 * shows what it should (visible text and elements) with no console errors, and the pipeline view of the demo run
 * is kept as a screenshot (test-output/ui/pipeline-view-demo.png).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { ScheduleOverlapPolicy } from '@temporalio/client';

import { HOUSING_DATA, HOUSING_SPEC } from '../support/examples';
import { embeddedMlflowOptions } from '../../clients/embedded-mlflow';
import { startEmbeddedStack, type EmbeddedStack } from '../../clients/embedded-stack';
import { startPipeline, waitForPipeline, type PipelineRun } from '../../clients/pipelines';
import { embeddedTrackingConfig, loadWorkflowBundleConfig } from '../../workers/config';
import { createPipelineWorker } from '../../workers/pipeline-worker';
import { PIPELINE_TASK_QUEUE } from '../../workflows/types';
import { pollUntil } from '../support/poll';
import { launchBrowser, type BrowserHarness, type WatchedPage } from './harness';

let harness: BrowserHarness;
let stack: EmbeddedStack;
let ui: string;
let artifactRoot: string;
let demo: PipelineRun;
/** The Temporal run id of the demo run. */
let runId: string;
let stopWorker: () => Promise<void>;
const SCHEDULE_ID = 'ui-pages-nightly';

beforeAll(async () => {
  artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-ui-pages-'));
  stack = await startEmbeddedStack({
    workflowBundle: loadWorkflowBundleConfig({ env: process.env }),
    ui: { ip: '127.0.0.1', port: 0 },
    // Tracked in an embedded MLflow server, as `npm run demo` runs it (the demo's register step needs a registry).
    mlflow: embeddedMlflowOptions({ port: 0, artifactsParent: artifactRoot }),
    tracking: ({ mlflowUrl }) => (mlflowUrl === undefined ? undefined : embeddedTrackingConfig(process.env, mlflowUrl)),
    createWorker: (connection, workflowBundle, { tracking }) =>
      createPipelineWorker({ connection, workflowBundle, ...(tracking === undefined ? {} : { tracking }) }),
  });
  ui = stack.uiUrl ?? '';
  let release: () => void = () => undefined;
  const running = stack.runWorkerUntil(new Promise<void>((resolveRun) => (release = resolveRun)));
  stopWorker = async () => {
    release();
    await running;
  };
  demo = await startPipeline(stack.client, {
    file: HOUSING_SPEC,
    params: { dataPath: HOUSING_DATA },
    artifactRoot,
    workingDir: resolve(__dirname, '..', '..'),
  });
  const outcome = await waitForPipeline(demo.handle, { pollIntervalMs: 100 });
  expect(outcome.status.state).toBe('completed');
  runId = (await demo.handle.describe()).runId;
  await stack.client.schedule.create({
    scheduleId: SCHEDULE_ID,
    spec: { intervals: [{ every: '1 day' }] },
    action: { type: 'startWorkflow', workflowType: 'runPipeline', taskQueue: PIPELINE_TASK_QUEUE, args: [] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
    state: { paused: true, note: 'created by the UI tests' },
  });
  harness = await launchBrowser();
}, 300_000);

afterAll(async () => {
  await harness?.close();
  await stopWorker?.();
  await stack?.close();
  await rm(artifactRoot, { recursive: true, force: true });
}, 60_000);

async function open(path: string): Promise<WatchedPage> {
  const watched = await harness.open();
  await watched.page.goto(`${ui}${path}`);
  return watched;
}

describe('the Temporal Web UI on the embedded dev server', () => {
  it('lists the namespaces', async () => {
    const { page, errors } = await open('/namespaces');
    await page.getByTestId('namespace-list').getByText('default').waitFor({ timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("lists workflows with the query box and mloe's search attributes as columns", async () => {
    const { page, errors } = await open('/namespaces/default/workflows');
    // The UI's own row (the list's first paint shows the same text before it).
    await page
      .getByTestId('workflows-summary-configurable-table-row')
      .filter({ hasText: demo.workflowId })
      .first()
      .waitFor({ timeout: 30_000 });
    expect(await page.getByText('runPipeline').count()).toBeGreaterThan(0);
    expect(await page.getByRole('columnheader', { name: 'MloePipeline' }).count()).toBe(1);
    // A row's Start button shows its tooltip on hover (patch 009 renders the bubble when the button is first hovered).
    const row = page
      .locator('[data-testid=workflows-summary-configurable-table-row]')
      .filter({ hasText: demo.workflowId });
    const start = row
      .first()
      .locator('.wrapper')
      .filter({ has: page.locator('.start-button') });
    expect(await start.locator('.tooltip').count()).toBe(0);
    await start.locator('.start-button').hover();
    const tooltip = start.locator('.tooltip');
    await tooltip.waitFor({ state: 'visible', timeout: 30_000 });
    expect((await tooltip.innerText()).trim()).toBe('Start Workflow Like This One');
    await page.mouse.move(0, 0);
    await tooltip.waitFor({ state: 'hidden', timeout: 30_000 });
    await harness.screenshot(page, 'workflows-list');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows a workflow's summary, input and result, its event history and the link to the pipeline view", async () => {
    const { page, errors } = await open(`/namespaces/default/workflows/${demo.workflowId}/${runId}`);
    await page.waitForURL(/\/history$/, { timeout: 30_000 });
    await page.getByText('Completed').first().waitFor({ timeout: 30_000 });
    expect(await page.getByText(demo.workflowId).count()).toBeGreaterThan(0);
    expect(
      await page.getByText('WorkflowExecutionStarted').or(page.getByText('Workflow Execution Started')).count(),
    ).toBeGreaterThan(0);
    expect(await page.getByTestId('mloe-pipeline-view-link').getAttribute('href')).toContain(`run=${demo.workflowId}`);
    await harness.screenshot(page, 'workflow-history');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shows event times in UTC by default and in the time zone chosen from the top bar (patched date formatting)', async () => {
    // The history's last event (the first row: the UI lists events newest first), as the server has it.
    const history = await stack.client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: 'default',
      execution: { workflowId: demo.workflowId, runId },
      maximumPageSize: 1,
    });
    const eventTime = history.history?.events?.[0]?.eventTime;
    const ms = Number(eventTime?.seconds ?? 0) * 1000 + Math.floor((eventTime?.nanos ?? 0) / 1e6);
    expect(ms).toBeGreaterThan(0);
    // The UI's format, 'yyyy-MM-dd z HH:mm:ss.SS' (z: the zone's short name), from the UTC fields of the time
    // shifted by the zone's offset.
    const shown = (offsetHours: number, zone: string): string => {
      const d = new Date(ms + offsetHours * 3_600_000);
      const pad = (n: number): string => String(n).padStart(2, '0');
      return (
        `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${zone} ` +
        `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(Math.floor(d.getUTCMilliseconds() / 10))}`
      );
    };
    const { page, errors } = await open(`/namespaces/default/workflows/${demo.workflowId}/${runId}/history`);
    const rows = page.getByTestId('event-summary-row');
    const time = (text: string) => rows.getByText(text).filter({ visible: true });
    await time(shown(0, 'UTC')).first().waitFor({ timeout: 30_000 });
    // The time zone menu renders its zones when it opens (patch 004), and choosing one reformats the times.
    const tokyo = page.getByText('Japan Standard Time (GMT+9)');
    expect(await tokyo.count()).toBe(0);
    await page.getByTestId('timezones-menu-button').click();
    await tokyo.first().waitFor({ timeout: 30_000 });
    await tokyo.first().click();
    await time(shown(9, 'GMT+9')).first().waitFor({ timeout: 30_000 });
    expect(await time(shown(0, 'UTC')).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('answers the status query on the queries tab', async () => {
    const { page, errors } = await open(`/namespaces/default/workflows/${demo.workflowId}/${runId}/query`);
    await page.getByText('housing', { exact: false }).first().waitFor({ timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shows the pending activities and call stack tabs of a completed run without errors', async () => {
    for (const tab of ['pending-activities', 'call-stack', 'relationships', 'metadata']) {
      const { page, errors } = await open(`/namespaces/default/workflows/${demo.workflowId}/${runId}/${tab}`);
      await page.getByText(demo.workflowId).first().waitFor({ timeout: 30_000 });
      expect(errors).toEqual([]);
      await page.context().close();
    }
  });

  it('lists schedules and shows one', async () => {
    const list = await open('/namespaces/default/schedules');
    await list.page.getByText(SCHEDULE_ID).first().waitFor({ timeout: 30_000 });
    expect(list.errors).toEqual([]);
    await list.page.context().close();
    const detail = await open(`/namespaces/default/schedules/${SCHEDULE_ID}`);
    await detail.page.getByText('runPipeline').first().waitFor({ timeout: 30_000 });
    expect(detail.errors).toEqual([]);
    await detail.page.context().close();
  });

  it('draws the pipeline view of the demo run (screenshot kept)', async () => {
    const { page, errors } = await open(`/mloe/pipelines/?namespace=default&run=${demo.workflowId}`);
    await page.getByTestId('dag').waitFor({ timeout: 30_000 });
    const nodes = page.locator('[data-testid=dag] g.node');
    const states: (string | null)[] = [];
    for (let index = 0; index < (await nodes.count()); index += 1) {
      states.push(await nodes.nth(index).getAttribute('data-state'));
    }
    expect(states.length).toBeGreaterThanOrEqual(5);
    expect(new Set(states)).toEqual(new Set(['completed']));
    expect(await page.locator('tr[data-step=train]').innerText()).toContain('sha256:');
    await harness.screenshot(page, 'pipeline-view-demo');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('links each step to its MLflow run and each artifact to its lineage', async () => {
    const { page, errors } = await open(`/mloe/pipelines/?namespace=default&run=${demo.workflowId}`);
    const trainLink = page.locator('tr[data-step=train] [data-testid=step-mlflow-link]');
    await trainLink.waitFor({ timeout: 30_000 });
    // The run MLflow has for the train step's execution, found here by its tag through MLflow's REST API.
    const status = await demo.handle.query<{ mlflow?: { experimentId: string } }>('status');
    expect(status.mlflow?.experimentId).toBeDefined();
    const search = await fetch(`${stack.mlflowUrl ?? ''}/api/2.0/mlflow/runs/search`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        experiment_ids: [status.mlflow?.experimentId],
        filter: `tags.\`mloe.execution\` = '${demo.workflowId}/train'`,
      }),
    });
    expect(search.ok).toBe(true);
    const found = ((await search.json()) as { runs?: { info: { run_id: string } }[] }).runs ?? [];
    expect(found).toHaveLength(1);
    const trainRunId = found[0]!.info.run_id;
    expect(await trainLink.getAttribute('data-run-id')).toBe(trainRunId);
    const href = (await trainLink.getAttribute('href')) ?? '';
    expect(href.startsWith(stack.mlflowUrl ?? '-')).toBe(true);
    expect(href).toContain(encodeURIComponent(trainRunId));
    // The link answers: the embedded MLflow has no UI, so it is the run's REST answer, tagged with the step.
    const run = (await (await fetch(href)).json()) as { run: { data: { tags: { key: string; value: string }[] } } };
    expect(run.run.data.tags).toEqual(
      expect.arrayContaining([{ key: 'mloe.execution', value: `${demo.workflowId}/train` }]),
    );
    // Every step of the completed run has its own run, none shared.
    const links = page.locator('[data-testid=step-mlflow-link]');
    const runIds: (string | null)[] = [];
    for (let index = 0; index < (await links.count()); index += 1) {
      runIds.push(await links.nth(index).getAttribute('data-run-id'));
    }
    expect(runIds.length).toBeGreaterThanOrEqual(5);
    expect(new Set(runIds).size).toBe(runIds.length);
    // The train step's model artifact links to its lineage, which names the step that produced it.
    const lineageLink = page.locator('tr[data-step=train] [data-testid=lineage-link]').first();
    const lineageHref = (await lineageLink.getAttribute('href')) ?? '';
    expect(lineageHref).toContain('/mloe/api/lineage?artifact=');
    const lineage = await page.request.get(new URL(lineageHref, ui).href);
    expect(lineage.status()).toBe(200);
    const text = JSON.stringify(await lineage.json());
    expect(text).toContain(demo.workflowId);
    expect(text).toContain('"train"');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('refuses a terminate from another origin (no CSRF token) and takes it from the UI', async () => {
    const described = await pollUntil('the schedule', () => stack.client.schedule.getHandle(SCHEDULE_ID).describe());
    expect(described.state.paused).toBe(true);
    const denied = await fetch(`${ui}/api/v1/namespaces/default/workflows/${demo.workflowId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'cross-origin' }),
      headers: { Origin: 'https://evil.example', 'Content-Type': 'application/json' },
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });
});
