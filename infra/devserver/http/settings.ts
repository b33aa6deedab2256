/**
 * `GET /api/v1/settings`: the Temporal UI server's answer (temporalio/ui `server/server/api/handler.go`,
 * `SettingsResponse`), which the Web UI reads on load. Member names are the Go struct's (PascalCase, no JSON tags).
 * Actions the dev server cannot perform are reported disabled, so the UI hides them instead of failing.
 */

/** What the settings answer says; every field is optional. */
export interface UiSettingsOptions {
  /** The namespace the UI opens (empty: the UI's own default, `default`). */
  defaultNamespace?: string;
  /** A codec server the browser sends payloads to for decoding (`--ui-codec-endpoint`). */
  codecEndpoint?: string;
  /** Send the user's access token to the codec endpoint. */
  codecPassAccessToken?: boolean;
  /** Send cookies to the codec endpoint. */
  codecIncludeCredentials?: boolean;
  /**
   * The UI version to report. The UI percent-encodes path parameters once when this is 2.23.0 or later (twice
   * before), and the API decodes them once: report the pinned `@temporalio/ui` version, or at least 2.23.0.
   */
  version?: string;
  /** A banner shown at the top of every page. */
  bannerText?: string;
  /** Read-only UI: no cancel, terminate, signal, reset, start. */
  disableWriteActions?: boolean;
  /** Show the `temporal-system` namespace. */
  showTemporalSystemNamespace?: boolean;
}

/** The UI version reported when none is given (the first that encodes path parameters once). */
export const DEFAULT_UI_VERSION = '2.23.0';

/** Which RPCs exist on the server, to turn off the UI actions it does not implement. */
export type ImplementedCheck = (method: string) => boolean;

/** The settings document in the UI server's shape. */
export function uiSettings(options: UiSettingsOptions, implemented: ImplementedCheck): Record<string, unknown> {
  const missing = (...methods: string[]): boolean => methods.some((m) => !implemented(m));
  return {
    Auth: { Enabled: false, Options: null },
    BannerText: options.bannerText ?? '',
    DefaultNamespace: options.defaultNamespace ?? '',
    ShowTemporalSystemNamespace: options.showTemporalSystemNamespace ?? false,
    FeedbackURL: '',
    NotifyOnNewVersion: false,
    Codec: {
      Endpoint: options.codecEndpoint ?? '',
      PassAccessToken: options.codecPassAccessToken ?? false,
      IncludeCredentials: options.codecIncludeCredentials ?? false,
      DefaultErrorMessage: '',
      DefaultErrorLink: '',
    },
    Version: options.version ?? DEFAULT_UI_VERSION,
    DisableWriteActions: options.disableWriteActions ?? false,
    WorkflowTerminateDisabled: missing('TerminateWorkflowExecution'),
    WorkflowCancelDisabled: missing('RequestCancelWorkflowExecution'),
    WorkflowSignalDisabled: missing('SignalWorkflowExecution'),
    WorkflowUpdateDisabled: missing('UpdateWorkflowExecution'),
    WorkflowResetDisabled: missing('ResetWorkflowExecution'),
    WorkflowPauseDisabled: missing('PauseWorkflowExecution', 'UnpauseWorkflowExecution'),
    BatchActionsDisabled: missing('StartBatchOperation'),
    StartWorkflowDisabled: missing('StartWorkflowExecution'),
    HideWorkflowQueryErrors: false,
    RefreshWorkflowCountsDisabled: false,
    ActivityCommandsDisabled: missing('PauseActivity', 'UnpauseActivity', 'ResetActivity', 'UpdateActivityOptions'),
  };
}
