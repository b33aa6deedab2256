/**
 * The HTTP API's guards, closed by default:
 * - Host check (as Temporal's `frontend.httpAllowedHosts`): on a loopback bind only loopback host names are served,
 *   so a DNS-rebinding page cannot read or act through the user's browser.
 * - CORS: no `Access-Control-Allow-Origin` unless origins are configured (as the UI server's `cors.allowOrigins`).
 * - Actions (POST, PUT, PATCH, DELETE) from a browser page of another origin are refused, whether or not the
 *   browser would let the page read the answer: the `Origin` must be the server's own or a configured one (a
 *   request without `Origin` is refused when `Sec-Fetch-Site` says another site sent it; non-browser clients, which
 *   send neither, are served). Behind a reverse proxy, the public host in `X-Forwarded-Host` counts as the server's.
 */
import { status as Code } from '@grpc/grpc-js';
import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

import { RpcError } from '../errors';
import { errorResponse } from './errors';

/** Security settings of the HTTP API. */
export interface HttpSecurityOptions {
  /** Origins (e.g. `https://tools.example.com`) allowed cross-origin reads and actions. Default: none. */
  corsOrigins?: readonly string[];
  /**
   * Host names (without port) the API answers for, or `'any'`. Default: the loopback names (`localhost`,
   * `*.localhost`, `127.0.0.1`, `[::1]`); use {@link defaultAllowedHosts} with the bind address.
   */
  allowedHosts?: readonly string[] | 'any';
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The hosts to allow for a server bound to `ip`: loopback names on a loopback address, any host otherwise. */
export function defaultAllowedHosts(ip: string): readonly string[] | 'any' {
  const loopback = ip === 'localhost' || ip === '::1' || /^127\./.test(ip);
  return loopback ? [...LOOPBACK_HOSTS, ...(LOOPBACK_HOSTS.includes(ip) ? [] : [ip])] : 'any';
}

/** The host name of a `Host` header, lower-cased, without the port (IPv6 keeps its brackets). */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function refuse(c: Context, message: string): Response {
  const { status, body } = errorResponse(new RpcError(Code.PERMISSION_DENIED, message));
  return c.json(body, status as 403);
}

/** The Host check, CORS and the cross-origin action guard, as hono middleware (in that order). */
export function securityMiddleware(options: HttpSecurityOptions): MiddlewareHandler[] {
  const allowedHosts = options.allowedHosts ?? LOOPBACK_HOSTS;
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const hostAllowed = (host: string): boolean => {
    if (allowedHosts === 'any') return true;
    const name = hostName(host);
    return (
      allowedHosts.some((h) => h.toLowerCase() === name) ||
      (name.endsWith('.localhost') && allowedHosts.includes('localhost'))
    );
  };
  const middleware: MiddlewareHandler[] = [
    async (c, next) => {
      const host = c.req.header('host') ?? new URL(c.req.url).host;
      if (!hostAllowed(host)) {
        return refuse(
          c,
          `Host not allowed: "${hostName(host)}" (the server answers for ${describeHosts(allowedHosts)})`,
        );
      }
      return next();
    },
  ];
  if (corsOrigins.size > 0) {
    middleware.push(
      cors({
        origin: (origin) => (corsOrigins.has(origin) ? origin : null),
        allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        allowHeaders: [
          'Origin',
          'Content-Type',
          'Accept',
          'X-CSRF-Token',
          'Authorization',
          'Authorization-Extras',
          'Caller-Type',
        ],
        credentials: true,
        maxAge: 600,
      }),
    );
  }
  middleware.push(async (c, next) => {
    if (UNSAFE_METHODS.has(c.req.method)) {
      const origin = c.req.header('origin');
      const host = c.req.header('host') ?? new URL(c.req.url).host;
      if (origin !== undefined) {
        // Behind a proxy the public host arrives in X-Forwarded-Host (a page cannot set that header on a request
        // it sends without a preflight, which CORS refuses; and the Host check above stands either way).
        const forwarded = c.req.header('x-forwarded-host')?.split(',')[0];
        const own = sameOrigin(origin, host) || (forwarded !== undefined && sameOrigin(origin, forwarded));
        if (!own && !corsOrigins.has(origin)) {
          return refuse(
            c,
            `cross-origin ${c.req.method} refused: Origin "${origin}" is neither this server nor an allowed origin ` +
              '(allow it with --http-cors-origins)',
          );
        }
      } else {
        const site = c.req.header('sec-fetch-site');
        if (site === 'cross-site' || site === 'same-site') {
          return refuse(
            c,
            `cross-origin ${c.req.method} refused: the request came from another site (Sec-Fetch-Site: ${site})`,
          );
        }
      }
    }
    return next();
  });
  return middleware;
}

function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === host.trim().toLowerCase();
  } catch {
    return false;
  }
}

function describeHosts(allowed: readonly string[] | 'any'): string {
  return allowed === 'any' ? 'any host' : allowed.join(', ');
}
