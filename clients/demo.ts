/**
 * `mloe demo`: runs the example pipeline `pipelines/penguins/pipeline.yaml` end to end in one process, on the embedded
 * stack (a dev server on a free port, a client, a pipeline worker, and an MLflow server in SQLite under the artifact
 * root unless MLFLOW_TRACKING_URI names one): ingest the Palmer penguins data, validate it, split it, fit the features
 * transform, train a random forest, evaluate it against the registered champion, register and promote it when it beats
 * the champion (policies, then an automatic approval under a recorded identity), and serve the champion. Then it sends
 * a few predictions to the served model and prints the answers. Prints each step as it starts and ends, the summary
 * table, the evaluation against the champion, and what MLflow holds. The MLflow database outlives the command, so a
 * second demo in the same directory meets the first one's champion. The served model is stopped before the command
 * ends (with `--serve`, at Ctrl-C). The CLI loads this module only when `demo` runs: it pulls in the SDK, the worker
 * and the activities.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { stopDeployment } from '../activities/ml/steps/deploy-step';
import { createMlflowClient } from '../activities/mlflow';
import { ensureError } from '../core/errors';
import {
  embeddedTrackingConfig,
  loadTrackingConfig,
  loadWorkflowBundleConfig,
  type ConfigEnv,
} from '../workers/config';
import { createPipelineWorker } from '../workers/pipeline-worker';
import type { PipelineRunStatus, StepRunStatus } from '../workflows/types';
import { embeddedMlflowOptions, mlflowDatabaseFor } from './embedded-mlflow';
import { startEmbeddedStack, type EmbeddedStack } from './embedded-stack';
import { listVersions } from './models';
import { startPipeline } from './pipelines';
import { followRun } from './run';
import {
  describeTelemetry,
  installWorkerTelemetry,
  telemetryConfigFromEnv,
  type WorkerTelemetry,
} from '../workers/telemetry';
import { nextShutdownSignal, type StartDevIo } from './start-dev';
import { trackedRunLines } from './tracked-run';
import { pipelineViewUrl } from './ui';

/** The demo pipeline's spec. */
export const DEMO_SPEC = resolve(__dirname, '..', 'pipelines', 'penguins', 'pipeline.yaml');

/** The dataset the demo learns from: the Palmer penguins, as the `vega-datasets` package ships them. */
export const DEFAULT_DEMO_DATA = join(dirname(require.resolve('vega-datasets')), '..', 'data', 'penguins.json');

/** The registered model the demo promotes and serves. */
export const DEMO_MODEL = 'penguins';

/** Penguins the demo asks the served model about: one of each species, one of unknown sex (imputed). */
export const DEMO_QUESTIONS: readonly Record<string, string | number | null>[] = [
  {
    Island: 'Torgersen',
    'Beak Length (mm)': 39.1,
    'Beak Depth (mm)': 18.7,
    'Flipper Length (mm)': 181,
    'Body Mass (g)': 3750,
    Sex: 'MALE',
  },
  {
    Island: 'Dream',
    'Beak Length (mm)': 49.5,
    'Beak Depth (mm)': 19,
    'Flipper Length (mm)': 200,
    'Body Mass (g)': 3800,
    Sex: 'FEMALE',
  },
  {
    Island: 'Biscoe',
    'Beak Length (mm)': 47.5,
    'Beak Depth (mm)': 14.2,
    'Flipper Length (mm)': 217,
    'Body Mass (g)': 5000,
    Sex: null,
  },
];

/** Options of {@link runDemo}. Relative paths are resolved against the current directory. */
export interface DemoOptions {
  /** The penguins data to learn from (CSV, JSON or Parquet with the same columns); {@link DEFAULT_DEMO_DATA}. */
  dataPath?: string;
  /**
   * The demo's directory, the current one by default: `.mloe/artifacts` (artifacts), `.mloe/demo.mlflow.db` (the
   * embedded MLflow server's database) and `.mloe/serving` (the served model's state and log) go under it.
   */
  artifactRoot?: string;
  /** Run every step even if a cached result exists. */
  noCache?: boolean;
  /** The seed of the split and the forest (the pipeline's `seed`, 42 by default): another seed, another candidate. */
  seed?: number;
  /**
   * The environment (`process.env`): where the workflow bundle comes from and where runs are tracked
   * (`MLFLOW_TRACKING_URI`; an embedded MLflow server when unset) (`workers/config.ts`).
   */
  env?: ConfigEnv;
  /** How often to query the run's status for progress lines. */
  pollIntervalMs?: number;
  /** Serve the Temporal Web UI on a free port while the demo runs (default: true). */
  ui?: boolean;
  /**
   * `--serve`: after the run, keep the dev server, the worker, the Web UI and the served model running until `stop`
   * (Ctrl-C).
   */
  serve?: boolean;
  /** With `serve`: resolves when to stop; defaults to the first SIGINT or SIGTERM. */
  stop?: Promise<unknown>;
}

/**
 * Runs the demo pipeline and reports on `io`. Resolves with the exit code: 0 when the pipeline completed, 1 (after a
 * message on stderr) when it or the embedded stack failed. Everything it started, the served model included, is
 * stopped before it resolves.
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
    // The registry outlives the command, so that the next demo here meets this one's champion.
    const mlflowState = join(artifactRoot, '.mloe', 'demo.db');
    if (tracking === undefined) await mkdir(dirname(mlflowState), { recursive: true });
    stack = await startEmbeddedStack({
      workflowBundle: { ...loadWorkflowBundleConfig({ env }), tracing: tracing !== undefined },
      ...(options.ui === false ? {} : { ui: { ip: '127.0.0.1', port: 0 } }),
      ...(tracking === undefined
        ? { mlflow: embeddedMlflowOptions({ port: 0, dbFilename: mlflowState, artifactsParent: artifactRoot }) }
        : {}),
      // One tracking configuration for the worker and the pipeline view: the user's, or the embedded server's.
      tracking: ({ mlflowUrl }) => {
        if (tracking === undefined && mlflowUrl !== undefined) tracking = embeddedTrackingConfig(env, mlflowUrl);
        return tracking;
      },
      createWorker: (connection, workflowBundle, embedded) =>
        createPipelineWorker({
          connection,
          workflowBundle,
          ...(embedded.tracking === undefined ? {} : { tracking: embedded.tracking }),
          ...(tracing === undefined ? {} : { tracing }),
        }),
    });
    io.stdout(`[${elapsed()}] dev server running at ${stack.address}`);
    if (stack.uiUrl !== undefined) {
      const until = options.serve === true ? 'until Ctrl-C' : 'while the demo runs; --serve keeps it';
      io.stdout(`[${elapsed()}] Temporal Web UI at ${stack.uiUrl} (${until})`);
    }
    io.stdout(
      stack.mlflowUrl === undefined
        ? `[${elapsed()}] tracking in MLflow at ${tracking?.mlflow.trackingUri ?? '-'} (MLFLOW_TRACKING_URI)`
        : `[${elapsed()}] MLflow tracking server (embedded, in SQLite ${mlflowDatabaseFor(mlflowState)}) running at ${stack.mlflowUrl}`,
    );
    // The run starts while the worker is created; its first workflow task waits in the queue until the worker polls.
    const started = startPipeline(stack.client, {
      file: DEMO_SPEC,
      params: { source: dataPath, ...(options.seed === undefined ? {} : { seed: options.seed }) },
      artifactRoot,
      workingDir: artifactRoot,
      ...(options.noCache === true ? { noCache: true } : {}),
    });
    const [run] = await Promise.all([started, stack.worker]);
    io.stdout(`[${elapsed()}] pipeline worker ready (workflows bundled)`);
    io.stdout(`[${elapsed()}] started ${run.workflowId} (pipelines/penguins/pipeline.yaml)`);
    if (stack.uiUrl !== undefined) {
      io.stdout(`[${elapsed()}] pipeline view: ${pipelineViewUrl(stack.uiUrl, 'default', run.workflowId)}`);
    }
    const ui = stack.uiUrl;
    const report = async (status: PipelineRunStatus): Promise<void> => {
      io.stdout('');
      for (const line of formatResults(status)) io.stdout(line);
      const served = servedModel(status);
      if (served !== undefined) {
        io.stdout('');
        for (const line of await askServedModel(served)) io.stdout(line);
      }
      if (tracking !== undefined) {
        const client = createMlflowClient(tracking.mlflow);
        io.stdout('');
        for (const line of await trackedRunLines(client, status)) io.stdout(line);
        io.stdout('');
        io.stdout(`$ mloe models versions ${DEMO_MODEL}`);
        for (const line of await listVersions(client, DEMO_MODEL)) io.stdout(line);
      }
      io.stdout('');
      io.stdout(
        `artifacts in ${artifactRoot}/.mloe/artifacts; run it again and the candidate meets this champion ` +
          '(the steps up to train served from the cache), or with --seed N to train another candidate',
      );
    };
    // With --serve the worker keeps running after the run (queries of the finished run need it), until Ctrl-C.
    try {
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
      return outcome.error === undefined ? 0 : 1;
    } finally {
      await stopDeployment(artifactRoot, `${DEMO_MODEL}@champion`).catch((error: unknown) =>
        io.stderr(`warning: stopping the served model: ${ensureError(error).message}`),
      );
    }
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

/** Where the run's deploy step serves the champion, if it ran. */
interface ServedModel {
  url: string;
  name: string;
  version: string;
}

function servedModel(status: PipelineRunStatus): ServedModel | undefined {
  const outputs = stepOf(status, 'deploy')?.outputs ?? {};
  const { url, name, version } = outputs;
  return typeof url === 'string' && typeof name === 'string' ? { url, name, version: scalarText(version) } : undefined;
}

/** Sends {@link DEMO_QUESTIONS} to the served model's `/predict` and describes its answers, as lines. */
export async function askServedModel(served: ServedModel): Promise<string[]> {
  const response = await fetch(`${served.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dataframe_records: DEMO_QUESTIONS }),
  });
  const answer = (await response.json()) as {
    predictions?: unknown[];
    probabilities?: number[][];
    classes?: string[];
    message?: string;
  };
  if (!response.ok || !Array.isArray(answer.predictions)) {
    return [`POST ${served.url}/predict answered ${response.status}: ${answer.message ?? JSON.stringify(answer)}`];
  }
  const lines = [`$ curl -X POST ${served.url}/predict  (models:/${served.name}/${served.version}, 3 penguins)`];
  DEMO_QUESTIONS.forEach((question, index) => {
    const prediction = String(answer.predictions?.[index]);
    const classIndex = answer.classes?.indexOf(prediction) ?? -1;
    const probability = classIndex < 0 ? undefined : answer.probabilities?.[index]?.[classIndex];
    const sex = typeof question.Sex === 'string' ? question.Sex.toLowerCase() : 'sex unknown';
    const described =
      `${String(question.Island)}, beak ${String(question['Beak Length (mm)'])} × ${String(question['Beak Depth (mm)'])} mm, ` +
      `flipper ${String(question['Flipper Length (mm)'])} mm, ${String(question['Body Mass (g)'])} g, ${sex}`;
    lines.push(
      `  ${described.padEnd(66)} → ${prediction}${probability === undefined ? '' : ` (p = ${probability.toFixed(2)})`}`,
    );
  });
  return lines;
}

/** A step output that should be a number or a string, as text (`?` otherwise). */
function scalarText(value: unknown): string {
  return typeof value === 'number' || typeof value === 'string' ? String(value) : '?';
}

function stepOf(status: PipelineRunStatus, id: string): StepRunStatus | undefined {
  return status.steps.find((candidate) => candidate.id === id);
}

/** What a completed demo run found: the candidate's metrics, the champion it met, and what became of it, as lines. */
export function formatResults(status: PipelineRunStatus): string[] {
  const evaluated = stepOf(status, 'evaluate');
  const metrics = (evaluated?.metrics ?? {}) as Record<string, number>;
  const split = stepOf(status, 'split')?.outputs ?? {};
  const champion = (evaluated?.outputs?.champion ?? {}) as {
    status?: string;
    version?: string;
    sameModel?: boolean;
    metrics?: Record<string, number>;
    reason?: string;
  };
  const figure = (value: number | undefined, digits = 3): string => (value === undefined ? '?' : value.toFixed(digits));
  const lines = [
    `candidate (random forest, trained on ${scalarText(split.trainRows)} penguins, tested on ${scalarText(split.testRows)}):`,
    `  accuracy ${figure(metrics.accuracy)} · macro F1 ${figure(metrics.macroF1)} · log loss ${figure(metrics.logLoss)}`,
  ];
  if (champion.status === 'scored') {
    const same = champion.sameModel === true ? ', the same model' : '';
    lines.push(
      `champion (version ${champion.version ?? '?'}${same}) on the same penguins:`,
      `  accuracy ${figure(champion.metrics?.accuracy)} · macro F1 ${figure(champion.metrics?.macroF1)} · log loss ${figure(champion.metrics?.logLoss)}`,
    );
  } else {
    lines.push(`champion: ${champion.reason ?? champion.status ?? 'none'}`);
  }
  const registered = stepOf(status, 'register');
  const promoted = stepOf(status, 'promote');
  if (registered?.state === 'completed') {
    const version = scalarText(registered.outputs?.version);
    const decision = promoted?.promotion?.decision;
    lines.push(
      promoted?.state === 'completed'
        ? `→ registered as version ${version} and promoted to champion (approved by ${decision?.identity ?? '?'}: ${decision?.reason ?? ''})`
        : `→ registered as version ${version}; promotion ${promoted?.state ?? 'not run'}`,
    );
  } else {
    lines.push(`→ not registered: it does not beat the champion, which stays in production`);
  }
  return lines;
}
