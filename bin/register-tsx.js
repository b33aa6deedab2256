// Registers tsx for mloe's executables (bin/mloe.js, bin/mloe-test-server.js): TypeScript compiled in-process, with
// the project's tsconfig whatever the current directory is.
//
// tsx checks every `.js` file it loads for ES module syntax (reading it into a lexer) before handing it to Node,
// which about doubles the time it takes to load the Temporal SDK and the AWS SDK (every CLI start, every test spawn).
// A `.js` file in node_modules whose package is CommonJS needs none of that: Node's own loader takes it directly,
// without the source maps tsx turns on (indexing every dependency's map at load time costs a few hundred ms more).
// ES module packages (`"type": "module"`), `.mjs` files and our own TypeScript still go through tsx, with source maps.
'use strict';

const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

/**
 * The `type` of the nearest package.json above `directory` (`commonjs` when it says none), memoised per directory.
 * @type {Map<string, string>}
 */
const packageTypes = new Map();

/** @param {string} directory @returns {string} */
function packageType(directory) {
  const known = packageTypes.get(directory);
  if (known !== undefined) return known;
  let type = 'commonjs';
  let text;
  try {
    text = fs.readFileSync(path.join(directory, 'package.json'), 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    try {
      /** @type {unknown} */
      const parsed = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && 'type' in parsed && parsed.type === 'module')
        type = 'module';
    } catch {
      type = 'unknown'; // let tsx decide
    }
  } else {
    const parent = path.dirname(directory);
    type = parent === directory ? 'commonjs' : packageType(parent);
  }
  packageTypes.set(directory, type);
  return type;
}

/** Registers tsx, then routes CommonJS dependencies around its ES module check. */
function registerTsx() {
  process.env.TSX_TSCONFIG_PATH ??= path.join(__dirname, '..', 'tsconfig.json');
  // Node's loaders by extension: not in @types/node, but what tsx itself hooks.
  const extensions = /** @type {{ _extensions: Record<string, (module: NodeJS.Module, filename: string) => void> }} */ (
    /** @type {unknown} */ (Module)
  )._extensions;
  const nodeLoader = extensions['.js'];
  require('tsx/cjs/api').register();
  const tsxLoader = extensions['.js'];
  if (nodeLoader === undefined || tsxLoader === undefined || tsxLoader === nodeLoader) return;
  const withSourceMaps = process.sourceMapsEnabled;
  /** @param {NodeJS.Module} module @param {string} filename */
  extensions['.js'] = (module, filename) => {
    const native =
      filename.includes(NODE_MODULES) &&
      !filename.includes('?') &&
      (filename.endsWith('.cjs') || (filename.endsWith('.js') && packageType(path.dirname(filename)) === 'commonjs'));
    // tsx turns Node's source map support on for our TypeScript; for dependencies it would read and index the
    // source map of every file at load time (a few hundred ms for the SDKs), so they load without it.
    const sourceMaps = native ? false : withSourceMaps;
    const previous = process.sourceMapsEnabled;
    if (previous !== sourceMaps) process.setSourceMapsEnabled(sourceMaps);
    try {
      (native ? nodeLoader : tsxLoader)(module, filename);
    } finally {
      if (previous !== sourceMaps) process.setSourceMapsEnabled(previous);
    }
  };
}

module.exports = { registerTsx };
