/**
 * The Temporal Web UI beside an embedded dev server, as `temporal server start-dev` serves it: on the gRPC port +
 * 1000 unless `--ui-port` says otherwise, bound like the server (loopback by default), off with `--headless`.
 * `mloe server start-dev`, `mloe dev` and `mloe demo` start it through {@link startEmbeddedUi}. The server module
 * (`infra/ui/server.ts`) is loaded only when a UI starts.
 */
import { resolve } from 'node:path';

import type { PayloadCodec } from '@temporalio/common';

import type { MlflowConfig } from '../activities/mlflow/config';
import type { DevServerHandle } from '../infra/devserver';
import type { UiApi, UiServerHandle } from '../infra/ui/server';
import type { PipelineViewBackend } from '../infra/ui/pipeline-view-api';
import { ConfigError, MloeError, ensureError } from '../core/errors';

/** How far the UI's default port is from the gRPC port (Temporal CLI: 7233 → 8233). */
export const UI_PORT_OFFSET = 1000;

/**
 * The history page size the UI's requests get (they ask for none): the Web UI reworks the whole history after each
 * page, so a long history shows sooner in few large pages (measured in docs/benchmarks.md, the UI section).
 */
export const UI_HISTORY_PAGE_SIZE = 10_000;

/** mloe's own pages served with the UI (the pipeline view), under `/mloe/`. */
export const MLOE_PAGES_DIR = resolve(__dirname, '..', 'infra', 'ui', 'pipeline-view');

/** What the UI flags resolve to. */
export interface EmbeddedUiOptions {
  /** `--ui-ip`; defaults to the server's `--ip`. */
  ip: string;
  /** `--ui-port`; `undefined` → gRPC port + 1000 (0 when the gRPC port is 0: a free port). */
  port?: number;
  /** `--ui-public-path`, e.g. `/temporal` behind a proxy. */
  publicPath?: string;
  /** `--ui-codec-endpoint`: a remote payload codec the UI decodes payloads with. */
  codecEndpoint?: string;
  /** `--ui-asset-path`: serve other built UI assets instead of the committed ones. */
  assetPath?: string;
  /**
   * The payload codec of `MLOE_CODEC_KEYS`: served as a codec server under the UI's `/codec/` (its codec endpoint
   * unless `codecEndpoint` names another), so the UI shows decrypted payloads.
   */
  codec?: PayloadCodec;
  /**
   * The MLflow the pipeline view finds step runs in: the worker's (`TrackingConfig.mlflow`, the embedded server or
   * `MLFLOW_TRACKING_URI` with its credentials), kept on the server; the browser only gets links. None: no step runs.
   */
  mlflow?: MlflowConfig;
  /** Inline the API preload into the UI's `index.html` (default true; false to compare, e.g. `BENCH_UI_PRELOAD=0`). */
  apiPreload?: boolean;
  /** With the preload, draw the workflow list's first paint from its answers (default true; false to compare). */
  listFirstPaint?: boolean;
}

/**
 * The UI's port for a gRPC port, as the Temporal CLI picks it: `--ui-port` when given, else gRPC port + 1000; a free
 * port when the gRPC port is 0. Throws `CONFIG_INVALID` when the sum passes 65535.
 */
export function resolveUiPort(grpcPort: number, uiPort: number | undefined): number {
  if (uiPort !== undefined) return uiPort;
  if (grpcPort === 0) return 0;
  const port = grpcPort + UI_PORT_OFFSET;
  if (port > 65535) {
    throw new ConfigError(
      `the UI's default port ${port} (gRPC port ${grpcPort} + ${UI_PORT_OFFSET}) is past 65535: give --ui-port, or --headless`,
    );
  }
  return port;
}

/**
 * Temporal's HTTP API for the dev server (`infra/devserver/http`, on the same handlers as its gRPC service), mounted
 * by the UI server under `/api/v1/`. The UI server answers `/api/v1/settings` itself and strips `--ui-public-path`
 * before it forwards, so the API serves neither; it answers only the host names the UI is bound to (loopback unless
 * `--ui-ip` says otherwise), with CORS closed. This is the one place the HTTP API is wired into the UI.
 */
export function uiApiFor(devServer: DevServerHandle, uiIp: string): UiApi {
  // `require`, not `import()`: bin/mloe.js registers tsx's CommonJS hooks only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http = require('../infra/devserver/http') as typeof import('../infra/devserver/http');
  return http.createTemporalHttpApi(
    { rpc: devServer.rpc },
    {
      settings: false,
      security: { allowedHosts: http.defaultAllowedHosts(uiIp) },
      historyPageSize: UI_HISTORY_PAGE_SIZE,
    },
  );
}

/** The pipeline view of a run, on the UI at `uiUrl`: its DAG, steps, cache decisions, artifacts and metrics. */
export function pipelineViewUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/mloe/pipelines/?${new URLSearchParams({ namespace, run: workflowId }).toString()}`;
}

/** The line printed after the ready line, in the Temporal CLI's words (`UI: http://localhost:8233`). */
export function uiLine(url: string): string {
  return `UI: ${url}`;
}

/** The pipeline view's backend (step runs in MLflow, artifact lineage). */
function pipelineViewBackendFor(options: EmbeddedUiOptions): PipelineViewBackend {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const backend = require('./pipeline-view-backend') as typeof import('./pipeline-view-backend');
  return backend.pipelineViewBackend({
    ip: options.ip,
    ...(options.mlflow === undefined ? {} : { mlflow: options.mlflow }),
  });
}

/** The codec server mounted on the embedded UI (same origin: no CORS needed). */
function embeddedCodecServer(codec: PayloadCodec): { fetch: (request: Request) => Response | Promise<Response> } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createCodecServerApp } = require('../infra/codec-server/app') as typeof import('../infra/codec-server/app');
  return createCodecServerApp({ codec });
}

/**
 * Starts the Web UI for `devServer`. Failures (port in use, bad public path) are `SERVER_START_FAILED` errors saying
 * which flag to change.
 */
export async function startEmbeddedUi(devServer: DevServerHandle, options: EmbeddedUiOptions): Promise<UiServerHandle> {
  // `require`, not `import()`: bin/mloe.js registers tsx's CommonJS hooks only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ui = require('../infra/ui/server') as typeof import('../infra/ui/server');
  const api = uiApiFor(devServer, options.ip);
  try {
    return await ui.startUiServer({
      host: options.ip,
      port: resolveUiPort(devServer.port, options.port),
      mloePagesDir: MLOE_PAGES_DIR,
      ...(options.publicPath === undefined ? {} : { publicPath: options.publicPath }),
      ...(options.assetPath === undefined ? {} : { assetsDir: resolve(options.assetPath) }),
      api,
      settings: options.codecEndpoint === undefined ? {} : { codecEndpoint: options.codecEndpoint },
      ...(options.codec === undefined ? {} : { codec: embeddedCodecServer(options.codec) }),
      pipelineView: pipelineViewBackendFor(options),
      ...(options.apiPreload === undefined ? {} : { apiPreload: options.apiPreload }),
      ...(options.listFirstPaint === undefined ? {} : { listFirstPaint: options.listFirstPaint }),
    });
  } catch (error) {
    if (error instanceof MloeError) throw error;
    const cause = ensureError(error);
    throw new MloeError('SERVER_START_FAILED', `the Web UI could not start: ${cause.message}`, { cause });
  }
}
