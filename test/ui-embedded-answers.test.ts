/**
 * The workflow list's first page embedded into the page the UI server serves (`infra/ui/embedded-answers.ts`): which
 * pages get it and with which API call (the preload's own rules), how it is written into the HTML (nothing in the data
 * can end the element), and when the server serves the plain page instead (another page, the preload off, an API
 * error or non-JSON answer, an API slower than the budget, whose call it aborts); HEAD answers as GET would. Over real HTTP, with a stand-in API that records what
 * reached it: the real one is Temporal's HTTP API on the dev server, used by the browser tests
 * (`test/ui/list-first-paint.test.ts`, `test/ui/api-preload.test.ts`).
 */
import { EMBEDDED_ANSWERS_ID, embeddedAnswersElement, listCallFor } from '../infra/ui/embedded-answers';
import { startUiServer, type UiServerHandle, type UiServerOptions } from '../infra/ui/server';

/** A page of the list, with data no HTML parser must take for markup. */
const PAGE = { executions: [{ execution: { workflowId: 'a</script><script>alert(1)</script><!--' } }] };

/** The embedded answers of a served page, parsed; undefined when it has none. */
function embeddedIn(html: string): Record<string, unknown> | undefined {
  const open = `<script type="application/json" id="${EMBEDDED_ANSWERS_ID}">`;
  const start = html.indexOf(open);
  if (start === -1) return undefined;
  const end = html.indexOf('</script>', start);
  return JSON.parse(html.slice(start + open.length, end)) as Record<string, unknown>;
}

describe('listCallFor: the list call the preload makes for a page', () => {
  it.each([
    ['/namespaces/default/workflows', '', '/namespaces/default/workflows?pageSize=100&nextPageToken='],
    ['/namespaces/ml%20team/workflows', '', '/namespaces/ml%20team/workflows?pageSize=100&nextPageToken='],
    ['/namespaces/default/workflows', '?per-page=250', '/namespaces/default/workflows?pageSize=250&nextPageToken='],
    ['/namespaces/default/workflows', '?per-page=x', '/namespaces/default/workflows?pageSize=100&nextPageToken='],
    [
      '/namespaces/default/workflows',
      `?query=${encodeURIComponent('WorkflowType="train model"')}`,
      '/namespaces/default/workflows?pageSize=100&nextPageToken=&query=WorkflowType%3D%22train+model%22',
    ],
    // The UI redirects these to the list, without the URL's query.
    ['/namespaces/prod', '?query=x', '/namespaces/prod/workflows?pageSize=100&nextPageToken='],
    ['/', '?per-page=250', '/namespaces/ml/workflows?pageSize=100&nextPageToken='],
  ])('%s%s → %s', (path, search, call) => {
    expect(listCallFor(path, search, 'ml')).toBe(call);
  });

  it.each([
    '/namespaces',
    '/namespaces/default/schedules',
    '/namespaces/default/workflows/',
    '/namespaces/default/workflows/wf/run/history',
    '/namespaces/%E0%A4%A/workflows',
  ])('%s → none', (path) => {
    expect(listCallFor(path, '', 'default')).toBeUndefined();
  });
});

describe('embeddedAnswersElement', () => {
  it('writes every < of the data escaped, so nothing ends or changes the element, and the data reads back', () => {
    const element = embeddedAnswersElement({ '/namespaces/a/workflows?pageSize=1': JSON.stringify(PAGE) });
    const inner = element.slice(element.indexOf('>') + 1, element.lastIndexOf('</script>'));
    expect(inner).not.toMatch(/<\/script|<!--|</i);
    expect(embeddedIn(element)).toEqual({ '/namespaces/a/workflows?pageSize=1': PAGE });
  });
});

describe('the UI server embeds the list’s first page', () => {
  /** What reached the stand-in API: method, path and query, and the Caller-Type header. */
  const calls: string[] = [];
  let answer: (request: Request) => Promise<Response> = () => Promise.resolve(Response.json(PAGE));
  let servers: UiServerHandle[] = [];

  async function start(options: Partial<UiServerOptions> = {}): Promise<UiServerHandle> {
    const server = await startUiServer({
      port: 0,
      api: (request) => {
        const url = new URL(request.url);
        calls.push(`${request.method} ${url.pathname}${url.search} ${request.headers.get('Caller-Type')}`);
        return answer(request);
      },
      ...options,
    });
    servers.push(server);
    return server;
  }

  beforeEach(() => {
    calls.length = 0;
    answer = () => Promise.resolve(Response.json(PAGE));
  });
  afterEach(async () => {
    await Promise.all(servers.map((server) => server.close()));
    servers = [];
  });

  it('into the list’s page, asking the API in process for the preload’s call; never stored', async () => {
    const server = await start({ publicPath: '/temporal' });
    const response = await fetch(`${server.url}/namespaces/default/workflows?per-page=250`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('etag')).toBeNull();
    expect(response.headers.get('set-cookie')).toMatch(/^_csrf=/);
    const html = await response.text();
    expect(embeddedIn(html)).toEqual({ '/namespaces/default/workflows?pageSize=250&nextPageToken=': PAGE });
    // Just before the preload script that reads it, after the public path's rewrite.
    expect(html.indexOf(EMBEDDED_ANSWERS_ID)).toBeLessThan(html.indexOf('(function (base, windowMs'));
    expect(html).toContain('base: "/temporal"');
    expect(calls).toEqual(['GET /api/v1/namespaces/default/workflows?pageSize=250&nextPageToken= operator']);
  });

  it('with the settings at the root, where the preload needs them to know the default namespace', async () => {
    const server = await start({ settings: { defaultNamespace: 'ml' } });
    const html = await (await fetch(`${server.url}/`)).text();
    const settings = await (await fetch(`${server.url}/api/v1/settings`)).json();
    expect(embeddedIn(html)).toEqual({
      '/namespaces/ml/workflows?pageSize=100&nextPageToken=': PAGE,
      '/settings?': settings,
    });
    expect(calls).toEqual(['GET /api/v1/namespaces/ml/workflows?pageSize=100&nextPageToken= operator']);
  });

  it('not into other pages or a server without the preload', async () => {
    const server = await start();
    for (const path of ['/namespaces', '/namespaces/default/schedules', '/namespaces/default/workflows/w/r/history']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(embeddedIn(await response.text())).toBeUndefined();
    }
    const off = await start({ apiPreload: false });
    expect(embeddedIn(await (await fetch(`${off.url}/namespaces/default/workflows`)).text())).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it.each([
    [
      'an error',
      () => Promise.resolve(Response.json({ code: 5, message: 'namespace not found', details: [] }, { status: 404 })),
    ],
    ['an answer that is not JSON', () => Promise.resolve(new Response('<html>proxy error</html>'))],
    ['a failure', () => Promise.reject(new Error('connection refused'))],
    [
      'an answer slower than the budget',
      () => new Promise<Response>((resolve) => setTimeout(() => resolve(Response.json(PAGE)), 2_000).unref()),
    ],
  ])('and serves the plain page when the API gives %s', async (_case, api) => {
    answer = api;
    const server = await start();
    for (const path of ['/namespaces/default/workflows', '/']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);
      const html = await response.text();
      expect(embeddedIn(html)).toBeUndefined();
      expect(html).toContain('__sveltekit_');
    }
    expect(calls).toHaveLength(2);
  });

  it('aborts the API call it stopped waiting for', async () => {
    let seen: AbortSignal | undefined;
    answer = (request) => {
      seen = request.signal;
      return new Promise<Response>((resolve) => {
        request.signal.addEventListener('abort', () => resolve(Response.json(PAGE)));
      });
    };
    const server = await start();
    const response = await fetch(`${server.url}/namespaces/default/workflows`);
    expect(embeddedIn(await response.text())).toBeUndefined();
    expect(seen?.aborted).toBe(true);
  });

  it('answers HEAD of a list page as a GET would (never stored, no ETag), without asking the API', async () => {
    const server = await start();
    const head = await fetch(`${server.url}/namespaces/default/workflows`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect(head.headers.get('etag')).toBeNull();
    expect(head.headers.get('content-type')).toMatch(/^text\/html/);
    expect(calls).toEqual([]);
  });
});
