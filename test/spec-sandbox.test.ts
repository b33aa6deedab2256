/**
 * The spec layer in Temporal's workflow sandbox: `core/` bundles for workflows (no Node built-ins, no eval) and
 * validates and evaluates deterministically, replay included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { parseSpecText } from '../core/spec';
import { specInSandbox } from './fixtures/spec-workflows';

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: console.warn,
  error: console.error,
};

describe('core/ inside the workflow sandbox', () => {
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let client: Client;
  let workflowBundle: WorkflowBundleWithSourceMap;
  let worker: Worker;
  let workerRun: Promise<void>;
  const taskQueue = `mloe-spec-sandbox-${process.pid}-${Date.now()}`;
  const spec = parseSpecText(readFileSync(join(__dirname, '..', 'pipelines', 'demo', 'pipeline.yaml'), 'utf8')).value;

  beforeAll(async () => {
    const address = process.env.TEMPORAL_TEST_ADDRESS;
    if (address === undefined) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest');
    connection = await Connection.connect({ address });
    nativeConnection = await NativeConnection.connect({ address });
    client = new Client({ connection });
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/spec-workflows'),
      logger: quietLogger,
    });
    // One activity, so the worker polls quietly; the workflow calls none.
    const activities = { noop: async (): Promise<void> => undefined };
    worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle, activities });
    workerRun = worker.run();
  });

  afterAll(async () => {
    if (worker !== undefined) {
      worker.shutdown();
      await workerRun;
    }
    await nativeConnection?.close();
    await connection?.close();
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
      order: ['ingest', 'validate', 'featurize', 'train', 'evaluate'],
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
