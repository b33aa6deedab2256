/**
 * Webhook notifications from workflow code (docs/notifications.md). {@link notify} starts a `deliverNotifications`
 * child workflow with `ABANDON` for the webhooks of a spec that want the event, and returns once it started: the
 * deliveries (each a `deliverWebhook` activity, retried with exponential backoff) run on their own, outlive the run,
 * and never fail or hold it up. A spec without webhooks for the event issues no command at all, so runs of specs
 * without `notifications:` (and their recorded histories) are unchanged.
 *
 * Drift monitors call {@link notify} with `drift.detected` the same way.
 */
import { CancellationScope, log, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';

import type { NotificationActivities } from '../activities/notifications';
import type { JsonValue } from '../core/spec';
import { DEFAULT_WEBHOOK_ATTEMPTS, type NotificationEvent, type NotificationsSpec } from '../core/spec/notifications';
import { backoffRetry } from './activity-options';
import {
  DELIVER_NOTIFICATIONS_WORKFLOW_TYPE,
  type DeliverNotificationsInput,
  type DeliveryOutcome,
  type NotificationLinks,
  type NotificationMessage,
} from './notification-types';

/** Notifications sent so far by this workflow execution (part of each child's id). */
let sent = 0;

/**
 * Whether any webhook of the spec wants `event`. Call {@link notify} only when it does (`if (wants(…)) await
 * notify(…)`): even an `await` of nothing moves the commands of a workflow task around, and runs of specs without
 * webhooks must issue exactly the commands they did before notifications existed.
 */
export function wants(notifications: NotificationsSpec | undefined, event: NotificationEvent): boolean {
  return (notifications?.webhooks ?? []).some((webhook) => webhook.events.includes(event));
}

/**
 * Tells the spec's webhooks that want `event` (see {@link wants}). Never throws: a notification that cannot even be
 * started is logged and dropped.
 */
export async function notify(
  notifications: NotificationsSpec | undefined,
  event: NotificationEvent,
  data: Record<string, JsonValue>,
  links: Omit<NotificationLinks, 'run'> = {},
): Promise<void> {
  const webhooks = (notifications?.webhooks ?? []).filter((webhook) => webhook.events.includes(event));
  if (webhooks.length === 0) return;
  const info = workflowInfo();
  sent += 1;
  const message: NotificationMessage = {
    type: `mloe.${event}`,
    timestamp: new Date().toISOString(),
    data,
    links: {
      run: { namespace: info.namespace, workflowId: info.workflowId, temporalRunId: info.runId },
      ...links,
    },
  };
  const input: DeliverNotificationsInput = {
    message,
    targets: webhooks.map((webhook) => ({
      url: webhook.url,
      ...(webhook.secret === undefined ? {} : { secretEnv: webhook.secret.env }),
      maxAttempts: webhook.maxAttempts ?? DEFAULT_WEBHOOK_ATTEMPTS,
    })),
  };
  try {
    // Not cancellable: a cancelled run still says so, and a start in flight is not left half done.
    await CancellationScope.nonCancellable(() =>
      startChild(DELIVER_NOTIFICATIONS_WORKFLOW_TYPE, {
        workflowId: `${info.workflowId}-notify-${event.replace('.', '-')}-${sent}`,
        args: [input],
        parentClosePolicy: 'ABANDON',
        cancellationType: 'ABANDON',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `${message.type} of ${info.workflowId}`,
      }),
    );
  } catch (error) {
    log.warn(`notification ${message.type} not sent: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Delivers one event to its webhooks, all at once, each retried with exponential backoff up to its attempts. Never
 * fails: it answers how each delivery ended.
 */
export async function deliverNotifications(input: DeliverNotificationsInput): Promise<DeliveryOutcome[]> {
  const { workflowId } = workflowInfo();
  return Promise.all(
    input.targets.map(async (target, index): Promise<DeliveryOutcome> => {
      const activities = proxyActivities<NotificationActivities>({
        startToCloseTimeout: '30 seconds',
        retry: backoffRetry({ maximumInterval: '5 minutes', maximumAttempts: target.maxAttempts }),
      });
      try {
        const { status } = await activities.deliverWebhook({
          url: target.url,
          ...(target.secretEnv === undefined ? {} : { secretEnv: target.secretEnv }),
          id: `${workflowId}-${index}`,
          message: input.message,
        });
        return { url: target.url, delivered: true, status };
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
        return { url: target.url, delivered: false, error: cause instanceof Error ? cause.message : String(cause) };
      }
    }),
  );
}

/** What a webhook hears of a failed run: the pipeline, the error, the failed steps, the parameters. */
export function runFailedData(status: {
  pipeline: string;
  workflowId: string;
  error?: string;
  params: Record<string, JsonValue>;
  steps: { id: string; state: string; error?: string }[];
}): Record<string, JsonValue> {
  return {
    pipeline: status.pipeline,
    workflowId: status.workflowId,
    error: status.error ?? 'a step failed',
    failedSteps: status.steps
      .filter((step) => step.state === 'failed')
      .map((step) => ({ id: step.id, error: step.error ?? '' })),
    params: status.params,
  };
}
