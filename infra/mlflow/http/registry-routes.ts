/**
 * The model registry endpoints of MLflow's REST API 2.0 (`model_registry.proto`): registered models, model versions,
 * tags, aliases, latest versions, legacy stage transitions and download URIs.
 */
import type { MlflowBackend } from '../backend';
import type { RequestFields } from './request';
import { listField, tokenField, type Route } from './routes';

function searchOptions(fields: RequestFields): {
  filter?: string;
  maxResults?: number;
  orderBy: string[];
  pageToken?: string;
} {
  const filter = fields.string('filter');
  const maxResults = fields.int('max_results');
  const pageToken = fields.string('page_token');
  return {
    orderBy: fields.stringList('order_by'),
    ...(filter === undefined ? {} : { filter }),
    ...(maxResults === undefined ? {} : { maxResults }),
    ...(pageToken === undefined ? {} : { pageToken }),
  };
}

/** The registry routes over a backend. */
export function registryRoutes(backend: MlflowBackend): Route[] {
  const { registeredModels: models, modelVersions: versions } = backend;
  const latestVersions = (fields: RequestFields): unknown =>
    listField('model_versions', models.latestVersions(fields.requiredString('name'), fields.stringList('stages')));
  return [
    {
      method: 'POST',
      path: 'registered-models/create',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const tags = fields.keyValues('tags');
        return { registered_model: await models.create(name, tags, fields.string('description') ?? '') };
      },
    },
    {
      method: 'GET',
      path: 'registered-models/get',
      handle: (fields) => ({ registered_model: models.get(fields.requiredString('name')) }),
    },
    {
      method: 'POST',
      path: 'registered-models/rename',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        return { registered_model: await models.rename(name, fields.requiredString('new_name')) };
      },
    },
    {
      method: 'PATCH',
      path: 'registered-models/update',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        return { registered_model: await models.update(name, fields.string('description') ?? '') };
      },
    },
    {
      method: 'DELETE',
      path: 'registered-models/delete',
      handle: async (fields) => {
        await models.delete(fields.requiredString('name'));
        return {};
      },
    },
    {
      method: 'GET',
      path: 'registered-models/search',
      repeated: ['order_by'],
      handle: (fields) => {
        const result = models.search(searchOptions(fields));
        return { ...listField('registered_models', result.registeredModels), ...tokenField(result.nextPageToken) };
      },
    },
    { method: 'POST', path: 'registered-models/get-latest-versions', handle: latestVersions },
    { method: 'GET', path: 'registered-models/get-latest-versions', repeated: ['stages'], handle: latestVersions },
    {
      method: 'POST',
      path: 'registered-models/set-tag',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        await models.setTag(name, fields.requiredString('key'), fields.string('value') ?? '');
        return {};
      },
    },
    {
      method: 'DELETE',
      path: 'registered-models/delete-tag',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        await models.deleteTag(name, fields.requiredString('key'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'registered-models/alias',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const alias = fields.requiredString('alias');
        await models.setAlias(name, alias, fields.requiredString('version'));
        return {};
      },
    },
    {
      method: 'DELETE',
      path: 'registered-models/alias',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        await models.deleteAlias(name, fields.requiredString('alias'));
        return {};
      },
    },
    {
      method: 'GET',
      path: 'registered-models/alias',
      handle: (fields) => {
        const name = fields.requiredString('name');
        return { model_version: models.versionByAlias(name, fields.requiredString('alias')) };
      },
    },
    {
      method: 'POST',
      path: 'model-versions/create',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const source = fields.requiredString('source');
        return {
          model_version: await versions.create({
            name,
            source,
            runId: fields.string('run_id') ?? '',
            tags: fields.keyValues('tags'),
            runLink: fields.string('run_link') ?? '',
            description: fields.string('description') ?? '',
          }),
        };
      },
    },
    {
      method: 'GET',
      path: 'model-versions/get',
      handle: (fields) => {
        const name = fields.requiredString('name');
        return { model_version: versions.get(name, fields.requiredString('version')) };
      },
    },
    {
      method: 'PATCH',
      path: 'model-versions/update',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const version = fields.requiredString('version');
        return { model_version: await versions.update(name, version, fields.string('description')) };
      },
    },
    {
      method: 'DELETE',
      path: 'model-versions/delete',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        await versions.delete(name, fields.requiredString('version'));
        return {};
      },
    },
    {
      method: 'POST',
      path: 'model-versions/transition-stage',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const version = fields.requiredString('version');
        const stage = fields.requiredString('stage');
        const archive = fields.bool('archive_existing_versions') ?? false;
        return { model_version: await versions.transitionStage(name, version, stage, archive) };
      },
    },
    {
      method: 'GET',
      path: 'model-versions/get-download-uri',
      handle: (fields) => {
        const name = fields.requiredString('name');
        return { artifact_uri: versions.downloadUri(name, fields.requiredString('version')) };
      },
    },
    {
      method: 'GET',
      path: 'model-versions/search',
      repeated: ['order_by'],
      handle: (fields) => {
        const result = versions.search(searchOptions(fields));
        return { ...listField('model_versions', result.modelVersions), ...tokenField(result.nextPageToken) };
      },
    },
    {
      method: 'POST',
      path: 'model-versions/set-tag',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const version = fields.requiredString('version');
        await versions.setTag(name, version, fields.requiredString('key'), fields.string('value') ?? '');
        return {};
      },
    },
    {
      method: 'DELETE',
      path: 'model-versions/delete-tag',
      handle: async (fields) => {
        const name = fields.requiredString('name');
        const version = fields.requiredString('version');
        await versions.deleteTag(name, version, fields.requiredString('key'));
        return {};
      },
    },
  ];
}
