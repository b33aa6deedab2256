/**
 * The artifact proxy (`mlflow_artifacts.proto`): `GET|PUT|DELETE /api/2.0/mlflow-artifacts/artifacts/<path>` to
 * download, upload (streamed, never buffered whole) and delete, `GET /api/2.0/mlflow-artifacts/artifacts?path=<dir>`
 * to list a directory (names relative to it). Paths are checked before any storage is touched.
 */
import { posix } from 'node:path';
import { Readable } from 'node:stream';

import type { Context, Hono } from 'hono';

import { guessMimeType } from '../artifacts/mime';
import { validateArtifactPath } from '../artifacts/paths';
import type { MlflowBackend } from '../backend';
import { doesNotExist, MlflowError } from '../errors';
import { ARTIFACTS_ROUTE } from '../uris';
import { listField } from './routes';

function decodePath(raw: string): string {
  return raw.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** The artifact path of a request to `<route>/<path>`, decoded once and checked. */
/** The proxy's route under both prefixes MLflow serves every service at (the second is what its web UI calls). */
const ARTIFACTS_ROUTES = [ARTIFACTS_ROUTE, ARTIFACTS_ROUTE.replace(/^\/api\//, '/ajax-api/')] as const;

function artifactPathOf(c: Context, route: string): string {
  const { pathname } = new URL(c.req.url);
  return validateArtifactPath(decodePath(pathname.slice(route.length + 1)));
}

/**
 * Adds the proxy's routes to `app`; `settled` is awaited before answering (see the database's group commit), and
 * `methodNotAllowed` answers other methods.
 */
export function registerArtifactRoutes(
  app: Hono,
  backend: MlflowBackend,
  methodNotAllowed: (c: Context, allowed: readonly string[]) => Response,
): void {
  const repository = backend.artifacts;
  const requireServing = (c: Context): void => {
    if (!backend.config.serveArtifacts) {
      throw new MlflowError(
        'TEMPORARILY_UNAVAILABLE',
        `Endpoint: ${new URL(c.req.url).pathname} disabled due to the mlflow server running with ` +
          '`--no-serve-artifacts`. To enable artifacts server functionality, run `mlflow server` with ' +
          '`--serve-artifacts`',
      );
    }
  };

  for (const route of ARTIFACTS_ROUTES) {
    app.all(route, async (c) => {
      if (c.req.method !== 'GET') return methodNotAllowed(c, ['GET']);
      requireServing(c);
      const path = validateArtifactPath(new URL(c.req.url).searchParams.get('path') ?? '', true);
      const files = (await repository.list(path)).map((info) => ({
        path: info.name,
        is_dir: info.isDir,
        ...(info.isDir || info.size === undefined || info.size === 0 ? {} : { file_size: info.size }),
      }));
      return c.json(listField('files', files));
    });

    app.all(`${route}/*`, async (c) => {
      const method = c.req.method;
      if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') {
        return methodNotAllowed(c, ['GET', 'PUT', 'DELETE']);
      }
      requireServing(c);
      const path = artifactPathOf(c, route);
      if (method === 'PUT') {
        const body = c.req.raw.body;
        await repository.put(path, body === null ? Readable.from([]) : Readable.fromWeb(body));
        return c.json({});
      }
      if (method === 'DELETE') {
        await repository.delete(path);
        return c.json({});
      }
      const file = await repository.get(path);
      if (file === undefined) throw doesNotExist(`No such file or directory: '${path}'`);
      const name = posix.basename(path);
      return new Response(Readable.toWeb(file.body), {
        status: 200,
        headers: {
          'Content-Type': guessMimeType(name),
          'Content-Length': String(file.size),
          'Content-Disposition': `attachment; filename=${encodeURIComponent(name)}`,
          'X-Content-Type-Options': 'nosniff',
        },
      });
    });
  }
}
