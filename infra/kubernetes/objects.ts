/**
 * The object store of the Kubernetes API test server: jobs and pods by namespace and name, one cluster-wide
 * `resourceVersion` counter, and the event history that watches replay from a resourceVersion (a bounded window: an
 * older one is answered with `410 Gone`, reason `Expired`, as etcd compaction makes the real API server do).
 */
import { randomUUID } from 'node:crypto';

/** A Kubernetes object as JSON, with the metadata this server reads. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    generateName?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The resources this server stores. */
export type Resource = 'jobs' | 'pods';

/** A watch event as the API streams it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

interface Recorded extends WatchEvent {
  resource: Resource;
  version: number;
}

/** Events kept for watches that resume from a resourceVersion. */
const HISTORY_LIMIT = 50_000;

/** A parsed label selector (equality-based and set-based existence: `a=b`, `a==b`, `a!=b`, `a`, `!a`). */
export type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

/** Parses `labelSelector`; throws with a message for a term it does not understand. */
export function parseLabelSelector(text: string | null | undefined): LabelSelector {
  if (text === null || text === undefined || text.trim() === '') return () => true;
  const terms = text.split(',').map((term) => term.trim());
  const tests = terms.map((term): LabelSelector => {
    let match = /^([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(term);
    if (match !== null) {
      const [, key = '', op, value] = match;
      return op === '!=' ? (labels) => labels?.[key] !== value : (labels) => labels?.[key] === value;
    }
    match = /^(!?)([A-Za-z0-9._/-]+)$/.exec(term);
    if (match !== null) {
      const [, not, key = ''] = match;
      return not === '!' ? (labels) => labels?.[key] === undefined : (labels) => labels?.[key] !== undefined;
    }
    throw new Error(`unable to parse requirement: ${JSON.stringify(term)}`);
  });
  return (labels) => tests.every((test) => test(labels));
}

/** What a watch listener is told. */
export type WatchListener = (resource: Resource, event: WatchEvent, version: number) => void;

/** Jobs and pods, their versions and their history. */
export class ObjectStore {
  private version = 1;
  private readonly objects: Record<Resource, Map<string, KubeObject>> = { jobs: new Map(), pods: new Map() };
  private readonly history: Recorded[] = [];
  private readonly listeners = new Set<WatchListener>();

  /** The current resourceVersion (of the last change). */
  get resourceVersion(): string {
    return String(this.version);
  }

  private static key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  /** The object, or undefined. */
  get(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    return this.objects[resource].get(ObjectStore.key(namespace, name));
  }

  /** Objects of a namespace (all namespaces when undefined) matching a selector, by name. */
  list(resource: Resource, namespace: string | undefined, selector: LabelSelector): KubeObject[] {
    return [...this.objects[resource].values()]
      .filter(
        (object) =>
          (namespace === undefined || object.metadata.namespace === namespace) && selector(object.metadata.labels),
      )
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /** Adds a new object (uid, resourceVersion and creationTimestamp set here); false when the name is taken. */
  create(resource: Resource, object: KubeObject): boolean {
    const key = ObjectStore.key(object.metadata.namespace, object.metadata.name);
    if (this.objects[resource].has(key)) return false;
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    this.commit(resource, key, object, 'ADDED');
    return true;
  }

  /** Replaces an object after `change` mutated a copy of it; no-op when it is gone. */
  update(
    resource: Resource,
    namespace: string,
    name: string,
    change: (object: KubeObject) => void,
  ): KubeObject | undefined {
    const key = ObjectStore.key(namespace, name);
    const current = this.objects[resource].get(key);
    if (current === undefined) return undefined;
    const copy = structuredClone(current);
    change(copy);
    this.commit(resource, key, copy, 'MODIFIED');
    return copy;
  }

  /** Removes an object for good. */
  remove(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    const key = ObjectStore.key(namespace, name);
    const current = this.objects[resource].get(key);
    if (current === undefined) return undefined;
    this.objects[resource].delete(key);
    const copy = structuredClone(current);
    this.commit(resource, key, copy, 'DELETED', false);
    return copy;
  }

  private commit(resource: Resource, key: string, object: KubeObject, type: WatchEvent['type'], keep = true): void {
    this.version += 1;
    object.metadata.resourceVersion = String(this.version);
    if (keep) this.objects[resource].set(key, object);
    const event: Recorded = { resource, type, object: structuredClone(object), version: this.version };
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.splice(0, this.history.length - HISTORY_LIMIT);
    for (const listener of this.listeners) listener(resource, { type, object: event.object }, this.version);
  }

  /**
   * The events after `version`, or undefined when the history no longer reaches back that far (the caller answers
   * 410 Expired).
   */
  since(resource: Resource, version: number): WatchEvent[] | undefined {
    const oldest = this.history[0]?.version;
    if (oldest !== undefined && version < oldest - 1) return undefined;
    return this.history
      .filter((event) => event.resource === resource && event.version > version)
      .map(({ type, object }) => ({ type, object }));
  }

  /** Hears every change from now on; returns the function that stops it. */
  subscribe(listener: WatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
