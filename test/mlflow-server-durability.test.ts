/**
 * Durability of the embedded MLflow server with a SQLite backend store, through the real CLI (`mloe mlflow server
 * --backend-store-uri sqlite:///...`): the process is killed with SIGKILL between log calls and in the middle of a
 * burst of concurrent writes, restarted on the same file, and every write it acknowledged is there (metrics, params,
 * tags, batches, registry versions and aliases). A second server on a file in use fails fast; SIGINT and SIGTERM stop
 * the server with exit code 0; a port in use is reported.
 */
import { join } from 'node:path';

import { spawnMlflowServer, type MlflowChild } from './mlflow/child-server';
import { MlflowRest } from './mlflow/rest';
import { suiteTemporaryDirectories } from './temporary-directories';

const temporaryDirectory = suiteTemporaryDirectories('mloe-mlflow-durable-');
const started: MlflowChild[] = [];

function start(dbFile: string, artifacts: string, extra: string[] = []): MlflowChild {
  const server = spawnMlflowServer([
    '--port',
    '0',
    '--backend-store-uri',
    `sqlite:///${dbFile}`,
    '--artifacts-destination',
    artifacts,
    ...extra,
  ]);
  started.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(started.map((server) => server.kill('SIGKILL')));
});

interface Run {
  data: {
    metrics?: { key: string; value: number }[];
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
  };
}

describe('kill -9', () => {
  it('loses nothing acknowledged when killed between log calls and during a burst of writes', async () => {
    const directory = await temporaryDirectory();
    const dbFile = join(directory, 'mlflow.db');
    const artifacts = join(directory, 'artifacts');

    let server = start(dbFile, artifacts);
    let rest = new MlflowRest(await server.ready);
    const experimentId = await rest.experiment('durable');
    const runId = await rest.run(experimentId);
    await rest.ok('POST', 'registered-models/create', { name: 'durable-model' });

    const expectedMetrics = new Map<string, number>();
    const expectedParams = new Map<string, string>();
    const expectedTags = new Map<string, string>();
    let versions = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) {
        const step = round * 100 + i;
        await rest.ok('POST', 'runs/log-metric', { run_id: runId, key: `m${round}`, value: step, timestamp: 1, step });
        expectedMetrics.set(`m${round}`, step);
        await rest.ok('POST', 'runs/log-parameter', { run_id: runId, key: `p${step}`, value: `${step}` });
        expectedParams.set(`p${step}`, `${step}`);
        await rest.ok('POST', 'runs/set-tag', { run_id: runId, key: `t${round}`, value: `${i}` });
        expectedTags.set(`t${round}`, `${i}`);
      }
      await rest.ok('POST', 'runs/log-batch', {
        run_id: runId,
        metrics: Array.from({ length: 100 }, (_, j) => ({ key: `batch${round}`, value: j, timestamp: 1, step: j })),
      });
      expectedMetrics.set(`batch${round}`, 99);
      await rest.ok('POST', 'model-versions/create', {
        name: 'durable-model',
        source: `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`,
        run_id: runId,
      });
      versions++;
      await rest.ok('POST', 'registered-models/alias', {
        name: 'durable-model',
        alias: 'latest-good',
        version: `${versions}`,
      });

      // A burst of writes in flight when the process dies: those acknowledged must survive.
      const acknowledged: number[] = [];
      let firstAcknowledged!: () => void;
      const oneAcknowledged = new Promise<void>((resolve) => (firstAcknowledged = resolve));
      const burst = Array.from({ length: 40 }, (_, j) =>
        rest
          .call('POST', 'runs/log-parameter', { run_id: runId, key: `burst${round}_${j}`, value: 'x' })
          .then((answer) => {
            if (answer.status === 200) {
              acknowledged.push(j);
              firstAcknowledged();
            }
          })
          .catch(() => undefined),
      );
      // Kill as soon as the first of them is acknowledged (or all have answered).
      await Promise.race([oneAcknowledged, Promise.all(burst)]);
      const exit = await server.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      await Promise.all(burst);
      for (const j of acknowledged) expectedParams.set(`burst${round}_${j}`, 'x');
      expect(acknowledged.length).toBeGreaterThan(0);

      server = start(dbFile, artifacts);
      rest = new MlflowRest(await server.ready);
      const { run } = await rest.ok<{ run: Run }>('GET', 'runs/get', { run_id: runId });
      const metrics = new Map((run.data.metrics ?? []).map((m) => [m.key, m.value]));
      const params = new Map((run.data.params ?? []).map((p) => [p.key, p.value]));
      const tags = new Map((run.data.tags ?? []).map((t) => [t.key, t.value]));
      for (const [key, value] of expectedMetrics) expect([key, metrics.get(key)]).toEqual([key, value]);
      for (const [key, value] of expectedParams) expect([key, params.get(key)]).toEqual([key, value]);
      for (const [key, value] of expectedTags) expect([key, tags.get(key)]).toEqual([key, value]);
      const history = await rest.ok<{ metrics: unknown[] }>('GET', 'metrics/get-history', {
        run_id: runId,
        metric_key: `batch${round}`,
      });
      expect(history.metrics).toHaveLength(100);
      const byAlias = await rest.ok<{ model_version: { version: string } }>('GET', 'registered-models/alias', {
        name: 'durable-model',
        alias: 'latest-good',
      });
      expect(byAlias.model_version.version).toBe(`${versions}`);
    }
    const exit = await server.kill('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('refuses a second server on a database file in use, fast and with a clear message', async () => {
    const directory = await temporaryDirectory();
    const dbFile = join(directory, 'locked.db');
    const first = start(dbFile, join(directory, 'a'));
    await first.ready;
    const second = start(dbFile, join(directory, 'b'));
    expect(await second.exited).toEqual({ code: 1, signal: null });
    expect(second.output().stderr).toContain(`database file ${dbFile} is in use by another mloe MLflow server`);
    expect(await first.kill('SIGINT')).toEqual({ code: 0, signal: null });
  });
});

describe('the CLI', () => {
  it('prints its ready line and settings, and reports a port in use', async () => {
    const directory = await temporaryDirectory();
    const first = start(join(directory, 'one.db'), join(directory, 'artifacts'));
    const url = await first.ready;
    expect(first.output().stdout).toContain(`Backend store: SQLite ${join(directory, 'one.db')}`);
    const port = new URL(url).port;
    const second = spawnMlflowServer(['--port', port, '--artifacts-destination', join(directory, 'x')]);
    started.push(second);
    expect(await second.exited).toEqual({ code: 1, signal: null });
    expect(second.output().stderr).toContain(`error: port ${port} on 127.0.0.1 is in use`);
    expect(await first.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('refuses backend store URIs it cannot serve', async () => {
    const server = spawnMlflowServer(['--port', '0', '--backend-store-uri', 'postgresql://db/mlflow']);
    started.push(server);
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.output().stderr).toContain('unsupported --backend-store-uri postgresql://db/mlflow');
  });
});
