/**
 * Signing a webhook delivery the Standard Webhooks 1.0 way (standardwebhooks.com): `webhook-id` (the same on every
 * attempt, so a receiver can drop duplicates), `webhook-timestamp` (Unix seconds of the attempt, so a receiver can
 * refuse replays) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`. A secret written
 * `whsec_<base64>` is that base64's bytes; any other secret is its UTF-8 bytes.
 */
import { createHmac } from 'node:crypto';

/** The HMAC key of a secret. */
export function signingKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/** The `webhook-signature` value for a delivery. */
export function webhookSignature(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', signingKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one attempt (without a signature when there is no secret). */
export function webhookHeaders(
  id: string,
  body: string,
  secret: string | undefined,
  now: Date = new Date(),
): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    ...(secret === undefined ? {} : { 'webhook-signature': webhookSignature(secret, id, timestamp, body) }),
  };
}
