/**
 * A script the embedded UI's `index.html` runs before the official UI boots: `Intl.DateTimeFormat` hands out one
 * formatter per distinct (locales, options) instead of building a new one on every call.
 *
 * Why: the pinned `@temporalio/ui` formats each event's time by building a new `Intl.DateTimeFormat` (through its own
 * date helpers and date-fns-tz) several times per event; on a 10,000-event history that was about 1.9 s of the history
 * page's main thread here (see docs/benchmarks.md). A formatter is immutable once built, so sharing one between callers
 * that asked for the same thing changes nothing they can observe. Calls whose arguments cannot be keyed exactly
 * (anything but plain strings, numbers, booleans, `undefined`, arrays and plain objects of them) are passed through;
 * so are subclass constructions. `instanceof`, the prototype and `supportedLocalesOf` are the original's (a `Proxy`).
 */

import { insertEarlyInHead } from './html-head';

/** The script, as inlined into `index.html` (plain ES2015, no dependencies). */
export const FORMATTER_CACHE_SCRIPT = `(function () {
  var Original = Intl.DateTimeFormat;
  var cache = new Map();
  var LIMIT = 500;
  function keyPart(value) {
    if (value === undefined) return 'u';
    if (value === null) return 'z';
    var type = typeof value;
    if (type === 'string') return 's' + JSON.stringify(value);
    if (type === 'number' || type === 'boolean') return type.charAt(0) + String(value);
    if (Array.isArray(value)) {
      var items = [];
      for (var i = 0; i < value.length; i++) {
        var item = keyPart(value[i]);
        if (item === undefined) return undefined;
        items.push(item);
      }
      return '[' + items.join(',') + ']';
    }
    if (type === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      var names = Object.keys(value).sort();
      var fields = [];
      for (var j = 0; j < names.length; j++) {
        var field = keyPart(value[names[j]]);
        if (field === undefined) return undefined;
        fields.push(JSON.stringify(names[j]) + ':' + field);
      }
      return '{' + fields.join(',') + '}';
    }
    return undefined;
  }
  function formatter(args) {
    var key = keyPart(Array.prototype.slice.call(args));
    if (key === undefined) return Reflect.construct(Original, args);
    var known = cache.get(key);
    if (known !== undefined) return known;
    var made = Reflect.construct(Original, args);
    if (cache.size >= LIMIT) cache.clear();
    cache.set(key, made);
    return made;
  }
  var proxy = new Proxy(Original, {
    construct: function (target, args, newTarget) {
      return newTarget === proxy ? formatter(args) : Reflect.construct(target, args, newTarget);
    },
    apply: function (target, self, args) {
      return formatter(args);
    },
  });
  Intl.DateTimeFormat = proxy;
})();`;

/** `html` with {@link FORMATTER_CACHE_SCRIPT} inlined early in its head ({@link insertEarlyInHead}), before the UI boots. */
export function withFormatterCache(html: string): string {
  return insertEarlyInHead(html, `<script>${FORMATTER_CACHE_SCRIPT}</script>`);
}
