/**
 * The committed Web UI assets were built from the pinned @temporalio/ui by `npm run build:ui`, from the shell as it
 * is now: every file matches the manifest, the manifest names the pinned version, the lockfile resolves that version,
 * the build inputs hash to what the manifest recorded (a changed shell or patch without a rebuild fails here), and the
 * manifest lists the patches applied to @temporalio/ui (infra/ui/build/patches/) as they are committed.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import {
  UI_ASSETS_DIR,
  UI_BUILD_DIR,
  UI_PATCHES_DIR_NAME,
  buildInputFiles,
  describeAssets,
  hashBuildInputs,
  listUiPatches,
  pinnedTemporalUiVersion,
  readUiManifest,
} from '../infra/ui/manifest';

describe('the committed Web UI assets', () => {
  const manifest = readUiManifest();

  it('match the manifest file by file (path, size, sha256), with nothing extra or missing', () => {
    expect(describeAssets(UI_ASSETS_DIR)).toEqual(manifest.files);
    expect(manifest.files.map((file) => file.path)).toContain('index.html');
  });

  it('were built from the pinned @temporalio/ui version, which the lockfile resolves', () => {
    const pinned = pinnedTemporalUiVersion();
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/); // exact, not a range
    expect(manifest.temporalUiVersion).toBe(pinned);
    expect(manifest.builtWith['@temporalio/ui']).toBe(pinned);
    const lock = JSON.parse(readFileSync(join(UI_BUILD_DIR, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    };
    expect(lock.packages['node_modules/@temporalio/ui']?.version).toBe(pinned);
  });

  it('were built from the shell as committed (the build inputs hash matches)', () => {
    expect(hashBuildInputs()).toBe(manifest.inputsSha256);
  });

  it('were built with the patches as committed, each a build input whose change the inputs hash catches', () => {
    const patches = listUiPatches();
    expect(manifest.patches).toEqual(patches);
    const pinned = pinnedTemporalUiVersion();
    for (const { name } of patches) {
      // patch-package's names: applied to the pinned version, in order, one concern each.
      expect(name).toMatch(
        new RegExp(`^@temporalio\\+ui\\+${pinned.replace(/\./g, '\\.')}\\+\\d{3}\\+[a-z0-9-]+\\.patch$`),
      );
      expect(buildInputFiles()).toContain(`${UI_PATCHES_DIR_NAME}/${name}`);
    }
    // A copy of the shell with one patch changed (or one patch more) no longer hashes to the manifest's inputs.
    const copy = mkdtempSync(join(tmpdir(), 'mloe-ui-inputs-'));
    try {
      for (const file of buildInputFiles()) {
        mkdirSync(dirname(join(copy, file)), { recursive: true });
        cpSync(join(UI_BUILD_DIR, file), join(copy, file));
      }
      expect(hashBuildInputs(copy)).toBe(manifest.inputsSha256);
      const dir = join(copy, UI_PATCHES_DIR_NAME);
      const [first] = readdirSync(dir).sort();
      expect(first).toBeDefined();
      writeFileSync(join(dir, first!), `${readFileSync(join(dir, first!), 'utf8')}\n`);
      expect(hashBuildInputs(copy)).not.toBe(manifest.inputsSha256);
      writeFileSync(join(dir, first!), readFileSync(join(UI_BUILD_DIR, UI_PATCHES_DIR_NAME, first!)));
      writeFileSync(join(dir, `@temporalio+ui+${pinned}+999+extra.patch`), '');
      expect(hashBuildInputs(copy)).not.toBe(manifest.inputsSha256);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('pin every build dependency exactly, and the root package does not depend on any of them', () => {
    const build = JSON.parse(readFileSync(join(UI_BUILD_DIR, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
      dependencies?: Record<string, string>;
    };
    expect(build.dependencies).toBeUndefined();
    for (const version of Object.values(build.devDependencies)) expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const root = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const name of Object.keys(build.devDependencies)) {
      expect(root.dependencies[name]).toBeUndefined();
      expect(root.devDependencies[name]).toBeUndefined();
    }
  });
});
