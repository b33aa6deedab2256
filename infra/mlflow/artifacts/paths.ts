/**
 * Artifact paths as the proxy accepts them (MLflow's `validate_path_is_safe`, stricter): relative, `/`-separated,
 * after percent-decoding free of `..` segments, backslashes, `#`, NUL bytes, drive letters and leading slashes.
 */
import { invalidParameter } from '../errors';

function decodeOnce(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/**
 * Checks an artifact path (already percent-decoded once, as it arrived) and returns it without a trailing slash;
 * `allowEmpty` accepts '' for the root (listing).
 */
export function validateArtifactPath(path: string, allowEmpty = false): string {
  let decoded = path;
  for (let next = decodeOnce(decoded); next !== decoded; next = decodeOnce(decoded)) decoded = next;
  const refuse = (why: string): Error => invalidParameter(`Invalid path '${path}': ${why}`);
  if (decoded.includes('\0')) throw refuse('it contains a NUL byte');
  if (decoded.includes('#')) throw refuse("it contains '#'");
  if (decoded.includes('\\')) throw refuse('it contains a backslash');
  if (decoded.startsWith('/')) throw refuse('it is absolute; artifact paths are relative');
  if (/^[A-Za-z]:/.test(decoded)) throw refuse('it starts with a drive letter');
  if (decoded.split('/').some((part) => part === '..')) throw refuse("it contains a '..' segment");
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') {
    if (allowEmpty) return '';
    throw refuse('it is empty');
  }
  if (trimmed.split('/').some((part) => part === '' || part === '.')) {
    throw refuse("it contains an empty or '.' segment");
  }
  return trimmed;
}
