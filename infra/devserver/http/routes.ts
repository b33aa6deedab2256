/**
 * The HTTP route table of Temporal's HTTP API, read at run time from the `google.api.http` annotations (and their
 * `additional_bindings`) of the services in `@temporalio/proto`, never copied by hand: when the SDK's protos gain an
 * RPC, the route comes with them.
 *
 * Path templates follow google/api/http.proto: literal segments, `{field.path}` (one segment) and
 * `{field.path=pattern}` where the pattern may use `*` (one segment) and `**` (the rest of the path). A request path
 * matches the most specific template: at the first segment where two templates differ, a literal wins over `*`,
 * which wins over `**` (so `/workflows/{id}/history` and `/workflows/{id}` never shadow each other).
 */
import type * as protobuf from 'protobufjs';

import { protoRoot } from '../proto';

/** HTTP methods the annotations use. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** One piece of a compiled template. */
type Token = { kind: 'literal'; text: string } | { kind: 'one' } | { kind: 'rest' };

/** A variable: the request field it sets (camelCase path) and the tokens it spans. */
interface Variable {
  fieldPath: string[];
  start: number;
  end: number;
}

/** One HTTP binding of one RPC. */
export interface Route {
  /** Full service name, e.g. `temporal.api.workflowservice.v1.WorkflowService`. */
  service: string;
  /** RPC name, e.g. `DescribeNamespace`. */
  method: string;
  httpMethod: HttpMethod;
  /** The template as annotated, e.g. `/api/v1/namespaces/{namespace}`. */
  template: string;
  /** `"*"` (the whole request is the body), a top-level field name, or undefined (no body: query parameters). */
  body: string | undefined;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  /** Request field paths (camelCase) bound by the path; query parameters for them are ignored. */
  pathFields: string[][];
  tokens: Token[];
  variables: Variable[];
}

/** A binding the table could not take (unsupported template syntax); listed so a test can insist there are none. */
export interface SkippedBinding {
  service: string;
  method: string;
  template: string;
  reason: string;
}

/** The routes of some services, and how to find the one for a request. */
export interface RouteTable {
  routes: readonly Route[];
  skipped: readonly SkippedBinding[];
  /** The route for a method and raw (still percent-encoded) path, with its path variables decoded. */
  match(httpMethod: string, rawPath: string): RouteMatch;
}

/** The outcome of {@link RouteTable.match}. */
export type RouteMatch =
  | { kind: 'found'; route: Route; params: { fieldPath: string[]; value: string }[] }
  | { kind: 'method-not-allowed'; allowed: HttpMethod[] }
  | { kind: 'not-found' }
  | { kind: 'bad-path'; message: string };

/** The services whose annotations make up Temporal's HTTP API. */
export const TEMPORAL_HTTP_SERVICES = [
  'temporal.api.workflowservice.v1.WorkflowService',
  'temporal.api.operatorservice.v1.OperatorService',
] as const;

/** protobufjs' camelCase conversion of proto field names (`workflow_execution` → `workflowExecution`). */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

type HttpRule = Partial<Record<Lowercase<HttpMethod> | 'body', string>> & {
  additional_bindings?: HttpRule | HttpRule[];
};

/** The `google.api.http` rules of a method: the main binding and its additional bindings. */
function httpRules(method: protobuf.Method): HttpRule[] {
  const parsed = (method.parsedOptions ?? []) as Record<string, unknown>[];
  const rules: HttpRule[] = [];
  for (const option of parsed) {
    const rule = option['(google.api.http)'] as HttpRule | undefined;
    if (!rule) continue;
    rules.push(rule);
    const extra = rule.additional_bindings;
    if (extra) rules.push(...(Array.isArray(extra) ? extra : [extra]));
  }
  return rules;
}

/** Compiles a path template; throws with the reason when the syntax is not supported. */
function compile(template: string): { tokens: Token[]; variables: Variable[] } {
  if (!template.startsWith('/')) throw new Error('template does not start with "/"');
  if (/:[^/}]*$/.test(template)) throw new Error('custom verbs (":verb") are not supported');
  const tokens: Token[] = [];
  const variables: Variable[] = [];
  // Split on "/" outside braces.
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of template.slice(1)) {
    if (ch === '{') depth += 1;
    if (ch === '}') depth -= 1;
    if (ch === '/' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  for (const part of parts) {
    const variable = /^\{([A-Za-z0-9_.]+)(?:=([^}]*))?\}$/.exec(part);
    if (!variable) {
      if (/[{}*]/.test(part) || part === '') throw new Error(`unsupported segment "${part}"`);
      tokens.push({ kind: 'literal', text: part });
      continue;
    }
    const start = tokens.length;
    for (const sub of (variable[2] ?? '*').split('/')) {
      if (sub === '*') tokens.push({ kind: 'one' });
      else if (sub === '**') tokens.push({ kind: 'rest' });
      else if (/^[^{}*]+$/.test(sub)) tokens.push({ kind: 'literal', text: sub });
      else throw new Error(`unsupported variable pattern "${variable[2] ?? ''}"`);
    }
    variables.push({ fieldPath: variable[1]!.split('.').map(camelCase), start, end: tokens.length });
  }
  const restAt = tokens.findIndex((t) => t.kind === 'rest');
  if (restAt !== -1 && restAt !== tokens.length - 1) throw new Error('"**" must be the last segment');
  return { tokens, variables };
}

const RANK: Record<Token['kind'], number> = { literal: 0, one: 1, rest: 2 };

/** Orders templates most specific first (see the module comment). */
function bySpecificity(a: Route, b: Route): number {
  const n = Math.min(a.tokens.length, b.tokens.length);
  for (let i = 0; i < n; i += 1) {
    const d = RANK[a.tokens[i]!.kind] - RANK[b.tokens[i]!.kind];
    if (d !== 0) return d;
  }
  return b.tokens.length - a.tokens.length;
}

/** Matches segments against tokens; returns the index ranges of the segments each token took, or undefined. */
function matchTokens(tokens: Token[], segments: string[]): [number, number][] | undefined {
  const spans: [number, number][] = [];
  let at = 0;
  for (const token of tokens) {
    if (token.kind === 'rest') {
      if (at >= segments.length) return undefined;
      spans.push([at, segments.length]);
      at = segments.length;
      continue;
    }
    const segment = segments[at];
    if (segment === undefined) return undefined;
    if (token.kind === 'literal' && segment !== token.text) return undefined;
    spans.push([at, at + 1]);
    at += 1;
  }
  return at === segments.length ? spans : undefined;
}

/**
 * Builds the route table of `services` from their annotations.
 * `includePath` filters the bindings (e.g. only the `/api/v1/` ones, which is what the Web UI calls).
 */
export function buildRouteTable(
  services: readonly string[] = TEMPORAL_HTTP_SERVICES,
  includePath: (template: string) => boolean = () => true,
): RouteTable {
  const routes: Route[] = [];
  const skipped: SkippedBinding[] = [];
  for (const serviceName of services) {
    const service = protoRoot.lookupService(serviceName);
    for (const method of service.methodsArray) {
      method.resolve();
      for (const rule of httpRules(method)) {
        for (const httpMethod of HTTP_METHODS) {
          const template = rule[httpMethod.toLowerCase() as Lowercase<HttpMethod>];
          if (template === undefined || !includePath(template)) continue;
          try {
            const { tokens, variables } = compile(template);
            routes.push({
              service: serviceName,
              method: method.name,
              httpMethod,
              template,
              body: rule.body === '' ? undefined : rule.body,
              requestType: method.resolvedRequestType as protobuf.Type,
              responseType: method.resolvedResponseType as protobuf.Type,
              pathFields: variables.map((v) => v.fieldPath),
              tokens,
              variables,
            });
          } catch (err) {
            skipped.push({ service: serviceName, method: method.name, template, reason: (err as Error).message });
          }
        }
      }
    }
  }
  routes.sort(bySpecificity);
  return { routes, skipped, match: (httpMethod, rawPath) => matchRoute(routes, httpMethod, rawPath) };
}

function matchRoute(routes: readonly Route[], httpMethod: string, rawPath: string): RouteMatch {
  const segments = rawPath.replace(/^\//, '').split('/');
  const decoded = decodeLiterals(segments);
  const allowed = new Set<HttpMethod>();
  for (const route of routes) {
    const spans = matchTokens(route.tokens, decoded);
    if (!spans) continue;
    if (route.httpMethod !== httpMethod) {
      allowed.add(route.httpMethod);
      continue;
    }
    const params: { fieldPath: string[]; value: string }[] = [];
    for (const variable of route.variables) {
      const from = spans[variable.start]![0];
      const to = spans[variable.end - 1]![1];
      const raw = segments.slice(from, to);
      try {
        // One segment: percent-decoded whole ("%2F" is part of the value). Several: "/" stays a separator.
        params.push({ fieldPath: variable.fieldPath, value: raw.map((s) => decodeURIComponent(s)).join('/') });
      } catch {
        return { kind: 'bad-path', message: `malformed percent-encoding in path segment "${raw.join('/')}"` };
      }
    }
    return { kind: 'found', route, params };
  }
  return allowed.size > 0 ? { kind: 'method-not-allowed', allowed: [...allowed] } : { kind: 'not-found' };
}

/** Segments as compared with literals: decoded when possible (a literal never contains "/"). */
function decodeLiterals(segments: string[]): string[] {
  return segments.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
}
