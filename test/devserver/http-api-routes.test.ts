/**
 * The HTTP API's route table and request mapping on their own (no server): every annotated RPC of the protos has a
 * route, no template shadows another, query and path parameters become request fields as grpc-gateway sets them,
 * statuses map as grpc-gateway maps them, and payloads follow Temporal's JSON shorthand.
 */
import { status as Code } from '@grpc/grpc-js';
import { temporal } from '@temporalio/proto';
import type * as protobuf from 'protobufjs';

import { RpcError } from '../../infra/devserver/errors';
import { buildRouteTable, httpStatusFromCode, temporalRouteTable, uiSettings } from '../../infra/devserver/http';
import { errorBody } from '../../infra/devserver/http/errors';
import { fromProtoJson, referenceToJson, toProtoJson } from '../../infra/devserver/http/protojson';
import { requestJson } from '../../infra/devserver/http/request';
import type { Route } from '../../infra/devserver/http/routes';
import { protoRoot } from '../../infra/devserver/proto';
import { parseStartDevArgs } from '../../clients/start-dev-config';

const WORKFLOW_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const OPERATOR_SERVICE = 'temporal.api.operatorservice.v1.OperatorService';

/** The RPCs of a service whose options carry a google.api.http rule, read straight from the proto JSON. */
function annotatedMethods(service: string): string[] {
  return protoRoot
    .lookupService(service)
    .methodsArray.filter((m) =>
      (m.parsedOptions as Record<string, unknown>[] | undefined)?.some((o) => '(google.api.http)' in o),
    )
    .map((m) => m.name);
}

/** A concrete path for a template: each variable replaced by a sample value. */
function examplePath(template: string): string {
  return template.replace(/\{[^}]+\}/g, 'x-1');
}

function findRoute(method: string, template: string): Route {
  const route = temporalRouteTable(true).routes.find((r) => r.method === method && r.template === template);
  if (!route) throw new Error(`no route ${method} ${template}`);
  return route;
}

describe('route table', () => {
  const full = buildRouteTable();

  it('has a route for every annotated WorkflowService and OperatorService RPC, under /api/v1 and without', () => {
    for (const service of [WORKFLOW_SERVICE, OPERATOR_SERVICE]) {
      const annotated = annotatedMethods(service);
      expect(annotated.length).toBeGreaterThan(service === WORKFLOW_SERVICE ? 50 : 3);
      for (const method of annotated) {
        const templates = full.routes
          .filter((r) => r.service === service && r.method === method)
          .map((r) => r.template);
        expect({ method, hasApiV1: templates.some((t) => t.startsWith('/api/v1/')) }).toEqual({
          method,
          hasApiV1: true,
        });
        expect({ method, hasUnprefixed: templates.some((t) => !t.startsWith('/api/v1/')) }).toEqual({
          method,
          hasUnprefixed: true,
        });
      }
    }
    expect(full.skipped).toEqual([]);
  });

  it('takes every binding of the annotations, additional ones included', () => {
    const heartbeat = full.routes.filter((r) => r.method === 'RecordActivityTaskHeartbeatById').map((r) => r.template);
    expect(heartbeat.sort()).toEqual([
      '/api/v1/namespaces/{namespace}/activities/{activity_id}/heartbeat',
      '/api/v1/namespaces/{namespace}/workflows/{workflow_id}/activities/{activity_id}/heartbeat',
      '/namespaces/{namespace}/activities/{activity_id}/heartbeat',
      '/namespaces/{namespace}/workflows/{workflow_id}/activities/{activity_id}/heartbeat',
    ]);
  });

  it('matches every template to its own RPC (no template shadows another)', () => {
    for (const route of full.routes) {
      const match = full.match(route.httpMethod, examplePath(route.template));
      expect({ template: route.template, matched: match.kind === 'found' ? match.route.method : match.kind }).toEqual({
        template: route.template,
        matched: route.method,
      });
    }
  });

  it('decodes path variables, nested ones included, and keeps an encoded "/" inside a value', () => {
    const match = full.match('GET', '/api/v1/namespaces/ml/workflows/a%2Fb%20c/history');
    expect(match).toMatchObject({
      kind: 'found',
      route: { method: 'GetWorkflowExecutionHistory' },
      params: [
        { fieldPath: ['namespace'], value: 'ml' },
        { fieldPath: ['execution', 'workflowId'], value: 'a/b c' },
      ],
    });
  });

  it('answers method-not-allowed with the methods a path takes, not-found for unknown paths', () => {
    expect(full.match('DELETE', '/api/v1/namespaces/default/workflows')).toEqual({
      kind: 'method-not-allowed',
      allowed: ['GET'],
    });
    expect(full.match('GET', '/api/v1/no/such/route')).toEqual({ kind: 'not-found' });
    expect(full.match('GET', '/api/v1/namespaces/%E0%A4%A')).toMatchObject({ kind: 'bad-path' });
  });

  it('the UI table serves only /api/v1 (the unprefixed paths are the UI pages)', () => {
    expect(temporalRouteTable(false).routes.every((r) => r.template.startsWith('/api/v1/'))).toBe(true);
    expect(temporalRouteTable(false).match('GET', '/namespaces/default/workflows')).toEqual({ kind: 'not-found' });
  });
});

describe('request mapping', () => {
  const list = findRoute('ListWorkflowExecutions', '/api/v1/namespaces/{namespace}/workflows');
  const history = findRoute(
    'GetWorkflowExecutionHistory',
    '/api/v1/namespaces/{namespace}/workflows/{execution.workflow_id}/history',
  );
  const signal = findRoute(
    'SignalWorkflowExecution',
    '/api/v1/namespaces/{namespace}/workflows/{workflow_execution.workflow_id}/signal/{signal_name}',
  );
  const describeTaskQueue = findRoute(
    'DescribeTaskQueue',
    '/api/v1/namespaces/{namespace}/task-queues/{task_queue.name}',
  );
  const decode = (route: Route, json: unknown): Record<string, unknown> =>
    fromProtoJson(route.requestType, json, { payloadShorthand: false }) as Record<string, unknown>;

  it('maps query parameters by JSON or proto name, nested by dots; path fields win over the query', () => {
    const token = Buffer.from([0xfb, 0xff, 0x01]).toString('base64'); // "+/8B": a "+" that arrived as a space
    const json = requestJson(
      history,
      [
        { fieldPath: ['namespace'], value: 'default' },
        { fieldPath: ['execution', 'workflowId'], value: 'wf' },
      ],
      new URLSearchParams(
        `execution.runId=r1&maximum_page_size=5&waitNewEvent=true&next_page_token=${token.replace('+', '%20')}` +
          '&execution.workflowId=ignored&historyEventFilterType=HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT&unknown=1&pretty',
      ),
      undefined,
    );
    expect(decode(history, json)).toEqual({
      namespace: 'default',
      execution: { workflowId: 'wf', runId: 'r1' },
      maximumPageSize: 5,
      waitNewEvent: true,
      nextPageToken: Buffer.from([0xfb, 0xff, 0x01]),
      historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
    });
  });

  it('takes enums by number too, and rejects a bad value naming the field', () => {
    const json = requestJson(
      describeTaskQueue,
      [
        { fieldPath: ['namespace'], value: 'default' },
        { fieldPath: ['taskQueue', 'name'], value: 'q' },
      ],
      new URLSearchParams('taskQueueType=2&taskQueue.kind=TASK_QUEUE_KIND_NORMAL'),
      undefined,
    );
    expect(decode(describeTaskQueue, json)).toEqual({
      namespace: 'default',
      taskQueue: { name: 'q', kind: 1 },
      taskQueueType: 2,
    });
    const bad = requestJson(
      list,
      [{ fieldPath: ['namespace'], value: 'd' }],
      new URLSearchParams('pageSize=ten'),
      undefined,
    );
    expect(() => decode(list, bad)).toThrow(/pageSize.*invalid integer/);
    expect(() =>
      requestJson(
        list,
        [{ fieldPath: ['namespace'], value: 'd' }],
        new URLSearchParams('pageSize=1&pageSize=2'),
        undefined,
      ),
    ).toThrow(/given 2 times/);
  });

  it('with body "*", takes the body and sets the path fields into it (nested ones merged)', () => {
    const json = requestJson(
      signal,
      [
        { fieldPath: ['namespace'], value: 'default' },
        { fieldPath: ['workflowExecution', 'workflowId'], value: 'wf' },
        { fieldPath: ['signalName'], value: 'go' },
      ],
      new URLSearchParams('identity=ignored-with-a-body'),
      { workflowExecution: { runId: 'r' }, identity: 'ui', input: { payloads: [] } },
    );
    expect(decode(signal, json)).toEqual({
      namespace: 'default',
      workflowExecution: { workflowId: 'wf', runId: 'r' },
      signalName: 'go',
      identity: 'ui',
      input: {},
    });
    expect(() => requestJson(signal, [], new URLSearchParams(), [1, 2])).toThrow(/must be a JSON object/);
    expect(() => decode(signal, { bogus: 1 })).toThrow(/unknown field: "bogus"/);
  });
});

describe('payload JSON', () => {
  const startedType = protoRoot.lookupType('temporal.api.history.v1.WorkflowExecutionStartedEventAttributes');
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const attrs = {
    input: {
      payloads: [
        { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"a":[1,2]}') },
        { metadata: { encoding: Buffer.from('binary/null') } },
      ],
    },
    memo: { fields: { note: { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"hi"') } } },
    header: {
      fields: {
        enc: {
          metadata: { encoding: Buffer.from('binary/encrypted'), keyId: Buffer.from('k') },
          data: Buffer.from([1]),
        },
      },
    },
  };
  const message = (): protobuf.Message => startedType.fromObject(attrs);

  it('writes full form by default (what the Web UI reads): metadata and data in base64', () => {
    expect(toProtoJson(startedType, message(), { payloadShorthand: false })).toEqual({
      input: {
        payloads: [
          { metadata: { encoding: b64('json/plain') }, data: b64('{"a":[1,2]}') },
          { metadata: { encoding: b64('binary/null') } },
        ],
      },
      memo: { fields: { note: { metadata: { encoding: b64('json/plain') }, data: b64('"hi"') } } },
      header: { fields: { enc: { metadata: { encoding: b64('binary/encrypted'), keyId: b64('k') }, data: 'AQ==' } } },
    });
  });

  it('writes Temporal shorthand when asked, keeping payloads it cannot shorten, and reads it back', () => {
    const json = toProtoJson(startedType, message(), { payloadShorthand: true });
    expect(json).toEqual({
      input: [{ a: [1, 2] }, null],
      memo: { fields: { note: 'hi' } },
      header: { fields: { enc: { metadata: { encoding: b64('binary/encrypted'), keyId: b64('k') }, data: 'AQ==' } } },
    });
    const back = fromProtoJson(startedType, json, { payloadShorthand: true }) as Record<string, unknown>;
    expect(back).toEqual(
      startedType.toObject(startedType.decode(startedType.encode(message()).finish()), { longs: Number }),
    );
  });
});

describe('proto3 JSON writer', () => {
  it("writes what protobufjs's reference ProtoJSON writer writes", () => {
    const cases: [string, Record<string, unknown>][] = [
      [
        'temporal.api.history.v1.HistoryEvent',
        {
          eventId: 7,
          eventTime: { seconds: 1700000000, nanos: 120000000 },
          eventType: 10,
          taskId: 0,
          workerMayIgnore: false,
          activityTaskScheduledEventAttributes: {
            activityId: '1',
            activityType: { name: 'runStep' },
            taskQueue: { name: 'q', kind: 1 },
            header: { fields: {} },
            input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{}') }] },
            scheduleToCloseTimeout: { seconds: 600 },
            startToCloseTimeout: { seconds: 0, nanos: 1500 },
            heartbeatTimeout: { seconds: -2, nanos: -500000000 },
            workflowTaskCompletedEventId: 4,
            retryPolicy: { initialInterval: { seconds: 1 }, backoffCoefficient: 2, maximumAttempts: 0 },
          },
        },
      ],
      [
        'temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse',
        {
          workflowExecutionInfo: {
            execution: { workflowId: 'w', runId: 'r' },
            status: 2,
            historyLength: 12,
            memo: { fields: { a: { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('1') } } },
            searchAttributes: { indexedFields: {} },
            startTime: { seconds: 0, nanos: 1 },
          },
          pendingActivities: [{ activityId: 'a', state: 0, attempt: 3, lastFailure: { message: 'x' } }],
        },
      ],
      [
        'temporal.api.workflowservice.v1.UpdateWorkflowExecutionOptionsRequest',
        { namespace: 'n', updateMask: { paths: ['versioning_override', 'priority.priority_key'] } },
      ],
      [
        'google.rpc.Status',
        {
          code: 5,
          message: 'gone',
          details: [
            {
              type_url: 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure',
              value: temporal.api.errordetails.v1.NamespaceNotFoundFailure.encode({ namespace: 'x' }).finish(),
            },
          ],
        },
      ],
    ];
    for (const [typeName, object] of cases) {
      const type = protoRoot.lookupType(typeName);
      const message = type.decode(type.encode(type.fromObject(object)).finish());
      expect({ typeName, json: toProtoJson(type, message, { payloadShorthand: false }) }).toEqual({
        typeName,
        json: referenceToJson(type, message),
      });
      // Explicitly set defaults (as handlers' objects have them) are left out as the reference leaves them out.
      const direct = type.fromObject(object);
      expect(toProtoJson(type, direct, { payloadShorthand: false })).toEqual(referenceToJson(type, direct));
    }
  });
});

describe('errors and settings', () => {
  it('maps gRPC codes to HTTP statuses as grpc-gateway does', () => {
    expect(
      [
        Code.INVALID_ARGUMENT,
        Code.NOT_FOUND,
        Code.ALREADY_EXISTS,
        Code.PERMISSION_DENIED,
        Code.UNAUTHENTICATED,
        Code.RESOURCE_EXHAUSTED,
        Code.FAILED_PRECONDITION,
        Code.UNIMPLEMENTED,
        Code.UNAVAILABLE,
        Code.DEADLINE_EXCEEDED,
        Code.INTERNAL,
        Code.CANCELLED,
        Code.ABORTED,
      ].map(httpStatusFromCode),
    ).toEqual([400, 404, 409, 403, 401, 429, 400, 501, 503, 504, 500, 499, 409]);
  });

  it('writes google.rpc.Status with details as Any', () => {
    expect(errorBody(new RpcError(Code.INVALID_ARGUMENT, 'bad'))).toEqual({ code: 3, message: 'bad' });
  });

  it('answers the UI server settings shape, with the actions the server lacks turned off', () => {
    const settings = uiSettings(
      { codecEndpoint: 'http://localhost:8888', version: '2.40.0' },
      (m) => m !== 'StartBatchOperation',
    );
    expect(settings).toMatchObject({
      Auth: { Enabled: false, Options: null },
      Codec: { Endpoint: 'http://localhost:8888', PassAccessToken: false, IncludeCredentials: false },
      DefaultNamespace: '',
      Version: '2.40.0',
      BatchActionsDisabled: true,
      WorkflowTerminateDisabled: false,
    });
  });
});

describe('start-dev flags', () => {
  it('--http-port turns the HTTP API on (off when absent) and --http-cors-origins lists origins', () => {
    expect(parseStartDevArgs([]).server).not.toHaveProperty('httpPort');
    expect(
      parseStartDevArgs(['--http-port', '0', '--http-cors-origins', 'https://tools.example, http://localhost:3000'])
        .server,
    ).toMatchObject({ httpPort: 0, httpCorsOrigins: ['https://tools.example', 'http://localhost:3000'] });
    expect(() => parseStartDevArgs(['--http-cors-origins', 'tools.example/path'])).toThrow(
      /--http-cors-origins: "tools.example\/path" is not an origin/,
    );
  });
});
