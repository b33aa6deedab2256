/**
 * The `notifications:` block of a pipeline spec (docs/notifications.md): webhooks that hear of a run's events, each
 * with the events it wants and, optionally, the environment variable (on the workers) holding its signing secret.
 * The secret itself is never in the spec, the history or a payload: only the variable's name is.
 */
import { z } from 'zod';

/** The events a webhook can subscribe to. `drift.detected` is sent by drift monitors, not by runs. */
export const NOTIFICATION_EVENTS = ['run.failed', 'approval.needed', 'model.promoted', 'drift.detected'] as const;

/** One event. */
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/**
 * Names a signing secret may be read from: `MLOE_WEBHOOK_SECRET` or `MLOE_WEBHOOK_SECRET_<NAME>`, so a spec cannot
 * make a worker sign with an unrelated credential (`AWS_SECRET_ACCESS_KEY`).
 */
export const WEBHOOK_SECRET_ENV_PATTERN = /^MLOE_WEBHOOK_SECRET(_[A-Z0-9_]+)?$/;

/** The most attempts a webhook may ask for. */
export const MAX_WEBHOOK_ATTEMPTS = 20;
/** Attempts of a delivery unless the webhook says otherwise. */
export const DEFAULT_WEBHOOK_ATTEMPTS = 5;

/** One webhook. */
export const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).meta({ hint: 'an http(s) URL, e.g. https://hooks.example.com/mloe' }),
  events: z
    .array(z.enum(NOTIFICATION_EVENTS).meta({ hint: `one of ${NOTIFICATION_EVENTS.join(', ')}` }))
    .min(1)
    .meta({ hint: `a list of events: ${NOTIFICATION_EVENTS.join(', ')}` }),
  /** Where the HMAC-SHA256 signing secret is: an environment variable of the workers. Unsigned without. */
  secret: z
    .strictObject({
      env: z.string().regex(WEBHOOK_SECRET_ENV_PATTERN).meta({
        hint: 'MLOE_WEBHOOK_SECRET or MLOE_WEBHOOK_SECRET_<NAME> (upper case letters, digits, _), set on the workers',
      }),
    })
    .optional()
    .meta({ hint: "the variable holding the secret, e.g. '{ env: MLOE_WEBHOOK_SECRET_SLACK }' (never the secret)" }),
  /** Attempts per delivery, with exponential backoff (default 5). */
  maxAttempts: z.int().min(1).max(MAX_WEBHOOK_ATTEMPTS).optional(),
});

/** `notifications:`. */
export const notificationsSchema = z.strictObject({
  webhooks: z.array(webhookSchema).min(1).max(10),
});

/** A webhook as written in a spec. */
export type WebhookSpec = z.infer<typeof webhookSchema>;
/** The `notifications:` block. */
export type NotificationsSpec = z.infer<typeof notificationsSchema>;
