/**
 * Search attribute definitions: Temporal's system and predefined attributes, the custom ones the dev server
 * registers out of the box, the per-namespace registry of custom attributes (persisted in the store's `kv` table),
 * and the decoding and validation of search attribute payloads as Temporal's frontend does them.
 */
import type { Engine } from '../engine';
import { invalidArgument } from '../errors';
import { goValue } from '../go-format';
import { temporal, type SearchAttributes } from '../proto';
import type { Store } from '../store';

/** The value types of search attributes (`temporal.api.enums.v1.IndexedValueType`). */
export enum SaType {
  Text = 1,
  Keyword = 2,
  Int = 3,
  Double = 4,
  Bool = 5,
  Datetime = 6,
  KeywordList = 7,
}

/** The name Temporal prints for a type (Go's `IndexedValueType.String()`), also the payload `type` metadata. */
export const SA_TYPE_NAMES: Record<SaType, string> = {
  [SaType.Text]: 'Text',
  [SaType.Keyword]: 'Keyword',
  [SaType.Int]: 'Int',
  [SaType.Double]: 'Double',
  [SaType.Bool]: 'Bool',
  [SaType.Datetime]: 'Datetime',
  [SaType.KeywordList]: 'KeywordList',
};

/** Parses a type name as `temporal server start-dev --search-attribute Name=Type` takes it (case-insensitive). */
export function parseSaTypeName(name: string): SaType | undefined {
  const wanted = name.trim().toLowerCase();
  for (const [value, typeName] of Object.entries(SA_TYPE_NAMES)) {
    if (typeName.toLowerCase() === wanted) return Number(value);
  }
  return undefined;
}

/** A system attribute: a column of the visibility table, never set through `SearchAttributes`. */
export interface SystemAttribute {
  type: SaType;
  /** Column of the `visibility` table. */
  column: string;
}

/** Temporal's system search attributes and the visibility columns that hold them. */
export const SYSTEM_ATTRIBUTES: Readonly<Record<string, SystemAttribute>> = {
  WorkflowId: { type: SaType.Keyword, column: 'workflow_id' },
  RunId: { type: SaType.Keyword, column: 'run_id' },
  WorkflowType: { type: SaType.Keyword, column: 'workflow_type' },
  StartTime: { type: SaType.Datetime, column: 'start_time' },
  ExecutionTime: { type: SaType.Datetime, column: 'execution_time' },
  CloseTime: { type: SaType.Datetime, column: 'close_time' },
  ExecutionStatus: { type: SaType.Keyword, column: 'status' },
  TaskQueue: { type: SaType.Keyword, column: 'task_queue' },
  HistoryLength: { type: SaType.Int, column: 'history_length' },
  ExecutionDuration: { type: SaType.Int, column: 'execution_duration' },
  StateTransitionCount: { type: SaType.Int, column: 'state_transition_count' },
  HistorySizeBytes: { type: SaType.Int, column: 'history_size_bytes' },
  ParentWorkflowId: { type: SaType.Keyword, column: 'parent_workflow_id' },
  ParentRunId: { type: SaType.Keyword, column: 'parent_run_id' },
  RootWorkflowId: { type: SaType.Keyword, column: 'root_workflow_id' },
  RootRunId: { type: SaType.Keyword, column: 'root_run_id' },
};

/**
 * Temporal's predefined attributes: set by the server or SDKs through `SearchAttributes` (version markers, build
 * ids, schedules), stored and queried like custom ones, but never registered or removed by users.
 */
export const PREDEFINED_ATTRIBUTES: Readonly<Record<string, SaType>> = {
  TemporalChangeVersion: SaType.KeywordList,
  BinaryChecksums: SaType.KeywordList,
  BuildIds: SaType.KeywordList,
  BatcherNamespace: SaType.Keyword,
  BatcherUser: SaType.Keyword,
  TemporalScheduledStartTime: SaType.Datetime,
  TemporalScheduledById: SaType.Keyword,
  TemporalSchedulePaused: SaType.Bool,
  TemporalNamespaceDivision: SaType.Keyword,
  TemporalPauseInfo: SaType.KeywordList,
  TemporalReportedProblems: SaType.KeywordList,
  TemporalWorkerDeploymentVersion: SaType.Keyword,
  TemporalWorkflowVersioningBehavior: SaType.Keyword,
  TemporalWorkerDeployment: SaType.Keyword,
};

const EncodedSearchAttributes = temporal.api.common.v1.SearchAttributes;

/** Custom attributes `temporal server start-dev` registers in every namespace. */
export const DEV_SERVER_CUSTOM_ATTRIBUTES: Readonly<Record<string, SaType>> = {
  CustomKeywordField: SaType.Keyword,
  CustomStringField: SaType.Text,
  CustomTextField: SaType.Text,
  CustomIntField: SaType.Int,
  CustomDoubleField: SaType.Double,
  CustomBoolField: SaType.Bool,
  CustomDatetimeField: SaType.Datetime,
  CustomKeywordListField: SaType.KeywordList,
};

/** Field names Temporal reserves besides the system and predefined attributes. */
const RESERVED_NAMES = new Set(['NamespaceId', 'Memo', 'MemoEncoding', 'VisibilityTaskKey']);
/** The prefix Temporal reserves for its own attributes. */
const RESERVED_PREFIX = 'Temporal';
/**
 * Names a custom attribute may have. Stricter than Temporal (which takes any alias) because the name is embedded in
 * SQL JSON paths; every name the dev server writes into SQL has passed this check.
 */
export const CUSTOM_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,99}$/;

/** Temporal's default limits on the search attributes of one execution (frontend dynamic config defaults). */
export const MAX_SEARCH_ATTRIBUTE_KEYS = 100;
export const MAX_SEARCH_ATTRIBUTE_VALUE_BYTES = 2 * 1024;
export const MAX_SEARCH_ATTRIBUTES_TOTAL_BYTES = 40 * 1024;

/** True when `name` cannot be registered as a custom attribute (Temporal's `IsReserved`). */
export function isReservedName(name: string): boolean {
  return (
    name in SYSTEM_ATTRIBUTES ||
    name in PREDEFINED_ATTRIBUTES ||
    RESERVED_NAMES.has(name) ||
    name.startsWith(RESERVED_PREFIX)
  );
}

const KV_KEY = 'visibility.customSearchAttributes';

/**
 * The custom search attributes of each namespace. A namespace starts with the dev server's defaults (the `Custom*`
 * fields plus any passed to `startDevServer({ searchAttributes })`) the first time it is looked at; changes are
 * written to the store at once.
 */
export class SearchAttributeRegistry {
  private readonly byNamespace = new Map<string, Map<string, SaType>>();
  private defaults: Map<string, SaType> = new Map(Object.entries(DEV_SERVER_CUSTOM_ATTRIBUTES));
  /** Called with each newly registered attribute (the visibility store indexes it). */
  onRegister: (name: string, type: SaType) => void = () => undefined;

  constructor(private readonly store: Store) {
    const saved = store.loadKv(KV_KEY);
    if (!saved) return;
    const parsed = JSON.parse(saved) as Record<string, Record<string, number>>;
    for (const [ns, attrs] of Object.entries(parsed)) {
      this.byNamespace.set(ns, new Map(Object.entries(attrs).map(([k, v]) => [k, v as SaType])));
    }
  }

  /** Adds attributes to the defaults and to every namespace already known (startup `--search-attribute`s). */
  addDefaults(attributes: Record<string, SaType>): void {
    for (const [name, type] of Object.entries(attributes)) this.defaults.set(name, type);
    for (const attrs of this.byNamespace.values()) {
      for (const [name, type] of Object.entries(attributes)) if (!attrs.has(name)) attrs.set(name, type);
    }
    this.save();
    for (const [name, type] of Object.entries(attributes)) this.onRegister(name, type);
  }

  /** Every attribute name ever registered in any namespace, with its type (for indexes). */
  allCustom(): Map<string, SaType> {
    const all = new Map(this.defaults);
    for (const attrs of this.byNamespace.values()) for (const [k, v] of attrs) all.set(k, v);
    return all;
  }

  /** The custom attributes of a namespace (name → type). */
  custom(namespace: string): ReadonlyMap<string, SaType> {
    return this.ensure(namespace);
  }

  /** The type of an attribute settable through `SearchAttributes` (predefined or custom), if defined. */
  settableType(namespace: string, name: string): SaType | undefined {
    return PREDEFINED_ATTRIBUTES[name] ?? this.ensure(namespace).get(name);
  }

  /** The type of any attribute a query may name (system, predefined or custom), if defined. */
  queryableType(namespace: string, name: string): SaType | undefined {
    return SYSTEM_ATTRIBUTES[name]?.type ?? this.settableType(namespace, name);
  }

  /** Registers custom attributes in a namespace. */
  add(namespace: string, attributes: Record<string, SaType>): void {
    const attrs = this.ensure(namespace);
    for (const [name, type] of Object.entries(attributes)) attrs.set(name, type);
    this.save();
    for (const [name, type] of Object.entries(attributes)) this.onRegister(name, type);
  }

  /** Removes custom attributes from a namespace (values already stored stay in the visibility rows, unused). */
  remove(namespace: string, names: string[]): void {
    const attrs = this.ensure(namespace);
    for (const name of names) attrs.delete(name);
    this.save();
  }

  private ensure(namespace: string): Map<string, SaType> {
    let attrs = this.byNamespace.get(namespace);
    if (!attrs) {
      attrs = new Map(this.defaults);
      this.byNamespace.set(namespace, attrs);
      this.save();
    }
    return attrs;
  }

  private save(): void {
    const out: Record<string, Record<string, number>> = {};
    for (const [ns, attrs] of this.byNamespace) out[ns] = Object.fromEntries(attrs);
    this.store.saveKv(KV_KEY, JSON.stringify(out));
  }
}

/** One search attribute payload as it travels in the API. */
export type SaPayload = NonNullable<NonNullable<SearchAttributes['indexedFields']>[string]>;

/** A decoded value: strings, numbers and booleans as in JSON; datetimes as microseconds since the epoch. */
export type SaValue = string | number | boolean | string[];

/** Marks a payload that clears an attribute (an upsert of null). */
export const CLEARED = Symbol('cleared');

const metadataText = (payload: SaPayload, key: string): string | undefined => {
  const raw = payload.metadata?.[key];
  return raw ? Buffer.from(raw).toString() : undefined;
};

/** The type named in a payload's `type` metadata (SDKs' typed search attributes set it), if any. */
export function payloadType(payload: SaPayload): SaType | undefined {
  const name = metadataText(payload, 'type');
  return name ? parseSaTypeName(name) : undefined;
}

/** Parses an RFC 3339 timestamp into microseconds since the epoch, keeping sub-millisecond digits. */
export function parseRfc3339Micros(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(d)) return undefined;
  let offsetMin = 0;
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const micros = Number(((frac ?? '') + '000000').slice(0, 6));
  return (ms - offsetMin * 60_000) * 1000 + micros;
}

/** Formats microseconds since the epoch as RFC 3339 (UTC). */
export function formatMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString();
  return rest ? `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z` : iso;
}

/**
 * Decodes a payload for an attribute of type `type` (Temporal's `DecodeValue`): JSON, with a one-element array
 * accepted for a single value (the SDKs' legacy untyped search attributes send arrays). Returns {@link CLEARED} for
 * null or an empty list, undefined when the value does not fit the type.
 */
export function decodeSaValue(payload: SaPayload, type: SaType): SaValue | typeof CLEARED | undefined {
  const encoding = metadataText(payload, 'encoding');
  if (encoding === 'binary/null' || !payload.data || payload.data.length === 0) return CLEARED;
  if (encoding !== undefined && encoding !== 'json/plain') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.data).toString());
  } catch {
    return undefined;
  }
  if (value === null) return CLEARED;
  if (type === SaType.KeywordList) {
    const list: unknown[] = Array.isArray(value) ? value : [value];
    if (!list.every((v) => typeof v === 'string')) return undefined;
    return list.length === 0 ? CLEARED : list;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return CLEARED;
    if (value.length > 1) return undefined;
    value = value[0];
  }
  switch (type) {
    case SaType.Text:
    case SaType.Keyword:
      return typeof value === 'string' ? value : undefined;
    case SaType.Int:
      return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
    case SaType.Double:
      return typeof value === 'number' ? value : undefined;
    case SaType.Bool:
      return typeof value === 'boolean' ? value : undefined;
    case SaType.Datetime:
      return typeof value === 'string' ? parseRfc3339Micros(value) : undefined;
  }
}

/** The registry of a store, created on first use (the visibility store shares it). */
const registries = new WeakMap<Store, SearchAttributeRegistry>();

/** The search attribute registry of a server's store. */
export function registryFor(store: Store): SearchAttributeRegistry {
  let registry = registries.get(store);
  if (!registry) {
    registry = new SearchAttributeRegistry(store);
    registries.set(store, registry);
  }
  return registry;
}

/**
 * What is wrong with the search attributes a start, a child, a continue-as-new or an upsert sets, in Temporal's
 * words (its `searchattribute.Validator.Validate`), or undefined when they are fine: system attributes cannot be set,
 * every name must be defined in the namespace, every value must fit its type, and there may be at most 100.
 */
export function searchAttributesProblem(
  engine: Engine,
  namespace: string,
  searchAttributes: SearchAttributes | null | undefined,
): string | undefined {
  const fields = Object.entries(searchAttributes?.indexedFields ?? {});
  if (fields.length > MAX_SEARCH_ATTRIBUTE_KEYS) {
    return `number of search attributes ${fields.length} exceeds limit ${MAX_SEARCH_ATTRIBUTE_KEYS}`;
  }
  const registry = registryFor(engine.store);
  for (const [name, payload] of fields) {
    if (name in SYSTEM_ATTRIBUTES) return `${name} attribute can't be set in SearchAttributes`;
    const type = registry.settableType(namespace, name);
    if (type === undefined) return `search attribute ${name} is not defined`;
    if (!payload) continue;
    if (decodeSaValue(payload, type) === undefined) {
      return `${shownValue(payload)} is not a valid value for search attribute ${name} of type ${SA_TYPE_NAMES[type]}`;
    }
  }
  return undefined;
}

/** A refused value as Temporal's message shows it: the decoded JSON printed by Go's `%v` (`[ten]`, `42`). */
function shownValue(payload: SaPayload): string {
  const text = payload.data ? Buffer.from(payload.data).toString() : '';
  try {
    return goValue(JSON.parse(text));
  } catch {
    return `value from <${text}>`;
  }
}

/**
 * What is too large in a set of search attributes (Temporal's `Validator.ValidateSize`): a value over 2 KiB, or all of
 * them together over 40 KiB (the encoded message). A start is refused for it; a workflow task command that carries
 * them terminates the workflow, as on Temporal.
 */
export function searchAttributesSizeProblem(searchAttributes: SearchAttributes | null | undefined): string | undefined {
  const fields = Object.entries(searchAttributes?.indexedFields ?? {});
  for (const [name, payload] of fields) {
    const size = payload?.data?.length ?? 0;
    if (size > MAX_SEARCH_ATTRIBUTE_VALUE_BYTES) {
      return `search attribute ${name} value of size ${size}: exceeds size limit ${MAX_SEARCH_ATTRIBUTE_VALUE_BYTES}`;
    }
  }
  const present = fields.filter(([, payload]) => payload);
  if (present.length === 0) return undefined;
  const message = EncodedSearchAttributes.fromObject({ indexedFields: Object.fromEntries(present) });
  const total = EncodedSearchAttributes.encode(message).finish().length;
  if (total > MAX_SEARCH_ATTRIBUTES_TOTAL_BYTES) {
    return `total size of search attributes ${total}: exceeds size limit ${MAX_SEARCH_ATTRIBUTES_TOTAL_BYTES}`;
  }
  return undefined;
}

/**
 * Rejects search attributes Temporal's frontend would reject on a start, with INVALID_ARGUMENT (an unknown custom
 * attribute answers "search attribute X is not defined"; a value over 2 KiB answers its size).
 */
export function validateSearchAttributes(
  engine: Engine,
  namespace: string,
  searchAttributes: SearchAttributes | null | undefined,
): void {
  const problem =
    searchAttributesProblem(engine, namespace, searchAttributes) ?? searchAttributesSizeProblem(searchAttributes);
  if (problem) throw invalidArgument(problem);
}

/**
 * Search attributes as the dev server hands them out (describe, list, schedules, and the history events that carry
 * them): each payload's `type` metadata set from the namespace's registry when the payload has none, as Temporal's
 * `searchattribute.ApplyTypeMap` does, so the SDKs decode a Datetime as a date, an Int as a number, and so on.
 * Undefined stays undefined.
 */
export function typedSearchAttributes(
  engine: Engine,
  namespace: string,
  searchAttributes: SearchAttributes | null | undefined,
): SearchAttributes | undefined {
  return searchAttributes ? withTypeMetadata(registryFor(engine.store), namespace, searchAttributes) : undefined;
}

/**
 * A copy of an execution's search attributes with each payload's `type` metadata set from the registry, as
 * Temporal returns them (the SDKs' typed search attributes need it).
 */
export function withTypeMetadata(
  registry: SearchAttributeRegistry,
  namespace: string,
  searchAttributes: SearchAttributes | null | undefined,
): SearchAttributes {
  const out: Record<string, SaPayload> = {};
  for (const [name, payload] of Object.entries(searchAttributes?.indexedFields ?? {})) {
    if (!payload) continue;
    const type = registry.settableType(namespace, name);
    if (type === undefined || payload.metadata?.['type']) {
      out[name] = payload;
      continue;
    }
    out[name] = { ...payload, metadata: { ...payload.metadata, type: Buffer.from(SA_TYPE_NAMES[type]) } };
  }
  return { indexedFields: out };
}
