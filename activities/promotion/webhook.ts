/**
 * The escalation webhook of an approval gate: one JSON `POST` saying which run waits for whom. Any 2xx is delivered;
 * a 4xx other than 408/429 is refused for good (the URL or the receiver is wrong: retrying sends the same request);
 * anything else (a 5xx, a timeout, no answer) is retried by Temporal.
 */
import { MloeError } from '../../core/errors';

/** Deadline of one delivery attempt. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** Options of {@link postWebhook}. */
export interface PostWebhookOptions {
  /** What the webhook is, for error messages (`escalation webhook` by default). */
  what?: string;
  /** The `user-agent` (`mloe-promotion` by default). */
  userAgent?: string;
  /** Headers computed from the exact body sent (a signature). */
  sign?: (body: string) => Record<string, string>;
}

/** Posts `payload` to `url` as JSON; throws a retryable or non-retryable `MloeError` when it is not delivered. */
export async function postWebhook(
  url: string,
  payload: unknown,
  fetchImpl: typeof fetch = fetch,
  options: PostWebhookOptions = {},
): Promise<number> {
  const what = options.what ?? 'escalation webhook';
  const body = JSON.stringify(payload);
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': options.userAgent ?? 'mloe-promotion',
        ...options.sign?.(body),
      },
      body,
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
  } catch (error) {
    throw new MloeError('WEBHOOK_FAILED', `${what} ${url} did not answer: ${String(error)}`, {
      cause: error,
      retryable: true,
    });
  }
  await response.body?.cancel();
  if (response.ok) return response.status;
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
  throw new MloeError('WEBHOOK_FAILED', `${what} ${url} answered HTTP ${response.status}`, { retryable });
}
