/** Request validation shared by the API areas, with Temporal's limits and messages that name the field (sizes: `payload-limits.ts`). */
import { invalidArgument } from '../errors';

/** Temporal's limit on ids (workflow ids, activity ids, timer ids). */
export const MAX_ID_LENGTH = 1000;

/** Requires a non-empty id within Temporal's length limit. */
export function validateId(field: string, value: string | null | undefined): asserts value is string {
  if (!value) throw invalidArgument(`${field} is not set on request.`);
  if (value.length > MAX_ID_LENGTH) throw invalidArgument(`${field} exceeds length limit of ${MAX_ID_LENGTH}.`);
}
