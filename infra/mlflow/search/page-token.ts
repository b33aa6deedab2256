/**
 * Page tokens: opaque to clients, base64 of `{"offset": N}` as MLflow's own stores write them, so a client that hands
 * back what it was given always gets the next page.
 */
import { invalidParameter } from '../errors';

/** The offset a page token points at (0 when there is none). */
export function parsePageToken(token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  if (!/^[A-Za-z0-9+/=_-]+$/.test(token)) throw invalidParameter('Invalid page token, could not base64-decode');
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded);
  } catch {
    throw invalidParameter(`Invalid page token, decoded value=${decoded}`);
  }
  const offset = (parsed as { offset?: unknown } | null)?.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 1) {
    throw invalidParameter(`Invalid page token, parsed value=${decoded}`);
  }
  return offset;
}

/** The token of the page starting at `offset`. */
export function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64');
}

/** Checks `max_results` against MLflow's bounds for a search (positive, at most `threshold`). */
export function checkMaxResults(maxResults: number, threshold: number): void {
  if (!Number.isSafeInteger(maxResults) || maxResults < 1) {
    throw invalidParameter(
      `Invalid value for request parameter max_results. It must be a positive integer, but got ${maxResults}`,
    );
  }
  if (maxResults > threshold) {
    throw invalidParameter(
      `Invalid value for request parameter max_results. It must be at most ${threshold}, but got value ${maxResults}`,
    );
  }
}
