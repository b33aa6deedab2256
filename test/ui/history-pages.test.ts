/**
 * The Temporal Web UI's history page of a history longer than one page of its event table (the long-history
 * workflow of `npm run bench:ui`, cut to some 400 events: batches of 16 concurrent activities), in headless Chromium
 * against an embedded dev server. Checks what the patches to `@temporalio/ui` (infra/ui/build/patches/) could break:
 * every event is listed once paged to the end, the compact view lists every activity, the reset dialog offers every
 * workflow task once it opens (patch 005 renders its options only then), durations read as before (patch 006
 * formats each distinct one once), the graph beside the table still nests overlapping activities (patch 007) and a
 * running workflow's action dialogs open, work and close (patch 008 mounts them only while open), and an event
 * time's tooltip and copy button show on hover and the button copies (patch 009 renders both when first hovered).
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Page } from 'playwright-core';

import * as activities from '../../bench/ui-activities';
import { startEmbeddedUi } from '../../clients/ui';
import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import type { UiServerHandle } from '../../infra/ui/server';
import { bundle } from '../devserver/harness';
import { pollUntil } from '../support/poll';
import { launchBrowser, type BrowserHarness, type WatchedPage } from './harness';

const NAMESPACE = 'default';
const TASK_QUEUE = 'ui-history-pages';
const WORKFLOW_ID = 'ui-history-pages-long';
/** A run that stays open (no worker polls its task queue), for the actions of a running workflow. */
const RUNNING_ID = 'ui-history-pages-running';
/** About four pages of the event table (100 rows a page). */
const EVENTS = 400;
const ROW = '[data-testid=event-summary-row]';

let harness: BrowserHarness;
let server: DevServerHandle;
let ui: UiServerHandle;
let runId: string;
/** The history as the server has it. */
let eventIds: string[];
let activityCount: number;
let resetEventIds: string[];
let runningRunId: string;

beforeAll(async () => {
  server = await startDevServer({ port: 0, logLevel: 'error' });
  ui = await startEmbeddedUi(server, { ip: '127.0.0.1', port: 0 });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection, namespace: NAMESPACE });
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: NAMESPACE,
      taskQueue: TASK_QUEUE,
      workflowBundle: await bundle(require.resolve('../../bench/ui-workflows')),
      activities,
    });
    await worker.runUntil(async () => {
      const handle = await client.workflow.start('collectReadings', {
        taskQueue: TASK_QUEUE,
        workflowId: WORKFLOW_ID,
        args: [EVENTS],
      });
      await handle.result();
      runId = (await handle.describe()).runId;
    });
    const events = (await client.workflow.getHandle(WORKFLOW_ID, runId).fetchHistory()).events ?? [];
    eventIds = events.map((e) => String(e.eventId));
    const types = events.map((e) => e.eventType);
    const { EventType } = (await import('@temporalio/proto')).temporal.api.enums.v1;
    activityCount = types.filter((t) => t === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).length;
    const resetTypes = new Set([
      EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
      EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    ]);
    resetEventIds = events.filter((e) => resetTypes.has(e.eventType!)).map((e) => String(e.eventId));
    const running = await client.workflow.start('collectReadings', {
      taskQueue: `${TASK_QUEUE}-unpolled`,
      workflowId: RUNNING_ID,
      args: [EVENTS],
    });
    runningRunId = running.firstExecutionRunId;
  } finally {
    await nativeConnection.close();
    await connection.close();
  }
  harness = await launchBrowser();
}, 300_000);

afterAll(async () => {
  await harness?.close();
  await ui?.close();
  await server?.close();
}, 60_000);

const historyPath = (): string => `/namespaces/${NAMESPACE}/workflows/${WORKFLOW_ID}/${runId}/history`;

async function openHistory(): Promise<WatchedPage> {
  const watched = await harness.open();
  await watched.page.goto(`${ui.url}${historyPath()}`);
  await watched.page.locator(ROW).first().waitFor({ timeout: 60_000 });
  return watched;
}

/** `attribute` of every element `selector` matches, in document order (run in the page; tests have no DOM types). */
function attributes(page: Page, selector: string, attribute: string): Promise<string[]> {
  return page.evaluate<string[]>(
    `Array.from(document.querySelectorAll(${JSON.stringify(selector)}), (e) => e.getAttribute(${JSON.stringify(attribute)}) ?? '')`,
  );
}

/** The event ids of the rows on the table's current page. */
function rowIds(page: Page): Promise<string[]> {
  return attributes(page, ROW, 'data-eventid');
}

/** Pages through the table with its Next Page button, collecting what `read` finds on each page. */
async function everyPage(page: Page, read: (page: Page) => Promise<string[]>): Promise<string[][]> {
  const pages: string[][] = [await read(page)];
  const next = page.getByRole('button', { name: 'Next Page' }).first();
  while (await next.isEnabled()) {
    const before = await rowIds(page);
    await next.click();
    // The next page is shown when the first row is another event.
    await page.waitForFunction(
      `document.querySelector(${JSON.stringify(ROW)})?.getAttribute('data-eventid') !== ${JSON.stringify(before[0])}`,
      undefined,
      { timeout: 30_000 },
    );
    pages.push(await read(page));
  }
  return pages;
}

describe('a history longer than a page, in the Temporal Web UI', () => {
  it('has the shape the checks below need (several pages, many activities and workflow tasks)', () => {
    expect(eventIds.length).toBeGreaterThan(300);
    expect(activityCount).toBeGreaterThanOrEqual(80);
    expect(resetEventIds.length).toBeGreaterThan(5);
  });

  it('lists every event once, 100 to a page, when paged to the end', async () => {
    const { page, errors } = await openHistory();
    const pages = await everyPage(page, rowIds);
    expect(pages.length).toBe(Math.ceil(eventIds.length / 100));
    expect(pages.slice(0, -1).every((ids) => ids.length === 100)).toBe(true);
    const listed = pages.flat();
    expect(listed.length).toBe(eventIds.length);
    expect([...listed].sort((a, b) => Number(a) - Number(b))).toEqual(eventIds);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('lists every activity in the compact view, across its pages', async () => {
    const { page, errors } = await openHistory();
    await page.getByTestId('compact').click();
    await page.locator(ROW).filter({ hasText: 'recordReading' }).first().waitFor({ timeout: 30_000 });
    const readRows = (p: Page): Promise<string[]> => p.locator(ROW).allTextContents();
    const rows = (await everyPage(page, readRows)).flat();
    expect(rows.filter((text) => text.includes('recordReading')).length).toBe(activityCount);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('offers every workflow task in the reset dialog once it opens, and none before', async () => {
    const { page, errors } = await openHistory();
    // The page has the workflow's actions twice (for wide and narrow screens), each with its reset dialog.
    const anyOption = page.locator('[id=reset-event-id-select] [role=option]');
    // Rendered when the dialog opens (patch 005): none while it is closed.
    expect(await anyOption.count()).toBe(0);
    await page.locator('#workflow-actions-primary-button').filter({ visible: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Reset Workflow' });
    await dialog.getByTestId('workflow-reset-event-id-select-button').click();
    const options = dialog.locator('[role=option]');
    await options.first().waitFor({ timeout: 30_000 });
    expect(await options.count()).toBe(resetEventIds.length);
    const texts = (await options.allTextContents()).map((text) => text.trim());
    const offered = texts.map((text) => text.split(' ')[0] ?? '');
    expect([...offered].sort((a, b) => Number(a) - Number(b))).toEqual(resetEventIds);
    expect(texts.every((text) => text.endsWith('- WorkflowTaskCompleted'))).toBe(true);
    // Choosing one fills the select and enables the confirmation.
    await options.last().click();
    expect(await dialog.locator('#reset-event-id').inputValue()).toBe(texts[texts.length - 1]);
    expect(await dialog.getByRole('button', { name: 'Confirm' }).isEnabled()).toBe(true);
    await dialog.getByText('Cancel', { exact: true }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 30_000 });
    expect(await anyOption.count()).toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows each activity's timeouts as durations in words, the same for every event", async () => {
    const { page, errors } = await openHistory();
    const scheduled = page.locator(ROW).filter({ hasText: 'Activity Task Scheduled' });
    await scheduled.first().waitFor({ timeout: 30_000 });
    // Two events with the same timeout: the second is formatted from the first's cached string (patch 006).
    for (const row of [scheduled.nth(0), scheduled.nth(1)]) {
      await row.click();
      const details = row.locator('xpath=following-sibling::tr[1]');
      await details.getByText('Start To Close Timeout').first().waitFor({ timeout: 30_000 });
      expect(await details.getByText('30 seconds', { exact: true }).count()).toBeGreaterThan(0);
    }
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('nests overlapping activities in the graph beside the table', async () => {
    const { page, errors } = await openHistory();
    // The dots' horizontal places are the rows' nesting levels: batches of 16 concurrent activities nest deeply.
    const circles = '[data-testid=event-summary-table] svg g[role=button] circle';
    await page.locator(circles).first().waitFor({ timeout: 30_000 });
    const xs = await attributes(page, circles, 'cx');
    expect(new Set(xs).size).toBeGreaterThanOrEqual(8);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows an event time's tooltip and copy button on hover, and the button copies the time", async () => {
    const { page, errors } = await openHistory();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ui.url });
    const row = page.locator(ROW).nth(5);
    // Each row has its time twice (for wide and narrow screens); the wide one shows at this width.
    const time = row.locator('.wrapper').filter({ visible: true });
    expect(await time.count()).toBe(1);
    const shown = (await time.innerText()).trim();
    expect(shown).toMatch(/\d{4}-\d{2}-\d{2} UTC \d{2}:\d{2}:\d{2}\.\d{2}/);
    // The tooltip's bubble and the copy button are rendered when first hovered (patch 009): none in any row before.
    expect(await page.locator(`${ROW} .tooltip`).count()).toBe(0);
    const copyButton = time.getByRole('button', { name: 'Click to copy content' });
    expect(await copyButton.count()).toBe(0);
    await time.hover();
    const tooltip = time.locator('.tooltip');
    await tooltip.waitFor({ state: 'visible', timeout: 30_000 });
    expect((await tooltip.innerText()).trim()).toMatch(/^\+\d/);
    await copyButton.waitFor({ state: 'visible', timeout: 30_000 });
    // Visible while hovered, so reachable from the keyboard.
    await copyButton.focus();
    const focused = `document.activeElement?.matches(${JSON.stringify(`${ROW} .wrapper button`)}) === true`;
    expect(await page.evaluate(focused)).toBe(true);
    // Only the hovered time's bubble and button were rendered.
    expect(await page.locator(`${ROW} .tooltip`).count()).toBe(1);
    await copyButton.click();
    await time.getByRole('button', { name: 'Content copied to clipboard' }).waitFor({ timeout: 30_000 });
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(shown);
    // The tooltip hides again when the pointer leaves.
    await page.mouse.move(0, 0);
    await tooltip.waitFor({ state: 'hidden', timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("opens a running workflow's signal and terminate dialogs from its actions menu, and terminates it", async () => {
    const { page, errors } = await harness.open();
    await page.goto(`${ui.url}/namespaces/${NAMESPACE}/workflows/${RUNNING_ID}/${runningRunId}/history`);
    const menuButton = page.locator('#workflow-actions-menu-button').filter({ visible: true });
    await menuButton.waitFor({ timeout: 60_000 });
    // The dialogs are mounted when opened (patch 008): none on the page before.
    expect(await page.locator('[data-testid=signal-confirmation-modal]').count()).toBe(0);
    expect(await page.locator('[data-testid=terminate-confirmation-modal]').count()).toBe(0);
    await menuButton.click();
    await page.getByTestId('signal-button').filter({ visible: true }).click();
    const signal = page.getByRole('dialog', { name: 'Send a Signal' });
    await signal.waitFor({ timeout: 30_000 });
    // Its payload editor (CodeMirror) is there to type into.
    await signal.locator('.cm-content').first().waitFor({ timeout: 30_000 });
    await signal.getByText('Cancel', { exact: true }).click();
    await signal.waitFor({ state: 'hidden', timeout: 30_000 });
    await menuButton.click();
    await page.getByTestId('terminate-button').filter({ visible: true }).click();
    const terminate = page.getByRole('dialog', { name: 'Terminate Workflow' });
    await terminate.waitFor({ timeout: 30_000 });
    await terminate.locator('#workflow-termination-reason').fill('terminated from the UI test');
    await terminate.getByTestId('confirm-modal-button').click();
    const connection = await Connection.connect({ address: server.address });
    try {
      const handle = new Client({ connection, namespace: NAMESPACE }).workflow.getHandle(RUNNING_ID);
      await pollUntil(
        'the run terminated',
        async () => ((await handle.describe()).status.name === 'TERMINATED' ? true : undefined),
        { timeoutMs: 30_000 },
      );
    } finally {
      await connection.close();
    }
    await page.getByText('Terminated').first().waitFor({ timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
