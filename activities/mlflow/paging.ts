/**
 * Page tokens made into iterators: every MLflow search answers one page and an opaque `next_page_token`; these
 * helpers follow the tokens until a page comes without one.
 */
import { MlflowError } from './errors';
import type { Page } from './types';

/** Fetches one page: the first when `pageToken` is undefined. */
export type PageFetcher<T> = (pageToken: string | undefined) => Promise<Page<T>>;

/**
 * Every item of every page, in order, fetched lazily (the next page is requested when the previous one is used
 * up). A server that hands out the same token twice in a row is an error rather than an endless loop.
 */
export async function* allPages<T>(fetchPage: PageFetcher<T>, endpoint: string): AsyncGenerator<T, void, undefined> {
  let token: string | undefined;
  for (;;) {
    const page = await fetchPage(token);
    yield* page.items;
    if (page.nextPageToken === undefined) return;
    if (page.nextPageToken === token) {
      throw new MlflowError(`MLflow ${endpoint}: the server answered a page token with the same token again`, {
        errorCode: 'INVALID_RESPONSE',
        endpoint,
        retryable: false,
      });
    }
    token = page.nextPageToken;
  }
}

/** Every item of every page in one array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
