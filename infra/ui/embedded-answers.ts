/**
 * The workflow list's first page, embedded into `index.html` by the UI server: when a page of the list's route is
 * served, the server asks its own HTTP API, in process, for the page the API preload (`infra/ui/api-preload.ts`) is
 * about to ask for, and writes the answer into the HTML. The preload then hands it out as if it had fetched it: to the
 * list's first paint (`infra/ui/list-first-paint.ts`) at once, and to the UI's own fetch of that URL.
 *
 * Why: a page opened in a new browser context asks for about a hundred built files. The browser fetches them over at
 * most six HTTP/1.1 connections to the server, and the preload's API calls wait behind them: on two busy cores the
 * list's answer arrived 0.4 to 0.6 s after navigation, where it takes 4 ms over gRPC (docs/benchmarks.md). In the
 * HTML it costs no connection at all, and the server spends the same few milliseconds on it.
 *
 * It embeds only what it can predict exactly, with the preload's own rules: the list's first page, `pageSize` from
 * `per-page` (else 100) and the `query` of the URL, for `/namespaces/<ns>/workflows`, `/namespaces/<ns>` and `/` (the
 * default namespace's list, where the UI redirects). A person whose UI hides child workflows (a local-storage choice
 * the server cannot see) has the preload ask for another URL; the embedded answer then matches nothing and is
 * dropped, as any unused preload is. At `/` the UI settings are embedded too: there the preload needs them to know
 * the default namespace before it can use the list's page. Only a 2xx JSON answer is embedded; anything else is left to the preload and the
 * UI, which ask the API themselves and show its error.
 */

/** The id of the `<script type="application/json">` element holding the embedded answers. */
export const EMBEDDED_ANSWERS_ID = 'mloe-embedded-answers';

/** Where the UI server may put the embedded answers in `index.html`: just before the preload script, which reads them. */
export const EMBEDDED_ANSWERS_SLOT = '<!--mloe:embedded-answers-->';

/** An API call, as the preload names it: the path and query under `/api/v1`, e.g. `/namespaces/x/workflows?...`. */
export type ApiCall = string;

/** The list page's API call the preload makes for a page `path` (under the public path) and `search`; or none. */
export function listCallFor(path: string, search: string, defaultNamespace: string): ApiCall | undefined {
  let parts: string[];
  try {
    parts = path.split('/').map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
  let namespace: string;
  let params = new URLSearchParams();
  if (path === '/' || path === '') {
    namespace = defaultNamespace;
  } else if (parts[1] === 'namespaces' && parts[2] && parts.length === 3) {
    namespace = parts[2];
  } else if (parts[1] === 'namespaces' && parts[2] && parts.length === 4 && parts[3] === 'workflows') {
    namespace = parts[2];
    params = new URLSearchParams(search);
  } else {
    return undefined;
  }
  // As the preload does (and the UI before it): `per-page`, else 100; a page size that is not a number is 100.
  const perPage = params.get('per-page');
  const size = perPage ? Math.abs(Number(perPage)) || 100 : 100;
  const query = params.get('query');
  const listParams = new URLSearchParams([
    ['pageSize', String(size)],
    ['nextPageToken', ''],
  ]);
  if (query) listParams.append('query', query);
  return `/namespaces/${encodeURIComponent(namespace)}/workflows?${listParams.toString()}`;
}

/**
 * The `<script type="application/json">` element embedding `answers` (API call → the answer's JSON text), safe inside
 * HTML: every `<` is written `\u003c`, so no `</script>` or `<!--` can end or change the element.
 */
export function embeddedAnswersElement(answers: Record<ApiCall, string>): string {
  const entries = Object.entries(answers).map(([call, body]) => `${JSON.stringify(call)}:${body}`);
  const json = `{${entries.join(',')}}`.replace(/</g, '\\u003c');
  return `<script type="application/json" id="${EMBEDDED_ANSWERS_ID}">${json}</script>`;
}
