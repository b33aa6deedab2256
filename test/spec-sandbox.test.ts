/**
 * The spec layer in Temporal's workflow sandbox: `core/` bundles for workflows (no Node built-ins, no eval) and
 * validates and evaluates deterministically, replay included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Client } from '@temporalio/client';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { parseSpecText } from '../core/spec';
import { specInSandbox } from './fixtures/spec-workflows';
import { connect, quietLogger, runInBackground, type TestEnv } from './devserver/harness';

describe('core/ inside the workflow sandbox', () => {
  let env: TestEnv;
  let client: Client;
  let workflowBundle: WorkflowBundleWithSourceMap;
  let stopWorker: (() => Promise<void>) | undefined;
  const taskQueue = `mloe-spec-sandbox-${process.pid}-${Date.now()}`;
  const spec = parseSpecText(readFileSync(join(__dirname, '..', 'pipelines', 'demo', 'pipeline.yaml'), 'utf8')).value;

  beforeAll(async () => {
    env = await connect();
    client = env.client;
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/spec-workflows'),
      logger: quietLogger,
    });
    // One activity, so the worker polls quietly; the workflow calls none.
    const activities = { noop: async (): Promise<void> => undefined };
    stopWorker = runInBackground(
      await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities }),
    );
  });

  afterAll(async () => {
    await stopWorker?.();
    await env?.close();
  });

  it('validates the demo spec, computes the DAG and evaluates CEL, identically on replay', async () => {
    const workflowId = `spec-sandbox-${process.pid}-${Date.now()}`;
    const result = await client.workflow.execute(specInSandbox, {
      taskQueue,
      workflowId,
      args: [{ spec, params: { testFraction: 0.25 }, outputs: { featurize: { trainRows: 320, testRows: 80 } } }],
      workflowExecutionTimeout: '1 minute',
    });
    expect(result).toEqual({
      ok: true,
      order: ['ingest', 'validate', 'featurize', 'train', 'evaluate', 'register'],
      ready: ['validate'],
      doubled: 0.5,
      columns: ['sqft', 'bedrooms', 'age_years', 'distance_km', 'price_k'],
      good: true,
    });
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle, replayName: 'spec-sandbox' }, history, workflowId);
  });

  it('reports every problem of an invalid spec from inside the workflow', async () => {
    const broken = { ...(spec as Record<string, unknown>), kind: 'Workflow' };
    const result = await client.workflow.execute(specInSandbox, {
      taskQueue,
      workflowId: `spec-sandbox-invalid-${process.pid}-${Date.now()}`,
      args: [{ spec: broken, params: { testFraction: 'high' }, outputs: {} }],
      workflowExecutionTimeout: '1 minute',
    });
    expect(result).toEqual({ ok: false, codes: ['INVALID_VALUE', 'PARAM_VALUE_INVALID'] });
  });
});
