/**
 * The Web UI's `GET /api/v1/settings` document. In Temporal it is the UI server's own endpoint (not the frontend's),
 * shaped by its configuration; the field names below are the ones `@temporalio/ui`'s settings service reads.
 */

/** UI settings the embedded server controls. */
export interface UiSettingsOptions {
  /** The `@temporalio/ui` version of the assets (the UI encodes route parameters once from 2.23.0 on). */
  version: string;
  /** Namespace the UI opens on; `default` when absent. */
  defaultNamespace?: string;
  /** A remote payload codec (`--ui-codec-endpoint`), as Temporal's `--ui-codec-endpoint`. */
  codecEndpoint?: string;
  /** Hide the write actions (cancel, terminate, signal, reset, start, batch) in the UI and refuse them. */
  disableWriteActions?: boolean;
  /** Hide only the reset action (for a server that does not implement ResetWorkflowExecution). */
  workflowResetDisabled?: boolean;
  /** A banner shown on every page. */
  bannerText?: string;
}

/** The settings document, in the ui-server's PascalCase JSON. */
export type UiSettingsDocument = Record<string, unknown>;

/** Builds the settings document the UI fetches once at load. */
export function uiSettingsDocument(options: UiSettingsOptions): UiSettingsDocument {
  return {
    Auth: { Enabled: false, Options: null },
    BannerText: options.bannerText ?? '',
    DefaultNamespace: options.defaultNamespace ?? 'default',
    ShowTemporalSystemNamespace: false,
    FeedbackURL: '',
    NotifyOnNewVersion: false,
    Codec: {
      Endpoint: options.codecEndpoint ?? '',
      PassAccessToken: false,
      IncludeCredentials: false,
      DefaultErrorMessage: '',
      DefaultErrorLink: '',
    },
    Version: options.version,
    DisableWriteActions: options.disableWriteActions === true,
    WorkflowTerminateDisabled: false,
    WorkflowCancelDisabled: false,
    WorkflowSignalDisabled: false,
    WorkflowUpdateDisabled: false,
    WorkflowResetDisabled: options.workflowResetDisabled === true,
    BatchActionsDisabled: false,
    StartWorkflowDisabled: false,
    HideWorkflowQueryErrors: false,
    RefreshWorkflowCountsDisabled: false,
    ActivityCommandsDisabled: false,
  };
}
