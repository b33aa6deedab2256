/**
 * The tracing workflow bundle: the OpenTelemetry workflow interceptors are in it only when asked for, the bundle cache
 * keeps the two apart, and every recorded history (test/histories/) replays against a bundle with the interceptors
 * and the span sink registered, without nondeterminism.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource } from '@opentelemetry/resources';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { Worker } from '@temporalio/worker';

import { loadWorkflowBundleConfig } from '../workers/config';
import {
  bundleHasTracing,
  cachedWorkflowBundle,
  PIPELINE_WORKFLOWS_PATH,
  workflowBundleKey,
} from '../workers/workflow-bundle';
import { HISTORY_SETS, historyFiles, readHistory } from './histories/sets';
import { suiteWorkflowBundle } from './pipeline-harness';

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

function tracingBundle(workflowsPath: string) {
  const { cacheDir } = loadWorkflowBundleConfig({ env: process.env });
  return cachedWorkflowBundle({ cacheDir, workflowsPath, tracing: true, logger: quietLogger });
}

describe('the tracing workflow bundle', () => {
  it('has its own cache key; the key of the plain bundle is unchanged by the option', () => {
    const plain = workflowBundleKey(PIPELINE_WORKFLOWS_PATH);
    expect(workflowBundleKey(PIPELINE_WORKFLOWS_PATH, { tracing: false })).toBe(plain);
    expect(workflowBundleKey(PIPELINE_WORKFLOWS_PATH, { tracing: true })).not.toBe(plain);
  });

  it('holds the OpenTelemetry workflow interceptors; the plain bundle does not', async () => {
    const [plain, traced] = await Promise.all([
      suiteWorkflowBundle(PIPELINE_WORKFLOWS_PATH),
      tracingBundle(PIPELINE_WORKFLOWS_PATH),
    ]);
    expect(bundleHasTracing(plain.code)).toBe(false);
    expect(bundleHasTracing(traced.code)).toBe(true);
    expect(traced.path).not.toBe(plain.path);
  }, 300_000);

  it.each(HISTORY_SETS.map((set) => [set.directory, set] as const))(
    '%s: every recorded history replays against the tracing bundle (span sink registered) as against the plain one',
    async (_name, set) => {
      const histories = historyFiles(set).map(readHistory);
      const replay = async (code: string, sinks: boolean) => {
        const outcomes: { workflowId: string; error: string | undefined }[] = [];
        const exporter = new InMemorySpanExporter();
        const replays = Worker.runReplayHistories(
          {
            workflowBundle: { code },
            replayName: `tracing-${set.directory}`,
            ...(sinks
              ? { sinks: { exporter: makeWorkflowExporter(new SimpleSpanProcessor(exporter), new Resource({})) } }
              : {}),
          },
          histories.map(({ workflowId, history }) => ({ workflowId, history })),
        );
        for await (const result of replays) {
          outcomes.push({ workflowId: result.workflowId, error: result.error?.name });
        }
        return outcomes.sort((a, b) => a.workflowId.localeCompare(b.workflowId));
      };
      const [plain, traced] = await Promise.all([
        suiteWorkflowBundle(set.workflowsPath),
        tracingBundle(set.workflowsPath),
      ]);
      const plainOutcomes = await replay(plain.code, false);
      // The same outcome for every history: the interceptors add no nondeterminism. (The plain bundle's own replay
      // failures are test/workflow-replay.test.ts's to report.)
      expect(await replay(traced.code, true)).toEqual(plainOutcomes);
      expect(plainOutcomes).toHaveLength(histories.length);
    },
    300_000,
  );
});
