/**
 * The pipeline worker: polls the `mloe-pipelines` task queue and runs the workflows bundle (the `runPipeline`
 * interpreter and its `foreachBatch` children) and every activity, with `runStep` bound to the worker's step
 * implementations. Starting it registers the search attributes pipelines set (`./search-attributes.ts`).
 */
import { Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';

import { PIPELINE_TASK_QUEUE } from '../workflows/types';
import {
  BUILTIN_STEP_IMPLEMENTATIONS,
  createListManifestActivities,
  createRunStep,
  type StepImplementations,
} from '../activities/steps';
import type { S3StoreConfigInput } from '../activities/artifacts/config';
import { createStoreResolver, FileArtifactStore } from '../activities/artifacts';
import {
  consoleLineageLogger,
  createLineageActivities,
  createLineageEmitter,
  sharedLineageEmitter,
  type LineageEmitter,
} from '../activities/lineage';
import {
  loadNotificationConfig,
  loadWorkflowBundleConfig,
  type WorkerConfig,
  type WorkflowBundleConfig,
} from './config';
import { loadWorkflowBundle } from './workflow-bundle';
import { lineageObserver } from '../activities/steps/lineage-observer';
import { trackingObserver } from '../activities/steps/tracking-observer';
import type { BuiltinStepSettings } from '../activities/steps/remote-builtin';
import { trackingSinks } from './tracking-sinks';
import { MlflowTracker, trackPipelineRun, type TrackingConfig } from '../activities/tracking';
import { ensureError } from '../core/errors';
import { createPromotionActivities } from '../activities/promotion';
import { MLOE_SEARCH_ATTRIBUTES, registerSearchAttributes } from './search-attributes';
import type { Executors } from '../activities/executors';
import { dataConverterOptions, type CodecConfig } from './codec/config';
import { telemetryObserver } from '../activities/steps/telemetry-observer';
import { stepLogAttributes } from './telemetry/log-attributes';
import type { WorkerTracing } from './telemetry/tracing';
import { bundleHasTracing } from './workflow-bundle';
import { createMonitorActivities } from '../activities/monitoring/activities';
import type { SecretSources } from '../activities/secrets';
import { createTriggerActivities } from '../activities/triggers';
import { createNotificationActivities, type NotificationActivityOptions } from '../activities/notifications';

/** The task queue pipelines run on. */
export { PIPELINE_TASK_QUEUE };

/** Options of {@link createPipelineWorker}. */
export interface PipelineWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Defaults to {@link PIPELINE_TASK_QUEUE}; tests use their own queue. */
  taskQueue?: string;
  /** The workflow bundle to run; without one, {@link PipelineWorkerOptions.bundle} says where it comes from. */
  workflowBundle?: WorkflowBundle;
  /**
   * Where the workflow bundle comes from when `workflowBundle` is absent: a pre-built file, or `workflows/` through
   * the bundle cache (`workers/workflow-bundle.ts`); the default cache (`node_modules/.cache/mloe`) when absent.
   */
  bundle?: WorkflowBundleConfig;
  /** The steps `uses:` may name on this worker; the built-in steps by default. */
  steps?: StepImplementations;
  /** Activities (steps) run at once; the SDK's default when absent. `MLOE_WORKER_CONCURRENCY` (workers/config.ts). */
  maxConcurrentActivityTaskExecutions?: number;
  /**
   * How long `shutdown()` waits for running steps before cancelling them, in ms (the SDK's `shutdownGraceTime`; its
   * default, 0, when absent). `mloe worker` and `mloe dev` set it so that SIGTERM lets short steps finish.
   */
  shutdownGraceTimeMs?: number;
  /** Payload encryption (`MLOE_CODEC_KEYS`, docs/encryption.md): the worker's data converter gets its codec. */
  codec?: CodecConfig;
  /**
   * Artifact store settings for steps: the store of runs that name none (`defaultUri`, `file:///…` or
   * `s3://bucket[/prefix]`; `MLOE_ARTIFACT_STORE`) and the S3 client settings of `s3://` stores (endpoint, region,
   * path style; credentials stay with the AWS SDK's default chain).
   */
  artifactStore?: { defaultUri?: string; s3?: S3StoreConfigInput };
  /** Where OpenLineage events go; the process's emitter configured from `OPENLINEAGE_*` by default. */
  lineage?: LineageEmitter;
  /**
   * Where pipeline runs are tracked (MLflow, `activities/tracking`): a configuration (`workers/config.ts`) or a tracker
   * to share; nowhere when absent (and `register@1` then fails with `TRACKING_NOT_CONFIGURED`).
   */
  tracking?: TrackingConfig | MlflowTracker;
  /** Where start-up warnings go (a search attribute registration that failed); `console.warn` by default. */
  warn?: (message: string) => void;
  /** Remote executors of `run:` steps (`executor: kubernetes`); none by default (docs/executors.md). */
  executors?: Executors;
  /** The image (and Batch defaults) of built-in steps on remote executors; the published mloe image by default. */
  builtinSteps?: BuiltinStepSettings;
  /**
   * OpenTelemetry tracing (`workers/telemetry/tracing.ts`): its activity interceptors and workflow span sink, and a
   * workflow bundle with the tracing interceptors. Absent, no spans (docs/telemetry.md).
   */
  tracing?: WorkerTracing;
  /** Where steps' secret references are resolved (docs/security.md); none by default. */
  secrets?: SecretSources;
  /** Webhook notifications: secrets and the Web UI's address; from the environment by default (`workers/config.ts`). */
  notifications?: NotificationActivityOptions;
}

/**
 * The activities of a pipeline worker, exactly those its workflows call: `runStep` bound to the worker's steps and
 * stores (with lineage records and OpenLineage events for every execution, and an MLflow run when the worker tracks
 * runs), `recordRun` and `reuseSteps` (a rerun's), the writers of list manifests (large list inputs,
 * `workflows/list-manifests.ts`), promotion's registry calls, the drift monitor's (`monitorModel` ticks run on
 * pipeline workers), the triggers' (listing prefixes, starting runs through the worker's own connection when it is
 * given) and the webhook notifications'. The stores are opened once and kept.
 */
export function pipelineActivities(
  options: Pick<
    PipelineWorkerOptions,
    'steps' | 'artifactStore' | 'lineage' | 'tracking' | 'executors' | 'secrets' | 'notifications' | 'builtinSteps'
  > &
    Partial<Pick<PipelineWorkerOptions, 'connection' | 'namespace'>>,
) {
  const stores = createStoreResolver({
    defaultLocation: options.artifactStore?.defaultUri ?? FileArtifactStore.inWorkingDirectory().root,
    ...(options.artifactStore?.s3 === undefined ? {} : { config: { s3: options.artifactStore.s3 } }),
  });
  const emitter = options.lineage ?? sharedLineageEmitter();
  // Triggers start runs through the worker's own connection (a NativeConnection serves clients too).
  const { connection, namespace = 'default' } = options;
  let client: Client | undefined;
  const tracker =
    options.tracking === undefined || options.tracking instanceof MlflowTracker
      ? options.tracking
      : new MlflowTracker(options.tracking);
  return {
    runStep: createRunStep(options.steps ?? BUILTIN_STEP_IMPLEMENTATIONS, {
      stores,
      observers: [
        ...(tracker === undefined ? [lineageObserver(emitter)] : [lineageObserver(emitter), trackingObserver(tracker)]),
        telemetryObserver(),
      ],
      ...(tracker === undefined ? {} : { tracking: tracker }),
      ...(options.artifactStore?.s3 === undefined ? {} : { s3: options.artifactStore.s3 }),
      ...(options.executors === undefined ? {} : { executors: options.executors }),
      ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
      ...(options.builtinSteps === undefined ? {} : { builtinSteps: options.builtinSteps }),
    }),
    ...createLineageActivities({
      emitter,
      openStore: stores,
      ...(tracker === undefined
        ? {}
        : { tracker: { trackRun: (status, temporal) => trackPipelineRun(tracker, status, temporal) } }),
    }),
    ...createListManifestActivities(stores),
    ...createPromotionActivities(tracker === undefined ? {} : { tracker }),
    ...createMonitorActivities({
      stores,
      ...(tracker === undefined ? {} : { tracker }),
      ...(options.artifactStore?.s3 === undefined ? {} : { s3: options.artifactStore.s3 }),
    }),
    ...createTriggerActivities({
      stores,
      ...(options.artifactStore?.s3 === undefined ? {} : { s3: options.artifactStore.s3 }),
      ...(connection === undefined ? {} : { client: () => (client ??= new Client({ connection, namespace })) }),
    }),
    ...createNotificationActivities(options.notifications ?? loadNotificationConfig()),
  };
}

/**
 * The options of a worker configured by `workers/config.ts` (`mloe worker`, `mloe dev`, an embedded `mloe run`):
 * namespace, task queue, concurrency, artifact stores, and OpenLineage events and MLflow tracking where the parsed
 * configuration says.
 */
export function pipelineWorkerOptions(
  connection: NativeConnection,
  config: WorkerConfig,
  extra: Pick<PipelineWorkerOptions, 'shutdownGraceTimeMs' | 'tracing'> = {},
): PipelineWorkerOptions {
  return {
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    maxConcurrentActivityTaskExecutions: config.maxConcurrentActivityTaskExecutions,
    artifactStore: config.artifactStore,
    lineage: createLineageEmitter(config.lineage, consoleLineageLogger),
    ...(config.tracking === undefined ? {} : { tracking: config.tracking }),
    bundle: config.workflowBundle,
    ...(config.executors === undefined ? {} : { executors: workerExecutors(config) }),
    ...(config.builtinSteps === undefined ? {} : { builtinSteps: config.builtinSteps }),
    ...(config.codec === undefined ? {} : { codec: config.codec }),
    secrets: config.secrets,
    ...extra,
  };
}

/**
 * The remote executors a worker's configuration names, created (they connect on first use). Their jobs carry the
 * worker's Temporal namespace, for the orphan sweep (`workers/executor-sweeper.ts`).
 */
export function workerExecutors(
  config: Pick<WorkerConfig, 'executors'> & Partial<Pick<WorkerConfig, 'namespace'>>,
): Executors {
  const { kubernetes: kubernetesSettings, batch: batchSettings } = config.executors ?? {};
  const temporal = config.namespace === undefined ? {} : { temporalNamespace: config.namespace };
  const kubernetes = kubernetesSettings === undefined ? undefined : { ...kubernetesSettings, ...temporal };
  const batch = batchSettings === undefined ? undefined : { ...batchSettings, ...temporal };
  if (kubernetes === undefined && batch === undefined) return {};
  // Loaded only by workers that run remote steps (the Kubernetes client and the AWS SDK clients are large).
  const { KubernetesExecutor, BatchExecutor } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../activities/executors') as typeof import('../activities/executors');
  return {
    ...(kubernetes === undefined ? {} : { kubernetes: new KubernetesExecutor(kubernetes) }),
    ...(batch === undefined ? {} : { batch: new BatchExecutor(batch) }),
  };
}

/**
 * Creates (but does not run) the pipeline worker. Heartbeats are throttled to at most every 2 s, so a cancelled
 * step hears of it within a few seconds.
 */
export async function createPipelineWorker(options: PipelineWorkerOptions): Promise<Worker> {
  await registerSearchAttributesOrWarn(options);
  const workflowBundle =
    options.workflowBundle ??
    (await loadWorkflowBundle(options.bundle ?? loadWorkflowBundleConfig(), {
      tracing: options.tracing !== undefined,
    }));
  if (options.tracing !== undefined && 'code' in workflowBundle && !bundleHasTracing(workflowBundle.code)) {
    (options.warn ?? ((message: string) => console.warn(message)))(
      '[mloe worker] tracing is on but the workflow bundle has no tracing interceptors: steps get spans, runs do not; ' +
        'build the bundle with `npm run build:workflows -- --tracing`',
    );
  }
  // One tracker for the steps and for the sink that prepares their runs (workers/tracking-sinks.ts).
  const tracker =
    options.tracking === undefined || options.tracking instanceof MlflowTracker
      ? options.tracking
      : new MlflowTracker(options.tracking);
  return Worker.create({
    connection: options.connection,
    taskQueue: options.taskQueue ?? PIPELINE_TASK_QUEUE,
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    workflowBundle,
    activities: pipelineActivities({ ...options, ...(tracker === undefined ? {} : { tracking: tracker }) }),
    interceptors: { activity: [...(options.tracing?.activityInterceptors ?? []), stepLogAttributes] },
    sinks: { ...options.tracing?.sinks, ...trackingSinks(tracker) },
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '1 second',
    ...(options.maxConcurrentActivityTaskExecutions === undefined
      ? {}
      : { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions }),
    ...(options.shutdownGraceTimeMs === undefined ? {} : { shutdownGraceTime: options.shutdownGraceTimeMs }),
    ...dataConverterOptions(options.codec),
  });
}

/**
 * Registers mloe's search attributes in the worker's namespace, once per worker start (see
 * `workers/search-attributes.ts`). A worker without the rights to (Temporal Cloud, a locked-down cluster) still
 * starts: it warns, and `mloe setup` run by an admin does it once.
 */
async function registerSearchAttributesOrWarn(
  options: Pick<PipelineWorkerOptions, 'connection' | 'namespace' | 'warn'>,
): Promise<void> {
  const namespace = options.namespace ?? 'default';
  try {
    await registerSearchAttributes(options.connection, namespace);
  } catch (error) {
    const warn = options.warn ?? ((message: string) => console.warn(message));
    warn(
      `[mloe worker] could not register the search attributes ${MLOE_SEARCH_ATTRIBUTES.join(', ')} in namespace ` +
        `${namespace} (${ensureError(error).message}); runs will not start until an admin runs ` +
        `\`mloe setup --namespace ${namespace}\``,
    );
  }
}
