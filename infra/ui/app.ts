/**
 * The Web UI server's HTTP application (hono): the built `@temporalio/ui` assets with a single-page-app fallback,
 * the UI settings (`GET /api/v1/settings`), and Temporal's HTTP API (`/api/v1/...`) when one is mounted, all
 * under an optional public path. Security follows Temporal's ui-server: no CORS headers at all (the browser's
 * same-origin policy stands), and a `_csrf` cookie that every non-GET API request must echo in `X-CSRF-TOKEN`
 * (`@temporalio/ui` does so), so no page on another origin can act on workflows.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { getMimeType } from 'hono/utils/mime';

import { withApiPreload } from './api-preload';
import { compressResponse } from './compression';
import { EMBEDDED_ANSWERS_SLOT, embeddedAnswersElement, listCallFor } from './embedded-answers';
import { withFormatterCache } from './formatter-cache';
import { UI_ASSETS_DIR, describeAssets, readUiManifest, type UiAssetsManifest } from './manifest';
import { pipelineViewApi, type PipelineViewBackend } from './pipeline-view-api';
import { uiSettingsDocument, type UiSettingsOptions } from './settings';
import { StaticFiles, type StaticAnswer } from './static-files';

/** A fetch handler: a hono app's `fetch`, or any `(Request) => Response`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * What `@hono/node-server` passes a handler beside the request: the Node request, whose socket says who is
 * asking. Absent when the app is called in process.
 */
export interface NodeBindings {
  incoming?: { socket: { remoteAddress?: string | undefined } };
}

/** The UI server's handler: a fetch handler that also takes the Node bindings of the request. */
export type UiFetchHandler = (request: Request, env?: NodeBindings) => Promise<Response>;

/** Temporal's HTTP API to serve under `/api/v1/`: a hono app (anything with `fetch`) or a fetch handler. */
export type UiApi = FetchHandler | { fetch: FetchHandler };

/** Options of {@link createUiApp}. */
export interface UiAppOptions {
  /** Serve everything under this path (`--ui-public-path`, e.g. `/temporal`); empty or absent: at the root. */
  publicPath?: string;
  /** Temporal's HTTP API; without it, `/api/v1/*` (but settings) answers 501. */
  api?: UiApi;
  /** The built assets; defaults to the committed `infra/ui/assets`. */
  assetsDir?: string;
  /** Settings besides the version (which comes from the assets' manifest). */
  settings?: Omit<UiSettingsOptions, 'version'>;
  /** Extra static pages of mloe's own, served under `/mloe/` (path → folder). */
  mloePagesDir?: string;
  /**
   * A codec server (`infra/codec-server`) to serve under `/codec/` (same origin, so no CORS); the UI's codec endpoint
   * then points at it unless `settings.codecEndpoint` names another.
   */
  codec?: UiApi;
  /** The pipeline view's backend (`/mloe/api/`: step runs in MLflow, artifact lineage); 404s without it. */
  pipelineView?: PipelineViewBackend;
  /**
   * Compress assets and API answers for clients on loopback too. Default false: on loopback the bytes cost nothing
   * while decompressing costs the browser CPU on the machine the server shares (measured in docs/benchmarks.md, the
   * UI section); other clients, and calls in process, get them compressed when they accept it.
   */
  compressLoopback?: boolean;
  /**
   * Inline the API preload into `index.html` (`infra/ui/api-preload.ts`: the first API calls of the route being
   * opened start while the UI boots). Default true; false serves the page without it (to compare).
   */
  apiPreload?: boolean;
  /**
   * With the API preload, draw the workflow list's first paint from its answers (`infra/ui/list-first-paint.ts`: the
   * list's first rows as plain HTML until the UI shows its own). Default true; false leaves the preload alone.
   */
  listFirstPaint?: boolean;
}

/** Where {@link UiAppOptions.codec} is served, under the public path. */
export const UI_CODEC_PATH = '/codec';

/** Thrown for an unusable `--ui-public-path`. */
export class UiConfigError extends Error {
  override name = 'UiConfigError';
}

const CSRF_COOKIE = '_csrf';
/** How long serving the list's page may wait for its first page to embed, in ms; after that it is served without. */
const EMBED_BUDGET_MS = 250;
const CSRF_HEADER = 'X-CSRF-TOKEN';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Hashed build outputs: their names change with their bytes, so browsers may keep them for a year. */
const IMMUTABLE_PREFIX = '_app/immutable/';

/**
 * Normalises `--ui-public-path`: a leading `/`, no trailing `/`, only URL path characters; `''` for the root.
 * Throws {@link UiConfigError} saying what is wrong and how to fix it.
 */
export function normalizePublicPath(value: string | undefined): string {
  const trimmed = (value ?? '').trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  const withSlash = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  if (
    !/^(\/[A-Za-z0-9._~-]+)+$/.test(withSlash) ||
    withSlash.split('/').some((part) => part === '.' || part === '..')
  ) {
    throw new UiConfigError(
      `invalid --ui-public-path ${JSON.stringify(value)}: expected a URL path such as /temporal (letters, digits, ` +
        `'.', '_', '~', '-' between slashes; no '..')`,
    );
  }
  return withSlash;
}

/** Hashed build files may be kept for a year; others (favicon) for an hour; index.html is revalidated each time. */
function cacheControlOf(path: string): string {
  return path.startsWith(IMMUTABLE_PREFIX) ? 'public, max-age=31536000, immutable' : 'public, max-age=3600';
}

/**
 * The files to serve, from memory: the manifest's for the committed assets (no hashing at start), the folder's own
 * for other assets (`--ui-asset-path`); `index.html` is served as {@link indexHtmlFor} rewrites it.
 */
function loadStaticFiles(assetsDir: string, manifest: UiAssetsManifest, indexHtml: string): StaticFiles {
  const files = resolve(assetsDir) === UI_ASSETS_DIR ? manifest.files : describeAssets(assetsDir);
  const served = new StaticFiles(assetsDir);
  for (const entry of files) {
    if (entry.path === 'index.html') continue;
    served.add(entry.path, {
      contentType: getMimeType(entry.path) ?? 'application/octet-stream',
      sha256: entry.sha256,
      cacheControl: cacheControlOf(entry.path),
    });
  }
  served.add('index.html', {
    contentType: 'text/html; charset=UTF-8',
    cacheControl: 'no-cache',
    bytes: Buffer.from(indexHtml, 'utf8'),
  });
  return served;
}

/**
 * The built index.html with the formatter cache ({@link withFormatterCache}), rewritten for a public path as Temporal's
 * ui-server does (base and asset URLs), and with the API preload ({@link withApiPreload}) and the list's first paint
 * unless turned off.
 */
function indexHtmlFor(
  assetsDir: string,
  publicPath: string,
  preload: { apiPreload: boolean; listFirstPaint: boolean },
): string {
  let html = withFormatterCache(readFileSync(join(assetsDir, 'index.html'), 'utf8'));
  if (publicPath !== '') {
    html = html
      .replaceAll('base: ""', `base: ${JSON.stringify(publicPath)}`)
      .replaceAll('"/_app/', `"${publicPath}/_app/`)
      .replaceAll('href="/favicon.ico"', `href="${publicPath}/favicon.ico"`);
  }
  return preload.apiPreload ? withApiPreload(html, publicPath, { listFirstPaint: preload.listFirstPaint }) : html;
}

function apiFetch(api: UiApi): FetchHandler {
  return typeof api === 'function' ? api : (request) => api.fetch(request);
}

/** Temporal's HTTP error body: `{ code, message, details }` with a gRPC status code. */
function grpcErrorBody(code: number, message: string): { code: number; message: string; details: [] } {
  return { code, message, details: [] };
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function ensureCsrfCookie(c: Context, cookiePath: string): void {
  if (getCookie(c, CSRF_COOKIE) !== undefined) return;
  setCookie(c, CSRF_COOKIE, randomBytes(24).toString('base64url'), {
    path: cookiePath,
    sameSite: 'Strict',
    // Readable by the UI's script: it copies the token into the X-CSRF-TOKEN header.
    httpOnly: false,
  });
}

/**
 * Builds the UI server's request handler. Requests outside the public path are redirected into it (308), as
 * Temporal's ui-server does; inside, the prefix is stripped before routing.
 */
export function createUiApp(options: UiAppOptions = {}): UiFetchHandler {
  const publicPath = normalizePublicPath(options.publicPath);
  const assetsDir = options.assetsDir ?? UI_ASSETS_DIR;
  const manifest = readUiManifest();
  const apiPreload = options.apiPreload !== false;
  const indexHtml = indexHtmlFor(assetsDir, publicPath, {
    apiPreload,
    listFirstPaint: options.listFirstPaint !== false,
  });
  const assets = loadStaticFiles(assetsDir, manifest, indexHtml);
  const settings = uiSettingsDocument({ ...options.settings, version: manifest.temporalUiVersion });
  const api = options.api === undefined ? undefined : apiFetch(options.api);
  const defaultNamespace = String(settings.DefaultNamespace);

  const codec = options.codec === undefined ? undefined : apiFetch(options.codec);
  const codecOnOwnOrigin = codec !== undefined && options.settings?.codecEndpoint === undefined;
  /** The settings document for a request to `url`. */
  const settingsFor = (url: URL): Record<string, unknown> => {
    if (!codecOnOwnOrigin) return settings;
    // The UI calls the endpoint from the browser: this server's own origin, as the browser reached it.
    const endpoint = `${url.origin}${publicPath}${UI_CODEC_PATH}`;
    return { ...settings, Codec: { ...(settings.Codec as object), Endpoint: endpoint } };
  };

  /** The list call embedded into the page at `url`, when this server embeds one there. */
  const embeddedListCall = (url: URL): string | undefined =>
    apiPreload && api !== undefined ? listCallFor(url.pathname, url.search, defaultNamespace) : undefined;

  /**
   * `index.html` with the list's first page embedded, and at the root the settings too (there the preload waits for
   * them to know the default namespace) (`infra/ui/embedded-answers.ts`) when the page is the list's and
   * the API answers it in time with JSON; undefined otherwise (the static page is served).
   */
  const indexHtmlWithAnswers = async (url: URL, signal: AbortSignal): Promise<string | undefined> => {
    const call = embeddedListCall(url);
    if (call === undefined || api === undefined) return undefined;
    // Aborted when the budget is spent or the browser goes away: the HTTP API stops the call where it can (a query
    // that runs synchronously in process cannot be interrupted; it then delays the page by its own time).
    const abort = new AbortController();
    const request = new Request(new URL(`/api/v1${call}`, url), {
      headers: { 'Caller-Type': 'operator' },
      signal: AbortSignal.any([signal, abort.signal]),
    });
    const read = (async (): Promise<string | undefined> => {
      const answer = await api(request);
      if (
        !answer.ok ||
        !(answer.headers.get('Content-Type') ?? '').includes('application/json') ||
        abort.signal.aborted
      ) {
        await answer.body?.cancel();
        return undefined;
      }
      return answer.text();
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        abort.abort(new Error('the list page was not embedded in time'));
        resolve(undefined);
      }, EMBED_BUDGET_MS);
    });
    try {
      const body = await Promise.race([read, late]);
      if (body === undefined) return undefined;
      const answers: Record<string, string> = { [call]: body };
      if (url.pathname === '/') answers['/settings?'] = JSON.stringify(settingsFor(url));
      return indexHtml.replace(EMBEDDED_ANSWERS_SLOT, () => embeddedAnswersElement(answers));
    } catch {
      return undefined; // the preload, then the UI, ask the API themselves and show its error
    } finally {
      clearTimeout(timer);
      read.catch(() => undefined); // a late failure is nobody's to report
    }
  };
  const cookiePath = publicPath === '' ? '/' : publicPath;

  const app = new Hono<{ Bindings: NodeBindings }>();

  app.use('*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'same-origin');
    c.header('X-Frame-Options', 'SAMEORIGIN');
  });

  /** Whether to answer this request compressed when it accepts it (see {@link UiAppOptions.compressLoopback}). */
  const compress = (c: Context<{ Bindings: NodeBindings }>): boolean =>
    options.compressLoopback === true || !isLoopback(c.env?.incoming?.socket.remoteAddress);

  app.get('/api/v1/settings', (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json(settingsFor(new URL(c.req.url)));
  });

  if (codec !== undefined) {
    app.all(`${UI_CODEC_PATH}/*`, (c) => {
      const url = new URL(c.req.url);
      url.pathname = url.pathname.slice(UI_CODEC_PATH.length);
      return codec(new Request(url, c.req.raw));
    });
  }

  app.all('/api/*', async (c) => {
    if (!SAFE_METHODS.has(c.req.method)) {
      const cookie = getCookie(c, CSRF_COOKIE);
      const header = c.req.header(CSRF_HEADER);
      if (cookie === undefined || header === undefined || !sameToken(cookie, header)) {
        // PERMISSION_DENIED, as Temporal's ui-server refuses a request without its CSRF token.
        return c.json(grpcErrorBody(7, `missing or wrong ${CSRF_HEADER} header: reload the UI and try again`), 403);
      }
    }
    if (api === undefined) {
      return c.json(grpcErrorBody(12, 'the HTTP API is not served by this UI server'), 501);
    }
    const answer = await api(c.req.raw);
    return compress(c) ? compressResponse(answer, c.req.header('Accept-Encoding')) : answer;
  });

  app.route('/', pipelineViewApi(options.pipelineView ?? {}));

  if (options.mloePagesDir !== undefined) {
    const pagesDir = options.mloePagesDir;
    app.get('/mloe/*', (c) => {
      const relative = c.req.path.slice('/mloe/'.length);
      // A folder without its slash: redirect, so the page's relative links resolve.
      if (relative !== '' && !relative.endsWith('/') && !/\.[a-z0-9]+$/i.test(relative)) {
        return c.redirect(`${publicPath}/mloe/${relative}/${new URL(c.req.url).search}`, 308);
      }
      ensureCsrfCookie(c, cookiePath);
      return servePage(c, pagesDir, relative);
    });
  }

  app.get('*', async (c) => {
    let path: string;
    try {
      path = decodeURIComponent(c.req.path).replace(/^\/+/, '');
    } catch {
      return c.text('bad request: the path has a malformed %-escape', 400);
    }
    const request = {
      method: c.req.method,
      acceptEncoding: compress(c) ? c.req.header('Accept-Encoding') : undefined,
      ifNoneMatch: c.req.header('If-None-Match'),
    };
    const file = path === '' || path === 'index.html' ? undefined : await assets.answer(path, request);
    if (file !== undefined) return send(c, file);
    if (path.startsWith('_app/')) return c.text('not found', 404);
    ensureCsrfCookie(c, cookiePath);
    c.header('Content-Security-Policy', "frame-src 'self'; frame-ancestors 'self'");
    const url = new URL(c.req.url);
    if (c.req.method === 'HEAD' && embeddedListCall(url) !== undefined) {
      // As a GET of the page would answer, but for the body (whose length depends on the data then).
      c.header('Cache-Control', 'no-store');
      c.header('Content-Type', 'text/html; charset=UTF-8');
      return c.body(null, 200);
    }
    const withAnswers = c.req.method === 'GET' ? await indexHtmlWithAnswers(url, c.req.raw.signal) : undefined;
    if (withAnswers !== undefined) {
      // Data of this moment: never stored, never revalidated.
      c.header('Cache-Control', 'no-store');
      const page = c.html(withAnswers);
      return compress(c) ? compressResponse(page, c.req.header('Accept-Encoding')) : page;
    }
    return send(c, (await assets.answer('index.html', request))!);
  });

  // Only the API takes other methods.
  app.all('*', (c) => c.text('method not allowed: the UI serves GET and HEAD', 405, { Allow: 'GET, HEAD' }));

  return async (request: Request, env?: NodeBindings): Promise<Response> => {
    if (publicPath === '') return app.fetch(request, env);
    const url = new URL(request.url);
    if (url.pathname !== publicPath && !url.pathname.startsWith(`${publicPath}/`)) {
      return new Response(null, { status: 308, headers: { Location: `${publicPath}${url.pathname}${url.search}` } });
    }
    url.pathname = url.pathname.slice(publicPath.length) || '/';
    const init: RequestInit & { duplex?: 'half' } = {
      method: request.method,
      headers: request.headers,
      signal: request.signal,
    };
    if (request.body !== null) {
      init.body = request.body;
      init.duplex = 'half';
    }
    return app.fetch(new Request(url, init), env);
  };
}

/** Whether a peer address is loopback (127.0.0.0/8, ::1, or IPv4 loopback mapped into IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

/** Sends a static file's answer through hono (so the security headers are added to it). */
function send(c: Context, answer: StaticAnswer): Response {
  for (const [name, value] of Object.entries(answer.headers)) c.header(name, value);
  if (answer.status === 304 || answer.body === null) return c.body(null, answer.status);
  // Buffers from fs and zlib are never backed by a SharedArrayBuffer.
  return c.body(answer.body as Uint8Array<ArrayBuffer>, 200);
}

/** Serves one file of mloe's own pages (the pipeline view), `index.html` for a folder; 404 otherwise. */
function servePage(c: Context, dir: string, relative: string): Response {
  const clean = relative === '' || relative.endsWith('/') ? `${relative}index.html` : relative;
  if (clean.split('/').some((part) => part === '..' || part === '')) return c.text('not found', 404);
  try {
    const bytes = readFileSync(join(dir, clean));
    c.header('Content-Type', getMimeType(clean) ?? 'application/octet-stream');
    c.header('Cache-Control', 'no-cache');
    return c.body(bytes);
  } catch {
    return c.text('not found', 404);
  }
}
