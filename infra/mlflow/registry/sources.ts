/**
 * Which model version sources MLflow accepts (`_validate_source` in its server handlers): a local path or `file:` URI
 * only inside the local artifact directory of the run named by `run_id`; any other URI only with an absolute path
 * free of relative references (`..`, `.`, percent-encoded or not) and NUL bytes.
 */
import { relative, resolve, sep } from 'node:path';

import { invalidParameter } from '../errors';
import { localPathOf, uriScheme } from '../uris';
import { normpath } from '../validation';

/** Python's `unquote_plus`, tolerant of bad escapes (they stay as written). */
function unquotePlus(text: string): string {
  return text.replaceAll('+', ' ').replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** The path part of a URI, as Python's `urlparse(uri).path` reads it. */
function uriPath(uri: string): string {
  const scheme = uriScheme(uri);
  let rest = scheme === '' ? uri : uri.slice(scheme.length + 1);
  if (rest.startsWith('//')) rest = rest.slice(2).replace(/^[^/?#]*/, '');
  return rest.replace(/[?#][\s\S]*$/, '');
}

/**
 * Refuses a source MLflow refuses. `runArtifactRoot` looks up the artifact URI of the run a local source must live
 * in (and throws when the run does not exist).
 */
export function validateModelVersionSource(
  source: string,
  runId: string,
  runArtifactRoot: (runId: string) => string,
): void {
  const scheme = uriScheme(source);
  if (scheme === '' || scheme === 'file') {
    const sourcePath = localPathOf(source);
    if (runId !== '' && sourcePath !== undefined) {
      const root = localPathOf(runArtifactRoot(runId));
      if (root !== undefined) {
        const inside = relative(resolve(root), resolve(sourcePath));
        if (inside === '' || (!inside.startsWith(`..${sep}`) && inside !== '..' && !inside.startsWith(sep))) return;
      }
    }
    throw invalidParameter(
      `Invalid model version source: '${source}'. To use a local path as a model version source, the run_id ` +
        'request parameter has to be specified and the local path has to be contained within the artifact ' +
        'directory of the run specified by the run_id.',
    );
  }
  let decoded = source;
  for (let next = unquotePlus(decoded); next !== decoded; next = unquotePlus(decoded)) decoded = next;
  const path = uriPath(decoded).replace(/\/+$/, '').replace(/\/+/g, '/');
  const relativeReference = decoded.split('/').some((part) => part === '..');
  if (path.includes('\0') || relativeReference || !path.startsWith('/') || normpath(path) !== path) {
    throw invalidParameter(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, ` +
        'objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references ' +
        'present. Please provide an absolute path.',
    );
  }
}
