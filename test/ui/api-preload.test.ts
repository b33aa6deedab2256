/**
 * The API preload inlined into the Web UI's index.html (`infra/ui/api-preload.ts`), in headless Chromium against the
 * embedded dev server's real HTTP API: for the workflow list, a closed workflow's history and a running workflow's
 * page, the preload asks for exactly the URLs the UI then asks for (each preloaded answer is handed to the UI's own
 * fetch, none is wasted) and the server answers each of them once; the pages show the right data with no console
 * errors; a running workflow's page still updates live; the prefixed paths are used under `--ui-public-path`; a
 * preload that fails is left to the UI, which asks again and shows its own error. The fetch wrapper's rules (what it
 * hands out, to whom, and for how long) are checked on a page of the UI's origin that runs only the script.
 */
import { randomUUID } from 'node:crypto';

import { getRequestListener } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import type { Page } from 'playwright-core';

import { seedClosedWorkflows } from '../../bench/ui-seed';
import { uiApiFor } from '../../clients/ui';
import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import { API_PRELOAD_MARKS, apiPreloadScript } from '../../infra/ui/api-preload';
import { gracefulServer, listen } from '../../infra/http-listen';
import { createUiApp } from '../../infra/ui/app';
import { pollUntil } from '../support/poll';
import { launchBrowser, type BrowserHarness } from './harness';

const LIST_ROW = 'workflows-summary-configurable-table-row';
const EVENT_ROW = 'event-summary-row';
const UI_TIMEOUT_MS = 60_000;

let harness: BrowserHarness;
let devServer: DevServerHandle;
let connection: Connection;
let client: Client;
/** The requests the UI server got: method, path (without the public path) and query. */
const uiRequests: string[] = [];
let closedRunId: string;

/**
 * The UI server as `startUiServer` serves it (the app on a Node HTTP server) over the dev server's HTTP API, recording
 * every request it gets: method, path (without the public path) and query.
 */
async function startCountingUi(publicPath: string): Promise<{ url: string; close(): Promise<void> }> {
  const api = uiApiFor(devServer, '127.0.0.1');
  const record = (request: Request, path: string): void => {
    uiRequests.push(`${request.method} ${path}${new URL(request.url).search}`);
  };
  // API calls are counted where the API gets them: over HTTP, or in process when the server embeds the list's first
  // page in the page it serves (infra/ui/embedded-answers.ts); everything else (the settings too) as it comes in.
  const app = createUiApp({
    publicPath,
    api: (request) => {
      record(request, new URL(request.url).pathname);
      return typeof api === 'function' ? api(request) : api.fetch(request);
    },
  });
  const http = gracefulServer(
    getRequestListener((request, env) => {
      const path = new URL(request.url).pathname.slice(publicPath.length);
      if (!path.startsWith('/api/v1/') || path === '/api/v1/settings') record(request, path);
      return app(request, env);
    }),
  );
  const port = await listen(http.server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}${publicPath}`, close: () => http.close() };
}

beforeAll(async () => {
  devServer = await startDevServer({ port: 0, logLevel: 'error' });
  // Closed workflows written through the server's own handlers (completed, with input and result).
  await seedClosedWorkflows(devServer.rpc, { namespace: 'default', count: 12, concurrency: 4 });
  connection = await Connection.connect({ address: devServer.address });
  client = new Client({ connection });
  closedRunId = (await client.workflow.getHandle('closed-000003').describe()).runId;
  harness = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await harness?.close();
  await connection?.close();
  await devServer?.close();
}, 60_000);

/** The preload's marks in the page: the URLs it started and those handed to the UI's fetch. */
async function preloadMarks(page: Page): Promise<{ started: string[]; used: string[] }> {
  const names = await page.evaluate(() => performance.getEntriesByType('mark').map((m) => m.name));
  const strip = (prefix: string): string[] =>
    names.filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length));
  return { started: strip(API_PRELOAD_MARKS.start), used: strip(API_PRELOAD_MARKS.used) };
}

/** Waits until every preload the page started was handed to the UI; returns the started URLs. */
async function allUsed(page: Page): Promise<string[]> {
  const marks = await pollUntil(
    'every preloaded answer handed to the UI',
    async () => {
      const seen = await preloadMarks(page);
      return seen.started.length > 0 && [...seen.used].sort().join() === [...seen.started].sort().join() && seen;
    },
    { timeoutMs: UI_TIMEOUT_MS, intervalMs: 100 },
  );
  return marks.started;
}

/** How often the server was asked for each of `urls` (absolute URLs of the UI's origin, with its public path). */
function serverCounts(urls: string[], publicPath: string): number[] {
  return urls.map((url) => {
    const { pathname, search } = new URL(url);
    return uiRequests.filter((request) => request === `GET ${pathname.slice(publicPath.length)}${search}`).length;
  });
}

const SETUP = ['settings?', 'namespaces?', 'cluster-info?', 'system-info?'];

describe.each([
  ['at the root', ''],
  ['under --ui-public-path /temporal', '/temporal'],
])('the API preload in Chromium, %s', (_name, publicPath) => {
  let ui: { url: string; close(): Promise<void> };
  let api: string;
  beforeAll(async () => {
    ui = await startCountingUi(publicPath);
    api = `${ui.url}/api/v1/`;
  });
  afterAll(() => ui.close());
  beforeEach(() => {
    uiRequests.length = 0;
  });

  it('preloads the workflow list’s setup, count and first page, each answered once and handed to the UI', async () => {
    const { page, errors } = await harness.open();
    await page.goto(`${ui.url}/namespaces/default/workflows`);
    await page.getByTestId(LIST_ROW).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page.getByTestId(LIST_ROW).filter({ hasText: 'closed-000011' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    const started = await allUsed(page);
    expect([...started].sort()).toEqual(
      [
        ...SETUP,
        'namespaces/default/search-attributes?',
        'namespaces/default/workflow-count?query=GROUP+BY+ExecutionStatus',
        'namespaces/default/workflows?pageSize=100&nextPageToken=',
      ]
        .map((path) => `${api}${path}`)
        .sort(),
    );
    expect(serverCounts(started, publicPath)).toEqual(started.map(() => 1));
    // Every workflow (the 12 closed ones and the running ones earlier tests started), one row each.
    expect(await page.getByTestId(LIST_ROW).count()).toBe((await client.workflow.count()).count);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('preloads the default namespace’s list for the root, which the UI redirects there', async () => {
    const { page, errors } = await harness.open();
    await page.goto(`${ui.url}/`);
    await page.waitForURL(`${ui.url}/namespaces/default/workflows`, { timeout: UI_TIMEOUT_MS });
    await page.getByTestId(LIST_ROW).first().waitFor({ timeout: UI_TIMEOUT_MS });
    const started = await allUsed(page);
    const list = [
      `${api}namespaces/default/workflow-count?query=GROUP+BY+ExecutionStatus`,
      `${api}namespaces/default/workflows?pageSize=100&nextPageToken=`,
    ];
    expect(started).toEqual(expect.arrayContaining(list));
    expect(serverCounts(list, publicPath)).toEqual([1, 1]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('builds the list’s URLs from per-page, query and the persisted hideChildWorkflows as the UI does', async () => {
    const { page, errors } = await harness.open();
    // What the UI persisted from an earlier visit: hide child workflows (stored by its persistStore as JSON).
    await page.addInitScript("window.localStorage.setItem('hideChildWorkflows', 'true')");
    await page.goto(`${ui.url}/namespaces/default/workflows?per-page=250`);
    await page.getByTestId(LIST_ROW).filter({ hasText: 'closed-000000' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    const started = await allUsed(page);
    const hidden = 'ParentWorkflowId+is+NULL';
    expect(started).toEqual(
      expect.arrayContaining([
        `${api}namespaces/default/workflow-count?query=${hidden}+GROUP+BY+ExecutionStatus`,
        `${api}namespaces/default/workflows?pageSize=250&nextPageToken=&query=${hidden}`,
      ]),
    );
    await page.context().close();

    const second = await harness.open();
    await second.page.goto(
      `${ui.url}/namespaces/default/workflows?query=${encodeURIComponent('WorkflowType="trainModel"')}`,
    );
    await second.page
      .getByTestId(LIST_ROW)
      .filter({ hasText: 'closed-000001' })
      .first()
      .waitFor({ timeout: UI_TIMEOUT_MS });
    const queried = await allUsed(second.page);
    expect(queried).toEqual(
      expect.arrayContaining([
        `${api}namespaces/default/workflow-count?query=WorkflowType%3D%22trainModel%22+GROUP+BY+ExecutionStatus`,
        `${api}namespaces/default/workflows?pageSize=100&nextPageToken=&query=WorkflowType%3D%22trainModel%22`,
      ]),
    );
    expect(await second.page.getByTestId(LIST_ROW).count()).toBe(6);
    expect([...errors, ...second.errors]).toEqual([]);
    await second.page.context().close();
  });

  it('preloads a closed workflow’s describe, pollers and history; the page shows its events and result', async () => {
    const { page, errors } = await harness.open();
    await page.goto(`${ui.url}/namespaces/default/workflows/closed-000003/${closedRunId}/history`);
    await page.getByTestId(EVENT_ROW).first().waitFor({ timeout: UI_TIMEOUT_MS });
    // The seeded result, {"accuracy":0.03}, in the completion event and the result panel.
    await page.getByText('0.03').first().waitFor({ timeout: UI_TIMEOUT_MS });
    const started = await allUsed(page);
    const run = `execution.runId=${closedRunId}`;
    expect([...started].sort()).toEqual(
      [
        ...SETUP,
        'namespaces/default/search-attributes?',
        `namespaces/default/workflows/closed-000003?${run}`,
        'namespaces/default/task-queues/ui-bench-seed?taskQueueType=1',
        'namespaces/default/task-queues/ui-bench-seed?taskQueueType=2',
        `namespaces/default/workflows/closed-000003/history?${run}&waitNewEvent=true`,
      ]
        .map((path) => `${api}${path}`)
        .sort(),
    );
    expect(serverCounts(started, publicPath)).toEqual(started.map(() => 1));
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('never preloads a running workflow’s history (a long poll), and its page still updates live', async () => {
    // A running workflow: no worker polls its task queue, so it stays running and its history grows only by signals.
    const running = await client.workflow.start('awaitApproval', {
      taskQueue: 'ui-preload-nobody',
      workflowId: `running-${randomUUID()}`,
      args: [],
    });
    const runningRunId = running.firstExecutionRunId;
    const { page, errors } = await harness.open();
    await page.goto(`${ui.url}/namespaces/default/workflows/${running.workflowId}/${runningRunId}/history`);
    await page.getByTestId(EVENT_ROW).first().waitFor({ timeout: UI_TIMEOUT_MS });
    const started = await allUsed(page);
    expect(started.filter((url) => url.includes('/history'))).toEqual([]);
    expect(started).toContain(
      `${api}namespaces/default/workflows/${running.workflowId}?execution.runId=${runningRunId}`,
    );
    expect(serverCounts(started, publicPath)).toEqual(started.map(() => 1));
    const signaled = page.getByText('Workflow Execution Signaled').or(page.getByText('WorkflowExecutionSignaled'));
    expect(await signaled.count()).toBe(0);
    await running.signal('approve', { by: 'ui-preload test' });
    await signaled.first().waitFor({ timeout: UI_TIMEOUT_MS });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('leaves a failed preload (no such workflow: 404) to the UI, which asks again and shows its own error', async () => {
    const { page } = await harness.open();
    const runId = randomUUID();
    await page.goto(`${ui.url}/namespaces/default/workflows/no-such-workflow/${runId}/history`);
    const describe = `${api}namespaces/default/workflows/no-such-workflow?execution.runId=${runId}`;
    await pollUntil('the UI asked for the describe itself', () => serverCounts([describe], publicPath)[0] === 2, {
      timeoutMs: UI_TIMEOUT_MS,
    });
    await page
      .getByText(/not found/i)
      .first()
      .waitFor({ timeout: UI_TIMEOUT_MS });
    const { started, used } = await preloadMarks(page);
    expect(started).toContain(describe);
    expect(used).not.toContain(describe);
    // Nothing chained on a describe that failed.
    expect(started.filter((url) => url.includes('/task-queues/') || url.includes('/history'))).toEqual([]);
    await page.context().close();
  });
});

describe('the API preload’s fetch wrapper, on a page of the UI’s origin that runs only it', () => {
  let ui: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    ui = await startCountingUi('');
  });
  afterAll(() => ui.close());
  beforeEach(() => {
    uiRequests.length = 0;
  });

  /** Opens `/preload-probe` on the UI's origin, served with the preload script of the given window only. */
  async function probe(windowMs: number): Promise<Page> {
    const { page } = await harness.open();
    await page.route(`${ui.url}/preload-probe`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><html><head><script>${apiPreloadScript('', { windowMs })}</script></head><body></body></html>`,
      }),
    );
    await page.goto(`${ui.url}/preload-probe`);
    // Only the setup calls: this path is no route of the UI's with calls of its own.
    await pollUntil('the setup preloads answered', () => serverCounts([`${ui.url}/api/v1/settings?`], '')[0] === 1);
    return page;
  }

  it('hands each answer out once, only to a plain GET of the same URL; an aborted fetch rejects and leaves it', async () => {
    const page = await probe(60_000);
    const outcome = await page.evaluate(async () => {
      const ui = { credentials: 'include' as const, headers: { 'Caller-Type': 'operator' } };
      const first = await fetch('/api/v1/settings?', ui);
      const again = await fetch('/api/v1/settings?', ui);
      const post = await fetch('/api/v1/cluster-info?', { ...ui, method: 'POST' }).then((r) => r.status);
      const authorized = await fetch('/api/v1/system-info?', {
        headers: { ...ui.headers, Authorization: 'Bearer x' },
      });
      const controller = new AbortController();
      controller.abort();
      const aborted = await fetch('/api/v1/namespaces?', { ...ui, signal: controller.signal }).then(
        () => 'resolved',
        (error: Error) => error.name,
      );
      const plain = await fetch('/api/v1/namespaces?');
      return {
        first: [first.status, ((await first.json()) as { DefaultNamespace?: string }).DefaultNamespace],
        again: again.status,
        post,
        authorized: authorized.status,
        aborted,
        plain: plain.status,
        used: performance
          .getEntriesByType('mark')
          .map((m) => m.name)
          .filter((name) => name.startsWith('mloe-preload:used '))
          .map((name) => new URL(name.slice('mloe-preload:used '.length)).pathname)
          .sort(),
      };
    });
    expect(outcome).toEqual({
      first: [200, 'default'],
      again: 200,
      // The POST went to the server (which refuses it without its CSRF token), not to the preloaded answer.
      post: 403,
      authorized: 200,
      aborted: 'AbortError',
      plain: 200,
      used: ['/api/v1/namespaces', '/api/v1/settings'],
    });
    // (A URL's empty query is no query to the server: `/api/v1/settings?` arrives as `/api/v1/settings`.)
    const server = (path: string): number => uiRequests.filter((r) => r === `GET ${path}`).length;
    // settings: the preload, then the second fetch; cluster-info: the preload only (the POST was refused before the
    // API); system-info: the preload and the fetch with Authorization; namespaces: the preload only (the aborted
    // fetch never left the page, the plain one got the preloaded answer).
    expect([
      server('/api/v1/settings'),
      server('/api/v1/cluster-info'),
      server('/api/v1/system-info'),
      server('/api/v1/namespaces'),
    ]).toEqual([2, 1, 2, 1]);
    await page.context().close();
  });

  it('drops what was not used once the page has left the route it was preloaded for', async () => {
    const page = await probe(60_000);
    // A string: the test is compiled without the DOM's types (history).
    const statuses = await page.evaluate<number[]>(`(async () => {
      const used = (await fetch('/api/v1/system-info?')).status;
      history.pushState(null, '', '/namespaces/default/workflows');
      const after = (await fetch('/api/v1/settings?')).status;
      return [used, after];
    })()`);
    expect(statuses).toEqual([200, 200]);
    expect(serverCounts([`${ui.url}/api/v1/system-info?`, `${ui.url}/api/v1/settings?`], '')).toEqual([1, 2]);
    expect((await preloadMarks(page)).used.map((url) => new URL(url).pathname)).toEqual(['/api/v1/system-info']);
    await page.context().close();
  });

  it('drops what was not used within its window: a later fetch goes to the server', async () => {
    const page = await probe(3_000);
    await pollUntil('the window passed', () => page.evaluate(() => performance.now() > 3_100), { intervalMs: 100 });
    const status = await page.evaluate(async () => (await fetch('/api/v1/settings?')).status);
    expect(status).toBe(200);
    expect(serverCounts([`${ui.url}/api/v1/settings?`], '')[0]).toBe(2);
    expect((await preloadMarks(page)).used).toEqual([]);
    await page.context().close();
  });
});

describe('index.html with and without the API preload', () => {
  async function indexHtml(options: Parameters<typeof createUiApp>[0]): Promise<string> {
    const app = createUiApp(options);
    const path = options?.publicPath ?? '';
    return (await app(new Request(`http://127.0.0.1${path}/namespaces/default/workflows`))).text();
  }

  it('inlines the script before the head’s first link (so it runs before stylesheets load), with the public path', async () => {
    const html = await indexHtml({});
    expect(html).toContain(apiPreloadScript(''));
    expect(html.indexOf(apiPreloadScript(''))).toBeLessThan(html.indexOf('<link'));
    expect(await indexHtml({ publicPath: '/temporal' })).toContain(apiPreloadScript('/temporal'));
  });

  it('serves the page without it when apiPreload is false', async () => {
    const html = await indexHtml({ apiPreload: false });
    expect(html).not.toContain('mloe-preload');
    expect(html).toContain('__sveltekit_');
  });
});
