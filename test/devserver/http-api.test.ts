/**
 * Temporal's HTTP API on the embedded dev server, against real executions: for each route the Web UI calls, the
 * answer over HTTP decodes to the same message as the official client's answer over gRPC; errors carry the gRPC
 * status mapped to HTTP with Temporal's body; the guards refuse other origins and hosts; `--http-port` serves the
 * frontend HTTP API (payload shorthand, unprefixed paths, long polls) from the `mloe` process.
 *
 * The jest dev server runs in the parent process, where a test cannot reach its handlers, so this suite starts its
 * own in-process server (port 0, HTTP API on port 0) and mounts the UI's app on its `rpc`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Hono } from 'hono';
import Long from 'long';
import type * as protobuf from 'protobufjs';

import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import { createTemporalHttpApi } from '../../infra/devserver/http';
import { fromProtoJson, referenceToJson } from '../../infra/devserver/http/protojson';
import { protoRoot } from '../../infra/devserver/proto';
import { killAllServers, spawnServer } from './child-server';
import { bundle, runInBackground } from './harness';
import { pollUntil } from '../support/poll';
import type * as workflows from './fixtures/http-api-workflows';

jest.setTimeout(120_000);

const NS = 'default';
const WS = 'temporal.api.workflowservice.v1';
const OS = 'temporal.api.operatorservice.v1';

let server: DevServerHandle;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let stopWorker: () => Promise<void>;
let ui: Hono;
const taskQueue = `http-api-${randomUUID()}`;
let completed: WorkflowHandleWithFirstExecutionRunId<typeof workflows.httpQuick>;
let running: WorkflowHandleWithFirstExecutionRunId<typeof workflows.httpGreeter>;
const scheduleId = `http-api-schedule-${randomUUID()}`;

beforeAll(async () => {
  server = await startDevServer({ port: 0, httpPort: 0 });
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection, namespace: NS });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowBundle: await bundle(require.resolve('./fixtures/http-api-workflows')),
  });
  stopWorker = runInBackground(worker);
  ui = createTemporalHttpApi({ rpc: server.rpc });

  completed = await client.workflow.start<typeof workflows.httpQuick>('httpQuick', {
    taskQueue,
    workflowId: `quick-${randomUUID()}`,
    args: [21],
  });
  await completed.result();
  running = await client.workflow.start<typeof workflows.httpGreeter>('httpGreeter', {
    taskQueue,
    workflowId: `greeter-${randomUUID()}`,
    args: ['mloe'],
  });
  await statusOf(); // the first workflow task is done: the run is idle until signalled
  await client.schedule.create({
    scheduleId,
    spec: { intervals: [{ every: '365 days' }] },
    action: { type: 'startWorkflow', workflowType: 'httpQuick', taskQueue, args: [1] },
  });
});

afterAll(async () => {
  await killAllServers();
  await stopWorker?.();
  await nativeConnection?.close();
  await connection?.close();
  await server?.close();
});

/** The greeter's `status` query. */
const statusOf = (): Promise<{ greeting?: string; signals: number }> =>
  running.query<{ greeting?: string; signals: number }>('status');

/** A request to the UI's app (in-process, as hono serves it). */
async function http(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await ui.request(`http://localhost${path}`, init);
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as Record<string, unknown>, headers: response.headers };
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}): ReturnType<typeof http> =>
  http(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });

const enc = encodeURIComponent;

/** A message in a canonical plain form (int64, enums and bytes as strings) for comparing answers. */
function canonical(type: protobuf.Type, bytes: Uint8Array): unknown {
  return type.toObject(type.decode(bytes), { longs: String, enums: String, bytes: String });
}

/** The HTTP answer's JSON and the gRPC answer, both decoded as `typeName` into canonical form. */
function decodedPair(typeName: string, httpJson: unknown, grpcMessage: object): [unknown, unknown] {
  const type = protoRoot.lookupType(typeName);
  const fromHttp = type.encode(type.fromObject(fromProtoJson(type, httpJson, { payloadShorthand: false }) as object));
  return [canonical(type, fromHttp.finish()), canonical(type, type.encode(grpcMessage).finish())];
}

/**
 * Asserts that the HTTP answer decodes to the same message as the gRPC one, and that its JSON is what protobufjs's
 * reference ProtoJSON writer writes for the gRPC answer.
 */
function expectSame(typeName: string, httpJson: unknown, grpcMessage: object): void {
  const [fromHttp, fromGrpc] = decodedPair(typeName, httpJson, grpcMessage);
  expect(fromHttp).toEqual(fromGrpc);
  const type = protoRoot.lookupType(typeName);
  expect(httpJson).toEqual(referenceToJson(type, type.decode(type.encode(grpcMessage).finish())));
}

describe('the same answer over HTTP and gRPC', () => {
  it('namespaces: list and describe', async () => {
    const list = await http('/api/v1/namespaces');
    expect(list.status).toBe(200);
    expectSame(`${WS}.ListNamespacesResponse`, list.json, await connection.workflowService.listNamespaces({}));
    const described = await http(`/api/v1/namespaces/${NS}`);
    expect(described.json).toMatchObject({ namespaceInfo: { name: NS, state: 'NAMESPACE_STATE_REGISTERED' } });
    expectSame(
      `${WS}.DescribeNamespaceResponse`,
      described.json,
      await connection.workflowService.describeNamespace({ namespace: NS }),
    );
  });

  it('workflows: list with a query, count, describe', async () => {
    const query = `WorkflowType = "httpQuick" AND TaskQueue = "${taskQueue}"`;
    await pollUntil('the completed run is visible', async () => {
      const r = await connection.workflowService.listWorkflowExecutions({ namespace: NS, query });
      return r.executions.length === 1;
    });
    const list = await http(`/api/v1/namespaces/${NS}/workflows?query=${enc(query)}&pageSize=10`);
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({
      executions: [{ execution: { workflowId: completed.workflowId }, status: 'WORKFLOW_EXECUTION_STATUS_COMPLETED' }],
    });
    expectSame(
      `${WS}.ListWorkflowExecutionsResponse`,
      list.json,
      await connection.workflowService.listWorkflowExecutions({ namespace: NS, query, pageSize: 10 }),
    );
    const countQuery = `TaskQueue = "${taskQueue}"`;
    const count = await http(`/api/v1/namespaces/${NS}/workflow-count?query=${enc(countQuery)}`);
    expect(count.json).toMatchObject({ count: expect.any(String) as unknown });
    expectSame(
      `${WS}.CountWorkflowExecutionsResponse`,
      count.json,
      await connection.workflowService.countWorkflowExecutions({ namespace: NS, query: countQuery }),
    );
    for (const handle of [completed, running]) {
      const described = await http(
        `/api/v1/namespaces/${NS}/workflows/${enc(handle.workflowId)}?execution.runId=${handle.firstExecutionRunId}`,
      );
      expect(described.status).toBe(200);
      expectSame(
        `${WS}.DescribeWorkflowExecutionResponse`,
        described.json,
        await connection.workflowService.describeWorkflowExecution({
          namespace: NS,
          execution: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
        }),
      );
    }
  });

  it('history forward and reverse, page by page with the page tokens', async () => {
    for (const [route, rpc] of [
      ['history', 'GetWorkflowExecutionHistory'],
      ['history-reverse', 'GetWorkflowExecutionHistoryReverse'],
    ] as const) {
      let token: string | undefined;
      let pages = 0;
      let events = 0;
      do {
        const reply = await http(
          `/api/v1/namespaces/${NS}/workflows/${enc(completed.workflowId)}/${route}?maximumPageSize=2` +
            (token ? `&nextPageToken=${enc(token)}` : ''),
        );
        expect(reply.status).toBe(200);
        const request = {
          namespace: NS,
          execution: { workflowId: completed.workflowId },
          maximumPageSize: 2,
          ...(token ? { nextPageToken: Buffer.from(token, 'base64') } : {}),
        };
        const grpc =
          rpc === 'GetWorkflowExecutionHistory'
            ? await connection.workflowService.getWorkflowExecutionHistory(request)
            : await connection.workflowService.getWorkflowExecutionHistoryReverse(request);
        expectSame(`${WS}.${rpc}Response`, reply.json, grpc);
        events += grpc.history?.events?.length ?? 0;
        token = reply.json.nextPageToken as string | undefined;
        pages += 1;
      } while (token && pages < 50);
      expect(token).toBeUndefined();
      expect(pages).toBeGreaterThan(1);
      expect(events).toBe((await completed.fetchHistory()).events?.length);
    }
    const first = await http(
      `/api/v1/namespaces/${NS}/workflows/${enc(completed.workflowId)}/history?maximumPageSize=1`,
    );
    // Proto3 JSON as Temporal writes it: int64 as strings, enums by name, RFC 3339 times, payloads in full form.
    expect(first.json).toMatchObject({
      history: {
        events: [
          {
            eventId: '1',
            eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
            eventTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/) as unknown,
            workflowExecutionStartedEventAttributes: {
              input: {
                payloads: [
                  {
                    metadata: { encoding: Buffer.from('json/plain').toString('base64') },
                    data: Buffer.from('21').toString('base64'),
                  },
                ],
              },
            },
          },
        ],
      },
    });
  });

  it('history requests without a page size get historyPageSize (the UI asks for none); a given size stands', async () => {
    const paged = createTemporalHttpApi({ rpc: server.rpc }, { historyPageSize: 2 });
    const path = `http://localhost/api/v1/namespaces/${NS}/workflows/${enc(completed.workflowId)}/history`;
    const page = async (query: string): Promise<{ events: number; next: boolean }> => {
      const response = await paged.request(`${path}?${query}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { history: { events: unknown[] }; nextPageToken?: string };
      return { events: body.history.events.length, next: Boolean(body.nextPageToken) };
    };
    const total = (await completed.fetchHistory()).events?.length ?? 0;
    expect(total).toBeGreaterThan(3);
    expect(await page('')).toEqual({ events: 2, next: true });
    expect(await page('maximumPageSize=3')).toEqual({ events: 3, next: true });
    const reverse = await paged.request(
      `http://localhost/api/v1/namespaces/${NS}/workflows/${enc(completed.workflowId)}/history-reverse`,
    );
    expect(((await reverse.json()) as { history: { events: unknown[] } }).history.events).toHaveLength(2);
    // Without the option, the server's own default (all of this short history).
    const plain = await ui.request(`${path}`);
    expect(((await plain.json()) as { history: { events: unknown[] } }).history.events).toHaveLength(total);
  });

  it('the raw history download is every event of the run', async () => {
    const response = await ui.request(
      `http://localhost/api/v1/namespaces/${NS}/workflows/${enc(completed.workflowId)}/run/${completed.firstExecutionRunId}/history.json`,
    );
    expect(response.status).toBe(200);
    const events = (await response.json()) as unknown[];
    const grpc = (await completed.fetchHistory()).events ?? [];
    expect(events).toHaveLength(grpc.length);
    events.forEach((event, i) => expectSame('temporal.api.history.v1.HistoryEvent', event, grpc[i]!));
    const missing = await ui.request(`http://localhost/api/v1/namespaces/${NS}/workflows/nope/run/nope/history.json`);
    expect(missing.status).toBe(404);
  });

  it("the raw history download is what the SDK's history JSON reader and Worker.runReplayHistory take (the UI's Download)", async () => {
    const response = await ui.request(
      `http://localhost/api/v1/namespaces/${NS}/workflows/${enc(completed.workflowId)}/run/${completed.firstExecutionRunId}/history.json`,
    );
    expect(response.headers.get('content-type')).toContain('application/json');
    const events = (await response.json()) as Record<string, unknown>[];
    // Proto3 JSON as Temporal's gateway writes it: int64 as strings, enums by their full names, payloads in full
    // form (base64 metadata and data), timestamps in RFC 3339.
    const started = events[0]!;
    expect(started.eventId).toBe('1');
    expect(started.eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    expect(started.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const attributes = started.workflowExecutionStartedEventAttributes as {
      input: { payloads: unknown[] };
      taskQueue: { kind: string };
    };
    expect(attributes.input.payloads[0]).toEqual({
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from('21').toString('base64'),
    });
    expect(attributes.taskQueue.kind).toBe('TASK_QUEUE_KIND_NORMAL');
    expect(events[events.length - 1]!.eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    // The SDK's reader takes the events (wrapped as `{ events }`, the shape of `temporal workflow show --output json`)
    // and the replay runs them with the workflow's code without a nondeterminism error.
    const history = historyFromJSON({ events });
    expect(history.events).toHaveLength(events.length);
    expect(Number(history.events![0]!.eventType)).toBe(1);
    // The downloaded JSON as it is, as a replay test of a history downloaded from the UI passes it.
    await Worker.runReplayHistory(
      { workflowBundle: await bundle(require.resolve('./fixtures/http-api-workflows')) },
      { events },
      completed.workflowId,
    );
  });

  it('query', async () => {
    const reply = await post(`/api/v1/namespaces/${NS}/workflows/${enc(running.workflowId)}/query/status`, {
      query: {},
    });
    expect(reply.status).toBe(200);
    const grpc = await connection.workflowService.queryWorkflow({
      namespace: NS,
      execution: { workflowId: running.workflowId },
      query: { queryType: 'status' },
    });
    expectSame(`${WS}.QueryWorkflowResponse`, reply.json, grpc);
    const result = (reply.json.queryResult as { payloads: { data: string }[] }).payloads[0]!;
    expect(JSON.parse(Buffer.from(result.data, 'base64').toString())).toEqual({ greeting: 'Hello', signals: 0 });
  });

  it('signal: the same empty answer, and the signal reaches the workflow', async () => {
    const input = {
      payloads: [
        {
          metadata: { encoding: Buffer.from('json/plain').toString('base64') },
          data: Buffer.from('"Hej"').toString('base64'),
        },
      ],
    };
    const reply = await post(`/api/v1/namespaces/${NS}/workflows/${enc(running.workflowId)}/signal/setGreeting`, {
      input,
      identity: 'http-test',
    });
    expect(reply.status).toBe(200);
    expectSame(
      `${WS}.SignalWorkflowExecutionResponse`,
      reply.json,
      await connection.workflowService.signalWorkflowExecution({
        namespace: NS,
        workflowExecution: { workflowId: running.workflowId },
        signalName: 'setGreeting',
        input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"Hej"') }] },
      }),
    );
    await pollUntil('both signals are handled', async () => (await statusOf()).signals === 2);
    expect(await statusOf()).toEqual({ greeting: 'Hej', signals: 2 });
  });

  it('cancel and terminate', async () => {
    const start = (): Promise<WorkflowHandleWithFirstExecutionRunId<typeof workflows.httpGreeter>> =>
      client.workflow.start<typeof workflows.httpGreeter>('httpGreeter', {
        taskQueue,
        workflowId: `victim-${randomUUID()}`,
        args: ['x'],
      });
    const [viaHttp, viaGrpc] = [await start(), await start()];
    const cancel = await post(`/api/v1/namespaces/${NS}/workflows/${enc(viaHttp.workflowId)}/cancel`, {
      reason: 'from the UI',
    });
    expect(cancel.status).toBe(200);
    expectSame(
      `${WS}.RequestCancelWorkflowExecutionResponse`,
      cancel.json,
      await connection.workflowService.requestCancelWorkflowExecution({
        namespace: NS,
        workflowExecution: { workflowId: viaGrpc.workflowId },
        reason: 'from the UI',
      }),
    );
    await expect(viaHttp.result()).rejects.toThrow();
    expect((await viaHttp.describe()).status.name).toBe('CANCELLED');

    const [terminateViaHttp, terminateViaGrpc] = [await start(), await start()];
    const terminate = await post(`/api/v1/namespaces/${NS}/workflows/${enc(terminateViaHttp.workflowId)}/terminate`, {
      reason: 'stop',
    });
    expect(terminate.status).toBe(200);
    expect((await terminateViaHttp.describe()).status.name).toBe('TERMINATED');
    expectSame(
      `${WS}.TerminateWorkflowExecutionResponse`,
      terminate.json,
      await connection.workflowService.terminateWorkflowExecution({
        namespace: NS,
        workflowExecution: { workflowId: terminateViaGrpc.workflowId },
        reason: 'stop',
      }),
    );
    // Terminating it again: the same refusal over both.
    const again = await post(`/api/v1/namespaces/${NS}/workflows/${enc(terminateViaHttp.workflowId)}/terminate`, {});
    const grpcError = (await connection.workflowService
      .terminateWorkflowExecution({ namespace: NS, workflowExecution: { workflowId: terminateViaHttp.workflowId } })
      .catch((e: unknown) => e)) as { code: number; details: string };
    expect(again.status).toBe(404);
    expect(again.json).toMatchObject({ code: grpcError.code, message: grpcError.details });
  });

  it("reset: the UI's call resets the run, and the same request id over gRPC answers the same run", async () => {
    const handle = await client.workflow.start<typeof workflows.httpQuick>('httpQuick', {
      taskQueue,
      workflowId: `reset-${randomUUID()}`,
      args: [4],
    });
    await handle.result();
    const finished = (await handle.fetchHistory()).events ?? [];
    const taskCompleted = finished.find((e) => e.workflowTaskCompletedEventAttributes)!.eventId!.toString();
    const requestId = randomUUID();
    const reply = await post(`/api/v1/namespaces/${NS}/workflows/${enc(handle.workflowId)}/reset`, {
      workflowExecution: { runId: handle.firstExecutionRunId },
      workflowTaskFinishEventId: taskCompleted,
      requestId,
      reason: 'from the UI',
    });
    expect(reply.status).toBe(200);
    const newRunId = reply.json.runId as string;
    expect(newRunId).not.toBe(handle.firstExecutionRunId);
    expectSame(
      `${WS}.ResetWorkflowExecutionResponse`,
      reply.json,
      await connection.workflowService.resetWorkflowExecution({
        namespace: NS,
        workflowExecution: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
        workflowTaskFinishEventId: Long.fromString(taskCompleted),
        requestId,
        reason: 'from the UI',
      }),
    );
    expect(await client.workflow.getHandle(handle.workflowId, newRunId).result()).toBe(8);
  });

  it("schedules: the UI's pause through patch", async () => {
    const reply = await post(`/api/v1/namespaces/${NS}/schedules/${enc(scheduleId)}/patch`, {
      patch: { pause: 'paused from the UI' },
      identity: 'ui',
      requestId: randomUUID(),
    });
    expect(reply.status).toBe(200);
    const described = await client.schedule.getHandle(scheduleId).describe();
    expect(described.state).toMatchObject({ paused: true, note: 'paused from the UI' });
    await client.schedule.getHandle(scheduleId).unpause();
  });

  it('schedules: list and describe', async () => {
    const list = await http(`/api/v1/namespaces/${NS}/schedules`);
    expect(list.json).toMatchObject({ schedules: [{ scheduleId }] });
    expectSame(
      `${WS}.ListSchedulesResponse`,
      list.json,
      await connection.workflowService.listSchedules({ namespace: NS }),
    );
    const described = await http(`/api/v1/namespaces/${NS}/schedules/${enc(scheduleId)}`);
    expect(described.status).toBe(200);
    expectSame(
      `${WS}.DescribeScheduleResponse`,
      described.json,
      await connection.workflowService.describeSchedule({ namespace: NS, scheduleId }),
    );
  });

  it('search attributes, cluster and system info, task queue', async () => {
    const attributes = await http(`/api/v1/namespaces/${NS}/search-attributes`);
    expect(attributes.json).toMatchObject({ systemAttributes: { WorkflowType: 'INDEXED_VALUE_TYPE_KEYWORD' } });
    expectSame(
      `${OS}.ListSearchAttributesResponse`,
      attributes.json,
      await connection.operatorService.listSearchAttributes({ namespace: NS }),
    );
    expectSame(
      `${WS}.GetClusterInfoResponse`,
      (await http('/api/v1/cluster-info')).json,
      await connection.workflowService.getClusterInfo({}),
    );
    expectSame(
      `${WS}.GetSystemInfoResponse`,
      (await http('/api/v1/system-info')).json,
      await connection.workflowService.getSystemInfo({}),
    );
    const queue = await http(
      `/api/v1/namespaces/${NS}/task-queues/${enc(taskQueue)}?taskQueueType=TASK_QUEUE_TYPE_WORKFLOW`,
    );
    expect(queue.status).toBe(200);
    expect((queue.json.pollers as unknown[]).length).toBeGreaterThan(0);
    const grpc = await connection.workflowService.describeTaskQueue({
      namespace: NS,
      taskQueue: { name: taskQueue },
      taskQueueType: 1,
    });
    // Poller access times move between the two calls; the pollers are the same.
    const identities = (json: unknown): unknown =>
      ((json as { pollers?: { identity: string }[] }).pollers ?? []).map((p) => p.identity).sort();
    const [fromHttp, fromGrpc] = decodedPair(`${WS}.DescribeTaskQueueResponse`, queue.json, grpc);
    expect(identities(fromHttp)).toEqual(identities(fromGrpc));
  });

  it('the UI server settings', async () => {
    const settings = await http('/api/v1/settings');
    expect(settings.status).toBe(200);
    expect(settings.json).toMatchObject({
      Auth: { Enabled: false },
      Codec: { Endpoint: '' },
      WorkflowSignalDisabled: false,
      WorkflowResetDisabled: false,
      BatchActionsDisabled: true,
    });
  });
});

describe("mounted by the UI's server", () => {
  it('serves under a public path, leaves other paths to the app it is mounted in, and takes the UI settings', async () => {
    const api = createTemporalHttpApi(
      { rpc: server.rpc },
      { basePath: '/temporal', settings: { codecEndpoint: 'http://localhost:8888', version: '2.40.1' } },
    );
    const shell = new Hono();
    shell.route('/', api);
    shell.get('*', (c) => c.text('the UI page'));
    const described = await shell.request(`http://localhost/temporal/api/v1/namespaces/${NS}`);
    expect(described.status).toBe(200);
    expect(await described.json()).toMatchObject({ namespaceInfo: { name: NS } });
    const settings = await shell.request('http://localhost/temporal/api/v1/settings');
    expect(await settings.json()).toMatchObject({ Codec: { Endpoint: 'http://localhost:8888' }, Version: '2.40.1' });
    const page = await shell.request(`http://localhost/temporal/namespaces/${NS}/workflows`);
    expect(await page.text()).toBe('the UI page');
  });
});

describe('errors', () => {
  it('an unknown workflow is 404 with the status gRPC gives, as Temporal writes it', async () => {
    const reply = await http(`/api/v1/namespaces/${NS}/workflows/no-such-workflow`);
    expect(reply.status).toBe(404);
    const grpcError = (await connection.workflowService
      .describeWorkflowExecution({ namespace: NS, execution: { workflowId: 'no-such-workflow' } })
      .catch((e: unknown) => e)) as { code: number; details: string };
    expect(grpcError.code).toBe(5);
    expect(reply.json).toEqual({
      code: 5,
      message: grpcError.details,
      details: [{ '@type': 'type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure' }],
    });
    const namespace = await http('/api/v1/namespaces/no-such-namespace');
    expect(namespace.status).toBe(404);
    expect(namespace.json).toMatchObject({
      code: 5,
      details: [
        {
          '@type': 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure',
          namespace: 'no-such-namespace',
        },
      ],
    });
  });

  it("a bad argument is 400 with the handler's message; malformed bodies are 400 and the server survives", async () => {
    const query = 'WorkflowType = ';
    const reply = await http(`/api/v1/namespaces/${NS}/workflows?query=${enc(query)}`);
    expect(reply.status).toBe(400);
    const grpcError = (await connection.workflowService
      .listWorkflowExecutions({ namespace: NS, query })
      .catch((e: unknown) => e)) as { code: number; details: string };
    expect(reply.json).toEqual({ code: 3, message: grpcError.details });

    const path = `/api/v1/namespaces/${NS}/workflows/${enc(running.workflowId)}/signal/setGreeting`;
    for (const body of ['{not json', '[1,2]', '{"input": 5}', '{"bogusField": true}']) {
      const r = await ui.request(`http://localhost${path}`, { method: 'POST', body });
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(((await r.json()) as { message: string }).message).toMatch(/JSON|object|input|bogusField/);
    }
    const tooLarge = await ui.request(`http://localhost${path}`, { method: 'POST', body: 'x'.repeat(5 * 1024 * 1024) });
    expect(tooLarge.status).toBe(413);
    expect((await http(`/api/v1/namespaces/${NS}`)).status).toBe(200);
  });

  it('unknown routes are 404, wrong methods 405, unimplemented RPCs 501 naming the RPC', async () => {
    expect(await http('/api/v1/no/such/route')).toMatchObject({ status: 404, json: { code: 5 } });
    const wrongMethod = await http(`/api/v1/namespaces/${NS}/workflows`, { method: 'DELETE' });
    expect(wrongMethod).toMatchObject({ status: 405, json: { code: 12 } });
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    const unimplemented = await http(`/api/v1/namespaces/${NS}/batch-operations`);
    expect(unimplemented).toMatchObject({
      status: 501,
      json: { code: 12, message: expect.stringMatching(/ListBatchOperations/) as unknown },
    });
  });
});

describe('security', () => {
  const signalPath = (): string => `/api/v1/namespaces/${NS}/workflows/${enc(running.workflowId)}/signal/setGreeting`;
  const handledSignals = async (): Promise<number> => (await statusOf()).signals;
  const greeting = (text: string): unknown => ({
    input: {
      payloads: [
        {
          metadata: { encoding: Buffer.from('json/plain').toString('base64') },
          data: Buffer.from(JSON.stringify(text)).toString('base64'),
        },
      ],
    },
  });

  it('CORS is closed: no Access-Control-Allow-Origin for another origin, and its actions are refused', async () => {
    const read = await http(`/api/v1/namespaces/${NS}`, { headers: { Origin: 'http://evil.example' } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
    const before = await handledSignals();
    for (const headers of [
      { Origin: 'http://evil.example' },
      { Origin: 'http://localhost:3000' }, // another port is another origin
      { Origin: 'null' },
      { 'Sec-Fetch-Site': 'cross-site' },
    ]) {
      const reply = await post(signalPath(), greeting('refused'), headers);
      expect({ headers, status: reply.status, code: reply.json.code }).toEqual({ headers, status: 403, code: 7 });
    }
    // The UI itself (same origin) and non-browser clients (no Origin) act; the refused signals never arrive.
    expect((await post(signalPath(), greeting('same origin'), { Origin: 'http://localhost' })).status).toBe(200);
    expect((await post(signalPath(), greeting('no origin'))).status).toBe(200);
    // Behind a reverse proxy: the page's origin is the proxy's public host, forwarded in X-Forwarded-Host.
    const proxied = { Origin: 'https://temporal.example', 'X-Forwarded-Host': 'temporal.example' };
    expect((await post(signalPath(), greeting('proxied'), proxied)).status).toBe(200);
    const after = await pollUntil('the accepted signals are handled', async () => {
      const n = await handledSignals();
      return n >= before + 3 ? n : undefined;
    });
    expect(after).toBe(before + 3);
    expect((await statusOf()).greeting).toBe('proxied');
  });

  it('configured origins get CORS answers and may act', async () => {
    const open = createTemporalHttpApi({ rpc: server.rpc }, { security: { corsOrigins: ['https://tools.example'] } });
    const preflight = await open.request(`http://localhost${signalPath()}`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://tools.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://tools.example');
    const action = await open.request(`http://localhost${signalPath()}`, {
      method: 'POST',
      body: JSON.stringify(greeting('tools')),
      headers: { Origin: 'https://tools.example' },
    });
    expect(action.status).toBe(200);
    expect(action.headers.get('access-control-allow-origin')).toBe('https://tools.example');
    const other = await open.request(`http://localhost${signalPath()}`, {
      method: 'POST',
      body: '{}',
      headers: { Origin: 'https://evil.example' },
    });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers only for loopback host names by default (DNS rebinding)', async () => {
    const reply = await ui.request(`http://evil.example/api/v1/namespaces/${NS}`);
    expect(reply.status).toBe(403);
    expect(await reply.json()).toMatchObject({
      code: 7,
      message: expect.stringMatching(/Host not allowed/) as unknown,
    });
    expect((await ui.request(`http://127.0.0.1:8233/api/v1/namespaces/${NS}`)).status).toBe(200);
    expect((await ui.request(`http://[::1]:8233/api/v1/namespaces/${NS}`)).status).toBe(200);
  });
});

describe('the frontend HTTP API on --http-port', () => {
  const base = (): string => `http://${server.httpAddress!}`;

  it('serves unprefixed and /api/v1 paths with payload shorthand, and full form on request', async () => {
    const path = `/namespaces/${NS}/workflows/${enc(completed.workflowId)}/history`;
    const shorthand = (await (await fetch(`${base()}${path}`)).json()) as {
      history: { events: Record<string, { input?: unknown; result?: unknown }>[] };
    };
    const events = shorthand.history.events;
    expect(events[0]!.workflowExecutionStartedEventAttributes!.input).toEqual([21]);
    expect(events.at(-1)!.workflowExecutionCompletedEventAttributes!.result).toEqual([42]);
    const full = (await (await fetch(`${base()}/api/v1${path}?noPayloadShorthand`)).json()) as typeof shorthand;
    expect(full.history.events[0]!.workflowExecutionStartedEventAttributes!.input).toEqual({
      payloads: [
        {
          metadata: { encoding: Buffer.from('json/plain').toString('base64') },
          data: Buffer.from('21').toString('base64'),
        },
      ],
    });
  });

  it('starts a workflow from shorthand input, as Temporal documents it', async () => {
    const workflowId = `http-start-${randomUUID()}`;
    const response = await fetch(`${base()}/api/v1/namespaces/${NS}/workflows/${workflowId}`, {
      method: 'POST',
      body: JSON.stringify({ workflowType: { name: 'httpQuick' }, taskQueue: { name: taskQueue }, input: [5] }),
    });
    expect(response.status).toBe(200);
    expect(await client.workflow.getHandle(workflowId).result()).toBe(10);
  });

  it('long-polls history until a new event, and survives a client that goes away', async () => {
    const { history } = await running.fetchHistory().then((h) => ({ history: h }));
    const last = history.events!.at(-1)!.eventId!.toString();
    const url = `${base()}/api/v1/namespaces/${NS}/workflows/${enc(running.workflowId)}/history?waitNewEvent=true&nextPageToken=`;
    // A first page, then a poll from its token that waits for the next event.
    const firstPage = (await (await fetch(url.replace('&nextPageToken=', ''))).json()) as { nextPageToken?: string };
    expect(firstPage.nextPageToken).toBeDefined();
    const abandoned = new AbortController();
    const gone = fetch(`${url}${enc(firstPage.nextPageToken!)}`, { signal: abandoned.signal }).catch(() => 'aborted');
    const waiting = fetch(`${url}${enc(firstPage.nextPageToken!)}`).then(
      async (r) => (await r.json()) as { history?: { events?: { eventId: string; eventType: string }[] } },
    );
    abandoned.abort();
    expect(await gone).toBe('aborted');
    await running.signal('setGreeting', 'Hi');
    const page = await waiting;
    expect(page.history?.events?.[0]).toMatchObject({ eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED' });
    expect(BigInt(page.history!.events![0]!.eventId)).toBeGreaterThan(BigInt(last));
    expect((await fetch(`${base()}/api/v1/namespaces/${NS}`)).status).toBe(200);
  });
});

describe('an HTTP port in use', () => {
  it('fails the start with a message naming the port and the flag', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      await expect(startDevServer({ port: 0, httpPort: port })).rejects.toThrow(
        new RegExp(`HTTP API port ${port} on 127\\.0\\.0\\.1 is in use: choose another --http-port`),
      );
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});

describe('mloe server start-dev --http-port', () => {
  it('serves the HTTP API beside gRPC and prints its address', async () => {
    const child = spawnServer(['--port', '0', '--http-port', '0', '--headless', '--log-level', 'error']);
    await child.ready();
    const line = await pollUntil(
      'the HTTP API line',
      () => /Temporal HTTP API: (http:\/\/\S+)/.exec(child.output().stdout)?.[1],
    );
    expect(line).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const reply = await fetch(`${line}/api/v1/namespaces/default`);
    expect(reply.status).toBe(200);
    expect(await reply.json()).toMatchObject({ namespaceInfo: { name: 'default' } });
    expect(await child.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('rejects a malformed --http-cors-origins with exit code 1 naming the flag', async () => {
    const child = spawnServer([
      '--port',
      '0',
      '--http-port',
      '0',
      '--http-cors-origins',
      'not an origin',
      '--headless',
    ]);
    expect((await child.exited).code).toBe(1);
    expect(child.output().stderr).toMatch(/httpCorsOrigins|http-cors-origins/);
  });
});
