/**
 * Lineage: run and step records in a real file store, the producer/consumer graph over them (two runs of an
 * ingest → featurize → train pipeline, the second with a cache hit), OpenLineage events checked against the 2-0-2
 * required fields, delivery over HTTP to a real local server and to a file, configuration from the environment, and
 * `mloe lineage` output.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { MockActivityEnvironment } from '@temporalio/testing';

import { FileArtifactStore, putJson, type ArtifactRef } from '../activities/artifacts';
import {
  LINEAGE_ENV,
  LineageGraph,
  MLOE_PRODUCER,
  RUN_EVENT_SCHEMA_URL,
  artifactUses,
  createLineageActivities,
  createLineageEmitter,
  describeLineageConfig,
  emitStepStart,
  lineageConfigFromEnv,
  lineageRunId,
  listRunRecords,
  listStepRecords,
  parseStepRecordName,
  pipelineRunEvent,
  readRunRecord,
  readStepRecord,
  recordStepExecution,
  runEventSchema,
  stepRecordName,
  stepRunEvent,
  uuidV5,
  writeRunRecord,
  writeStepRecord,
  type ArtifactUse,
  type LineageConfig,
  type LineageLogger,
  type RecordRunInput,
  type RunEvent,
  type RunRecord,
  type StepRecord,
} from '../activities/lineage';
import { ConfigError, MloeError } from '../core/errors';
import { runLineage } from '../clients/lineage';
import { suiteTemporaryDirectories } from './temporary-directories';

const temporaryDirectory = suiteTemporaryDirectories('mloe-lineage-test-');

/** A logger that remembers what it was told. */
function recordingLogger(): LineageLogger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (message) => warnings.push(message), info: (message) => infos.push(message) };
}

const RUN_A = 'demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1A';
const RUN_B = 'demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1B';
/** The Temporal run id of each fixture run's first execution: the owner of its records. */
function ownerOf(workflowId: string): string {
  return workflowId === RUN_A ? '1f000000-0000-4000-8000-00000000000a' : '1f000000-0000-4000-8000-00000000000b';
}
const ROOT = '/data/store';

/** A digest from a readable tag: the tag's hex padded (tests choose the prefixes, e.g. for ambiguity). */
function digestOf(hexPrefix: string): string {
  return `sha256:${hexPrefix.padEnd(64, '0')}`;
}

function use(port: string, hexPrefix: string, type: ArtifactUse['type'] = 'dataset', size = 100): ArtifactUse {
  const digest = digestOf(hexPrefix);
  const hex = digest.slice('sha256:'.length);
  return { port, uri: `file://${ROOT}/sha256/${hex.slice(0, 2)}/${hex}`, digest, type, size };
}

function at(minute: number): string {
  return new Date(Date.UTC(2025, 0, 1, 12, minute)).toISOString();
}

function step(
  workflowId: string,
  stepId: string,
  minute: number,
  inputs: ArtifactUse[],
  outputs: ArtifactUse[],
  cache: StepRecord['cache'] = { decision: 'miss', key: 'k'.repeat(64), reasons: ['never cached'] },
  extra: Partial<StepRecord> = {},
): StepRecord {
  return {
    version: 2,
    workflowId,
    firstExecutionRunId: ownerOf(workflowId),
    pipeline: 'demo',
    stepId,
    uses: `${stepId}@1`,
    attempt: 1,
    startedAt: at(minute),
    finishedAt: at(minute + 1),
    durationMs: 60_000,
    state: 'completed',
    cache,
    inputs,
    outputs,
    ...extra,
  };
}

// The artifacts: a raw CSV from outside, the ingested dataset, the features, two models and metrics.
const RAW = use('source', 'feed0001', 'file');
const DATA = use('dataset', 'da7a0001');
const FEATURES = use('features', 'fea70001');
const MODEL_A = use('model', 'a0de1001', 'model', 2048);
const MODEL_B = use('model', 'b0de1002', 'model', 4096);
const METRICS = use('metrics', '3e7c0001', 'metrics');

/**
 * Run A: ingest → featurize → train, all cache misses. Run B, later: ingest again with the cache disabled (same bytes),
 * featurize a cache hit reusing run A's features, train on them with other parameters, evaluate.
 */
function fixtureSteps(): StepRecord[] {
  return [
    step(RUN_A, 'ingest', 0, [RAW], [DATA]),
    step(RUN_A, 'featurize', 2, [{ ...DATA }], [FEATURES]),
    step(RUN_A, 'train', 4, [{ ...FEATURES }], [MODEL_A]),
    step(RUN_B, 'ingest', 10, [RAW], [DATA], { decision: 'disabled', reasons: ['--no-cache'] }),
    step(RUN_B, 'featurize', 12, [{ ...DATA }], [FEATURES], {
      decision: 'hit',
      key: 'f'.repeat(64),
      reasons: [`outputs of ${RUN_A}`],
      sourceWorkflowId: RUN_A,
    }),
    step(RUN_B, 'train', 14, [{ ...FEATURES }], [MODEL_B]),
    step(
      RUN_B,
      'evaluate',
      16,
      [
        { ...MODEL_B, port: 'model' },
        { ...DATA, port: 'data' },
      ],
      [METRICS],
    ),
  ];
}

function runRecord(
  workflowId: string,
  state: RunRecord['state'] = 'completed',
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    version: 2,
    workflowId,
    temporalRunId: '7f0c6c1e-0000-4000-8000-000000000001',
    firstExecutionRunId: ownerOf(workflowId),
    namespace: 'default',
    pipeline: 'demo',
    specHash: 'c'.repeat(64),
    mloeVersion: '0.1.0',
    params: { alpha: 0.5, target: 'price' },
    state,
    startedAt: at(workflowId === RUN_A ? 0 : 10),
    ...(state === 'running' ? {} : { finishedAt: at(workflowId === RUN_A ? 6 : 18) }),
    artifactStore: `file://${ROOT}`,
    steps: [
      { id: 'ingest', uses: 'ingest@1', state: 'completed', attempts: 1, cache: 'miss' },
      { id: 'featurize', uses: 'featurize@1', state: 'completed', attempts: 1, cache: 'miss' },
      { id: 'train', uses: 'train@1', state: 'completed', attempts: 1, cache: 'miss' },
      { id: 'evaluate', uses: 'evaluate@1', state: 'skipped', attempts: 0, cache: 'unchecked' },
    ],
    ...extra,
  };
}

describe('records', () => {
  test('step and run records round-trip through a file store, listed by run', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    for (const record of fixtureSteps()) await writeStepRecord(store, record);
    const iteration = step(RUN_B, 'score', 20, [], [], undefined, { index: 3 });
    await writeStepRecord(store, iteration);
    await writeRunRecord(store, runRecord(RUN_A));

    expect(await readStepRecord(store, RUN_A, 'train')).toEqual(fixtureSteps()[2]);
    expect(await readStepRecord(store, RUN_B, 'score', 3)).toEqual(iteration);
    expect(await readStepRecord(store, RUN_B, 'score')).toBeUndefined();
    expect(await readRunRecord(store, RUN_A)).toEqual(runRecord(RUN_A));
    expect(await readRunRecord(store, RUN_B)).toBeUndefined();

    const ofB = await listStepRecords(store, RUN_B);
    expect(ofB.map((record) => stepRecordName(record.workflowId, record.stepId, record.index))).toEqual([
      `${RUN_B}.evaluate`,
      `${RUN_B}.featurize`,
      `${RUN_B}.ingest`,
      `${RUN_B}.score.3`,
      `${RUN_B}.train`,
    ]);
    expect(await listStepRecords(store)).toHaveLength(8);
    expect(await listRunRecords(store)).toEqual([runRecord(RUN_A)]);
    // On disk under records/<collection>/<name>.json.
    const onDisk = JSON.parse(
      await readFile(join(store.root, 'records', 'steps', `${RUN_B}.score.3.json`), 'utf8'),
    ) as unknown;
    expect(onDisk).toEqual(iteration);
  });

  test('invalid records are refused on write (DATA_INVALID) and reported on read (ARTIFACT_CORRUPT)', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const good = fixtureSteps()[0] as StepRecord;
    const invalid: [string, StepRecord][] = [
      ['a bad digest', { ...good, outputs: [{ ...DATA, digest: 'sha256:xyz' }] }],
      ['a hit without source run', { ...good, cache: { decision: 'hit', reasons: [] } }],
      ['a failure without error', { ...good, state: 'failed' }],
      ['an unknown field', { ...good, secret: 'x' } as StepRecord],
      ['a run id with a dot', { ...good, workflowId: 'pipeline.demo' }],
      ['an unknown artifact type', { ...good, inputs: [{ ...RAW, type: 'image' as ArtifactUse['type'] }] }],
    ];
    for (const [what, record] of invalid) {
      await expect(writeStepRecord(store, record)).rejects.toMatchObject({ code: 'DATA_INVALID' });
      void what;
    }
    await expect(
      writeRunRecord(store, { ...runRecord(RUN_A), state: 'exploded' as RunRecord['state'] }),
    ).rejects.toMatchObject({
      code: 'DATA_INVALID',
    });
    expect(await listStepRecords(store)).toEqual([]);

    await writeStepRecord(store, good);
    await writeFile(join(store.root, 'records', 'steps', `${RUN_A}.train.json`), '{"version": 2}');
    await expect(readStepRecord(store, RUN_A, 'train')).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    await expect(listStepRecords(store)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    const skipped: string[] = [];
    const listed = await listStepRecords(store, undefined, { onInvalid: (name) => skipped.push(name) });
    expect(listed).toEqual([good]);
    expect(skipped).toEqual([`${RUN_A}.train`]);
  });

  test('a record owned by another Temporal run with the same workflow id is never overwritten (RECORD_CONFLICT)', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const mine = fixtureSteps()[0] as StepRecord;
    await writeStepRecord(store, mine);
    await writeRunRecord(store, runRecord(RUN_A));
    const intruder = '2f000000-0000-4000-8000-000000000099';

    // The same execution may rewrite its records (a retried activity, the run's final record).
    const retried: StepRecord = { ...mine, attempt: 2 };
    await writeStepRecord(store, retried);
    await writeRunRecord(store, runRecord(RUN_A, 'failed', { error: 'boom' }));

    // Another execution under the same workflow id is refused, naming both runs; the stored records are untouched.
    const stepConflict = writeStepRecord(store, { ...mine, firstExecutionRunId: intruder, attempt: 5 });
    await expect(stepConflict).rejects.toMatchObject({ code: 'RECORD_CONFLICT', retryable: false });
    await expect(stepConflict).rejects.toThrow(
      new RegExp(`belongs to Temporal run ${ownerOf(RUN_A)}, not to this run \\(Temporal run ${intruder}\\)`),
    );
    const runConflict = writeRunRecord(store, { ...runRecord(RUN_A), firstExecutionRunId: intruder });
    await expect(runConflict).rejects.toMatchObject({ code: 'RECORD_CONFLICT' });
    expect(await readStepRecord(store, RUN_A, mine.stepId)).toEqual(retried);
    expect(await readRunRecord(store, RUN_A)).toEqual(runRecord(RUN_A, 'failed', { error: 'boom' }));

    // A file there that is not one of ours (no owner) is not replaced either.
    await writeFile(join(store.root, 'records', 'runs', `${RUN_B}.json`), '{"note": "written by another tool"}');
    await expect(writeRunRecord(store, runRecord(RUN_B))).rejects.toMatchObject({ code: 'RECORD_CONFLICT' });
  });

  test('record names split back into run, step and index', () => {
    expect(stepRecordName(RUN_A, 'train')).toBe(`${RUN_A}.train`);
    expect(stepRecordName(RUN_A, 'train', 12)).toBe(`${RUN_A}.train.12`);
    expect(parseStepRecordName(`${RUN_A}.train.12`)).toEqual({ workflowId: RUN_A, stepId: 'train', index: 12 });
    expect(parseStepRecordName(`${RUN_A}.train`)).toEqual({ workflowId: RUN_A, stepId: 'train' });
    expect(parseStepRecordName(`${RUN_A}.train.x`)).toBeUndefined();
    expect(parseStepRecordName(`${RUN_A}`)).toBeUndefined();
    expect(() => stepRecordName('../etc', 'train')).toThrow(MloeError);
    expect(() => stepRecordName(RUN_A, 'train', -1)).toThrow(MloeError);
  });

  test('artifactUses finds references in port values, one use per list element', async () => {
    const store = new FileArtifactStore({ root: await temporaryDirectory() });
    const a = await putJson(store, { a: 1 }, { type: 'dataset' });
    const b = await putJson(store, { b: 2 }, { type: 'model', metadata: { rows: 3 } });
    const c = await putJson(store, { c: 3 }, { type: 'metrics' });
    const uses = artifactUses({
      data: a,
      shards: [b, c, 'not a ref', 7],
      nested: [[a]],
      alpha: 0.5,
      name: 'x',
      notRef: { uri: a.uri, digest: 'sha256:nope' },
      missing: null,
    });
    const brief = (ref: ArtifactRef, port: string): ArtifactUse => ({
      port,
      uri: ref.uri,
      digest: ref.digest,
      type: ref.type,
      size: ref.size,
    });
    expect(uses).toEqual([brief(a, 'data'), brief(b, 'shards'), brief(c, 'shards'), brief(a, 'nested')]);
    expect(artifactUses({})).toEqual([]);
  });
});

describe('graph', () => {
  const graph = LineageGraph.fromRecords(fixtureSteps(), [runRecord(RUN_A)], { source: `file://${ROOT}` });

  test('upstream of a model: its producer, that producer inputs and their producers, down to external inputs', () => {
    const lineage = graph.lineageOfArtifact(MODEL_A.digest, { direction: 'upstream' });
    expect(lineage.downstream).toBeUndefined();
    expect(lineage.artifact).toEqual({ digest: MODEL_A.digest, type: 'model', size: 2048, uri: MODEL_A.uri });
    const [train] = lineage.upstream ?? [];
    expect(lineage.upstream).toHaveLength(1);
    expect(train?.relation).toBe('produced');
    expect(train?.execution).toMatchObject({ workflowId: RUN_A, stepId: 'train', cache: 'miss' });
    expect(train?.ports).toEqual(['model']);
    // Features were written by run A's featurize; run B's cache hit came later, so it is not where train got them.
    const features = train?.inputs?.[0];
    expect(features?.artifact.digest).toBe(FEATURES.digest);
    expect(features?.producedBy.map((edge) => `${edge.relation} ${edge.execution.record}`)).toEqual([
      `produced ${RUN_A}.featurize`,
    ]);
    const data = features?.producedBy[0]?.inputs?.[0];
    expect(data?.producedBy.map((edge) => edge.execution.record)).toEqual([`${RUN_A}.ingest`]);
    const raw = data?.producedBy[0]?.inputs?.[0];
    expect(raw?.artifact.digest).toBe(RAW.digest);
    expect(raw?.producedBy).toEqual([]);
  });

  test('a cache hit is an execution that reused the outputs of its source run', () => {
    const lineage = graph.lineageOfArtifact(FEATURES.digest, { direction: 'upstream', depth: 1 });
    const edges = lineage.upstream ?? [];
    expect(edges.map((edge) => [edge.relation, edge.execution.record])).toEqual([
      ['produced', `${RUN_A}.featurize`],
      ['reused', `${RUN_B}.featurize`],
    ]);
    expect(edges[1]?.execution).toMatchObject({ cache: 'hit', sourceWorkflowId: RUN_A });
    expect(edges[1]?.source?.record).toBe(`${RUN_A}.featurize`);
    // depth 1: the producers, without their inputs.
    expect(edges.every((edge) => edge.inputs === undefined && edge.truncated === true)).toBe(true);

    // Run B's model traces back through the cache hit.
    const modelB = graph.lineageOfArtifact(MODEL_B.digest, { direction: 'upstream', depth: 2 });
    const sources = modelB.upstream?.[0]?.inputs?.[0]?.producedBy ?? [];
    expect(sources.map((edge) => `${edge.relation} ${edge.execution.record}`)).toEqual([
      `produced ${RUN_A}.featurize`,
      `reused ${RUN_B}.featurize`,
    ]);
  });

  test('downstream of a dataset: every consumer and what it made, each execution expanded once', () => {
    const lineage = graph.lineageOfArtifact(DATA.digest, { direction: 'downstream' });
    expect(lineage.upstream).toBeUndefined();
    const consumers = lineage.downstream ?? [];
    expect(consumers.map((edge) => `${edge.execution.record} ${edge.ports.join(',')}`)).toEqual([
      `${RUN_A}.featurize dataset`,
      `${RUN_B}.featurize dataset`,
      `${RUN_B}.evaluate data`,
    ]);
    // Run A's features went to run A's train, and (later) to run B's train.
    const [featuresOfA] = consumers[0]?.outputs ?? [];
    expect(featuresOfA?.relation).toBe('produced');
    expect(featuresOfA?.consumedBy.map((edge) => edge.execution.record)).toEqual([`${RUN_A}.train`, `${RUN_B}.train`]);
    const trainB = featuresOfA?.consumedBy[1];
    expect(trainB?.outputs?.[0]?.consumedBy.map((edge) => edge.execution.record)).toEqual([`${RUN_B}.evaluate`]);
    // Run B's cache hit reused the features: its consumer (B's train) was already expanded above.
    const [featuresOfB] = consumers[1]?.outputs ?? [];
    expect(featuresOfB?.relation).toBe('reused');
    expect(featuresOfB?.consumedBy.map((edge) => [edge.execution.record, edge.repeated])).toEqual([
      [`${RUN_B}.train`, true],
    ]);
    // Evaluate was reached through B's model first, so its direct mention is a repetition.
    expect(consumers[2]?.repeated).toBe(true);

    const shallow = graph.lineageOfArtifact(DATA.digest, { direction: 'downstream', depth: 1 });
    expect(shallow.downstream?.every((edge) => edge.outputs === undefined && edge.truncated === true)).toBe(true);
    expect(graph.lineageOfArtifact(DATA.digest, { depth: 0 })).toMatchObject({ upstream: [], downstream: [] });
  });

  test('both directions by default', () => {
    const lineage = graph.lineageOfArtifact(FEATURES.digest);
    expect(lineage.direction).toBe('both');
    expect(lineage.upstream?.length).toBe(2);
    expect(lineage.downstream?.map((edge) => edge.execution.record)).toEqual([`${RUN_A}.train`, `${RUN_B}.train`]);
  });

  test('a run: its steps with inputs, where each input came from, and reused outputs', () => {
    const lineageB = graph.lineageOfRun(RUN_B);
    expect(lineageB.run).toBeUndefined(); // only step records for run B
    expect(lineageB.steps.map((s) => `${s.stepId} ${s.execution?.cache ?? '-'}`)).toEqual([
      'ingest disabled',
      'featurize hit',
      'train miss',
      'evaluate miss',
    ]);
    const featurize = lineageB.steps[1];
    expect(featurize?.outputs).toEqual([
      expect.objectContaining({
        relation: 'reused',
        source: expect.objectContaining({ workflowId: RUN_A }) as unknown,
      }),
    ]);
    // Train's features: from this run's cache hit first, then from run A's featurize.
    const train = lineageB.steps[2];
    expect(
      train?.inputs[0]?.producedBy.map((source) => [source.relation, source.execution.record, source.sameRun]),
    ).toEqual([
      ['reused', `${RUN_B}.featurize`, true],
      ['produced', `${RUN_A}.featurize`, false],
    ]);
    // Ingest (cache disabled) re-made bytes run A had made before.
    expect(lineageB.steps[0]?.outputs[0]?.relation).toBe('produced');

    const lineageA = graph.lineageOfRun(RUN_A);
    expect(lineageA.run?.state).toBe('completed');
    expect(lineageA.run).not.toHaveProperty('steps');
    // The run record lists evaluate (skipped) without an execution record.
    expect(lineageA.steps.map((s) => `${s.stepId} ${s.state} ${s.recorded}`)).toEqual([
      'ingest completed true',
      'featurize completed true',
      'train completed true',
      'evaluate skipped false',
    ]);
    expect(lineageA.steps[1]?.inputs[0]?.producedBy.map((source) => source.execution.record)).toEqual([
      `${RUN_A}.ingest`,
    ]);
    expect(() => graph.lineageOfRun('pipeline-demo-ffff0000')).toThrow(
      /no run pipeline-demo-ffff0000 in file:\/\/\/data\/store/,
    );
  });

  test('targets: run ids, URIs, digests and unique prefixes; clear errors otherwise', () => {
    expect(graph.resolve(RUN_A)).toEqual({ kind: 'run', workflowId: RUN_A });
    expect(graph.resolve(RUN_B)).toEqual({ kind: 'run', workflowId: RUN_B });
    expect(graph.resolve(MODEL_A.uri)).toEqual({ kind: 'artifact', digest: MODEL_A.digest });
    expect(graph.resolve(MODEL_A.digest)).toEqual({ kind: 'artifact', digest: MODEL_A.digest });
    expect(graph.resolve('a0de1001')).toEqual({ kind: 'artifact', digest: MODEL_A.digest });
    expect(graph.resolve('sha256:A0DE1001')).toEqual({ kind: 'artifact', digest: MODEL_A.digest });

    const notFound = (): unknown => graph.resolve('deadbeef');
    expect(notFound).toThrow(expect.objectContaining({ code: 'ARTIFACT_NOT_FOUND' }) as Error);
    expect(notFound).toThrow(/starts with deadbeef .* 7 step records in file:\/\/\/data\/store/);
    expect(() => graph.resolve('a0de10')).toThrow(ConfigError);
    expect(() => graph.resolve('pipeline-demo-00000000')).toThrow(
      /no run pipeline-demo-00000000 in file:\/\/\/data\/store: neither records\/runs\/pipeline-demo-00000000.json/,
    );
    expect(() => graph.resolve(`file://${ROOT}/sha256/ee/${'e'.repeat(64)}`)).toThrow(
      expect.objectContaining({ code: 'ARTIFACT_NOT_FOUND' }) as Error,
    );
    expect(() => graph.resolve('file:///data/store/model.pkl')).toThrow(ConfigError);
    expect(() => graph.resolve('what?')).toThrow(/not a run id .*, an artifact URI .* or a digest/);
    expect(() => graph.lineageOfArtifact(MODEL_A.digest, { depth: 5000 })).toThrow(ConfigError);
  });

  test('an ambiguous prefix lists its candidates', () => {
    const twins = [use('x', 'abcdef0011', 'model'), use('y', 'abcdef0022', 'dataset')];
    const ambiguous = LineageGraph.fromRecords([step(RUN_A, 'twins', 0, [], twins)], [], { source: 'file:///s' });
    let error: unknown;
    try {
      ambiguous.resolve('abcdef00');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    expect((error as Error).message).toContain('ambiguous in file:///s');
    expect((error as Error).message).toContain(`${digestOf('abcdef0011')} (model)`);
    expect((error as Error).message).toContain(`${digestOf('abcdef0022')} (dataset)`);
    expect(ambiguous.resolve('abcdef001')).toEqual({ kind: 'artifact', digest: digestOf('abcdef0011') });
  });

  test('10,000 step records index fast, and a 1,000-step chain walks without exhausting the stack', () => {
    const records: StepRecord[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      const hexOf = (n: number): string => n.toString(16).padStart(8, '0');
      const input = use('in', `c0${hexOf(i)}`);
      const output = use('out', `c0${hexOf(i + 1)}`);
      const startedAt = new Date(Date.UTC(2025, 0, 1) + i * 2000).toISOString();
      const finishedAt = new Date(Date.UTC(2025, 0, 1) + i * 2000 + 1000).toISOString();
      records.push({
        ...step(`pipeline-chain-${hexOf(Math.floor(i / 10))}`, `s${i % 10}`, 0, [input], [output]),
        startedAt,
        finishedAt,
      });
    }
    const started = performance.now();
    const big = LineageGraph.fromRecords(records);
    const built = performance.now() - started;
    const lineage = big.lineageOfArtifact(digestOf(`c0${(5000).toString(16).padStart(8, '0')}`), { depth: 1000 });
    const walked = performance.now() - started - built;
    let levels = 0;
    let edge = lineage.upstream?.[0];
    while (edge !== undefined) {
      levels += 1;
      edge = edge.inputs?.[0]?.producedBy[0];
    }
    expect(levels).toBe(1000);
    expect(lineage.downstream?.length).toBe(1);
    expect(big.lineageOfRun('pipeline-chain-00000001').steps).toHaveLength(10);
    expect(built).toBeLessThan(2000);
    expect(walked).toBeLessThan(2000);
  });
});

describe('OpenLineage events', () => {
  const options = { namespace: 'mloe-tests' };
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  function valid(event: RunEvent): RunEvent {
    const parsed = runEventSchema.safeParse(JSON.parse(JSON.stringify(event)));
    if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
    expect(event.schemaURL).toBe(RUN_EVENT_SCHEMA_URL);
    expect(event.schemaURL).toBe('https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent');
    expect(event.producer).toBe(MLOE_PRODUCER);
    expect(event.run.runId).toMatch(UUID);
    return event;
  }

  test('name-based UUIDs: RFC test vector, deterministic per run, step and iteration', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
    const ids = [
      lineageRunId(RUN_A),
      lineageRunId(RUN_A, 'train'),
      lineageRunId(RUN_A, 'train', 0),
      lineageRunId(RUN_A, 'train', 1),
      lineageRunId(RUN_B, 'train'),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    expect(lineageRunId(RUN_A, 'train', 1)).toBe(ids[3]);
    for (const id of ids) expect(id).toMatch(UUID);
  });

  test('a step: START with inputs, COMPLETE with outputs, same run, parent facet on the pipeline run', () => {
    const record = fixtureSteps()[5] as StepRecord; // run B's train
    const start = valid(stepRunEvent(record, 'START', options));
    const complete = valid(stepRunEvent(record, 'COMPLETE', options));
    expect(start.eventType).toBe('START');
    expect(start.eventTime).toBe(record.startedAt);
    expect(complete.eventTime).toBe(record.finishedAt);
    expect(start.run.runId).toBe(complete.run.runId);
    expect(start.run.runId).toBe(lineageRunId(RUN_B, 'train'));
    expect(complete.job).toMatchObject({ namespace: 'mloe-tests', name: 'demo.train' });
    expect(start.outputs).toEqual([]);
    expect(complete.inputs).toEqual([
      {
        namespace: `file://${ROOT}`,
        name: FEATURES.digest,
        facets: {
          mloe_artifact: {
            _producer: MLOE_PRODUCER,
            _schemaURL: expect.stringContaining('docs/lineage.md#mloe_artifact') as string,
            type: 'dataset',
            digest: FEATURES.digest,
            size: 100,
            uri: FEATURES.uri,
            ports: ['features'],
          },
        },
      },
    ]);
    expect(complete.outputs.map((dataset) => dataset.name)).toEqual([MODEL_B.digest]);
    const parent = complete.run.facets?.parent;
    expect(parent).toMatchObject({
      _schemaURL: 'https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet',
      run: { runId: lineageRunId(RUN_B) },
      job: { namespace: 'mloe-tests', name: 'demo' },
    });
    expect(complete.run.facets?.errorMessage).toBeUndefined();
    expect(complete.run.facets?.mloe_step).toMatchObject({
      stepId: 'train',
      uses: 'train@1',
      cache: { decision: 'miss' },
    });
  });

  test('a failed step reports FAIL with an errorMessage facet; a cache hit names its source run', () => {
    const failed = {
      ...(fixtureSteps()[2] as StepRecord),
      state: 'failed' as const,
      error: 'MODEL_FIT_FAILED: singular',
    };
    const fail = valid(stepRunEvent(failed, 'FAIL', options));
    expect(fail.run.facets?.errorMessage).toEqual({
      _producer: MLOE_PRODUCER,
      _schemaURL: 'https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet',
      message: 'MODEL_FIT_FAILED: singular',
      programmingLanguage: 'TypeScript',
    });
    const hit = valid(stepRunEvent(fixtureSteps()[4] as StepRecord, 'COMPLETE', options));
    expect(hit.run.facets?.mloe_step).toMatchObject({ cache: { decision: 'hit', sourceWorkflowId: RUN_A } });
    // The same artifact on two ports of one step is one dataset.
    const twice = valid(stepRunEvent(step(RUN_A, 'x', 0, [DATA, { ...DATA, port: 'again' }], []), 'START', options));
    expect(twice.inputs).toHaveLength(1);
    expect(twice.inputs[0]?.facets?.mloe_artifact?.ports).toEqual(['dataset', 'again']);
    // An iteration of a foreach step is a run of its own.
    const iteration = valid(stepRunEvent({ ...(fixtureSteps()[0] as StepRecord), index: 2 }, 'START', options));
    expect(iteration.run.runId).toBe(lineageRunId(RUN_A, 'ingest', 2));
    expect(iteration.job.name).toBe('demo.ingest');
  });

  test('a pipeline run: START, COMPLETE, FAIL with its error, ABORT when cancelled', () => {
    const running = valid(pipelineRunEvent(runRecord(RUN_A, 'running'), 'START', options));
    expect(running).toMatchObject({ eventType: 'START', job: { namespace: 'mloe-tests', name: 'demo' } });
    expect(running.run.runId).toBe(lineageRunId(RUN_A));
    expect(running.run.facets?.parent).toBeUndefined();
    expect(running.run.facets?.mloe_run).toMatchObject({ workflowId: RUN_A, specHash: 'c'.repeat(64) });
    const failed = valid(pipelineRunEvent(runRecord(RUN_A, 'failed', { error: 'train failed' }), 'FAIL', options));
    expect(failed.run.facets?.errorMessage).toMatchObject({ message: 'train failed' });
    expect(failed.eventTime).toBe(at(6));
    const aborted = valid(pipelineRunEvent(runRecord(RUN_A, 'cancelled'), 'ABORT', options));
    expect(aborted.eventType).toBe('ABORT');
    // Parameters are not sent anywhere.
    expect(JSON.stringify([running, failed, aborted])).not.toContain('price');
  });
});

describe('configuration', () => {
  test('nothing configured: no events, namespace mloe', () => {
    expect(lineageConfigFromEnv({})).toEqual({ namespace: 'mloe', transport: { type: 'noop' } });
  });

  test('legacy variables: OPENLINEAGE_URL joined with the endpoint like urljoin, API key as a secret', () => {
    const config = lineageConfigFromEnv({
      OPENLINEAGE_URL: 'http://marquez:5000',
      OPENLINEAGE_API_KEY: 'sk-very-secret',
      OPENLINEAGE_NAMESPACE: 'team-ml',
    });
    expect(config.namespace).toBe('team-ml');
    expect(config.transport).toMatchObject({
      type: 'http',
      url: 'http://marquez:5000/api/v1/lineage',
      timeoutMs: 5000,
    });
    const text = `${describeLineageConfig(config)} ${JSON.stringify(config)} ${inspect(config, { depth: 5 })} ${String(
      config.transport.type === 'http' ? config.transport.apiKey : '',
    )}`;
    expect(text).not.toContain('sk-very-secret');
    expect(text).toContain('[redacted]');
    expect(config.transport.type === 'http' && config.transport.apiKey?.reveal()).toBe('sk-very-secret');
    expect(
      lineageConfigFromEnv({ OPENLINEAGE_URL: 'https://host/base/', OPENLINEAGE_ENDPOINT: 'v2/events' }).transport,
    ).toMatchObject({ url: 'https://host/base/v2/events' });
  });

  test('dynamic transport variables win, as in the Python client', () => {
    const http = lineageConfigFromEnv({
      OPENLINEAGE_URL: 'http://legacy:5000',
      OPENLINEAGE__TRANSPORT__TYPE: 'http',
      OPENLINEAGE__TRANSPORT__URL: 'https://lineage.example.com',
      OPENLINEAGE__TRANSPORT__ENDPOINT: '/api/v1/lineage',
      OPENLINEAGE__TRANSPORT__TIMEOUT: '2.5',
      OPENLINEAGE__TRANSPORT__AUTH__TYPE: 'api_key',
      OPENLINEAGE__TRANSPORT__AUTH__API_KEY: 'k1',
    });
    expect(http.transport).toMatchObject({
      type: 'http',
      url: 'https://lineage.example.com/api/v1/lineage',
      timeoutMs: 2500,
    });
    expect(
      lineageConfigFromEnv({
        OPENLINEAGE__TRANSPORT__TYPE: 'file',
        OPENLINEAGE__TRANSPORT__LOG_FILE_PATH: '/tmp/ol.jsonl',
      }),
    ).toEqual({ namespace: 'mloe', transport: { type: 'file', path: '/tmp/ol.jsonl' } });
    expect(lineageConfigFromEnv({ OPENLINEAGE__TRANSPORT__TYPE: 'console' }).transport).toEqual({ type: 'console' });
    expect(lineageConfigFromEnv({ OPENLINEAGE_URL: 'http://x:5000', OPENLINEAGE_DISABLED: 'TRUE' }).transport).toEqual({
      type: 'noop',
    });
    // Disabled also silences a broken transport configuration.
    expect(
      lineageConfigFromEnv({ OPENLINEAGE__TRANSPORT__TYPE: 'kafka', OPENLINEAGE_DISABLED: 'true' }).transport,
    ).toEqual({
      type: 'noop',
    });
    expect(
      lineageConfigFromEnv({ OPENLINEAGE_URL: 'http://x:5000', OPENLINEAGE_DISABLED: 'false' }).transport.type,
    ).toBe('http');
  });

  test.each([
    [{ OPENLINEAGE_DISABLED: 'yes' }, LINEAGE_ENV.disabled],
    [{ OPENLINEAGE_URL: 'marquez:5000' }, LINEAGE_ENV.url],
    [{ OPENLINEAGE_URL: 'ftp://marquez' }, LINEAGE_ENV.url],
    [{ OPENLINEAGE_URL: 'http://m', OPENLINEAGE_ENDPOINT: 'http://other/x' }, LINEAGE_ENV.endpoint],
    [{ OPENLINEAGE_NAMESPACE: 'has space' }, LINEAGE_ENV.namespace],
    [{ OPENLINEAGE__TRANSPORT__TYPE: 'kafka' }, LINEAGE_ENV.transportType],
    [{ OPENLINEAGE__TRANSPORT__TYPE: 'http' }, LINEAGE_ENV.transportUrl],
    [{ OPENLINEAGE__TRANSPORT__TYPE: 'file' }, LINEAGE_ENV.transportLogFilePath],
    [
      { OPENLINEAGE__TRANSPORT__TYPE: 'file', OPENLINEAGE__TRANSPORT__LOG_FILE_PATH: 's3://b/k' },
      LINEAGE_ENV.transportLogFilePath,
    ],
    [
      {
        OPENLINEAGE__TRANSPORT__TYPE: 'file',
        OPENLINEAGE__TRANSPORT__LOG_FILE_PATH: '/x',
        OPENLINEAGE__TRANSPORT__APPEND: 'false',
      },
      LINEAGE_ENV.transportAppend,
    ],
    [{ OPENLINEAGE_URL: 'http://m', OPENLINEAGE__TRANSPORT__TIMEOUT: '0' }, LINEAGE_ENV.transportTimeout],
    [{ OPENLINEAGE_URL: 'http://m', OPENLINEAGE__TRANSPORT__TIMEOUT: 'soon' }, LINEAGE_ENV.transportTimeout],
    [
      {
        OPENLINEAGE__TRANSPORT__TYPE: 'http',
        OPENLINEAGE__TRANSPORT__URL: 'http://m',
        OPENLINEAGE__TRANSPORT__AUTH__API_KEY: 'k',
      },
      LINEAGE_ENV.transportAuthType,
    ],
  ])('invalid %j is a ConfigError naming %s', (env, variable) => {
    let error: unknown;
    try {
      lineageConfigFromEnv(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    expect((error as Error).message).toContain(variable);
  });

  test('a bad API key is reported without its value', () => {
    expect(() => lineageConfigFromEnv({ OPENLINEAGE_URL: 'http://m', OPENLINEAGE_API_KEY: 'two words' })).toThrow(
      /^invalid OPENLINEAGE_API_KEY: must not contain whitespace or controls$/,
    );
  });
});

/** A local OpenLineage backend: records what it receives and answers with `status`. */
async function startBackend(status = 201): Promise<{
  url: string;
  server: Server;
  received: { path: string; headers: IncomingHttpHeaders; body: unknown }[];
  setStatus: (code: number) => void;
  close: () => Promise<void>;
}> {
  const received: { path: string; headers: IncomingHttpHeaders; body: unknown }[] = [];
  let answer = status;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
      });
      response.writeHead(answer, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    received,
    setStatus: (code) => {
      answer = code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('transports', () => {
  const events = (): RunEvent[] => [
    stepRunEvent(fixtureSteps()[2] as StepRecord, 'START', { namespace: 'mloe' }),
    stepRunEvent(fixtureSteps()[2] as StepRecord, 'COMPLETE', { namespace: 'mloe' }),
  ];

  test('HTTP: POSTs JSON to <url>/api/v1/lineage with the bearer token', async () => {
    const backend = await startBackend();
    try {
      const logger = recordingLogger();
      const config = lineageConfigFromEnv({ OPENLINEAGE_URL: backend.url, OPENLINEAGE_API_KEY: 'secret-key' });
      const emitter = createLineageEmitter(config, logger);
      expect(emitter.enabled).toBe(true);
      for (const event of events()) await emitter.emit(event);
      await emitter.close();
      expect(backend.received.map((request) => request.path)).toEqual(['/api/v1/lineage', '/api/v1/lineage']);
      expect(backend.received.map((request) => request.body)).toEqual(JSON.parse(JSON.stringify(events())));
      for (const { headers } of backend.received) {
        expect(headers.authorization).toBe('Bearer secret-key');
        expect(headers['content-type']).toBe('application/json');
      }
      expect(logger.warnings).toEqual([]);
    } finally {
      await backend.close();
    }
  });

  test('HTTP: a 500 is a warning, then events are dropped for the cool-down, then delivered again', async () => {
    const backend = await startBackend(500);
    try {
      let now = 1_000_000;
      const logger = recordingLogger();
      const config = lineageConfigFromEnv({ OPENLINEAGE_URL: backend.url, OPENLINEAGE_API_KEY: 'secret-key' });
      const emitter = createLineageEmitter(config, logger, { failureCooldownMs: 30_000, now: () => now });
      const [first, second] = events() as [RunEvent, RunEvent];
      await expect(emitter.emit(first)).resolves.toBeUndefined();
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toMatch(
        /OpenLineage event START demo.train not delivered to http:\/\/127.0.0.1:\d+\/api\/v1\/lineage: HTTP 500/,
      );
      expect(logger.warnings[0]).toContain('dropping events for 30 s');
      expect(logger.warnings.join('\n')).not.toContain('secret-key');

      backend.setStatus(200);
      await emitter.emit(second); // within the cool-down: dropped, no request
      expect(backend.received).toHaveLength(1);
      now += 31_000;
      await emitter.emit(second);
      expect(backend.received).toHaveLength(2);
      expect(logger.infos).toEqual([expect.stringContaining('delivered to') as string]);
      expect(logger.infos[0]).toContain('1 were dropped');
      await emitter.close();
    } finally {
      await backend.close();
    }
  });

  test('HTTP: an unreachable backend and a silent one are warnings, never errors', async () => {
    const gone = await startBackend();
    await gone.close();
    const logger = recordingLogger();
    const emitter = createLineageEmitter(lineageConfigFromEnv({ OPENLINEAGE_URL: gone.url }), logger, {
      failureCooldownMs: 0,
    });
    await expect(emitter.emit(events()[0] as RunEvent)).resolves.toBeUndefined();
    expect(logger.warnings).toEqual([expect.stringMatching(/not delivered to .*ECONNREFUSED/) as string]);
    await emitter.close();

    // A backend that accepts the connection and never answers: the timeout ends the wait.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const slowLogger = recordingLogger();
      const slow = createLineageEmitter(
        lineageConfigFromEnv({
          OPENLINEAGE_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
          OPENLINEAGE__TRANSPORT__TIMEOUT: '0.2',
        }),
        slowLogger,
      );
      const started = performance.now();
      await slow.emit(events()[0] as RunEvent);
      expect(performance.now() - started).toBeLessThan(3000);
      expect(slowLogger.warnings).toEqual([expect.stringContaining('no answer within 200 ms') as string]);
      await slow.close();
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('file: one JSON event per line, appended; an unwritable path is a warning', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'nested', 'events.jsonl');
    const config = lineageConfigFromEnv({
      OPENLINEAGE__TRANSPORT__TYPE: 'file',
      OPENLINEAGE__TRANSPORT__LOG_FILE_PATH: path,
      OPENLINEAGE__TRANSPORT__APPEND: 'true',
    });
    const logger = recordingLogger();
    const emitter = createLineageEmitter(config, logger);
    const sent = [...events(), ...events()];
    await Promise.all(sent.map((event) => emitter.emit(event)));
    await emitter.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(JSON.parse(JSON.stringify(sent)));
    expect(logger.warnings).toEqual([]);

    await mkdir(join(directory, 'a-directory'));
    const broken = createLineageEmitter(
      { namespace: 'mloe', transport: { type: 'file', path: join(directory, 'a-directory') } },
      logger,
    );
    await expect(broken.emit(events()[0] as RunEvent)).resolves.toBeUndefined();
    expect(logger.warnings).toEqual([expect.stringContaining('EISDIR') as string]);
  });

  test('no configuration: a no-op emitter', async () => {
    const emitter = createLineageEmitter(lineageConfigFromEnv({}), recordingLogger());
    expect(emitter.enabled).toBe(false);
    await expect(emitter.emit(events()[0] as RunEvent)).resolves.toBeUndefined();
  });
});

describe('recording from activities', () => {
  test('recordStepExecution writes the record and emits START/COMPLETE; recordRun writes the run record', async () => {
    const root = await temporaryDirectory();
    const store = new FileArtifactStore({ root: join(root, 'store') });
    const path = join(root, 'events.jsonl');
    const config: LineageConfig = { namespace: 'mloe', transport: { type: 'file', path } };
    const emitter = createLineageEmitter(config, recordingLogger());

    const record = fixtureSteps()[4] as StepRecord; // a cache hit: no start of its own
    await recordStepExecution(store, record, emitter, { withStart: true });
    const failed: StepRecord = { ...(fixtureSteps()[5] as StepRecord), state: 'failed', error: 'boom', outputs: [] };
    await emitStepStart(emitter, { ...failed, outputs: [] });
    await recordStepExecution(store, failed, emitter);
    expect(await readStepRecord(store, RUN_B, 'featurize')).toEqual(record);
    expect(await readStepRecord(store, RUN_B, 'train')).toEqual(failed);

    const activities = createLineageActivities({ emitter });
    const environment = new MockActivityEnvironment({
      workflowNamespace: 'ml',
      workflowExecution: { workflowId: RUN_B, runId: '0e0e0e0e-0000-4000-8000-000000000000' },
    });
    const input: RecordRunInput = {
      status: {
        pipeline: 'demo',
        workflowId: RUN_B,
        specHash: 'c'.repeat(64),
        state: 'failed',
        params: { alpha: 1 },
        artifactStore: store.root,
        metadata: { gitCommit: '0123456789abcdef-dirty' },
        startedAt: at(10),
        finishedAt: at(18),
        error: 'step train failed: boom',
        steps: [
          {
            id: 'featurize',
            uses: 'featurize@1',
            state: 'completed',
            attempts: 1,
            cache: 'hit',
            startedAt: at(12),
            finishedAt: at(13),
            durationMs: 60_000,
          },
          { id: 'train', uses: 'train@1', state: 'failed', attempts: 3, cache: 'miss', error: 'boom' },
        ],
      },
      firstExecutionRunId: ownerOf(RUN_B),
    };
    await environment.run(activities.recordRun, input);
    await emitter.close();

    const run = await readRunRecord(store, RUN_B);
    expect(run).toMatchObject({
      workflowId: RUN_B,
      temporalRunId: '0e0e0e0e-0000-4000-8000-000000000000',
      namespace: 'ml',
      mloeVersion: expect.any(String) as string,
      gitCommit: '0123456789abcdef-dirty',
      state: 'failed',
      artifactStore: store.rootUri,
    });
    expect(run?.steps.map((s) => `${s.id} ${s.state} ${s.cache}`)).toEqual([
      'featurize completed hit',
      'train failed miss',
    ]);

    const emitted = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => runEventSchema.parse(JSON.parse(line)));
    expect(emitted.map((event) => `${event.eventType} ${event.job.name}`)).toEqual([
      'START demo.featurize',
      'COMPLETE demo.featurize',
      'START demo.train',
      'FAIL demo.train',
      'FAIL demo',
    ]);
  });
});

describe('mloe lineage', () => {
  async function storeWithFixture(): Promise<{ cwd: string; store: FileArtifactStore }> {
    const cwd = await temporaryDirectory();
    const store = FileArtifactStore.inWorkingDirectory(cwd);
    for (const record of fixtureSteps()) await writeStepRecord(store, record);
    await writeRunRecord(store, runRecord(RUN_A));
    return { cwd, store };
  }

  function capture(): {
    io: { stdout: (line: string) => void; stderr: (line: string) => void };
    out: string[];
    err: string[];
  } {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { stdout: (line) => out.push(line), stderr: (line) => err.push(line) }, out, err };
  }

  test('a run: its steps, inputs with their origin, outputs with cache-hit reuse', async () => {
    const { cwd } = await storeWithFixture();
    const { io, out, err } = capture();
    expect(await runLineage(RUN_B, { cwd }, io)).toBe(0);
    expect(err).toEqual([]);
    const text = out.join('\n');
    expect(out[0]).toBe(`run ${RUN_B}  pipeline demo  (no run record; from step records)`);
    expect(text).toContain(
      'featurize (featurize@1)  completed  attempt 1  cache hit from demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1A',
    );
    expect(text).toContain(`out features: dataset sha256:fea700010000 (100 B)  (reused from ${RUN_A} › featurize)`);
    expect(text).toContain(
      `in  features: dataset sha256:fea700010000 (100 B)  ← from this run's featurize (cache hit), ${RUN_A} › featurize`,
    );
    expect(text).toContain('in  source: file sha256:feed00010000 (100 B)  ← no recorded producer');

    const runA = capture();
    expect(await runLineage(RUN_A, { cwd }, runA.io)).toBe(0);
    expect(runA.out[0]).toMatch(new RegExp(`^run ${RUN_A}  pipeline demo  completed  started `));
    expect(runA.out.join('\n')).toContain('evaluate (evaluate@1)  skipped  (no execution record)');
  });

  test('an artifact by digest prefix: upstream and downstream trees; JSON on request', async () => {
    const { cwd, store } = await storeWithFixture();
    const { io, out, err } = capture();
    expect(await runLineage('fea70001', { cwd }, io)).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toBe(`dataset sha256:fea700010000 (100 B)  ${FEATURES.uri}`);
    const text = out.join('\n');
    expect(text).toContain('upstream (what it was made from):');
    expect(text).toMatch(/├─ produced by demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1A › featurize \(featurize@1\) {2}completed/);
    expect(text).toMatch(
      /└─ reused by demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1B › featurize .*\[cache hit from demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1A\] {2}← outputs of demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1A › featurize/,
    );
    expect(text).toContain('│  └─ dataset: dataset sha256:da7a00010000 (100 B)');
    expect(text).toContain('downstream (what was made from it):');
    expect(text).toMatch(
      /consumed by demo-01JF3Y8Z6KQ4W5ZP0B4N3C2V1B › train \(train@1\) {2}completed {2}\S+ as features/,
    );

    const upstreamOnly = capture();
    expect(
      await runLineage(MODEL_B.digest, { artifactStore: store.rootUri, upstream: true, depth: '1' }, upstreamOnly.io),
    ).toBe(0);
    expect(upstreamOnly.out.join('\n')).not.toContain('downstream');
    expect(upstreamOnly.out.join('\n')).toContain('(…depth limit)');

    const json = capture();
    expect(await runLineage(DATA.digest, { cwd, downstream: true, json: true }, json.io)).toBe(0);
    const parsed = JSON.parse(json.out.join('\n')) as { artifact: { digest: string }; downstream: unknown[] };
    expect(parsed.artifact.digest).toBe(DATA.digest);
    expect(parsed.downstream).toHaveLength(3);
    expect(parsed).not.toHaveProperty('upstream');
  });

  test('unknown and ambiguous arguments, bad options: exit 1 with a message saying what and where', async () => {
    const { cwd, store } = await storeWithFixture();
    const unknown = capture();
    expect(await runLineage('pipeline-demo-99999999', { cwd }, unknown.io)).toBe(1);
    expect(unknown.err).toEqual([
      `error: no run pipeline-demo-99999999 in ${store.rootUri}: neither records/runs/pipeline-demo-99999999.json nor records/steps/pipeline-demo-99999999.*.json exists`,
    ]);
    const missing = capture();
    expect(await runLineage('0123456789', { cwd }, missing.io)).toBe(1);
    expect(missing.err[0]).toContain(
      `no artifact whose digest starts with 0123456789 is mentioned by the 7 step records in ${store.rootUri}`,
    );
    const badDepth = capture();
    expect(await runLineage(RUN_A, { cwd, depth: 'deep' }, badDepth.io)).toBe(1);
    expect(badDepth.err[0]).toContain('--depth must be a whole number from 0 to 1000');
    // An artifact URI picks the store it belongs to.
    const byUri = capture();
    const hex = MODEL_A.digest.slice('sha256:'.length);
    expect(await runLineage(`${store.rootUri}/sha256/${hex.slice(0, 2)}/${hex}`, {}, byUri.io)).toBe(0);
    expect(byUri.out[0]).toContain('model sha256:a0de10010000 (2.0 KiB)');
    // An empty directory: nothing recorded yet.
    const empty = capture();
    expect(await runLineage(RUN_A, { cwd: await temporaryDirectory() }, empty.io)).toBe(1);
    expect(empty.err[0]).toContain(`no run ${RUN_A} in file://`);
  });
});
