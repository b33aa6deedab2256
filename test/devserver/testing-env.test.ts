/**
 * `@temporalio/testing` launching mloe as its Temporal CLI: `TestWorkflowEnvironment.createLocal()` with an
 * `existing-path` executable runs `bin/mloe.js server start-dev ...`, waits for it, and kills it on teardown.
 * Workflows with activities run against it, SDK options (database file, namespace, extra args) reach the server,
 * search attributes the SDK registers through `--search-attribute` are accepted and round-trip, and teardown leaves
 * no process behind.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { defineSearchAttributeKey } from '@temporalio/common';
import { TestWorkflowEnvironment, type LocalTestWorkflowEnvironmentOptions } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { MLOE_BIN, findProcesses, processAlive } from './child-server';
import * as activities from './fixtures/activities';
import type * as workflows from './fixtures/workflows';
import { bundle, uniqueQueue } from './harness';
import { pollUntil } from '../support/poll';
import { retryMissedStartupDeadline } from './time-skipping-env';

const ModelName = defineSearchAttributeKey('ModelName', 'KEYWORD');

let workflowBundle: WorkflowBundleWithSourceMap;
let dir: string;
const environments = new Set<TestWorkflowEnvironment>();

beforeAll(async () => {
  workflowBundle = await bundle(require.resolve('./fixtures/workflows'));
  dir = mkdtempSync(join(tmpdir(), 'mloe-testing-env-'));
});

afterAll(async () => {
  // Only reached with environments still open when a test failed half-way.
  for (const env of environments) await env.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The server process behind an environment, found by its executable and port. */
function serverPids(env: TestWorkflowEnvironment): number[] {
  const port = env.address.slice(env.address.lastIndexOf(':') + 1);
  return findProcesses(MLOE_BIN, 'start-dev', '--port', port);
}

/** Starts mloe through the SDK with `server` options; checks that exactly one mloe process serves it. */
async function createLocal(
  server: NonNullable<LocalTestWorkflowEnvironmentOptions['server']> = {},
): Promise<{ env: TestWorkflowEnvironment; pid: number }> {
  const env = await retryMissedStartupDeadline(() =>
    TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: MLOE_BIN }, ...server },
    }),
  );
  environments.add(env);
  const pids = serverPids(env);
  expect(pids).toHaveLength(1);
  return { env, pid: pids[0]! };
}

/** Tears the environment down and waits until its server process is gone. */
async function teardown(env: TestWorkflowEnvironment, pid: number): Promise<void> {
  environments.delete(env);
  await env.teardown();
  await pollUntil(`mloe process ${pid} to exit after teardown`, () => !processAlive(pid));
  expect(serverPids(env)).toEqual([]);
}

/** Runs the `hello` workflow (one activity) on a worker bound to the environment. */
async function runHello(env: TestWorkflowEnvironment, namespace: string, workflowId: string): Promise<string> {
  const taskQueue = uniqueQueue('testing-env');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace,
    taskQueue,
    workflowBundle,
    activities,
  });
  const client = new Client({ connection: env.connection, namespace });
  return worker.runUntil(
    client.workflow.execute<typeof workflows.hello>('hello', {
      taskQueue,
      workflowId,
      args: [namespace],
      typedSearchAttributes: [{ key: ModelName, value: 'resnet' }],
    }),
  );
}

describe('TestWorkflowEnvironment.createLocal with bin/mloe.js as the Temporal CLI', () => {
  it('starts mloe, runs a workflow with an activity, and leaves no process after teardown', async () => {
    const { env, pid } = await createLocal({ searchAttributes: [ModelName] });
    expect(env.supportsTimeSkipping).toBe(false);
    expect(env.address).toMatch(/^127\.0\.0\.1:\d+$/);

    const workflowId = uniqueQueue('hello');
    expect(await runHello(env, 'default', workflowId)).toBe('hello default');
    const description = await env.client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.typedSearchAttributes.get(ModelName)).toBe('resnet');

    await teardown(env, pid);
  });

  it('passes dbFilename, namespace and extra --namespace args through, and the state survives teardown', async () => {
    const dbFilename = join(dir, 'sdk.db');
    const server = {
      dbFilename,
      namespace: 'ml',
      extraArgs: ['--namespace', 'ml-extra'],
      log: { format: 'json', level: 'error' },
      searchAttributes: [ModelName],
    };
    const first = await createLocal(server);
    expect(first.env.namespace).toBe('ml');
    for (const namespace of ['default', 'ml', 'ml-extra']) {
      const described = await first.env.connection.workflowService.describeNamespace({ namespace });
      expect(described.namespaceInfo?.name).toBe(namespace);
    }
    const workflowId = uniqueQueue('persisted');
    expect(await runHello(first.env, 'ml', workflowId)).toBe('hello ml');
    expect(statSync(dbFilename).size).toBeGreaterThan(0);
    // Teardown SIGKILLs the server: nothing is flushed on the way out.
    await teardown(first.env, first.pid);

    // A new environment on the same file sees the completed run, its result and its history.
    const second = await createLocal(server);
    const handle = second.env.client.workflow.getHandle(workflowId);
    expect(await handle.result()).toBe('hello ml');
    const history = await handle.fetchHistory();
    expect(history.events!.filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(1);
    await Worker.runReplayHistory({ workflowBundle }, history, workflowId);
    // And it still runs new work in the extra namespace.
    expect(await runHello(second.env, 'ml-extra', uniqueQueue('extra'))).toBe('hello ml-extra');
    await teardown(second.env, second.pid);
  });
});
