/**
 * Promotion end to end, on the jest dev server with real workers and the jest MLflow server, through the official
 * clients: a `promote` step after `register@1` evaluates its policies in the workflow, waits at its approval gate for
 * an `approve` / `reject` Update (listed by `listApprovals` from visibility), and moves `champion` / `previous`.
 * Covered: approved promotions (the second keeps the first as `previous`; who, when and why recorded on the version,
 * the model's history and the MLflow run), a rejection, a failed policy (the message names the rule and its values;
 * no alias moves), a timeout that rejects and one that escalates to a local webhook, a rollback, an approval for a
 * run that no longer waits (or does not wait yet), a run cancelled at its gate, a worker restart while the gate waits, and an alias move that fails once (a crash
 * between registering and moving): it converges, and the alias never lands on a version that failed a policy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { createMlflowClient, mlflowConfig, type MlflowClient, type ModelVersion } from '../activities/mlflow';
import { ALIAS_HISTORY_TAG, promoteVersion, versionByAlias, type AliasMove } from '../activities/promotion';
import { MlflowTracker, trackingConfigFromEnv, type TrackingConfig } from '../activities/tracking';
import { approvePromotion, listApprovals, rejectPromotion } from '../clients/approvals';
import { rollbackModel } from '../clients/models';
import { startPipeline, waitForPipeline, type PipelineRun } from '../clients/pipelines';
import { pipelineStatusQuery, type PipelineRunStatus, type StepRunStatus } from '../workflows/types';
import { promotionSpec, promotionSteps as steps } from './fixtures/promotion';
import { startedActivities } from './fixtures/test-steps';
import { type PipelineTestWorker, startPipelineTestWorker, uniqueName } from './pipeline-harness';
import { pollUntil } from './support/poll';
import { replayAll } from './support/replay';

const REPO = resolve(__dirname, '..');
const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';

const tagsOf = (version: ModelVersion): Record<string, string> =>
  Object.fromEntries(version.tags.map((tag) => [tag.key, tag.value]));

describe('promotion', () => {
  let worker: PipelineTestWorker;
  let mlflow: MlflowClient;
  let tracking: TrackingConfig;
  let artifactRoot: string;
  const taskQueue = `mloe-promotion-test-${process.pid}-${Date.now()}`;
  const running: PipelineRun[] = [];

  beforeAll(async () => {
    if (TRACKING_URI === '') throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-promotion-test-'));
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('no tracking configuration');
    tracking = config;
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    const tracker = new MlflowTracker(tracking, { warn: () => undefined });
    holdWaitingRecords(tracker);
    worker = await startPipelineTestWorker({ taskQueue, steps, tracking: tracker });
  });

  /**
   * Models whose 'awaiting-approval' state is held on its way to the registry until the test releases it: the real
   * MLflow call is made, later, so a test can act while a run's gate is open but its waiting state not yet recorded.
   */
  const heldModels = new Map<string, { reached: () => void; release: Promise<void>; releaseNow: () => void }>();
  function holdWaitingRecords(tracker: MlflowTracker): void {
    const versions = tracker.client.modelVersions;
    const setTag = versions.setTag.bind(versions);
    versions.setTag = async (name, version, key, value) => {
      const hold = heldModels.get(name);
      if (hold !== undefined && value === 'awaiting-approval') {
        hold.reached();
        await hold.release;
      }
      return setTag(name, version, key, value);
    };
  }
  function holdWaitingRecord(model: string): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    const releasePromise = new Promise<void>((resolve) => (release = resolve));
    heldModels.set(model, { reached, release: releasePromise, releaseNow: release });
    return { reached: reachedPromise, release };
  }

  afterAll(async () => {
    for (const { releaseNow } of heldModels.values()) releaseNow();
    for (const run of running) await run.handle.terminate('test cleanup').catch(() => undefined);
    await worker?.stop();
    if (artifactRoot !== undefined) await rm(artifactRoot, { recursive: true, force: true });
  });

  async function start(
    pipeline: string,
    params: Record<string, unknown>,
    approval: Record<string, unknown> = { timeout: '1h' },
    queue = taskQueue,
  ): Promise<PipelineRun> {
    const run = await startPipeline(worker.env.client, {
      spec: promotionSpec(pipeline, approval),
      params,
      artifactRoot,
      workingDir: REPO,
      taskQueue: queue,
      descriptors: steps.descriptors,
    });
    running.push(run);
    return run;
  }

  /** The promote step's status entry, once the run waits at its gate. */
  async function waitingAtGate(run: PipelineRun, timeoutMs = 60_000): Promise<StepRunStatus> {
    return pollUntil(
      `${run.workflowId} to wait for approval`,
      async () => {
        const status = await run.handle.query(pipelineStatusQuery);
        const entry = status.steps.find((step) => step.id === 'promote');
        return entry?.promotion?.state === 'awaiting-approval' || entry?.promotion?.state === 'escalated'
          ? entry
          : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  async function finished(run: PipelineRun): Promise<{ status: PipelineRunStatus; error?: unknown }> {
    return waitForPipeline(run.handle, { pollIntervalMs: 100 });
  }

  const promoteEntry = (status: PipelineRunStatus): StepRunStatus | undefined =>
    status.steps.find((step) => step.id === 'promote');

  it('approved promotions move champion and keep previous; who, when and why are recorded; rollback', async () => {
    const model = uniqueName('promo-approved');
    const pipeline = uniqueName('promo-approved');

    // First promotion: no champion yet.
    const first = await start(pipeline, { model });
    const gate = await waitingAtGate(first);
    expect(gate.promotion).toMatchObject({ model, version: '1', alias: 'champion', previousAlias: 'previous' });
    expect(gate.promotion?.championVersion).toBeUndefined();
    expect(gate.promotion?.policies.map((policy) => [policy.name, policy.passed])).toEqual([
      ['beats-champion', true],
      ['enough-data', true],
    ]);
    // Listed from visibility, with what it waits for.
    const listed = await pollUntil('the run in mloe approvals', async () =>
      (await listApprovals(worker.env.client, { pipeline })).find((row) => row.workflowId === first.workflowId),
    );
    expect(listed).toMatchObject({ pipeline, step: 'promote', model, version: '1', alias: 'champion' });
    expect(listed.policies).toEqual([
      { name: 'beats-champion', passed: true },
      { name: 'enough-data', passed: true },
    ]);
    // The version waits: tagged, and no alias on it yet.
    const pending = await mlflow.modelVersions.get(model, '1');
    expect(tagsOf(pending)).toMatchObject({
      'mloe.promotion.state': 'awaiting-approval',
      'mloe.promotion.policies': 'passed',
      'mloe.policy.beats-champion': 'passed',
    });
    expect(pending.aliases).toEqual([]);
    // An identity is required.
    await expect(approvePromotion(worker.env.client, first.workflowId, { identity: '  ' })).rejects.toThrow(
      'an identity is required',
    );

    const decision = await approvePromotion(worker.env.client, first.workflowId, {
      identity: 'alice@example.com',
      reason: 'first model',
    });
    expect(decision).toMatchObject({ decision: 'approved', identity: 'alice@example.com', reason: 'first model' });
    const one = await finished(first);
    expect(one.error).toBeUndefined();
    expect(promoteEntry(one.status)?.outputs).toEqual({
      version: '1',
      alias: 'champion',
      previousVersion: '',
      decidedBy: 'alice@example.com',
    });
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
    expect(await versionByAlias(mlflow, model, 'previous')).toBeUndefined();

    // An approval for a run that no longer waits: a clear error, nothing changes.
    const late = approvePromotion(worker.env.client, first.workflowId, { identity: 'alice' });
    await expect(late).rejects.toMatchObject({ code: 'NOT_AWAITING_APPROVAL' });
    await expect(late).rejects.toThrow(`run ${first.workflowId} is not waiting for approval: it has ended (completed)`);

    // Second promotion: champion moves to 2, previous to 1.
    const second = await start(pipeline, { model, accuracy: 0.95, championAccuracy: 0.9 });
    const secondGate = await waitingAtGate(second);
    expect(secondGate.promotion?.championVersion).toBe('1');
    await approvePromotion(worker.env.client, second.workflowId, { identity: 'bob', reason: 'better by 0.05' });
    const two = await finished(second);
    expect(two.error).toBeUndefined();
    expect(promoteEntry(two.status)?.promotion).toMatchObject({
      state: 'promoted',
      previousVersion: '1',
      decision: { decision: 'approved', identity: 'bob', reason: 'better by 0.05', via: 'update' },
    });
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('2');
    expect((await versionByAlias(mlflow, model, 'previous'))?.version).toBe('1');
    const promoted = tagsOf(await mlflow.modelVersions.get(model, '2'));
    expect(promoted).toMatchObject({
      'mloe.promotion.state': 'promoted',
      'mloe.promotion.decision': 'approved',
      'mloe.promotion.decidedBy': 'bob',
      'mloe.promotion.reason': 'better by 0.05',
      'mloe.promotion.via': 'update',
      'mloe.promotion.previousVersion': '1',
      'mloe.promotion.workflowId': second.workflowId,
    });
    expect(promoted['mloe.promotion.decidedAt']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(JSON.parse(promoted['mloe.promotion.policyResults'] ?? '[]')).toEqual([
      expect.objectContaining({
        name: 'beats-champion',
        passed: true,
        values: { 'champion.exists': true, 'candidate.metrics.accuracy': 0.95, 'champion.metrics.accuracy': 0.9 },
      }),
      expect.objectContaining({ name: 'enough-data', passed: true, values: { 'dataset.rows': 400 } }),
    ]);
    // The MLflow run of the pipeline carries the outcomes too.
    const link = two.status.mlflow;
    expect(link).toBeDefined();
    const run = await mlflow.runs.get(link?.runId ?? '');
    const runTags = Object.fromEntries(run.data.tags.map((tag) => [tag.key, tag.value]));
    expect(runTags).toMatchObject({
      'mloe.promotion.promote': 'approved',
      'mloe.policy.promote.beats-champion': 'passed',
      'mloe.policy.promote.enough-data': 'passed',
      'mloe.promotion.promote.decidedBy': 'bob',
    });

    // Rollback: champion back to 1, previous to what preceded 1 (nothing), recorded.
    const lines = await rollbackModel(mlflow, model, { identity: 'carol', reason: 'latency regression' });
    expect(lines[0]).toBe(`${model}@champion → version 1 (was 2), rolled back by carol: latency regression`);
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
    expect(await versionByAlias(mlflow, model, 'previous')).toBeUndefined();
    expect(tagsOf(await mlflow.modelVersions.get(model, '2'))).toMatchObject({
      'mloe.promotion.state': 'rolled-back',
      'mloe.rollback.by': 'carol',
      'mloe.rollback.reason': 'latency regression',
    });
    const history = JSON.parse(
      (await mlflow.registeredModels.get(model)).tags.find((tag) => tag.key === ALIAS_HISTORY_TAG)?.value ?? '[]',
    ) as AliasMove[];
    expect(history.map((move) => [move.action, move.version, move.from, move.by])).toEqual([
      ['promote', '1', '', 'alice@example.com'],
      ['promote', '2', '1', 'bob'],
      ['rollback', '1', '2', 'carol'],
    ]);
    // Nothing left to roll back to.
    await expect(rollbackModel(mlflow, model, { identity: 'carol' })).rejects.toMatchObject({
      code: 'PROMOTION_REFUSED',
    });
  }, 180_000);

  it('a rejection fails the step, records who and why, and moves no alias', async () => {
    const model = uniqueName('promo-rejected');
    const run = await start(uniqueName('promo-rejected'), { model });
    await waitingAtGate(run);
    await expect(rejectPromotion(worker.env.client, run.workflowId, { identity: 'dana' })).rejects.toThrow(
      'a rejection needs a reason',
    );
    await rejectPromotion(worker.env.client, run.workflowId, { identity: 'dana', reason: 'not on a Friday' });
    const outcome = await finished(run);
    expect(outcome.status.state).toBe('failed');
    expect(promoteEntry(outcome.status)?.error).toContain(
      `PROMOTION_REJECTED: model ${model} version 1 was not promoted to 'champion': rejected by dana: not on a Friday`,
    );
    expect(await versionByAlias(mlflow, model, 'champion')).toBeUndefined();
    expect(tagsOf(await mlflow.modelVersions.get(model, '1'))).toMatchObject({
      'mloe.promotion.state': 'rejected',
      'mloe.promotion.decision': 'rejected',
      'mloe.promotion.decidedBy': 'dana',
      'mloe.promotion.reason': 'not on a Friday',
    });
  }, 120_000);

  it('a failed policy stops the promotion naming the rule and values; the alias stays; moving it is refused', async () => {
    const model = uniqueName('promo-policy');
    const pipeline = uniqueName('promo-policy');
    // A champion first (auto approval, recorded under its identity).
    const first = await start(pipeline, { model }, { mode: 'auto', identity: 'ci-bot', reason: 'nightly' });
    const one = await finished(first);
    expect(one.error).toBeUndefined();
    expect(promoteEntry(one.status)?.promotion?.decision).toMatchObject({ identity: 'ci-bot', via: 'auto' });

    const worse = await start(pipeline, { model, accuracy: 0.7, championAccuracy: 0.9, rows: 120 });
    const outcome = await finished(worse);
    expect(outcome.status.state).toBe('failed');
    const error = promoteEntry(outcome.status)?.error ?? '';
    expect(error).toContain(`PROMOTION_POLICY_FAILED: model ${model} version 2 was not promoted to 'champion'`);
    expect(error).toContain(
      "policy 'beats-champion' (!champion.exists || candidate.metrics.accuracy >= champion.metrics.accuracy - 0.01) failed with champion.exists = true, candidate.metrics.accuracy = 0.7, champion.metrics.accuracy = 0.9",
    );
    expect(error).toContain("policy 'enough-data' (dataset.rows >= 300) failed with dataset.rows = 120");
    expect(promoteEntry(outcome.status)?.promotion?.state).toBe('policy-failed');
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
    expect(tagsOf(await mlflow.modelVersions.get(model, '2'))).toMatchObject({
      'mloe.promotion.state': 'policy-failed',
      'mloe.promotion.policies': 'failed',
      'mloe.policy.beats-champion': 'failed',
      'mloe.policy.enough-data': 'failed',
    });
    // Nothing the run did (or a retry of the alias move, or anyone else) can put the alias on it.
    await expect(
      promoteVersion(mlflow, {
        model,
        version: '2',
        alias: 'champion',
        previousAlias: 'previous',
        identity: 'mallory',
        workflowId: worse.workflowId,
        step: 'promote',
      }),
    ).rejects.toThrow(
      `model ${model} version 2 failed a promotion policy (policy-failed); an alias never moves onto it`,
    );
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
  }, 120_000);

  it('a gate that times out rejects', async () => {
    const model = uniqueName('promo-timeout');
    const run = await start(uniqueName('promo-timeout'), { model }, { timeout: '2s', onTimeout: 'reject' });
    const outcome = await finished(run);
    expect(outcome.status.state).toBe('failed');
    expect(promoteEntry(outcome.status)?.error).toContain(
      `PROMOTION_REJECTED: model ${model} version 1 was not promoted to 'champion': no decision within 2s (onTimeout: reject)`,
    );
    expect(promoteEntry(outcome.status)?.promotion?.decision).toMatchObject({
      identity: 'mloe:timeout',
      via: 'timeout',
    });
    expect(await versionByAlias(mlflow, model, 'champion')).toBeUndefined();
    expect(tagsOf(await mlflow.modelVersions.get(model, '1'))).toMatchObject({
      'mloe.promotion.state': 'rejected',
      'mloe.promotion.via': 'timeout',
    });
  }, 120_000);

  it('a gate that times out escalates to the webhook and goes on waiting', async () => {
    const received: { body: Record<string, unknown>; headers: IncomingMessage['headers'] }[] = [];
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          headers: request.headers,
        });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/mloe`;
      const model = uniqueName('promo-escalate');
      const run = await start(
        uniqueName('promo-escalate'),
        { model },
        { timeout: '2s', onTimeout: 'escalate', webhook: url, escalationTimeout: '1h' },
      );
      const hook = await pollUntil('the escalation webhook', () => received[0], { timeoutMs: 60_000 });
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.body).toMatchObject({
        event: 'mloe.promotion.escalated',
        workflowId: run.workflowId,
        step: 'promote',
        model,
        version: '1',
        alias: 'champion',
        waitedFor: '2s',
        approve: `mloe approve ${run.workflowId} --reason "..."`,
      });
      const gate = await waitingAtGate(run);
      expect(gate.promotion?.state).toBe('escalated');
      await approvePromotion(worker.env.client, run.workflowId, { identity: 'oncall', reason: 'escalated, checked' });
      const outcome = await finished(run);
      expect(outcome.error).toBeUndefined();
      expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
      expect(received).toHaveLength(1);
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  }, 120_000);

  it('refuses an approval while the run has not reached its gate; a run cancelled at its gate stops waiting', async () => {
    // A run whose promote step waits behind a step that runs until cancelled.
    const model = uniqueName('promo-early');
    const early = await startPipeline(worker.env.client, {
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name: uniqueName('promo-early') },
        steps: {
          train: { uses: 'scored-model@1', with: { accuracy: 0.9 } },
          slow: { uses: 'wait-cancel@1' },
          promote: {
            needs: ['train', 'slow'],
            with: { model, version: '1', candidate: '${{ steps.train.outputs.metrics }}' },
            promote: {},
          },
        },
      },
      artifactRoot,
      workingDir: REPO,
      taskQueue,
      descriptors: steps.descriptors,
    });
    running.push(early);
    await pollUntil(`step slow of ${early.workflowId} to start`, () =>
      startedActivities.has(`${early.workflowId}/slow`),
    );
    const tooEarly = approvePromotion(worker.env.client, early.workflowId, { identity: 'alice' });
    await expect(tooEarly).rejects.toMatchObject({ code: 'NOT_AWAITING_APPROVAL' });
    await expect(tooEarly).rejects.toThrow(`run ${early.workflowId} is not waiting for approval`);
    await early.handle.cancel();
    expect((await finished(early)).status.state).toBe('cancelled');

    // Cancelled at the gate: the search attribute says it no longer waits, and it is not listed.
    const pipeline = uniqueName('promo-cancel');
    const waiting = await start(pipeline, { model: uniqueName('promo-cancel') });
    await waitingAtGate(waiting);
    await waiting.handle.cancel();
    const outcome = await finished(waiting);
    expect(outcome.status.state).toBe('cancelled');
    expect(promoteEntry(outcome.status)?.state).toBe('cancelled');
    const description = await waiting.handle.describe();
    expect(description.searchAttributes.MloeApproval).toEqual(['Cancelled']);
    expect(await listApprovals(worker.env.client, { pipeline })).toEqual([]);
  }, 120_000);

  it('a run cancelled while its waiting state is being recorded says Cancelled, not nothing', async () => {
    const pipeline = uniqueName('promo-cancel-recording');
    const model = uniqueName('promo-cancel-recording');
    const hold = holdWaitingRecord(model);
    const run = await start(pipeline, { model });
    await hold.reached;
    // The gate is open and the status says so, while the registry has not yet been told.
    const entry = promoteEntry(await run.handle.query(pipelineStatusQuery));
    expect(entry?.promotion?.state).toBe('awaiting-approval');
    await run.handle.cancel();
    const outcome = await finished(run);
    hold.release();
    expect(outcome.status.state).toBe('cancelled');
    expect(promoteEntry(outcome.status)?.state).toBe('cancelled');
    expect((await run.handle.describe()).searchAttributes.MloeApproval).toEqual(['Cancelled']);
    expect(await listApprovals(worker.env.client, { pipeline })).toEqual([]);
  }, 120_000);

  it('the gate survives a worker restart: a new worker takes the approval and promotes', async () => {
    const queue = `${taskQueue}-restart`;
    let first: PipelineTestWorker | undefined = await startPipelineTestWorker({
      taskQueue: queue,
      steps,
      tracking: new MlflowTracker(tracking, { warn: () => undefined }),
    });
    let second: PipelineTestWorker | undefined;
    try {
      const model = uniqueName('promo-restart');
      const run = await start(uniqueName('promo-restart'), { model }, { timeout: '1h' }, queue);
      await waitingAtGate(run);
      await first.stop();
      first = undefined;
      second = await startPipelineTestWorker({
        taskQueue: queue,
        steps,
        tracking: new MlflowTracker(tracking, { warn: () => undefined }),
      });
      // The new worker has no cache of the run: it replays the history up to the gate, then takes the update.
      await approvePromotion(second.env.client, run.workflowId, { identity: 'erin', reason: 'after the restart' });
      const outcome = await finished(run);
      expect(outcome.error).toBeUndefined();
      expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
      expect(promoteEntry(outcome.status)?.promotion?.decision).toMatchObject({ identity: 'erin' });
    } finally {
      await first?.stop();
      await second?.stop();
    }
  }, 180_000);

  it('an alias move cut short converges on retry, and the alias never lands on a failed-policy version', async () => {
    const queue = `${taskQueue}-crash`;
    // A registry client whose first request to point `champion` anywhere fails as a dropped connection would, after
    // `previous` has moved: the activity's attempt fails between the two alias calls, and Temporal retries it.
    let failures = 0;
    const flaky: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const body = typeof init?.body === 'string' ? init.body : '';
      if (url.endsWith('/registered-models/alias') && init?.method === 'POST' && body.includes('"alias":"champion"')) {
        if (failures === 0 || failures === 2) {
          failures += 1;
          throw new TypeError('fetch failed', { cause: new Error('ECONNRESET (injected)') });
        }
        failures += 1;
      }
      return fetch(input, init);
    };
    const client = createMlflowClient(
      { ...tracking.mlflow, retry: { ...tracking.mlflow.retry, maxRetries: 0 } },
      { fetch: flaky },
    );
    const crashWorker = await startPipelineTestWorker({
      taskQueue: queue,
      steps,
      tracking: new MlflowTracker(tracking, { warn: () => undefined, client }),
    });
    try {
      const model = uniqueName('promo-crash');
      const pipeline = uniqueName('promo-crash');
      const first = await start(pipeline, { model }, { mode: 'auto' }, queue);
      expect((await finished(first)).error).toBeUndefined();
      // A candidate that fails its policy: registered, never aliased.
      const bad = await start(pipeline, { model, accuracy: 0.5, championAccuracy: 0.9 }, { mode: 'auto' }, queue);
      expect((await finished(bad)).status.state).toBe('failed');
      expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
      // A good one, whose alias move fails once after `previous` moved.
      const good = await start(pipeline, { model, accuracy: 0.95, championAccuracy: 0.9 }, { mode: 'auto' }, queue);
      const outcome = await finished(good);
      expect(outcome.error).toBeUndefined();
      expect(failures).toBe(4); // one injected failure per promotion, each followed by a successful retry
      expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('3');
      expect((await versionByAlias(mlflow, model, 'previous'))?.version).toBe('1');
      const history = JSON.parse(
        (await mlflow.registeredModels.get(model)).tags.find((tag) => tag.key === ALIAS_HISTORY_TAG)?.value ?? '[]',
      ) as AliasMove[];
      expect(history.map((move) => [move.version, move.from])).toEqual([
        ['1', ''],
        ['3', '1'],
      ]);
      expect(history.some((move) => move.version === '2')).toBe(false);
    } finally {
      await crashWorker.stop();
    }
  }, 180_000);

  it('replays every history of this suite (gates decided, timed out, escalated, cancelled)', async () => {
    await replayAll(
      worker.workflowBundle,
      running.map((run) => run.handle),
    );
  }, 120_000);
});
