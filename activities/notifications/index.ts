/**
 * The webhook notification activity (docs/notifications.md): `deliverWebhook` posts one event's JSON to one webhook
 * through the same delivery code as promotion's escalation webhook (`postWebhook`), signed the Standard Webhooks way
 * with the secret from the worker's environment (named by the spec, never carried in it), and adds the Temporal Web
 * UI link when the worker knows the UI's address. Delivering twice says the same thing twice, with the same
 * `webhook-id`, so receivers can drop the repeat.
 */
import { MloeError } from '../../core/errors';
import { WEBHOOK_SECRET_ENV_PATTERN } from '../../core/spec/notifications';
import { withFailureMapping } from '../failures';
import { postWebhook } from '../promotion/webhook';
import type { DeliverWebhookInput, NotificationMessage } from '../../workflows/notification-types';
import { webhookHeaders } from './signing';

export { signingKey, webhookHeaders, webhookSignature } from './signing';

/** The notification activities, as workflows call them. */
export interface NotificationActivities {
  /** Posts one event to one webhook; answers the HTTP status. Retryable unless the receiver refused it for good. */
  deliverWebhook(input: DeliverWebhookInput): Promise<{ status: number }>;
}

/** Options of {@link createNotificationActivities}. */
export interface NotificationActivityOptions {
  /** Where signing secrets are read: `MLOE_WEBHOOK_SECRET*` variables only (`workers/config.ts`). */
  secrets?: Readonly<Record<string, string | undefined>>;
  /** The Temporal Web UI's base URL (`http://127.0.0.1:8233`), for links to runs. */
  temporalUiUrl?: string;
  /** The `fetch` of the deliveries; Node's by default. */
  fetch?: typeof fetch;
}

/** The notification activities of a worker. */
export function createNotificationActivities(options: NotificationActivityOptions = {}): NotificationActivities {
  return {
    deliverWebhook: (input) =>
      withFailureMapping(async () => {
        let secret: string | undefined;
        if (input.secretEnv !== undefined) {
          secret = WEBHOOK_SECRET_ENV_PATTERN.test(input.secretEnv) ? options.secrets?.[input.secretEnv] : undefined;
          if (secret === undefined || secret === '') {
            throw new MloeError(
              'WEBHOOK_SECRET_MISSING',
              `webhook ${input.url} is signed with ${input.secretEnv}, which this worker's environment does not set: ` +
                'set it on every worker (the delivery is not sent unsigned)',
            );
          }
        }
        const message = withUiLink(input.message, options.temporalUiUrl);
        const status = await postWebhook(input.url, message, options.fetch ?? fetch, {
          what: 'notification webhook',
          userAgent: 'mloe-notifications',
          sign: (body) => webhookHeaders(input.id, body, secret),
        });
        return { status };
      }),
  };
}

/** The message with its Temporal Web UI link, when the UI's address is known. */
function withUiLink(message: NotificationMessage, base: string | undefined): NotificationMessage {
  const run = message.links.run;
  if (base === undefined || run === undefined || message.links.temporalUi !== undefined) return message;
  const path = [run.namespace, 'workflows', run.workflowId, run.temporalRunId, 'history'].map(encodeURIComponent);
  const temporalUi = `${base.replace(/\/+$/, '')}/namespaces/${path[0]}/${path.slice(1).join('/')}`;
  return { ...message, links: { ...message.links, temporalUi } };
}
