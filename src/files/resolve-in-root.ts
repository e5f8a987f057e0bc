/**
 * Paths inside another system's root filesystem (an image's), read by the host as root. The
 * image's links are the image's: `/vmlinuz -> /etc/shadow` means the image's /etc/shadow, never
 * the host's. So links are resolved by hand, each absolute one from the image's root and `..`
 * never above it, as a chroot would; the host's kernel never follows one of them.
 */
import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import path from 'node:path';
import { BakeError } from '../errors/index.js';

/** Linux's own limit on links followed while resolving one path. */
const MAX_LINKS = 40;

/**
 * The host path `target` (absolute inside `root`) leads to, with every link resolved inside
 * `root`; undefined when it does not exist, a non-folder is passed through, or links loop.
 * Meant for a root nothing changes meanwhile (an instance that is not running).
 */
export async function resolveInRoot(root: string, target: string): Promise<string | undefined> {
  const pending = target.split('/').filter((part) => part !== '' && part !== '.');
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      resolved.pop();
      continue;
    }
    const here = path.join(root, ...resolved, name);
    const stats = await lstat(here).catch(() => undefined);
    if (!stats) return undefined;
    if (stats.isSymbolicLink()) {
      if (++links > MAX_LINKS) return undefined;
      const link = await readlink(here);
      if (link.startsWith('/')) resolved = [];
      pending.unshift(...link.split('/').filter((part) => part !== '' && part !== '.'));
      continue;
    }
    if (pending.length > 0 && !stats.isDirectory()) return undefined;
    resolved.push(name);
  }
  return path.join(root, ...resolved);
}

/** A regular file's bytes inside `root` (links resolved inside it), at most `maxBytes`; undefined if it is not one. */
export async function readFileInRoot(root: string, target: string, maxBytes: number): Promise<Buffer | undefined> {
  const file = await resolveInRoot(root, target);
  if (!file) return undefined;
  // O_NOFOLLOW: the last part was checked to be no link; should it have become one, nothing is read.
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    () => undefined,
  );
  if (!handle) return undefined;
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return undefined;
    if (stats.size > maxBytes) throw new BakeError(`${target} is larger than ${maxBytes} bytes`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
