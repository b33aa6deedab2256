/**
 * `npm run bench:ui` (issue 12): the Temporal Web UI on the embedded dev server with 100,000 closed workflows.
 *
 * A durable dev server (SQLite file, port 0) with the UI is filled with 100,000 closed workflows through its own
 * handlers in process (`bench/ui-seed.ts` says why and what they leave), and one workflow whose history has about
 * 10,000 events is run by a real SDK worker (`bench/ui-workflows.ts`: batches of 16 small activities until the history
 * is that long, so the page shows what pipeline runs have: activity events with their payloads). Then, in Debian's
 * headless Chromium driven by playwright-core, each page is loaded in a fresh browser context (cold) and again in the
 * same context (warm: the UI's assets cached), timed in the page's own clock from navigation start:
 *
 * - the workflow list page (`/namespaces/default/workflows`): until its first rows are shown (with the preload, the
 *   rows of the list's first paint, `infra/ui/list-first-paint.ts`, drawn from the preloaded answer, beside when that
 *   answer arrived) and until the UI's own first rows are in the page (beside when its list call's data reached it); beside ListWorkflowExecutions with the UI's own page size and query through the
 *   official `@temporalio/client` connection over gRPC, and through the HTTP API alone;
 * - the 10,000-event history page: until the event table has rows and the workflow's result, which is in the last
 *   event, is shown; beside GetWorkflowExecutionHistory (every page) over gRPC and over the HTTP API.
 *
 * Medians and p99 over `BENCH_UI_REPEATS` (default 5) page loads and 20 API calls, the server time of the page's calls
 * (time to first byte) and the ratio rendered / gRPC. `BENCH_UI_CLOSED` (default 100,000) and `BENCH_UI_EVENTS`
 * (default 10,000) change the sizes; `BENCH_UI_DB` keeps the seeded database for the next run; `BENCH_UI_ASSETS`
 * serves other built assets (e.g. a build without the patches of `infra/ui/build/patches/`). `BENCH_UI_PRELOAD`
 * (`both`, the default; `1`; `0`) says whether the pages load with the API preload of `infra/ui/api-preload.ts`,
 * without it, or both: two UI servers on the same dev server, one with and one without, their page loads alternated
 * (the order flips every round), so the two are measured under the same load. With the preload, a call's data is in
 * the page when the UI's fetch is resolved with the preloaded answer (its `mloe-preload:used` mark), which may be
 * later than the answer arrived; without it, when the answer's last byte arrived (Resource Timing), which may be
 * earlier than the UI's script, its main thread busy, gets it: so the two variants' data columns are not measured at
 * the same point, and the rows and rendered columns are the ones to compare. `BENCH_UI_FIRST_PAINT=0` serves the
 * preload without the list's first paint. Targets: first list data ≤ 300 ms,
 * history rendered ≤ 2 s.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

import { startEmbeddedUi } from '../clients/ui';
import { API_PRELOAD_MARKS } from '../infra/ui/api-preload';
import { FIRST_PAINT_IDS } from '../infra/ui/list-first-paint';
import { startDevServer } from '../infra/devserver';
import { oneOf } from './knobs';
import * as activities from './ui-activities';
import { seedClosedWorkflows } from './ui-seed';

const CLOSED = Number(process.env.BENCH_UI_CLOSED ?? 100_000);
const EVENTS = Number(process.env.BENCH_UI_EVENTS ?? 10_000);
const REPEATS = Number(process.env.BENCH_UI_REPEATS ?? 5);
/** A SQLite file to keep: seeded on the first run, reused by later ones (so a rerun takes minutes less). */
const KEEP_DB = process.env.BENCH_UI_DB;
/** Other built UI assets to serve (`--ui-asset-path`), e.g. a build without the patches, to compare. */
const ASSETS = process.env.BENCH_UI_ASSETS;
/** With the API preload (`1`), without (`0`), or both alternately (`both`, the default). */
const PRELOAD = oneOf('BENCH_UI_PRELOAD', ['both', '1', '0'], 'both');
/** With the preload, whether the list's first paint of `infra/ui/list-first-paint.ts` is drawn (`1`, the default). */
const FIRST_PAINT = oneOf('BENCH_UI_FIRST_PAINT', ['1', '0'], '1') === '1';
const GRPC_REPEATS = 20;
const NAMESPACE = 'default';
const TASK_QUEUE = 'ui-bench';
/** The long-history workflow's id. */
export const LONG_ID = 'ui-bench-long-history';
/** The Chromium binary. */
export const CHROMIUM = process.env.MLOE_CHROMIUM ?? '/usr/bin/chromium';
/** The test id of a workflow list row. */
export const LIST_ROW = 'workflows-summary-configurable-table-row';
/** The test id of a row of the list's first paint (drawn from the preloaded answer until the UI shows its rows). */
export const FIRST_PAINT_ROW = FIRST_PAINT_IDS.row;
/** The test id of an event row of the history table. */
export const EVENT_ROW = 'event-summary-row';
const TIMEOUT_MS = 180_000;

/** Median and p99 of samples, in ms. */
interface Stats {
  p50: number;
  p99: number;
  n: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: at(50), p99: at(99), n: sorted.length };
}

async function timeGrpc(times: number, fn: () => Promise<unknown>): Promise<Stats> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return stats(samples);
}

/**
 * Marks, in the page's own clock (ms since navigation started), when the first rows of the list's first paint and
 * the UI's first list or event rows entered the DOM, and when the workflow's result (in the completion event, the
 * last event of the history) was shown. A string: the
 * bench runs under tsx, whose compiled functions would not survive serialisation into the page.
 */
export const MARKS_SCRIPT = `(() => {
  const marks = (window.__mloeMarks = {});
  const rows = '[data-testid="${LIST_ROW}"],[data-testid="${EVENT_ROW}"]';
  const firstPaint = '[data-testid="${FIRST_PAINT_ROW}"]';
  const result = "//*[contains(text(), 'collected ')]";
  // Checked once per frame (what a person can see changes no faster), cheaply enough not to slow the page down.
  const check = () => {
    if (marks.firstPaint === undefined && document.querySelector(firstPaint)) marks.firstPaint = performance.now();
    if (marks.rows === undefined && document.querySelector(rows)) marks.rows = performance.now();
    if (
      marks.result === undefined &&
      document.evaluate(result, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue
    )
      marks.result = performance.now();
    if (marks.result === undefined) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();`;

/** What one page load measured, in ms since navigation started (the page's own clock). */
interface PageLoad {
  /** The UI's first rows in the DOM. */
  rows: number;
  /** The first paint's first rows in the DOM (list page, when it drew them). */
  firstPaint: number | undefined;
  /** The browser's first contentful paint. */
  fcp: number | undefined;
  /** The result shown (history page only). */
  result: number | undefined;
  /**
   * The API calls whose path matches, each with when its data reached the UI (the end of its response, or, for an
   * answer the API preload handed out, when the UI's fetch got it), when its last byte arrived in the page, and its
   * time to first byte (server time).
   */
  calls: { end: number; arrived: number; ttfb?: number }[];
  /** The page's own time to first byte (server time of index.html). */
  htmlTtfb: number;
}

async function loadPage(
  context: BrowserContext,
  url: string,
  ready: (page: Page) => Promise<unknown>,
  callPattern: RegExp,
): Promise<PageLoad> {
  const page = await context.newPage();
  try {
    await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT_MS });
    await ready(page).catch(async (err: unknown) => {
      await page.screenshot({ path: join(tmpdir(), 'mloe-ui-bench-failed.png') });
      console.log(await page.evaluate('document.body.innerText.slice(0, 3000)'));
      throw err;
    });
    // A string for the same reason as MARKS_SCRIPT (and the bench is compiled without the DOM's types).
    return await page.evaluate<PageLoad>(`(() => {
      const pattern = new RegExp(${JSON.stringify(callPattern.source)});
      const marks = (prefix) => performance.getEntriesByType('mark')
        .filter((m) => m.name.startsWith(prefix) && pattern.test(new URL(m.name.slice(prefix.length)).pathname))
        .map((m) => [m.name.slice(prefix.length), m.startTime]);
      const used = new Map(marks(${JSON.stringify(API_PRELOAD_MARKS.used)}));
      // Answers the server embedded in the page: in the page when the preload took them; no request, no server time.
      const embedded = marks(${JSON.stringify(API_PRELOAD_MARKS.embedded)})
        .map(([url, at]) => ({ end: used.get(url) ?? at, arrived: at }));
      const fetched = performance.getEntriesByType('resource')
        .filter((e) => pattern.test(new URL(e.name).pathname))
        .map((e) => ({
          end: used.get(e.name) ?? e.responseEnd,
          arrived: e.responseEnd,
          ttfb: e.responseStart - e.requestStart,
        }));
      const calls = [...embedded, ...fetched];
      const seen = window.__mloeMarks;
      const nav = performance.getEntriesByType('navigation')[0];
      const htmlTtfb = nav.responseStart - nav.requestStart;
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime;
      return { rows: seen.rows, firstPaint: seen.firstPaint, fcp, result: seen.result, calls, htmlTtfb };
    })()`);
  } finally {
    await page.close();
  }
}

/**
 * Clicks the side navigation's Workflows link of a page the UI has loaded and marks, in the page's clock, the click
 * and the first list row in the DOM (checked once per frame, as {@link MARKS_SCRIPT} does).
 */
const IN_APP_SCRIPT = `(() => {
  const mark = (window.__mloeInApp = {});
  const link = [...document.querySelectorAll('a')].find((a) => a.getAttribute('href')?.endsWith('/workflows'));
  if (!link) throw new Error('no Workflows link in the side navigation');
  const check = () => {
    if (document.querySelector('[data-testid="${LIST_ROW}"]')) mark.rows = performance.now();
    else requestAnimationFrame(check);
  };
  mark.start = performance.now();
  link.click();
  requestAnimationFrame(check);
})();`;

/**
 * The list page reached inside the app, as a person who has the UI open gets to it: the schedules page is loaded
 * and settled, then its Workflows link clicked; resolves with the ms from the click to the first rows in the DOM.
 */
async function inAppList(context: BrowserContext, schedulesUrl: string): Promise<number> {
  const page = await context.newPage();
  try {
    await page.goto(schedulesUrl, { waitUntil: 'networkidle', timeout: TIMEOUT_MS });
    await page.evaluate(IN_APP_SCRIPT);
    await page.getByTestId(LIST_ROW).first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    return await page.evaluate<number>('window.__mloeInApp.rows - window.__mloeInApp.start');
  } finally {
    await page.close();
  }
}

/** Runs the long-history workflow with a real worker until its history has about `events` events. */
export async function runLongHistory(
  address: string,
  events: number,
): Promise<{ runId: string; length: number; result: string }> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./ui-workflows'),
    logger: new DefaultLogger('WARN'),
  });
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle,
    activities,
  });
  try {
    return await worker.runUntil(async () => {
      const handle = await client.workflow.start('collectReadings', {
        taskQueue: TASK_QUEUE,
        workflowId: LONG_ID,
        args: [events],
      });
      const result = (await handle.result()) as string;
      const described = await handle.describe();
      return {
        runId: described.runId,
        length: Number(described.raw.workflowExecutionInfo?.historyLength ?? 0),
        result,
      };
    });
  } finally {
    await nativeConnection.close();
    await connection.close();
  }
}

/** The long-history workflow of a database an earlier run seeded: its run, length and result. */
async function describeLongHistory(connection: Connection): Promise<{ runId: string; length: number; result: string }> {
  const described = await connection.workflowService.describeWorkflowExecution({
    namespace: NAMESPACE,
    execution: { workflowId: LONG_ID },
  });
  const info = described.workflowExecutionInfo;
  const runId = info?.execution?.runId ?? '';
  const history = await connection.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: NAMESPACE,
    execution: { workflowId: LONG_ID, runId },
    maximumPageSize: 1,
  });
  const payload = history.history?.events?.[0]?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  const result = payload?.data ? (JSON.parse(Buffer.from(payload.data).toString('utf8')) as string) : '';
  return { runId, length: Number(info?.historyLength ?? 0), result };
}

/** Page-load figures of one variant (with or without the API preload). */
export interface UiPageFigures {
  /** Whether the UI served the API preload. */
  preload: boolean;
  /** Whether the list's first paint was drawn (with the preload only). */
  firstPaint: boolean;
  list: Record<
    | 'coldData'
    | 'coldArrived'
    | 'coldShown'
    | 'coldRows'
    | 'warmData'
    | 'warmArrived'
    | 'warmShown'
    | 'warmRows'
    | 'serverInPage'
    | 'inApp',
    Stats
  >;
  history: Record<'coldData' | 'coldRows' | 'coldDone' | 'warmData' | 'warmRows' | 'warmDone' | 'serverInPage', Stats>;
}

/** Figures of one run. */
export interface UiFigures {
  closed: number;
  historyEvents: number;
  seedMs: number;
  uiPageSize: number;
  list: Record<'grpc' | 'http', Stats>;
  history: Record<'grpc' | 'http', Stats>;
  /** One entry per variant measured (`BENCH_UI_PRELOAD`). */
  pages: UiPageFigures[];
}

const fmt = (s: Stats): string => `${s.p50.toFixed(0)} / ${s.p99.toFixed(0)}`;
/** The UI's list call. */
export const LIST_CALL = /\/api\/v1\/namespaces\/[^/]+\/workflows$/;
/** The UI's history calls. */
export const HISTORY_CALL = /\/api\/v1\/namespaces\/[^/]+\/workflows\/[^/]+\/history(-reverse)?$/;

/** Every page of a history through the HTTP API as the UI asks for it; resolves with the page count. */
async function httpHistory(url: string): Promise<number> {
  let token = '';
  let pages = 0;
  do {
    const page = await fetch(`${url}${token ? `&next_page_token=${encodeURIComponent(token)}` : ''}`);
    if (!page.ok) throw new Error(`${url}: HTTP ${page.status}`);
    token = ((await page.json()) as { nextPageToken?: string }).nextPageToken ?? '';
    pages++;
  } while (token);
  return pages;
}

/** Runs the benchmark and prints its table. */
export async function benchUi(): Promise<UiFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'mloe-ui-bench-'));
  const dbFilename = KEEP_DB ?? join(dir, 'dev.sqlite');
  const reuse = KEEP_DB !== undefined && existsSync(KEEP_DB);
  const server = await startDevServer({ port: 0, dbFilename, logLevel: 'error' });
  const variants = PRELOAD === 'both' ? [true, false] : [PRELOAD === '1'];
  const uis = await Promise.all(
    variants.map((apiPreload) =>
      startEmbeddedUi(server, {
        ip: '127.0.0.1',
        port: 0,
        apiPreload,
        listFirstPaint: FIRST_PAINT,
        ...(ASSETS ? { assetPath: ASSETS } : {}),
      }),
    ),
  );
  let browser: Browser | undefined;
  const connection = await Connection.connect({ address: server.address });
  try {
    let seedMs = 0;
    let long: { runId: string; length: number; result: string };
    if (reuse) {
      long = await describeLongHistory(connection);
      console.log(`ui: reusing ${KEEP_DB} (BENCH_UI_DB), seeded by an earlier run`);
    } else {
      console.log(`ui: seeding ${CLOSED} closed workflows through the dev server's handlers (durable SQLite)`);
      seedMs = await seedClosedWorkflows(server.rpc, {
        namespace: NAMESPACE,
        count: CLOSED,
        progress: (done) => console.log(`  ${done} closed`),
      });
      console.log(`ui: seeded in ${(seedMs / 1000).toFixed(1)} s; running the ${EVENTS}-event workflow with a worker`);
      long = await runLongHistory(server.address, EVENTS);
    }
    console.log(`ui: history of ${long.length} events (${long.result})`);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    const listPath = `/namespaces/${NAMESPACE}/workflows`;
    const historyPath = `/namespaces/${NAMESPACE}/workflows/${LONG_ID}/${long.runId}/history`;
    const listReady = (page: Page): Promise<unknown> =>
      page.getByTestId(LIST_ROW).first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    // Rendered: the event table shows rows and the result, which is in the history's last event, is shown.
    const historyReady = async (page: Page): Promise<void> => {
      await page.getByTestId(EVENT_ROW).first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
      await page
        .getByText(long.result)
        .filter({ visible: true })
        .first()
        .waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    };
    const add = (into: Record<string, number[]>, key: string, value: number | undefined): void => {
      if (value !== undefined) (into[key] ??= []).push(value);
    };
    const samples = variants.map(() => {
      const list: Record<string, number[]> = {};
      const history: Record<string, number[]> = {};
      return { list, history };
    });
    let uiListQuery = '';
    for (let r = 0; r < REPEATS; r++) {
      // Alternate which variant goes first, so neither always runs right after the other's load.
      const order = variants.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const v of order) {
        const { list, history } = samples[v]!;
        const ui = uis[v]!;
        const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
        await context.addInitScript(MARKS_SCRIPT);
        const listCalls: string[] = [];
        context.on('request', (q) => {
          if (LIST_CALL.test(new URL(q.url()).pathname)) listCalls.push(q.url());
        });
        for (const kind of ['cold', 'warm']) {
          const load = await loadPage(context, `${ui.url}${listPath}`, listReady, LIST_CALL);
          add(list, `${kind}Rows`, load.rows);
          // What a person sees first: the first paint's rows once painted (in the DOM, and not before the page's first
          // contentful paint: until its stylesheets load the browser paints nothing), else the UI's rows.
          const painted = load.firstPaint === undefined ? Infinity : Math.max(load.firstPaint, load.fcp ?? Infinity);
          add(list, `${kind}Shown`, Math.min(painted, load.rows));
          add(list, `${kind}Data`, load.calls[0]?.end);
          add(list, `${kind}Arrived`, load.calls[0]?.arrived);
          // The list call's server time; when its answer was embedded in the page, the page's own (which includes it).
          add(list, 'serverInPage', load.calls[0] && (load.calls[0].ttfb ?? load.htmlTtfb));
        }
        add(list, 'inApp', await inAppList(context, `${ui.url}/namespaces/${NAMESPACE}/schedules`));
        for (const kind of ['cold', 'warm']) {
          const load = await loadPage(context, `${ui.url}${historyPath}`, historyReady, HISTORY_CALL);
          add(history, `${kind}Rows`, load.rows);
          add(history, `${kind}Done`, load.result);
          add(history, `${kind}Data`, load.calls[load.calls.length - 1]?.end);
          add(
            history,
            'serverInPage',
            load.calls.reduce((sum, call) => sum + (call.ttfb ?? 0), 0),
          );
          if (r === 0 && kind === 'cold') console.log(`ui: the history page fetched ${load.calls.length} pages`);
        }
        uiListQuery ||= listCalls[0] ?? '';
        await context.close();
      }
    }
    const listParams = new URL(uiListQuery).searchParams;
    const uiPageSize = Number(listParams.get('pageSize') ?? 0);
    const query = listParams.get('query') ?? '';
    const listGrpc = await timeGrpc(GRPC_REPEATS, () =>
      connection.workflowService.listWorkflowExecutions({ namespace: NAMESPACE, pageSize: uiPageSize, query }),
    );
    const listHttp = await timeGrpc(GRPC_REPEATS, async () => {
      const response = await fetch(uiListQuery);
      if ((((await response.json()) as { executions?: unknown[] }).executions?.length ?? 0) === 0)
        throw new Error('the HTTP list answered no executions');
    });
    const historyGrpc = await timeGrpc(GRPC_REPEATS, async () => {
      let nextPageToken: Uint8Array | undefined;
      do {
        const page = await connection.workflowService.getWorkflowExecutionHistory({
          namespace: NAMESPACE,
          execution: { workflowId: LONG_ID, runId: long.runId },
          ...(nextPageToken?.length ? { nextPageToken } : {}),
        });
        nextPageToken = page.nextPageToken ?? undefined;
      } while (nextPageToken?.length);
    });
    const historyApi = `${uis[0]!.url}/api/v1/namespaces/${NAMESPACE}/workflows/${LONG_ID}/history?execution.runId=${long.runId}`;
    const historyHttp = await timeGrpc(GRPC_REPEATS, () => httpHistory(historyApi));

    const stat = (from: Record<string, number[]>, key: string): Stats => stats(from[key] ?? [NaN]);
    const figures: UiFigures = {
      closed: CLOSED,
      historyEvents: long.length,
      seedMs,
      uiPageSize,
      list: { grpc: listGrpc, http: listHttp },
      history: { grpc: historyGrpc, http: historyHttp },
      pages: variants.map((preload, v) => {
        const { list, history } = samples[v]!;
        return {
          preload,
          firstPaint: preload && FIRST_PAINT,
          list: {
            coldData: stat(list, 'coldData'),
            coldArrived: stat(list, 'coldArrived'),
            coldShown: stat(list, 'coldShown'),
            coldRows: stat(list, 'coldRows'),
            warmData: stat(list, 'warmData'),
            warmArrived: stat(list, 'warmArrived'),
            warmShown: stat(list, 'warmShown'),
            warmRows: stat(list, 'warmRows'),
            serverInPage: stat(list, 'serverInPage'),
            inApp: stat(list, 'inApp'),
          },
          history: {
            coldData: stat(history, 'coldData'),
            coldRows: stat(history, 'coldRows'),
            coldDone: stat(history, 'coldDone'),
            warmData: stat(history, 'warmData'),
            warmRows: stat(history, 'warmRows'),
            warmDone: stat(history, 'warmDone'),
            serverInPage: stat(history, 'serverInPage'),
          },
        };
      }),
    };
    const [l1, l5, l15] = loadavg();
    console.log(
      `ui: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
        `load average ${l1!.toFixed(2)} ${l5!.toFixed(2)} ${l15!.toFixed(2)}; ${CLOSED} closed workflows ` +
        `(seeded in ${(seedMs / 1000).toFixed(0)} s), history of ${long.length} events; p50 / p99 ms over ` +
        `${REPEATS} page loads (cold: new browser context; warm: the UI's assets cached) and ${GRPC_REPEATS} API calls`,
    );
    const { list: l, history: h } = figures;
    console.log(
      '| page | API preload | gRPC (ms) | HTTP API (ms) | server time in the page (ms)¹ | ' +
        'data in the page, cold / warm (ms) | rendered, cold / warm (ms) | warm rendered / gRPC | target (ms) |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    const onOff = (preload: boolean): string => (preload ? 'on' : 'off');
    const listVariant = (preload: boolean, firstPaint: boolean): string =>
      preload && !firstPaint ? 'on, no first paint' : onOff(preload);
    for (const { preload, firstPaint, list: pl } of figures.pages) {
      // First shown: the first paint's rows when it drew them (beside when the preloaded answer arrived), else the
      // UI's rows (beside when the UI got its data).
      const data = firstPaint
        ? `${fmt(pl.coldArrived)}, ${fmt(pl.warmArrived)}`
        : `${fmt(pl.coldData)}, ${fmt(pl.warmData)}`;
      console.log(
        `| list: first rows shown (page of ${uiPageSize})${firstPaint ? ', the first paint' : ''} | ` +
          `${listVariant(preload, firstPaint)} | ${fmt(l.grpc)} | ${fmt(l.http)} | ${fmt(pl.serverInPage)} | ${data} | ` +
          `${fmt(pl.coldShown)}, ${fmt(pl.warmShown)} | ${(pl.warmShown.p50 / l.grpc.p50).toFixed(0)} | 300 |`,
      );
      if (!firstPaint) continue;
      console.log(
        `| list: the UI's own first rows | ${listVariant(preload, firstPaint)} | ${fmt(l.grpc)} | ${fmt(l.http)} | ` +
          `${fmt(pl.serverInPage)} | ${fmt(pl.coldData)}, ${fmt(pl.warmData)} | ` +
          `${fmt(pl.coldRows)}, ${fmt(pl.warmRows)} | ${(pl.warmRows.p50 / l.grpc.p50).toFixed(0)} | - |`,
      );
    }
    for (const { preload, history: ph } of figures.pages) {
      console.log(
        `| history: ${long.length} events (all pages) | ${onOff(preload)} | ${fmt(h.grpc)} | ${fmt(h.http)} | ` +
          `${fmt(ph.serverInPage)} | ${fmt(ph.coldData)}, ${fmt(ph.warmData)} | ` +
          `${fmt(ph.coldDone)}, ${fmt(ph.warmDone)} | ${(ph.warmDone.p50 / h.grpc.p50).toFixed(0)} | 2000 |`,
      );
    }
    console.log(
      "¹ the API calls' time to first byte in the page; for a list answer the server embedded in the page " +
        '(infra/ui/embedded-answers.ts), the time to first byte of the page itself, which includes it',
    );
    for (const { preload, list: pl, history: ph } of figures.pages) {
      console.log(
        `ui (API preload ${onOff(preload)}): list reached inside the app (the Workflows link clicked on the loaded ` +
          `schedules page), click to first rows: ${fmt(pl.inApp)} ms; history page, first event rows: ` +
          `cold ${fmt(ph.coldRows)}, warm ${fmt(ph.warmRows)} ms (before the rest of the history has arrived)`,
      );
    }
    return figures;
  } finally {
    await browser?.close();
    await connection.close();
    await Promise.all(uis.map((ui) => ui.close()));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchUi().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
