/**
 * Webhook notifications with a real worker on the jest dev server and a local HTTP receiver: a failed run posts
 * `mloe.run.failed` with links, signed the Standard Webhooks way (checked here with the published test vector and
 * by verifying each request independently), retried with backoff under the same `webhook-id`; a receiver that fails,
 * hangs or cannot be reached, or a secret the worker lacks, never changes how the run ends nor holds it up; a spec
 * whose webhooks want other events sends nothing; and bad `notifications:` blocks are refused with the field's path.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Client, WorkflowHandle } from '@temporalio/client';

import { webhookSignature } from '../activities/notifications';
import { BUILTIN_IMPLEMENTATIONS, createStepImplementations, type StepImplementations } from '../activities/steps';
import { startPipeline, waitForPipeline } from '../clients/pipelines';
import { MloeError } from '../core/errors';
import type { DeliveryOutcome, NotificationMessage } from '../workflows/notification-types';
import { startPipelineTestWorker, type PipelineTestWorker } from './pipeline-harness';
import { pollUntil } from './support/poll';

jest.setTimeout(180_000);

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const UI = 'http://127.0.0.1:8233';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver whose answers per path are scripted: a status code, or `hang` (never answers until closed). */
class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, (number | 'hang')[]>();
  private readonly hanging: ServerResponse[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '/';
        this.received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        const answer = this.scripts.get(path)?.shift() ?? 204;
        if (answer === 'hang') this.hanging.push(response);
        else response.writeHead(answer).end();
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  script(path: string, answers: (number | 'hang')[]): void {
    this.scripts.set(path, answers);
  }

  at(path: string): Received[] {
    return this.received.filter((request) => request.path === path);
  }

  async stop(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** Verifies a request as a receiver would: Standard Webhooks, written from the spec here, not with our signer. */
function verified(request: Received, secret: string): boolean {
  const id = String(request.headers['webhook-id']);
  const timestamp = String(request.headers['webhook-timestamp']);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest('base64'));
  return String(request.headers['webhook-signature'])
    .split(' ')
    .some((entry) => {
      const [version, signature = ''] = entry.split(',');
      const given = Buffer.from(signature);
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

const steps: StepImplementations = createStepImplementations(BUILTIN_IMPLEMENTATIONS, [
  {
    descriptor: { name: 'boom', version: '1', inputs: {}, outputs: {} },
    async run() {
      throw new MloeError('DATA_INVALID', 'the data is bad');
    },
  },
  {
    descriptor: { name: 'fine', version: '1', inputs: {}, outputs: {} },
    async run() {
      return { outputs: {} };
    },
  },
]);

describe('signatures', () => {
  it('reproduce the Standard Webhooks test vector', () => {
    expect(
      webhookSignature(
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        1614265330,
        '{"test": 2432232314}',
      ),
    ).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});

describe('webhook notifications', () => {
  let worker: PipelineTestWorker;
  let client: Client;
  let root: string;
  const receiver = new Receiver();
  const taskQueue = `mloe-notifications-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mloe-notifications-'));
    await receiver.start();
    worker = await startPipelineTestWorker({
      taskQueue,
      steps,
      notifications: { secrets: { MLOE_WEBHOOK_SECRET_TEST: SECRET }, temporalUiUrl: UI },
    });
    client = worker.env.client;
  });

  afterAll(async () => {
    await worker?.stop();
    await receiver.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const start = (name: string, uses: string, notifications: unknown) =>
    startPipeline(client, {
      spec: {
        apiVersion: 'mloe.dev/v1',
        kind: 'Pipeline',
        metadata: { name },
        steps: { work: { uses } },
        notifications,
      },
      taskQueue,
      artifactRoot: root,
      workingDir: root,
      descriptors: steps.descriptors,
    });

  /** The outcome of the run's notification child (`<run>-notify-<event>-1`). */
  const deliveries = async (runId: string, event: string): Promise<DeliveryOutcome[]> => {
    const handle: WorkflowHandle = client.workflow.getHandle(`${runId}-notify-${event}-1`);
    return (await handle.result()) as DeliveryOutcome[];
  };

  it('posts a signed run.failed with links, retried with backoff under one webhook-id', async () => {
    receiver.script('/failed', [500, 503]);
    const run = await start('notified', 'boom@1', {
      webhooks: [
        {
          url: `${receiver.url}/failed`,
          events: ['run.failed'],
          secret: { env: 'MLOE_WEBHOOK_SECRET_TEST' },
          maxAttempts: 4,
        },
      ],
    });
    const outcome = await waitForPipeline(run.handle);
    expect(outcome.status.state).toBe('failed');
    expect(outcome.status.error).toMatch(/the data is bad/);

    const requests = await pollUntil(
      'three attempts',
      () => receiver.at('/failed').length >= 3 && receiver.at('/failed'),
      {
        timeoutMs: 60_000,
      },
    );
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((request) => request.headers['webhook-id'])).size).toBe(1);
    expect(String(requests[0]?.headers['webhook-id'])).toBe(`${run.workflowId}-notify-run-failed-1-0`);
    for (const request of requests) {
      expect(request.headers['content-type']).toBe('application/json');
      expect(verified(request, SECRET)).toBe(true);
      expect(verified(request, `whsec_${randomBytes(24).toString('base64')}`)).toBe(false);
    }
    // Backoff: the attempts are spread out (1 s, then 2 s, by the retry policy), each signed at its own time.
    const times = requests.map((request) => Number(request.headers['webhook-timestamp']));
    expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(2);

    const message = JSON.parse(requests[0]?.body ?? '{}') as NotificationMessage;
    expect(message).toMatchObject({
      type: 'mloe.run.failed',
      data: {
        pipeline: 'notified',
        workflowId: run.workflowId,
        failedSteps: [{ id: 'work' }],
      },
      links: { run: { namespace: 'default', workflowId: run.workflowId } },
    });
    expect(JSON.stringify(message.data.failedSteps)).toContain('the data is bad');
    expect(message.links.temporalUi).toMatch(
      new RegExp(`^${UI}/namespaces/default/workflows/${run.workflowId}/[0-9a-f-]+/history$`),
    );
    expect(Date.parse(message.timestamp)).not.toBeNaN();
    expect(await deliveries(run.workflowId, 'run-failed')).toEqual([
      { url: `${receiver.url}/failed`, delivered: true, status: 204 },
    ]);
    // The secret is in no request and no history: only the variable's name is.
    const history = JSON.stringify(await run.handle.fetchHistory());
    expect(history).not.toContain(SECRET.slice('whsec_'.length));
    expect(requests.some((request) => request.body.includes(SECRET.slice('whsec_'.length)))).toBe(false);
  });

  it('never lets a failing, hanging or unreachable receiver, or a missing secret, change or hold up the run', async () => {
    receiver.script('/down', [500, 500]);
    receiver.script('/hang', ['hang']);
    receiver.script('/gone', [410]);
    const run = await start('unlucky', 'boom@1', {
      webhooks: [
        { url: `${receiver.url}/down`, events: ['run.failed'], maxAttempts: 2 },
        { url: `${receiver.url}/hang`, events: ['run.failed'], maxAttempts: 1 },
        { url: `${receiver.url}/gone`, events: ['run.failed'] },
        { url: 'http://127.0.0.1:1/closed', events: ['run.failed'], maxAttempts: 2 },
        { url: `${receiver.url}/unsigned`, events: ['run.failed'], secret: { env: 'MLOE_WEBHOOK_SECRET_NOT_SET' } },
      ],
    });
    // The run ends as its steps say while the hanging receiver still holds its request.
    const outcome = await waitForPipeline(run.handle);
    expect(outcome.status.state).toBe('failed');
    expect(outcome.status.error).toMatch(/the data is bad/);
    const outcomes = await deliveries(run.workflowId, 'run-failed');
    const expected: [string, RegExp][] = [
      [`${receiver.url}/down`, /answered HTTP 500/],
      [`${receiver.url}/hang`, /did not answer/],
      // A 4xx other than 408/429 is not retried: one request.
      [`${receiver.url}/gone`, /answered HTTP 410/],
      ['http://127.0.0.1:1/closed', /did not answer/],
      [`${receiver.url}/unsigned`, /MLOE_WEBHOOK_SECRET_NOT_SET, which this worker's environment does not set/],
    ];
    expect(outcomes.map((one) => [one.url, one.delivered])).toEqual(expected.map(([url]) => [url, false]));
    for (const [index, [, error]] of expected.entries()) expect(outcomes[index]?.error).toMatch(error);
    expect(receiver.at('/down')).toHaveLength(2);
    expect(receiver.at('/gone')).toHaveLength(1);
    expect(receiver.at('/unsigned')).toHaveLength(0);
  });

  it('sends nothing for events no webhook wants, and nothing for a run that succeeds', async () => {
    const before = receiver.received.length;
    const failed = await start('other-events', 'boom@1', {
      webhooks: [{ url: `${receiver.url}/promoted`, events: ['model.promoted'] }],
    });
    const succeeded = await start('fine', 'fine@1', {
      webhooks: [{ url: `${receiver.url}/fine`, events: ['run.failed'] }],
    });
    expect((await waitForPipeline(failed.handle)).status.state).toBe('failed');
    expect((await waitForPipeline(succeeded.handle)).status.state).toBe('completed');
    for (const run of [failed, succeeded]) {
      const events = (await run.handle.fetchHistory()).events ?? [];
      expect(events.some((event) => event.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
    }
    expect(receiver.received.length).toBe(before);
  });

  it('refuses bad notifications blocks with the field and the fix', async () => {
    const refused = (notifications: unknown) => start('refused', 'fine@1', notifications);
    await expect(refused({ webhooks: [{ url: 'ftp://x/', events: ['run.failed'] }] })).rejects.toThrow(
      /notifications\.webhooks\[0\]\.url.*http\(s\) URL/s,
    );
    await expect(refused({ webhooks: [{ url: 'https://x/', events: ['run.exploded'] }] })).rejects.toThrow(
      /events\[0\].*"run\.failed", "approval\.needed", "model\.promoted", "drift\.detected"/s,
    );
    await expect(
      refused({ webhooks: [{ url: 'https://x/', events: ['run.failed'], secret: { env: 'AWS_SECRET_ACCESS_KEY' } }] }),
    ).rejects.toThrow(/MLOE_WEBHOOK_SECRET or MLOE_WEBHOOK_SECRET_<NAME>/);
    await expect(
      refused({ webhooks: [{ url: 'https://x/', events: ['run.failed'], secret: 'hunter2' }] }),
    ).rejects.toMatchObject({ code: 'SPEC_INVALID' });
  });
});
