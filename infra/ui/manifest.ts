/**
 * The manifest of the committed Web UI assets (`infra/ui/assets/`): which `@temporalio/ui` version they were built
 * from, a hash of the build's inputs (the shell in `infra/ui/build/`), and every file with its size and sha256.
 * `npm run build:ui` writes it; `test/ui-assets.test.ts` checks the assets, the pin and the inputs against it, the way
 * Temporal's ui-server checks in the UI it embeds.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/** The folder of the committed, built assets served by the UI server. */
export const UI_ASSETS_DIR = resolve(__dirname, 'assets');

/** The build-only package (the SvelteKit shell around `@temporalio/ui`), installed only by `npm run build:ui`. */
export const UI_BUILD_DIR = resolve(__dirname, 'build');

/**
 * The folder (inside {@link UI_BUILD_DIR}) of the patches `npm run build:ui` applies to the pinned `@temporalio/ui`
 * with patch-package before building; its files are build inputs like the shell's.
 */
export const UI_PATCHES_DIR_NAME = 'patches';

/** Where the manifest lives: beside the assets, not among them, so it is never served. */
export const UI_MANIFEST_FILE = resolve(__dirname, 'assets-manifest.json');

/** One built file. */
export interface UiAssetEntry {
  /** Path relative to the assets folder, with `/` separators. */
  path: string;
  size: number;
  /** Hex sha256 of the file's bytes; also the file's HTTP ETag. */
  sha256: string;
}

/** One patch applied to the pinned `@temporalio/ui` (a file of {@link UI_PATCHES_DIR_NAME}). */
export interface UiPatchEntry {
  /** The patch file's name (patch-package's `<package>+<version>+<order>+<concern>.patch`). */
  name: string;
  /** Hex sha256 of the patch file. */
  sha256: string;
}

/** What `npm run build:ui` records about a build. */
export interface UiAssetsManifest {
  /** The `@temporalio/ui` version the assets were built from (the exact pin in `infra/ui/build/package.json`). */
  temporalUiVersion: string;
  /** sha256 over the build inputs ({@link buildInputFiles}), so a changed shell without a rebuild is caught. */
  inputsSha256: string;
  /** Versions of the tools of the build, for the record. */
  builtWith: Record<string, string>;
  /** The patches applied to `@temporalio/ui` before the build ({@link listUiPatches}), in the order applied. */
  patches?: UiPatchEntry[];
  files: UiAssetEntry[];
}

/** Files under `dir`, recursively, as sorted `/`-separated paths relative to `dir`; `skip` names folders to leave out. */
export function listFiles(dir: string, skip: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      const full = join(current, name);
      if (statSync(full).isDirectory()) {
        if (!skip.has(name)) walk(full);
      } else {
        out.push(relative(dir, full).split(sep).join('/'));
      }
    }
  };
  walk(dir);
  return out.sort();
}

/** Hex sha256 of some bytes. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The files that determine the build: the shell's package.json and lockfile, its configuration, its sources and the
 * patches to `@temporalio/ui` ({@link UI_PATCHES_DIR_NAME}), relative to {@link UI_BUILD_DIR}; never node_modules or
 * build output.
 */
export function buildInputFiles(buildDir: string = UI_BUILD_DIR): string[] {
  return listFiles(buildDir, new Set(['node_modules', 'out', '.svelte-kit']));
}

/** sha256 over the build inputs: each file's path and the sha256 of its bytes, one line each, in path order. */
export function hashBuildInputs(buildDir: string = UI_BUILD_DIR): string {
  const lines = buildInputFiles(buildDir).map((path) => `${path} ${sha256(readFileSync(join(buildDir, path)))}\n`);
  return sha256(lines.join(''));
}

/** Describes every file under `assetsDir` (path, size, sha256). */
export function describeAssets(assetsDir: string = UI_ASSETS_DIR): UiAssetEntry[] {
  return listFiles(assetsDir).map((path) => {
    const bytes = readFileSync(join(assetsDir, path));
    return { path, size: bytes.length, sha256: sha256(bytes) };
  });
}

/** Reads the manifest; throws a plain `Error` naming the file when it is missing or malformed. */
export function readUiManifest(file: string = UI_MANIFEST_FILE): UiAssetsManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the UI assets manifest ${file}: ${(error as Error).message}; run npm run build:ui`, {
      cause: error,
    });
  }
  const manifest = parsed as Partial<UiAssetsManifest>;
  if (typeof manifest.temporalUiVersion !== 'string' || !Array.isArray(manifest.files)) {
    throw new Error(`the UI assets manifest ${file} lacks temporalUiVersion or files; run npm run build:ui`);
  }
  return manifest as UiAssetsManifest;
}

/** The exact `@temporalio/ui` version pinned in the build package's package.json. */
export function pinnedTemporalUiVersion(buildDir: string = UI_BUILD_DIR): string {
  const pkg = JSON.parse(readFileSync(join(buildDir, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const version = pkg.devDependencies?.['@temporalio/ui'];
  if (version === undefined) throw new Error(`${buildDir}/package.json does not depend on @temporalio/ui`);
  return version;
}

/** The patches of {@link UI_PATCHES_DIR_NAME} with their sha256, in the order patch-package applies them (by name). */
export function listUiPatches(buildDir: string = UI_BUILD_DIR): UiPatchEntry[] {
  const dir = join(buildDir, UI_PATCHES_DIR_NAME);
  if (!existsSync(dir)) return [];
  return listFiles(dir)
    .filter((name) => name.endsWith('.patch'))
    .map((name) => ({ name, sha256: sha256(readFileSync(join(dir, name))) }));
}
