/**
 * mloe's search attributes (`MloePipeline`, `MloeStatus`, `MloeApproval`, `MloeSchedule`, Keyword): registered once
 * per namespace, by `mloe setup` or when a pipeline worker or `mloe dev` starts, never on each run's start
 * (registration is an admin call, and concurrent starts would race on it). A start against a namespace without them fails with
 * `SEARCH_ATTRIBUTES_MISSING`, saying what to run.
 */
import { status } from '@grpc/grpc-js';
import type { NativeConnection } from '@temporalio/worker';
import type { ConnectionLike } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import {
  APPROVAL_SEARCH_ATTRIBUTE,
  PIPELINE_SEARCH_ATTRIBUTE,
  SCHEDULE_SEARCH_ATTRIBUTE,
  STATUS_SEARCH_ATTRIBUTE,
} from '../workflows/types';
import { TRIGGER_SEARCH_ATTRIBUTE } from '../workflows/trigger-types';

/** The search attributes every pipeline run sets, by name. */
export const MLOE_SEARCH_ATTRIBUTES = [
  PIPELINE_SEARCH_ATTRIBUTE.name,
  STATUS_SEARCH_ATTRIBUTE.name,
  APPROVAL_SEARCH_ATTRIBUTE.name,
  SCHEDULE_SEARCH_ATTRIBUTE.name,
  TRIGGER_SEARCH_ATTRIBUTE.name,
] as const;

/** Either connection kind: the client's or the worker's (both expose the OperatorService). */
type OperatorConnection = Pick<ConnectionLike, 'operatorService'> | Pick<NativeConnection, 'operatorService'>;

/** What {@link registerSearchAttributes} did. */
export interface SearchAttributeRegistration {
  /** Attributes this call added. */
  added: string[];
  /** Attributes that were registered already. */
  present: string[];
}

/**
 * Registers mloe's search attributes in `namespace` unless they exist. Idempotent, and safe when another process
 * registers them at the same time (ALREADY_EXISTS counts as present). Errors (no permission, on Temporal Cloud for
 * example, where they are added in the Cloud UI or with `tcld`) propagate.
 */
export async function registerSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
): Promise<SearchAttributeRegistration> {
  const service = connection.operatorService;
  const listed = await service.listSearchAttributes({ namespace });
  const present = MLOE_SEARCH_ATTRIBUTES.filter((name) => listed.customAttributes?.[name] !== undefined);
  const missing = MLOE_SEARCH_ATTRIBUTES.filter((name) => !present.includes(name));
  if (missing.length === 0) return { added: [], present };
  try {
    await service.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
  } catch (error) {
    if ((error as { code?: unknown }).code !== status.ALREADY_EXISTS) throw error;
    return { added: [], present: [...MLOE_SEARCH_ATTRIBUTES] };
  }
  return { added: missing, present };
}
