/**
 * `infra/http-listen.ts`, what the embedded HTTP servers share about their socket: binding (port 0, the listen error
 * passed on as it came) and closing gracefully, answering the requests in flight or, with `inFlight: 'end'` (the
 * dev server's HTTP API, whose long polls wait on the engine), ending them. Real sockets, real requests.
 */
import { request } from 'node:http';

import { bracketHost, gracefulServer, listen, type GracefulServerOptions } from '../infra/http-listen';

/** A server whose handler holds each request until `release` and says when one arrived. */
function holdingServer(options?: GracefulServerOptions) {
  let arrived: () => void = () => undefined;
  const received = new Promise<void>((resolve) => (arrived = resolve));
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const http = gracefulServer(async (_request, response) => {
    arrived();
    await released;
    if (!response.destroyed) response.end('answered');
  }, options);
  return { http, received, release };
}

/** A GET to `port` that resolves with the answer's `Connection` header and body, or rejects with the socket error. */
function get(port: number): Promise<{ connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path: '/', agent: false }, (answer) => {
      let body = '';
      answer.setEncoding('utf8');
      answer.on('data', (chunk: string) => (body += chunk));
      answer.on('end', () => resolve({ connection: answer.headers.connection, body }));
      answer.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('listen', () => {
  it('binds port 0 to a free port and passes a taken port on as EADDRINUSE', async () => {
    const first = gracefulServer((_request, response) => response.end('ok'));
    const port = await listen(first.server, 0, '127.0.0.1');
    try {
      expect(port).toBeGreaterThan(0);
      expect((await get(port)).body).toBe('ok');
      const second = gracefulServer((_request, response) => response.end());
      await expect(listen(second.server, port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
  });

  it('puts an IPv6 host in brackets for a URL', () => {
    expect(bracketHost('::1')).toBe('[::1]');
    expect(bracketHost('[::1]')).toBe('[::1]');
    expect(bracketHost('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('gracefulServer', () => {
  it('answers a request in flight when closed, with Connection: close, and then closes', async () => {
    const { http, received, release } = holdingServer();
    const port = await listen(http.server, 0, '127.0.0.1');
    const answer = get(port);
    await received;
    const closed = http.close();
    expect(http.close()).toBe(closed);
    release();
    expect(await answer).toEqual({ connection: 'close', body: 'answered' });
    await closed;
    await expect(get(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it("with inFlight: 'end', ends a request in flight instead of waiting for its answer", async () => {
    const { http, received, release } = holdingServer({ inFlight: 'end' });
    const port = await listen(http.server, 0, '127.0.0.1');
    const answer = get(port);
    await received;
    await http.close(); // resolves although the handler has not answered
    await expect(answer).rejects.toMatchObject({ code: 'ECONNRESET' });
    release();
  });
});
