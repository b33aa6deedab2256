/**
 * OperatorService: AddSearchAttributes, RemoveSearchAttributes and ListSearchAttributes, per namespace as
 * Temporal's SQL visibility scopes custom attributes. Other OperatorService methods answer UNIMPLEMENTED.
 */
import type { Engine } from '../engine';
import { RpcError, invalidArgument, notFound } from '../errors';
import type { Loose, temporal } from '../proto';
import type { Handler } from '../api/handler';
import { status } from '@grpc/grpc-js';
import {
  CUSTOM_NAME,
  PREDEFINED_ATTRIBUTES,
  SA_TYPE_NAMES,
  SYSTEM_ATTRIBUTES,
  SaType,
  isReservedName,
} from './search-attributes';
import { visibilityFor } from './visibility-store';

type AddRequest = Loose<temporal.api.operatorservice.v1.IAddSearchAttributesRequest>;
type RemoveRequest = Loose<temporal.api.operatorservice.v1.IRemoveSearchAttributesRequest>;
type ListRequest = Loose<temporal.api.operatorservice.v1.IListSearchAttributesRequest>;

/** AddSearchAttributes: registers custom attributes in a namespace (re-adding one with the same type is a no-op). */
export function addSearchAttributes(engine: Engine, req: AddRequest): object {
  const ns = engine.namespace(req.namespace).name;
  const requested = Object.entries(req.searchAttributes ?? {});
  if (requested.length === 0) throw invalidArgument('SearchAttributes are not set on request.');
  const registry = visibilityFor(engine.store).registry;
  const toAdd: Record<string, SaType> = {};
  for (const [name, rawType] of requested) {
    if (isReservedName(name)) throw invalidArgument(`Search attribute ${name} is reserved by system.`);
    if (!(Number(rawType) in SA_TYPE_NAMES))
      throw invalidArgument(`Unknown search attribute type: ${String(rawType)}.`);
    const type = Number(rawType) as SaType;
    if (!CUSTOM_NAME.test(name)) {
      throw invalidArgument(
        `Search attribute name ${name} is invalid: use up to 100 letters, digits, '_' or '-', starting with a letter.`,
      );
    }
    const existing = registry.custom(ns).get(name);
    if (existing === type) continue;
    if (existing !== undefined) {
      throw new RpcError(
        status.ALREADY_EXISTS,
        `Search attribute ${name} already exists (with type ${SA_TYPE_NAMES[existing]}).`,
      );
    }
    toAdd[name] = type;
  }
  if (Object.keys(toAdd).length > 0) registry.add(ns, toAdd);
  return {};
}

/** RemoveSearchAttributes: unregisters custom attributes of a namespace. */
export function removeSearchAttributes(engine: Engine, req: RemoveRequest): object {
  const ns = engine.namespace(req.namespace).name;
  const names = req.searchAttributes ?? [];
  if (names.length === 0) throw invalidArgument('SearchAttributes are not set on request.');
  const registry = visibilityFor(engine.store).registry;
  for (const name of names) {
    if (name in SYSTEM_ATTRIBUTES || name in PREDEFINED_ATTRIBUTES) {
      throw invalidArgument(`Unable to remove non-custom search attributes: ${name}.`);
    }
    if (!registry.custom(ns).has(name)) throw notFound(`Search attribute ${name} doesn't exist.`);
  }
  registry.remove(ns, names);
  return {};
}

/** ListSearchAttributes: the namespace's custom attributes and the system (and predefined) ones. */
export function listSearchAttributes(engine: Engine, req: ListRequest): object {
  const ns = engine.namespace(req.namespace).name;
  const registry = visibilityFor(engine.store).registry;
  const systemAttributes: Record<string, number> = {};
  for (const [name, def] of Object.entries(SYSTEM_ATTRIBUTES)) systemAttributes[name] = def.type;
  for (const [name, type] of Object.entries(PREDEFINED_ATTRIBUTES)) systemAttributes[name] = type;
  return { customAttributes: Object.fromEntries(registry.custom(ns)), systemAttributes, storageSchema: {} };
}

/** Handlers of temporal.api.operatorservice.v1.OperatorService, by method name. */
export const operatorServiceHandlers: Record<string, Handler> = {
  AddSearchAttributes: addSearchAttributes,
  RemoveSearchAttributes: removeSearchAttributes,
  ListSearchAttributes: listSearchAttributes,
};
