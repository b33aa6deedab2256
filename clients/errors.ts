/**
 * The mloe error taxonomy, re-exported from `core/errors.ts` (its home, shared by every layer) so that existing
 * `clients/errors` imports keep working.
 */
export * from '../core/errors';
