/**
 * Artifacts in a local directory. A file is written under a staging directory of the root ({@link STAGING_DIR}),
 * fsync'd and renamed into place, so readers see the old file or the whole new one, and an acknowledged upload
 * survives a crash.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { invalidParameter } from '../errors';
import { fileUri } from '../uris';
import type { ArtifactFileInfo, ArtifactRepository } from './repository';

/** Where uploads are written before they are renamed into place; hidden from listings of the root. */
export const STAGING_DIR = '.mloe-uploads';

/** Artifacts under `root`, an absolute directory (created on the first upload). */
export class FileArtifactRepository implements ArtifactRepository {
  readonly uri: string;

  constructor(private readonly root: string) {
    this.uri = fileUri(root);
  }

  async put(path: string, body: Readable): Promise<void> {
    guard(path);
    const target = join(this.root, path);
    await mkdir(dirname(target), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOTDIR' || error.code === 'EEXIST') {
        throw invalidParameter(`Invalid path '${path}': one of its parent directories is a file`);
      }
      throw error;
    });
    const existing = await stat(target).catch(() => undefined);
    if (existing?.isDirectory() === true) throw invalidParameter(`Invalid path '${path}': it is a directory`);
    await mkdir(join(this.root, STAGING_DIR), { recursive: true });
    const staged = join(this.root, STAGING_DIR, randomUUID());
    try {
      await pipeline(body, createWriteStream(staged, { flags: 'wx' }));
      const handle = await open(staged, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(staged, target);
      const directory = await open(dirname(target), 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
  }

  async get(path: string): Promise<{ body: Readable; size: number } | undefined> {
    guard(path);
    const target = join(this.root, path);
    const info = await stat(target).catch(() => undefined);
    if (info === undefined || !info.isFile()) return undefined;
    return { body: createReadStream(target), size: info.size };
  }

  async list(path: string): Promise<ArtifactFileInfo[]> {
    guard(path);
    const directory = path === '' ? this.root : join(this.root, path);
    const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
    const infos: ArtifactFileInfo[] = [];
    for (const entry of entries) {
      if (path === '' && entry.name === STAGING_DIR) continue;
      if (entry.isDirectory()) infos.push({ name: entry.name, isDir: true });
      else if (entry.isFile()) {
        const { size } = await stat(join(directory, entry.name));
        infos.push({ name: entry.name, isDir: false, size });
      }
    }
    return infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(path: string): Promise<void> {
    guard(path);
    await rm(join(this.root, path), { recursive: true, force: true });
  }
}

/** Paths inside the staging directory belong to uploads in flight, never to clients. */
function guard(path: string): void {
  if (path === STAGING_DIR || path.startsWith(`${STAGING_DIR}/`)) {
    throw invalidParameter(`Invalid path '${path}': ${STAGING_DIR} is reserved for uploads in progress`);
  }
}
