/**
 * `npm run bench:ui-profile`: where the Web UI's time goes (issue 12), from Chromium's own records. Loads the
 * workflow list and the long history page (as `bench/ui.ts` does) and prints, per page, the network timeline (each
 * request's start, time to first byte and end, its size on the wire, whether it came from the cache) and the main
 * thread's work from a performance trace (script compile and execution, style and layout, paint, long tasks), with
 * the page's marks (first rows, result shown).
 *
 * `BENCH_UI_DB` names a SQLite file to keep between runs: seeded on the first run (`BENCH_UI_CLOSED` workflows and
 * the `BENCH_UI_EVENTS`-event history), reused after, so profiling a change takes seconds instead of minutes.
 * `BENCH_UI_ASSETS` serves other built assets (a build without the patches, or one with hidden source maps).
 * `BENCH_UI_OUT` names the folder for the traces and CPU profiles (default: the system's temporary folder).
 * `BENCH_UI_PRELOAD=0` serves the UI without the API preload (`infra/ui/api-preload.ts`), to compare.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Connection } from '@temporalio/client';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

import { startEmbeddedUi } from '../clients/ui';
import { startDevServer } from '../infra/devserver';
import { oneOf } from './knobs';
import { CHROMIUM, EVENT_ROW, HISTORY_CALL, LIST_CALL, LIST_ROW, LONG_ID, MARKS_SCRIPT, runLongHistory } from './ui';
import { seedClosedWorkflows } from './ui-seed';

const CLOSED = Number(process.env.BENCH_UI_CLOSED ?? 100_000);
const EVENTS = Number(process.env.BENCH_UI_EVENTS ?? 10_000);
const NAMESPACE = 'default';
const TIMEOUT_MS = 180_000;
/** Main-thread tasks at least this long are long tasks (the Long Tasks API's threshold). */
const LONG_TASK_MS = 50;
/** Other built UI assets to serve (`--ui-asset-path`), e.g. a build without the patches, to compare. */
const ASSETS = process.env.BENCH_UI_ASSETS;
/** Where the traces and CPU profiles go. */
const OUT = process.env.BENCH_UI_OUT ?? tmpdir();
/** Whether the UI serves the API preload (`BENCH_UI_PRELOAD=0`: without it). */
const PRELOAD = oneOf('BENCH_UI_PRELOAD', ['1', '0'], '1') === '1';

/** One request as the network domain saw it, in ms since navigation. */
interface NetRequest {
  url: string;
  start: number;
  ttfb?: number;
  end?: number;
  bytes?: number;
  status?: number;
  fromCache?: boolean;
  encoding?: string;
}

/** One complete trace event (`ph: 'X'`) of Chromium's trace format. */
interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: { data?: { url?: string; frame?: string } };
}

async function recordNetwork(cdp: CDPSession, origin: () => number, out: Map<string, NetRequest>): Promise<void> {
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (e) => {
    out.set(e.requestId, { url: e.request.url, start: e.timestamp * 1000 - origin() });
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = out.get(e.requestId);
    if (!r) return;
    r.status = e.response.status;
    r.fromCache = e.response.fromDiskCache === true || e.response.fromServiceWorker === true;
    const encoding = e.response.headers['content-encoding'] ?? e.response.headers['Content-Encoding'];
    if (encoding !== undefined) r.encoding = encoding;
    const timing = e.response.timing;
    if (timing) r.ttfb = timing.requestTime * 1000 + timing.receiveHeadersEnd - origin();
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = out.get(e.requestId);
    if (!r) return;
    r.end = e.timestamp * 1000 - origin();
    r.bytes = e.encodedDataLength;
  });
}

/** The renderer main thread's complete events of the navigation to `url`, in ms since its navigation start. */
function mainThread(events: TraceEvent[], url: string): { ms: (e: TraceEvent) => number; events: TraceEvent[] } {
  const nav = events.find(
    (e) => e.name === 'navigationStart' && (e.args?.data as { documentLoaderURL?: string })?.documentLoaderURL === url,
  );
  if (!nav) throw new Error(`no navigationStart for ${url} in the trace`);
  return {
    ms: (e) => (e.ts - nav.ts) / 1000,
    events: events.filter((e) => e.pid === nav.pid && e.tid === nav.tid && e.ph === 'X' && e.dur !== undefined),
  };
}

/** What the main thread did inside [from, to) (ms since navigation), by kind. */
function workBetween(thread: ReturnType<typeof mainThread>, from: number, to: number): Record<string, number> {
  const inside = thread.events.filter((e) => thread.ms(e) >= from && thread.ms(e) < to);
  const sum = (names: string[]): number =>
    inside.filter((e) => names.includes(e.name)).reduce((s, e) => s + (e.dur ?? 0) / 1000, 0);
  const tasks = inside.filter((e) => e.name === 'RunTask');
  const long = tasks.filter((e) => (e.dur ?? 0) / 1000 >= LONG_TASK_MS);
  return {
    busy: tasks.reduce((s, e) => s + (e.dur ?? 0) / 1000, 0),
    'long tasks': long.length,
    'in long tasks': long.reduce((s, e) => s + (e.dur ?? 0) / 1000, 0),
    longest: Math.max(0, ...tasks.map((e) => (e.dur ?? 0) / 1000)),
    compile: sum(['v8.compile', 'V8.CompileCode', 'v8.compileModule', 'V8.ParseFunction', 'v8.produceModuleCache']),
    'evaluate modules': sum(['EvaluateScript', 'v8.evaluateModule']),
    'JS calls': sum(['FunctionCall', 'TimerFire', 'FireAnimationFrame', 'EventDispatch', 'V8.Execute']),
    style: sum(['UpdateLayoutTree']),
    layout: sum(['Layout']),
    paint: sum(['Paint', 'PrePaint', 'Layerize', 'UpdateLayer', 'Commit']),
    'HTML parse': sum(['ParseHTML']),
    GC: sum(['MajorGC', 'MinorGC', 'V8.GC_SCAVENGER']),
  };
}

/** A CPU profile as `Profiler.stop` returns it. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function inside [from, to) (ms since navigation at `navUs` in the trace clock); the top `n`. */
function topFunctions(profile: CpuProfile, navUs: number, from: number, to: number, n: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const self = new Map<string, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    t += profile.timeDeltas[i] ?? 0;
    const at = (t - navUs) / 1000;
    if (at < from || at >= to) return;
    const frame = byId.get(id);
    const file = frame?.url.split('/').pop() ?? '';
    const key = `${frame?.functionName || '(anonymous)'} ${file}${file ? `:${(frame?.lineNumber ?? 0) + 1}:${frame?.columnNumber ?? 0}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt / 1000);
  });
  return [...self.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([k, v]) => `${v.toFixed(0)} ms ${k}`);
}

/** Milestones of a page load, in ms since navigation. */
type Phase = [label: string, from: number, to: number];

/**
 * Loads `url` in `context` with the network recorded, a trace and a CPU profile taken; prints the requests and, per
 * phase between milestones (first API call, the page's data call, its answer, first rows, result), what the main
 * thread did.
 */
async function profilePage(
  context: BrowserContext,
  label: string,
  url: string,
  ready: (page: Page) => Promise<unknown>,
  dataCall: RegExp,
  traceFile: string,
): Promise<void> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const requests = new Map<string, NetRequest>();
  await recordNetwork(cdp, () => 0, requests);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
  await cdp.send('Profiler.start');
  const browser = context.browser()!;
  await browser.startTracing(page, {
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink.user_timing', 'loading'],
  });
  const t0 = performance.now();
  await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT_MS });
  await ready(page);
  const wall = performance.now() - t0;
  const marks = await page.evaluate<{ rows?: number; result?: number }>(`({ ...window.__mloeMarks })`);
  const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: CpuProfile };
  const trace = JSON.parse((await browser.stopTracing()).toString('utf8')) as { traceEvents: TraceEvent[] };
  writeFileSync(traceFile, JSON.stringify(trace));
  writeFileSync(traceFile.replace(/\.trace\.json$/, '.cpuprofile'), JSON.stringify(profile));
  const thread = mainThread(trace.traceEvents, url);
  const navEvent = trace.traceEvents.find(
    (e) => e.name === 'navigationStart' && (e.args?.data as { documentLoaderURL?: string })?.documentLoaderURL === url,
  )!;
  // The network domain's clock (monotonic seconds) is the trace's (monotonic microseconds).
  const navMs = navEvent.ts / 1000;
  const sorted = [...requests.values()].sort((a, b) => a.start - b.start);
  console.log(`\n## ${label}: ${url}`);
  console.log(
    `first rows ${marks.rows?.toFixed(0)} ms, result ${marks.result?.toFixed(0) ?? '-'} ms after navigation ` +
      `(wall ${wall.toFixed(0)} ms); trace in ${traceFile}`,
  );
  const f = (v: number | undefined): string => (v === undefined ? '-' : (v - navMs).toFixed(0));
  const cached = sorted.filter((r) => r.fromCache);
  console.log(
    `${sorted.length} requests, ${cached.length} from the cache, ` +
      `${sorted.reduce((s, r) => s + (r.bytes ?? 0), 0)} bytes on the wire`,
  );
  console.log('| request | start | first byte | end | bytes | status | cache | encoding |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of sorted) {
    if (r.url.startsWith('data:')) continue;
    const u = new URL(r.url);
    console.log(
      `| ${u.pathname}${u.search.slice(0, 50)} | ${f(r.start)} | ${f(r.ttfb)} | ${f(r.end)} | ${r.bytes ?? '-'} | ` +
        `${r.status ?? '-'} | ${r.fromCache ? 'yes' : ''} | ${r.encoding ?? ''} |`,
    );
  }
  const rel = (v: number | undefined): number => (v ?? navMs) - navMs;
  const firstApi = sorted.find((r) => new URL(r.url).pathname.startsWith('/api/'));
  const data = sorted.filter((r) => !r.url.startsWith('data:') && dataCall.test(new URL(r.url).pathname));
  const dataStart = rel(data[0]?.start);
  const dataEnd = rel(data[data.length - 1]?.end);
  const rows = marks.rows ?? wall;
  const phases: Phase[] = [
    ['navigation → first API call', 0, rel(firstApi?.start)],
    ['first API call → data call sent', rel(firstApi?.start), dataStart],
    ['data call in flight', dataStart, dataEnd],
    ['data → first rows', dataEnd, rows],
  ];
  if (marks.result !== undefined && marks.result > rows) phases.push(['first rows → result', rows, marks.result]);
  console.log(
    '| phase (ms since navigation) | from | to | main thread busy | long tasks (ms in them) | longest | ' +
      'compile | evaluate | JS calls | style | layout | paint | GC |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, from, to] of phases) {
    const w = workBetween(thread, from, to);
    const n = (k: string): string => (w[k] ?? 0).toFixed(0);
    console.log(
      `| ${name} | ${from.toFixed(0)} | ${to.toFixed(0)} | ${n('busy')} | ${n('long tasks')} (${n('in long tasks')}) | ` +
        `${n('longest')} | ${n('compile')} | ${n('evaluate modules')} | ${n('JS calls')} | ${n('style')} | ` +
        `${n('layout')} | ${n('paint')} | ${n('GC')} |`,
    );
  }
  for (const [name, from, to] of phases) {
    console.log(`top self time, ${name}:`);
    for (const line of topFunctions(profile, navEvent.ts, from, to, 8)) console.log(`  ${line}`);
  }
  await page.close();
}

async function main(): Promise<void> {
  const keep = process.env.BENCH_UI_DB;
  const dir = keep ? undefined : mkdtempSync(join(tmpdir(), 'mloe-ui-profile-'));
  const dbFilename = keep ?? join(dir!, 'dev.sqlite');
  const fresh = !existsSync(dbFilename);
  const server = await startDevServer({ port: 0, dbFilename, logLevel: 'error' });
  const ui = await startEmbeddedUi(server, {
    ip: '127.0.0.1',
    port: 0,
    apiPreload: PRELOAD,
    ...(ASSETS ? { assetPath: ASSETS } : {}),
  });
  const connection = await Connection.connect({ address: server.address });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  try {
    let runId: string;
    if (fresh) {
      console.log(`ui-profile: seeding ${CLOSED} closed workflows into ${dbFilename}`);
      await seedClosedWorkflows(server.rpc, { namespace: NAMESPACE, count: CLOSED });
      runId = (await runLongHistory(server.address, EVENTS)).runId;
    } else {
      const described = await connection.workflowService.describeWorkflowExecution({
        namespace: NAMESPACE,
        execution: { workflowId: LONG_ID },
      });
      runId = described.workflowExecutionInfo!.execution!.runId!;
    }
    const listUrl = `${ui.url}/namespaces/${NAMESPACE}/workflows`;
    const historyUrl = `${ui.url}/namespaces/${NAMESPACE}/workflows/${LONG_ID}/${runId}/history`;
    const described = await connection.workflowService.describeWorkflowExecution({
      namespace: NAMESPACE,
      execution: { workflowId: LONG_ID, runId },
    });
    const result = `collected `;
    const listReady = (page: Page): Promise<unknown> =>
      page.getByTestId(LIST_ROW).first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    const historyReady = async (page: Page): Promise<void> => {
      await page.getByTestId(EVENT_ROW).first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
      await page.getByText(result).filter({ visible: true }).first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    };
    console.log(
      `ui-profile: history of ${String(described.workflowExecutionInfo?.historyLength)} events; ` + `traces in ${OUT}`,
    );
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript(MARKS_SCRIPT);
    const out = (name: string): string => join(OUT, `mloe-ui-${name}.trace.json`);
    await profilePage(context, 'list, cold', listUrl, listReady, LIST_CALL, out('list-cold'));
    await profilePage(context, 'list, warm', listUrl, listReady, LIST_CALL, out('list-warm'));
    await profilePage(context, 'history, warm', historyUrl, historyReady, HISTORY_CALL, out('history-warm'));
    await context.close();
  } finally {
    await browser.close();
    await connection.close();
    await ui.close();
    await server.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
