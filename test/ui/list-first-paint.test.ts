/**
 * The workflow list's first paint (`infra/ui/list-first-paint.ts`), in headless Chromium against the embedded dev
 * server's real HTTP API. The UI's entry module is held back (the browser's request for it waits on a gate the test
 * opens), so the page stays at its first paint as long as a test needs, then the UI boots and takes over. Checked:
 * the first paint shows the preloaded page's rows with the same columns, cell texts and links as the UI's own rows
 * that replace it; it follows the columns a person chose; it draws nothing where it could not match (another time
 * zone, relative times, the dark theme, a column it does not draw, an empty page, a workflow's page, turned off); it
 * goes when the page leaves the list, and at the end of the preload window when the UI never shows rows; a click on
 * one of its links opens that workflow.
 */
import Long from 'long';
import { Client, Connection } from '@temporalio/client';
import type { Page, Route } from 'playwright-core';

import { seedClosedWorkflows } from '../../bench/ui-seed';
import { uiApiFor } from '../../clients/ui';
import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import { API_PRELOAD_MARKS, apiPreloadScript } from '../../infra/ui/api-preload';
import { EMBEDDED_ANSWERS_ID } from '../../infra/ui/embedded-answers';
import { FIRST_PAINT_IDS, FIRST_PAINT_MARKS } from '../../infra/ui/list-first-paint';
import { startUiServer, type UiServerHandle, type UiServerOptions } from '../../infra/ui/server';
import { registerSearchAttributes } from '../../workers/search-attributes';
import { PIPELINE_SEARCH_ATTRIBUTE, STATUS_SEARCH_ATTRIBUTE } from '../../workflows/types';
import { pollUntil } from '../support/poll';
import { launchBrowser, type BrowserHarness, type WatchedPage } from './harness';

const LIST_ROW = 'workflows-summary-configurable-table-row';
const UI_TIMEOUT_MS = 60_000;
const ROOT = `#${FIRST_PAINT_IDS.root}`;
/** The UI's entry module: held back to keep a page at its first paint. */
const APP_ENTRY = '**/_app/immutable/entry/app.*.js';
/** How many workflows the namespace holds: closed ones seeded, running ones with mloe's search attributes. */
const CLOSED = 6;
const RUNNING = 2;
/** A namespace whose workflow's search attribute value is beyond ASCII. */
const ACCENTS = 'ui-first-paint-accents';

let harness: BrowserHarness;
let devServer: DevServerHandle;
let connection: Connection;

/** The UI server with the given options over the dev server's HTTP API, as `mloe server start-dev` serves it. */
function startUi(options: Partial<UiServerOptions> = {}): Promise<UiServerHandle> {
  return startUiServer({ port: 0, ...options, api: uiApiFor(devServer, '127.0.0.1') });
}

beforeAll(async () => {
  devServer = await startDevServer({ port: 0, logLevel: 'error' });
  await seedClosedWorkflows(devServer.rpc, { namespace: 'default', count: CLOSED, concurrency: 2 });
  connection = await Connection.connect({ address: devServer.address });
  await registerSearchAttributes(connection, 'default');
  const client = new Client({ connection });
  // Running workflows (no worker polls their queue) with mloe's search attributes, as pipeline runs have them.
  for (let i = 0; i < RUNNING; i++) {
    await client.workflow.start('runPipeline', {
      taskQueue: 'ui-first-paint-nobody',
      workflowId: `pipeline-run-${i} <&"'>`,
      typedSearchAttributes: [
        { key: PIPELINE_SEARCH_ATTRIBUTE, value: `housing-${i}` },
        { key: STATUS_SEARCH_ATTRIBUTE, value: 'Running' },
      ],
    });
  }
  // A namespace whose only workflow has a search attribute value beyond ASCII.
  await connection.workflowService.registerNamespace({
    namespace: ACCENTS,
    workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) },
  });
  await registerSearchAttributes(connection, ACCENTS);
  await new Client({ connection, namespace: ACCENTS }).workflow.start('runPipeline', {
    taskQueue: 'ui-first-paint-nobody',
    workflowId: 'pipeline-accented',
    typedSearchAttributes: [{ key: PIPELINE_SEARCH_ATTRIBUTE, value: 'modèle' }],
  });
  harness = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await harness?.close();
  await connection?.close();
  await devServer?.close();
}, 60_000);

/** A gate on the page's first request for the UI's entry module: the UI does not boot until `open()`. */
async function holdUiEntry(page: Page): Promise<{ open(): void }> {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let held = false;
  await page.route(APP_ENTRY, async (route: Route) => {
    if (held) return route.continue();
    held = true;
    await opened;
    await route.continue().catch(() => undefined); // the page may have navigated away meanwhile
  });
  return { open };
}

/** What a list shows: its column labels and each row's cell texts and links, the UI's or the first paint's. */
interface ShownList {
  labels: string[];
  rows: { cells: string[]; links: string[] }[];
}

/**
 * Reads a table in the page: its non-empty header labels, and for each row (`rows`), the texts of its cells (`cells`)
 * and the targets of its links (`links`). A string: the tests are compiled without the DOM's types.
 */
function readTable(
  page: Page,
  selectors: { header: string; rows: string; cells: string; links: string },
): Promise<ShownList> {
  return page.evaluate<ShownList>(`(() => {
    const s = ${JSON.stringify(selectors)};
    const text = (el) => el.innerText.trim();
    return {
      // After the two leading columns (a row's checkbox and its start button).
      labels: [...document.querySelector(s.header).children].slice(2).map(text),
      rows: [...document.querySelectorAll(s.rows)].map((row) => ({
        cells: [...row.querySelectorAll(s.cells)].map(text),
        links: [...row.querySelectorAll(s.links)].map((a) => a.getAttribute('href') ?? ''),
      })),
    };
  })()`);
}

/** The first paint's table, read while it is shown. */
function firstPaintShown(page: Page): Promise<ShownList> {
  return readTable(page, {
    header: `[data-testid="${FIRST_PAINT_IDS.header}"]`,
    rows: `[data-testid="${FIRST_PAINT_IDS.row}"]`,
    cells: `[data-testid="${FIRST_PAINT_IDS.cell}"]`,
    links: 'a',
  });
}

/** The UI's own table. */
function uiShown(page: Page): Promise<ShownList> {
  return readTable(page, {
    header: `table:has([data-testid="${LIST_ROW}"]) thead tr`,
    rows: `[data-testid="${LIST_ROW}"]`,
    cells: '[data-testid="workflows-summary-table-body-cell"]',
    links: 'a:not([role="button"])',
  });
}

/** A list page's title count and status badges, as shown. */
function headerShown(page: Page, count: string, badges: string): Promise<{ count: string; badges: string[] }> {
  return page.evaluate<{ count: string; badges: string[] }>(`({
    count: document.querySelector(${JSON.stringify(count)}).innerText.trim(),
    badges: [...document.querySelectorAll(${JSON.stringify(badges)})].map((b) => b.innerText.trim().replace(/\\s+/g, ' ')),
  })`);
}

/** Resolves once the page's preloaded list answer has arrived and two frames have passed (the first paint drew). */
async function listAnswerArrived(page: Page): Promise<void> {
  // Embedded in the page by the server, or fetched by the preload (its answer in the page once its last byte is in).
  await page.waitForFunction(
    `performance.getEntriesByType('mark').some((m) => {
      const prefix = [${JSON.stringify(API_PRELOAD_MARKS.embedded)}, ${JSON.stringify(API_PRELOAD_MARKS.start)}]
        .find((p) => m.name.startsWith(p));
      if (!prefix || !/\\/workflows\\?/.test(m.name)) return false;
      const url = m.name.slice(prefix.length);
      return prefix === ${JSON.stringify(API_PRELOAD_MARKS.embedded)} ||
        performance.getEntriesByType('resource').some((e) => e.name === url && e.responseEnd > 0);
    })`,
    undefined,
    { timeout: UI_TIMEOUT_MS },
  );
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())))');
}

/**
 * Opens `path` with the UI held back, checks the first paint against the UI's rows that replace it (same labels,
 * cells and links), and returns both.
 */
async function firstPaintThenUi(
  ui: { url: string },
  path: string,
  watched: WatchedPage,
  screenshot?: string,
): Promise<{ first: ShownList; shown: ShownList }> {
  const { page } = watched;
  const gate = await holdUiEntry(page);
  await page.goto(`${ui.url}${path}`);
  await page.getByTestId(FIRST_PAINT_IDS.row).first().waitFor({ timeout: UI_TIMEOUT_MS });
  // The count fills in the title when its answer is in.
  await page
    .locator(`${ROOT} h1`)
    .filter({ hasText: `${CLOSED + RUNNING} Workflows` })
    .waitFor();
  if (screenshot) await harness.screenshot(page, `${screenshot}-first-paint`);
  const first = await firstPaintShown(page);
  const firstHeader = await headerShown(page, `${ROOT} .mloe-fp-count`, `${ROOT} .mloe-fp-groups > span`);
  expect(await page.getByTestId(LIST_ROW).count()).toBe(0);
  gate.open();
  await page.getByTestId(LIST_ROW).first().waitFor({ timeout: UI_TIMEOUT_MS });
  await page.locator(ROOT).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  // The UI fills its search attribute columns once it has the namespace's search attributes, a call it makes after
  // its first rows; wait for that, then compare.
  // The first paint draws the rows the window shows; the UI's first rows are those.
  const uiTop = async (): Promise<ShownList> => {
    const ui = await uiShown(page);
    return { ...ui, rows: ui.rows.slice(0, first.rows.length) };
  };
  const shown = await pollUntil(
    'the UI showing what the first paint showed',
    async () => {
      const ui = await uiTop();
      return JSON.stringify(ui) === JSON.stringify(first) && ui;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  ).catch(uiTop);
  if (screenshot) await harness.screenshot(page, `${screenshot}-ui`);
  expect(shown).toEqual(first);
  // The title's count and the badges by status, in the UI's order.
  expect(await headerShown(page, '[data-testid="workflow-count"]', 'header [data-testid^="workflow-status-"]')).toEqual(
    firstHeader,
  );
  expect(firstHeader.badges).toEqual([`${RUNNING} Running`, `${CLOSED} Completed`]);
  return { first, shown };
}

describe.each([
  ['at the root', ''],
  ['under --ui-public-path /temporal', '/temporal'],
])('the workflow list’s first paint in Chromium, %s', (_name, publicPath) => {
  let ui: UiServerHandle;
  beforeAll(async () => {
    ui = await startUi({ publicPath });
  });
  afterAll(() => ui.close());

  it('shows the preloaded rows before the UI boots, as the UI then shows them, and gives way to the UI’s rows', async () => {
    const watched = await harness.open();
    const { first } = await firstPaintThenUi(
      ui,
      '/namespaces/default/workflows',
      watched,
      publicPath === '' ? 'list-first-paint' : undefined,
    );
    // mloe's default columns; every workflow; the search attributes, escaped names and links into the public path.
    expect(first.labels).toEqual(['Status', 'Workflow ID', 'Type', 'MloePipeline', 'MloeStatus', 'Start', 'End']);
    expect(first.rows).toHaveLength(CLOSED + RUNNING);
    const run = first.rows.find((row) => row.cells[1] === `pipeline-run-1 <&"'>`)!;
    expect(run.cells.slice(0, 5)).toEqual(['Running', `pipeline-run-1 <&"'>`, 'runPipeline', 'housing-1', 'Running']);
    expect(run.cells[5]).toMatch(/^\d{4}-\d\d-\d\d UTC \d\d:\d\d:\d\d\.\d\d$/);
    expect(run.cells[6]).toBe('');
    expect(run.links[0]).toMatch(
      new RegExp(
        `^${publicPath}/namespaces/default/workflows/${encodeURIComponent(`pipeline-run-1 <&"'>`)}/[0-9a-f-]+/history$`,
      ),
    );
    const marks = await watched.page.evaluate(() => performance.getEntriesByType('mark').map((m) => m.name));
    expect(marks).toEqual(expect.arrayContaining([FIRST_PAINT_MARKS.shown, FIRST_PAINT_MARKS.removed]));
    // Its data came in the page itself (infra/ui/embedded-answers.ts), and the UI was handed the same answer.
    const listCall = `${ui.url}/api/v1/namespaces/default/workflows?pageSize=100&nextPageToken=`;
    expect(marks).toEqual(
      expect.arrayContaining([`${API_PRELOAD_MARKS.embedded}${listCall}`, `${API_PRELOAD_MARKS.used}${listCall}`]),
    );
    expect(watched.errors).toEqual([]);
    await watched.page.context().close();
  });
});

describe('the workflow list’s first paint in Chromium', () => {
  let ui: UiServerHandle;
  beforeAll(async () => {
    ui = await startUi();
  });
  afterAll(() => ui.close());

  it('draws the columns the person chose for the namespace (persisted by the UI), in the rows the window shows', async () => {
    const watched = await harness.open();
    // Room for 6 of the 8 rows below the table's top (222 px; rows of 37 px), one more partly.
    await watched.page.setViewportSize({ width: 1400, height: 400 });
    const columns = ['Run ID', 'Workflow ID', 'Task Queue', 'History Length', 'Execution Time', 'Status', 'End'];
    await watched.page.addInitScript(
      `window.localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(
        JSON.stringify({ default: columns.map((label) => ({ label })) }),
      )})`,
    );
    const { first } = await firstPaintThenUi(ui, '/namespaces/default/workflows', watched);
    expect(first.labels).toEqual(columns);
    expect(first.rows).toHaveLength(6);
    const closed = first.rows.find((row) => row.cells[1] === 'closed-000002')!;
    expect(closed.cells[2]).toBe('ui-bench-seed');
    expect(Number(closed.cells[3])).toBeGreaterThan(0);
    expect(closed.cells[5]).toBe('Completed');
    expect(watched.errors).toEqual([]);
    await watched.page.context().close();
  });

  it('shows it at the root too, with the settings in the page, until the UI has redirected to the list', async () => {
    const { page, errors } = await harness.open();
    const gate = await holdUiEntry(page);
    await page.goto(`${ui.url}/`);
    await page.getByTestId(FIRST_PAINT_IDS.row).first().waitFor({ timeout: UI_TIMEOUT_MS });
    const marks = await page.evaluate(() => performance.getEntriesByType('mark').map((m) => m.name));
    expect(marks).toEqual(
      expect.arrayContaining([
        `${API_PRELOAD_MARKS.embedded}${ui.url}/api/v1/settings?`,
        `${API_PRELOAD_MARKS.embedded}${ui.url}/api/v1/namespaces/default/workflows?pageSize=100&nextPageToken=`,
      ]),
    );
    gate.open();
    await page.waitForURL(`${ui.url}/namespaces/default/workflows`, { timeout: UI_TIMEOUT_MS });
    await page.getByTestId(LIST_ROW).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator(ROOT).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('opens a workflow’s history from a link of the first paint', async () => {
    const { page, errors } = await harness.open();
    const gate = await holdUiEntry(page);
    await page.goto(`${ui.url}/namespaces/default/workflows`);
    const link = page.locator(`${ROOT} a`, { hasText: 'closed-000004' });
    await link.click();
    await page.waitForURL(/\/namespaces\/default\/workflows\/closed-000004\/[0-9a-f-]+\/history$/, {
      timeout: UI_TIMEOUT_MS,
    });
    await page.getByText('closed-000004').first().waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.locator(ROOT).count()).toBe(0);
    gate.open();
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('where the first paint could not match the UI, it draws nothing', () => {
  let ui: UiServerHandle;
  beforeAll(async () => {
    ui = await startUi();
  });
  afterAll(() => ui.close());

  it.each([
    ['another time zone', "window.localStorage.setItem('timeFormat', JSON.stringify('local'))", ''],
    ['relative times', "window.localStorage.setItem('relativeTime', 'true')", ''],
    ['the dark theme', "window.localStorage.setItem('dark mode', 'true')", ''],
    [
      'a column it does not draw',
      `window.localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(
        JSON.stringify({ default: [{ label: 'Status' }, { label: 'Execution Duration' }] }),
      )})`,
      '',
    ],
    ['an empty page', '', `/namespaces/default/workflows?query=${encodeURIComponent('WorkflowId="no-such-workflow"')}`],
    ['a search attribute value beyond ASCII (the UI decodes it otherwise)', '', `/namespaces/${ACCENTS}/workflows`],
  ])('%s', async (_case, setup, path) => {
    const { page } = await harness.open();
    if (setup) await page.addInitScript(setup);
    const gate = await holdUiEntry(page);
    await page.goto(`${ui.url}${path || '/namespaces/default/workflows'}`);
    await listAnswerArrived(page);
    expect(await page.locator(ROOT).count()).toBe(0);
    gate.open();
    await page.context().close();
  });

  it('on a workflow’s page, and when the UI is served without it', async () => {
    const { page } = await harness.open();
    const gate = await holdUiEntry(page);
    await page.goto(`${ui.url}/namespaces/default/workflows/closed-000001`);
    await page.waitForFunction(
      (prefix) => performance.getEntriesByType('mark').some((m) => m.name.startsWith(prefix)),
      API_PRELOAD_MARKS.start,
    );
    expect(await page.locator(ROOT).count()).toBe(0);
    gate.open();
    await page.context().close();

    const off = await startUi({ listFirstPaint: false });
    try {
      const second = await harness.open();
      const held = await holdUiEntry(second.page);
      await second.page.goto(`${off.url}/namespaces/default/workflows`);
      await listAnswerArrived(second.page);
      expect(await second.page.locator(ROOT).count()).toBe(0);
      held.open();
      // The preload alone still serves the UI.
      await second.page.getByTestId(LIST_ROW).first().waitFor({ timeout: UI_TIMEOUT_MS });
      await second.page.context().close();
    } finally {
      await off.close();
    }
  });
});

describe('the first paint goes away', () => {
  let ui: UiServerHandle;
  beforeAll(async () => {
    ui = await startUi();
  });
  afterAll(() => ui.close());

  it('when the page leaves the list before the UI shows its rows', async () => {
    const { page } = await harness.open();
    const gate = await holdUiEntry(page);
    await page.goto(`${ui.url}/namespaces/default/workflows`);
    await page.getByTestId(FIRST_PAINT_IDS.row).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page.evaluate("history.pushState({}, '', '/namespaces/default/schedules')");
    await page.locator(ROOT).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    gate.open();
    await page.context().close();
  });

  it('when the person clicks elsewhere than on its links', async () => {
    const { page } = await harness.open();
    const gate = await holdUiEntry(page);
    await page.goto(`${ui.url}/namespaces/default/workflows`);
    await page.getByTestId(FIRST_PAINT_IDS.row).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page.mouse.click(700, 20); // the top bar
    await page.locator(ROOT).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    gate.open();
    await page.context().close();
  });

  it('is never drawn when the page has left the list by the time the answer is in', async () => {
    const { page } = await harness.open();
    const gate = await holdUiEntry(page);
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    await page.route('**/api/v1/namespaces/default/workflows?*', async (route) => {
      await answered;
      await route.continue();
    });
    // The page without the list's first page embedded, so the preload fetches it (and the fetch waits).
    await page.route(`${ui.url}/namespaces/default/workflows`, async (route) => {
      const response = await route.fetch();
      const html = (await response.text()).replace(
        new RegExp(`<script type="application/json" id="${EMBEDDED_ANSWERS_ID}">.*?</script>`, 's'),
        '',
      );
      await route.fulfill({ response, body: html });
    });
    await page.goto(`${ui.url}/namespaces/default/workflows`);
    await page.evaluate("history.pushState({}, '', '/namespaces/default/schedules')");
    answer();
    await listAnswerArrived(page);
    const marks = await page.evaluate(() => performance.getEntriesByType('mark').map((m) => m.name));
    expect(marks.filter((name) => name.startsWith(API_PRELOAD_MARKS.embedded))).toEqual([]);
    expect(marks).not.toContain(FIRST_PAINT_MARKS.shown);
    expect(await page.locator(ROOT).count()).toBe(0);
    gate.open();
    await page.context().close();
  });

  it('at the end of the preload window when the UI never shows its rows', async () => {
    const { page, errors } = await harness.open();
    // The list's URL served with only the preload (a 2 s window) on the page: no UI ever boots.
    await page.route(`${ui.url}/namespaces/default/workflows`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><html><head><script>${apiPreloadScript('', { windowMs: 2_000 })}</script></head><body></body></html>`,
      }),
    );
    await page.goto(`${ui.url}/namespaces/default/workflows`);
    await page.getByTestId(FIRST_PAINT_IDS.row).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator(ROOT).waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
    const removedAt = await page.evaluate(
      (name) => performance.getEntriesByName(name)[0]?.startTime ?? -1,
      FIRST_PAINT_MARKS.removed,
    );
    expect(removedAt).toBeGreaterThan(2_000);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
