/**
 * MLflow's run search grammar on the embedded server, over real HTTP: a table of filters (metrics, params, tags,
 * attributes and their aliases, datasets; every comparator; quoting with backticks and double quotes; `and`) with the
 * runs each must return, filters MLflow refuses with its messages, order_by (NaN and missing values last), view
 * types, and page tokens that walk a result without gaps or repeats.
 */
import { suiteMlflowServer, type MlflowRest } from './mlflow/rest';

const server = suiteMlflowServer();
let rest: MlflowRest;
let experimentId: string;
const ids: Record<string, string> = {};

interface Run {
  info: { run_id: string; run_name: string };
}

async function search(message: Record<string, unknown>): Promise<{ runs?: Run[]; next_page_token?: string }> {
  return rest.ok('POST', 'runs/search', { experiment_ids: [experimentId], ...message });
}

async function names(message: Record<string, unknown>): Promise<string[]> {
  return ((await search(message)).runs ?? []).map((r) => r.info.run_name);
}

beforeAll(async () => {
  rest = server().rest;
  experimentId = await rest.experiment('search');
  const make = async (
    name: string,
    startTime: number,
    batch: { metrics?: [string, number | string][]; params?: [string, string][]; tags?: [string, string][] },
    extra: { status?: string; endTime?: number; userId?: string } = {},
  ): Promise<void> => {
    const { run } = await rest.ok<{ run: Run }>('POST', 'runs/create', {
      experiment_id: experimentId,
      run_name: name,
      start_time: startTime,
      user_id: extra.userId ?? 'alice',
    });
    ids[name] = run.info.run_id;
    await rest.ok('POST', 'runs/log-batch', {
      run_id: run.info.run_id,
      metrics: (batch.metrics ?? []).map(([key, value]) => ({ key, value, timestamp: 1, step: 0 })),
      params: (batch.params ?? []).map(([key, value]) => ({ key, value })),
      tags: (batch.tags ?? []).map(([key, value]) => ({ key, value })),
    });
    if (extra.status !== undefined || extra.endTime !== undefined) {
      await rest.ok('POST', 'runs/update', {
        run_id: run.info.run_id,
        ...(extra.status === undefined ? {} : { status: extra.status }),
        ...(extra.endTime === undefined ? {} : { end_time: extra.endTime }),
      });
    }
  };
  await make(
    'run-one',
    1000,
    {
      metrics: [
        ['acc', 0.9],
        ['loss', 0.1],
      ],
      params: [
        ['model', 'lr'],
        ['lr', '0.1'],
      ],
      tags: [['team', 'a']],
    },
    { status: 'FINISHED' },
  );
  await make(
    'run-two',
    2000,
    {
      metrics: [
        ['acc', 0.7],
        ['loss', 0.3],
      ],
      params: [
        ['model', 'rf'],
        ['lr', '0.01'],
      ],
      tags: [['team', 'b']],
    },
    { userId: 'bob' },
  );
  await make(
    'run-three',
    3000,
    { metrics: [['acc', 'NaN']], params: [['model', 'LR']], tags: [['team', 'A']] },
    { status: 'FAILED' },
  );
  await make('run-four', 4000, {}, { status: 'KILLED', endTime: 5000, userId: 'carol' });
  await make('run-deleted', 5000, { metrics: [['acc', 0.95]] });
  await rest.ok('POST', 'runs/delete', { run_id: ids['run-deleted'] });
  const dataset = (name: string, digest: string, context: string): Record<string, unknown> => ({
    tags: [{ key: 'mlflow.data.context', value: context }],
    dataset: { name, digest, source_type: 'local', source: `file:///${name}.csv` },
  });
  await rest.ok('POST', 'runs/log-inputs', {
    run_id: ids['run-one'],
    datasets: [dataset('housing', 'd1', 'training')],
  });
  await rest.ok('POST', 'runs/log-inputs', { run_id: ids['run-two'], datasets: [dataset('wine', 'd2', 'eval')] });
});

describe('filters', () => {
  const table: [string, string[]][] = [
    ['metrics.acc > 0.8', ['run-one']],
    ['metrics.acc >= 0.7', ['run-one', 'run-two']],
    ['metrics.acc < 0.8', ['run-two']],
    ['metrics.acc <= 0.7', ['run-two']],
    ['metrics.acc = 0.7', ['run-two']],
    ['metrics.acc != 0.9', ['run-three', 'run-two']],
    ['metric.loss <= 0.1', ['run-one']],
    ['metrics.`acc` > 0.8', ['run-one']],
    ['metrics."acc" > 0.8', ['run-one']],
    ['metrics.acc > -1e3', ['run-one', 'run-two']],
    ["params.model = 'lr'", ['run-one']],
    ['params.model = "rf"', ['run-two']],
    ["params.model != 'rf'", ['run-one', 'run-three']],
    ["params.model LIKE 'l%'", ['run-one']],
    ["params.model ILIKE 'l%'", ['run-one', 'run-three']],
    ["param.lr LIKE '0._'", ['run-one']],
    ["parameters.lr = '0.01'", ['run-two']],
    ["tags.team = 'a'", ['run-one']],
    ["tags.team ILIKE 'A'", ['run-one', 'run-three']],
    ["tags.`team` = 'b'", ['run-two']],
    ["tag.team != 'b'", ['run-one', 'run-three']],
    ["tags.`mlflow.runName` = 'run-one'", ['run-one']],
    ["tags.mlflow.runName LIKE '%-t%'", ['run-three', 'run-two']],
    ["attributes.status = 'FINISHED'", ['run-one']],
    ["status != 'RUNNING'", ['run-four', 'run-one', 'run-three']],
    ["attribute.user_id = 'alice'", ['run-one', 'run-three']],
    ['attributes.start_time >= 3000', ['run-four', 'run-three']],
    ['created < 2500', ['run-one', 'run-two']],
    ['attributes.end_time > 0', ['run-four']],
    ["attributes.run_name = 'run-two'", ['run-two']],
    ["run.run_name LIKE 'run-t%'", ['run-three', 'run-two']],
    ["attributes.`Run name` = 'run-one'", ['run-one']],
    ["attributes.artifact_uri LIKE 'mlflow-artifacts:/%'", ['run-four', 'run-one', 'run-three', 'run-two']],
    ["metrics.acc > 0.5 and params.model = 'rf'", ['run-two']],
    ["metrics.acc > 0.5 AND tags.team = 'a' AND attributes.status = 'FINISHED'", ['run-one']],
    ["dataset.name = 'housing'", ['run-one']],
    ["dataset.context = 'eval'", ['run-two']],
    ["datasets.digest IN ('d1', 'd2')", ['run-one', 'run-two']],
    ["dataset.name LIKE 'w%'", ['run-two']],
    ['', ['run-four', 'run-one', 'run-three', 'run-two']],
  ];
  it.each(table)('%s', async (filter, expected) => {
    expect((await names({ filter })).sort()).toEqual(expected);
  });

  it('selects runs by id with IN and NOT IN', async () => {
    expect((await names({ filter: `attributes.run_id IN ('${ids['run-one']}', '${ids['run-two']}')` })).sort()).toEqual(
      ['run-one', 'run-two'],
    );
    expect((await names({ filter: `run_id NOT IN ('${ids['run-one']}')` })).sort()).toEqual([
      'run-four',
      'run-three',
      'run-two',
    ]);
  });

  const refused: [string, string | RegExp][] = [
    ["metrics.acc > 'x'", "Expected numeric value type for metric. Found 'x'"],
    [
      'params.model = lr',
      'Parameter value is either not quoted or unidentified quote types used for string value lr. Use either single ' +
        'or double quotes.',
    ],
    ['params.model = 1', "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"],
    ["params.model > 'a'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE'}'"],
    ['metrics.acc LIKE 1', "Invalid comparator 'LIKE' not one of '{'>', '>=', '!=', '=', '<', '<='}'"],
    [
      "foo.bar = 'x'",
      "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']",
    ],
    ["attributes.color = 'red'", /^Invalid attribute key 'color' specified\. Valid keys are '\{.*'run_id'.*\}'$/],
    ['metrics.acc > 1 OR metrics.loss < 1', /^Invalid clause\(s\) in filter string: 'OR'/],
    ["params.model IN ('a')", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value ('a')"],
    [
      "attributes.status IN ('RUNNING')",
      "Only the 'run_id' attribute supports comparison with a list of quoted string values.",
    ],
    ["attributes.start_time > 'x'", "Expected numeric value type for numeric attribute: start_time. Found 'x'"],
    ["dataset.color = 'x'", /^Invalid dataset key 'color' specified/],
    ['metrics.acc >', /^Invalid clause\(s\) in filter string/],
    [
      'run_id IN ()',
      'While parsing a list in the query, expected a non-empty list of string values, but got empty list',
    ],
    ["params.model = 'lr", /^Invalid filter/],
    ['(metrics.acc > 1)', /^Invalid clause\(s\) in filter string/],
  ];
  it.each(refused)('refuses %s', async (filter, message) => {
    const error = await rest.error('POST', 'runs/search', { experiment_ids: [experimentId], filter });
    expect(error).toMatchObject({ status: 400, error_code: 'INVALID_PARAMETER_VALUE' });
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });
});

describe('order_by and view types', () => {
  const orders: [string[], string[]][] = [
    [[], ['run-four', 'run-three', 'run-two', 'run-one']],
    [['metrics.acc DESC'], ['run-one', 'run-two', 'run-three', 'run-four']],
    [['metrics.acc ASC'], ['run-two', 'run-one', 'run-three', 'run-four']],
    [['params.model'], ['run-three', 'run-one', 'run-two', 'run-four']],
    [['tags.team DESC'], ['run-two', 'run-one', 'run-three', 'run-four']],
    [['attributes.start_time ASC'], ['run-one', 'run-two', 'run-three', 'run-four']],
    [['attributes.end_time DESC'], ['run-four', 'run-three', 'run-two', 'run-one']],
    [
      ['attributes.user_id', 'start_time ASC'],
      ['run-one', 'run-three', 'run-two', 'run-four'],
    ],
    [
      ['metrics.`loss` DESC', 'attributes.run_name DESC'],
      ['run-two', 'run-one', 'run-three', 'run-four'],
    ],
  ];
  it.each(orders)('orders by %j', async (orderBy, expected) => {
    expect(await names({ order_by: orderBy })).toEqual(expected);
  });

  it('orders by a key the filter also selects on', async () => {
    expect(await names({ filter: 'metrics.acc != 0.9', order_by: ['metrics.acc DESC'] })).toEqual([
      'run-two',
      'run-three',
    ]);
    expect(await names({ filter: 'metrics.acc > 0', order_by: ['metrics.acc'] })).toEqual(['run-two', 'run-one']);
    expect(await names({ filter: "params.model ILIKE 'l%'", order_by: ['params.model DESC'] })).toEqual([
      'run-one',
      'run-three',
    ]);
  });

  it('refuses order_by clauses MLflow refuses', async () => {
    const refusal = async (orderBy: string[]): Promise<string> =>
      (await rest.error('POST', 'runs/search', { experiment_ids: [experimentId], order_by: orderBy })).message;
    expect(await refusal(['metrics.acc sideways'])).toBe(
      "Invalid ordering key in order_by clause 'metrics.acc sideways'.",
    );
    expect(await refusal(['attributes.color'])).toMatch(/^Invalid attribute key 'color' specified/);
    expect(await refusal(['metrics.acc', 'metrics.acc DESC'])).toMatch(/^`order_by` contains duplicate fields/);
    expect(await refusal(['metrics.acc DESC extra'])).toBe(
      "Invalid order_by clause 'metrics.acc DESC extra'. Could not be parsed.",
    );
  });

  it('returns deleted runs for DELETED_ONLY and every run for ALL', async () => {
    expect(await names({ run_view_type: 'DELETED_ONLY' })).toEqual(['run-deleted']);
    expect((await names({ run_view_type: 'ALL' })).sort()).toEqual([
      'run-deleted',
      'run-four',
      'run-one',
      'run-three',
      'run-two',
    ]);
    expect(await names({ experiment_ids: [] })).toEqual([]);
    expect(await rest.ok('POST', 'runs/search', { experiment_ids: ['424242'] })).toEqual({});
  });
});

describe('pagination', () => {
  it('walks 25 runs in pages of 10 in order, without gaps or repeats', async () => {
    const pagedExperiment = await rest.experiment('pages');
    for (let i = 0; i < 25; i++) {
      const runId = await rest.run(pagedExperiment, { run_name: `p${i}` });
      await rest.ok('POST', 'runs/log-metric', { run_id: runId, key: 'score', value: (i * 7) % 25, timestamp: 1 });
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await rest.ok<{ runs: Run[]; next_page_token?: string }>('POST', 'runs/search', {
        experiment_ids: [pagedExperiment],
        filter: 'metrics.score >= 0',
        order_by: ['metrics.score ASC'],
        max_results: 10,
        ...(token === undefined ? {} : { page_token: token }),
      });
      seen.push(...page.runs.map((r) => r.info.run_name));
      token = page.next_page_token;
      pages++;
    } while (token !== undefined);
    expect(pages).toBe(3);
    const expected = Array.from({ length: 25 }, (_, i) => i)
      .sort((a, b) => ((a * 7) % 25) - ((b * 7) % 25))
      .map((i) => `p${i}`);
    expect(seen).toEqual(expected);
  });

  it('refuses bad page tokens and max_results out of bounds', async () => {
    const answer = (
      message: Record<string, unknown>,
    ): Promise<{ status: number; error_code: string; message: string }> =>
      rest.error('POST', 'runs/search', { experiment_ids: [experimentId], ...message });
    expect(await answer({ page_token: '!!!' })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'Invalid page token, could not base64-decode',
    });
    expect((await answer({ page_token: Buffer.from('{"nope": 1}').toString('base64') })).message).toMatch(
      /^Invalid page token/,
    );
    expect(await answer({ max_results: 50001 })).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'Invalid value for request parameter max_results. It must be at most 50000, but got value 50001',
    });
    expect((await answer({ max_results: 0 })).error_code).toBe('INVALID_PARAMETER_VALUE');
  });
});
