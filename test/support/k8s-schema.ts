/**
 * Offline schema checks of Kubernetes manifests, for tests. Built-in kinds are checked against the API models that
 * `@kubernetes/client-node` 1.4.0 generates from the OpenAPI spec of Kubernetes v1.34.0 (its `attributeTypeMap`
 * gives each field's name, type and format; its declaration files say which fields are required): unknown fields,
 * wrong types, non-integers where the API says int32/int64, and missing required fields are problems. KEDA's custom
 * resources (ScaledObject, TriggerAuthentication), which no installed package models, are checked with zod schemas of
 * the fields the chart writes, taken from KEDA's v2 documentation (trigger metadata values must be strings).
 *
 * A fuller validator plugs in through {@link ManifestValidator}: `kubernetes-models` 5.x and `@kubernetes-models/keda`
 * (validation from the real OpenAPI and CRD schemas) are on npm, but not installed here.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';

/** The Kubernetes version whose API the built-in models describe. */
export const KUBERNETES_VERSION = '1.34.0';

/** Checks one manifest, returning its problems (`path: message`); empty when it is valid. */
export type ManifestValidator = (object: Record<string, unknown>) => string[];

/** The group/version each built-in kind the chart may render is served at. */
const BUILT_IN_KINDS: Record<string, string> = {
  Deployment: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  Service: 'v1',
  ServiceAccount: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
};

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

type ModelClass = { getAttributeTypeMap(): Attribute[] };

const MODELS_DIR = join(dirname(require.resolve('@kubernetes/client-node')), 'gen', 'models');
const requiredCache = new Map<string, Set<string>>();

/** The required fields of a model: those its declaration file does not mark optional. */
function requiredFields(model: string): Set<string> {
  let required = requiredCache.get(model);
  if (required === undefined) {
    const text = readFileSync(join(MODELS_DIR, `${model}.d.ts`), 'utf8');
    required = new Set([...text.matchAll(/^\s+'([^']+)':/gm)].map((match) => match[1] ?? ''));
    requiredCache.set(model, required);
  }
  return required;
}

function modelClass(model: string): ModelClass | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[model];
  return typeof candidate === 'function' && 'getAttributeTypeMap' in candidate
    ? (candidate as unknown as ModelClass)
    : undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/** Checks `value` against a client-node type string at `path`. */
function check(value: unknown, type: string, format: string, path: string, problems: string[]): void {
  if (value === null || value === undefined) return; // the API treats an explicit null as unset
  const array = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) problems.push(`${path}: expected an array, got ${kindOf(value)}`);
    else value.forEach((item, index) => check(item, array[1] ?? 'any', '', `${path}[${index}]`, problems));
    return;
  }
  if (map) {
    if (kindOf(value) !== 'object') {
      problems.push(`${path}: expected a map, got ${kindOf(value)}`);
      return;
    }
    // Quantities (resources.requests, .limits) are strings in the models; the API also takes numbers.
    const quantity = /\.(requests|limits)$/.test(path) && map[1] === 'string';
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (quantity && typeof item === 'number') continue;
      check(item, map[1] ?? 'any', '', `${path}.${key}`, problems);
    }
    return;
  }
  switch (type) {
    case 'any':
    case 'object':
      return;
    case 'string':
    case 'Date':
      if (typeof value !== 'string') problems.push(`${path}: expected a string, got ${kindOf(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path}: expected a boolean, got ${kindOf(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') problems.push(`${path}: expected a number, got ${kindOf(value)}`);
      else if ((format === 'int32' || format === 'int64') && !Number.isInteger(value)) {
        problems.push(`${path}: expected an integer (${format}), got ${value}`);
      }
      return;
    case 'IntOrString':
      if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
        problems.push(`${path}: expected an integer or a string, got ${kindOf(value)}`);
      }
      return;
    default: {
      const model = modelClass(type);
      if (model === undefined) {
        problems.push(`${path}: no model ${type} to check against`);
        return;
      }
      if (kindOf(value) !== 'object') {
        problems.push(`${path}: expected an object (${type}), got ${kindOf(value)}`);
        return;
      }
      const record = value as Record<string, unknown>;
      const attributes = new Map(model.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute]));
      for (const [key, item] of Object.entries(record)) {
        const attribute = attributes.get(key);
        if (attribute === undefined) problems.push(`${path}.${key}: unknown field of ${type}`);
        else check(item, attribute.type, attribute.format, `${path}.${key}`, problems);
      }
      for (const field of requiredFields(type)) {
        const attribute = [...attributes.values()].find((candidate) => candidate.name === field);
        if (attribute !== undefined && record[attribute.baseName] === undefined) {
          problems.push(`${path}.${attribute.baseName}: required by ${type}, missing`);
        }
      }
    }
  }
}

/** Checks a built-in kind against the Kubernetes v1.34 models of `@kubernetes/client-node`. */
export function validateBuiltIn(object: Record<string, unknown>): string[] {
  const kind = String(object.kind);
  const expected = BUILT_IN_KINDS[kind];
  if (expected === undefined) return [`${kind}: not a built-in kind this checker knows`];
  if (object.apiVersion !== expected) {
    return [`${kind}: apiVersion ${String(object.apiVersion)} is not served; use ${expected}`];
  }
  const version = expected.split('/').pop() ?? '';
  const model = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  const problems: string[] = [];
  check(object, model, '', kind, problems);
  const name = (object.metadata as { name?: unknown } | undefined)?.name;
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name)) {
    problems.push(`${kind}.metadata.name: ${JSON.stringify(name)} is not a DNS subdomain name`);
  } else if (name.length > (kind === 'Service' || kind === 'Deployment' ? 63 : 253)) {
    problems.push(`${kind}.metadata.name: longer than the API allows`);
  }
  return problems;
}

const objectMeta = z.object({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/** KEDA v2's ScaledObject, as far as the chart writes it (keda.sh/docs/2.17+/reference/scaledobject-spec). */
const scaledObject = z.strictObject({
  apiVersion: z.literal('keda.sh/v1alpha1'),
  kind: z.literal('ScaledObject'),
  metadata: objectMeta,
  spec: z.strictObject({
    scaleTargetRef: z.strictObject({
      name: z.string(),
      kind: z.string().optional(),
      apiVersion: z.string().optional(),
    }),
    pollingInterval: z.number().int().positive().optional(),
    cooldownPeriod: z.number().int().nonnegative().optional(),
    minReplicaCount: z.number().int().nonnegative().optional(),
    maxReplicaCount: z.number().int().positive().optional(),
    advanced: z
      .strictObject({
        horizontalPodAutoscalerConfig: z.strictObject({ behavior: z.record(z.string(), z.unknown()) }).optional(),
        restoreToOriginalReplicaCount: z.boolean().optional(),
      })
      .optional(),
    triggers: z
      .array(
        z.strictObject({
          type: z.string(),
          name: z.string().optional(),
          // Every trigger metadata value is a string in KEDA's CRD.
          metadata: z.record(z.string(), z.string()),
          authenticationRef: z.strictObject({ name: z.string(), kind: z.string().optional() }).optional(),
        }),
      )
      .min(1),
  }),
});

/** KEDA v2's TriggerAuthentication with secret references. */
const triggerAuthentication = z.strictObject({
  apiVersion: z.literal('keda.sh/v1alpha1'),
  kind: z.literal('TriggerAuthentication'),
  metadata: objectMeta,
  spec: z.strictObject({
    secretTargetRef: z.array(z.strictObject({ parameter: z.string(), name: z.string(), key: z.string() })).min(1),
  }),
});

/** Checks KEDA's custom resources with the schemas above. */
export function validateKeda(object: Record<string, unknown>): string[] {
  const schema = object.kind === 'ScaledObject' ? scaledObject : triggerAuthentication;
  const parsed = schema.safeParse(object);
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${String(object.kind)}.${issue.path.join('.')}: ${issue.message}`);
}

/** The default validator: client-node's models for built-in kinds, the KEDA schemas for KEDA's. */
export const validateManifest: ManifestValidator = (object) =>
  String(object.apiVersion).startsWith('keda.sh/') ? validateKeda(object) : validateBuiltIn(object);
