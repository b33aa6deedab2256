/**
 * The lineage graph: step executions (from step records) joined through the artifacts they read and wrote. Artifacts
 * are content-addressed, so an artifact is its digest: two runs that produce the same bytes produce the same
 * artifact, and both are its producers.
 *
 * Three relations link an execution to an artifact:
 * - `consumed`: the artifact was one of its inputs;
 * - `produced`: it wrote the artifact (a cache miss, or a step run with the cache disabled);
 * - `reused`: it was a cache hit whose outputs — produced by an earlier run, `cache.sourceWorkflowId` — include the
 *   artifact. A cache hit is an execution of its own, with its own inputs.
 *
 * The graph is built once from all records (maps from digest to executions), so walks are cheap; ~10,000 step
 * records load and index in well under a second.
 */
import { ConfigError, MloeError } from '../../core/errors';
import type { ArtifactType } from '../artifacts/ref';
import type { ArtifactStore } from '../artifacts/store';
import {
  WORKFLOW_ID_PATTERN,
  listRunRecords,
  listStepRecords,
  stepRecordName,
  type ArtifactUse,
  type ListRecordsOptions,
  type RunRecord,
  type StepRecord,
} from './records';

/** Which way a walk goes from an artifact: to what made it, to what used it, or both. */
export type LineageDirection = 'upstream' | 'downstream' | 'both';

/** How an execution relates to an artifact it wrote. */
export type OutputRelation = 'produced' | 'reused';

/** The default number of execution levels a walk follows. */
export const DEFAULT_LINEAGE_DEPTH = 10;

/** The most execution levels a walk follows (walks recurse once per level). */
export const MAX_LINEAGE_DEPTH = 1000;

/** An artifact as the graph knows it: from the step records that mention it. */
export interface ArtifactSummary {
  digest: string;
  type: ArtifactType;
  size: number;
  /** The URI the first record that mentions it gives. */
  uri: string;
}

/** One step execution, without its inputs and outputs. */
export interface ExecutionSummary {
  /** The step record's name: `<workflowId>.<stepId>[.<index>]`. */
  record: string;
  workflowId: string;
  pipeline: string;
  stepId: string;
  index?: number;
  uses: string;
  state: StepRecord['state'];
  attempt: number;
  startedAt: string;
  finishedAt: string;
  cache: StepRecord['cache']['decision'];
  /** For a cache hit: the run whose outputs it reused. */
  sourceWorkflowId?: string;
}

/** An execution that wrote an artifact, and (going further upstream) the artifacts it read. */
export interface UpstreamEdge {
  relation: OutputRelation;
  execution: ExecutionSummary;
  /** The output ports the artifact was on. */
  ports: string[];
  /** For `reused`: the execution of the source run that produced the artifact, when its record exists. */
  source?: ExecutionSummary;
  /** The execution's inputs, each with its own producers; absent when not followed (depth, repetition). */
  inputs?: UpstreamInput[];
  /** The execution was already shown elsewhere in this walk; its inputs are not repeated. */
  repeated?: true;
  /** The depth limit stopped the walk here although the execution has inputs. */
  truncated?: true;
}

/** One input of an upstream execution. */
export interface UpstreamInput {
  port: string;
  artifact: ArtifactSummary;
  producedBy: UpstreamEdge[];
}

/** An execution that read an artifact, and (going further downstream) what it wrote. */
export interface DownstreamEdge {
  execution: ExecutionSummary;
  /** The input ports the artifact was on. */
  ports: string[];
  outputs?: DownstreamOutput[];
  repeated?: true;
  truncated?: true;
}

/** One output of a downstream execution. */
export interface DownstreamOutput {
  port: string;
  relation: OutputRelation;
  artifact: ArtifactSummary;
  consumedBy: DownstreamEdge[];
}

/** The answer of {@link LineageGraph.lineageOfArtifact}. */
export interface ArtifactLineage {
  artifact: ArtifactSummary;
  direction: LineageDirection;
  depth: number;
  /** The executions that wrote the artifact (produced or reused it); absent for `downstream`. */
  upstream?: UpstreamEdge[];
  /** The executions that read it; absent for `upstream`. */
  downstream?: DownstreamEdge[];
}

/** Where an input of a run's step came from. */
export interface InputSource {
  relation: OutputRelation;
  execution: ExecutionSummary;
  /** The execution belongs to the run being described. */
  sameRun: boolean;
}

/** One step execution of a run, with its artifacts. */
export interface RunStepLineage {
  stepId: string;
  index?: number;
  uses: string;
  /** The step's state: from its record when there is one, else from the run record (skipped, cancelled, ...). */
  state: string;
  /** False for a step the run record lists but no execution record exists for (skipped, not reached, running). */
  recorded: boolean;
  execution?: ExecutionSummary;
  error?: string;
  inputs: {
    port: string;
    artifact: ArtifactSummary;
    /** Executions that wrote this artifact before this step started: this run's first, then the latest. */
    producedBy: InputSource[];
  }[];
  outputs: {
    port: string;
    artifact: ArtifactSummary;
    relation: OutputRelation;
    /** For `reused`: the execution of the source run that produced it, when its record exists. */
    source?: ExecutionSummary;
  }[];
}

/** The answer of {@link LineageGraph.lineageOfRun}. */
export interface RunLineage {
  workflowId: string;
  pipeline: string;
  /** The run record, without its step summaries (the steps are below); absent when only step records exist. */
  run?: Omit<RunRecord, 'steps'>;
  steps: RunStepLineage[];
}

/** What a `mloe lineage` argument names. */
export type LineageTarget = { kind: 'run'; workflowId: string } | { kind: 'artifact'; digest: string };

/** Options of {@link LineageGraph.lineageOfArtifact}. */
export interface ArtifactLineageOptions {
  direction?: LineageDirection;
  /** Execution levels to follow (default {@link DEFAULT_LINEAGE_DEPTH}); 0 shows the artifact alone. */
  depth?: number;
}

/** Options of {@link LineageGraph.fromRecords}. */
export interface LineageGraphOptions {
  /** Where the records came from (a store's root URI), for error messages. */
  source?: string;
}

interface Execution {
  record: StepRecord;
  summary: ExecutionSummary;
  startedMs: number;
  finishedMs: number;
}

/** Appends to the list under `key`, creating it. */
function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function byTime(a: Execution, b: Execution): number {
  if (a.startedMs !== b.startedMs) return a.startedMs - b.startedMs;
  return a.summary.record < b.summary.record ? -1 : a.summary.record > b.summary.record ? 1 : 0;
}

function distinct<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/** The producer/consumer graph over a set of step records (and, optionally, run records). */
export class LineageGraph {
  /** Where the records came from, for messages. */
  readonly source: string;
  readonly #executions: Execution[];
  readonly #writers = new Map<string, { execution: Execution; relation: OutputRelation }[]>();
  readonly #readers = new Map<string, Execution[]>();
  readonly #artifacts = new Map<string, ArtifactSummary>();
  readonly #byRun = new Map<string, Execution[]>();
  readonly #runs = new Map<string, RunRecord>();
  #sortedDigests: string[] | undefined;

  private constructor(steps: readonly StepRecord[], runs: readonly RunRecord[], options: LineageGraphOptions) {
    this.source = options.source ?? 'the given records';
    this.#executions = steps
      .map((record) => ({
        record,
        summary: summarize(record),
        startedMs: Date.parse(record.startedAt),
        finishedMs: Date.parse(record.finishedAt),
      }))
      .sort(byTime);
    for (const run of runs) this.#runs.set(run.workflowId, run);
    for (const execution of this.#executions) {
      const { record } = execution;
      push(this.#byRun, record.workflowId, execution);
      for (const use of record.inputs) this.#remember(use);
      for (const digest of distinct(record.inputs.map((use) => use.digest))) push(this.#readers, digest, execution);
      const relation: OutputRelation = record.cache.decision === 'hit' ? 'reused' : 'produced';
      for (const use of record.outputs) this.#remember(use);
      for (const digest of distinct(record.outputs.map((use) => use.digest))) {
        push(this.#writers, digest, { execution, relation });
      }
    }
  }

  /** Builds the graph from records already read (tests, or records from elsewhere). */
  static fromRecords(
    steps: readonly StepRecord[],
    runs: readonly RunRecord[] = [],
    options: LineageGraphOptions = {},
  ): LineageGraph {
    return new LineageGraph(steps, runs, options);
  }

  /** Reads every step and run record of a store and builds the graph. */
  static async load(store: ArtifactStore, options: ListRecordsOptions = {}): Promise<LineageGraph> {
    const [steps, runs] = await Promise.all([
      listStepRecords(store, undefined, options),
      listRunRecords(store, options),
    ]);
    return new LineageGraph(steps, runs, { source: store.rootUri });
  }

  /** How many step executions the graph holds. */
  get size(): number {
    return this.#executions.length;
  }

  #remember(use: ArtifactUse): void {
    if (!this.#artifacts.has(use.digest)) {
      this.#artifacts.set(use.digest, { digest: use.digest, type: use.type, size: use.size, uri: use.uri });
      this.#sortedDigests = undefined;
    }
  }

  /** The artifact with this digest, when a record mentions it. */
  artifact(digest: string): ArtifactSummary | undefined {
    return this.#artifacts.get(digest);
  }

  /** Whether any record (step or run) belongs to this run. */
  hasRun(workflowId: string): boolean {
    return this.#byRun.has(workflowId) || this.#runs.has(workflowId);
  }

  /** The executions that wrote an artifact (produced or, as cache hits, reused it), oldest first. */
  writersOf(digest: string): { execution: ExecutionSummary; relation: OutputRelation }[] {
    return (this.#writers.get(digest) ?? []).map(({ execution, relation }) => ({
      execution: execution.summary,
      relation,
    }));
  }

  /** The executions that read an artifact, oldest first. */
  readersOf(digest: string): ExecutionSummary[] {
    return (this.#readers.get(digest) ?? []).map((execution) => execution.summary);
  }

  /**
   * What a user's argument names: a run id with records, an artifact URI (`…/sha256/<ab>/<hex>`), a digest
   * (`sha256:<64 hex>`) or a unique prefix of at least 8 hex digits (`sha256:` optional) of a digest the records
   * mention. `ARTIFACT_NOT_FOUND` when nothing matches, saying what was looked for and where; `CONFIG_INVALID` for
   * an ambiguous prefix (listing candidates) or an argument of none of these forms.
   */
  resolve(target: string): LineageTarget {
    const text = target.trim();
    if (WORKFLOW_ID_PATTERN.test(text) && this.hasRun(text)) return { kind: 'run', workflowId: text };
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      const match = /\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(text);
      if (match === null || !(match[2] ?? '').startsWith(match[1] ?? '')) {
        throw new ConfigError(`"${text}" is not an artifact URI: expected …/sha256/<ab>/<64 hex digits>`);
      }
      const digest = `sha256:${match[2] ?? ''}`;
      if (this.#artifacts.has(digest)) return { kind: 'artifact', digest };
      throw new MloeError(
        'ARTIFACT_NOT_FOUND',
        `no step record in ${this.source} mentions artifact ${digest} (from ${text}): no run read or wrote it`,
      );
    }
    const hexMatch = /^(?:sha256:)?([0-9a-fA-F]+)$/.exec(text);
    if (hexMatch !== null && !text.startsWith('pipeline-')) {
      const hex = (hexMatch[1] ?? '').toLowerCase();
      if (hex.length < 8 || hex.length > 64) {
        throw new ConfigError(`digest prefix "${text}" must have 8 to 64 hex digits`);
      }
      const matches = this.#digestsStartingWith(hex);
      if (matches.length === 1 && matches[0] !== undefined) return { kind: 'artifact', digest: matches[0] };
      if (matches.length === 0) {
        throw new MloeError(
          'ARTIFACT_NOT_FOUND',
          `no artifact whose digest starts with ${hex} is mentioned by the ${this.size} step records in ${this.source}`,
        );
      }
      const shown = matches.slice(0, 5).map((digest) => `${digest} (${this.#artifacts.get(digest)?.type ?? '?'})`);
      throw new ConfigError(
        `digest prefix ${hex} is ambiguous in ${this.source}: it matches ${shown.join(', ')}${
          matches.length > 5 ? ` and ${matches.length - 5} more` : ''
        }; give more digits`,
      );
    }
    if (WORKFLOW_ID_PATTERN.test(text)) {
      throw new MloeError(
        'ARTIFACT_NOT_FOUND',
        `no run ${text} in ${this.source}: neither records/runs/${text}.json nor records/steps/${text}.*.json exists`,
      );
    }
    throw new ConfigError(
      `"${text}" is not a run id (a workflow id such as housing-price-01JF3Y8Z6KQ4W5ZP0B4N3C2V1D), an artifact URI (file://…, s3://…) or a digest ` +
        '(sha256:<hex>, or at least 8 hex digits)',
    );
  }

  #digestsStartingWith(hex: string): string[] {
    this.#sortedDigests ??= [...this.#artifacts.keys()].sort();
    const digests = this.#sortedDigests;
    const prefix = `sha256:${hex}`;
    let low = 0;
    let high = digests.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((digests[middle] ?? '') < prefix) low = middle + 1;
      else high = middle;
    }
    const matches: string[] = [];
    for (let i = low; i < digests.length && (digests[i] ?? '').startsWith(prefix); i += 1) {
      matches.push(digests[i] ?? '');
    }
    return matches;
  }

  /**
   * The lineage of one artifact (a digest, URI or prefix, see {@link LineageGraph.resolve}): upstream, the
   * executions that wrote it, their inputs and those inputs' writers, and so on; downstream, the executions that read
   * it, their outputs and those outputs' readers. Beyond the artifact itself, only writers that finished before the
   * reading execution started (and readers that started after the writing one finished) count: the same bytes made
   * again later are not where an earlier run got them. Each execution is expanded once per walk (later mentions are
   * marked `repeated`), and at most `depth` levels deep (cut-off executions are marked `truncated`).
   */
  lineageOfArtifact(target: string, options: ArtifactLineageOptions = {}): ArtifactLineage {
    const resolved = this.resolve(target);
    if (resolved.kind !== 'artifact') {
      throw new ConfigError(`"${target}" names run ${resolved.workflowId}, not an artifact: use lineageOfRun`);
    }
    const direction = options.direction ?? 'both';
    const depth = options.depth ?? DEFAULT_LINEAGE_DEPTH;
    if (!Number.isSafeInteger(depth) || depth < 0 || depth > MAX_LINEAGE_DEPTH) {
      throw new ConfigError(`depth must be an integer from 0 to ${MAX_LINEAGE_DEPTH}, got ${String(depth)}`);
    }
    const artifact = this.#artifacts.get(resolved.digest);
    if (artifact === undefined) throw new MloeError('INTERNAL', `resolved digest ${resolved.digest} is not indexed`);
    return {
      artifact,
      direction,
      depth,
      ...(direction === 'downstream' ? {} : { upstream: this.#upstream(artifact.digest, depth, new Set()) }),
      ...(direction === 'upstream' ? {} : { downstream: this.#downstream(artifact.digest, depth, new Set()) }),
    };
  }

  /** The writers of `digest` (those that finished by `before`, when given), expanded `depth` levels up. */
  #upstream(digest: string, depth: number, seen: Set<Execution>, before?: number): UpstreamEdge[] {
    if (depth <= 0) return [];
    const writers = (this.#writers.get(digest) ?? []).filter(
      ({ execution }) => before === undefined || execution.finishedMs <= before,
    );
    return writers.map(({ execution, relation }) => {
      const edge: UpstreamEdge = {
        relation,
        execution: execution.summary,
        ports: distinct(execution.record.outputs.filter((use) => use.digest === digest).map((use) => use.port)),
      };
      const source = relation === 'reused' ? this.#sourceOf(execution, digest) : undefined;
      if (source !== undefined) edge.source = source.summary;
      if (seen.has(execution)) {
        edge.repeated = true;
        return edge;
      }
      seen.add(execution);
      if (depth === 1) {
        if (execution.record.inputs.length > 0) edge.truncated = true;
        return edge;
      }
      edge.inputs = execution.record.inputs.map((use) => ({
        port: use.port,
        artifact: this.#artifacts.get(use.digest) ?? summaryOf(use),
        producedBy: this.#upstream(use.digest, depth - 1, seen, execution.startedMs),
      }));
      return edge;
    });
  }

  /** The readers of `digest` (those that started from `after` on, when given), expanded `depth` levels down. */
  #downstream(digest: string, depth: number, seen: Set<Execution>, after?: number): DownstreamEdge[] {
    if (depth <= 0) return [];
    const readers = (this.#readers.get(digest) ?? []).filter(
      (execution) => after === undefined || execution.startedMs >= after,
    );
    return readers.map((execution) => {
      const edge: DownstreamEdge = {
        execution: execution.summary,
        ports: distinct(execution.record.inputs.filter((use) => use.digest === digest).map((use) => use.port)),
      };
      if (seen.has(execution)) {
        edge.repeated = true;
        return edge;
      }
      seen.add(execution);
      if (depth === 1) {
        if (execution.record.outputs.length > 0) edge.truncated = true;
        return edge;
      }
      const relation: OutputRelation = execution.record.cache.decision === 'hit' ? 'reused' : 'produced';
      edge.outputs = execution.record.outputs.map((use) => ({
        port: use.port,
        relation,
        artifact: this.#artifacts.get(use.digest) ?? summaryOf(use),
        consumedBy: this.#downstream(use.digest, depth - 1, seen, execution.finishedMs),
      }));
      return edge;
    });
  }

  /** For a cache hit: the execution of its source run that produced `digest` (same step preferred). */
  #sourceOf(execution: Execution, digest: string): Execution | undefined {
    const sourceWorkflowId = execution.record.cache.sourceWorkflowId;
    if (sourceWorkflowId === undefined) return undefined;
    const candidates = (this.#writers.get(digest) ?? [])
      .map((writer) => writer.execution)
      .filter((candidate) => candidate.record.workflowId === sourceWorkflowId);
    return candidates.find((candidate) => candidate.record.stepId === execution.record.stepId) ?? candidates[0];
  }

  /**
   * A run's steps with their inputs and outputs: for each input, the executions (of this run or earlier ones) that
   * wrote it before the step started; for each output, whether it was produced or reused (and from which execution).
   * Steps the run record lists without an execution record (skipped, not reached) appear with `recorded: false`.
   * `ARTIFACT_NOT_FOUND` when there is no record of the run.
   */
  lineageOfRun(workflowId: string): RunLineage {
    const executions = this.#byRun.get(workflowId) ?? [];
    const run = this.#runs.get(workflowId);
    if (executions.length === 0 && run === undefined) {
      throw new MloeError(
        'ARTIFACT_NOT_FOUND',
        `no run ${workflowId} in ${this.source}: neither records/runs/${workflowId}.json nor records/steps/${workflowId}.*.json exists`,
      );
    }
    const steps: RunStepLineage[] = [];
    const order = run?.steps.map((step) => step.id) ?? [];
    const byStep = new Map<string, Execution[]>();
    for (const execution of executions) push(byStep, execution.record.stepId, execution);
    const stepIds = distinct([...order, ...executions.map((execution) => execution.record.stepId)]);
    for (const stepId of stepIds) {
      const recorded = (byStep.get(stepId) ?? []).sort(
        (a, b) => (a.record.index ?? -1) - (b.record.index ?? -1) || byTime(a, b),
      );
      if (recorded.length === 0) {
        const summary = run?.steps.find((step) => step.id === stepId);
        if (summary !== undefined) {
          steps.push({
            stepId,
            uses: summary.uses,
            state: summary.state,
            recorded: false,
            ...(summary.error === undefined ? {} : { error: summary.error }),
            inputs: [],
            outputs: [],
          });
        }
        continue;
      }
      for (const execution of recorded) steps.push(this.#stepLineage(execution));
    }
    const pipeline = run?.pipeline ?? executions[0]?.record.pipeline ?? '';
    let runWithoutSteps: Omit<RunRecord, 'steps'> | undefined;
    if (run !== undefined) {
      const { steps: _steps, ...rest } = run;
      runWithoutSteps = rest;
    }
    return { workflowId, pipeline, ...(runWithoutSteps === undefined ? {} : { run: runWithoutSteps }), steps };
  }

  #stepLineage(execution: Execution): RunStepLineage {
    const { record } = execution;
    const started = execution.startedMs;
    const relation: OutputRelation = record.cache.decision === 'hit' ? 'reused' : 'produced';
    return {
      stepId: record.stepId,
      ...(record.index === undefined ? {} : { index: record.index }),
      uses: record.uses,
      state: record.state,
      recorded: true,
      execution: execution.summary,
      ...(record.error === undefined ? {} : { error: record.error }),
      inputs: record.inputs.map((use) => {
        const writers = (this.#writers.get(use.digest) ?? []).filter(
          (writer) => writer.execution !== execution && writer.execution.finishedMs <= started,
        );
        const producedBy = writers
          .map((writer) => ({
            relation: writer.relation,
            execution: writer.execution.summary,
            sameRun: writer.execution.record.workflowId === record.workflowId,
          }))
          .sort(
            (a, b) =>
              Number(b.sameRun) - Number(a.sameRun) ||
              Date.parse(b.execution.finishedAt) - Date.parse(a.execution.finishedAt),
          );
        return { port: use.port, artifact: this.#artifacts.get(use.digest) ?? summaryOf(use), producedBy };
      }),
      outputs: record.outputs.map((use) => {
        const source = relation === 'reused' ? this.#sourceOf(execution, use.digest) : undefined;
        return {
          port: use.port,
          artifact: this.#artifacts.get(use.digest) ?? summaryOf(use),
          relation,
          ...(source === undefined ? {} : { source: source.summary }),
        };
      }),
    };
  }
}

function summaryOf(use: ArtifactUse): ArtifactSummary {
  return { digest: use.digest, type: use.type, size: use.size, uri: use.uri };
}

function summarize(record: StepRecord): ExecutionSummary {
  return {
    record: stepRecordName(record.workflowId, record.stepId, record.index),
    workflowId: record.workflowId,
    pipeline: record.pipeline,
    stepId: record.stepId,
    ...(record.index === undefined ? {} : { index: record.index }),
    uses: record.uses,
    state: record.state,
    attempt: record.attempt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    cache: record.cache.decision,
    ...(record.cache.sourceWorkflowId === undefined ? {} : { sourceWorkflowId: record.cache.sourceWorkflowId }),
  };
}
