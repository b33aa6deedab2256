/**
 * The built Web UI in headless Chromium, served by the UI server at the root and under a public path: the app
 * boots, loads its settings, routes a deep link client-side and renders the namespace page with no console errors.
 * The API here is a stand-in answering only the three calls the app frame makes (cluster info, system info,
 * namespaces); the pages that need executions run against the dev server's real HTTP API (ui-pages tests).
 */
import { startUiServer, type UiServerHandle } from '../../infra/ui/server';
import { launchBrowser, type BrowserHarness } from './harness';

/** Answers the app frame's calls with what an empty dev server would; anything else is a 404 in Temporal's shape. */
function frameApi(request: Request): Response {
  const { pathname } = new URL(request.url);
  switch (pathname) {
    case '/api/v1/cluster-info':
      return Response.json({ serverVersion: '1.27.0', clusterName: 'mloe', supportedClients: {} });
    case '/api/v1/system-info':
      return Response.json({ serverVersion: '1.27.0', capabilities: {} });
    case '/api/v1/namespaces':
      return Response.json({
        namespaces: [
          { namespaceInfo: { name: 'default', state: 'NAMESPACE_STATE_REGISTERED' }, config: {} },
          { namespaceInfo: { name: 'ml-team', state: 'NAMESPACE_STATE_REGISTERED' }, config: {} },
        ],
        nextPageToken: '',
      });
    default:
      return Response.json({ code: 5, message: `not in the stand-in: ${pathname}`, details: [] }, { status: 404 });
  }
}

let harness: BrowserHarness;
beforeAll(async () => {
  harness = await launchBrowser();
}, 60_000);
afterAll(() => harness?.close());

describe.each([
  ['at the root', ''],
  ['under --ui-public-path /temporal', '/temporal'],
])('the Web UI in Chromium, %s', (name, publicPath) => {
  let server: UiServerHandle;
  beforeAll(async () => {
    // Compressed as for a remote browser (loopback clients get plain answers by default), so Chromium decodes them.
    server = await startUiServer({ port: 0, publicPath, api: frameApi, compressLoopback: true });
  });
  afterAll(() => server.close());

  it('boots on a deep link and lists the namespaces, with no console errors', async () => {
    const { page, errors } = await harness.open();
    const failed: string[] = [];
    page.on('response', (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(`${server.url}/namespaces`);
    const list = page.getByTestId('namespace-list');
    await list.getByText('ml-team').waitFor({ timeout: 30_000 });
    expect(await list.getByRole('link').allInnerTexts()).toEqual(['default', 'ml-team']);
    expect(await page.getByTestId('namespace-selector-title').innerText()).toBe('Namespaces');
    // Temporal's side navigation is there, its links under the public path.
    const workflowsLink = page.getByRole('link', { name: 'Workflows' }).first();
    expect(await workflowsLink.getAttribute('href')).toBe(`${publicPath}/namespaces/default/workflows`);
    await harness.screenshot(page, `shell-namespaces${publicPath.replaceAll('/', '-')}`);
    expect(failed).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('gets its scripts brotli-compressed, and on its next visit takes the hashed ones from its cache, not the server', async () => {
    const { page } = await harness.open();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    const seen: { url: string; encoding: string | undefined; cached: boolean }[] = [];
    // Answers from the memory cache are announced apart from those of the disk cache.
    const fromMemory = new Set<string>();
    cdp.on('Network.requestServedFromCache', (event) => fromMemory.add(event.requestId));
    cdp.on('Network.responseReceived', (event) => {
      seen.push({
        url: event.response.url,
        encoding: event.response.headers['content-encoding'],
        cached: event.response.fromDiskCache === true || fromMemory.has(event.requestId),
      });
    });
    await page.goto(`${server.url}/namespaces`);
    await page.getByTestId('namespace-list').getByText('ml-team').waitFor({ timeout: 30_000 });
    const immutable = (url: string): boolean => new URL(url).pathname.includes('/_app/immutable/');
    const firstScripts = seen.filter((r) => immutable(r.url) && r.url.endsWith('.js'));
    expect(firstScripts.length).toBeGreaterThan(10);
    // Files under 1 KiB go uncompressed; the large ones come in brotli.
    expect(firstScripts.filter((r) => r.encoding === 'br').length).toBeGreaterThan(firstScripts.length / 2);
    seen.length = 0;
    await page.goto(`${server.url}/namespaces`);
    await page.getByTestId('namespace-list').getByText('ml-team').waitFor({ timeout: 30_000 });
    const reloaded = seen.filter((r) => immutable(r.url));
    expect(reloaded.length).toBeGreaterThan(10);
    expect(reloaded.filter((r) => !r.cached)).toEqual([]);
    await page.context().close();
  });

  it('shares one Intl.DateTimeFormat per (locales, options) in the page, and formats as before', async () => {
    const { page, errors } = await harness.open();
    await page.goto(`${server.url}/namespaces`);
    await page.getByTestId('namespace-list').getByText('ml-team').waitFor({ timeout: 30_000 });
    const facts = await page.evaluate(() => {
      const epoch = new Date(Date.UTC(2026, 11, 7, 13, 5, 9));
      const utc = { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'medium' } as const;
      const a = new Intl.DateTimeFormat('en-US', utc);
      class Labelled extends Intl.DateTimeFormat {}
      const locale = new Intl.Locale('en-US');
      return {
        sameForSameArguments:
          a === new Intl.DateTimeFormat('en-US', { timeStyle: 'medium', dateStyle: 'medium', timeZone: 'UTC' }),
        sameWithoutNew: a === Intl.DateTimeFormat('en-US', utc),
        otherForOtherOptions: a !== new Intl.DateTimeFormat('en-US', { ...utc, timeZone: 'Asia/Tokyo' }),
        otherForOtherLocale: a !== new Intl.DateTimeFormat('de-DE', utc),
        formatted: a.format(epoch).replace(/\s/g, ' '),
        tokyo: new Intl.DateTimeFormat('en-US', { ...utc, timeZone: 'Asia/Tokyo' }).format(epoch).replace(/\s/g, ' '),
        instance: a instanceof Intl.DateTimeFormat,
        supported: Intl.DateTimeFormat.supportedLocalesOf(['en-US']),
        subclass: new Labelled('en-US') instanceof Labelled,
        // A locale object cannot be keyed exactly: each call gets its own formatter.
        notShared: new Intl.DateTimeFormat(locale) !== new Intl.DateTimeFormat(locale),
        badOptionStillThrows: (() => {
          try {
            new Intl.DateTimeFormat('en-US', { timeZone: 'Not/AZone' });
            return false;
          } catch (error) {
            return error instanceof RangeError;
          }
        })(),
      };
    });
    expect(facts).toEqual({
      sameForSameArguments: true,
      sameWithoutNew: true,
      otherForOtherOptions: true,
      otherForOtherLocale: true,
      formatted: 'Dec 7, 2026, 1:05:09 PM',
      tokyo: 'Dec 7, 2026, 10:05:09 PM',
      instance: true,
      supported: ['en-US'],
      subclass: true,
      notShared: true,
      badOptionStillThrows: true,
    });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('redirects / to the default namespace’s workflows client-side', async () => {
    const { page } = await harness.open();
    await page.goto(`${server.url}/`);
    await page.waitForURL(`${server.url}/namespaces/default/workflows`, { timeout: 30_000 });
    await page.context().close();
  });
});
