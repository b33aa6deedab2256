/**
 * The Kubernetes API test server: the subset of the REST API the Job executor uses, over HTTP on 127.0.0.1 —
 * batch/v1 jobs (create, get, list, delete with `propagationPolicy`, watch) and core/v1 pods (get, list, watch, log
 * with `follow`), label selectors, `resourceVersion` and watch streams, and errors as `Status` objects (`AlreadyExists`
 * 409, `NotFound` 404, `Invalid` 422, `BadRequest` 400, `Expired` 410) as the API reference gives them. Behind it a
 * simulated cluster (`./cluster.ts`) runs the pods. It is a contract-test double, not a Kubernetes: no scheduling,
 * no quotas, no admission, no auth (any bearer token is accepted).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { SimulatedCluster, type ClusterStats } from './cluster';
import { ObjectStore, parseLabelSelector, type KubeObject, type Resource } from './objects';

/** Options of {@link startKubernetesTestServer}. */
export interface KubernetesTestServerOptions {
  /** 0 (the default) for a free port. */
  port?: number;
  /** 127.0.0.1 by default. */
  host?: string;
  /**
   * Answer lists across all namespaces with 403 Forbidden, as for a service account whose Role grants namespaced
   * access only (the RBAC check is all the server plays: it authenticates nobody).
   */
  forbidClusterWideLists?: boolean;
}

/** A running test server. */
export interface KubernetesTestServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  store: ObjectStore;
  cluster: SimulatedCluster;
  stats: ClusterStats;
  /** A kubeconfig (YAML) whose current context is this server. */
  kubeconfig(namespace?: string): string;
  close(): Promise<void>;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A `Status` failure object, as the API server answers errors. */
export function statusFailure(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

const RESOURCE_INFO: Record<Resource, { group: string; qualified: string; kind: string; apiVersion: string }> = {
  jobs: { group: 'batch', qualified: 'jobs.batch', kind: 'Job', apiVersion: 'batch/v1' },
  pods: { group: '', qualified: 'pods', kind: 'Pod', apiVersion: 'v1' },
};

function notFound(resource: Resource, name: string): Record<string, unknown> {
  const info = RESOURCE_INFO[resource];
  return statusFailure(404, 'NotFound', `${info.qualified} "${name}" not found`, {
    name,
    ...(info.group === '' ? {} : { group: info.group }),
    kind: resource,
  });
}

function send(response: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

async function readBody(request: IncomingMessage, limit = 3 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) throw new Error('request entity too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A namespaced path, or a cluster-wide list or watch (`/apis/batch/v1/jobs`, no namespace and no name). */
const ROUTE = /^\/(?:apis\/batch\/v1|api\/v1)(?:\/namespaces\/([a-z0-9-]+))?\/(jobs|pods)(?:\/([^/]+))?(?:\/(log))?$/;

/** Starts the server and its simulated cluster. */
export async function startKubernetesTestServer(
  options: KubernetesTestServerOptions = {},
): Promise<KubernetesTestServer> {
  const store = new ObjectStore();
  const cluster = new SimulatedCluster(store);
  const watches = new Set<ServerResponse>();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const match = ROUTE.exec(url.pathname);
    const resource = match?.[2] as Resource | undefined;
    if (match === null || resource === undefined) {
      send(response, 404, statusFailure(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const isBatch = url.pathname.startsWith('/apis/batch/v1/');
    if ((resource === 'jobs') !== isBatch) {
      send(response, 404, statusFailure(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const name = match[3] === undefined ? undefined : decodeURIComponent(match[3]);
    const method = request.method ?? 'GET';
    if (match[1] === undefined) {
      // Across all namespaces only lists and watches exist.
      if (name === undefined && match[4] === undefined && method === 'GET' && options.forbidClusterWideLists === true) {
        const group = resource === 'jobs' ? '"batch"' : '""';
        send(
          response,
          403,
          statusFailure(
            403,
            'Forbidden',
            `${resource}${resource === 'jobs' ? '.batch' : ''} is forbidden: User "system:serviceaccount:mloe:worker" cannot list resource "${resource}" in API group ${group} at the cluster scope`,
            { group: resource === 'jobs' ? 'batch' : '', kind: resource },
          ),
        );
        return;
      }
      if (name === undefined && match[4] === undefined && method === 'GET') {
        return list(request, response, url, resource, undefined);
      }
      send(response, 404, statusFailure(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const namespace = match[1];

    if (match[4] === 'log') {
      if (resource !== 'pods' || name === undefined || method !== 'GET') {
        send(
          response,
          405,
          statusFailure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        );
        return;
      }
      servePodLog(response, url, namespace, name);
      return;
    }
    if (name === undefined) {
      if (method === 'POST' && resource === 'jobs') return createJob(request, response, namespace);
      if (method === 'GET') return list(request, response, url, resource, namespace);
    } else {
      if (method === 'GET') {
        const object = store.get(resource, namespace, name);
        send(response, object === undefined ? 404 : 200, object ?? notFound(resource, name));
        return;
      }
      if (method === 'DELETE') return remove(request, response, url, resource, namespace, name);
    }
    send(
      response,
      405,
      statusFailure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
    );
  };

  async function createJob(request: IncomingMessage, response: ServerResponse, namespace: string): Promise<void> {
    let job: KubeObject;
    try {
      job = JSON.parse(await readBody(request)) as KubeObject;
    } catch (error) {
      send(
        response,
        400,
        statusFailure(400, 'BadRequest', `the request body is not valid JSON: ${(error as Error).message}`),
      );
      return;
    }
    const name = job?.metadata?.name;
    const causes: { reason: string; message: string; field: string }[] = [];
    if (typeof name !== 'string' || name.length > 63 || !DNS_SUBDOMAIN.test(name)) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        field: 'metadata.name',
      });
    }
    const containers = (job?.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined)?.template?.spec
      ?.containers;
    if (!Array.isArray(containers) || containers.length === 0) {
      causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.template.spec.containers' });
    }
    const restartPolicy = (job?.spec as { template?: { spec?: { restartPolicy?: string } } } | undefined)?.template
      ?.spec?.restartPolicy;
    if (restartPolicy !== 'Never' && restartPolicy !== 'OnFailure') {
      causes.push({
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${JSON.stringify(restartPolicy ?? '')}: supported values: "OnFailure", "Never"`,
        field: 'spec.template.spec.restartPolicy',
      });
    }
    if (causes.length > 0) {
      send(
        response,
        422,
        statusFailure(
          422,
          'Invalid',
          `Job.batch ${JSON.stringify(String(name))} is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
          { name: String(name), group: 'batch', kind: 'Job', causes },
        ),
      );
      return;
    }
    const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, ...metadata } = job.metadata;
    const object: KubeObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { ...metadata, name: name, namespace, uid: '', resourceVersion: '', creationTimestamp: '' },
      spec: { backoffLimit: 6, completions: 1, parallelism: 1, ...job.spec },
      status: {},
    };
    if (!store.create('jobs', object)) {
      cluster.stats.jobConflicts += 1;
      send(
        response,
        409,
        statusFailure(409, 'AlreadyExists', `jobs.batch "${name}" already exists`, {
          name,
          group: 'batch',
          kind: 'jobs',
        }),
      );
      return;
    }
    cluster.jobCreated(object);
    send(response, 201, store.get('jobs', namespace, name));
  }

  function list(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    resource: Resource,
    namespace: string | undefined,
  ): void {
    let selector;
    try {
      selector = parseLabelSelector(url.searchParams.get('labelSelector'));
    } catch (error) {
      send(response, 400, statusFailure(400, 'BadRequest', (error as Error).message));
      return;
    }
    const watch = url.searchParams.get('watch');
    if (watch !== 'true' && watch !== '1') {
      const info = RESOURCE_INFO[resource];
      send(response, 200, {
        apiVersion: info.apiVersion,
        kind: `${info.kind}List`,
        metadata: { resourceVersion: store.resourceVersion },
        items: store.list(resource, namespace, selector),
      });
      return;
    }
    const from = url.searchParams.get('resourceVersion');
    const matches = (object: KubeObject): boolean =>
      (namespace === undefined || object.metadata.namespace === namespace) && selector(object.metadata.labels);
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    const write = (event: unknown): void => {
      if (!response.writableEnded && !response.destroyed) response.write(`${JSON.stringify(event)}\n`);
    };
    let backlog: { type: string; object: KubeObject }[] | undefined;
    if (from === null || from === '' || from === '0') {
      backlog = store.list(resource, namespace, selector).map((object) => ({ type: 'ADDED', object }));
    } else {
      const version = Number(from);
      backlog = Number.isSafeInteger(version)
        ? store.since(resource, version)?.filter((event) => matches(event.object))
        : undefined;
      if (backlog === undefined) {
        write({
          type: 'ERROR',
          object: statusFailure(410, 'Expired', `too old resource version: ${from} (${store.resourceVersion})`),
        });
        response.end();
        return;
      }
    }
    backlog.forEach(write);
    watches.add(response);
    const unsubscribe = store.subscribe((changed, event) => {
      if (changed === resource && matches(event.object)) write(event);
    });
    const seconds = Number(url.searchParams.get('timeoutSeconds') ?? 1800);
    const timer = setTimeout(() => response.end(), (Number.isFinite(seconds) ? seconds : 1800) * 1000);
    const stop = (): void => {
      clearTimeout(timer);
      unsubscribe();
      watches.delete(response);
    };
    response.once('close', stop);
    request.once('close', stop);
  }

  async function remove(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    resource: Resource,
    namespace: string,
    name: string,
  ): Promise<void> {
    let policy = url.searchParams.get('propagationPolicy') ?? undefined;
    const text = await readBody(request).catch(() => '');
    if (text.trim() !== '') {
      try {
        const body = JSON.parse(text) as { propagationPolicy?: string };
        policy = body.propagationPolicy ?? policy;
      } catch {
        send(response, 400, statusFailure(400, 'BadRequest', 'the DeleteOptions body is not valid JSON'));
        return;
      }
    }
    if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) {
      send(
        response,
        422,
        statusFailure(
          422,
          'Invalid',
          `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
        ),
      );
      return;
    }
    const existing = store.get(resource, namespace, name);
    if (existing === undefined) {
      send(response, 404, notFound(resource, name));
      return;
    }
    if (resource === 'pods') {
      await cluster.removePod(namespace, name);
      send(response, 200, existing);
      return;
    }
    // batch/v1 jobs default to orphaning their pods when no policy is given (for compatibility, as kubectl warns).
    const marked = cluster.deleteJob(namespace, name, (policy ?? 'Orphan') as 'Background' | 'Foreground' | 'Orphan');
    if (policy === 'Foreground') {
      send(response, 200, marked);
      return;
    }
    send(response, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, group: 'batch', kind: 'jobs', uid: existing.metadata.uid },
    });
  }

  function servePodLog(response: ServerResponse, url: URL, namespace: string, name: string): void {
    const pod = store.get('pods', namespace, name);
    if (pod === undefined) {
      send(response, 404, notFound('pods', name));
      return;
    }
    const containers = ((pod.spec as { containers?: { name: string }[] }).containers ?? []).map((c) => c.name);
    const container = url.searchParams.get('container') ?? (containers.length === 1 ? containers[0] : undefined);
    if (container === undefined) {
      send(
        response,
        400,
        statusFailure(
          400,
          'BadRequest',
          `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`,
        ),
      );
      return;
    }
    const log = cluster.log(namespace, name, container);
    const statuses = [
      ...((pod.status?.containerStatuses as
        { name: string; state?: { waiting?: { reason?: string } } }[] | undefined) ?? []),
      ...((pod.status?.initContainerStatuses as
        { name: string; state?: { waiting?: { reason?: string } } }[] | undefined) ?? []),
    ];
    const waiting = statuses.find((status) => status.name === container)?.state?.waiting;
    if (log === undefined || (waiting !== undefined && log.text().byteLength === 0 && !log.ended)) {
      send(
        response,
        400,
        statusFailure(
          400,
          'BadRequest',
          `container "${container}" in pod "${name}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}`,
        ),
      );
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    let text = log.text();
    const tail = url.searchParams.get('tailLines');
    if (tail !== null && Number(tail) >= 0) {
      const lines = text.toString('utf8').split('\n');
      if (lines.at(-1) === '') lines.pop();
      text = Buffer.from(
        lines
          .slice(-Number(tail))
          .map((line) => `${line}\n`)
          .join(''),
      );
    }
    response.write(text);
    const follow = url.searchParams.get('follow');
    if ((follow !== 'true' && follow !== '1') || log.ended) {
      response.end();
      return;
    }
    const onData = (chunk: Buffer): void => void response.write(chunk);
    const onEnd = (): void => {
      cleanup();
      response.end();
    };
    const cleanup = (): void => {
      log.off('data', onData);
      log.off('end', onEnd);
    };
    log.on('data', onData);
    log.once('end', onEnd);
    response.once('close', cleanup);
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent)
        send(
          response,
          500,
          statusFailure(500, 'InternalError', `Internal error occurred: ${(error as Error)?.message ?? String(error)}`),
        );
      else response.end();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  return {
    url,
    store,
    cluster,
    stats: cluster.stats,
    kubeconfig(namespace = 'default') {
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: mloe-test`,
        // client-node refuses plain http unless the cluster skips TLS verification (there is no TLS to verify).
        `  cluster: { server: '${url}', insecure-skip-tls-verify: true }`,
        'users:',
        '- name: mloe-test',
        "  user: { token: 'mloe-test-token' }",
        'contexts:',
        '- name: mloe-test',
        `  context: { cluster: mloe-test, user: mloe-test, namespace: ${namespace} }`,
        'current-context: mloe-test',
        '',
      ].join('\n');
    },
    async close() {
      await cluster.close();
      for (const response of watches) response.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
