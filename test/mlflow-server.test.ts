/**
 * The embedded MLflow server's tracking API over real HTTP: experiments (create, get, by name, rename, tags, delete
 * and restore with their runs), runs (create, get, update, delete, restore), params (immutable), metrics (appended,
 * NaN and infinities, current value at the highest step, history pages), tags (overwritten, run name), log-batch
 * (limits, atomic, idempotent), log-inputs, log-model, and MLflow's error bodies for each refusal.
 */
import { suiteMlflowServer, type MlflowRest } from './mlflow/rest';

const server = suiteMlflowServer();
let rest: MlflowRest;
beforeAll(() => {
  rest = server().rest;
});

interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
  tags?: { key: string; value: string }[];
}
interface Metric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}
interface Run {
  info: {
    run_id: string;
    run_uuid: string;
    run_name: string;
    experiment_id: string;
    user_id: string;
    status: string;
    start_time: number;
    end_time?: number;
    artifact_uri: string;
    lifecycle_stage: string;
  };
  data: { metrics?: Metric[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
  inputs: { dataset_inputs?: { tags?: { key: string; value: string }[]; dataset: Record<string, string> }[] };
}

const getRun = async (runId: string): Promise<Run> =>
  (await rest.ok<{ run: Run }>('GET', 'runs/get', { run_id: runId })).run;
const tagsOf = (run: Run): Record<string, string> =>
  Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));

describe('experiments', () => {
  it('has the Default experiment 0 and creates experiments with ids, locations and tags', async () => {
    const { experiment } = await rest.ok<{ experiment: Experiment }>('GET', 'experiments/get', { experiment_id: '0' });
    expect(experiment).toMatchObject({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active' });
    expect(experiment.artifact_location).toBe('mlflow-artifacts:/0');

    const created = await rest.ok<{ experiment_id: string }>('POST', 'experiments/create', {
      name: 'tracking-basics',
      tags: [{ key: 'team', value: 'ml' }],
    });
    expect(created.experiment_id).toMatch(/^[1-9]\d*$/);
    const got = await rest.ok<{ experiment: Experiment }>('GET', 'experiments/get', {
      experiment_id: created.experiment_id,
    });
    expect(got.experiment).toEqual({
      experiment_id: created.experiment_id,
      name: 'tracking-basics',
      artifact_location: `mlflow-artifacts:/${created.experiment_id}`,
      lifecycle_stage: 'active',
      creation_time: expect.any(Number) as number,
      last_update_time: expect.any(Number) as number,
      tags: [{ key: 'team', value: 'ml' }],
    });
    const byName = await rest.ok<{ experiment: Experiment }>('GET', 'experiments/get-by-name', {
      experiment_name: 'tracking-basics',
    });
    expect(byName.experiment.experiment_id).toBe(created.experiment_id);
  });

  it('refuses a duplicate name, an empty name, and answers unknown ids and names with RESOURCE_DOES_NOT_EXIST', async () => {
    await rest.ok('POST', 'experiments/create', { name: 'dup-exp' });
    expect(await rest.error('POST', 'experiments/create', { name: 'dup-exp' })).toMatchObject({
      status: 400,
      error_code: 'RESOURCE_ALREADY_EXISTS',
    });
    expect(await rest.error('POST', 'experiments/create', {})).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message:
        "Missing value for required parameter 'name'. See the API docs for more information about request parameters.",
    });
    expect(await rest.error('GET', 'experiments/get', { experiment_id: '987654' })).toEqual({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: 'No Experiment with id=987654 exists',
    });
    expect(await rest.error('GET', 'experiments/get-by-name', { experiment_name: 'never-made' })).toEqual({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: "Could not find experiment with name 'never-made'",
    });
  });

  it('renames, sets and deletes tags', async () => {
    const id = await rest.experiment('rename');
    await rest.ok('POST', 'experiments/update', { experiment_id: id, new_name: `renamed-${id}` });
    await rest.ok('POST', 'experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v1' });
    await rest.ok('POST', 'experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v2' });
    let { experiment } = await rest.ok<{ experiment: Experiment }>('GET', 'experiments/get', { experiment_id: id });
    expect(experiment.name).toBe(`renamed-${id}`);
    expect(experiment.tags).toEqual([{ key: 'k', value: 'v2' }]);
    await rest.ok('POST', 'experiments/delete-experiment-tag', { experiment_id: id, key: 'k' });
    ({ experiment } = await rest.ok<{ experiment: Experiment }>('GET', 'experiments/get', { experiment_id: id }));
    expect(experiment.tags).toBeUndefined();
    expect(
      await rest.error('POST', 'experiments/delete-experiment-tag', { experiment_id: id, key: 'k' }),
    ).toMatchObject({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
    });
  });

  it('deletes an experiment with its runs, keeps its name taken, refuses new runs, and restores both', async () => {
    const id = await rest.experiment('lifecycle');
    const runId = await rest.run(id);
    const { experiment } = await rest.ok<{ experiment: Experiment }>('GET', 'experiments/get', { experiment_id: id });
    await rest.ok('POST', 'experiments/delete', { experiment_id: id });

    const deleted = await rest.ok<{ experiment: Experiment }>('GET', 'experiments/get', { experiment_id: id });
    expect(deleted.experiment.lifecycle_stage).toBe('deleted');
    expect((await getRun(runId)).info.lifecycle_stage).toBe('deleted');
    expect(await rest.error('POST', 'experiments/create', { name: experiment.name })).toMatchObject({
      error_code: 'RESOURCE_ALREADY_EXISTS',
    });
    expect(await rest.error('POST', 'runs/create', { experiment_id: id })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `The experiment ${id} must be in the 'active' state. Current state is deleted.`,
    });
    expect(await rest.error('POST', 'experiments/delete', { experiment_id: id })).toMatchObject({ status: 404 });
    expect(await rest.error('POST', 'experiments/update', { experiment_id: id, new_name: 'x' })).toMatchObject({
      error_code: 'INVALID_STATE',
      message: 'Cannot rename a non-active experiment.',
    });
    const active = await rest.ok<{ experiments?: Experiment[] }>('POST', 'experiments/search', {
      filter: `name = '${experiment.name}'`,
    });
    expect(active.experiments).toBeUndefined();
    const deletedOnly = await rest.ok<{ experiments?: Experiment[] }>('POST', 'experiments/search', {
      filter: `name = '${experiment.name}'`,
      view_type: 'DELETED_ONLY',
    });
    expect(deletedOnly.experiments?.map((e) => e.experiment_id)).toEqual([id]);

    await rest.ok('POST', 'experiments/restore', { experiment_id: id });
    expect((await getRun(runId)).info.lifecycle_stage).toBe('active');
    expect(await rest.error('POST', 'experiments/restore', { experiment_id: id })).toMatchObject({ status: 404 });
  });

  it('searches with a filter, order_by and page tokens, by GET and POST', async () => {
    const prefix = `paged-${Date.now()}`;
    for (const n of [3, 1, 2]) {
      await rest.ok('POST', 'experiments/create', {
        name: `${prefix}-${n}`,
        tags: [{ key: 'parity', value: n % 2 === 0 ? 'even' : 'odd' }],
      });
    }
    const names = async (message: Record<string, unknown>, method: 'GET' | 'POST' = 'POST'): Promise<string[]> =>
      ((await rest.ok<{ experiments?: Experiment[] }>(method, 'experiments/search', message)).experiments ?? []).map(
        (e) => e.name,
      );
    expect(await names({ filter: `name LIKE '${prefix}-%'`, order_by: ['name DESC'] })).toEqual([
      `${prefix}-3`,
      `${prefix}-2`,
      `${prefix}-1`,
    ]);
    expect(
      await names({ filter: `name LIKE '${prefix}-%' AND tags.parity = 'odd'`, order_by: ['name'] }, 'GET'),
    ).toEqual([`${prefix}-1`, `${prefix}-3`]);
    // Default order: creation time, newest first, then id.
    const byDefault = (
      await rest.ok<{ experiments: Experiment[] }>('POST', 'experiments/search', { filter: `name LIKE '${prefix}-%'` })
    ).experiments;
    const expected = [...byDefault].sort(
      (a, b) => b.creation_time - a.creation_time || Number(a.experiment_id) - Number(b.experiment_id),
    );
    expect(byDefault.map((e) => e.name)).toEqual(expected.map((e) => e.name));

    const first = await rest.ok<{ experiments: Experiment[]; next_page_token: string }>('POST', 'experiments/search', {
      filter: `name ILIKE '${prefix.toUpperCase()}-%'`,
      order_by: ['name ASC'],
      max_results: 2,
    });
    expect(first.experiments.map((e) => e.name)).toEqual([`${prefix}-1`, `${prefix}-2`]);
    const second = await rest.ok<{ experiments: Experiment[]; next_page_token?: string }>(
      'POST',
      'experiments/search',
      {
        filter: `name ILIKE '${prefix.toUpperCase()}-%'`,
        order_by: ['name ASC'],
        max_results: 2,
        page_token: first.next_page_token,
      },
    );
    expect(second.experiments.map((e) => e.name)).toEqual([`${prefix}-3`]);
    expect(second.next_page_token).toBeUndefined();

    expect(await rest.error('POST', 'experiments/search', { filter: 'params.x = 1' })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')",
    });
    expect(await rest.error('POST', 'experiments/search', { max_results: 50001 })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
    });
  });
});

describe('runs', () => {
  let experimentId: string;
  beforeAll(async () => {
    experimentId = await rest.experiment('runs');
  });

  it('creates a run with its name in mlflow.runName and an mlflow-artifacts URI, and updates it', async () => {
    const { run } = await rest.ok<{ run: Run }>('POST', 'runs/create', {
      experiment_id: experimentId,
      user_id: 'alice',
      start_time: 1_700_000_000_000,
      run_name: 'first',
      tags: [{ key: 'source', value: 'test' }],
    });
    expect(run.info).toEqual({
      run_id: run.info.run_uuid,
      run_uuid: run.info.run_uuid,
      run_name: 'first',
      experiment_id: experimentId,
      user_id: 'alice',
      status: 'RUNNING',
      start_time: 1_700_000_000_000,
      artifact_uri: `mlflow-artifacts:/${experimentId}/${run.info.run_uuid}/artifacts`,
      lifecycle_stage: 'active',
    });
    expect(run.info.run_id).toMatch(/^[0-9a-f]{32}$/);
    expect(tagsOf(run)).toEqual({ 'mlflow.runName': 'first', source: 'test' });
    expect(run.inputs).toEqual({});

    const { run_info } = await rest.ok<{ run_info: Run['info'] }>('POST', 'runs/update', {
      run_id: run.info.run_id,
      status: 'FINISHED',
      end_time: 1_700_000_001_000,
      run_name: 'renamed',
    });
    expect(run_info).toMatchObject({ status: 'FINISHED', end_time: 1_700_000_001_000, run_name: 'renamed' });
    expect(tagsOf(await getRun(run.info.run_id))['mlflow.runName']).toBe('renamed');
  });

  it('answers a created run exactly as runs/get reads it back (the answer is built, not read): tags in key order, the last of a repeated key', async () => {
    for (const body of [
      {
        experiment_id: experimentId,
        start_time: 1_700_000_000_000,
        tags: [
          { key: 'z', value: '1' },
          { key: 'mloe.kind', value: 'step' },
          { key: 'a', value: 'first' },
          { key: 'é', value: 'accent' },
          { key: 'a', value: 'second' },
          { key: 'mlflow.runName', value: 'from-tag' },
          { key: 'B', value: 'upper' },
        ],
      },
      { experiment_id: experimentId, run_name: 'named', user_id: 'bob' },
      { experiment_id: experimentId },
    ]) {
      const { run } = await rest.ok<{ run: Run }>('POST', 'runs/create', body);
      expect(run).toEqual(await getRun(run.info.run_id));
    }
  });

  it('answers an update exactly as runs/get reads the run back (the answer is built, not read): status, end time, both', async () => {
    const runId = await rest.run(experimentId);
    for (const change of [
      { status: 'KILLED' },
      { end_time: 1_700_000_002_000 },
      { status: 'FINISHED', end_time: 1_700_000_003_000 },
      {},
    ]) {
      const { run_info } = await rest.ok<{ run_info: Run['info'] }>('POST', 'runs/update', {
        run_id: runId,
        ...change,
      });
      expect(run_info).toEqual((await getRun(runId)).info);
    }
    expect((await getRun(runId)).info).toMatchObject({ status: 'FINISHED', end_time: 1_700_000_003_000 });
  });

  it('names unnamed runs, and refuses a run name that contradicts the mlflow.runName tag', async () => {
    const runId = await rest.run(experimentId);
    expect((await getRun(runId)).info.run_name).toMatch(/^[a-z]+-[a-z]+-\d{1,3}$/);
    expect(
      await rest.error('POST', 'runs/create', {
        experiment_id: experimentId,
        run_name: 'a',
        tags: [{ key: 'mlflow.runName', value: 'b' }],
      }),
    ).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
    expect(await rest.error('GET', 'runs/get', { run_id: 'f'.repeat(32) })).toEqual({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: `Run with id=${'f'.repeat(32)} not found`,
    });
  });

  it('keeps params immutable: the same value again is fine, another one is INVALID_PARAMETER_VALUE', async () => {
    const runId = await rest.run(experimentId);
    await rest.ok('POST', 'runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' });
    await rest.ok('POST', 'runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' });
    expect(await rest.error('POST', 'runs/log-parameter', { run_id: runId, key: 'lr', value: '0.2' })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message:
        `Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' for run ` +
        `ID='${runId}'. Attempted logging new value '0.2'.`,
    });
    await rest.ok('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'lr', value: '0.1' }] });
    const conflict = await rest.error('POST', 'runs/log-batch', {
      run_id: runId,
      params: [{ key: 'lr', value: '0.3' }],
      metrics: [{ key: 'never', value: 1, timestamp: 1 }],
    });
    expect(conflict).toMatchObject({ status: 400, error_code: 'INVALID_PARAMETER_VALUE' });
    expect(conflict.message).toContain('Changing param values is not allowed');
    // The refused batch wrote nothing.
    const run = await getRun(runId);
    expect(run.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
    expect(run.data.metrics).toBeUndefined();
  });

  it('appends metrics, keeps identical points once, and reports the value at the highest step as current', async () => {
    const runId = await rest.run(experimentId);
    const log = (value: number | string, timestamp: number, step: number): Promise<unknown> =>
      rest.ok('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value, timestamp, step });
    await log(0.5, 1000, 2);
    await log(0.9, 3000, 1); // later in time, lower step: not the current value
    await log(0.4, 1000, 2); // same step and time, higher value wins the tie
    await log(0.5, 1000, 2); // identical point: kept once
    expect((await getRun(runId)).data.metrics).toEqual([{ key: 'loss', value: 0.5, timestamp: 1000, step: 2 }]);

    const history = await rest.ok<{ metrics: Metric[] }>('GET', 'metrics/get-history', {
      run_id: runId,
      metric_key: 'loss',
    });
    expect(history.metrics).toEqual([
      { key: 'loss', value: 0.4, timestamp: 1000, step: 2 },
      { key: 'loss', value: 0.5, timestamp: 1000, step: 2 },
      { key: 'loss', value: 0.9, timestamp: 3000, step: 1 },
    ]);
  });

  it('carries NaN and infinities as strings, in and out', async () => {
    const runId = await rest.run(experimentId);
    await rest.ok('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: [
        { key: 'nan', value: 'NaN', timestamp: 1, step: 0 },
        { key: 'inf', value: 'Infinity', timestamp: 1, step: 0 },
        { key: 'ninf', value: '-Infinity', timestamp: 1, step: 0 },
        { key: 'plain', value: '2.5', timestamp: 1, step: 0 },
      ],
    });
    const values = Object.fromEntries((await getRun(runId)).data.metrics!.map((m) => [m.key, m.value]));
    expect(values).toEqual({ nan: 'NaN', inf: 'Infinity', ninf: '-Infinity', plain: 2.5 });
  });

  it('pages metric history with max_results and page_token', async () => {
    const runId = await rest.run(experimentId);
    await rest.ok('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: Array.from({ length: 25 }, (_, i) => ({ key: 'acc', value: i / 100, timestamp: 1000 + i, step: i })),
    });
    const steps: number[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await rest.ok<{ metrics: Metric[]; next_page_token?: string }>('GET', 'metrics/get-history', {
        run_id: runId,
        metric_key: 'acc',
        max_results: 10,
        ...(token === undefined ? {} : { page_token: token }),
      });
      steps.push(...page.metrics.map((m) => m.step));
      token = page.next_page_token;
      pages++;
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(steps).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(await rest.ok('GET', 'metrics/get-history', { run_id: runId, metric_key: 'none' })).toEqual({});
  });

  it('overwrites tags, renames through mlflow.runName, and deletes tags', async () => {
    const runId = await rest.run(experimentId);
    await rest.ok('POST', 'runs/set-tag', { run_id: runId, key: 'stage', value: 'a' });
    await rest.ok('POST', 'runs/set-tag', { run_id: runId, key: 'stage', value: 'b' });
    await rest.ok('POST', 'runs/set-tag', { run_id: runId, key: 'mlflow.runName', value: 'by-tag' });
    let run = await getRun(runId);
    expect(tagsOf(run).stage).toBe('b');
    expect(run.info.run_name).toBe('by-tag');
    await rest.ok('POST', 'runs/delete-tag', { run_id: runId, key: 'stage' });
    run = await getRun(runId);
    expect(tagsOf(run).stage).toBeUndefined();
    expect(await rest.error('POST', 'runs/delete-tag', { run_id: runId, key: 'stage' })).toEqual({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: `No tag with name: stage in run with id ${runId}`,
    });
  });

  it('deletes and restores runs; a deleted run is readable but accepts no logging', async () => {
    const runId = await rest.run(experimentId);
    await rest.ok('POST', 'runs/delete', { run_id: runId });
    expect((await getRun(runId)).info.lifecycle_stage).toBe('deleted');
    expect(await rest.error('POST', 'runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1 })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `The run ${runId} must be in the 'active' state. Current state is deleted.`,
    });
    await rest.ok('POST', 'runs/restore', { run_id: runId });
    await rest.ok('POST', 'runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1 });
  });

  it("validates keys and values as MLflow's validation does", async () => {
    const runId = await rest.run(experimentId);
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'runs/log-metric',
        { key: 'bad*name', value: 1, timestamp: 1 },
        "Invalid metric name: 'bad*name'. Names may only contain alphanumerics, underscores (_), dashes (-), " +
          'periods (.), spaces ( ), and slashes (/).',
      ],
      [
        'runs/log-metric',
        { key: 'a/../b', value: 1, timestamp: 1 },
        "Invalid metric name: 'a/../b'. Names may be treated as files in certain cases, and must not resolve to " +
          "other names when treated as such. This name would resolve to 'b'",
      ],
      [
        'runs/log-metric',
        { key: 'm', value: 1, timestamp: -1 },
        "Got invalid timestamp -1 for metric 'm' (value=1). Timestamp must be a nonnegative long (64-bit integer) ",
      ],
      [
        'runs/log-parameter',
        { key: 'p', value: 'x'.repeat(6001) },
        `Param value '${'x'.repeat(250)}' had length 6001, which exceeded length limit of 6000`,
      ],
      [
        'runs/log-parameter',
        { key: 'k'.repeat(251), value: '1' },
        `Param key '${'k'.repeat(250)}' had length 251, which exceeded length limit of 250`,
      ],
      [
        'runs/set-tag',
        { key: 't', value: 'v'.repeat(5001) },
        `Tag value '${'v'.repeat(250)}' had length 5001, which exceeded length limit of 5000`,
      ],
      [
        'runs/log-metric',
        { key: 'm', value: 'high', timestamp: 1 },
        "Invalid value \"high\" for parameter 'value' supplied: Hint: Value was of type 'str'. See the API docs for " +
          'more information about request parameters.',
      ],
      [
        'runs/log-metric',
        { key: 'm', value: 1 },
        "Missing value for required parameter 'timestamp'. See the API docs for more information about request " +
          'parameters.',
      ],
    ];
    for (const [path, message, expected] of cases) {
      expect(await rest.error('POST', path, { run_id: runId, ...message })).toEqual({
        status: 400,
        error_code: 'INVALID_PARAMETER_VALUE',
        message: expected,
      });
    }
    // Exactly at the limits is fine.
    await rest.ok('POST', 'runs/log-parameter', { run_id: runId, key: 'k'.repeat(250), value: 'x'.repeat(6000) });
    await rest.ok('POST', 'runs/set-tag', { run_id: runId, key: 't', value: 'v'.repeat(5000) });
  });
});

describe('log-batch', () => {
  let experimentId: string;
  beforeAll(async () => {
    experimentId = await rest.experiment('batch');
  });
  const metrics = (n: number): Record<string, unknown>[] =>
    Array.from({ length: n }, (_, i) => ({ key: `m${i % 10}`, value: i, timestamp: 1000 + i, step: i }));
  const params = (n: number): Record<string, unknown>[] =>
    Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: `${i}` }));

  it('takes 1,000 metrics, 100 params and 100 tags up to 1,000 items, and refuses one more of each', async () => {
    const runId = await rest.run(experimentId);
    await rest.ok('POST', 'runs/log-batch', { run_id: runId, metrics: metrics(1000) });
    await rest.ok('POST', 'runs/log-batch', { run_id: runId, params: params(100), tags: params(100) });
    await rest.ok('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: metrics(800),
      params: params(100),
      tags: params(100),
    });
    const refusals: [Record<string, unknown>, string][] = [
      [
        { metrics: metrics(1001) },
        'A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics ' +
          'across multiple requests and try again.',
      ],
      [
        { params: params(101) },
        'A batch logging request can contain at most 100 params. Got 101 params. Please split up params across ' +
          'multiple requests and try again.',
      ],
      [
        { tags: params(101) },
        'A batch logging request can contain at most 100 tags. Got 101 tags. Please split up tags across multiple ' +
          'requests and try again.',
      ],
      [
        { metrics: metrics(801), params: params(100), tags: params(100) },
        'A batch logging request can contain at most 1000 metrics, params, and tags. Got 1001 metrics, params, and ' +
          'tags. Please split up metrics, params, and tags across multiple requests and try again.',
      ],
      [
        { params: [...params(2), { key: 'p0', value: 'again' }] },
        "Duplicate parameter keys have been submitted: ['p0']. Please ensure the request contains only one param " +
          'value per param key.',
      ],
      [
        { metrics: [{ key: 'm', value: 1 }] },
        "Missing value for required parameter 'metrics[0].timestamp'. See the API docs for more information about " +
          'request parameters.',
      ],
    ];
    for (const [body, message] of refusals) {
      expect(await rest.error('POST', 'runs/log-batch', { run_id: runId, ...body })).toEqual({
        status: 400,
        error_code: 'INVALID_PARAMETER_VALUE',
        message,
      });
    }
    const run = await getRun(runId);
    expect(run.data.metrics).toHaveLength(10);
    expect(run.data.params).toHaveLength(100);
  });

  it('is idempotent: the same batch twice stores each point once', async () => {
    const runId = await rest.run(experimentId);
    const batch = { run_id: runId, metrics: metrics(20), params: params(3), tags: [{ key: 't', value: '1' }] };
    await rest.ok('POST', 'runs/log-batch', batch);
    await rest.ok('POST', 'runs/log-batch', batch);
    const history = await rest.ok<{ metrics: Metric[] }>('GET', 'metrics/get-history', {
      run_id: runId,
      metric_key: 'm3',
    });
    expect(history.metrics.map((m) => m.step)).toEqual([3, 13]);
  });

  it('answers an unknown run with RESOURCE_DOES_NOT_EXIST and a malformed id with INVALID_PARAMETER_VALUE', async () => {
    expect(await rest.error('POST', 'runs/log-batch', { run_id: 'a'.repeat(32), metrics: metrics(1) })).toMatchObject({
      status: 404,
      error_code: 'RESOURCE_DOES_NOT_EXIST',
    });
    expect(await rest.error('POST', 'runs/log-batch', { run_id: '../etc', metrics: metrics(1) })).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Invalid run ID: '../etc'",
    });
  });
});

describe('log-inputs and log-model', () => {
  it('records datasets with digests, sources, schemas and input tags, each once', async () => {
    const experimentId = await rest.experiment('inputs');
    const runId = await rest.run(experimentId);
    const dataset = {
      name: 'housing',
      digest: 'abc123',
      source_type: 'local',
      source: '{"uri": "file:///data/housing.csv"}',
      schema: '{"mlflow_colspec": []}',
    };
    const input = { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset };
    await rest.ok('POST', 'runs/log-inputs', { run_id: runId, datasets: [input, input] });
    await rest.ok('POST', 'runs/log-inputs', { run_id: runId, datasets: [input] });
    expect((await getRun(runId)).inputs).toEqual({ dataset_inputs: [input] });
    expect(
      await rest.error('POST', 'runs/log-inputs', {
        run_id: runId,
        datasets: [{ dataset: { ...dataset, digest: 'd'.repeat(37) } }],
      }),
    ).toEqual({
      status: 400,
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'Dataset digest exceeds the maximum length of 36',
    });
  });

  it('appends logged models to the mlflow.log-model.history tag and refuses incomplete ones', async () => {
    const experimentId = await rest.experiment('models');
    const runId = await rest.run(experimentId);
    const model = {
      artifact_path: 'model',
      flavors: { python_function: {} },
      utc_time_created: '2026-01-01',
      run_id: runId,
    };
    await rest.ok('POST', 'runs/log-model', { run_id: runId, model_json: JSON.stringify(model) });
    await rest.ok('POST', 'runs/log-model', {
      run_id: runId,
      model_json: JSON.stringify({ ...model, artifact_path: 'm2' }),
    });
    const history = JSON.parse(tagsOf(await getRun(runId))['mlflow.log-model.history']!) as { artifact_path: string }[];
    expect(history.map((m) => m.artifact_path)).toEqual(['model', 'm2']);
    expect(
      await rest.error('POST', 'runs/log-model', { run_id: runId, model_json: JSON.stringify({ artifact_path: 'x' }) }),
    ).toMatchObject({ status: 400, error_code: 'INVALID_PARAMETER_VALUE' });
  });
});
