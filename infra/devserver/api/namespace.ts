/** Namespaces and server information: GetSystemInfo, GetClusterInfo, Describe/List/Register/UpdateNamespace. */
import type { Engine, NamespaceRecord } from '../engine';
import { alreadyExists, invalidArgument } from '../errors';
import { durationToMs, msToDuration, temporal } from '../proto';
import type { Loose } from '../proto';

/** The Temporal server version the dev server reports (the API level it follows). */
export const SERVER_VERSION = '1.28.0';
const DEFAULT_RETENTION_MS = 24 * 3600 * 1000;
const NAMESPACE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{1,254}$/;

export function getSystemInfo(): object {
  return {
    serverVersion: SERVER_VERSION,
    capabilities: {
      signalAndQueryHeader: true,
      internalErrorDifferentiation: true,
      activityFailureIncludeHeartbeat: true,
      supportsSchedules: true,
      encodedFailureAttributes: true,
      buildIdBasedVersioning: false,
      upsertMemo: true,
      // The server supports it; whether a namespace allows it is in DescribeNamespace's capabilities.
      eagerWorkflowStart: true,
      sdkMetadata: true,
      countGroupByExecutionStatus: true,
      nexus: false,
    },
  };
}

export function getClusterInfo(): object {
  return {
    supportedClients: {},
    serverVersion: SERVER_VERSION,
    clusterId: 'mloe-devserver',
    clusterName: 'active',
    historyShardCount: 1,
    persistenceStore: 'sqlite',
    visibilityStore: 'sqlite',
  };
}

/** The DescribeNamespaceResponse shape of a namespace (its capabilities follow the server's settings). */
export function describeNamespaceRecord(engine: Engine, ns: NamespaceRecord): object {
  return {
    namespaceInfo: {
      name: ns.name,
      state: temporal.api.enums.v1.NamespaceState.NAMESPACE_STATE_REGISTERED,
      description: ns.description,
      ownerEmail: ns.ownerEmail,
      data: ns.data,
      id: ns.id,
      capabilities: {
        eagerWorkflowStart: engine.eagerWorkflowStart,
        syncUpdate: true,
        asyncUpdate: true,
        workerHeartbeats: false,
      },
      supportsSchedules: true,
    },
    config: {
      workflowExecutionRetentionTtl: msToDuration(ns.retentionMs),
      historyArchivalState: 2,
      visibilityArchivalState: 2,
    },
    replicationConfig: { activeClusterName: 'active', clusters: [{ clusterName: 'active' }], state: 1 },
    failoverVersion: 0,
    isGlobalNamespace: false,
  };
}

export function describeNamespace(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IDescribeNamespaceRequest>,
): object {
  if (req.id) {
    const ns = [...engine.namespaces.values()].find((n) => n.id === req.id);
    if (ns) return describeNamespaceRecord(engine, ns);
  }
  return describeNamespaceRecord(engine, engine.namespace(req.namespace));
}

export function listNamespaces(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IListNamespacesRequest>,
): object {
  const all = [...engine.namespaces.values()].sort((a, b) => a.name.localeCompare(b.name));
  const size = Number(req.pageSize) > 0 ? Number(req.pageSize) : 100;
  const start = req.nextPageToken?.length ? Number(Buffer.from(req.nextPageToken).toString()) || 0 : 0;
  const page = all.slice(start, start + size);
  const next = start + size < all.length ? Buffer.from(String(start + size)) : undefined;
  return { namespaces: page.map((ns) => describeNamespaceRecord(engine, ns)), nextPageToken: next };
}

export function registerNamespace(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IRegisterNamespaceRequest>,
): object {
  const name = req.namespace ?? '';
  if (!name) throw invalidArgument('Namespace is not set on request.');
  if (!NAMESPACE_NAME.test(name)) {
    throw invalidArgument(
      `Namespace name "${name}" is invalid: use 2 to 255 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
    );
  }
  if (engine.namespaces.has(name)) throw alreadyExists('Namespace already exists.');
  engine.addNamespace({
    name,
    description: req.description ?? '',
    ownerEmail: req.ownerEmail ?? '',
    retentionMs: durationToMs(req.workflowExecutionRetentionPeriod) || DEFAULT_RETENTION_MS,
    data: (req.data as Record<string, string>) ?? {},
  });
  return {};
}

export function updateNamespace(
  engine: Engine,
  req: Loose<temporal.api.workflowservice.v1.IUpdateNamespaceRequest>,
): object {
  const ns = engine.namespace(req.namespace);
  const info = req.updateInfo;
  const updated: NamespaceRecord = {
    ...ns,
    description: info?.description ?? ns.description,
    ownerEmail: info?.ownerEmail ?? ns.ownerEmail,
    data: { ...ns.data, ...((info?.data as Record<string, string>) ?? {}) },
    retentionMs: durationToMs(req.config?.workflowExecutionRetentionTtl) || ns.retentionMs,
  };
  engine.addNamespace(updated);
  const d = describeNamespaceRecord(engine, updated) as Record<string, unknown>;
  return {
    namespaceInfo: d['namespaceInfo'],
    config: d['config'],
    replicationConfig: d['replicationConfig'],
    failoverVersion: 0,
    isGlobalNamespace: false,
  };
}

export { DEFAULT_RETENTION_MS };
