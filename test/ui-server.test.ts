/**
 * The Web UI server over real HTTP on a free port: the committed assets with their content types and caching, the
 * single-page-app fallback, the settings document, the public path (redirects and rewritten index.html), the mounted
 * HTTP API (a stand-in fetch handler here: the real one is Temporal's HTTP API on the dev server), and the security
 * defaults: loopback, no CORS headers, and no write request without the CSRF token.
 */
import { readUiManifest } from '../infra/ui/manifest';
import { UiConfigError, normalizePublicPath, startUiServer, type UiServerHandle } from '../infra/ui/server';

const manifest = readUiManifest();
const script = manifest.files.find((file) => file.path.startsWith('_app/immutable/') && file.path.endsWith('.js'));
const stylesheet = manifest.files.find((file) => file.path.endsWith('.css'));

/** A stand-in API: echoes what reached it, so tests see the method, path and body the UI server forwarded. */
async function echoApi(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const body = request.method === 'GET' ? '' : await request.text();
  return Response.json({ method: request.method, path: url.pathname, search: url.search, body });
}

describe('the Web UI server at the root', () => {
  let server: UiServerHandle;
  beforeAll(async () => {
    server = await startUiServer({ port: 0, api: echoApi, settings: { codecEndpoint: 'http://127.0.0.1:8888' } });
  });
  afterAll(() => server.close());

  it('binds loopback by default and reports its URL', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves index.html with no-cache, a CSRF cookie and no CORS headers', async () => {
    const response = await fetch(`${server.url}/namespaces`, { headers: { Origin: 'https://evil.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('set-cookie')).toMatch(/^_csrf=[\w-]+; Path=\/; SameSite=Strict$/);
    const html = await response.text();
    expect(html).toContain('base: ""');
    expect(html).toContain('"/_app/immutable/entry/start.');
  });

  it('falls back to index.html for the app routes (deep links), but not for missing build files', async () => {
    for (const path of ['/namespaces', '/namespaces/default/workflows', '/namespaces/default/workflows/a/b/history']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('__sveltekit_');
    }
    const missing = await fetch(`${server.url}/_app/immutable/chunks/missing.js`);
    expect(missing.status).toBe(404);
  });

  it('serves hashed build files with their content type, a sha256 ETag and a year of caching', async () => {
    expect(script).toBeDefined();
    expect(stylesheet).toBeDefined();
    const js = await fetch(`${server.url}/${script?.path}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^(text|application)\/javascript/);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('etag')).toBe(`"${script?.sha256}"`);
    expect((await js.arrayBuffer()).byteLength).toBe(script?.size);
    const css = await fetch(`${server.url}/${stylesheet?.path}`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    const again = await fetch(`${server.url}/${script?.path}`, { headers: { 'If-None-Match': `"${script?.sha256}"` } });
    expect(again.status).toBe(304);
    const icon = await fetch(`${server.url}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('cache-control')).toBe('public, max-age=3600');
  });

  it("serves the UI settings itself: the assets' @temporalio/ui version and the codec endpoint", async () => {
    const response = await fetch(`${server.url}/api/v1/settings`);
    expect(response.status).toBe(200);
    const settings = (await response.json()) as Record<string, unknown>;
    expect(settings.Version).toBe(manifest.temporalUiVersion);
    expect(settings.DefaultNamespace).toBe('default');
    expect(settings.Auth).toEqual({ Enabled: false, Options: null });
    expect(settings.Codec).toMatchObject({ Endpoint: 'http://127.0.0.1:8888' });
  });

  it('forwards reads to the mounted API unchanged', async () => {
    const response = await fetch(`${server.url}/api/v1/namespaces/default/workflows?query=a%3Db`);
    expect(await response.json()).toEqual({
      method: 'GET',
      path: '/api/v1/namespaces/default/workflows',
      search: '?query=a%3Db',
      body: '',
    });
  });

  it('refuses a write without the CSRF token (another origin cannot read the cookie) and passes it with it', async () => {
    const url = `${server.url}/api/v1/namespaces/default/workflows/w/terminate`;
    const denied = await fetch(url, { method: 'POST', body: '{}', headers: { Origin: 'https://evil.example' } });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    expect(await denied.json()).toMatchObject({ code: 7, message: expect.stringContaining('X-CSRF-TOKEN') as string });

    const wrong = await fetch(url, {
      method: 'POST',
      body: '{}',
      headers: { Cookie: '_csrf=aaa', 'X-CSRF-TOKEN': 'bbb' },
    });
    expect(wrong.status).toBe(403);

    const page = await fetch(`${server.url}/`);
    const token = /_csrf=([\w-]+)/.exec(page.headers.get('set-cookie') ?? '')?.[1] ?? '';
    const allowed = await fetch(url, {
      method: 'POST',
      body: '{"reason":"test"}',
      headers: { Cookie: `_csrf=${token}`, 'X-CSRF-TOKEN': token },
    });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ method: 'POST', body: '{"reason":"test"}' });
  });

  it('answers a CORS preflight without allowing anything', async () => {
    const response = await fetch(`${server.url}/api/v1/namespaces`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('answers HEAD like GET without a body, and refuses other methods outside the API (405)', async () => {
    const head = await fetch(`${server.url}/namespaces`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await head.text()).toBe('');
    const put = await fetch(`${server.url}/namespaces`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
  });

  it('survives malformed requests', async () => {
    const response = await fetch(`${server.url}/%E0%A4%A`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('malformed %-escape');
    expect((await fetch(`${server.url}/api/v1/settings`)).status).toBe(200);
  });
});

describe('the Web UI server under a public path', () => {
  let server: UiServerHandle;
  beforeAll(async () => {
    server = await startUiServer({ port: 0, publicPath: '/temporal/', api: echoApi });
  });
  afterAll(() => server.close());

  it('includes the path in its URL and redirects requests outside it (308, query kept)', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/temporal`);
    const response = await fetch(`http://127.0.0.1:${server.port}/namespaces?x=1`, { redirect: 'manual' });
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe('/temporal/namespaces?x=1');
  });

  it('rewrites index.html for the path and serves assets and the API under it', async () => {
    const html = await (await fetch(`${server.url}/namespaces/default/workflows`)).text();
    expect(html).toContain('base: "/temporal"');
    expect(html).toContain('"/temporal/_app/immutable/entry/start.');
    expect(html).not.toContain('"/_app/');
    expect((await fetch(`${server.url}/${script?.path}`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/api/v1/cluster-info`)).json()).toMatchObject({
      path: '/api/v1/cluster-info',
    });
    expect(((await (await fetch(`${server.url}/api/v1/settings`)).json()) as { Version: string }).Version).toBe(
      manifest.temporalUiVersion,
    );
  });
});

describe('the Web UI server without an HTTP API', () => {
  it('answers the API with 501 and Temporal’s error body, but still serves settings', async () => {
    const server = await startUiServer({ port: 0 });
    try {
      const response = await fetch(`${server.url}/api/v1/namespaces`);
      expect(response.status).toBe(501);
      expect(await response.json()).toEqual({
        code: 12,
        message: 'the HTTP API is not served by this UI server',
        details: [],
      });
      expect((await fetch(`${server.url}/api/v1/settings`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('names the flag and the fix when the port is taken', async () => {
    const first = await startUiServer({ port: 0 });
    try {
      await expect(startUiServer({ port: first.port })).rejects.toThrow(
        `UI port ${first.port} on 127.0.0.1 is in use: choose another --ui-port, or --headless for no UI`,
      );
    } finally {
      await first.close();
    }
  });
});

describe('normalizePublicPath', () => {
  it('adds the leading slash and drops trailing ones', () => {
    expect(normalizePublicPath(undefined)).toBe('');
    expect(normalizePublicPath('/')).toBe('');
    expect(normalizePublicPath('temporal/')).toBe('/temporal');
    expect(normalizePublicPath('/a/b')).toBe('/a/b');
  });

  it('rejects what is not a plain URL path, saying what is expected', () => {
    for (const bad of ['/a/../b', '/a b', '/a?x', '//a']) {
      expect(() => normalizePublicPath(bad)).toThrow(UiConfigError);
    }
    expect(() => normalizePublicPath('/a b')).toThrow(/invalid --ui-public-path "\/a b": expected a URL path/);
  });
});
