/**
 * The pipeline view against a user's MLflow that requires credentials: `mloe dev` and `mloe server start-dev`, as
 * child processes, given `MLFLOW_TRACKING_URI` and `MLFLOW_TRACKING_USERNAME`/`PASSWORD` (or `MLFLOW_TRACKING_TOKEN`),
 * give the UI's backend exactly the MLflow the worker tracks to. The server is a real HTTP proxy that checks the
 * `Authorization` header and forwards to the suite's embedded MLflow server (which itself has no authentication).
 * Checked: the step runs are found through that server; the browser's link base is the server's URL without
 * credentials; a refused password is a clear error in the view's API and on the page; the secrets appear in no log
 * line and in no HTTP answer to the browser.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';

import { getPipelineStatus, startPipeline } from '../clients/pipelines';
import type { StepRunLink } from '../infra/ui/pipeline-view-api';
import { childEnv, suiteChildren, type MloeChild } from './support/mloe-child';
import { pollUntil } from './support/poll';
import { launchBrowser } from './ui/harness';

const PASSWORD = 'pw-Zq8r3-never-shown';
const TOKEN = 'tok-Kx71-never-shown';
const WRONG_PASSWORD = 'pw-wrong-9Vd2-never-shown';
const UI_LINE = /^UI: (http:\/\/\S+)$/m;

const target = (): string => {
  const uri = process.env.MLFLOW_TEST_TRACKING_URI;
  if (!uri) throw new Error('MLFLOW_TEST_TRACKING_URI is not set: run through jest (its globalSetup starts MLflow)');
  return uri.replace(/\/+$/, '');
};

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A tracking server behind authentication: a proxy that forwards requests with an accepted `Authorization`. */
interface AuthProxy {
  url: string;
  /** The `Authorization` values let through; change it to revoke a credential. */
  accepted: Set<string>;
  /** Requests forwarded, and refused with 401. */
  forwarded: number;
  refused: number;
  close(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function startAuthProxy(upstream: string, accepted: string[]): Promise<AuthProxy> {
  const proxy: Omit<AuthProxy, 'url' | 'close'> = { accepted: new Set(accepted), forwarded: 0, refused: 0 };
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const payload = await body(request);
    if (!proxy.accepted.has(request.headers.authorization ?? '')) {
      proxy.refused += 1;
      // What MLflow's basic-auth app answers an unauthenticated request with.
      response.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Basic realm="mlflow"' });
      response.end('You are not authenticated. Please provide valid credentials.');
      return;
    }
    proxy.forwarded += 1;
    const contentType = request.headers['content-type'];
    const answer = await fetch(`${upstream}${request.url ?? '/'}`, {
      method: request.method ?? 'GET',
      headers: contentType === undefined ? {} : { 'Content-Type': contentType },
      ...(payload.length === 0 ? {} : { body: payload }),
    });
    response.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'application/json' });
    response.end(Buffer.from(await answer.arrayBuffer()));
  };
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(502).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Whether `secret` is in any string of a JSON answer, as is or inside base64 (proto3 JSON payloads are base64). */
function mentions(value: unknown, secret: string): boolean {
  if (typeof value === 'string') {
    return value.includes(secret) || Buffer.from(value, 'base64').toString('utf8').includes(secret);
  }
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value as Record<string, unknown>).some((child) => mentions(child, secret));
}

async function stepRunsAnswer(
  uiUrl: string,
  experimentId: string,
  workflowId: string,
): Promise<{ status: number; text: string }> {
  const answer = await fetch(
    `${uiUrl}/mloe/api/step-runs?${new URLSearchParams({ experimentId, workflowId }).toString()}`,
  );
  return { status: answer.status, text: await answer.text() };
}

const children = suiteChildren('SIGTERM');
let proxy: AuthProxy;
let cwd: string;

beforeAll(async () => {
  proxy = await startAuthProxy(target(), [basic('alice', PASSWORD), `Bearer ${TOKEN}`]);
  cwd = await mkdtemp(join(tmpdir(), 'mloe-ui-mlflow-auth-'));
});

afterAll(async () => {
  await proxy.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('the pipeline view with a user-set MLflow that requires credentials', () => {
  let dev: MloeChild;
  let uiUrl: string;
  let workflowId: string;
  let experimentId: string;
  let runs: StepRunLink[];

  it('mloe dev finds the step runs through that server, links to it without credentials', async () => {
    dev = children(['dev', '--port', '0'], {
      cwd,
      env: childEnv({
        MLFLOW_TRACKING_URI: proxy.url,
        MLFLOW_TRACKING_USERNAME: 'alice',
        MLFLOW_TRACKING_PASSWORD: PASSWORD,
      }),
    });
    const address = (await dev.waitForStdout(/run a pipeline on it: TEMPORAL_ADDRESS=(\S+)/, 120_000))[1] ?? '';
    uiUrl = UI_LINE.exec(dev.stdout)?.[1] ?? '';
    expect(uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dev.stdout).toContain(`MLflow tracking: runs tracked in ${proxy.url} (MLFLOW_TRACKING_URI)`);

    const connection = await Connection.connect({ address });
    try {
      const client = new Client({ connection });
      const run = await startPipeline(client, {
        spec: {
          apiVersion: 'mloe.dev/v1',
          kind: 'Pipeline',
          metadata: { name: 'auth-tracked' },
          steps: {
            hello: { run: { command: ['echo', 'hello'] } },
            world: { run: { command: ['echo', 'world'] }, needs: ['hello'] },
          },
        },
        artifactRoot: cwd,
        workingDir: cwd,
      });
      await run.handle.result();
      workflowId = run.workflowId;
      const status = await getPipelineStatus(client, workflowId);
      expect(status.state).toBe('completed');
      const link = status.mlflow;
      if (link === undefined) throw new Error('the run was not tracked');
      experimentId = link.experimentId;
      // The browser's link base: the tracking server's UI, without the credentials it was configured with.
      expect(link.url).toBe(`${proxy.url}/#/experiments/${experimentId}/runs/${link.runId}`);
    } finally {
      await connection.close();
    }

    const forwardedBefore = proxy.forwarded;
    const answer = await stepRunsAnswer(uiUrl, experimentId, workflowId);
    expect(answer.status).toBe(200);
    runs = (JSON.parse(answer.text) as { runs: StepRunLink[] }).runs;
    expect(runs.map((run) => [run.stepId, run.execution])).toEqual([
      ['hello', `${workflowId}/hello`],
      ['world', `${workflowId}/world`],
    ]);
    expect(proxy.forwarded).toBeGreaterThan(forwardedBefore);
    // The runs exist in the server behind the proxy, tagged as this run's steps.
    for (const run of runs) {
      const got = (await (await fetch(`${target()}/api/2.0/mlflow/runs/get?run_id=${run.runId}`)).json()) as {
        run: { data: { tags: { key: string; value: string }[] } };
      };
      expect(got.run.data.tags).toContainEqual({ key: 'mloe.workflowId', value: workflowId });
    }
  }, 240_000);

  it('never sends the password to the browser', async () => {
    const answers: unknown[] = [];
    for (const path of [
      `/api/v1/namespaces/default/workflows/${workflowId}`,
      `/api/v1/namespaces/default/workflows/${workflowId}/history`,
      `/mloe/api/step-runs?${new URLSearchParams({ experimentId, workflowId }).toString()}`,
    ]) {
      const answer = await fetch(`${uiUrl}${path}`);
      expect(answer.status).toBe(200);
      answers.push(await answer.json());
    }
    for (const answer of answers) {
      expect(mentions(answer, PASSWORD)).toBe(false);
      expect(mentions(answer, basic('alice', PASSWORD).slice('Basic '.length))).toBe(false);
    }
    expect(mentions(answers, workflowId)).toBe(true); // the check sees what it looks for
  });

  it('shows a refused password as a clear error in the view, not a crash', async () => {
    proxy.accepted.delete(basic('alice', PASSWORD)); // the password is revoked on the server
    const answer = await stepRunsAnswer(uiUrl, experimentId, workflowId);
    expect(answer.status).toBe(502);
    const { message } = JSON.parse(answer.text) as { message: string };
    expect(message).toContain(`cannot search MLflow for the step runs: MLflow tracking server ${proxy.url}: `);
    expect(message).toMatch(/UNAUTHENTICATED \(HTTP 401\)/);
    expect(message).toContain('the server refused the password of alice (MLFLOW_TRACKING_PASSWORD');
    expect(answer.text).not.toContain(PASSWORD);

    const browser = await launchBrowser();
    try {
      const { page, errors } = await browser.open();
      await page.goto(
        `${uiUrl}/mloe/pipelines/?${new URLSearchParams({ namespace: 'default', run: workflowId }).toString()}`,
      );
      const shown = page.locator('[data-testid=step-runs-error]');
      await shown.waitFor({ timeout: 30_000 });
      expect(await shown.textContent()).toMatch(/No MLflow links: .*UNAUTHENTICATED \(HTTP 401\)/);
      // The rest of the run is still shown; the only console error is the refused request itself.
      expect(await page.locator('tr[data-step=world]').count()).toBe(1);
      expect(await page.locator('[data-testid=step-mlflow-link]').count()).toBe(0);
      expect(errors.every((error) => /502/.test(error))).toBe(true);
      expect(await page.content()).not.toContain(PASSWORD);
    } finally {
      await browser.close();
    }
    proxy.accepted.add(basic('alice', PASSWORD));
  }, 120_000);

  it('writes the password in no log line', async () => {
    await dev.stop('SIGTERM');
    expect(dev.output).toContain('MLflow tracking');
    expect(dev.output).not.toContain(PASSWORD);
    expect(dev.output).not.toContain(basic('alice', PASSWORD).slice('Basic '.length));
  }, 60_000);

  it('mloe server start-dev reads the same variables: a token or URI credentials find the runs, a wrong password says so', async () => {
    const startDev = async (extra: Record<string, string>): Promise<MloeChild> => {
      const child = children(['server', 'start-dev', '--port', '0'], {
        cwd,
        env: childEnv({ MLFLOW_TRACKING_URI: proxy.url, ...extra }),
      });
      await child.waitForStdout(UI_LINE, 60_000);
      return child;
    };
    const withToken = await startDev({ MLFLOW_TRACKING_TOKEN: TOKEN });
    const tokenUi = UI_LINE.exec(withToken.stdout)?.[1] ?? '';
    const found = await stepRunsAnswer(tokenUi, experimentId, workflowId);
    expect(found.status).toBe(200);
    expect((JSON.parse(found.text) as { runs: StepRunLink[] }).runs).toEqual(runs);
    expect(found.text).not.toContain(TOKEN);
    await withToken.stop('SIGTERM');
    expect(withToken.output).not.toContain(TOKEN);

    // Credentials in the URI, as MLflow's clients also take them.
    const inUri = children(['server', 'start-dev', '--port', '0'], {
      cwd,
      env: childEnv({ MLFLOW_TRACKING_URI: proxy.url.replace('http://', `http://alice:${PASSWORD}@`) }),
    });
    await inUri.waitForStdout(UI_LINE, 60_000);
    const fromUri = await stepRunsAnswer(UI_LINE.exec(inUri.stdout)?.[1] ?? '', experimentId, workflowId);
    expect(fromUri.status).toBe(200);
    expect((JSON.parse(fromUri.text) as { runs: StepRunLink[] }).runs).toEqual(runs);
    await inUri.stop('SIGTERM');
    expect(inUri.output).not.toContain(PASSWORD);

    const wrong = await startDev({ MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: WRONG_PASSWORD });
    const wrongUi = UI_LINE.exec(wrong.stdout)?.[1] ?? '';
    const refused = await stepRunsAnswer(wrongUi, experimentId, workflowId);
    expect(refused.status).toBe(502);
    expect(refused.text).toMatch(/UNAUTHENTICATED \(HTTP 401\).*the server refused the password of alice/);
    expect(refused.text).not.toContain(WRONG_PASSWORD);
    await wrong.stop('SIGTERM');
    expect(wrong.output).not.toContain(WRONG_PASSWORD);
  }, 120_000);

  it('mloe server start-dev warns about a bad MLflow setting and still starts', async () => {
    const child = children(['server', 'start-dev', '--port', '0'], {
      cwd,
      env: childEnv({ MLFLOW_TRACKING_URI: 'file:./mlruns' }),
    });
    await child.waitForStdout(UI_LINE, 60_000);
    await pollUntil('the warning', () => child.stderr.includes('the pipeline view shows no MLflow step runs'));
    expect(child.stderr).toMatch(
      /warning: the pipeline view shows no MLflow step runs: unsupported MLFLOW_TRACKING_URI/,
    );
    await child.stop('SIGTERM');
  }, 60_000);
});
