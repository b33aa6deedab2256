/**
 * Visibility for the dev server: search attribute registration (OperatorService), list/count/scan queries in
 * Temporal's visibility language (WorkflowService), and the SQLite index behind them.
 */
import type { Engine } from '../engine';
import { CUSTOM_NAME, isReservedName, parseSaTypeName, type SaType } from './search-attributes';
import { recordVisibility, visibilityFor } from './visibility-store';

export { operatorServiceHandlers } from './operator-api';
export { visibilityHandlers } from './visibility-api';
export { recordVisibility, visibilityFor } from './visibility-store';
export { validateSearchAttributes, searchAttributesProblem } from './search-attributes';

/**
 * Sets up visibility when the server is assembled: keeps the index in step with the runs through the engine's commit
 * listeners (each changed row is written in the same transaction as its run), registers the `--search-attribute`s
 * of `startDevServer({ searchAttributes: { Name: 'Keyword' } })` in every namespace, and indexes runs recovered from
 * a database that has none yet. Throws on an invalid name or type (the server does not start). Call it once, before
 * the first commit that writes runs.
 */
export function initVisibility(engine: Engine, searchAttributes: Record<string, string> = {}): void {
  const vis = visibilityFor(engine.store);
  engine.beforeCommit((runs) => recordVisibility(engine.store, runs));
  const attributes: Record<string, SaType> = {};
  for (const [name, typeName] of Object.entries(searchAttributes)) {
    const type = parseSaTypeName(typeName);
    if (type === undefined) {
      throw new Error(
        `search attribute ${name} has unknown type ${typeName}: use Text, Keyword, Int, Double, Bool, Datetime or KeywordList`,
      );
    }
    if (isReservedName(name) || !CUSTOM_NAME.test(name)) {
      throw new Error(`search attribute name ${name} is reserved or invalid`);
    }
    attributes[name] = type;
  }
  if (Object.keys(attributes).length > 0) vis.registry.addDefaults(attributes);
  const backfilled = vis.backfill(engine);
  if (backfilled > 0) engine.logger.info('visibility index backfilled', { runs: backfilled });
}
