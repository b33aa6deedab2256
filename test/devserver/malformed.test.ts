/**
 * Hostile and invalid input: random bytes and structurally broken protobuf sent over a raw gRPC channel, bad
 * arguments sent through the official client, and calls to methods the dev server does not implement. The server
 * must answer each with the status Temporal uses (INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED) and a message naming
 * the problem, promptly, and keep serving afterwards.
 */
import * as grpc from '@grpc/grpc-js';
import { Client, NamespaceNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import type * as protobuf from 'protobufjs';
import { randomUUID } from 'node:crypto';

import { workflowServiceHandlers } from '../../infra/devserver/api/service';
import { operatorServiceHandlers } from '../../infra/devserver/visibility';
// The SDK's protobuf reflection root, as the dev server loads it.
import { protoRoot as root } from '../../infra/devserver/proto';
import * as activities from './fixtures/activities';
import type * as workflows from './fixtures/workflows';
import { bundle, connect, serverAddress, uniqueQueue, withWorker, type TestEnv } from './harness';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';

const WORKFLOW_SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const OPERATOR_SERVICE = 'temporal.api.operatorservice.v1.OperatorService';
/** Every call in this file must be answered well within this; a hang fails with DEADLINE_EXCEEDED instead. */
const CALL_DEADLINE_MS = 5000;
/** Checks that only make sense against the mloe dev server (not a real Temporal behind TEMPORAL_ADDRESS). */
const mloeOnly = process.env.TEMPORAL_ADDRESS ? it.skip : it;

/** A gRPC status as a test sees it. */
interface Status {
  code: grpc.status;
  details: string;
}

let env: TestEnv;
let raw: grpc.Client;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await connect();
  raw = new grpc.Client(serverAddress(), grpc.credentials.createInsecure());
  workflowBundle = await bundle(require.resolve('./fixtures/workflows'));
});
afterAll(async () => {
  raw?.close();
  await env?.close();
});

/** Sends `bytes` as the request of `service/method` with identity (de)serializers; resolves with the status. */
function rawCall(
  method: string,
  bytes: Uint8Array,
  service = WORKFLOW_SERVICE,
  deadlineMs = CALL_DEADLINE_MS,
): Promise<Status & { response?: Buffer }> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest<Buffer, Buffer>(
      `/${service}/${method}`,
      (b) => b,
      (b) => b,
      Buffer.from(bytes),
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, response) => {
        if (err) resolve({ code: err.code, details: err.details });
        else resolve({ code: grpc.status.OK, details: '', ...(response ? { response } : {}) });
      },
    );
  });
}

/** Awaits a call that must fail and returns its gRPC status (unwrapping the SDK's error wrappers). */
async function statusOf(call: Promise<unknown>): Promise<Status & { error: Error }> {
  try {
    await call;
  } catch (err) {
    let e = err as Error & { code?: unknown; details?: unknown; cause?: unknown };
    while (typeof e.code !== 'number' && e.cause instanceof Error) e = e.cause;
    return {
      code: e.code as grpc.status,
      details: typeof e.details === 'string' ? e.details : e.message,
      error: err as Error,
    };
  }
  throw new Error('expected the call to fail');
}

/** A small seeded PRNG (mulberry32), so random inputs are reproducible. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function requestType(method: string, service = WORKFLOW_SERVICE): protobuf.Type {
  const m = root.lookupService(service).methods[method]!;
  m.resolve();
  return m.resolvedRequestType!;
}

/** Whether the SDK's own protobuf definitions can decode `bytes` as the request of `method`. */
function decodes(method: string, bytes: Uint8Array): boolean {
  try {
    requestType(method).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const isMessageType = (t: protobuf.Type | protobuf.Enum | null): t is protobuf.Type => t !== null && 'fieldsArray' in t;

/** A protobuf field tag (field numbers below 16 fit in one byte). */
const tag = (field: number, wireType: number): number => {
  if (field >= 16) throw new Error('tag() only builds one-byte tags');
  return (field << 3) | wireType;
};

const enc = (method: string, value: Record<string, unknown>): Uint8Array => {
  const type = requestType(method);
  return type.encode(type.fromObject(value)).finish();
};

async function assertStillServing(): Promise<void> {
  const info = await rawCall('GetSystemInfo', new Uint8Array());
  expect(info.code).toBe(grpc.status.OK);
  const taskQueue = uniqueQueue('malformed');
  await withWorker(env, { taskQueue, workflowBundle, activities }, async () => {
    const result = await env.client.workflow.execute<typeof workflows.hello>('hello', {
      taskQueue,
      workflowId: uniqueQueue('after-malformed'),
      args: ['still serving'],
    });
    expect(result).toBe('hello still serving');
  });
}

const METHODS_UNDER_FIRE = [
  'StartWorkflowExecution',
  'SignalWorkflowExecution',
  'PollWorkflowTaskQueue',
  'RespondWorkflowTaskCompleted',
  'PollActivityTaskQueue',
  'RespondActivityTaskCompleted',
  'GetWorkflowExecutionHistory',
  'DescribeNamespace',
  'QueryWorkflow',
  'UpdateWorkflowExecution',
];

describe('malformed bytes over a raw gRPC channel', () => {
  it('answers INVALID_ARGUMENT for structurally invalid protobuf, naming the request type', async () => {
    const common: [string, Uint8Array][] = [
      ['a length-delimited field longer than the message', Uint8Array.from([0x0a, 0x05, 0x61])],
      ['a length prefix of 4 GiB', Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])],
      ['wire type 7', Uint8Array.from([0x0f])],
      ['wire type 6', Uint8Array.from([0x0e, 0x00])],
      ['an end-group tag without a start', Uint8Array.from([0x0c])],
      ['field number 0', Uint8Array.from([0x02, 0x00])],
      ['a truncated varint tag', Uint8Array.from([0x80])],
    ];
    /** Cases built from the request's schema: its first string field and its first message field. */
    const forSchema = (method: string): [string, Uint8Array][] => {
      const fields = requestType(method).fieldsArray;
      const text = fields.find((f) => f.type === 'string' && !f.repeated && !f.map);
      const message = fields.find((f) => !f.repeated && !f.map && isMessageType(f.resolve().resolvedType));
      const cases: [string, Uint8Array][] = [];
      if (text) cases.push([`invalid UTF-8 in ${text.name}`, Uint8Array.from([tag(text.id, 2), 0x02, 0xc3, 0x28])]);
      if (message) {
        // The embedded message declares 4 bytes, but its own first field claims 8.
        cases.push([
          `an embedded ${message.name} whose field overruns it`,
          Uint8Array.from([tag(message.id, 2), 0x04, 0x0a, 0x08, 0x61, 0x62]),
        ]);
      }
      return cases;
    };
    for (const method of METHODS_UNDER_FIRE) {
      const cases = [...common, ...forSchema(method)];
      expect(cases.length).toBeGreaterThan(common.length);
      for (const [what, bytes] of cases) {
        expect(decodes(method, bytes)).toBe(false); // the SDK's own decoder rejects it too
        const status = await rawCall(method, bytes);
        expect({ method, what, code: grpc.status[status.code] }).toEqual({ method, what, code: 'INVALID_ARGUMENT' });
        expect(status.details).toContain(`${method}Request`);
      }
    }
    await assertStillServing();
  });

  it('answers an integer field with an over-long varint with INVALID_ARGUMENT', async () => {
    // GetWorkflowExecutionHistoryRequest.maximum_page_size (field 3) as an 11-byte varint.
    const bytes = Uint8Array.from([0x18, ...new Array<number>(10).fill(0xff), 0x01]);
    const status = await rawCall('GetWorkflowExecutionHistory', bytes);
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toMatch(/varint/);
  });

  it('survives random bytes on every method under fire: never INTERNAL, UNKNOWN or a hang', async () => {
    const random = prng(20240611);
    let undecodable = 0;
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 400; i++) {
      const method = METHODS_UNDER_FIRE[i % METHODS_UNDER_FIRE.length]!;
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256));
      const valid = decodes(method, bytes);
      if (!valid) undecodable++;
      calls.push(
        rawCall(method, bytes).then((status) => {
          const seen = { method, bytes: Buffer.from(bytes).toString('hex'), code: grpc.status[status.code] };
          if (!valid) expect(seen).toEqual({ ...seen, code: 'INVALID_ARGUMENT' });
          // Bytes that happen to decode are a garbage request: rejected as such, never a server fault.
          else expect(['INVALID_ARGUMENT', 'NOT_FOUND']).toContain(seen.code);
        }),
      );
    }
    await Promise.all(calls);
    expect(undecodable).toBeGreaterThan(300);
    await assertStillServing();
  });

  mloeOnly('answers decodable garbage (valid protobuf, meaningless fields) without a server fault', async () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['StartWorkflowExecution', {}, 'INVALID_ARGUMENT', /Namespace/],
      ['StartWorkflowExecution', { namespace: 'default' }, 'INVALID_ARGUMENT', /WorkflowId/],
      ['SignalWorkflowExecution', { namespace: 'default', workflowExecution: {} }, 'INVALID_ARGUMENT', /WorkflowId/],
      ['PollWorkflowTaskQueue', { namespace: 'default' }, 'INVALID_ARGUMENT', /TaskQueue/],
      ['PollActivityTaskQueue', { namespace: 'default', taskQueue: {} }, 'INVALID_ARGUMENT', /TaskQueue/],
      ['RespondWorkflowTaskCompleted', { namespace: 'default' }, 'INVALID_ARGUMENT', /TaskToken/],
      [
        'RespondWorkflowTaskCompleted',
        { namespace: 'default', taskToken: Buffer.from('{"kind":"wft"}') },
        'INVALID_ARGUMENT',
        /task token/i,
      ],
      [
        'RespondWorkflowTaskCompleted',
        {
          namespace: 'default',
          taskToken: Buffer.from(
            JSON.stringify({ kind: 'wft', namespace: 'default', workflowId: 'x', runId: 'y', id: 1 }),
          ),
          commands: [{ commandType: 999 }],
        },
        'NOT_FOUND',
        /task not found/i,
      ],
      [
        'RespondActivityTaskCompleted',
        { namespace: 'default', taskToken: Buffer.from('null') },
        'INVALID_ARGUMENT',
        /task token/i,
      ],
      [
        'GetWorkflowExecutionHistory',
        { namespace: 'default', execution: { workflowId: 'x' }, nextPageToken: Buffer.from('}{') },
        'INVALID_ARGUMENT',
        /NextPageToken/,
      ],
      ['DescribeNamespace', { namespace: `missing-${randomUUID()}` }, 'NOT_FOUND', /not found/i],
      ['QueryWorkflow', { namespace: 'default' }, 'INVALID_ARGUMENT', /is not set on request/],
      ['UpdateWorkflowExecution', { namespace: 'default' }, 'INVALID_ARGUMENT', /is not set on request/],
    ];
    for (const [method, request, code, message] of cases) {
      const status = await rawCall(method, enc(method, request));
      expect({ method, request, code: grpc.status[status.code] }).toEqual({ method, request, code });
      expect(status.details).toMatch(message);
    }
    await assertStillServing();
  });
});

/** Methods that may legitimately hold a call open (long polls, waits for a worker); the rest must answer at once. */
const WAITING_METHODS = new Set([
  'PollWorkflowTaskQueue',
  'PollActivityTaskQueue',
  'GetWorkflowExecutionHistory',
  'QueryWorkflow',
  'UpdateWorkflowExecution',
  'PollWorkflowExecutionUpdate',
  'ExecuteMultiOperation',
]);

/**
 * Builds random but well-formed requests from the request type's schema: random subsets of fields, odd values
 * (empty, huge, negative, NaN, unknown enum numbers), the given namespace, and task tokens the server handed out.
 */
class RequestFuzzer {
  readonly tokens: Buffer[] = [];
  private readonly strings = ['', 'a', 'x'.repeat(300), '\u0000', 'wf-1', 'tq', '💥', 'hello', 'sig'];

  constructor(
    private readonly random: () => number,
    private readonly namespace: string,
  ) {}

  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.random() * values.length)]!;
  }

  request(method: string): Uint8Array {
    const type = requestType(method);
    const value = this.message(type, 0);
    const workflowId = `wf-${Math.floor(this.random() * 10)}`;
    // Mostly aim at real executions in the fuzz namespace, so requests get past the first checks.
    const likely: Record<string, unknown> = {
      namespace: this.namespace,
      workflowId,
      workflowType: { name: 'hello' },
      taskQueue: { name: 'fuzz-tq' },
      workflowExecution: { workflowId },
      execution: { workflowId },
      signalName: 'sig',
      requestId: randomUUID(),
    };
    for (const [field, v] of Object.entries(likely)) {
      if (type.fields[field] && this.random() < 0.85) value[field] = v;
    }
    if (type.fields['namespace'] && value['namespace'] !== '') value['namespace'] = this.namespace;
    return type.encode(type.fromObject(value)).finish();
  }

  private message(type: protobuf.Type, depth: number): Record<string, unknown> {
    const value: Record<string, unknown> = {};
    for (const field of type.fieldsArray) {
      if (this.random() < 0.5) continue;
      if (field.map) value[field.name] = { k: this.scalar(field, depth) };
      else if (field.repeated)
        value[field.name] = Array.from({ length: Math.floor(this.random() * 3) }, () => this.scalar(field, depth));
      else value[field.name] = this.scalar(field, depth);
    }
    return value;
  }

  private scalar(field: protobuf.Field, depth: number): unknown {
    const resolved = field.resolve().resolvedType;
    if (isMessageType(resolved)) return depth > 3 ? {} : this.message(resolved, depth + 1);
    if (resolved) {
      const values = Object.values(resolved.values);
      return this.random() < 0.8 ? this.pick(values) : Math.floor(this.random() * 100);
    }
    switch (field.type) {
      case 'string':
        return this.pick(this.strings);
      case 'bytes':
        if (field.name === 'taskToken' && this.tokens.length > 0 && this.random() < 0.8) return this.pick(this.tokens);
        return Buffer.from(this.pick(['', 'abc', 'null', '{}']));
      case 'bool':
        return this.random() < 0.5;
      case 'double':
      case 'float':
        return this.pick([0, -1, 0.5, 2, 1e308, NaN, Infinity]);
      default:
        return this.pick([0, 1, 3, -1, 2147483647, -2147483648, 1e15]);
    }
  }
}

describe('well-formed requests with random contents', () => {
  mloeOnly(
    'never produce INTERNAL, UNKNOWN or a hang, keep histories consistent, and leave the server serving',
    async () => {
      const namespace = `fuzz-${randomUUID()}`;
      await env.connection.workflowService.registerNamespace({ namespace });
      const fuzzer = new RequestFuzzer(prng(424242), namespace);
      const methods = Object.keys(workflowServiceHandlers);
      const faults: unknown[] = [];
      for (let batch = 0; batch < 25; batch++) {
        await Promise.all(
          Array.from({ length: 40 }, async () => {
            const method = fuzzer.pick(methods);
            const bytes = fuzzer.request(method);
            const waits = WAITING_METHODS.has(method);
            const status = await rawCall(method, bytes, WORKFLOW_SERVICE, waits ? 300 : CALL_DEADLINE_MS);
            const code = grpc.status[status.code];
            if (
              code === 'INTERNAL' ||
              code === 'UNKNOWN' ||
              code === 'UNAVAILABLE' ||
              (code === 'DEADLINE_EXCEEDED' && !waits)
            ) {
              const decoded = requestType(method).toObject(requestType(method).decode(bytes), { longs: Number });
              faults.push({ method, code, details: status.details, request: decoded });
            }
            // Hand out real task tokens to later requests, so completions reach real tasks.
            if (status.response && method.startsWith('Poll')) {
              const m = root.lookupService(WORKFLOW_SERVICE).methods[method]!;
              const response = m.resolvedResponseType!.decode(status.response) as unknown as { taskToken?: Uint8Array };
              if (response.taskToken?.length) fuzzer.tokens.push(Buffer.from(response.taskToken));
            }
          }),
        );
      }
      expect(faults).toEqual([]);

      // Every history the fuzzing produced is well formed: contiguous event ids from 1.
      const client = new Client({ connection: env.connection, namespace });
      let histories = 0;
      for (let i = 0; i < 10; i++) {
        const handle = client.workflow.getHandle(`wf-${i}`);
        const history = await handle.fetchHistory().catch((err: unknown) => {
          if ((err as { code?: unknown }).code === grpc.status.NOT_FOUND) return undefined;
          throw err;
        });
        if (!history) continue;
        histories++;
        expect(history.events!.map((e) => Number(e.eventId))).toEqual(history.events!.map((_e, index) => index + 1));
        expect(history.events![0]!.workflowExecutionStartedEventAttributes).toBeTruthy();
      }
      expect(histories).toBeGreaterThan(0);
      await assertStillServing();
    },
  );
});

describe('unknown and unimplemented methods', () => {
  it('answers unknown methods and services with UNIMPLEMENTED', async () => {
    const unknownMethod = await rawCall('NoSuchMethod', new Uint8Array());
    expect(grpc.status[unknownMethod.code]).toBe('UNIMPLEMENTED');
    const unknownService = await rawCall('GetSystemInfo', new Uint8Array(), 'temporal.api.nosuch.v1.NoSuchService');
    expect(grpc.status[unknownService.code]).toBe('UNIMPLEMENTED');
  });

  mloeOnly(
    'answers every WorkflowService and OperatorService method without a handler with UNIMPLEMENTED at once',
    async () => {
      const unimplemented = root
        .lookupService(WORKFLOW_SERVICE)
        .methodsArray.map((m) => m.name)
        .filter((name) => !(name in workflowServiceHandlers));
      const operator = root
        .lookupService(OPERATOR_SERVICE)
        .methodsArray.map((m) => m.name)
        .filter((name) => !(name in operatorServiceHandlers));
      expect(unimplemented.length).toBeGreaterThan(0);
      for (const method of unimplemented) {
        const status = await rawCall(method, new Uint8Array());
        expect({ method, code: grpc.status[status.code] }).toEqual({ method, code: 'UNIMPLEMENTED' });
        expect(status.details).toContain(method);
        expect(status.details).toMatch(/not implemented/);
      }
      for (const method of operator) {
        const status = await rawCall(method, new Uint8Array(), OPERATOR_SERVICE);
        expect({ method, code: grpc.status[status.code] }).toEqual({ method, code: 'UNIMPLEMENTED' });
        expect(status.details).toContain(method);
      }

      // Through the official client too: a clear error, not a hang.
      const first = unimplemented[0]!;
      const call = (env.connection.workflowService as unknown as Record<string, (req: object) => Promise<unknown>>)[
        first.charAt(0).toLowerCase() + first.slice(1)
      ]!;
      const status = await statusOf(call.call(env.connection.workflowService, { namespace: 'default' }));
      expect(grpc.status[status.code]).toBe('UNIMPLEMENTED');
      expect(status.details).toContain(first);
      await assertStillServing();
    },
  );
});

describe('bad arguments through the official client', () => {
  const service = (): TestEnv['connection']['workflowService'] => env.connection.workflowService;
  const start = (overrides: Record<string, unknown>): Promise<unknown> =>
    service().startWorkflowExecution({
      namespace: 'default',
      workflowId: uniqueQueue('bad-args'),
      workflowType: { name: 'hello' },
      taskQueue: { name: uniqueQueue('bad-args') },
      requestId: randomUUID(),
      ...overrides,
    });

  it.each([
    ['an empty workflow id', { workflowId: '' }, /WorkflowId/],
    ['a workflow id over 1000 characters', { workflowId: 'w'.repeat(1001) }, /WorkflowId/],
    ['no workflow type', { workflowType: undefined }, /WorkflowType/],
    ['no task queue', { taskQueue: undefined }, /TaskQueue/],
    ['an empty task queue name', { taskQueue: { name: '' } }, /TaskQueue/],
    ['a negative run timeout', { workflowRunTimeout: { seconds: -1 } }, /WorkflowRunTimeout/],
    ['a negative execution timeout', { workflowExecutionTimeout: { seconds: -10 } }, /WorkflowExecutionTimeout/],
    ['a negative task timeout', { workflowTaskTimeout: { seconds: -1 } }, /WorkflowTaskTimeout/],
    ['a negative start delay', { workflowStartDelay: { seconds: -1 } }, /WorkflowStartDelay/],
    ['a retry backoff coefficient below 1', { retryPolicy: { backoffCoefficient: 0.5 } }, /BackoffCoefficient/],
    ['a negative retry maximum attempts', { retryPolicy: { maximumAttempts: -1 } }, /MaximumAttempts/],
    ['a negative retry initial interval', { retryPolicy: { initialInterval: { seconds: -1 } } }, /InitialInterval/],
    [
      'a retry maximum interval below the initial one',
      { retryPolicy: { initialInterval: { seconds: 10 }, maximumInterval: { seconds: 1 } } },
      /MaximumInterval/,
    ],
  ])('rejects a start with %s: INVALID_ARGUMENT naming the field', async (_what, overrides, field) => {
    const status = await statusOf(start(overrides));
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toMatch(field);
  });

  it('rejects an input payload over 2 MB with INVALID_ARGUMENT, through WorkflowClient.start', async () => {
    const status = await statusOf(
      env.client.workflow.start('hello', {
        taskQueue: uniqueQueue('big'),
        workflowId: uniqueQueue('big'),
        args: ['x'.repeat(2 * 1024 * 1024 + 1)],
      }),
    );
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toBe('Blob data size exceeds limit.');
  });

  it('rejects a signal payload over 2 MB with INVALID_ARGUMENT and leaves the workflow untouched', async () => {
    const taskQueue = uniqueQueue('big-signal');
    const handle = await env.client.workflow.start('hello', {
      taskQueue,
      workflowId: uniqueQueue('big-signal'),
      args: ['x'],
    });
    const status = await statusOf(handle.signal('anything', 'y'.repeat(2 * 1024 * 1024 + 1)));
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toBe('Blob data size exceeds limit.');
    const history = await handle.fetchHistory();
    expect(history.events!.some((e) => e.workflowExecutionSignaledEventAttributes)).toBe(false);
    await handle.terminate('cleanup');
  });

  it('rejects a retry policy with a coefficient below 1 through WorkflowClient.start', async () => {
    const status = await statusOf(
      env.client.workflow.start('hello', {
        taskQueue: uniqueQueue('retry'),
        workflowId: uniqueQueue('retry'),
        args: ['x'],
        retry: { backoffCoefficient: 0.5 },
      }),
    );
    expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
    expect(status.details).toMatch(/BackoffCoefficient/);
  });

  it('answers an unknown namespace with NOT_FOUND, which the SDK raises as NamespaceNotFoundError', async () => {
    const namespace = `no-such-namespace-${randomUUID()}`;
    const direct = await statusOf(start({ namespace }));
    expect(grpc.status[direct.code]).toBe('NOT_FOUND');
    expect(direct.details).toContain(namespace);

    // WorkflowClient recognises the NamespaceNotFoundFailure detail Temporal attaches (not a missing workflow).
    const client = new Client({ connection: env.connection, namespace });
    const error = await client.workflow.start('hello', { taskQueue: 'q', workflowId: 'w', args: ['x'] }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(NamespaceNotFoundError);
    expect(error).not.toBeInstanceOf(WorkflowNotFoundError);
    expect((error as NamespaceNotFoundError).namespace).toBe(namespace);

    const described = await statusOf(env.connection.workflowService.describeNamespace({ namespace }));
    expect(grpc.status[described.code]).toBe('NOT_FOUND');
    expect(described.details).toContain(namespace);
  });

  mloeOnly('rejects bad task tokens on RespondActivityTaskCompleted', async () => {
    for (const [taskToken, field] of [
      [Buffer.from('not a token'), /task token/i],
      [Buffer.alloc(0), /TaskToken/],
      [
        Buffer.from(JSON.stringify({ kind: 'wft', namespace: 'default', workflowId: 'w', runId: 'r', id: 1 })),
        /task token/i,
      ],
    ] as const) {
      const status = await statusOf(
        env.connection.workflowService.respondActivityTaskCompleted({ namespace: 'default', taskToken }),
      );
      expect(grpc.status[status.code]).toBe('INVALID_ARGUMENT');
      expect(status.details).toMatch(field);
    }
    // A well-formed token for an attempt that does not exist is NOT_FOUND (the SDK's ActivityNotFoundError).
    const stale = Buffer.from(
      JSON.stringify({ kind: 'activity', namespace: 'default', workflowId: 'w', runId: randomUUID(), id: 5, seq: 1 }),
    );
    const status = await statusOf(env.client.activity.complete(stale, 'result'));
    expect(status.error.name).toBe('ActivityNotFoundError');
    // AsyncCompletionClient keeps the server's message for other errors.
    const bad = await statusOf(env.client.activity.complete(Buffer.from('garbage'), 'result'));
    expect(bad.error.name).toBe('ActivityCompletionError');
    expect(bad.error.message).toMatch(/task token/i);
  });
});
