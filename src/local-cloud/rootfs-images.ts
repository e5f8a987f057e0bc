/**
 * Image filesystems under `<stateDir>/images/`, as overlayfs layers. A captured image is a
 * directory `images/<imageId>/` holding `layer/` (what its build instance changed: the
 * instance's upper directory, copied) and `layers` (JSON: every layer the image consists of,
 * its own first, down to the debootstrap base). Layers are never written once made, so images
 * are immutable and an instance or image costs only its own changes. A copy (CopyImage into
 * another region) is a symlink `images/<newId> -> <imageId>`. Deregistering only marks an
 * image while a copy, a child image or an instance still stands on its layer; the files go
 * when the last of them does.
 */
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { CloudError } from '../errors/index.js';
import { writeFileAtomic } from '../files/write-file-atomic.js';
import { copyRootfs, removeRootfs } from './rootfs.js';

const DEREGISTERED = 'deregistered';
export const LAYERS_FILE = 'layers';

export class ImageStore {
  private queue: Promise<unknown> = Promise.resolve();

  /** `layersInUse` lists the layers instances stand on (their own `layers` files). */
  constructor(
    readonly dir: string,
    private readonly layersInUse: () => Promise<string[]> = async () => [],
  ) {}

  /** The image's layers, its own first: the lower directories of an instance launched from it. */
  async layersOf(imageId: string): Promise<string[]> {
    return this.serially(async () => readLayers(path.join(this.dir, await this.physical(imageId))));
  }

  /** Keeps a stopped instance's changes (`upper`, on top of `lowers`) as a new image. */
  async capture(upper: string, lowers: string[], imageId: string): Promise<void> {
    checkId(imageId);
    const target = path.join(this.dir, imageId);
    if (existsSync(target)) throw new CloudError(`image ${imageId} already exists on this host`);
    // Copied outside the queue: other images need not wait for it. Only the instance's own
    // changes are copied; the instance may run on and change them after the capture.
    const temp = path.join(this.dir, `.${imageId}.tmp`);
    await copyRootfs(upper, path.join(temp, 'layer'));
    await writeFile(path.join(temp, LAYERS_FILE), `${JSON.stringify([path.join(target, 'layer'), ...lowers])}\n`);
    await this.serially(() => rename(temp, target));
  }

  /**
   * Keeps a stopped instance's changes as a new image without copying them: its upper directory
   * becomes the image's layer, and the instance stands on that layer from now on with a new,
   * empty upper directory (same owner and mode) of its own. The instance sees the same files and
   * its later writes stay its own, so the image holds exactly what it wrote up to the capture.
   * The steps are ordered so that a crash between any two leaves the changes where
   * `resumeCapture` finds them: the image's folder first, then the instance's layer list, then
   * the move. Falls back to a copy when the two are not on one filesystem.
   */
  async captureByMove(instanceDir: string, upper: string, lowers: string[], imageId: string): Promise<void> {
    checkId(imageId);
    const target = path.join(this.dir, imageId);
    const layer = path.join(target, 'layer');
    if (existsSync(target)) throw new CloudError(`image ${imageId} already exists on this host`);
    const upperInfo = await stat(upper);
    const temp = path.join(this.dir, `.${imageId}.tmp`);
    await mkdir(temp, { recursive: true });
    await writeFile(path.join(temp, LAYERS_FILE), `${JSON.stringify([layer, ...lowers])}\n`);
    await this.serially(() => rename(temp, target));
    try {
      await writeFileAtomic(path.join(instanceDir, LAYERS_FILE), `${JSON.stringify([layer, ...lowers])}\n`);
      await rename(upper, layer);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyRootfs(upper, layer);
      await removeRootfs(upper);
    }
    await mkdir(upper);
    await chown(upper, upperInfo.uid, upperInfo.gid);
    await chmod(upper, upperInfo.mode & 0o7777);
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
      if (info.isSymbolicLink()) await unlink(entry);
      else await writeFile(path.join(entry, DEREGISTERED), '');
      await this.removeUnused();
    });
  }

  /** Removes deregistered images nothing stands on any more (after an instance is terminated). */
  async collect(): Promise<void> {
    await this.serially(() => this.removeUnused());
  }

  /** Finishes what a crash interrupted: half-made captures and half-removed images. */
  async sweep(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('.') && (name.endsWith('.tmp') || name.endsWith('.deleting')))
        await removeRootfs(path.join(this.dir, name));
    }
  }

  private async removeUnused(): Promise<void> {
    // Repeated: removing a child image may free its parent's layer.
    for (let removed = true; removed;) {
      removed = false;
      const names = (await readdir(this.dir).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
      const links = new Set<string>();
      const used = new Set(await this.layersInUse());
      for (const name of names) {
        const entry = path.join(this.dir, name);
        const link = await readlink(entry).catch(() => undefined);
        if (link !== undefined) links.add(link);
        else if (!existsSync(path.join(entry, DEREGISTERED)))
          for (const layer of await readLayers(entry).catch(() => [])) used.add(layer);
      }
      for (const name of names) {
        const entry = path.join(this.dir, name);
        if (!existsSync(path.join(entry, DEREGISTERED)) || links.has(name) || (await lstat(entry)).isSymbolicLink())
          continue;
        // Deregistered images still count for the layers below their own while they exist.
        const own = path.join(entry, 'layer');
        const standing = [...used].some((layer) => layer === own);
        const childOf = await this.childrenOf(own, names);
        if (standing || childOf) continue;
        // Renamed first so that a crash mid-removal leaves a name `sweep` knows to finish.
        const doomed = path.join(this.dir, `.${name}.deleting`);
        await rename(entry, doomed);
        await removeRootfs(doomed);
        removed = true;
        break;
      }
    }
  }

  /** True when another image (deregistered or not) is made of this layer. */
  private async childrenOf(layer: string, names: string[]): Promise<boolean> {
    for (const name of names) {
      const entry = path.join(this.dir, name);
      if ((await lstat(entry)).isSymbolicLink()) continue;
      const layers = await readLayers(entry).catch(() => [] as string[]);
      if (layers.slice(1).includes(layer)) return true;
    }
    return false;
  }

  private async physical(imageId: string): Promise<string> {
    checkId(imageId);
    const entry = path.join(this.dir, imageId);
    const info = await lstat(entry).catch(() => undefined);
    const physical = info?.isSymbolicLink() ? await readlink(entry) : imageId;
    const dir = path.join(this.dir, physical);
    if (!info || (physical === imageId && existsSync(path.join(dir, DEREGISTERED))))
      throw new CloudError(`image ${imageId} has no filesystem on this host`);
    if (!existsSync(path.join(dir, LAYERS_FILE))) {
      throw new CloudError(
        `image ${imageId} was made by an older bake whose instances did not boot: delete .bake/local and build again`,
      );
    }
    return physical;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/**
 * After a crash in the middle of `captureByMove`: an instance whose layer list already names its
 * new image's layer while its changes are still in its upper directory gets them moved there.
 */
export async function resumeCapture(instanceDir: string, imagesDir: string): Promise<void> {
  let layers: unknown;
  try {
    layers = JSON.parse(await readFile(path.join(instanceDir, LAYERS_FILE), 'utf8'));
  } catch {
    // No list (a launch a crash cut short) or not one: readLayers says so when the instance boots.
    return;
  }
  const top = Array.isArray(layers) ? (layers[0] as unknown) : undefined;
  if (typeof top !== 'string' || existsSync(top)) return;
  const upper = path.join(instanceDir, 'upper');
  // Only the layer of an image this store made, whose folder the capture's first step left.
  if (path.dirname(path.dirname(top)) !== imagesDir || path.basename(top) !== 'layer') return;
  if (!existsSync(path.join(path.dirname(top), LAYERS_FILE)) || !existsSync(upper)) return;
  await rename(upper, top);
}

/** The `layers` list of an image or instance directory; every entry must still exist. */
export async function readLayers(dir: string): Promise<string[]> {
  const layers = JSON.parse(await readFile(path.join(dir, LAYERS_FILE), 'utf8')) as unknown;
  if (!Array.isArray(layers) || !layers.every((l) => typeof l === 'string' && path.isAbsolute(l)))
    throw new CloudError(`${path.join(dir, LAYERS_FILE)} is not a list of directories`);
  const missing = layers.find((layer) => !existsSync(layer));
  if (missing)
    throw new CloudError(`${dir} stands on ${missing}, which is gone (was the root filesystem cache deleted?)`);
  return layers;
}

/** Image ids become directory names: nothing that could climb out of `images/`. */
function checkId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new CloudError(`not an image id: ${JSON.stringify(id)}`);
}
