/**
 * `npm run build:ui`: builds the Web UI's static assets from the pinned `@temporalio/ui`, the way Temporal's
 * ui-server vendors its UI. Installs the build-only package `infra/ui/build/` (`npm ci`: exactly its lockfile),
 * builds the SvelteKit shell with adapter-static, replaces `infra/ui/assets/` with the output and writes
 * `infra/ui/assets-manifest.json` (the pinned version, a hash of the build inputs, every file with its sha256).
 * Between the install and the build, `patch-package` (a dev dependency of the build package) applies our patches to
 * the pinned `@temporalio/ui` (`infra/ui/build/patches/`, one per concern, each saying what and why; they are build
 * inputs, hashed into the manifest). The root package never installs the build dependencies; only this script does.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  UI_ASSETS_DIR,
  UI_BUILD_DIR,
  UI_MANIFEST_FILE,
  UI_PATCHES_DIR_NAME,
  describeAssets,
  hashBuildInputs,
  listUiPatches,
  pinnedTemporalUiVersion,
  type UiAssetsManifest,
} from './manifest';

function run(command: string, args: string[], env: Record<string, string> = {}): void {
  process.stdout.write(`$ ${command} ${args.join(' ')}  (in ${UI_BUILD_DIR})\n`);
  execFileSync(command, args, {
    cwd: UI_BUILD_DIR,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production', ...env },
  });
}

function installedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(join(UI_BUILD_DIR, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  return lock.packages[`node_modules/${name}`]?.version ?? 'unknown';
}

function main(): void {
  const skipInstall = process.argv.includes('--skip-install');
  const inputsSha256 = hashBuildInputs();
  if (!skipInstall) run('npm', ['ci', '--no-audit', '--no-fund', '--include=dev']);
  // Applies each patch in order; a patch that no longer applies (a new pin) fails the build. Already applied (after
  // --skip-install) is fine: patch-package recognises it.
  run('npx', ['--no-install', 'patch-package', '--error-on-fail', '--patch-dir', UI_PATCHES_DIR_NAME]);
  rmSync(join(UI_BUILD_DIR, 'out'), { recursive: true, force: true });
  // SvelteKit's version name goes into the files: the inputs' hash keeps the build reproducible.
  run('npm', ['run', 'build'], { MLOE_UI_BUILD_ID: inputsSha256.slice(0, 16) });
  const out = join(UI_BUILD_DIR, 'out');
  if (!existsSync(join(out, 'index.html'))) throw new Error(`the build wrote no ${out}/index.html`);

  rmSync(UI_ASSETS_DIR, { recursive: true, force: true });
  cpSync(out, UI_ASSETS_DIR, { recursive: true });
  const files = describeAssets();
  const manifest: UiAssetsManifest = {
    temporalUiVersion: pinnedTemporalUiVersion(),
    inputsSha256,
    builtWith: Object.fromEntries(
      ['@temporalio/ui', '@sveltejs/kit', 'svelte', 'vite', 'tailwindcss'].map((name) => [
        name,
        installedVersion(name),
      ]),
    ),
    patches: listUiPatches(),
    files,
  };
  if (manifest.builtWith['@temporalio/ui'] !== manifest.temporalUiVersion) {
    throw new Error(
      `installed @temporalio/ui ${manifest.builtWith['@temporalio/ui']} differs from the pin ${manifest.temporalUiVersion}`,
    );
  }
  writeFileSync(UI_MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  process.stdout.write(
    `built @temporalio/ui ${manifest.temporalUiVersion}: ${files.length} files, ${(bytes / 1024 / 1024).toFixed(2)} MiB in ${UI_ASSETS_DIR}\n`,
  );
}

main();
