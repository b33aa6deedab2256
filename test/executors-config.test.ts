/**
 * Worker configuration of remote executors: `--executor` / `MLOE_EXECUTORS` and the Kubernetes settings, parsed once
 * with zod; bad values name the variable or flag and the fix.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseKubernetesExecutorConfig, type BatchExecutor, type KubernetesExecutor } from '../activities/executors';
import { MloeError } from '../core/errors';
import { loadWorkerConfig } from '../workers/config';
import { workerExecutors } from '../workers/pipeline-worker';

describe('remote executor settings of a worker', () => {
  test('--executor kubernetes gives the worker a Kubernetes executor with its namespace and staging image', () => {
    const config = loadWorkerConfig({
      env: { MLOE_KUBERNETES_NAMESPACE: 'ml', MLOE_STAGING_IMAGE: 'registry.local/curl:8' },
      flags: { executor: 'kubernetes' },
      cwd: '/tmp',
    });
    expect(config.executors).toEqual({ kubernetes: { namespace: 'ml', stagingImage: 'registry.local/curl:8' } });
    expect(loadWorkerConfig({ env: { MLOE_EXECUTORS: 'local, kubernetes' }, cwd: '/tmp' }).executors).toEqual({
      kubernetes: {},
    });
    expect(loadWorkerConfig({ env: {}, cwd: '/tmp' }).executors).toBeUndefined();
    expect(
      loadWorkerConfig({
        env: { AWS_REGION: 'eu-west-1', MLOE_BATCH_ENDPOINT: 'http://127.0.0.1:4566' },
        flags: { executor: 'batch,kubernetes' },
        cwd: '/tmp',
      }).executors,
    ).toEqual({ kubernetes: {}, batch: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566' } });
  });

  test("the worker's executors write its Temporal namespace on their jobs, for the orphan sweep", async () => {
    const config = loadWorkerConfig({
      env: { TEMPORAL_NAMESPACE: 'team-a', AWS_REGION: 'eu-west-1' },
      flags: { executor: 'kubernetes,batch' },
      cwd: '/tmp',
    });
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{ name: c, cluster: { server: "http://127.0.0.1:1" } }]',
      'users: [{ name: u, user: {} }]',
      'contexts: [{ name: x, context: { cluster: c, user: u } }]',
      'current-context: x',
    ].join('\n');
    const previous = process.env.KUBECONFIG;
    const directory = await mkdtemp(join(tmpdir(), 'mloe-executors-config-'));
    try {
      process.env.KUBECONFIG = join(directory, 'config');
      await writeFile(process.env.KUBECONFIG, kubeconfig);
      const executors = workerExecutors(config);
      expect((executors.kubernetes as KubernetesExecutor).config.temporalNamespace).toBe('team-a');
      expect((executors.batch as BatchExecutor).config.temporalNamespace).toBe('team-a');
      await Promise.all(Object.values(executors).map((executor) => executor.close()));
    } finally {
      if (previous === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = previous;
      await rm(directory, { recursive: true, force: true });
    }
  });

  test('bad values name the setting and the fix', () => {
    const problem = (load: () => unknown): string => {
      try {
        load();
      } catch (error) {
        expect(error).toBeInstanceOf(MloeError);
        expect((error as MloeError).code).toBe('CONFIG_INVALID');
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(problem(() => loadWorkerConfig({ env: { MLOE_EXECUTORS: 'gpu' }, cwd: '/tmp' }))).toMatch(
      /MLOE_EXECUTORS="gpu".*use kubernetes, batch or local/s,
    );
    expect(problem(() => loadWorkerConfig({ env: { MLOE_BATCH_ENDPOINT: 'ftp://x' }, cwd: '/tmp' }))).toMatch(
      /MLOE_BATCH_ENDPOINT/,
    );
    expect(problem(() => loadWorkerConfig({ env: { MLOE_KUBERNETES_NAMESPACE: 'ML' }, cwd: '/tmp' }))).toMatch(
      /MLOE_KUBERNETES_NAMESPACE/,
    );
    expect(problem(() => parseKubernetesExecutorConfig({ ttlSecondsAfterFinished: -1 }))).toMatch(
      /ttlSecondsAfterFinished/,
    );
  });
});
