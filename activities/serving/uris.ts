/** Model references as `mloe serve` and `deploy@1` take them. */
import { ConfigError } from '../../core/errors';

/** `NAME@ALIAS`, `NAME/VERSION` or a `models:/` URI, as a `models:/` URI; `CONFIG_INVALID` otherwise. */
export function modelUriOf(reference: string): string {
  if (reference.startsWith('models:/')) return reference;
  if (/^[^@/][^@]*@[^@/]+$/.test(reference) || /^.+\/\d+$/.test(reference)) return `models:/${reference}`;
  throw new ConfigError(
    `expected NAME@ALIAS, NAME/VERSION or a models:/ URI (e.g. penguins@champion, models:/penguins/3), got "${reference}"`,
  );
}
