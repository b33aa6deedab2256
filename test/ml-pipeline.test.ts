/**
 * The model steps in a pipeline run by the `runPipeline` workflow on the jest dev server, tracked in the jest MLflow
 * server: penguins Parquet splits (ingested with ingest@1) → features@1 → train@2 → evaluate@2 against the champion →
 * register@1 (when it beats it) → deploy@1, then a prediction from the deployed endpoint. A second run compares its
 * candidate with the first run's champion.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BUILTIN_IMPLEMENTATIONS, createStepImplementations } from '../activities/steps';
import { stopDeployment } from '../activities/ml/steps/deploy-step';
import { MlflowTracker, trackingConfigFromEnv } from '../activities/tracking';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import type { PipelineRunStatus } from '../workflows/types';
import { penguinFiles } from './support/ml-fixtures';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';

const TRACKING_URI = process.env.MLFLOW_TEST_TRACKING_URI ?? '';
const steps = createStepImplementations(BUILTIN_IMPLEMENTATIONS);

describe('a penguins pipeline of the model steps', () => {
  let worker: PipelineTestWorker;
  let directory: string;
  const model = `penguins-pipeline-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const taskQueue = `mloe-ml-pipeline-test-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mloe-ml-pipeline-test-'));
    const config = trackingConfigFromEnv({ MLFLOW_TRACKING_URI: TRACKING_URI });
    if (config === undefined) throw new Error('MLFLOW_TEST_TRACKING_URI is not set (jest globalSetup publishes it)');
    worker = await startPipelineTestWorker({
      taskQueue,
      steps,
      tracking: new MlflowTracker(config, { warn: () => undefined }),
    });
  });

  afterAll(async () => {
    await worker?.stop();
    if (directory !== undefined) {
      await stopDeployment(directory, `${model}@champion`);
      await rm(directory, { recursive: true, force: true });
    }
  });

  function spec(algorithm: string): Record<string, unknown> {
    return {
      apiVersion: 'mloe.dev/v1',
      kind: 'Pipeline',
      metadata: { name: model },
      params: { algorithm: { type: 'string', default: algorithm } },
      steps: {
        train_data: { uses: 'ingest@1', with: { dataPath: 'penguins-train.parquet' } },
        test_data: { uses: 'ingest@1', with: { dataPath: 'penguins-test.parquet' } },
        features: {
          uses: 'features@1',
          needs: ['train_data', 'test_data'],
          with: {
            train: '${{ steps.train_data.outputs.dataset }}',
            test: '${{ steps.test_data.outputs.dataset }}',
            label: 'Species',
            categorical: ['Island', 'Sex'],
            impute: 'mean',
            imputeCategorical: 'most_frequent',
          },
        },
        train: {
          uses: 'train@2',
          needs: ['features'],
          with: {
            train: '${{ steps.features.outputs.train }}',
            transform: '${{ steps.features.outputs.transform }}',
            algorithm: '${{ params.algorithm }}',
            hyperparameters: '${{ params.algorithm == "random-forest" ? {"trees": 50} : {} }}',
            seed: 1,
          },
        },
        evaluate: {
          uses: 'evaluate@2',
          needs: ['train'],
          with: {
            model: '${{ steps.train.outputs.model }}',
            test: '${{ steps.test_data.outputs.dataset }}',
            champion: `models:/${model}@champion`,
          },
        },
        register: {
          uses: 'register@1',
          needs: ['evaluate'],
          when: '${{ steps.evaluate.outputs.metrics.accuracy >= 0.95 && steps.evaluate.outputs.beatsChampion }}',
          with: {
            model: '${{ steps.train.outputs.model }}',
            name: model,
            alias: 'champion',
            fileName: 'model.json',
            signatureInputs: '${{ steps.train.outputs.signatureInputs }}',
            signatureOutputs: '${{ steps.train.outputs.signatureOutputs }}',
          },
        },
        deploy: { uses: 'deploy@1', needs: ['register'], with: { model: `${model}@champion` } },
      },
    };
  }

  async function run(algorithm: string): Promise<PipelineRunStatus> {
    const started = await startPipeline(worker.env.client, {
      spec: spec(algorithm),
      artifactRoot: join(directory, 'artifacts'),
      workingDir: directory,
      taskQueue,
      descriptors: steps.descriptors,
    });
    const outcome = await waitForPipeline(started.handle, { pollIntervalMs: 100 });
    if (outcome.error !== undefined) throw new Error('the run failed', { cause: outcome.error });
    return outcome.status;
  }

  const stepOf = (status: PipelineRunStatus, id: string) => {
    const step = status.steps.find((entry) => entry.id === id);
    if (step === undefined) throw new Error(`no step ${id}`);
    return step;
  };

  it('trains, evaluates against no champion, registers, deploys and serves; a second run meets the first as champion', async () => {
    await penguinFiles(directory);
    const first = await run('random-forest');
    expect(first.state).toBe('completed');
    expect(stepOf(first, 'evaluate').outputs?.champion).toMatchObject({ status: 'none' });
    expect(stepOf(first, 'register').outputs?.version).toBe('1');
    const deploy = stepOf(first, 'deploy').outputs ?? {};
    expect(deploy).toMatchObject({ name: model, version: '1', changed: true });
    const answer = await fetch(`${deploy.url as string}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        dataframe_records: [
          {
            Island: 'Biscoe',
            'Beak Length (mm)': 47.5,
            'Beak Depth (mm)': 14.2,
            'Flipper Length (mm)': 217,
            'Body Mass (g)': 5000,
            Sex: null, // imputed with the most frequent value
          },
        ],
      }),
    });
    expect(await answer.json()).toMatchObject({ predictions: ['Gentoo'], model: { name: model, version: '1' } });

    const second = await run('softmax-regression');
    const champion = stepOf(second, 'evaluate').outputs?.champion;
    expect(champion).toMatchObject({ status: 'scored', name: model, version: '1' });
    const beats = stepOf(second, 'evaluate').outputs?.beatsChampion;
    expect(stepOf(second, 'register').state).toBe(beats === true ? 'completed' : 'skipped');
  }, 300_000);
});
