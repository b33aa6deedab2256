/**
 * Reading a clause's value as the type its key needs, with MLflow's messages when it is not.
 */
import { invalidParameter } from '../errors';
import type { FilterClause } from './filter';

/** A quoted string (`'x'` or `"x"`); `what` names the key's kind in the message (`parameter`, `tag`, ...). */
export function quotedString(clause: FilterClause, what: string): string {
  const { value } = clause;
  if (value.kind === 'string' && value.quote !== undefined) return value.value;
  if (value.kind === 'string') {
    throw invalidParameter(
      `Parameter value is either not quoted or unidentified quote types used for string value ${value.text}. ` +
        'Use either single or double quotes.',
    );
  }
  throw invalidParameter(`Expected a quoted string value for ${what} (e.g. 'my-value'). Got value ${value.text}`);
}

/** A number; `message` is MLflow's complaint when it is something else. */
export function numeric(clause: FilterClause, message: string): number {
  if (clause.value.kind === 'number') return clause.value.value;
  throw invalidParameter(`${message}. Found ${clause.value.text}`);
}

/** A parenthesised list of single-quoted strings. */
export function stringList(clause: FilterClause): string[] {
  if (clause.value.kind === 'list') return clause.value.values;
  throw invalidParameter(`Expected a list of quoted strings for ${clause.comparator}. Got value ${clause.value.text}`);
}

/** Refuses a comparator the key does not take, in MLflow's words. */
export function checkComparator(clause: FilterClause, allowed: readonly string[], setText: string): void {
  if (!allowed.includes(clause.comparator)) {
    throw invalidParameter(`Invalid comparator '${clause.comparator}' not one of '${setText}'`);
  }
}
