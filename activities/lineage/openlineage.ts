/**
 * Pure builders of OpenLineage `RunEvent`s (spec 2-0-2) for pipeline runs and step executions. Nothing here does I/O
 * or reads a clock: event times come from the records, and run ids are name-based UUIDs (v5) derived from the mloe
 * run id, step id and `foreach` index, so every attempt of a step — and the START and the COMPLETE of it — report the
 * same OpenLineage run.
 *
 * The shape: a pipeline run is the job `<pipeline>`; each step is the job `<pipeline>.<stepId>`, whose runs carry a
 * `parent` facet pointing at the pipeline run. Artifacts are datasets named by digest in the namespace of their
 * store's root URI, with an `mloe_artifact` facet (type, digest, size, URI, ports).
 */
import { createHash } from 'node:crypto';

import { z } from 'zod';

import packageJson from '../../package.json';
import type { ArtifactUse, RunRecord, StepCache, StepRecord } from './records';

/** The OpenLineage spec version the events follow. */
export const OPENLINEAGE_SPEC_VERSION = '2-0-2';

/** `schemaURL` of every event mloe emits. */
export const RUN_EVENT_SCHEMA_URL = `https://openlineage.io/spec/${OPENLINEAGE_SPEC_VERSION}/OpenLineage.json#/$defs/RunEvent`;

/** `producer` of mloe's events and facets: the source tree of this version. */
export const MLOE_PRODUCER = `https://github.com/mloe-dev/mloe/tree/${packageJson.version}`;

/** Where mloe's custom facets are described (their `_schemaURL`s point into it). */
const MLOE_FACETS_URL = `${MLOE_PRODUCER}/docs/lineage.md`;

/** `_schemaURL` of the standard facets mloe sets. */
export const FACET_SCHEMA_URLS = {
  parent: 'https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet',
  errorMessage: 'https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet',
  jobType: 'https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet',
  processingEngine:
    'https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet',
  mloeArtifact: `${MLOE_FACETS_URL}#mloe_artifact`,
  mloeRun: `${MLOE_FACETS_URL}#mloe_run`,
  mloeStep: `${MLOE_FACETS_URL}#mloe_step`,
} as const;

/** The event types mloe emits: `ABORT` is a cancelled run. */
export type LineageEventType = 'START' | 'COMPLETE' | 'FAIL' | 'ABORT';

/** What every facet carries. */
export interface BaseFacet {
  _producer: string;
  _schemaURL: string;
  [field: string]: unknown;
}

/** A dataset in an event. */
export interface Dataset {
  namespace: string;
  name: string;
  facets?: Record<string, BaseFacet>;
}

/** An OpenLineage `RunEvent` as mloe builds it (a subset of the spec: no `inputFacets`/`outputFacets`). */
export interface RunEvent {
  eventType: LineageEventType;
  eventTime: string;
  run: { runId: string; facets?: Record<string, BaseFacet> };
  job: { namespace: string; name: string; facets?: Record<string, BaseFacet> };
  inputs: Dataset[];
  outputs: Dataset[];
  producer: string;
  schemaURL: string;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const facetSchema = z.looseObject({ _producer: z.url(), _schemaURL: z.url() });
const datasetSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  facets: z.record(z.string(), facetSchema).optional(),
});

/**
 * Schema of a `RunEvent` with the fields the 2-0-2 spec requires (and mloe always sets): event type and time, a run
 * with a UUID, a job with namespace and name, datasets with namespace and name, producer and schema URL, and facets
 * that carry `_producer` and `_schemaURL`. Used by tests and by anyone checking events before sending them.
 */
export const runEventSchema = z.object({
  eventType: z.enum(['START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER']),
  eventTime: z.iso.datetime({ offset: true }),
  run: z.object({
    runId: z.string().regex(UUID_PATTERN, 'expected a UUID'),
    facets: z.record(z.string(), facetSchema).optional(),
  }),
  job: z.object({
    namespace: z.string().min(1),
    name: z.string().min(1),
    facets: z.record(z.string(), facetSchema).optional(),
  }),
  inputs: z.array(datasetSchema).optional(),
  outputs: z.array(datasetSchema).optional(),
  producer: z.url(),
  schemaURL: z.url(),
});

/**
 * A name-based UUID (version 5, RFC 9562): sha1 of the namespace's 16 bytes and the name's UTF-8, with the version
 * and variant bits set. The same name always gives the same UUID.
 */
export function uuidV5(name: string, namespace: string): string {
  const hex = namespace.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a UUID: ${namespace}`);
  const bytes = createHash('sha1').update(Buffer.from(hex, 'hex')).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const out = bytes.toString('hex');
  return `${out.slice(0, 8)}-${out.slice(8, 12)}-${out.slice(12, 16)}-${out.slice(16, 20)}-${out.slice(20)}`;
}

/** RFC 9562's namespace for URLs. */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** mloe's own UUID namespace: the v5 UUID of its repository URL. */
export const MLOE_UUID_NAMESPACE = uuidV5('https://github.com/mloe-dev/mloe', URL_NAMESPACE);

/**
 * The OpenLineage run id of a pipeline run (`stepId` omitted) or of one step execution (`index` for a `foreach`
 * iteration). Deterministic, so retries and the START/COMPLETE pair of an execution agree without shared state.
 */
export function lineageRunId(workflowId: string, stepId?: string, index?: number): string {
  const name =
    stepId === undefined
      ? `mloe:run:${workflowId}`
      : `mloe:step:${workflowId}/${stepId}${index === undefined ? '' : `/${index}`}`;
  return uuidV5(name, MLOE_UUID_NAMESPACE);
}

/** The job name of a pipeline (`<pipeline>`) or of one of its steps (`<pipeline>.<stepId>`). */
export function lineageJobName(pipeline: string, stepId?: string): string {
  return stepId === undefined ? pipeline : `${pipeline}.${stepId}`;
}

/** Options of the event builders. */
export interface LineageEventOptions {
  /** The job namespace (`OPENLINEAGE_NAMESPACE`, default `mloe`). */
  namespace: string;
  /** Overrides the time taken from the record (START: `startedAt`; others: `finishedAt`). */
  eventTime?: string;
  /** Defaults to {@link MLOE_PRODUCER}. */
  producer?: string;
}

/** What a pipeline event needs of a run: a {@link RunRecord} fits, so does a run that has only just started. */
export type PipelineRunInfo = Pick<RunRecord, 'workflowId' | 'pipeline' | 'startedAt'> &
  Partial<Pick<RunRecord, 'finishedAt' | 'error' | 'specHash' | 'temporalRunId' | 'namespace' | 'gitCommit'>>;

/**
 * What a step event needs of an execution: a {@link StepRecord} fits; a START event is built before the outputs,
 * the cache decision and the end time are known.
 */
export type StepExecutionInfo = Pick<StepRecord, 'workflowId' | 'pipeline' | 'stepId' | 'uses' | 'startedAt'> &
  Partial<Pick<StepRecord, 'index' | 'attempt' | 'finishedAt' | 'durationMs' | 'error' | 'inputs' | 'outputs'>> & {
    cache?: StepCache;
  };

/** The event type that reports a run record's state; `START` while it runs. */
export function runEventType(state: RunRecord['state']): LineageEventType {
  switch (state) {
    case 'running':
      return 'START';
    case 'completed':
      return 'COMPLETE';
    case 'failed':
      return 'FAIL';
    case 'cancelled':
      return 'ABORT';
  }
}

/** The event type that reports a finished step execution. */
export function stepEventType(state: StepRecord['state']): LineageEventType {
  return state === 'completed' ? 'COMPLETE' : 'FAIL';
}

/** The event of a pipeline run: job `<pipeline>`, no datasets (its steps report those). */
export function pipelineRunEvent(
  run: PipelineRunInfo,
  eventType: LineageEventType,
  options: LineageEventOptions,
): RunEvent {
  const producer = options.producer ?? MLOE_PRODUCER;
  const facets: Record<string, BaseFacet> = {
    processing_engine: processingEngineFacet(producer),
    mloe_run: {
      _producer: producer,
      _schemaURL: FACET_SCHEMA_URLS.mloeRun,
      workflowId: run.workflowId,
      ...(run.temporalRunId === undefined ? {} : { temporalRunId: run.temporalRunId }),
      ...(run.namespace === undefined ? {} : { temporalNamespace: run.namespace }),
      ...(run.specHash === undefined ? {} : { specHash: run.specHash }),
      ...(run.gitCommit === undefined ? {} : { gitCommit: run.gitCommit }),
    },
  };
  if (eventType === 'FAIL' || eventType === 'ABORT') {
    const message = run.error ?? (eventType === 'ABORT' ? 'the run was cancelled' : 'the run failed');
    facets.errorMessage = errorMessageFacet(message, producer);
  }
  return {
    eventType,
    eventTime: options.eventTime ?? eventTimeOf(eventType, run.startedAt, run.finishedAt),
    run: { runId: lineageRunId(run.workflowId), facets },
    job: {
      namespace: options.namespace,
      name: lineageJobName(run.pipeline),
      facets: { jobType: jobTypeFacet('PIPELINE', producer) },
    },
    inputs: [],
    outputs: [],
    producer,
    schemaURL: RUN_EVENT_SCHEMA_URL,
  };
}

/**
 * The event of one step execution: job `<pipeline>.<stepId>`, a `parent` facet naming the pipeline run, the input
 * artifacts (and, once finished, the outputs; for a cache hit the reused ones), an `errorMessage` facet on FAIL.
 */
export function stepRunEvent(
  step: StepExecutionInfo,
  eventType: LineageEventType,
  options: LineageEventOptions,
): RunEvent {
  const producer = options.producer ?? MLOE_PRODUCER;
  const pipelineJob = { namespace: options.namespace, name: lineageJobName(step.pipeline) };
  const pipelineRun = { runId: lineageRunId(step.workflowId) };
  const facets: Record<string, BaseFacet> = {
    parent: {
      _producer: producer,
      _schemaURL: FACET_SCHEMA_URLS.parent,
      run: pipelineRun,
      job: pipelineJob,
      root: { run: pipelineRun, job: pipelineJob },
    },
    processing_engine: processingEngineFacet(producer),
    mloe_step: {
      _producer: producer,
      _schemaURL: FACET_SCHEMA_URLS.mloeStep,
      workflowId: step.workflowId,
      stepId: step.stepId,
      ...(step.index === undefined ? {} : { index: step.index }),
      uses: step.uses,
      ...(step.attempt === undefined ? {} : { attempt: step.attempt }),
      ...(step.durationMs === undefined ? {} : { durationMs: step.durationMs }),
      ...(step.cache === undefined
        ? {}
        : {
            cache: {
              decision: step.cache.decision,
              ...(step.cache.key === undefined ? {} : { key: step.cache.key }),
              ...(step.cache.sourceWorkflowId === undefined ? {} : { sourceWorkflowId: step.cache.sourceWorkflowId }),
            },
          }),
    },
  };
  if (eventType === 'FAIL' || eventType === 'ABORT') {
    const message = step.error ?? (eventType === 'ABORT' ? 'the step was cancelled' : 'the step failed');
    facets.errorMessage = errorMessageFacet(message, producer);
  }
  return {
    eventType,
    eventTime: options.eventTime ?? eventTimeOf(eventType, step.startedAt, step.finishedAt),
    run: { runId: lineageRunId(step.workflowId, step.stepId, step.index), facets },
    job: {
      namespace: options.namespace,
      name: lineageJobName(step.pipeline, step.stepId),
      facets: { jobType: jobTypeFacet('STEP', producer) },
    },
    inputs: datasets(step.inputs ?? [], producer),
    outputs: eventType === 'START' ? [] : datasets(step.outputs ?? [], producer),
    producer,
    schemaURL: RUN_EVENT_SCHEMA_URL,
  };
}

function eventTimeOf(eventType: LineageEventType, startedAt: string, finishedAt: string | undefined): string {
  return eventType === 'START' ? startedAt : (finishedAt ?? startedAt);
}

function processingEngineFacet(producer: string): BaseFacet {
  return {
    _producer: producer,
    _schemaURL: FACET_SCHEMA_URLS.processingEngine,
    name: 'mloe',
    version: packageJson.version,
    openlineageAdapterVersion: packageJson.version,
  };
}

function jobTypeFacet(jobType: 'PIPELINE' | 'STEP', producer: string): BaseFacet {
  return {
    _producer: producer,
    _schemaURL: FACET_SCHEMA_URLS.jobType,
    processingType: 'BATCH',
    integration: 'MLOE',
    jobType,
  };
}

function errorMessageFacet(message: string, producer: string): BaseFacet {
  return {
    _producer: producer,
    _schemaURL: FACET_SCHEMA_URLS.errorMessage,
    message,
    programmingLanguage: 'TypeScript',
  };
}

/** The store root an artifact URI belongs to (`…/sha256/<ab>/<hex>` removed): the dataset namespace. */
export function datasetNamespace(uri: string): string {
  const match = /^(.*)\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/.exec(uri);
  if (match?.[1] !== undefined && match[1] !== '') return match[1];
  const slash = uri.lastIndexOf('/');
  return slash > 0 ? uri.slice(0, slash) : uri;
}

/** One dataset per distinct artifact (by digest), in first-use order, with the ports it was bound to. */
function datasets(uses: readonly ArtifactUse[], producer: string): Dataset[] {
  const byDigest = new Map<string, { use: ArtifactUse; ports: string[] }>();
  for (const use of uses) {
    const entry = byDigest.get(use.digest);
    if (entry === undefined) byDigest.set(use.digest, { use, ports: [use.port] });
    else if (!entry.ports.includes(use.port)) entry.ports.push(use.port);
  }
  return [...byDigest.values()].map(({ use, ports }) => ({
    namespace: datasetNamespace(use.uri),
    name: use.digest,
    facets: {
      mloe_artifact: {
        _producer: producer,
        _schemaURL: FACET_SCHEMA_URLS.mloeArtifact,
        type: use.type,
        digest: use.digest,
        size: use.size,
        uri: use.uri,
        ports,
      },
    },
  }));
}
