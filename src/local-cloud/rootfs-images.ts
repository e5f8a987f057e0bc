/**
 * Image filesystems under `<stateDir>/images/`. A captured image is a directory
 * `images/<imageId>/rootfs`; a copy of it (CopyImage into another region) is a symlink
 * `images/<newId> -> <imageId>`, so copies cost nothing. Deregistering the captured id while
 * copies still point at it only marks it; the files go with the last id that refers to them.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudError } from '../errors/index.js';
import { copyRootfs, removeRootfs } from './rootfs.js';

const DEREGISTERED = 'deregistered';

export class ImageStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  /** The filesystem behind an image id. */
  async rootfsOf(imageId: string): Promise<string> {
    return this.serially(async () => path.join(this.dir, await this.physical(imageId), 'rootfs'));
  }

  /** Copies an (already stopped) instance's filesystem into a new image. */
  async capture(instanceRootfs: string, imageId: string): Promise<void> {
    checkId(imageId);
    const target = path.join(this.dir, imageId);
    if (existsSync(target)) throw new CloudError(`image ${imageId} already exists on this host`);
    // Copied outside the queue: it takes seconds, and other images need not wait for it.
    const temp = path.join(this.dir, `.${imageId}.tmp`);
    await copyRootfs(instanceRootfs, path.join(temp, 'rootfs'));
    await this.serially(() => rename(temp, target));
  }

  async alias(imageId: string, newImageId: string): Promise<void> {
    checkId(newImageId);
    await this.serially(async () => {
      const physical = await this.physical(imageId);
      const link = path.join(this.dir, newImageId);
      if (existsSync(link)) throw new CloudError(`image ${newImageId} already exists on this host`);
      await symlink(physical, link);
    });
  }

  async delete(imageId: string): Promise<void> {
    checkId(imageId);
    await this.serially(async () => {
      const entry = path.join(this.dir, imageId);
      const info = await lstat(entry).catch(() => undefined);
      if (!info) return;
      let physical = imageId;
      if (info.isSymbolicLink()) {
        physical = await readlink(entry);
        await unlink(entry);
      } else {
        await writeFile(path.join(entry, DEREGISTERED), '');
      }
      if (existsSync(path.join(this.dir, physical, DEREGISTERED)) && !(await this.referrers(physical)).length) {
        // Renamed first so that a crash mid-removal leaves a name `sweep` knows to finish.
        const doomed = path.join(this.dir, `.${physical}.deleting`);
        await rename(path.join(this.dir, physical), doomed);
        await removeRootfs(doomed);
      }
    });
  }

  /** Finishes what a crash interrupted: half-made captures and half-removed images. */
  async sweep(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('.') && (name.endsWith('.tmp') || name.endsWith('.deleting'))) await removeRootfs(path.join(this.dir, name));
    }
  }

  private async physical(imageId: string): Promise<string> {
    checkId(imageId);
    const entry = path.join(this.dir, imageId);
    const info = await lstat(entry).catch(() => undefined);
    const physical = info?.isSymbolicLink() ? await readlink(entry) : imageId;
    const dir = path.join(this.dir, physical);
    if (!info || !existsSync(path.join(dir, 'rootfs')) || (physical === imageId && existsSync(path.join(dir, DEREGISTERED)))) {
      throw new CloudError(`image ${imageId} has no filesystem on this host`);
    }
    return physical;
  }

  private async referrers(physical: string): Promise<string[]> {
    const names: string[] = [];
    for (const name of await readdir(this.dir)) {
      const link = await readlink(path.join(this.dir, name)).catch(() => undefined);
      if (link === physical) names.push(name);
    }
    return names;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Image ids become directory names: nothing that could climb out of `images/`. */
function checkId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new CloudError(`not an image id: ${JSON.stringify(id)}`);
}
