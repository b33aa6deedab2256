/**
 * `runStep`: the one activity behind every pipeline step. It first asks the cache (`activities/cache`): when an
 * earlier execution had the same key and its outputs are still intact in the store, those outputs are the result.
 * Otherwise it dispatches a `uses:` step to its TypeScript implementation and a `run:` step to the command runner
 * (`activities/runner`), caches what it produced, heartbeats so that cancellation reaches it, and reports failures as
 * `ApplicationFailure`s that keep the step's error code and say which attempt failed. Observers (lineage) hear of
 * every execution. Idempotency is the step's: steps write content-addressed artifacts, so a retry is harmless.
 */
import { resolve } from 'node:path';

import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

import { MloeError, ensureError } from '../../core/errors';
import type { JsonValue } from '../../core/spec';
import { createStoreResolver, FileArtifactStore, type ArtifactStore, type S3StoreConfigInput } from '../artifacts';
import { canonicalJson } from '../../core/canonical-json';
import { readCacheEntry, readLastKey, unusableOutputs, writeCacheEntry, type CacheEntry } from '../cache/entries';
import { explainKeyChange } from '../cache/explain';
import {
  cacheKeyOf,
  commandDefinition,
  commandFileDigests,
  fileParts,
  inputParts,
  type CacheKeyParts,
} from '../cache/key';
import { valueDigest } from '../cache/digests';
import { toApplicationFailure } from '../failures';
import type { MlflowTracker } from '../tracking';
import type { Executors, RemoteCommandRequest, RemoteProgress } from '../executors';
import { parseStepSecrets, processRedactor, resolveStepSecrets, type SecretSources } from '../secrets';
import { BUILTIN_IMPLEMENTATIONS } from './builtin';
import { builtinImageOf, isRemoteBuiltin, runBuiltinRemotely, type BuiltinStepSettings } from './remote-builtin';
import { expandListManifests } from './list-manifests';
import {
  createStepImplementations,
  definitionDigest,
  type StepContext,
  type StepImplementations,
  type StepOutput,
} from './registry';
import type { CacheOutcome, RunStepRequest, RunStepResult, StepFailureDetails, StepLogs } from './types';

/** How often a running step heartbeats (the SDK throttles what reaches the server). */
const HEARTBEAT_INTERVAL_MS = 1_000;

/** The built-in step implementations. */
export const BUILTIN_STEP_IMPLEMENTATIONS: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS);

/** The `runStep` activity's signature. */
export type RunStepActivity = (request: RunStepRequest) => Promise<RunStepResult>;

/** One execution as observers see it once it ended. */
export interface ExecutionReport {
  request: RunStepRequest;
  /** The store the execution used (open; observers must not close it). */
  store: ArtifactStore;
  attempt: number;
  startedAt: Date;
  finishedAt: Date;
  /** The result, or the failure it raised (cancellations are not reported). */
  outcome:
    | { ok: true; result: RunStepResult }
    | {
        ok: false;
        error: string;
        cache?: CacheOutcome;
        /** No retry follows whatever the policy. */ nonRetryable?: boolean;
        /** The failure's error code (an `MloeError` code, or the failure's type). */ code?: string;
      };
}

/** Something that hears of step executions: lineage records and OpenLineage events. Its errors are swallowed. */
export interface ExecutionObserver {
  /**
   * Its failures fail the step (retryably when they are) instead of being logged: for an observer whose work is part
   * of the step's result, such as MLflow tracking.
   */
  readonly failsStep?: boolean;
  started?(request: RunStepRequest, store: ArtifactStore, startedAt: Date): Promise<void>;
  finished?(report: ExecutionReport): Promise<void>;
}

/** Options of {@link createRunStep}. */
export interface RunStepOptions {
  /**
   * Opens (and keeps) the store a run names, or the worker's default store for runs that name none. By default, a
   * resolver with the default S3 settings and `.mloe/artifacts` in the worker's working directory.
   */
  stores?: (location?: string) => ArtifactStore;
  /** Told of every execution, in order. */
  observers?: readonly ExecutionObserver[];
  /**
   * The MLflow server steps that write to it (`register@1`) use; tracking itself is an observer
   * (`trackingObserver`). Absent, such steps fail with `TRACKING_NOT_CONFIGURED`.
   */
  tracking?: MlflowTracker;
  /** Where observer failures are reported (they never fail a step); the activity's logger by default. */
  warn?: (message: string) => void;
  /** The worker's S3 client settings, handed to steps that read `s3://` sources (`ingest@2`). */
  s3?: S3StoreConfigInput;
  /** Remote executors of `run:` steps with `executor: kubernetes | batch` (docs/executors.md); none by default. */
  executors?: Executors;
  /**
   * Where `run.secrets` references are resolved (the worker's environment, its secret file roots); without it, a
   * step with an `env:` or `file:` secret fails with `SECRET_NOT_FOUND`.
   */
  secrets?: SecretSources;
  /**
   * The image (and Batch queue and job definition) of built-in steps on a remote executor that name none
   * (`MLOE_BUILTIN_*`); the published mloe image of this version by default.
   */
  builtinSteps?: BuiltinStepSettings;
}

/**
 * Makes the `runStep` activity for a set of step implementations (the built-ins by default; tests and workers with
 * their own steps pass a larger set). Stores are opened once per URI and kept for the worker's life.
 */
export function createRunStep(
  implementations: StepImplementations = BUILTIN_STEP_IMPLEMENTATIONS,
  options: RunStepOptions = {},
): RunStepActivity {
  const storeOf =
    options.stores ?? createStoreResolver({ defaultLocation: FileArtifactStore.inWorkingDirectory().root });
  const observers = options.observers ?? [];
  /**
   * Observer and cache-write failures are reported here; they never fail a step, except a refusal to overwrite another
   * run's record (`RECORD_CONFLICT`), which fails it (two runs share a workflow id), and failures of observers that
   * say `failsStep`.
   */
  const warn = (unredacted: string): void => {
    const message = processRedactor.redact(unredacted);
    if (options.warn !== undefined) options.warn(message);
    else Context.current().log.warn(message);
  };
  /** Tells every observer at once (they are independent: lineage records, MLflow); failures as said above. */
  const notify = async (what: string, call: (observer: ExecutionObserver) => Promise<void> | undefined) => {
    const outcomes = await Promise.allSettled(observers.map(async (observer) => call(observer)));
    let failure: unknown;
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') return;
      const error: unknown = outcome.reason;
      if ((error instanceof MloeError && error.code === 'RECORD_CONFLICT') || observers[index]?.failsStep === true) {
        failure ??= error;
      } else warn(`step ${what} observer failed: ${describe(error)}`);
    });
    if (failure !== undefined) throw ensureError(failure);
  };

  return async function runStep(received: RunStepRequest): Promise<RunStepResult> {
    const context = Context.current();
    /** The request as the step, its cache key and its lineage see it: lists sent as manifests read back in full. */
    let request = received;
    const attempt = context.info.attempt;
    const started = performance.now();
    const startedAt = new Date();
    // The first heartbeat goes out after an interval: a step that ends sooner costs the server no heartbeat at all.
    // Within a third of the heartbeat timeout, so a short one is never missed.
    const heartbeatTimeout = context.info.heartbeatTimeoutMs;
    const interval =
      heartbeatTimeout === undefined || heartbeatTimeout <= 0
        ? HEARTBEAT_INTERVAL_MS
        : Math.max(50, Math.min(HEARTBEAT_INTERVAL_MS, heartbeatTimeout / 3));
    // A remote executor's progress (its job, for the next attempt to find) rides on every heartbeat.
    let progress: RemoteProgress | undefined;
    const heartbeat = setInterval(() => context.heartbeat(progress), interval);
    let store: ArtifactStore | undefined;
    let cache: CacheOutcome | undefined;
    const finished = (openStore: ArtifactStore, outcome: ExecutionReport['outcome']): Promise<void> =>
      notify('finish', (observer) =>
        observer.finished?.({ request, store: openStore, attempt, startedAt, finishedAt: new Date(), outcome }),
      );
    try {
      store = storeOf(request.artifactStore);
      const openStore = store;
      request = { ...request, inputs: await expandListManifests(openStore, request.inputs) };
      await notify('start', (observer) => observer.started?.(request, openStore, startedAt));
      const stepContext: StepContext = {
        stepId: request.stepId,
        workflowId: request.workflowId,
        ...(request.index === undefined ? {} : { index: request.index }),
        store,
        workingDir: request.workingDir,
        attempt,
        signal: context.cancellationSignal,
        pipeline: request.pipeline,
        ...(options.tracking === undefined ? {} : { tracking: options.tracking }),
        ...(options.s3 === undefined ? {} : { s3: options.s3 }),
      };
      const { execution, entry } = await Promise.race([
        execute(
          implementations,
          request,
          stepContext,
          (outcome) => {
            cache = outcome;
          },
          {
            executors: options.executors ?? {},
            ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
            ...(options.builtinSteps === undefined ? {} : { builtinSteps: options.builtinSteps }),
            progress: (next) => {
              progress = next;
              context.heartbeat(next);
            },
            ...(isRemoteProgress(context.info.heartbeatDetails) ? { previous: context.info.heartbeatDetails } : {}),
            ...(context.info.startToCloseTimeoutMs > 0 ? { timeoutMs: context.info.startToCloseTimeoutMs } : {}),
          },
        ),
        context.cancelled,
      ]);
      const result: RunStepResult = {
        ...execution,
        attempt: execution.cache.decision === 'hit' ? 1 : attempt,
        durationMs: Math.round(performance.now() - started),
      };
      // The cache entry and the lineage record are written side by side; both are on disk before the step completes.
      // Neither can fail the step: it did its work, and a later run without the entry simply runs it again.
      await Promise.all([
        entry === undefined
          ? undefined
          : writeCacheEntry(openStore, request.pipeline, entry).catch((error: unknown) =>
              warn(`step ${request.stepId}: could not write its cache entry: ${describe(error)}`),
            ),
        finished(openStore, { ok: true, result }),
      ]);
      return result;
    } catch (unredacted) {
      if (unredacted instanceof CancelledFailure) throw unredacted;
      // No secret value this worker resolved leaves in an error (its message, its causes, the history).
      const error = processRedactor.redactError(unredacted);
      const failure = stepFailure(error, attempt);
      if (store !== undefined) {
        // A refused record (RECORD_CONFLICT) is refused again here; the step fails with the first error either way.
        await finished(store, {
          ok: false,
          error: describe(error),
          nonRetryable: failure.nonRetryable === true,
          ...(failure.type === undefined || failure.type === null ? {} : { code: failure.type }),
          ...(cache === undefined ? {} : { cache }),
        }).catch(() => undefined);
      }
      throw failure;
    } finally {
      clearInterval(heartbeat);
    }
  };
}

/** The default `runStep`, with the built-in steps. */
export const runStep: RunStepActivity = createRunStep();

/** A step's result before the activity adds its attempt and duration. */
type Execution = StepOutput & { cache: CacheOutcome; logs?: StepLogs };

/**
 * Serves the execution from the cache when it can, runs it otherwise and returns the cache entry of what it produced
 * (the caller writes it). `onDecision` hears the cache decision before the step runs, so a failure can still report it.
 */
async function execute(
  implementations: StepImplementations,
  request: RunStepRequest,
  context: StepContext,
  onDecision: (outcome: CacheOutcome) => void,
  remote: RemoteDispatch,
): Promise<{ execution: Execution; entry?: CacheEntry }> {
  const implementation = request.uses === undefined ? undefined : implementations.get(request.uses);
  if (request.uses !== undefined && implementation === undefined) {
    throw new MloeError('CONFIG_INVALID', `this worker has no implementation of step ${request.uses}`);
  }
  const noCache =
    request.noCache ??
    (implementation?.cacheable === false ? `step ${request.uses ?? ''}, which is never cached` : undefined);
  if (noCache !== undefined) {
    const cache: CacheOutcome = { decision: 'disabled', reasons: [`cache disabled by ${noCache}`] };
    onDecision(cache);
    return { execution: { ...(await dispatch(implementation, request, context, remote)), cache } };
  }

  const store = context.store;
  const parts = await keyParts(implementation, request, context, remote.builtinSteps);
  const key = cacheKeyOf(parts);
  const entry = await readCacheEntry(store, key);
  let reasons: string[];
  if (entry !== undefined) {
    const unusable = await unusableOutputs(store, entry);
    if (unusable === undefined) {
      const cache: CacheOutcome = {
        decision: 'hit',
        key,
        reasons: [`reused the outputs of run ${entry.workflowId} (step ${entry.stepId}, same key)`],
        sourceWorkflowId: entry.workflowId,
      };
      onDecision(cache);
      const execution: Execution = {
        outputs: entry.outputs,
        ...(entry.metrics === undefined ? {} : { metrics: entry.metrics }),
        ...(entry.logs === undefined ? {} : { logs: entry.logs }),
        cache,
      };
      return { execution };
    }
    reasons = [unusable];
  } else {
    const last = await readLastKey(store, request.pipeline, request.stepId, request.index);
    if (last === undefined) reasons = ['no earlier cached run of this step'];
    else {
      const changes = explainKeyChange(last.parts, parts);
      reasons =
        changes.length === 0
          ? [`the cached result of run ${last.workflowId} is no longer in the store`]
          : changes.map((change) => `${change} (since run ${last.workflowId})`);
    }
  }
  const cache: CacheOutcome = { decision: 'miss', key, reasons };
  onDecision(cache);
  const output = await dispatch(implementation, request, context, remote);
  // Nothing is cached from a cancelled execution (its outputs may be partial), nor when what the key hashed changed
  // while the step ran (the outputs may come from the new content, which the key does not describe).
  if (context.signal.aborted) return { execution: { ...output, cache } };
  if (canonicalJson(await fileDigestsOf(implementation, request, context)) !== canonicalJson(parts.files)) {
    const changed = { ...cache, reasons: [...reasons, 'not cached: a file the step reads changed while it ran'] };
    onDecision(changed);
    return { execution: { ...output, cache: changed } };
  }
  const produced: CacheEntry = {
    version: 1,
    key,
    parts,
    outputs: output.outputs,
    ...(output.metrics === undefined ? {} : { metrics: output.metrics }),
    ...(output.logs === undefined ? {} : { logs: output.logs }),
    workflowId: request.workflowId,
    stepId: request.stepId,
    ...(request.index === undefined ? {} : { index: request.index }),
    createdAt: new Date().toISOString(),
  };
  return { execution: { ...output, cache }, entry: produced };
}

/** The parts of an execution's cache key (see `activities/cache/key.ts`). */
async function keyParts(
  implementation: ReturnType<StepImplementations['get']>,
  request: RunStepRequest,
  context: StepContext,
  builtinSteps: BuiltinStepSettings | undefined,
): Promise<CacheKeyParts> {
  const files = await fileDigestsOf(implementation, request, context);
  if (implementation !== undefined && isRemoteBuiltin(request)) {
    // On a remote executor the image's code runs: the image joins the definition (where it runs does not).
    const image = builtinImageOf(request, builtinSteps);
    return {
      definition: {
        ref: request.uses,
        digest: valueDigest({ code: definitionDigest(implementation), image }),
        image,
      },
      inputs: inputParts(request.inputs),
      params: {},
      files,
    };
  }
  if (implementation !== undefined) {
    return {
      definition: { ref: request.uses ?? '', digest: definitionDigest(implementation) },
      inputs: inputParts(request.inputs),
      params: {},
      files,
    };
  }
  const run = commandOf(request);
  return {
    definition: commandDefinition({
      command: run.command,
      ...(run.env === undefined ? {} : { env: run.env }),
      ...(run.image === undefined ? {} : { image: run.image }),
      ...(run.workingDir === undefined ? {} : { workingDir: run.workingDir }),
      outputs: request.outputs,
    }),
    inputs: inputParts(request.inputs),
    params: inputParts(request.params),
    files,
  };
}

/** The files part of the key: what a registered step declares it reads, or the files a command names. */
async function fileDigestsOf(
  implementation: ReturnType<StepImplementations['get']>,
  request: RunStepRequest,
  context: StepContext,
): Promise<CacheKeyParts['files']> {
  if (implementation !== undefined)
    return fileParts((await implementation.cacheInputs?.(request.inputs, context)) ?? {});
  const run = commandOf(request);
  const cwd = run.workingDir === undefined ? undefined : resolve(request.workingDir, run.workingDir);
  return fileParts(await commandFileDigests(run.command, request.workingDir, cwd));
}

/** The command of a `run:` step. */
function commandOf(request: RunStepRequest): NonNullable<RunStepRequest['run']> {
  if (request.run === undefined) throw new MloeError('INTERNAL', `step ${request.stepId} has neither uses nor run`);
  return request.run;
}

/** What a remote executor (and a step's secrets) needs from the activity around it. */
interface RemoteDispatch {
  executors: Executors;
  /** Where secret references are resolved; none configured when absent. */
  secrets?: SecretSources;
  /** The worker's settings for built-in steps on remote executors. */
  builtinSteps?: BuiltinStepSettings;
  progress: (progress: RemoteProgress) => void;
  previous?: RemoteProgress;
  timeoutMs?: number;
}

/** Whether heartbeat details are a remote executor's progress (from the previous attempt). */
function isRemoteProgress(details: unknown): details is RemoteProgress {
  return (
    details !== null &&
    typeof details === 'object' &&
    typeof (details as RemoteProgress).job === 'string' &&
    typeof (details as RemoteProgress).executor === 'string'
  );
}

/** Runs a `run:` step on its remote executor (`executor: kubernetes | batch`). */
async function dispatchRemote(
  request: RunStepRequest & {
    run: NonNullable<RunStepRequest['run']>;
    placement: NonNullable<RunStepRequest['placement']>;
  },
  context: StepContext,
  remote: RemoteDispatch,
): Promise<StepOutput & { logs?: StepLogs }> {
  const kind = request.placement.executor;
  if (kind === 'local') throw new MloeError('INTERNAL', 'dispatchRemote called for a local step');
  const executor = remote.executors[kind];
  if (executor === undefined) {
    throw new MloeError(
      'CONFIG_INVALID',
      `step ${request.stepId} runs on the ${kind} executor, and this worker has none: start its workers with ` +
        `'mloe worker --executor ${kind}' and route the step to them with 'taskQueue' (docs/executors.md)`,
      { retryable: false },
    );
  }
  const secretRefs = remoteSecretRefs(request, kind);
  if (request.run.image === undefined) {
    throw new MloeError(
      'STEP_COMMAND_INVALID',
      `step ${request.stepId} runs on the ${kind} executor without an image`,
      {
        retryable: false,
      },
    );
  }
  const result = await executor.run(
    {
      stepId: request.index === undefined ? request.stepId : `${request.stepId}-${request.index}`,
      ...(request.index === undefined ? {} : { index: request.index }),
      workflowId: request.workflowId,
      command: request.run.command,
      ...(request.run.env === undefined ? {} : { env: request.run.env }),
      ...(request.run.workingDir === undefined ? {} : { workingDir: request.run.workingDir }),
      params: request.params,
      inputs: request.inputs,
      outputs: request.outputs,
      artifactRoot: context.store.rootUri,
      image: request.run.image,
      placement: request.placement,
      ...secretRefs,
    },
    {
      attempt: context.attempt,
      signal: context.signal,
      progress: remote.progress,
      store: context.store,
      ...(remote.previous === undefined ? {} : { previous: remote.previous }),
      ...(remote.timeoutMs === undefined ? {} : { timeoutMs: remote.timeoutMs }),
    },
  );
  return {
    outputs: result.outputs as StepOutput['outputs'],
    ...(result.metrics === undefined ? {} : { metrics: result.metrics }),
    logs: result.logs as { stdout: JsonValue; stderr: JsonValue },
  };
}

/**
 * A remote step's secrets by reference, never resolved on the worker: on the Kubernetes executor `k8s:` references
 * become `secretKeyRef` variables the kubelet fills from the Secret; on the Batch executor `aws-sm:` and `ssm:`
 * references must be declared in the job definition (the executor checks). Other references are `SECRET_REF_INVALID`:
 * resolving them on the worker would put the value into the job's description.
 */
function remoteSecretRefs(
  request: RunStepRequest & { run: NonNullable<RunStepRequest['run']> },
  kind: 'kubernetes' | 'batch',
): Pick<RemoteCommandRequest, 'secretKeyRefs' | 'awsSecrets'> {
  if (request.run.secrets === undefined) return {};
  const secretKeyRefs: NonNullable<RemoteCommandRequest['secretKeyRefs']> = {};
  const awsSecrets: NonNullable<RemoteCommandRequest['awsSecrets']> = {};
  for (const [name, ref] of parseStepSecrets(request.stepId, request.run.secrets)) {
    if (kind === 'kubernetes' && ref.kind === 'k8s') secretKeyRefs[name] = { secret: ref.secret, key: ref.key };
    else if (kind === 'batch' && (ref.kind === 'aws-sm' || ref.kind === 'ssm'))
      awsSecrets[name] = { kind: ref.kind, valueFrom: ref.valueFrom };
    else {
      throw new MloeError(
        'SECRET_REF_INVALID',
        `step ${request.stepId}: secrets.${name}: ${
          kind === 'kubernetes'
            ? 'steps on the kubernetes executor take Kubernetes secrets only (k8s:secret-name/key)'
            : 'steps on the batch executor take AWS secrets only (aws-sm:<secret ARN> or ssm:<parameter>), declared ' +
              "in the job definition's secrets: a value resolved on the worker would be in the job's description"
        }`,
        { retryable: false },
      );
    }
  }
  return kind === 'kubernetes' ? { secretKeyRefs } : { awsSecrets };
}

async function dispatch(
  implementation: ReturnType<StepImplementations['get']>,
  request: RunStepRequest,
  context: StepContext,
  remote: RemoteDispatch,
): Promise<StepOutput & { logs?: StepLogs }> {
  if (implementation !== undefined && isRemoteBuiltin(request)) {
    return runBuiltinRemotely(implementation, request, context, remote.executors, remote, remote.builtinSteps);
  }
  if (implementation !== undefined) return implementation.run(request.inputs, context);
  if (request.run !== undefined && request.placement !== undefined && request.placement.executor !== 'local') {
    return dispatchRemote({ ...request, run: request.run, placement: request.placement }, context, remote);
  }
  if (request.run !== undefined) {
    // Loaded on first use: workers that never run commands do not load the runner.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runCommandStep } = require('../runner') as typeof import('../runner');
    const secretEnv =
      request.run.secrets === undefined
        ? undefined
        : await resolveStepSecrets(request.stepId, request.run.secrets, remote.secrets ?? { env: {}, fileRoots: [] });
    const result = await runCommandStep(
      {
        stepId: request.index === undefined ? request.stepId : `${request.stepId}-${request.index}`,
        workflowId: request.workflowId,
        command: request.run.command,
        ...(request.run.env === undefined ? {} : { env: request.run.env }),
        ...(request.run.workingDir === undefined
          ? {}
          : { workingDir: resolve(request.workingDir, request.run.workingDir) }),
        params: request.params,
        inputs: request.inputs,
        outputs: request.outputs,
        artifactRoot: context.store.rootUri,
      },
      {
        store: context.store,
        ...(secretEnv === undefined ? {} : { secretEnv, redactor: processRedactor }),
      },
    );
    return {
      outputs: result.outputs as StepOutput['outputs'],
      ...(result.metrics === undefined ? {} : { metrics: result.metrics }),
      logs: result.logs as { stdout: JsonValue; stderr: JsonValue },
    };
  }
  throw new MloeError('INTERNAL', `step ${request.stepId} has neither uses nor run`);
}

function describe(error: unknown): string {
  if (error instanceof MloeError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The failure `runStep` raises: the step's error code as the type, its retryability, and {@link StepFailureDetails}
 * as the first detail. Unexpected errors (not `MloeError`s or `ApplicationFailure`s) stay retryable.
 */
function stepFailure(error: unknown, attempt: number): ApplicationFailure {
  const mapped = toApplicationFailure(error);
  const original = mapped instanceof ApplicationFailure ? mapped : undefined;
  const details: StepFailureDetails = { attempt, details: original?.details ? [...original.details] : [] };
  const cause = original === undefined ? mapped : original.cause;
  return ApplicationFailure.create({
    type: original?.type ?? mapped.name,
    message: mapped.message,
    nonRetryable: original?.nonRetryable ?? false,
    details: [details],
    ...(cause instanceof Error ? { cause } : {}),
  });
}
