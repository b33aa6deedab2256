/**
 * `mloe demo`: runs the example pipeline `pipelines/demo/pipeline.yaml` end to end in one process, on the embedded
 * stack (a dev server on a free port, a client, a pipeline worker, and an in-memory MLflow server unless
 * MLFLOW_TRACKING_URI names one): ingest a housing CSV, validate it, split and standardise it, fit a linear
 * regression, score it and register it in the MLflow model registry. Prints each step as it starts and ends, the
 * summary table (with the cache column: a second demo in the same directory is served from the cache, but for the
 * registration), then the metrics and the fitted model, and what MLflow holds: the run, its nested steps, its metrics
 * and the model's versions, with their URLs. The CLI loads this module only when `demo` runs: it pulls in the SDK, the
 * worker and the activities.
 */
import { resolve } from 'node:path';

import { createMlflowClient } from '../activities/mlflow';
import {
  embeddedTrackingConfig,
  loadTrackingConfig,
  loadWorkflowBundleConfig,
  type ConfigEnv,
} from '../workers/config';
import { createPipelineWorker } from '../workers/pipeline-worker';
import type { PipelineRunStatus, StepRunStatus } from '../workflows/types';
import { embeddedMlflowOptions } from './embedded-mlflow';
import { startEmbeddedStack, type EmbeddedStack } from './embedded-stack';
import { listVersions } from './models';
import { ensureError } from '../core/errors';
import { startPipeline } from './pipelines';
import { followRun } from './run';
import {
  describeTelemetry,
  installWorkerTelemetry,
  telemetryConfigFromEnv,
  type WorkerTelemetry,
} from '../workers/telemetry';
import { pipelineViewUrl } from './ui';
import { nextShutdownSignal, type StartDevIo } from './start-dev';
import { trackedRunLines } from './tracked-run';

/** The demo pipeline's spec. */
export const DEMO_SPEC = resolve(__dirname, '..', 'pipelines', 'demo', 'pipeline.yaml');

/** The dataset shipped with the demo. */
export const DEFAULT_DEMO_DATA = resolve(__dirname, '..', 'pipelines', 'demo', 'data', 'housing.csv');

/** Options of {@link runDemo}. Relative paths are resolved against the current directory. */
export interface DemoOptions {
  /** The CSV to learn from; defaults to {@link DEFAULT_DEMO_DATA}. */
  dataPath?: string;
  /** Where `.mloe/artifacts` goes; defaults to the current directory. */
  artifactRoot?: string;
  /** Run every step even if a cached result exists. */
  noCache?: boolean;
  /**
   * The environment (`process.env`): where the workflow bundle comes from and where runs are tracked
   * (`MLFLOW_TRACKING_URI`; an embedded MLflow server when unset) (`workers/config.ts`).
   */
  env?: ConfigEnv;
  /** How often to query the run's status for progress lines. */
  pollIntervalMs?: number;
  /** Serve the Temporal Web UI on a free port while the demo runs (default: true). */
  ui?: boolean;
  /** `--serve`: after the run, keep the dev server, the worker and the Web UI running until `stop` (Ctrl-C). */
  serve?: boolean;
  /** With `serve`: resolves when to stop; defaults to the first SIGINT or SIGTERM. */
  stop?: Promise<unknown>;
}

/**
 * Runs the demo pipeline and reports on `io`. Resolves with the exit code: 0 when the pipeline completed, 1 (after a
 * message on stderr) when it or the embedded stack failed. Everything it started is stopped before it resolves.
 */
export async function runDemo(io: StartDevIo, options: DemoOptions = {}): Promise<number> {
  const startedAt = performance.now();
  const elapsed = (): string => `${((performance.now() - startedAt) / 1000).toFixed(2)}s`;
  const dataPath = resolve(options.dataPath ?? DEFAULT_DEMO_DATA);
  const artifactRoot = resolve(options.artifactRoot ?? '.');
  let stack: EmbeddedStack | undefined;
  let telemetry: WorkerTelemetry | undefined;
  const env = options.env ?? {};
  try {
    // Logs, the worker's /metrics (MLOE_METRICS_ADDRESS) and traces (OTEL_*), as `mloe worker` has them.
    telemetry = await installWorkerTelemetry(telemetryConfigFromEnv(env));
    const { tracing, metricsServer } = telemetry;
    if (metricsServer !== undefined || tracing !== undefined) {
      io.stdout(`[${elapsed()}] telemetry: ${describeTelemetry(telemetry.config)}`);
    }
    if (metricsServer !== undefined) io.stdout(`[${elapsed()}] worker metrics at ${metricsServer.url}`);
    let tracking = loadTrackingConfig({ env });
    stack = await startEmbeddedStack({
      workflowBundle: { ...loadWorkflowBundleConfig({ env }), tracing: tracing !== undefined },
      ...(options.ui === false ? {} : { ui: { ip: '127.0.0.1', port: 0 } }),
      ...(tracking === undefined ? { mlflow: embeddedMlflowOptions({ port: 0, artifactsParent: artifactRoot }) } : {}),
      createWorker: (connection, workflowBundle, { mlflowUrl }) => {
        if (tracking === undefined && mlflowUrl !== undefined) tracking = embeddedTrackingConfig(env, mlflowUrl);
        return createPipelineWorker({
          connection,
          workflowBundle,
          ...(tracking === undefined ? {} : { tracking }),
          ...(tracing === undefined ? {} : { tracing }),
        });
      },
    });
    io.stdout(`[${elapsed()}] dev server running at ${stack.address}`);
    if (stack.uiUrl !== undefined) {
      const until = options.serve === true ? 'until Ctrl-C' : 'while the demo runs; --serve keeps it';
      io.stdout(`[${elapsed()}] Temporal Web UI at ${stack.uiUrl} (${until})`);
    }
    io.stdout(
      stack.mlflowUrl === undefined
        ? `[${elapsed()}] tracking in MLflow at ${tracking?.mlflow.trackingUri ?? '-'} (MLFLOW_TRACKING_URI)`
        : `[${elapsed()}] MLflow tracking server (embedded, in memory) running at ${stack.mlflowUrl}`,
    );
    // The run starts while the worker is created; its first workflow task waits in the queue until the worker polls.
    const started = startPipeline(stack.client, {
      file: DEMO_SPEC,
      params: { dataPath },
      artifactRoot,
      workingDir: resolve(__dirname, '..'),
      ...(options.noCache === true ? { noCache: true } : {}),
    });
    const [run] = await Promise.all([started, stack.worker]);
    io.stdout(`[${elapsed()}] pipeline worker ready (workflows bundled)`);
    io.stdout(`[${elapsed()}] started ${run.workflowId} (pipelines/demo/pipeline.yaml)`);
    if (stack.uiUrl !== undefined) {
      io.stdout(`[${elapsed()}] pipeline view: ${pipelineViewUrl(stack.uiUrl, 'default', run.workflowId)}`);
    }
    const ui = stack.uiUrl;
    const report = async (status: PipelineRunStatus): Promise<void> => {
      io.stdout('');
      for (const line of formatResults(status)) io.stdout(line);
      if (tracking !== undefined) {
        const client = createMlflowClient(tracking.mlflow);
        io.stdout('');
        for (const line of await trackedRunLines(client, status)) io.stdout(line);
        if (status.steps.some((step) => step.id === 'register' && step.state === 'completed')) {
          io.stdout('');
          io.stdout('$ mloe models versions housing-price');
          for (const line of await listVersions(client, 'housing-price')) io.stdout(line);
        }
      }
      io.stdout('');
      io.stdout(
        `artifacts in ${artifactRoot}/.mloe/artifacts; run it again and every step but register is served from the cache`,
      );
    };
    // With --serve the worker keeps running after the run (queries of the finished run need it), until Ctrl-C.
    const outcome = await stack.runWorkerUntil(async () => {
      const followed = await followRun(run, io, elapsed, options.pollIntervalMs ?? 100);
      if (followed.error === undefined) await report(followed.status);
      if (options.serve === true && ui !== undefined) {
        io.stdout('');
        io.stdout(
          `serving the Temporal Web UI at ${ui} until Ctrl-C; the demo run: ${pipelineViewUrl(ui, 'default', run.workflowId)}`,
        );
        await (options.stop ?? nextShutdownSignal());
      }
      return followed;
    });
    if (outcome.error !== undefined) return 1;
    return 0;
  } catch (error) {
    io.stderr(`demo failed: ${ensureError(error).message}`);
    return 1;
  } finally {
    await stack?.close().catch((error: unknown) => io.stderr(`warning: shutting down: ${ensureError(error).message}`));
    await telemetry
      ?.shutdown()
      .catch((error: unknown) => io.stderr(`warning: telemetry: ${ensureError(error).message}`));
  }
}

/** The metrics and the fitted model of a completed demo run, as lines. */
export function formatResults(status: PipelineRunStatus): string[] {
  const step = (id: string): StepRunStatus | undefined => status.steps.find((candidate) => candidate.id === id);
  const metrics = (step('evaluate')?.metrics ?? {}) as Record<string, number>;
  const trained = step('train')?.outputs ?? {};
  const featurized = step('featurize')?.outputs ?? {};
  const coefficients = (trained.coefficients ?? {}) as Record<string, number>;
  const terms = Object.entries(coefficients).map(
    ([name, value]) => `${value < 0 ? '-' : '+'} ${formatNumber(Math.abs(value))}·${name}`,
  );
  const uri = (value: unknown): string => (value as { uri?: string } | undefined)?.uri ?? '-';
  return [
    `metrics (test split: ${metrics.testRows ?? '?'} rows, trained on ${typeof featurized.trainRows === 'number' ? featurized.trainRows : '?'}):`,
    `  RMSE  ${(metrics.rmse ?? Number.NaN).toFixed(3)}`,
    `  R²    ${(metrics.r2 ?? Number.NaN).toFixed(4)}`,
    `model: ${typeof status.params.target === 'string' ? status.params.target : 'target'} = ${formatNumber(Number(trained.intercept))} ${terms.join(' ')}`,
    `model artifact:   ${uri(trained.model)}`,
    `metrics artifact: ${uri(step('evaluate')?.outputs?.metrics)}`,
  ];
}

function formatNumber(value: number): string {
  return Number(value.toPrecision(4)).toString();
}
