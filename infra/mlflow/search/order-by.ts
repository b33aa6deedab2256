/**
 * MLflow's `order_by` clauses: `<identifier> [ASC|DESC]`, ascending by default, where the identifier is written as
 * in filters (``metrics.`my metric` DESC``, `start_time`, `name ASC`).
 */
import { invalidParameter } from '../errors';
import { splitIdentifier } from './filter';

/** One parsed order_by clause. */
export interface OrderByClause {
  /** The entity (`metrics`, `params`, `tags`, `attributes`, ...) or undefined for a bare attribute name. */
  entity: string | undefined;
  key: string;
  ascending: boolean;
}

/** Parses one clause; MLflow's messages for one it cannot read. */
export function parseOrderBy(clause: string): OrderByClause {
  const text = clause.trim();
  const unparsable = (): Error => invalidParameter(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  let i = 0;
  while (i < text.length && !/\s/.test(text[i]!)) {
    const ch = text[i]!;
    if (ch === '`' || ch === '"' || ch === "'") {
      const close = text.indexOf(ch, i + 1);
      if (close < 0) throw unparsable();
      i = close + 1;
    } else i++;
  }
  const identifier = text.slice(0, i);
  const direction = text.slice(i).trim();
  if (identifier === '') throw unparsable();
  if (direction !== '' && /\s/.test(direction)) throw unparsable();
  if (direction !== '' && !/^(asc|desc)$/i.test(direction)) {
    throw invalidParameter(`Invalid ordering key in order_by clause '${clause}'.`);
  }
  const { entity, key } = splitIdentifier(identifier);
  return { entity, key, ascending: direction.toLowerCase() !== 'desc' };
}
