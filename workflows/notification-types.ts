/**
 * What workflows, activities and clients share about webhook notifications (docs/notifications.md): the message a
 * webhook receives, and the inputs of the `deliverNotifications` child workflow and the `deliverWebhook` activity.
 * Importing this module runs no workflow code.
 */
import type { JsonValue } from '../core/spec';
import type { NotificationEvent } from '../core/spec/notifications';

/** The workflow type that delivers one event's webhooks. */
export const DELIVER_NOTIFICATIONS_WORKFLOW_TYPE = 'deliverNotifications';

/** Where to look at what the event is about; each link only when known. */
export interface NotificationLinks {
  /** The pipeline run: its workflow id (the run id `mloe status` takes) and Temporal run id. */
  run?: { namespace: string; workflowId: string; temporalRunId: string };
  /** The run's MLflow run page, when the worker tracks runs. */
  mlflowRun?: string;
  /** The run in the Temporal Web UI, when the worker knows the UI's address (`MLOE_TEMPORAL_UI_URL`). */
  temporalUi?: string;
}

/** The JSON body a webhook receives (the Standard Webhooks envelope: `type`, `timestamp`, `data`, plus links). */
export interface NotificationMessage {
  /** `mloe.run.failed`, `mloe.approval.needed`, `mloe.model.promoted` or `mloe.drift.detected`. */
  type: `mloe.${NotificationEvent}`;
  /** When the event happened (ISO 8601). */
  timestamp: string;
  data: Record<string, JsonValue>;
  links: NotificationLinks;
}

/** One webhook to deliver to. */
export interface NotificationTarget {
  url: string;
  /** The environment variable (on the workers) holding the signing secret. */
  secretEnv?: string;
  maxAttempts: number;
}

/** Input of `deliverNotifications`. */
export interface DeliverNotificationsInput {
  message: NotificationMessage;
  targets: NotificationTarget[];
}

/** Input of the `deliverWebhook` activity. */
export interface DeliverWebhookInput {
  url: string;
  secretEnv?: string;
  /** The `webhook-id`: the same on every attempt. */
  id: string;
  message: NotificationMessage;
}

/** How one webhook's delivery ended. */
export interface DeliveryOutcome {
  url: string;
  delivered: boolean;
  status?: number;
  error?: string;
}
