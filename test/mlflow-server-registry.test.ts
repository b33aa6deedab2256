/**
 * The embedded MLflow server's model registry over real HTTP: registered models (create, get, rename with versions
 * following, update, delete, tags, search), model versions (READY at once, numbers never reused, update, delete,
 * tags, download URI, source rules, search), aliases as MLflow keeps them (`latest` and `v<N>` reserved, a missing
 * alias INVALID_PARAMETER_VALUE), latest versions per stage and legacy stage transitions.
 */
import { suiteMlflowServer, type MlflowRest } from './mlflow/rest';

const server = suiteMlflowServer();
let rest: MlflowRest;
let runId: string;
let experimentId: string;

interface ModelVersion {
  name: string;
  version: string;
  current_stage: string;
  source: string;
  run_id: string;
  status: string;
  description?: string;
  tags?: { key: string; value: string }[];
  aliases?: string[];
  creation_timestamp: number;
  last_updated_timestamp: number;
}
interface RegisteredModel {
  name: string;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: { key: string; value: string }[];
  aliases?: { alias: string; version: string }[];
}

let counter = 0;
const uniqueName = (prefix: string): string => `${prefix}-${++counter}-${Date.now()}`;
const sourceOf = (path = 'model'): string => `mlflow-artifacts:/${experimentId}/${runId}/artifacts/${path}`;

async function model(name: string, versions = 0): Promise<void> {
  await rest.ok('POST', 'registered-models/create', { name });
  for (let i = 0; i < versions; i++) {
    await rest.ok('POST', 'model-versions/create', { name, source: sourceOf(), run_id: runId });
  }
}

const getVersion = async (name: string, version: string): Promise<ModelVersion> =>
  (await rest.ok<{ model_version: ModelVersion }>('GET', 'model-versions/get', { name, version })).model_version;
const getModel = async (name: string): Promise<RegisteredModel> =>
  (await rest.ok<{ registered_model: RegisteredModel }>('GET', 'registered-models/get', { name })).registered_model;

beforeAll(async () => {
  rest = server().rest;
  experimentId = await rest.experiment('registry');
  runId = await rest.run(experimentId);
});

describe('registered models and versions', () => {
  it('creates a model and READY versions numbered from 1, with tags and descriptions', async () => {
    const name = uniqueName('basic');
    const { registered_model } = await rest.ok<{ registered_model: RegisteredModel }>(
      'POST',
      'registered-models/create',
      { name, description: 'a model', tags: [{ key: 'owner', value: 'ml' }] },
    );
    expect(registered_model).toMatchObject({ name, description: 'a model', tags: [{ key: 'owner', value: 'ml' }] });
    expect(registered_model.latest_versions).toBeUndefined();

    const { model_version } = await rest.ok<{ model_version: ModelVersion }>('POST', 'model-versions/create', {
      name,
      source: sourceOf(),
      run_id: runId,
      description: 'first',
      tags: [{ key: 'digest', value: 'sha256:1' }],
    });
    expect(model_version).toMatchObject({
      name,
      version: '1',
      current_stage: 'None',
      status: 'READY',
      source: sourceOf(),
      run_id: runId,
      description: 'first',
      tags: [{ key: 'digest', value: 'sha256:1' }],
    });
    await rest.ok('POST', 'model-versions/create', { name, source: sourceOf('model2'), run_id: runId });
    const got = await getModel(name);
    expect(got.latest_versions?.map((v) => v.version)).toEqual(['2']);
    expect(
      (await rest.ok<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', { name, version: '2' }))
        .artifact_uri,
    ).toBe(sourceOf('model2'));
  });

  it('answers missing models and versions, duplicates and bad versions with MLflow codes and messages', async () => {
    const name = uniqueName('errors');
    await model(name, 1);
    expect(await rest.error('POST', 'registered-models/create', { name })).toEqual({
      status: 400,
      error_code: 'RESOURCE_ALREADY_EXISTS',
      message: `Registered Model (name=${name}) already exists.`,
    });
    expect(await rest.error('GET', 'registered-models/get', { name: 'no-such-model' })).toEqual({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: 'Registered Model with name=no-such-model not found',
    });
    expect(await rest.error('GET', 'model-versions/get', { name, version: '9' })).toEqual({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: `Model Version (name=${name}, version=9) not found`,
    });
    expect(await rest.error('GET', 'model-versions/get', { name, version: 'abc' })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Model version must be an integer, got 'abc'",
    });
    expect(
      await rest.error('POST', 'model-versions/create', { name: 'no-such-model', source: sourceOf() }),
    ).toMatchObject({ status: 404, error_code: 'RESOURCE_DOES_NOT_EXIST' });
    expect(await rest.error('POST', 'registered-models/create', { name: '' })).toMatchObject({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
    });
  });

  it('refuses sources with relative references and local paths outside the run', async () => {
    const name = uniqueName('sources');
    await model(name);
    const refused = [
      `mlflow-artifacts:/${experimentId}/${runId}/artifacts/../../other`,
      'mlflow-artifacts:/a/..%2f..%2fb',
      's3://bucket/path/./model',
      '/tmp/model',
      'file:///tmp/model',
    ];
    for (const source of refused) {
      const error = await rest.error('POST', 'model-versions/create', { name, source, run_id: runId });
      expect(error).toMatchObject({ status: 400, error_code: 'INVALID_PARAMETER_VALUE' });
      expect(error.message).toContain(`Invalid model version source: '${source}'`);
    }
    for (const source of [`runs:/${runId}/model`, 's3://bucket/models/m1']) {
      await rest.ok('POST', 'model-versions/create', { name, source, run_id: runId });
    }
  });

  it('resolves a models:/ source to the storage location of the version it names', async () => {
    const name = uniqueName('copy');
    await model(name, 1);
    await rest.ok('POST', 'registered-models/alias', { name, alias: 'best', version: '1' });
    const copy = uniqueName('copy-target');
    await model(copy);
    await rest.ok('POST', 'model-versions/create', { name: copy, source: `models:/${name}@best` });
    const uri = await rest.ok<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', {
      name: copy,
      version: '1',
    });
    expect(uri.artifact_uri).toBe(sourceOf());
  });

  it('renames a model with its versions, and refuses a name in use', async () => {
    const name = uniqueName('old');
    const renamed = uniqueName('new');
    await model(name, 2);
    await rest.ok('POST', 'registered-models/rename', { name, new_name: renamed });
    expect(await rest.error('GET', 'registered-models/get', { name })).toMatchObject({ status: 404 });
    expect((await getVersion(renamed, '2')).name).toBe(renamed);
    const other = uniqueName('taken');
    await model(other);
    expect(await rest.error('POST', 'registered-models/rename', { name: renamed, new_name: other })).toMatchObject({
      error_code: 'RESOURCE_ALREADY_EXISTS',
    });
  });

  it('updates descriptions, overwrites and deletes tags', async () => {
    const name = uniqueName('tags');
    await model(name, 1);
    await rest.ok('PATCH', 'registered-models/update', { name, description: 'new text' });
    await rest.ok('PATCH', 'model-versions/update', { name, version: '1', description: 'v1 text' });
    await rest.ok('POST', 'registered-models/set-tag', { name, key: 'k', value: '1' });
    await rest.ok('POST', 'registered-models/set-tag', { name, key: 'k', value: '2' });
    await rest.ok('POST', 'model-versions/set-tag', { name, version: '1', key: 'vk', value: 'x' });
    expect(await getModel(name)).toMatchObject({ description: 'new text', tags: [{ key: 'k', value: '2' }] });
    expect(await getVersion(name, '1')).toMatchObject({ description: 'v1 text', tags: [{ key: 'vk', value: 'x' }] });
    await rest.ok('DELETE', 'registered-models/delete-tag', { name, key: 'k' });
    await rest.ok('DELETE', 'registered-models/delete-tag', { name, key: 'k' });
    await rest.ok('DELETE', 'model-versions/delete-tag', { name, version: '1', key: 'vk' });
    expect((await getModel(name)).tags).toBeUndefined();
    expect((await getVersion(name, '1')).tags).toBeUndefined();
    expect(
      await rest.error('POST', 'model-versions/set-tag', { name, version: '1', key: 'k', value: 'v'.repeat(5001) }),
    ).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  });

  it('deletes a version without reusing its number, and deletes a model with everything', async () => {
    const name = uniqueName('delete');
    await model(name, 2);
    await rest.ok('DELETE', 'model-versions/delete', { name, version: '2' });
    expect(await rest.error('GET', 'model-versions/get', { name, version: '2' })).toMatchObject({ status: 404 });
    const { model_version } = await rest.ok<{ model_version: ModelVersion }>('POST', 'model-versions/create', {
      name,
      source: sourceOf(),
    });
    expect(model_version.version).toBe('3');
    await rest.ok('DELETE', 'registered-models/delete', { name });
    expect(await rest.error('GET', 'model-versions/get', { name, version: '1' })).toMatchObject({ status: 404 });
    expect(await rest.error('DELETE', 'registered-models/delete', { name })).toMatchObject({ status: 404 });
  });
});

describe('aliases', () => {
  it('sets, moves, reads and deletes aliases; both the model and the version show them', async () => {
    const name = uniqueName('alias');
    await model(name, 2);
    await rest.ok('POST', 'registered-models/alias', { name, alias: 'champion', version: '1' });
    await rest.ok('POST', 'registered-models/alias', { name, alias: 'challenger', version: '2' });
    expect((await getVersion(name, '1')).aliases).toEqual(['champion']);
    await rest.ok('POST', 'registered-models/alias', { name, alias: 'champion', version: '2' });
    const byAlias = await rest.ok<{ model_version: ModelVersion }>('GET', 'registered-models/alias', {
      name,
      alias: 'champion',
    });
    expect(byAlias.model_version).toMatchObject({ version: '2', aliases: ['challenger', 'champion'] });
    expect((await getVersion(name, '1')).aliases).toBeUndefined();
    expect((await getModel(name)).aliases).toEqual([
      { alias: 'challenger', version: '2' },
      { alias: 'champion', version: '2' },
    ]);
    await rest.ok('DELETE', 'registered-models/alias', { name, alias: 'challenger' });
    await rest.ok('DELETE', 'registered-models/alias', { name, alias: 'challenger' });
    expect((await getModel(name)).aliases).toEqual([{ alias: 'champion', version: '2' }]);
  });

  it('answers a missing alias with INVALID_PARAMETER_VALUE and refuses reserved and malformed names', async () => {
    const name = uniqueName('reserved');
    await model(name, 1);
    expect(await rest.error('GET', 'registered-models/alias', { name, alias: 'nobody' })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'Registered model alias nobody not found.',
    });
    const refusals: [string, string][] = [
      ['latest', "'latest' alias name (case insensitive) is reserved."],
      ['LaTeSt', "'latest' alias name (case insensitive) is reserved."],
      ['v1', "Version alias name 'v1' is reserved."],
      ['V12', "Version alias name 'V12' is reserved."],
      [
        'has space',
        "Invalid alias name: 'has space'. Names may only contain alphanumerics, underscores (_), and dashes (-).",
      ],
    ];
    for (const [alias, message] of refusals) {
      expect(await rest.error('POST', 'registered-models/alias', { name, alias, version: '1' })).toEqual({
        status: 400,
        error_code: 'INVALID_PARAMETER_VALUE',
        message,
      });
    }
    await rest.ok('POST', 'registered-models/alias', { name, alias: 'v1-candidate', version: '1' });
    expect(await rest.error('POST', 'registered-models/alias', { name, alias: 'prod', version: '7' })).toMatchObject({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
    });
  });

  it('drops the aliases of a deleted version', async () => {
    const name = uniqueName('alias-delete');
    await model(name, 2);
    await rest.ok('POST', 'registered-models/alias', { name, alias: 'prod', version: '2' });
    await rest.ok('DELETE', 'model-versions/delete', { name, version: '2' });
    expect(await rest.error('GET', 'registered-models/alias', { name, alias: 'prod' })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
    });
    expect((await getModel(name)).aliases).toBeUndefined();
  });
});

describe('stages (legacy)', () => {
  it('transitions versions, archives the stage’s previous versions on request, and lists the latest per stage', async () => {
    const name = uniqueName('stages');
    await model(name, 3);
    const transition = (version: string, stage: string, archive = false): Promise<{ model_version: ModelVersion }> =>
      rest.ok('POST', 'model-versions/transition-stage', {
        name,
        version,
        stage,
        archive_existing_versions: archive,
      });
    expect((await transition('1', 'production')).model_version.current_stage).toBe('Production');
    await transition('2', 'Staging');
    await transition('3', 'Production', true);
    expect((await getVersion(name, '1')).current_stage).toBe('Archived');
    const latest = async (stages: string[]): Promise<string[]> =>
      (
        (
          await rest.ok<{ model_versions?: ModelVersion[] }>('POST', 'registered-models/get-latest-versions', {
            name,
            stages,
          })
        ).model_versions ?? []
      ).map((v) => `${v.current_stage}:${v.version}`);
    expect((await latest([])).sort()).toEqual(['Archived:1', 'Production:3', 'Staging:2']);
    expect(await latest(['staging'])).toEqual(['Staging:2']);
    expect(await latest(['None'])).toEqual([]);
    expect(await rest.error('POST', 'model-versions/transition-stage', { name, version: '1', stage: 'Prod' })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived.',
    });
    expect(
      await rest.error('POST', 'model-versions/transition-stage', {
        name,
        version: '1',
        stage: 'Archived',
        archive_existing_versions: true,
      }),
    ).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  });
});

describe('search', () => {
  const prefix = `searchable-${Date.now()}`;
  beforeAll(async () => {
    for (const n of ['b', 'a', 'c']) {
      await model(`${prefix}-${n}`, n === 'a' ? 3 : 1);
      await rest.ok('POST', 'registered-models/set-tag', {
        name: `${prefix}-${n}`,
        key: 'group',
        value: n === 'c' ? 'x' : 'y',
      });
    }
    await rest.ok('POST', 'model-versions/set-tag', {
      name: `${prefix}-a`,
      version: '2',
      key: 'validated',
      value: 'yes',
    });
  });

  it('searches registered models by name and tag, ordered and paged', async () => {
    const names = async (message: Record<string, unknown>): Promise<{ names: string[]; token?: string }> => {
      const answer = await rest.ok<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
        'GET',
        'registered-models/search',
        message,
      );
      return {
        names: (answer.registered_models ?? []).map((m) => m.name),
        ...(answer.next_page_token === undefined ? {} : { token: answer.next_page_token }),
      };
    };
    expect((await names({ filter: `name LIKE '${prefix}-%'` })).names).toEqual([
      `${prefix}-a`,
      `${prefix}-b`,
      `${prefix}-c`,
    ]);
    expect((await names({ filter: `name LIKE '${prefix}-%'`, order_by: ['name DESC'] })).names).toEqual([
      `${prefix}-c`,
      `${prefix}-b`,
      `${prefix}-a`,
    ]);
    expect((await names({ filter: `name ILIKE '${prefix.toUpperCase()}-%' AND tags.group = 'y'` })).names).toEqual([
      `${prefix}-a`,
      `${prefix}-b`,
    ]);
    const first = await names({ filter: `name LIKE '${prefix}-%'`, max_results: 2 });
    expect(first.names).toEqual([`${prefix}-a`, `${prefix}-b`]);
    const second = await names({ filter: `name LIKE '${prefix}-%'`, max_results: 2, page_token: first.token });
    expect(second).toEqual({ names: [`${prefix}-c`] });

    expect(await rest.error('GET', 'registered-models/search', { filter: "run_id = 'x'" })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Invalid attribute key 'run_id' specified. Valid keys are '{'name'}'",
    });
    expect(await rest.error('GET', 'registered-models/search', { max_results: 1001 })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
    });
  });

  it('searches model versions by name, run, version number and tag', async () => {
    const versions = async (filter: string, orderBy: string[] = []): Promise<string[]> =>
      (
        (
          await rest.ok<{ model_versions?: ModelVersion[] }>('GET', 'model-versions/search', {
            filter,
            order_by: orderBy,
          })
        ).model_versions ?? []
      ).map((v) => `${v.name.slice(prefix.length + 1)}:${v.version}`);
    expect(await versions(`name = '${prefix}-a'`)).toEqual(['a:3', 'a:2', 'a:1']);
    expect(await versions(`name = '${prefix}-a' AND version_number > 1`, ['version_number ASC'])).toEqual([
      'a:2',
      'a:3',
    ]);
    expect(await versions(`name LIKE '${prefix}-%' AND tags.validated = 'yes'`)).toEqual(['a:2']);
    expect((await versions(`run_id IN ('${runId}') AND name LIKE '${prefix}-%'`)).length).toBe(5);
    expect(await versions(`name LIKE '${prefix}-%' AND run_id = 'nobody'`)).toEqual([]);
    expect(await rest.error('GET', 'model-versions/search', { filter: "stage = 'None'" })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
    });
  });
});
