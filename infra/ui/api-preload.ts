/**
 * A script the embedded UI's `index.html` runs as soon as it is parsed: the API preload. From the page's own URL it
 * works out the GET requests the pinned `@temporalio/ui` (2.38.0) will make first for that route, starts them while
 * the UI's JavaScript is still loading and booting, and hands each answer to the UI's own `fetch` of the same URL.
 *
 * Why: the UI asks for nothing before its modules are evaluated (about 0.55 s after navigation with a warm cache
 * here), then asks in sequence: settings, then namespaces, cluster and system info; then the page's own calls (the
 * list's count and first page; a workflow's describe, its task queue's pollers, and only then its history). Each
 * waits for the one before it and for the server under contention with the browser. Started at once, the answers are
 * in the page (or on their way) when the UI asks; the UI's work is unchanged (docs/ui.md, docs/benchmarks.md).
 *
 * What it preloads (each URL exactly as the UI builds it: `utilities/route-for-api.js`, `request-from-api.js` and
 * the services; `URLSearchParams` with the UI's parameters in the UI's order, a trailing `?` when there are none):
 * - every page: `settings`, `namespaces`, `cluster-info`, `system-info` (the shell's root layout);
 * - the list's and a run's pages below: the namespace's `search-attributes` (the shell's namespace layout loads them);
 * - the workflow list (`/namespaces/<ns>/workflows`, and `/` and `/namespaces/<ns>`, which the UI redirects there):
 *   the count by status and the first page, with the page size of `per-page` (else 100) and the query of `query`,
 *   or `ParentWorkflowId is NULL` when the UI's persisted `hideChildWorkflows` (local storage) says so and the
 *   server's version (from `cluster-info`) supports it, as the UI's `queryWithParentWorkflowId` does;
 * - a workflow run (`/namespaces/<ns>/workflows/<id>/<run>` and its tabs): its describe, then its task queue's
 *   workflow and activity pollers, and its first history page only when the describe says the run is closed.
 *
 * What it can never do: a POST or any other method (it only sends GETs, and hands out only to a GET with no body and
 * no header but the UI's `Caller-Type` and `X-CSRF-TOKEN`); a long poll that waits (the history of a running
 * workflow, asked with `waitNewEvent=true`, is never preloaded; a closed run's history never changes); hand out data
 * older than its window (the first {@link API_PRELOAD_WINDOW_MS} ms after navigation, and only while the page is
 * still on the route it was preloaded for; after the window, or once the page has left that route, everything unused
 * is dropped); hand out an answer twice, or one that failed (a network error or a non-2xx status: the UI's fetch
 * then goes to the server itself and shows its own error). A URL the UI builds differently from the preload's is simply never matched: the cost of a wrong
 * guess is one wasted request, never wrong data. A fetch whose signal is aborted while it waits for the preloaded
 * answer rejects as the real fetch would.
 *
 * An answer the UI server embedded in the page (`infra/ui/embedded-answers.ts`: the workflow list's first page) is
 * taken from the page instead of fetched. For the workflow list, the answers also go to the list's first paint
 * (`infra/ui/list-first-paint.ts`), which shows the rows until the UI shows its own.
 *
 * For tests and benchmarks it leaves performance marks: `mloe-preload:start <url>` when a preload starts,
 * `mloe-preload:embedded <url>` when its answer was taken from the page, and `mloe-preload:used <url>` when the UI's
 * fetch is resolved with its answer.
 */

import { EMBEDDED_ANSWERS_ID, EMBEDDED_ANSWERS_SLOT } from './embedded-answers';
import { insertEarlyInHead } from './html-head';
import { LIST_FIRST_PAINT_FUNCTION } from './list-first-paint';

/** How long after navigation a preloaded answer may still be handed to the UI, in ms. */
export const API_PRELOAD_WINDOW_MS = 10_000;

/** The performance mark names' prefixes. */
export const API_PRELOAD_MARKS = {
  start: 'mloe-preload:start ',
  used: 'mloe-preload:used ',
  embedded: 'mloe-preload:embedded ',
} as const;

/**
 * The script body; `__MLOE_BASE__`, `__MLOE_WINDOW__` and `__MLOE_PAINT_LIST__` (the list's first paint, a function
 * called with the list route's answers, or null) are replaced by {@link apiPreloadScript}.
 */
const SCRIPT = `(function (base, windowMs, paintList) {
  if (typeof window.fetch !== 'function' || typeof URLSearchParams !== 'function' || typeof Promise !== 'function') return;
  var realFetch = window.fetch;
  var origin = location.origin;
  var entries = Object.create(null);
  var ALLOWED_INIT = { method: 1, headers: 1, credentials: 1, signal: 1 };
  var ALLOWED_HEADERS = { 'caller-type': 1, 'x-csrf-token': 1 };
  // The shell's tabs of a workflow run (infra/ui/build/src/routes/.../[run]/), all inside the run's layout.
  var RUN_TABS = {
    history: 1, 'pending-activities': 1, 'call-stack': 1, query: 1, metadata: 1, workers: 1, relationships: 1
  };
  var CLOSED = {
    WORKFLOW_EXECUTION_STATUS_COMPLETED: 1, WORKFLOW_EXECUTION_STATUS_FAILED: 1,
    WORKFLOW_EXECUTION_STATUS_CANCELED: 1, WORKFLOW_EXECUTION_STATUS_TERMINATED: 1,
    WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: 1, WORKFLOW_EXECUTION_STATUS_TIMED_OUT: 1,
    2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1
  };
  function ignore() {}
  function mark(kind, url) {
    try { performance.mark('mloe-preload:' + kind + ' ' + url); } catch (e) {}
  }
  function expired() {
    return performance.now() > windowMs;
  }
  function cookie(name) {
    var parts = document.cookie.split(';');
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      if (part.indexOf(name + '=') === 0) return part.slice(name.length + 1);
    }
    return undefined;
  }
  var headers = { 'Caller-Type': 'operator' };
  var csrf = cookie('_csrf');
  if (csrf) headers['X-CSRF-TOKEN'] = csrf;
  function api(path, params) {
    var query = new URLSearchParams();
    for (var i = 0; i < params.length; i++) query.append(params[i][0], params[i][1]);
    return origin + base + '/api/v1' + path + '?' + query.toString();
  }
  function enc(value) {
    return encodeURIComponent(value);
  }
  // The route the page is on, from its path: what a preload belongs to ('' for the calls every page makes).
  function segments(pathname) {
    if (base && pathname.indexOf(base + '/') !== 0 && pathname !== base) return undefined;
    var parts = pathname.slice(base.length).split('/');
    try {
      for (var i = 0; i < parts.length; i++) parts[i] = decodeURIComponent(parts[i]);
    } catch (e) {
      return undefined;
    }
    return parts;
  }
  function routeOf(pathname) {
    var s = segments(pathname);
    if (!s || s[1] !== 'namespaces' || !s[2]) return undefined;
    if (s.length === 3) return { kind: 'list', namespace: s[2], search: '' };
    if (s[3] !== 'workflows') return undefined;
    if (s.length === 4) return { kind: 'list', namespace: s[2], search: location.search };
    if (s.length < 6 || s.length > 7 || !s[4] || !s[5] || (s.length === 7 && RUN_TABS[s[6]] !== 1)) return undefined;
    return { kind: 'run', namespace: s[2], workflowId: s[4], runId: s[5] };
  }
  function keyOf(route) {
    if (!route) return '-';
    return route.kind === 'list'
      ? 'list\\n' + route.namespace
      : 'run\\n' + route.namespace + '\\n' + route.workflowId + '\\n' + route.runId;
  }
  // The answers the UI server embedded in the page (infra/ui/embedded-answers.ts), by API call.
  var embedded = Object.create(null);
  try {
    var element = document.getElementById(__MLOE_EMBEDDED_ID__);
    if (element) embedded = JSON.parse(element.textContent);
  } catch (e) {
    // Without them the preload fetches.
  }
  var apiRoot = origin + base + '/api/v1';
  // The parsed embedded answers taken, by URL: read as they are (by the first paint, which only reads them), where a
  // response's body would be read in a later task.
  var inPage = Object.create(null);
  // The embedded answer for a URL, taken out, as a response; undefined when there is none.
  function takeEmbedded(url) {
    var call = url.indexOf(apiRoot) === 0 ? url.slice(apiRoot.length) : undefined;
    if (call === undefined || !Object.prototype.hasOwnProperty.call(embedded, call)) return undefined;
    inPage[url] = embedded[call];
    delete embedded[call];
    mark('embedded', url);
    return new Response(JSON.stringify(inPage[url]), { status: 200, headers: { 'Content-Type': 'application/json' } });
  }
  // Starts one GET (once per URL), or takes its embedded answer; resolves with the response when it is a 2xx, else
  // with null.
  function preload(url, key) {
    var known = entries[url];
    if (known) return known.answer;
    if (expired()) return Promise.resolve(null);
    mark('start', url);
    var taken = takeEmbedded(url);
    var answer = taken ? Promise.resolve(taken) : realFetch(url, { credentials: 'include', headers: headers }).then(
      function (response) { return response.ok ? response : null; },
      function () { return null; }
    );
    entries[url] = { answer: answer, key: key };
    return answer;
  }
  // The JSON of a preloaded answer, read from a copy (the original is for the UI), or as embedded in the page; null
  // when there is none.
  function json(answer, url) {
    if (url !== undefined && inPage[url] !== undefined) return Promise.resolve(inPage[url]);
    return answer.then(function (response) {
      if (!response) return null;
      try {
        return response.clone().json().catch(function () { return null; });
      } catch (e) {
        return null;
      }
    });
  }
  // The UI's utilities/version-check minimumVersionRequired, as it is.
  function minimumVersionRequired(minimum, current) {
    if (!minimum || !current) return false;
    var a = minimum.split('.').map(Number);
    var b = String(current).split('.').map(Number);
    if (a[0] !== b[0]) return b[0] > a[0];
    if (a[1] !== b[1]) {
      if (a[1] === undefined && !!b[1]) return true;
      if (a[1] === undefined && b[1] === undefined) return true;
      return b[1] > a[1];
    }
    if (a[2] === undefined && !!b[2]) return true;
    if (a[2] === undefined && (b[2] === undefined || isNaN(b[2]))) return true;
    return b[2] >= a[2];
  }
  // The UI's persisted stores/filters hideChildWorkflows (its persistStore: JSON in local storage, false when unset
  // or unreadable); undefined when local storage cannot be read at all.
  function hideChildWorkflows() {
    var raw;
    try {
      raw = window.localStorage.getItem('hideChildWorkflows');
    } catch (e) {
      return undefined;
    }
    if (!raw) return false;
    try {
      return !!JSON.parse(raw);
    } catch (e) {
      return false;
    }
  }
  // The namespace's search attributes, which the shell's namespace layout loads before any of its pages: for any
  // route (the layout asks while the page is still on the one it leaves, as on the root's redirect to the list).
  function searchAttributes(route) {
    preload(api('/namespaces/' + enc(route.namespace) + '/search-attributes', []), '');
  }
  function list(route, clusterInfo) {
    searchAttributes(route);
    var params = new URLSearchParams(route.search);
    var perPage = params.get('per-page');
    var size = perPage ? Math.abs(Number(perPage)) || 100 : 100;
    var query = params.get('query');
    var withQuery = function (q) {
      var key = keyOf(route);
      var ns = '/namespaces/' + enc(route.namespace);
      var countUrl = api(ns + '/workflow-count', [['query', q ? q + ' GROUP BY ExecutionStatus' : 'GROUP BY ExecutionStatus']]);
      var count = preload(countUrl, key);
      var listParams = [['pageSize', String(size)], ['nextPageToken', '']];
      if (q) listParams.push(['query', q]);
      var listUrl = api(ns + '/workflows', listParams);
      var page = preload(listUrl, key);
      if (paintList) {
        paintList({
          base: base, namespace: route.namespace, list: json(page, listUrl), count: json(count, countUrl), until: windowMs,
          // Still on the list (or on the root, which the UI redirects there): neither expired nor gone elsewhere.
          current: function () {
            return !expired() && !leftHome() && (keyOf(routeOf(location.pathname)) === key || !wasHome);
          }
        });
      }
    };
    var hide = hideChildWorkflows();
    if (hide === undefined) return;
    if (query || !hide) return withQuery(query);
    clusterInfo.then(function (info) {
      if (info) withQuery(minimumVersionRequired('1.23.0', info.serverVersion) ? 'ParentWorkflowId is NULL' : query);
    }).then(null, ignore);
  }
  function run(route) {
    searchAttributes(route);
    var key = keyOf(route);
    var ns = '/namespaces/' + enc(route.namespace);
    var workflow = ns + '/workflows/' + enc(route.workflowId);
    json(preload(api(workflow, [['execution.runId', route.runId]]), key)).then(function (described) {
      if (!described || expired()) return;
      var info = described.workflowExecutionInfo || {};
      var config = described.executionConfig || {};
      var queue = (config.taskQueue && config.taskQueue.name) || info.taskQueue;
      if (queue) {
        preload(api(ns + '/task-queues/' + enc(queue), [['taskQueueType', '1']]), key);
        preload(api(ns + '/task-queues/' + enc(queue), [['taskQueueType', '2']]), key);
      }
      // Only a closed run: a running one's history is a long poll (waitNewEvent) and grows.
      if (CLOSED[info.status] === 1) {
        preload(api(workflow + '/history', [['execution.runId', route.runId], ['waitNewEvent', 'true']]), key);
      }
    }).then(null, ignore);
  }
  // Whether the UI's fetch options are ones a preloaded answer is right for: a GET, no body, only the UI's headers.
  function plain(init) {
    if (init === undefined || init === null) return true;
    if (typeof init !== 'object') return false;
    for (var name in init) if (ALLOWED_INIT[name] !== 1 && init[name] !== undefined) return false;
    if (init.method !== undefined && String(init.method).toUpperCase() !== 'GET') return false;
    if (init.credentials !== undefined && init.credentials !== 'include' && init.credentials !== 'same-origin') return false;
    var h = init.headers;
    if (h === undefined || h === null) return true;
    if (typeof Headers === 'function' && h instanceof Headers) {
      var ok = true;
      h.forEach(function (value, header) { if (ALLOWED_HEADERS[header.toLowerCase()] !== 1) ok = false; });
      return ok;
    }
    if (typeof h !== 'object' || Array.isArray(h)) return false;
    for (var header in h) if (ALLOWED_HEADERS[header.toLowerCase()] !== 1) return false;
    return true;
  }
  function drop() {
    entries = Object.create(null);
  }
  // The route of the page the preloads are for (null until known: the root waits for the default namespace), and
  // whether the page has been on it; once it has left it, everything unused is dropped.
  var home = null;
  var wasHome = false;
  function leftHome() {
    if (home === null) return false;
    if (keyOf(routeOf(location.pathname)) === home) wasHome = true;
    else if (wasHome) return true;
    return false;
  }
  // The entry for the UI's request, taken out (each answer is handed out once); undefined when none fits.
  function claim(input, init) {
    if (expired() || leftHome()) {
      drop();
      return undefined;
    }
    var url;
    try {
      url = new URL(input, location.href).href;
    } catch (e) {
      return undefined;
    }
    var entry = entries[url];
    if (!entry || !plain(init)) return undefined;
    if (entry.key !== '' && entry.key !== keyOf(routeOf(location.pathname))) return undefined;
    if (init && init.signal && init.signal.aborted) return undefined;
    delete entries[url];
    entry.url = url;
    return entry;
  }
  window.fetch = function (input, init) {
    var entry;
    try {
      entry = typeof input === 'string' || input instanceof URL ? claim(String(input), init) : undefined;
    } catch (e) {
      entry = undefined;
    }
    if (!entry) return realFetch.apply(this, arguments);
    var self = this;
    var args = arguments;
    var signal = init && init.signal;
    return new Promise(function (resolve, reject) {
      var onAbort = function () {
        reject(signal.reason !== undefined ? signal.reason : new DOMException('The operation was aborted.', 'AbortError'));
      };
      if (signal) signal.addEventListener('abort', onAbort);
      entry.answer.then(function (response) {
        if (signal) {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) return;
        }
        if (response) {
          mark('used', entry.url);
          resolve(response);
        } else {
          resolve(realFetch.apply(self, args));
        }
      });
    });
  };
  setTimeout(drop, windowMs);
  var setup = function (name) { return preload(api('/' + name, []), ''); };
  var settings = setup('settings');
  setup('namespaces');
  var cluster = setup('cluster-info');
  setup('system-info');
  var clusterInfo = json(cluster);
  try {
    var here = segments(location.pathname);
    var route = routeOf(location.pathname);
    if (here && (here.join('/') === '' || here.join('/') === '/')) {
      // The root: the UI redirects to the default namespace's workflow list (without the URL's query).
      json(settings).then(function (s) {
        if (!s) return;
        var target = { kind: 'list', namespace: s.DefaultNamespace || 'default', search: '' };
        home = keyOf(target);
        list(target, clusterInfo);
      }).then(null, ignore);
      return;
    }
    // The page starts on its route: leaving it from now on drops what was preloaded for it.
    home = keyOf(route);
    wasHome = true;
    if (route && route.kind === 'list') {
      list(route, clusterInfo);
    } else if (route && route.kind === 'run') {
      run(route);
    }
  } catch (e) {
    // A preload is an optimisation: the UI makes every call itself anyway.
  }
})(__MLOE_BASE__, __MLOE_WINDOW__, __MLOE_PAINT_LIST__);`;

/** Options of {@link apiPreloadScript}. */
export interface ApiPreloadOptions {
  /** How long preloaded answers may be handed out, in ms after navigation; default {@link API_PRELOAD_WINDOW_MS}. */
  windowMs?: number;
  /** Draw the workflow list's first paint from the preloaded answers (`infra/ui/list-first-paint.ts`); default true. */
  listFirstPaint?: boolean;
}

/**
 * The preload script for a UI served under `publicPath` (normalised: `''` or `/p`), as inlined into `index.html`
 * (plain ES2015, no dependencies).
 */
export function apiPreloadScript(publicPath: string, options: ApiPreloadOptions = {}): string {
  const paintList = options.listFirstPaint === false ? 'null' : LIST_FIRST_PAINT_FUNCTION;
  return SCRIPT.replace('__MLOE_BASE__', JSON.stringify(publicPath))
    .replace('__MLOE_WINDOW__', String(options.windowMs ?? API_PRELOAD_WINDOW_MS))
    .replace('__MLOE_EMBEDDED_ID__', JSON.stringify(EMBEDDED_ANSWERS_ID))
    .replace('__MLOE_PAINT_LIST__', () => paintList);
}

/**
 * `html` with {@link apiPreloadScript} inlined early in its head: before its first `<link>` (a script after a
 * stylesheet waits for it to load), else before `</head>`; just before it, the slot where the UI server may embed
 * answers ({@link EMBEDDED_ANSWERS_SLOT}).
 */
export function withApiPreload(html: string, publicPath: string, options: ApiPreloadOptions = {}): string {
  return insertEarlyInHead(html, `${EMBEDDED_ANSWERS_SLOT}<script>${apiPreloadScript(publicPath, options)}</script>`);
}
