/**
 * The tracking endpoints of MLflow's REST API 2.0 (`service.proto`): experiments, runs, metrics, params, tags,
 * log-batch, log-inputs, log-model, metric history and the run artifact listing.
 */
import { join } from 'node:path/posix';

import type { MlflowBackend } from '../backend';
import { doesNotExist, invalidParameter } from '../errors';
import type { ViewType } from '../tracking/experiments';
import { RUN_STATUSES } from '../tracking/runs';
import { proxiedArtifactPath } from '../uris';
import type { DatasetInput } from '../validation';
import { validateArtifactPath } from '../artifacts/paths';
import { missingValue, type RequestFields } from './request';
import { listField, tokenField, type Route } from './routes';

const VIEW_TYPES: readonly ViewType[] = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'];
const VIEW_TYPE_NUMBERS: Record<number, ViewType> = { 1: 'ACTIVE_ONLY', 2: 'DELETED_ONLY', 3: 'ALL' };
const RUN_STATUS_NUMBERS = { 1: 'RUNNING', 2: 'SCHEDULED', 3: 'FINISHED', 4: 'FAILED', 5: 'KILLED' } as const;

function metricOf(item: RequestFields): { key: string; value: number; timestamp: number; step: number } {
  return {
    key: item.requiredString('key'),
    value: item.requiredDouble('value'),
    timestamp: item.requiredInt('timestamp'),
    step: item.int('step') ?? 0,
  };
}

function datasetOf(item: RequestFields): DatasetInput {
  const dataset: DatasetInput = {
    name: item.requiredString('name'),
    digest: item.requiredString('digest'),
    sourceType: item.requiredString('source_type'),
    source: item.requiredString('source'),
  };
  const schema = item.string('schema');
  const profile = item.string('profile');
  if (schema !== undefined && schema !== '') dataset.schema = schema;
  if (profile !== undefined && profile !== '') dataset.profile = profile;
  return dataset;
}

/** The tracking routes over a backend. */
export function trackingRoutes(backend: MlflowBackend): Route[] {
  const { experiments, runs } = backend;
  const searchExperiments = (fields: RequestFields): unknown => {
    const maxResults = fields.int('max_results');
    const filter = fields.string('filter');
    const pageToken = fields.string('page_token');
    const viewType = fields.enumValue('view_type', VIEW_TYPES, VIEW_TYPE_NUMBERS);
    const result = experiments.search({
      orderBy: fields.stringList('order_by'),
      ...(maxResults === undefined ? {} : { maxResults }),
      ...(filter === undefined ? {} : { filter }),
      ...(pageToken === undefined ? {} : { pageToken }),
      ...(viewType === undefined ? {} : { viewType }),
    });
    return { ...listField('experiments', result.experiments), ...tokenField(result.nextPageToken) };
  };

  return [
    {
      method: 'POST',
      path: 'experiments/create',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const artifactLocation = fields.string('artifact_location');
        if (artifactLocation !== undefined && artifactLocation.includes('#')) {
          throw invalidParameter("'artifact_location' URL can't include fragments or params.");
        }
        if (artifactLocation !== undefined && /\?.*\.\./.test(artifactLocation)) {
          throw invalidParameter('Invalid query string');
        }
        return { experiment_id: await experiments.create(name, artifactLocation, fields.keyValues('tags')) };
      },
    },
    {
      method: 'GET',
      path: 'experiments/get',
      handle: (fields) => ({ experiment: experiments.get(fields.requiredString('experiment_id')) }),
    },
    {
      method: 'GET',
      path: 'experiments/get-by-name',
      handle: (fields) => {
        const name = fields.requiredString('experiment_name');
        const experiment = experiments.getByName(name);
        if (experiment === undefined) throw doesNotExist(`Could not find experiment with name '${name}'`);
        return { experiment };
      },
    },
    { method: 'GET', path: 'experiments/search', repeated: ['order_by'], handle: searchExperiments },
    { method: 'POST', path: 'experiments/search', handle: searchExperiments },
    {
      method: 'POST',
      path: 'experiments/delete',
      handle: async (fields) => {
        await experiments.delete(fields.requiredString('experiment_id'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'experiments/restore',
      handle: async (fields) => {
        await experiments.restore(fields.requiredString('experiment_id'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'experiments/update',
      handle: async (fields) => {
        const id = fields.requiredString('experiment_id');
        await experiments.rename(id, fields.requiredString('new_name'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'experiments/set-experiment-tag',
      handle: async (fields) => {
        const id = fields.requiredString('experiment_id');
        await experiments.setTag(id, fields.requiredString('key'), fields.string('value') ?? '');
        return {};
      },
    },
    {
      method: 'POST',
      path: 'experiments/delete-experiment-tag',
      handle: async (fields) => {
        const id = fields.requiredString('experiment_id');
        await experiments.deleteTag(id, fields.requiredString('key'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/create',
      handle: async (fields) => ({
        run: await runs.create({
          experimentId: fields.string('experiment_id') ?? '',
          userId: fields.string('user_id') ?? '',
          startTime: fields.int('start_time'),
          tags: fields.keyValues('tags'),
          runName: fields.string('run_name') ?? '',
        }),
      }),
    },
    {
      method: 'POST',
      path: 'runs/update',
      handle: async (fields) => {
        const runId = fields.runId();
        const status = fields.enumValue('status', RUN_STATUSES, RUN_STATUS_NUMBERS);
        const endTime = fields.int('end_time');
        const runName = fields.string('run_name');
        return {
          run_info: await runs.update(runId, {
            ...(status === undefined ? {} : { status }),
            ...(endTime === undefined ? {} : { endTime }),
            ...(runName === undefined ? {} : { runName }),
          }),
        };
      },
    },
    {
      method: 'POST',
      path: 'runs/delete',
      handle: async (fields) => {
        await runs.delete(fields.requiredString('run_id'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/restore',
      handle: async (fields) => {
        await runs.restore(fields.requiredString('run_id'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/log-metric',
      handle: async (fields) => {
        const runId = fields.runId();
        await runs.logMetric(runId, metricOf(fields));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/log-parameter',
      handle: async (fields) => {
        const runId = fields.runId();
        await runs.logParam(runId, fields.requiredString('key'), fields.string('value') ?? '');
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/set-tag',
      handle: async (fields) => {
        const runId = fields.runId();
        await runs.setTag(runId, fields.requiredString('key'), fields.string('value') ?? '');
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/delete-tag',
      handle: async (fields) => {
        const runId = fields.requiredString('run_id');
        await runs.deleteTag(runId, fields.requiredString('key'));
        return {};
      },
    },
    { method: 'GET', path: 'runs/get', handle: (fields) => ({ run: runs.get(fields.runId()) }) },
    {
      method: 'POST',
      path: 'runs/search',
      handle: (fields) => {
        const maxResults = fields.int('max_results');
        const filter = fields.string('filter');
        const pageToken = fields.string('page_token');
        const runViewType = fields.enumValue('run_view_type', VIEW_TYPES, VIEW_TYPE_NUMBERS);
        const result = backend.searchRuns({
          experimentIds: fields.stringList('experiment_ids'),
          orderBy: fields.stringList('order_by'),
          ...(maxResults === undefined ? {} : { maxResults }),
          ...(filter === undefined ? {} : { filter }),
          ...(pageToken === undefined ? {} : { pageToken }),
          ...(runViewType === undefined ? {} : { runViewType }),
        });
        return { ...listField('runs', result.runs), ...tokenField(result.nextPageToken) };
      },
    },
    {
      method: 'POST',
      path: 'runs/log-batch',
      handle: async (fields) => {
        const runId = fields.requiredString('run_id');
        const metrics = fields.messages('metrics', metricOf);
        const params = fields.keyValues('params');
        const tags = fields.keyValues('tags');
        await runs.logBatch(runId, metrics, params, tags);
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/log-model',
      handle: async (fields) => {
        const runId = fields.requiredString('run_id');
        await runs.logModel(runId, fields.requiredString('model_json'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'runs/log-inputs',
      handle: async (fields) => {
        const runId = fields.requiredString('run_id');
        const inputs = fields.messages('datasets', (item) => {
          const dataset = item.message('dataset', datasetOf);
          if (dataset === undefined) throw missingValue('dataset');
          return { dataset, tags: item.keyValues('tags') };
        });
        await runs.logInputs(runId, inputs);
        return {};
      },
    },
    {
      method: 'GET',
      path: 'metrics/get-history',
      handle: (fields) => {
        const runId = fields.runId();
        const key = fields.requiredString('metric_key');
        const maxResults = fields.int('max_results');
        const pageToken = fields.string('page_token');
        const result = runs.metricHistory(runId, key, {
          ...(maxResults === undefined ? {} : { maxResults }),
          ...(pageToken === undefined ? {} : { pageToken }),
        });
        return { ...listField('metrics', result.metrics), ...tokenField(result.nextPageToken) };
      },
    },
    {
      method: 'GET',
      path: 'artifacts/list',
      handle: async (fields) => {
        const run = runs.info(fields.runId());
        const path = validateArtifactPath(fields.string('path') ?? '', true);
        const proxied = backend.config.serveArtifacts ? proxiedArtifactPath(run.artifact_uri) : undefined;
        const repository = proxied === undefined ? backend.repositoryFor(run.artifact_uri) : backend.artifacts;
        if (repository === undefined) return { root_uri: run.artifact_uri };
        const directory = proxied === undefined ? path : join(proxied, path);
        const files = (await repository.list(directory)).map((info) => ({
          path: path === '' ? info.name : `${path}/${info.name}`,
          is_dir: info.isDir,
          ...(info.isDir || info.size === undefined || info.size === 0 ? {} : { file_size: info.size }),
        }));
        return { root_uri: run.artifact_uri, ...listField('files', files) };
      },
    },
  ];
}
