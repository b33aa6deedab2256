/**
 * The HTTP API of `mloe serve` (hono), shaped after MLflow's scoring server: `POST /predict` (also `/invocations`,
 * MLflow's path) takes rows (`requests.ts`) and answers `{ predictions, probabilities?, classes?, model }`, the model
 * being the registered name and version that answered; `GET /health` (the model, its load time, reloads, the last
 * reload error) and `GET /ping` (MLflow's liveness probe); `POST /-/reload` resolves the alias now. A refused request
 * is HTTP 400 with MLflow's error shape (`error_code: BAD_REQUEST`, `message`) and the `field` at fault; a malformed
 * body never takes the server down.
 */
import { Hono } from 'hono';

import { ensureError } from '../../core/errors';
import { TransformInputError } from '../ml/features/transform';
import { predictRecords } from '../ml/models/model';
import type { ModelHolder } from './holder';
import type { RequestLog } from './request-log';
import { RequestError, checkSignature, parseRows } from './requests';

/** Options of {@link createServingApp}. */
export interface ServingAppOptions {
  holder: ModelHolder;
  log?: RequestLog;
}

function badRequest(message: string, field?: string): Response {
  return Response.json(
    { error_code: 'BAD_REQUEST', message, ...(field === undefined ? {} : { field }) },
    { status: 400 },
  );
}

/** The serving API over a model holder. */
export function createServingApp(options: ServingAppOptions): Hono {
  const { holder } = options;
  const app = new Hono();

  const predict = async (request: Request): Promise<Response> => {
    const served = holder.current; // read once: this request finishes on this model whatever reloads meanwhile
    const type = request.headers.get('content-type') ?? '';
    if (!type.includes('json')) return badRequest(`Content-Type must be application/json, got ${JSON.stringify(type)}`);
    let body: unknown;
    try {
      body = await request.json();
    } catch (error) {
      return badRequest(`the body is not JSON: ${ensureError(error).message}`);
    }
    try {
      const rows = parseRows(body);
      if (served.loaded.signature !== undefined) checkSignature(rows, served.loaded.signature);
      const result = predictRecords(served.loaded.model, rows);
      options.log?.record(served.loaded, rows, result.predictions);
      const model = { name: served.loaded.name, version: served.loaded.version, uri: holder.uri };
      return Response.json(
        {
          predictions: result.predictions,
          ...(result.probabilities === undefined
            ? {}
            : { probabilities: result.probabilities, classes: served.loaded.model.classes }),
          model,
        },
        { headers: { 'x-model-name': served.loaded.name, 'x-model-version': served.loaded.version } },
      );
    } catch (error) {
      if (error instanceof RequestError) return badRequest(error.message, error.field);
      if (error instanceof TransformInputError) return badRequest(error.message, error.field);
      throw error;
    }
  };

  app.post('/predict', (c) => predict(c.req.raw));
  app.post('/invocations', (c) => predict(c.req.raw));
  app.get('/ping', (c) => c.text('\n'));
  app.get('/health', (c) => {
    const served = holder.current;
    return c.json({
      status: 'ok',
      model: {
        name: served.loaded.name,
        version: served.loaded.version,
        uri: holder.uri,
        source: served.loaded.source,
      },
      loadedAt: served.loadedAt.toISOString(),
      reloads: holder.reloads,
      ...(holder.lastError === undefined ? {} : { lastReloadError: holder.lastError }),
    });
  });
  app.post('/-/reload', async (c) => {
    const swapped = await holder.refresh();
    return c.json({
      swapped,
      version: holder.current.loaded.version,
      ...(holder.lastError === undefined ? {} : { error: holder.lastError }),
    });
  });
  app.notFound((c) =>
    c.json({ error_code: 'ENDPOINT_NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` }, 404),
  );
  app.onError((error, c) => c.json({ error_code: 'INTERNAL_ERROR', message: ensureError(error).message }, 500));
  return app;
}
