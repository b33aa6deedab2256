/**
 * Search attribute values carry their type on the way out, as Temporal's server adds it: describe, list, scan and the
 * legacy ListOpen/ListClosed, schedule describe and list, and the history events that hand attributes to a run, a
 * child and a continue-as-new run. Values are set untyped (the SDK's legacy `searchAttributes`), so only the server
 * can have added the types. Child starts and continue-as-new with an undefined attribute or a value of the wrong type
 * fail the workflow task with BAD_SEARCH_ATTRIBUTES and Temporal's message.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import {
  SearchAttributeType,
  defineSearchAttributeKey,
  type SearchAttributes,
  TypedSearchAttributes,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  continuesWith,
  continuesWithAttributes,
  parentOfReporter,
  reportAttributes,
  startsChildWith,
  upsertsLegacy,
  type SeenAttribute,
} from './fixtures/search-attribute-workflows';
import { assertReplays, bundle, connect, runInBackground, uniqueQueue, type TestEnv } from './harness';
import { pollUntil } from '../support/poll';

const EventType = temporal.api.enums.v1.EventType;
const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
type Payload = temporal.api.common.v1.IPayload;

const WHEN = new Date('2025-03-04T05:06:07.123Z');

/** A search attribute key of any type. */
type AnyKey = ReturnType<typeof defineSearchAttributeKey<SearchAttributeType>>;

/** One value of every type, with its key (the dev server's default custom attributes). */
const EVERY_TYPE: { key: AnyKey; typeName: string; value: unknown }[] = [
  {
    key: defineSearchAttributeKey('CustomKeywordField', SearchAttributeType.KEYWORD),
    typeName: 'Keyword',
    value: 'kw',
  },
  {
    key: defineSearchAttributeKey('CustomKeywordListField', SearchAttributeType.KEYWORD_LIST),
    typeName: 'KeywordList',
    value: ['gpu', 'nightly'],
  },
  { key: defineSearchAttributeKey('CustomTextField', SearchAttributeType.TEXT), typeName: 'Text', value: 'some words' },
  { key: defineSearchAttributeKey('CustomIntField', SearchAttributeType.INT), typeName: 'Int', value: 42 },
  { key: defineSearchAttributeKey('CustomDoubleField', SearchAttributeType.DOUBLE), typeName: 'Double', value: 2.5 },
  { key: defineSearchAttributeKey('CustomBoolField', SearchAttributeType.BOOL), typeName: 'Bool', value: true },
  {
    key: defineSearchAttributeKey('CustomDatetimeField', SearchAttributeType.DATETIME),
    typeName: 'Datetime',
    value: WHEN,
  },
];

/** The same values in the SDK's legacy (untyped) form: each a list. */
const LEGACY: SearchAttributes = {
  CustomKeywordField: ['kw'],
  CustomKeywordListField: ['gpu', 'nightly'],
  CustomTextField: ['some words'],
  CustomIntField: [42],
  CustomDoubleField: [2.5],
  CustomBoolField: [true],
  CustomDatetimeField: [WHEN],
};

let env: TestEnv;
let workflowBundle: WorkflowBundleWithSourceMap;
let stopWorker: () => Promise<void>;
const taskQueue = uniqueQueue('sa-types');

beforeAll(async () => {
  env = await connect();
  workflowBundle = await bundle(require.resolve('./fixtures/search-attribute-workflows'));
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle });
  stopWorker = runInBackground(worker);
});
afterAll(async () => {
  await stopWorker?.();
  await env?.close();
});

const wid = (name: string): string => `${name}-${randomUUID()}`;

/** Checks a description's typed and legacy search attributes hold every value with its type. */
function expectEveryType(description: {
  typedSearchAttributes?: TypedSearchAttributes | undefined;
  searchAttributes?: SearchAttributes | undefined;
}): void {
  for (const { key, value } of EVERY_TYPE) {
    expect(description.typedSearchAttributes?.get(key)).toEqual(value);
    expect(description.searchAttributes?.[key.name]).toEqual(Array.isArray(value) ? value : [value]);
  }
  expect(description.typedSearchAttributes?.get(EVERY_TYPE[6]!.key)).toBeInstanceOf(Date);
  expect(description.searchAttributes?.['CustomDatetimeField']?.[0]).toBeInstanceOf(Date);
}

/** Checks raw payloads carry the registered type of every attribute. */
function expectTypedPayloads(fields: Record<string, Payload> | null | undefined): void {
  for (const { key, typeName } of EVERY_TYPE) {
    const type = fields?.[key.name]?.metadata?.['type'];
    expect(type ? Buffer.from(type).toString() : undefined).toBe(typeName);
  }
}

/** What a workflow reports seeing, for every type: its type and value, Datetime as a Date. */
function expectSeenEveryType(seen: SeenAttribute[]): void {
  const byName = new Map(seen.map((s) => [s.name, s]));
  for (const { key, value } of EVERY_TYPE) {
    const s = byName.get(key.name);
    expect(s?.type).toBe(key.type);
    expect(s?.value).toEqual(value instanceof Date ? value.toISOString() : value);
  }
  expect(byName.get('CustomDatetimeField')?.isDate).toBe(true);
}

async function historyEvents(handle: WorkflowHandle): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

describe('describe', () => {
  it('returns every type typed, for a start with legacy (untyped) search attributes', async () => {
    const handle = await env.client.workflow.start(reportAttributes, {
      taskQueue,
      workflowId: wid('describe'),
      searchAttributes: LEGACY,
    });
    // The worker decoded every value by its type from the started event.
    expectSeenEveryType(await handle.result());
    expectEveryType(await handle.describe());
    const started = (await historyEvents(handle))[0]!;
    expectTypedPayloads(started.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields);
    await assertReplays(handle, workflowBundle);
  });

  it('returns every type typed after a workflow upserts legacy values', async () => {
    const handle = await env.client.workflow.start(upsertsLegacy, {
      taskQueue,
      workflowId: wid('upsert'),
      args: [LEGACY],
    });
    await handle.result();
    expectEveryType(await handle.describe());
    const upsert = (await historyEvents(handle)).find(
      (e) => e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    );
    expectTypedPayloads(upsert?.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields);
    await assertReplays(handle, workflowBundle);
  });
});

describe('listing', () => {
  it('List, Scan, ListOpen and ListClosed return every type typed', async () => {
    const workflowId = wid('listed');
    const handle = await env.client.workflow.start(reportAttributes, {
      taskQueue,
      workflowId,
      searchAttributes: LEGACY,
    });
    await handle.result();
    const listed = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) listed.push(w);
    expect(listed).toHaveLength(1);
    expectEveryType(listed[0]!);

    const service = env.connection.workflowService;
    const scanned = await service.scanWorkflowExecutions({
      namespace: 'default',
      query: `WorkflowId = '${workflowId}'`,
    });
    expectTypedPayloads(scanned.executions?.[0]?.searchAttributes?.indexedFields);
    const closed = await service.listClosedWorkflowExecutions({
      namespace: 'default',
      executionFilter: { workflowId },
    });
    expectTypedPayloads(closed.executions?.[0]?.searchAttributes?.indexedFields);

    const open = await env.client.workflow.start(continuesWith, {
      taskQueue,
      workflowId: wid('open'),
      searchAttributes: LEGACY,
      args: [{ NoSuchAttribute: ['x'] }], // its workflow task keeps failing: it stays open
    });
    const listedOpen = await service.listOpenWorkflowExecutions({
      namespace: 'default',
      executionFilter: { workflowId: open.workflowId },
    });
    expectTypedPayloads(listedOpen.executions?.[0]?.searchAttributes?.indexedFields);
    await open.terminate();
  });
});

describe('attributes handed to other runs', () => {
  it('a child started with legacy values sees them typed', async () => {
    const parent = await env.client.workflow.start(parentOfReporter, {
      taskQueue,
      workflowId: wid('parent'),
      args: [LEGACY],
    });
    expectSeenEveryType(await parent.result());
    const child = env.client.workflow.getHandle(`${parent.workflowId}-child`);
    expectEveryType(await child.describe());
    const initiated = (await historyEvents(parent)).find(
      (e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    );
    expectTypedPayloads(
      initiated?.startChildWorkflowExecutionInitiatedEventAttributes?.searchAttributes?.indexedFields,
    );
    await assertReplays(parent, workflowBundle);
    await assertReplays(child, workflowBundle);
  });

  it('a continue-as-new run given legacy values sees them typed', async () => {
    const handle = await env.client.workflow.start(continuesWithAttributes, {
      taskQueue,
      workflowId: wid('continued'),
      args: [LEGACY],
    });
    expectSeenEveryType(await handle.result());
    const first = env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
    const continued = (await historyEvents(first)).at(-1);
    expect(continued?.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    expectTypedPayloads(continued?.workflowExecutionContinuedAsNewEventAttributes?.searchAttributes?.indexedFields);
    expectEveryType(await env.client.workflow.getHandle(handle.workflowId).describe());
  });
});

describe('validation of attributes for children and continue-as-new', () => {
  /** Waits for the run's first WorkflowTaskFailed event and returns its cause and message, then terminates it. */
  async function firstTaskFailure(handle: WorkflowHandle): Promise<{ cause: number; message: string }> {
    const failed = await pollUntil(`a failed workflow task in ${handle.workflowId}`, async () =>
      (await historyEvents(handle)).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
    );
    await handle.terminate();
    const a = failed.workflowTaskFailedEventAttributes!;
    return { cause: Number(a.cause), message: a.failure?.message ?? '' };
  }

  it('a child start with an undefined attribute or a value of the wrong type fails the task', async () => {
    const undefinedName = await env.client.workflow.start(startsChildWith, {
      taskQueue,
      workflowId: wid('child-undefined'),
      args: [{ NoSuchAttribute: ['x'] }],
    });
    const f1 = await firstTaskFailure(undefinedName);
    expect(f1.cause).toBe(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES);
    expect(f1.message).toBe(
      'BadSearchAttributes: invalid SearchAttributes on StartChildWorkflowCommand: search attribute NoSuchAttribute ' +
        `is not defined. WorkflowId=${undefinedName.workflowId}-child WorkflowType=reportAttributes Namespace=default`,
    );

    const wrongType = await env.client.workflow.start(startsChildWith, {
      taskQueue,
      workflowId: wid('child-type'),
      args: [{ CustomIntField: ['not a number'] }],
    });
    const f2 = await firstTaskFailure(wrongType);
    expect(f2.cause).toBe(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES);
    expect(f2.message).toMatch(
      /^BadSearchAttributes: invalid SearchAttributes on StartChildWorkflowCommand: \[not a number\] is not a valid value for search attribute CustomIntField of type Int\. /,
    );
    // No child was initiated.
    for (const handle of [undefinedName, wrongType]) {
      const types = (await historyEvents(handle)).map((e) => e.eventType);
      expect(types).not.toContain(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED);
    }
  });

  it('continue-as-new with an undefined attribute fails the task', async () => {
    const handle = await env.client.workflow.start(continuesWith, {
      taskQueue,
      workflowId: wid('can-undefined'),
      args: [{ NoSuchAttribute: ['x'] }],
    });
    const failure = await firstTaskFailure(handle);
    expect(failure.cause).toBe(Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES);
    expect(failure.message).toBe(
      'BadSearchAttributes: invalid SearchAttributes on ContinueAsNewWorkflowExecutionCommand: search attribute ' +
        `NoSuchAttribute is not defined. WorkflowType=continuesWith TaskQueue=name:"${taskQueue}" kind:TASK_QUEUE_KIND_NORMAL`,
    );
    const types = (await historyEvents(handle)).map((e) => e.eventType);
    expect(types).not.toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  });
});

describe('schedules', () => {
  it('describe and list return the schedule and its action attributes typed', async () => {
    const scheduleId = wid('sched');
    const handle = await env.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1 hour' }] },
      action: { type: 'startWorkflow', workflowType: reportAttributes, taskQueue, searchAttributes: LEGACY },
      searchAttributes: LEGACY,
      state: { paused: true },
    });
    try {
      const description = await handle.describe();
      expectEveryType(description);
      expect(description.action.type).toBe('startWorkflow');
      if (description.action.type === 'startWorkflow') {
        const { typedSearchAttributes, searchAttributes } = description.action;
        expect(typedSearchAttributes).toBeInstanceOf(TypedSearchAttributes);
        expectEveryType({ typedSearchAttributes: typedSearchAttributes as TypedSearchAttributes, searchAttributes });
      }
      const listed = await pollUntil(`schedule ${scheduleId} to be listed`, async () => {
        for await (const s of env.client.schedule.list()) if (s.scheduleId === scheduleId) return s;
        return undefined;
      });
      expectEveryType(listed);
    } finally {
      await handle.delete();
    }
  });
});
