/**
 * Artifact URIs as MLflow builds and reads them: an experiment's location is `<root>/<experiment id>`, a run's
 * `<experiment location>/<run id>/artifacts`; `mlflow-artifacts:/<path>` (or an http(s) URL through
 * `/api/2.0/mlflow-artifacts/artifacts/<path>`) names `<path>` under the server's artifacts destination.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The route prefix of the artifact proxy, which an http(s) artifact URI may embed. */
export const ARTIFACTS_ROUTE = '/api/2.0/mlflow-artifacts/artifacts';

/** Appends path segments to a URI or path, with exactly one `/` between (MLflow's `append_to_uri_path`). */
export function appendToUriPath(uri: string, ...segments: string[]): string {
  const tail = segments.map((s) => s.replace(/^\/+|\/+$/g, '')).join('/');
  return uri.endsWith('/') ? `${uri}${tail}` : `${uri}/${tail}`;
}

/** The scheme of a URI (lower case), or '' for a plain path. A Windows drive letter is not a scheme. */
export function uriScheme(uri: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  return match === null || match[1]!.length === 1 ? '' : match[1]!.toLowerCase();
}

/**
 * The path under the artifacts destination that a proxied artifact URI names, or undefined when the URI is not a
 * proxied one (`mlflow-artifacts:` or an http(s) URL through the artifacts route).
 */
export function proxiedArtifactPath(uri: string): string | undefined {
  const scheme = uriScheme(uri);
  if (scheme === 'mlflow-artifacts') {
    let rest = uri.slice('mlflow-artifacts:'.length);
    // mlflow-artifacts://host:port/path carries a netloc before the path.
    if (rest.startsWith('//')) rest = rest.slice(2).replace(/^[^/]*/, '');
    return rest.replace(/^\/+/, '');
  }
  if (scheme === 'http' || scheme === 'https') {
    const { pathname } = new URL(uri);
    const at = pathname.indexOf(`${ARTIFACTS_ROUTE}/`);
    return at < 0 ? undefined : pathname.slice(at + ARTIFACTS_ROUTE.length + 1).replace(/^\/+/, '');
  }
  return undefined;
}

/** A local path or `file:` URI as an absolute path; undefined for other schemes. */
export function localPathOf(uri: string, cwd = process.cwd()): string | undefined {
  const scheme = uriScheme(uri);
  if (scheme === 'file') return fileURLToPath(uri);
  if (scheme === '') return isAbsolute(uri) ? uri : resolve(cwd, uri);
  return undefined;
}

/** A local path as a `file://` URI. */
export function fileUri(path: string): string {
  return pathToFileURL(path).href;
}
