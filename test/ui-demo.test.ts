/**
 * `mloe demo --serve`: after the demo run the dev server, the worker and the Web UI keep running until told to stop,
 * so the printed UI URL and pipeline view URL open the finished run (its `status` query still answers: the worker
 * that replays it is alive), and so does the served model, until the demo stops it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';

import { runDemo } from '../clients/demo';
import { pipelineStatusQuery } from '../workflows/types';
import { pollUntil } from './support/poll';

it('serves the Web UI and the pipeline view of the finished demo run until stopped', async () => {
  const artifactRoot = await mkdtemp(join(tmpdir(), 'mloe-ui-demo-'));
  const lines: string[] = [];
  const errors: string[] = [];
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolveStop) => (stop = resolveStop));
  const env: Record<string, string> = {};
  if (process.env.MLOE_BUNDLE_CACHE_DIR !== undefined) env.MLOE_BUNDLE_CACHE_DIR = process.env.MLOE_BUNDLE_CACHE_DIR;
  const demo = runDemo(
    { stdout: (line) => lines.push(line), stderr: (line) => errors.push(line) },
    { artifactRoot, serve: true, stop: stopped, env },
  );
  try {
    const serving = await pollUntil(
      'the serving line',
      () => lines.find((line) => line.startsWith('serving the Temporal Web UI at ')),
      { timeoutMs: 240_000, intervalMs: 100 },
    );
    const [, ui = '', view = ''] =
      /^serving the Temporal Web UI at (\S+) until Ctrl-C; the demo run: (\S+)$/.exec(serving) ?? [];
    expect(ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines.some((line) => line.includes(`Temporal Web UI at ${ui} (until Ctrl-C)`))).toBe(true);
    // The results are printed before it starts serving, and the served model keeps answering while it serves.
    expect(lines.some((line) => /^ {2}accuracy \d\.\d{3} ·/.test(line))).toBe(true);
    const predictUrl = /^\$ curl -X POST (\S+) /m.exec(lines.join('\n'))?.[1] ?? '';
    const health = await fetch(predictUrl.replace(/\/predict$/, '/health'));
    expect(health.status).toBe(200);
    const page = await fetch(view);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('mloe pipelines');
    expect(await (await fetch(`${ui}/namespaces/default/workflows`)).text()).toContain('__sveltekit_');

    // The finished run still answers its status query: the worker is alive while the UI is served.
    const workflowId = new URL(view).searchParams.get('run') ?? '';
    const address = /dev server running at (\S+)/.exec(lines.join('\n'))?.[1] ?? '';
    const connection = await Connection.connect({ address });
    try {
      const status = await new Client({ connection }).workflow.getHandle(workflowId).query(pipelineStatusQuery);
      expect(status.state).toBe('completed');
    } finally {
      await connection.close();
    }
  } finally {
    stop();
    expect(await demo).toBe(0);
    // Stopped with the rest.
    const served = /^\$ curl -X POST (\S+) /m.exec(lines.join('\n'))?.[1];
    if (served !== undefined)
      await pollUntil('the served model to stop', () =>
        fetch(served).then(
          () => undefined,
          () => true,
        ),
      );
    await rm(artifactRoot, { recursive: true, force: true });
  }
  expect(errors).toEqual([]);
}, 300_000);
