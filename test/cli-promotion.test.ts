/**
 * `mloe approvals`, `mloe approve`, `mloe reject` and `mloe models rollback`, in-process (`buildProgram`), against the
 * jest dev server with a real worker and the jest MLflow server: what waits is listed, decisions go through with the
 * identity from `--identity` or `MLOE_IDENTITY`, a decision for a run that no longer waits (or does not exist) is a
 * clear error with exit 1, and a rollback moves the alias back and says so.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { createMlflowClient, mlflowConfig, type MlflowClient } from '../activities/mlflow';
import { versionByAlias } from '../activities/promotion';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { startPipeline, waitForPipeline, type PipelineRun } from '../clients/pipelines';
import { loadIdentityConfig } from '../workers/config';
import { pipelineStatusQuery } from '../workflows/types';
import { promotionSpec, promotionSteps } from './fixtures/promotion';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';
import { runMloe, type CliResult } from './support/cli';
import { pollUntil } from './support/poll';

const REPO = resolve(__dirname, '..');
const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const ADDRESS = process.env.TEMPORAL_TEST_ADDRESS ?? '';

/** Runs `mloe <args>` in-process against the jest Temporal and MLflow servers, with `env` besides. */
const mloe = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runMloe(args, { TEMPORAL_ADDRESS: ADDRESS, MLFLOW_TRACKING_URI: TRACKING_URI, ...env });

describe('mloe approvals, approve, reject, models rollback', () => {
  let worker: PipelineTestWorker;
  let mlflow: MlflowClient;
  let artifactRoot: string;
  const taskQueue = `mloe-cli-promotion-${process.pid}-${Date.now()}`;
  const model = `cli-promo-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const pipeline = `cli-promo-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

  beforeAll(async () => {
    artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-cli-promotion-'));
    const tracking = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (tracking === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    mlflow = createMlflowClient(mlflowConfig({ trackingUri: TRACKING_URI }));
    worker = await startPipelineTestWorker({
      taskQueue,
      steps: promotionSteps,
      tracking: new MlflowTracker(tracking, { warn: () => undefined }),
    });
  });

  afterAll(async () => {
    await worker?.stop();
    if (artifactRoot !== undefined) await rm(artifactRoot, { recursive: true, force: true });
  });

  async function startWaiting(params: Record<string, unknown>): Promise<PipelineRun> {
    const run = await startPipeline(worker.env.client, {
      spec: promotionSpec(pipeline, { timeout: '1h' }),
      params: { model, ...params },
      artifactRoot,
      workingDir: REPO,
      taskQueue,
      descriptors: promotionSteps.descriptors,
    });
    await pollUntil(
      `${run.workflowId} at its gate`,
      async () =>
        (await run.handle.query(pipelineStatusQuery)).steps.find((step) => step.id === 'promote')?.promotion?.state ===
        'awaiting-approval',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    return run;
  }

  it('lists, approves, rejects and rolls back', async () => {
    const first = await startWaiting({});
    const status = await mloe(['status', first.workflowId]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^promotion promote: ${model} version 1 → champion: waiting for approval since \\S+ \\(mloe approve ${first.workflowId} \\| mloe reject ${first.workflowId} --reason R\\)$`,
        ),
      ),
    );
    const listed = await pollUntil('mloe approvals to list the run', async () => {
      const result = await mloe(['approvals', '--pipeline', pipeline]);
      return result.stdout.some((line) => line.startsWith(first.workflowId)) ? result : undefined;
    });
    expect(listed.code).toBe(0);
    expect(listed.stdout[0]).toMatch(
      /^run\s+pipeline\s+step\s+model\s+version\s+champion\s+since\s+deadline\s+policies$/,
    );
    const row = listed.stdout.find((line) => line.startsWith(first.workflowId)) ?? '';
    expect(row).toContain(`${pipeline}  promote  ${model}  1`);
    expect(row).toContain('beats-champion:passed, enough-data:passed');

    const approved = await mloe(['approve', first.workflowId, '--reason', 'looks good'], {
      MLOE_IDENTITY: 'alice@example.com',
    });
    expect(approved).toMatchObject({ code: 0, stderr: [] });
    expect(approved.stdout[0]).toMatch(
      new RegExp(`^${first.workflowId}: approved by alice@example.com at \\S+ \\(looks good\\)$`),
    );
    expect((await waitForPipeline(first.handle)).error).toBeUndefined();
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');

    // The run no longer waits.
    const late = await mloe(['approve', first.workflowId, '--identity', 'alice']);
    expect(late.code).toBe(1);
    expect(late.stderr).toEqual([
      `error: run ${first.workflowId} is not waiting for approval: it has ended (completed); nothing was approved`,
    ]);
    const unknown = await mloe(['approve', `${pipeline}-nope`, '--identity', 'alice']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr[0]).toContain(`no pipeline run ${pipeline}-nope in namespace default`);

    // A rejection needs a reason; with one, the run fails and nothing moves.
    const second = await startWaiting({ accuracy: 0.95 });
    const noReason = await mloe(['reject', second.workflowId, '--identity', 'bob']);
    expect(noReason).toMatchObject({
      code: 2,
      stderr: ['error: a rejection needs a reason: give --reason "<why>" (it is recorded on the model version)'],
    });
    const rejected = await mloe(['reject', second.workflowId, '--identity', 'bob', '--reason', 'wait for Monday']);
    expect(rejected.code).toBe(0);
    expect(rejected.stdout[0]).toContain(': rejected by bob at ');
    expect((await waitForPipeline(second.handle)).status.state).toBe('failed');
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');

    // A third, approved: champion 3, previous 1; then rolled back.
    const third = await startWaiting({ accuracy: 0.96 });
    expect((await mloe(['approve', third.workflowId, '--identity', 'carol'])).code).toBe(0);
    expect((await waitForPipeline(third.handle)).error).toBeUndefined();
    const done = await mloe(['status', third.workflowId]);
    expect(done.stdout).toContain(
      `promotion promote: ${model} version 3 → champion: promoted (approved by carol; previous → 1)`,
    );
    expect((await versionByAlias(mlflow, model, 'previous'))?.version).toBe('1');
    const rollback = await mloe(['models', 'rollback', model, '--reason', 'p99 latency'], { MLOE_IDENTITY: 'dave' });
    expect(rollback).toMatchObject({ code: 0, stderr: [] });
    expect(rollback.stdout).toEqual([
      `${model}@champion → version 1 (was 3), rolled back by dave: p99 latency`,
      `${model}@previous removed (no version before 1)`,
    ]);
    expect((await versionByAlias(mlflow, model, 'champion'))?.version).toBe('1');
    const again = await mloe(['models', 'rollback', model], { MLOE_IDENTITY: 'dave' });
    expect(again.code).toBe(1);
    expect(again.stderr[0]).toContain(`model ${model} has no 'previous' alias: there is no version to roll back to`);
  }, 240_000);

  it('says where the identity comes from, and refuses an empty one', () => {
    expect(loadIdentityConfig({ identity: 'x', env: { MLOE_IDENTITY: 'y' } })).toEqual({
      identity: 'x',
      origin: '--identity',
    });
    expect(loadIdentityConfig({ env: { MLOE_IDENTITY: ' y ' } })).toEqual({ identity: 'y', origin: 'MLOE_IDENTITY' });
    expect(loadIdentityConfig({ env: {} }).origin).toBe('os-user');
    expect(() => loadIdentityConfig({ env: { MLOE_IDENTITY: '  ' } })).toThrow(
      'invalid MLOE_IDENTITY: must not be empty',
    );
  });
});
