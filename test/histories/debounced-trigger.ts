/**
 * The recorded execution of a debounced trigger with `--objects-param` (docs/triggers.md): a `watchPrefix` on a
 * directory holding two files, which groups them into one run with the URI of its object manifest (the
 * `writeObjectManifest` activity, behind `patched('mloe-trigger-object-manifest')`), then is deleted. `record.ts`
 * runs it with the others; run on its own (`npx tsx test/histories/debounced-trigger.ts`), it records just this
 * history when its file is missing, on an embedded dev server and a pipeline worker of its own.
 */
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import * as prettier from 'prettier';

import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../../activities/steps';
import { createTrigger, deleteTrigger, describeTrigger } from '../../clients/triggers';
import { BUILTIN_STEPS } from '../../core/steps/builtin';
import { startDevServer } from '../../infra/devserver';
import packageJson from '../../package.json';
import { createPipelineWorker } from '../../workers/pipeline-worker';
import { triggerWorkflowId } from '../../workflows/trigger-types';
import { runInBackground } from '../devserver/harness';
import { ECHO_STEP } from '../fixtures/test-steps';
import { suiteWorkflowBundle } from '../pipeline-harness';
import { pollUntil } from '../support/poll';
import { HISTORY_SETS, historyDirectory } from './sets';

/** The workflow id (and so the file name) of the recorded trigger. */
export const DEBOUNCED_TRIGGER_ID = triggerWorkflowId(`v${packageJson.version.replace(/\./g, '-')}-trigger-debounced`);

/** Runs the debounced trigger until it has started its one run with a manifest, then deletes it. */
export async function runDebouncedTrigger(client: Client, taskQueue: string, directory: string): Promise<void> {
  const grouped = join(directory, 'grouped');
  await mkdir(grouped);
  await Promise.all(['a.csv', 'b.csv'].map((name) => writeFile(join(grouped, name), 'x\n1\n')));
  const name = DEBOUNCED_TRIGGER_ID.slice('mloe-trigger-'.length);
  await createTrigger(client, {
    file: join(__dirname, 'specs', 'debounced.yaml'),
    name,
    on: pathToFileURL(grouped).href,
    includeExisting: true,
    debounce: '300ms',
    objectsParam: 'objects',
    poll: '200ms',
    taskQueue,
    descriptors: [...BUILTIN_STEPS, ECHO_STEP.descriptor],
    artifactRoot: directory,
    workingDir: directory,
  });
  await pollUntil(
    `${DEBOUNCED_TRIGGER_ID} to start its run`,
    async () => {
      const description = await describeTrigger(client, name);
      return description.counters.runsStarted === 1 && description.lastRuns[0]?.manifest !== undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  await deleteTrigger(client, name);
}

async function main(): Promise<void> {
  const set = HISTORY_SETS.find((candidate) => candidate.directory === 'workflows');
  if (set === undefined) throw new Error('no history set workflows');
  const file = join(historyDirectory(set), `${DEBOUNCED_TRIGGER_ID}.json`);
  if (
    await access(file).then(
      () => true,
      () => false,
    )
  ) {
    console.log(`${file} is recorded already; it is never overwritten (see record.ts)`);
    return;
  }
  const server = await startDevServer({ port: 0 });
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });
  const directory = await mkdtemp(join(tmpdir(), 'mloe-histories-'));
  const taskQueue = 'mloe-histories-workflows';
  let stop: (() => Promise<void>) | undefined;
  try {
    const { code } = await suiteWorkflowBundle(set.workflowsPath);
    const worker = await createPipelineWorker({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: { code },
      steps: createStepImplementations(BUILTIN_IMPLEMENTATIONS, [ECHO_STEP]),
      artifactStore: { defaultUri: pathToFileURL(join(directory, 'store')).href },
    });
    stop = runInBackground(worker);
    await runDebouncedTrigger(client, taskQueue, directory);
    const history = await client.workflow.getHandle(DEBOUNCED_TRIGGER_ID).fetchHistory();
    const json = JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON());
    const options = (await prettier.resolveConfig(file)) ?? {};
    await writeFile(file, await prettier.format(json, { ...options, filepath: file }));
    console.log(`recorded ${file} (${history.events?.length ?? 0} events)`);
  } finally {
    await stop?.();
    await nativeConnection.close();
    await connection.close();
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
