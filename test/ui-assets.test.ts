/**
 * The committed Web UI assets were built from the pinned @temporalio/ui by `npm run build:ui`, from the shell as it
 * is now: every file matches the manifest, the manifest names the pinned version, the lockfile resolves that version,
 * and the build inputs hash to what the manifest recorded (a changed shell without a rebuild fails here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  UI_ASSETS_DIR,
  UI_BUILD_DIR,
  describeAssets,
  hashBuildInputs,
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
