/**
 * Visibility through the official client: `client.workflow.list({ query })` and `client.workflow.count(query)` for
 * every operator of Temporal's query language, invalid queries and their messages, paging, GROUP BY
 * ExecutionStatus, search attributes registered at run time (OperatorService) and at startup, typed search
 * attributes on start, upserts and memo from a workflow, the legacy ListOpen/ListClosed/GetSearchAttributes calls,
 * and an index that survives a restart. Each test filters on its own task queue or workflow type, so the shared
 * server's other workflows never show up.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer } from '../../infra/devserver';
import { bundle, connect, uniqueQueue, withWorker, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';
import { grpcRejection, grpcStatus } from '../support/rejection';

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
const EventType = temporal.api.enums.v1.EventType;
const WorkflowTaskFailedCause = temporal.api.enums.v1.WorkflowTaskFailedCause;

const keywordKey = defineSearchAttributeKey('CustomKeywordField', SearchAttributeType.KEYWORD);
const intKey = defineSearchAttributeKey('CustomIntField', SearchAttributeType.INT);
const doubleKey = defineSearchAttributeKey('CustomDoubleField', SearchAttributeType.DOUBLE);
const boolKey = defineSearchAttributeKey('CustomBoolField', SearchAttributeType.BOOL);
const datetimeKey = defineSearchAttributeKey('CustomDatetimeField', SearchAttributeType.DATETIME);
const listKey = defineSearchAttributeKey('CustomKeywordListField', SearchAttributeType.KEYWORD_LIST);
const textKey = defineSearchAttributeKey('CustomTextField', SearchAttributeType.TEXT);

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/visibility-workflows'));
});
afterAll(() => env?.close());

/** Workflow ids a query lists, in the order listed (every page). */
async function listIds(query: string, pageSize?: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of env.client.workflow.list({ query, ...(pageSize ? { pageSize } : {}) })) ids.push(w.workflowId);
  return ids;
}

/** The INVALID_ARGUMENT message a query answers (through count, or list with `via: 'list'`). */
async function queryError(query: string, via: 'count' | 'list' = 'count'): Promise<string> {
  try {
    if (via === 'count') await env.client.workflow.count(query);
    else await listIds(query);
  } catch (err) {
    const { code, details } = grpcStatus(err);
    expect(code).toBe(3);
    return details ?? '';
  }
  throw new Error(`query was accepted: ${query}`);
}

describe('query operators', () => {
  const taskQueue = uniqueQueue('vis-ops');
  const prefix = `ops-${randomUUID()}`;
  const id = (i: number): string => `${prefix}-${i}`;
  let before: string;
  let after: string;

  beforeAll(async () => {
    before = new Date(Date.now() - 1000).toISOString();
    // Six workflows nobody runs (no worker polls the queue); the last two are terminated.
    for (let i = 0; i < 6; i++) {
      await env.client.workflow.start(i % 2 === 0 ? 'visA' : 'visB', {
        taskQueue,
        workflowId: id(i),
        typedSearchAttributes: [
          ...(i < 5 ? [{ key: keywordKey, value: `kw-${i}` }] : []),
          { key: intKey, value: i * 10 },
          { key: doubleKey, value: i + 0.5 },
          { key: boolKey, value: i % 2 === 0 },
          { key: datetimeKey, value: new Date(Date.UTC(2024, 0, i + 1)) },
          { key: listKey, value: [`tag-${i}`, 'all'] },
          { key: textKey, value: `model number ${i} trained` },
        ],
      });
    }
    await env.client.workflow.getHandle(id(4)).terminate('done');
    await env.client.workflow.getHandle(id(5)).terminate('done');
    after = new Date(Date.now() + 1000).toISOString();
  });

  const cases: [string, number[]][] = [
    ["CustomKeywordField = 'kw-1'", [1]],
    ["CustomKeywordField != 'kw-1'", [0, 2, 3, 4]],
    ['CustomIntField < 20', [0, 1]],
    ['CustomIntField <= 20', [0, 1, 2]],
    ['CustomIntField > 30', [4, 5]],
    ['CustomIntField >= 30', [3, 4, 5]],
    ['CustomIntField IN (10, 30)', [1, 3]],
    ['CustomIntField NOT IN (10, 30)', [0, 2, 4, 5]],
    ['CustomIntField BETWEEN 10 AND 30', [1, 2, 3]],
    ['CustomIntField NOT BETWEEN 10 AND 30', [0, 4, 5]],
    ['CustomDoubleField > 2.5', [3, 4, 5]],
    ['CustomDoubleField <= -1', []],
    ['CustomBoolField = true', [0, 2, 4]],
    ['CustomBoolField = FALSE', [1, 3, 5]],
    ["CustomDatetimeField >= '2024-01-03T00:00:00Z'", [2, 3, 4, 5]],
    ["CustomDatetimeField = '2024-01-03T01:00:00+01:00'", [2]],
    ['CustomDatetimeField = 1704240000000000000', [2]],
    ["CustomDatetimeField BETWEEN '2024-01-02T00:00:00Z' AND '2024-01-04T00:00:00.000000Z'", [1, 2, 3]],
    ["CustomKeywordField IN ('kw-0', 'kw-4', 'nope')", [0, 4]],
    ["CustomKeywordField NOT IN ('kw-0')", [1, 2, 3, 4]],
    ["CustomKeywordField STARTS_WITH 'kw-'", [0, 1, 2, 3, 4]],
    ["CustomKeywordField NOT STARTS_WITH 'kw-3'", [0, 1, 2, 4]],
    ["CustomKeywordField STARTS_WITH 'KW-'", []],
    ['CustomKeywordField IS NULL', [5]],
    ['CustomKeywordField IS NOT NULL', [0, 1, 2, 3, 4]],
    ["CustomKeywordListField = 'tag-2'", [2]],
    ["CustomKeywordListField = 'all'", [0, 1, 2, 3, 4, 5]],
    ["CustomKeywordListField IN ('tag-1', 'tag-3')", [1, 3]],
    ["CustomKeywordListField != 'tag-1'", [0, 2, 3, 4, 5]],
    ["CustomKeywordListField NOT IN ('tag-1', 'tag-2')", [0, 3, 4, 5]],
    ["CustomTextField = '3'", [3]],
    ["CustomTextField = 'TRAINED'", [0, 1, 2, 3, 4, 5]],
    ["CustomTextField != 'number'", []],
    ["ExecutionStatus = 'Running'", [0, 1, 2, 3]],
    ["ExecutionStatus = 'Terminated'", [4, 5]],
    ["ExecutionStatus != 'Running'", [4, 5]],
    ["ExecutionStatus IN ('Completed', 'Terminated')", [4, 5]],
    ['ExecutionStatus = 5', [4, 5]],
    ["WorkflowType = 'visA' AND CustomIntField > 0", [2, 4]],
    ["WorkflowType = 'visA' OR CustomIntField = 10", [0, 1, 2, 4]],
    ["NOT (WorkflowType = 'visA')", [1, 3, 5]],
    ["(CustomIntField = 0 OR CustomIntField = 10) AND ExecutionStatus = 'Running'", [0, 1]],
    ["NOT CustomKeywordField = 'kw-1'", [0, 2, 3, 4]],
    ["`CustomKeywordField` = 'kw-0'", [0]],
    ['CloseTime IS NULL', [0, 1, 2, 3]],
    ['CloseTime IS NOT NULL', [4, 5]],
    ['ExecutionDuration IS NOT NULL', [4, 5]],
    ["WorkflowId = 'PLACEHOLDER-2'", [2]],
    ["WorkflowId STARTS_WITH 'PLACEHOLDER-1'", [1]],
  ];

  it.each(cases)('%s', async (query, expected) => {
    const q = query.replace(/PLACEHOLDER/g, prefix);
    const listed = await listIds(`TaskQueue = '${taskQueue}' AND (${q})`);
    expect([...listed].sort()).toEqual(expected.map(id).sort());
    expect((await env.client.workflow.count(`TaskQueue = '${taskQueue}' AND (${q})`)).count).toBe(expected.length);
  });

  it('filters on time ranges with RFC 3339 literals', async () => {
    const all = [0, 1, 2, 3, 4, 5].map(id).sort();
    expect(
      (await listIds(`TaskQueue = '${taskQueue}' AND StartTime BETWEEN '${before}' AND '${after}'`)).sort(),
    ).toEqual(all);
    expect(await listIds(`TaskQueue = '${taskQueue}' AND StartTime < '${before}'`)).toEqual([]);
    expect((await listIds(`TaskQueue = '${taskQueue}' AND CloseTime < '${after}'`)).sort()).toEqual([id(4), id(5)]);
    expect((await listIds(`TaskQueue = '${taskQueue}' AND ExecutionTime >= '${before}'`)).sort()).toEqual(all);
  });

  it('orders by default newest close first (open runs first, newest start first), or by ORDER BY', async () => {
    expect(await listIds(`TaskQueue = '${taskQueue}'`)).toEqual([3, 2, 1, 0, 5, 4].map(id));
    expect(await listIds(`TaskQueue = '${taskQueue}' ORDER BY CustomIntField DESC`)).toEqual(
      [5, 4, 3, 2, 1, 0].map(id),
    );
    expect(await listIds(`TaskQueue = '${taskQueue}' ORDER BY CustomBoolField, CustomIntField`)).toEqual(
      [1, 3, 5, 0, 2, 4].map(id),
    );
    expect(await listIds(`TaskQueue = '${taskQueue}' ORDER BY StartTime ASC`, 4)).toEqual([0, 1, 2, 3, 4, 5].map(id));
  });

  it('returns typed search attributes of every type in list results', async () => {
    const [info] = await (async () => {
      const out = [];
      for await (const w of env.client.workflow.list({ query: `WorkflowId = '${id(2)}'` })) out.push(w);
      return out;
    })();
    expect(info).toBeDefined();
    const sa = info!.typedSearchAttributes;
    expect(sa.get(keywordKey)).toBe('kw-2');
    expect(sa.get(intKey)).toBe(20);
    expect(sa.get(doubleKey)).toBe(2.5);
    expect(sa.get(boolKey)).toBe(true);
    expect(sa.get(datetimeKey)).toEqual(new Date(Date.UTC(2024, 0, 3)));
    expect(sa.get(listKey)).toEqual(['tag-2', 'all']);
    expect(sa.get(textKey)).toBe('model number 2 trained');
    expect(info!.taskQueue).toBe(taskQueue);
    expect(info!.type).toBe('visA');
    expect(info!.status.name).toBe('RUNNING');
  });
});

describe('invalid queries', () => {
  const cases: [string, RegExp][] = [
    [
      "Foo = 'x'",
      /^invalid query: invalid expression: column name 'Foo' is not a valid search attribute \(at column 1\)$/,
    ],
    ['WorkflowId = ', /^invalid query: malformed SQL query: syntax error at column 14 near end of query/],
    ["WorkflowId = 'a' AND", /malformed SQL query: syntax error at column 21/],
    ["WorkflowId = 'a' AND Bogus = 1", /column name 'Bogus' is not a valid search attribute \(at column 22\)/],
    [
      "WorkflowId = 'a' 'b'",
      /syntax error at column 18 near 'b': expected AND, OR, GROUP BY, ORDER BY or end of query/,
    ],
    [
      "CustomIntField = 'ten'",
      /invalid value type for search attribute CustomIntField of type Int: 'ten' \(at column 18\)/,
    ],
    ["CustomBoolField = 'yes'", /invalid value type for search attribute CustomBoolField of type Bool/],
    ['CustomKeywordField = 12', /invalid value type for search attribute CustomKeywordField of type Keyword: 12/],
    ["ExecutionStatus = 'Sleeping'", /invalid ExecutionStatus value 'Sleeping'/],
    ["StartTime > 'last tuesday'", /unable to parse datetime 'last tuesday'/],
    ['WorkflowId = abc', /column name on the right side of comparison expression \(did you forget to quote 'abc'\?\)/],
    [
      "CustomKeywordListField > 'a'",
      /operator '>' not supported for KeywordList type search attribute 'CustomKeywordListField'/,
    ],
    ["CustomTextField STARTS_WITH 'a'", /operator 'starts_with' not supported for Text type/],
    ['CustomBoolField BETWEEN 1 AND 2', /cannot do range condition on search attribute 'CustomBoolField' of type Bool/],
    ["WorkflowId LIKE 'a%'", /operation is not supported: operator 'like'/],
    ["WorkflowId = 'a' LIMIT 10", /operation is not supported: 'limit' clause/],
    [
      "WorkflowId = 'a' GROUP BY WorkflowType",
      /'group by' clause is only supported for ExecutionStatus search attribute/,
    ],
    ['GROUP BY ExecutionStatus, WorkflowType', /'group by' clause supports only a single field/],
    ['ORDER BY CustomTextField', /unable to sort by search attribute type Text/],
    ['WorkflowId', /incomplete expression/],
    ["WorkflowId = 'unterminated", /unterminated string starting at column 14/],
    ['WorkflowId IS 5', /'IS' operator can only be used as 'IS NULL' or 'IS NOT NULL'/],
    ['WorkflowId = NULL', /compare with NULL using 'IS NULL'/],
    ["'a' = WorkflowId", /left side of a comparison must be a search attribute name/],
    ["WorkflowId = 'a' )", /syntax error at column 18 near '\)'/],
    ["CustomTextField = '  '", /no tokens found filtering on Text type search attribute CustomTextField/],
    ["ExecutionDuration > 'forever'", /invalid duration value for search attribute ExecutionDuration/],
    ['WorkflowId = 1 # comment', /syntax error at column 16 near '#'/],
    ['WorkflowId = 💥', /syntax error at column 14 near '💥'/],
  ];

  it.each(cases)('%s', async (query, message) => {
    expect(await queryError(query)).toMatch(message);
  });

  it('rejects GROUP BY in list queries and a page token from another query shape', async () => {
    expect(await queryError('GROUP BY ExecutionStatus', 'list')).toMatch(
      /operation is not supported: 'group by' clause/,
    );
    const svc = env.connection.workflowService;
    await expect(
      svc.listWorkflowExecutions({ namespace: 'default', query: '', nextPageToken: Buffer.from('garbage') }),
    ).rejects.toMatchObject({ code: 3 });
    await expect(svc.listWorkflowExecutions({ namespace: 'default', pageSize: 100_000 })).rejects.toMatchObject({
      code: 3,
    });
  });
});

describe('paging and counting', () => {
  it('pages through results with pageSize and page tokens, in default and ORDER BY order', async () => {
    const taskQueue = uniqueQueue('vis-page');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const workflowId = `page-${randomUUID()}`;
      await env.client.workflow.start('paged', { taskQueue, workflowId });
      ids.push(workflowId);
    }
    const query = `TaskQueue = '${taskQueue}'`;
    const svc = env.connection.workflowService;
    const pages: string[][] = [];
    let token: Uint8Array | undefined;
    do {
      const page = await svc.listWorkflowExecutions({
        namespace: 'default',
        query,
        pageSize: 3,
        ...(token ? { nextPageToken: token } : {}),
      });
      pages.push(page.executions.map((e) => e.execution!.workflowId!));
      token = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (token);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual([...ids].reverse());
    expect(await listIds(query, 2)).toEqual([...ids].reverse());
    expect(await listIds(`${query} ORDER BY WorkflowId`, 3)).toEqual([...ids].sort());
    expect(await listIds(`${query} ORDER BY StartTime`, 3)).toEqual(ids);
    expect((await env.client.workflow.count(query)).count).toBe(7);
  });

  it('counts with GROUP BY ExecutionStatus', async () => {
    const taskQueue = uniqueQueue('vis-group');
    await withWorker(env, { taskQueue, workflowBundle }, async () => {
      await env.client.workflow.execute('quick', { taskQueue, workflowId: `group-${randomUUID()}` });
      await env.client.workflow.execute('quick', { taskQueue, workflowId: `group-${randomUUID()}` });
      await expect(
        env.client.workflow.execute('failing', { taskQueue, workflowId: `group-${randomUUID()}` }),
      ).rejects.toThrow();
    });
    const idle = uniqueQueue('vis-group-idle');
    for (let i = 0; i < 3; i++) {
      await env.client.workflow.start('idle', { taskQueue: idle, workflowId: `group-${randomUUID()}` });
    }
    const terminated = await env.client.workflow.start('idle', {
      taskQueue: idle,
      workflowId: `group-${randomUUID()}`,
    });
    await terminated.terminate();
    const result = await env.client.workflow.count(
      `TaskQueue = '${taskQueue}' OR TaskQueue = '${idle}' GROUP BY ExecutionStatus`,
    );
    expect(result.count).toBe(7);
    const groups = Object.fromEntries(result.groups.map((g) => [String(g.groupValues[0]), g.count]));
    expect(groups).toEqual({ Running: 3, Completed: 2, Failed: 1, Terminated: 1 });
    expect(result.groups[0]!.count).toBe(3); // largest group first
    const info = await env.connection.workflowService.getSystemInfo({});
    expect(info.capabilities?.countGroupByExecutionStatus).toBe(true);
  });
});

describe('search attributes', () => {
  it('registers, lists and removes custom attributes at run time through the OperatorService', async () => {
    const ops = env.connection.operatorService;
    const name = `VisTeam${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const key = defineSearchAttributeKey(name, SearchAttributeType.KEYWORD);
    const taskQueue = uniqueQueue('vis-runtime');

    const undefinedAttribute = await grpcRejection(
      env.client.workflow.start('team', {
        taskQueue,
        workflowId: `rt-${randomUUID()}`,
        typedSearchAttributes: [{ key, value: 'x' }],
      }),
    );
    expect(undefinedAttribute).toMatchObject({ code: 3, details: `search attribute ${name} is not defined` });

    await ops.addSearchAttributes({
      namespace: 'default',
      searchAttributes: { [name]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
    });
    const listed = await ops.listSearchAttributes({ namespace: 'default' });
    expect(listed.customAttributes[name]).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    expect(listed.customAttributes['CustomKeywordField']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    expect(listed.systemAttributes['WorkflowId']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    expect(listed.systemAttributes['StartTime']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_DATETIME);
    expect(listed.systemAttributes['BuildIds']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST);

    const workflowId = `rt-${randomUUID()}`;
    await env.client.workflow.start('team', {
      taskQueue,
      workflowId,
      typedSearchAttributes: [{ key, value: 'vision' }],
    });
    expect(await listIds(`${name} = 'vision'`)).toEqual([workflowId]);
    expect(await listIds(`TaskQueue = '${taskQueue}' AND ${name} STARTS_WITH 'vis'`)).toEqual([workflowId]);

    // Re-adding with the same type is a no-op; another type, a reserved name or an unknown type is refused.
    await ops.addSearchAttributes({
      namespace: 'default',
      searchAttributes: { [name]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
    });
    await expect(
      ops.addSearchAttributes({
        namespace: 'default',
        searchAttributes: { [name]: IndexedValueType.INDEXED_VALUE_TYPE_INT },
      }),
    ).rejects.toMatchObject({ code: 6 });
    await expect(
      ops.addSearchAttributes({
        namespace: 'default',
        searchAttributes: { WorkflowId: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
      }),
    ).rejects.toMatchObject({ code: 3, details: 'Search attribute WorkflowId is reserved by system.' });
    await expect(
      ops.addSearchAttributes({
        namespace: 'default',
        searchAttributes: { TemporalFoo: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
      }),
    ).rejects.toMatchObject({ code: 3 });
    await expect(ops.addSearchAttributes({ namespace: 'default', searchAttributes: {} })).rejects.toMatchObject({
      code: 3,
    });
    await expect(
      ops.addSearchAttributes({ namespace: 'no-such-ns', searchAttributes: { [name]: 2 } }),
    ).rejects.toMatchObject({
      code: 5,
    });

    await ops.removeSearchAttributes({ namespace: 'default', searchAttributes: [name] });
    expect((await ops.listSearchAttributes({ namespace: 'default' })).customAttributes[name]).toBeUndefined();
    expect(await queryError(`${name} = 'vision'`)).toMatch(/is not a valid search attribute/);
    await expect(ops.removeSearchAttributes({ namespace: 'default', searchAttributes: [name] })).rejects.toMatchObject({
      code: 5,
      details: `Search attribute ${name} doesn't exist.`,
    });
    await expect(
      ops.removeSearchAttributes({ namespace: 'default', searchAttributes: ['StartTime'] }),
    ).rejects.toMatchObject({
      code: 3,
    });
  });

  it('scopes custom attributes per namespace', async () => {
    const namespace = `vis-ns-${randomUUID().slice(0, 8)}`;
    await env.connection.workflowService.registerNamespace({ namespace });
    const ops = env.connection.operatorService;
    await ops.addSearchAttributes({
      namespace,
      searchAttributes: { OnlyHere: IndexedValueType.INDEXED_VALUE_TYPE_INT },
    });
    expect((await ops.listSearchAttributes({ namespace })).customAttributes['OnlyHere']).toBe(
      IndexedValueType.INDEXED_VALUE_TYPE_INT,
    );
    expect((await ops.listSearchAttributes({ namespace })).customAttributes['CustomIntField']).toBe(
      IndexedValueType.INDEXED_VALUE_TYPE_INT,
    );
    expect((await ops.listSearchAttributes({ namespace: 'default' })).customAttributes['OnlyHere']).toBeUndefined();
    const nsClient = new Client({ connection: env.connection, namespace });
    const workflowId = `ns-${randomUUID()}`;
    await nsClient.workflow.start('scoped', {
      taskQueue: uniqueQueue('vis-ns'),
      workflowId,
      typedSearchAttributes: [{ key: defineSearchAttributeKey('OnlyHere', SearchAttributeType.INT), value: 7 }],
    });
    expect((await nsClient.workflow.count('OnlyHere = 7')).count).toBe(1);
    expect((await env.client.workflow.count(`WorkflowId = '${workflowId}'`)).count).toBe(0);
  });

  it('rejects values that do not fit the attribute type and system attributes on start', async () => {
    const taskQueue = uniqueQueue('vis-bad');
    const badValue = await grpcRejection(
      env.client.workflow.start('bad', {
        taskQueue,
        workflowId: `bad-${randomUUID()}`,
        searchAttributes: { CustomIntField: ['ten'] },
      }),
    );
    expect(badValue).toMatchObject({
      code: 3,
      details: '[ten] is not a valid value for search attribute CustomIntField of type Int',
    });
    const system = await grpcRejection(
      env.client.workflow.start('bad', {
        taskQueue,
        workflowId: `bad-${randomUUID()}`,
        searchAttributes: { WorkflowId: ['x'] },
      }),
    );
    expect(system).toMatchObject({ code: 3, details: "WorkflowId attribute can't be set in SearchAttributes" });
    // Legacy untyped search attributes (one-element arrays) are accepted and queryable.
    const workflowId = `legacy-sa-${randomUUID()}`;
    await env.client.workflow.start('legacy', {
      taskQueue,
      workflowId,
      searchAttributes: { CustomKeywordField: ['legacy'], CustomIntField: [5] },
    });
    expect(
      await listIds(`TaskQueue = '${taskQueue}' AND CustomKeywordField = 'legacy' AND CustomIntField = 5`),
    ).toEqual([workflowId]);
  });

  it('shows upserted search attributes and memo from a workflow in list results', async () => {
    const taskQueue = uniqueQueue('vis-upsert');
    await withWorker(env, { taskQueue, workflowBundle }, async () => {
      const workflowId = `upsert-${randomUUID()}`;
      const handle = await env.client.workflow.start('tagged', { taskQueue, workflowId, memo: { origin: 'test' } });
      const listedOne = async (query: string) => {
        for await (const w of env.client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ${query}` })) return w;
        return undefined;
      };
      const first = await pollUntil('the run to be listed as training', () =>
        listedOne(`CustomKeywordField = 'training'`),
      );
      expect(first.workflowId).toBe(workflowId);
      expect(first.memo).toEqual({ origin: 'test', owner: 'ml-team', attempt: 1 });
      expect(first.typedSearchAttributes.get(intKey)).toBe(42);
      expect(first.typedSearchAttributes.get(listKey)).toEqual(['gpu', 'nightly']);
      expect(
        await listIds(`TaskQueue = '${taskQueue}' AND CustomKeywordListField = 'gpu' AND CustomIntField = 42`),
      ).toEqual([workflowId]);

      await handle.signal('finish');
      expect(await handle.result()).toBe('tagged');
      const done = await pollUntil('the run to be listed as done and completed', () =>
        listedOne(`CustomKeywordField = 'done' AND ExecutionStatus = 'Completed'`),
      );
      expect(done.memo).toEqual({ origin: 'test', owner: 'ml-team', attempt: 2 });
      expect(done.status.name).toBe('COMPLETED');
      expect(done.closeTime).toBeInstanceOf(Date);
      expect(done.historyLength).toBeGreaterThan(5);
      expect(await listIds(`TaskQueue = '${taskQueue}' AND CustomKeywordField = 'training'`)).toEqual([]);
    });
  });

  it('fails the workflow task of an upsert of an undefined attribute with BAD_SEARCH_ATTRIBUTES', async () => {
    const taskQueue = uniqueQueue('vis-bad-upsert');
    await withWorker(env, { taskQueue, workflowBundle }, async () => {
      const handle: WorkflowHandle = await env.client.workflow.start('badUpsert', {
        taskQueue,
        workflowId: `badup-${randomUUID()}`,
      });
      const failed = await pollUntil(`a failed workflow task in ${handle.workflowId}`, async () => {
        const history = await handle.fetchHistory();
        return history.events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      });
      expect(failed.workflowTaskFailedEventAttributes?.cause).toBe(
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
      );
      expect(failed.workflowTaskFailedEventAttributes?.failure?.message).toMatch(
        /^BadSearchAttributes: .*search attribute NoSuchAttribute is not defined/,
      );
      await handle.terminate();
    });
  });
});

describe('legacy visibility calls', () => {
  it('answers ListOpen/ListClosedWorkflowExecutions filters and GetSearchAttributes', async () => {
    const taskQueue = uniqueQueue('vis-legacy');
    const type = `legacy-${randomUUID()}`;
    const earliestTime = msToTs(Date.now() - 5000);
    const open = await env.client.workflow.start(type, { taskQueue, workflowId: `legacy-${randomUUID()}` });
    const closed = await env.client.workflow.start(type, { taskQueue, workflowId: `legacy-${randomUUID()}` });
    await closed.terminate();
    const svc = env.connection.workflowService;
    const ids = (r: { executions: { execution?: { workflowId?: string | null } | null }[] }) =>
      r.executions.map((e) => e.execution?.workflowId);

    expect(
      ids(
        await svc.listOpenWorkflowExecutions({
          namespace: 'default',
          startTimeFilter: { earliestTime },
          typeFilter: { name: type },
        }),
      ),
    ).toEqual([open.workflowId]);
    expect(
      ids(
        await svc.listClosedWorkflowExecutions({
          namespace: 'default',
          startTimeFilter: { earliestTime },
          typeFilter: { name: type },
        }),
      ),
    ).toEqual([closed.workflowId]);
    expect(
      ids(
        await svc.listClosedWorkflowExecutions({
          namespace: 'default',
          startTimeFilter: { earliestTime },
          executionFilter: { workflowId: closed.workflowId },
        }),
      ),
    ).toEqual([closed.workflowId]);
    const terminated = await svc.listClosedWorkflowExecutions({
      namespace: 'default',
      startTimeFilter: { earliestTime },
      statusFilter: { status: temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED },
    });
    expect(ids(terminated)).toContain(closed.workflowId);
    expect(ids(terminated)).not.toContain(open.workflowId);

    const keys = (await svc.getSearchAttributes({})).keys;
    expect(keys['CustomKeywordField']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    expect(keys['StartTime']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_DATETIME);
    expect(keys['ExecutionStatus']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    await open.terminate();
  });
});

describe('servers started with search attributes', () => {
  it('registers startDevServer({ searchAttributes }) and keeps the index across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mloe-vis-'));
    const dbFilename = join(dir, 'vis.db');
    const stage = defineSearchAttributeKey('MloeStage', SearchAttributeType.KEYWORD);
    const epochs = defineSearchAttributeKey('MloeEpochs', SearchAttributeType.INT);
    try {
      let server = await startDevServer({
        port: 0,
        dbFilename,
        searchAttributes: { MloeStage: 'Keyword', MloeEpochs: 'int' },
      });
      let connection = await Connection.connect({ address: server.address });
      try {
        const custom = (await connection.operatorService.listSearchAttributes({ namespace: 'default' }))
          .customAttributes;
        expect(custom['MloeStage']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
        expect(custom['MloeEpochs']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_INT);
        await connection.operatorService.addSearchAttributes({
          namespace: 'default',
          searchAttributes: { AddedLater: IndexedValueType.INDEXED_VALUE_TYPE_BOOL },
        });
        const client = new Client({ connection });
        const handle = await client.workflow.start('train', {
          taskQueue: 'q',
          workflowId: 'persisted',
          typedSearchAttributes: [
            { key: stage, value: 'eval' },
            { key: epochs, value: 3 },
          ],
        });
        await handle.terminate();
        expect((await client.workflow.count('MloeEpochs >= 3')).count).toBe(1);
      } finally {
        await connection.close();
        await server.close();
      }

      server = await startDevServer({ port: 0, dbFilename });
      connection = await Connection.connect({ address: server.address });
      try {
        const client = new Client({ connection });
        const listed = [];
        for await (const w of client.workflow.list({ query: "MloeStage = 'eval' AND ExecutionStatus = 'Terminated'" }))
          listed.push(w);
        expect(listed.map((w) => w.workflowId)).toEqual(['persisted']);
        expect(listed[0]!.typedSearchAttributes.get(epochs)).toBe(3);
        const custom = (await connection.operatorService.listSearchAttributes({ namespace: 'default' }))
          .customAttributes;
        expect(custom['AddedLater']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_BOOL);
        expect(custom['MloeStage']).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
      } finally {
        await connection.close();
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with an unknown search attribute type', async () => {
    await expect(startDevServer({ port: 0, searchAttributes: { Foo: 'Nope' } })).rejects.toThrow(/unknown type Nope/);
  });
});
