/**
 * Delivery of OpenLineage events: over HTTP (POST of the JSON event), appended to a file (one event per line), to the
 * logger, or nowhere. Lineage is best effort, as in the OpenLineage clients: a failed delivery is a warning in the
 * log and never fails a step or a pipeline. There are no retries; after a failure the emitter drops events for a
 * cool-down period (30 s by default) instead of making every step wait out the timeout of an unreachable backend.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { dirname, resolve } from 'node:path';

import packageJson from '../../package.json';
import { ensureError } from '../../core/errors';
import { redactUrl, type LineageConfig } from './config';
import type { RunEvent } from './openlineage';

/** Where the emitter reports delivery problems; Temporal's activity and runtime loggers and `console` fit. */
export interface LineageLogger {
  warn(message: string, attributes?: Record<string, unknown>): void;
  /** Used by the `console` transport (the events themselves) and to report recovery; optional. */
  info?(message: string, attributes?: Record<string, unknown>): void;
}

/** Sends OpenLineage events somewhere; see {@link createLineageEmitter}. */
export interface LineageEmitter {
  /** False for the no-op emitter: callers may skip building events at all. */
  readonly enabled: boolean;
  /** The job namespace events should use (`OPENLINEAGE_NAMESPACE`). */
  readonly namespace: string;
  /**
   * Delivers one event. Never rejects: failures go to the logger (the one given here, e.g. the activity's, or else
   * the emitter's). Resolves once the event was delivered, dropped or given up on (at most the timeout).
   */
  emit(event: RunEvent, logger?: LineageLogger): Promise<void>;
  /** Waits for deliveries under way and releases connections; later events are dropped. */
  close(): Promise<void>;
}

/** Tuning of {@link createLineageEmitter}; the defaults suit production. */
export interface LineageEmitterOptions {
  /** How long to drop events after a failed delivery (default 30 s; 0 tries every event). */
  failureCooldownMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The default cool-down after a failed delivery. */
export const DEFAULT_FAILURE_COOLDOWN_MS = 30_000;

/**
 * Makes the emitter a configuration asks for: a no-op one when lineage is off or not configured, else one that
 * delivers through the configured transport and reports failures to `logger` as warnings (never the API key).
 */
export function createLineageEmitter(
  config: LineageConfig,
  logger: LineageLogger,
  options: LineageEmitterOptions = {},
): LineageEmitter {
  const { transport } = config;
  switch (transport.type) {
    case 'noop':
      return noopEmitter(config.namespace);
    case 'console':
      return bestEffort(config.namespace, 'the log', logger, options, (_event, body, log) => {
        (log.info ?? log.warn).call(log, body);
        return Promise.resolve();
      });
    case 'file': {
      const path = resolve(transport.path);
      let queue: Promise<void> = Promise.resolve();
      let directoryReady: Promise<unknown> | undefined;
      return bestEffort(config.namespace, path, logger, options, (_event, body) => {
        directoryReady ??= mkdir(dirname(path), { recursive: true }).catch(() => undefined);
        // One append at a time, so lines never interleave within this process; O_APPEND keeps whole lines from
        // several processes apart too.
        const write = queue.then(async () => {
          await directoryReady;
          await appendFile(path, `${body}\n`, { encoding: 'utf8', mode: 0o644 });
        });
        queue = write.catch(() => undefined);
        return write;
      });
    }
    case 'http': {
      const url = new URL(transport.url);
      const agent =
        url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'User-Agent': `mloe/${packageJson.version}`,
        ...(transport.apiKey === undefined ? {} : { Authorization: `Bearer ${transport.apiKey.reveal()}` }),
      };
      const emitter = bestEffort(config.namespace, redactUrl(transport.url), logger, options, (_event, body) =>
        post(url, body, headers, transport.timeoutMs, agent),
      );
      return {
        ...emitter,
        close: async () => {
          await emitter.close();
          agent.destroy();
        },
      };
    }
  }
}

/** An emitter that drops every event. */
export function noopEmitter(namespace = 'mloe'): LineageEmitter {
  return {
    enabled: false,
    namespace,
    emit: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

/** Wraps a transport: serialisation, the cool-down after failures, warnings, and waiting for deliveries on close. */
function bestEffort(
  namespace: string,
  destination: string,
  defaultLogger: LineageLogger,
  options: LineageEmitterOptions,
  send: (event: RunEvent, body: string, logger: LineageLogger) => Promise<void>,
): LineageEmitter {
  const cooldownMs = options.failureCooldownMs ?? DEFAULT_FAILURE_COOLDOWN_MS;
  const now = options.now ?? Date.now;
  const pending = new Set<Promise<void>>();
  let suspendedUntil = 0;
  let dropped = 0;
  let closed = false;

  const deliver = async (event: RunEvent, logger: LineageLogger): Promise<void> => {
    if (closed) return;
    if (now() < suspendedUntil) {
      dropped += 1;
      return;
    }
    const what = `${event.eventType} ${event.job.name}`;
    try {
      await send(event, JSON.stringify(event), logger);
    } catch (error) {
      suspendedUntil = now() + cooldownMs;
      const pause = cooldownMs > 0 ? `; dropping events for ${Math.round(cooldownMs / 1000)} s` : '';
      logger.warn(`OpenLineage event ${what} not delivered to ${destination}: ${ensureError(error).message}${pause}`, {
        destination,
        eventType: event.eventType,
        job: event.job.name,
      });
      return;
    }
    if (dropped > 0) {
      const count = dropped;
      dropped = 0;
      (logger.info ?? logger.warn).call(
        logger,
        `OpenLineage events are delivered to ${destination} again; ${count} were dropped meanwhile`,
        { destination, dropped: count },
      );
    }
  };

  return {
    enabled: true,
    namespace,
    emit(event, logger = defaultLogger) {
      const delivery = deliver(event, logger).catch((error: unknown) => {
        // deliver() handles its own failures; this is a last guard so emit() can never reject.
        defaultLogger.warn(`OpenLineage event not delivered: ${ensureError(error).message}`);
      });
      pending.add(delivery);
      void delivery.finally(() => pending.delete(delivery));
      return delivery;
    },
    async close() {
      closed = true;
      await Promise.allSettled([...pending]);
    },
  };
}

/** POSTs a body and resolves for a 2xx answer; rejects with the status, the network error or the timeout otherwise. */
function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  agent: HttpAgent,
): Promise<void> {
  return new Promise<void>((resolvePost, rejectPost) => {
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) resolvePost();
      else rejectPost(error);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'POST',
      agent,
      headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
    });
    const timer = setTimeout(() => {
      const error = new Error(`no answer within ${timeoutMs} ms`);
      finish(error);
      request.destroy(error);
    }, timeoutMs);
    timer.unref();
    request.on('error', (error) => finish(error));
    request.on('close', () => finish(new Error('the connection closed before an answer')));
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      // The answer's body is not needed; read it so that the connection can be reused.
      response.resume();
      response.on('error', (error) => finish(error));
      response.on('end', () => {
        if (status >= 200 && status < 300) finish();
        else finish(new Error(`HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`));
      });
    });
    request.end(body);
  });
}
