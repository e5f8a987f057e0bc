/**
 * Where a path really leads, and whether that is inside one of the folders bake may touch.
 * Lexical checks (`..`, absolute paths) are not enough: a symlink anywhere on the way can
 * lead out, so the real path of the deepest existing part is what is compared.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';

export type Containment = { inside: true; real: string } | { inside: false; real: string; reason: string };

/**
 * The real path of `file` (which may not exist yet: then its nearest existing parent is
 * resolved and the rest appended), and whether it lies within one of `roots`.
 */
export async function resolveContained(file: string, roots: readonly string[]): Promise<Containment> {
  let real: string | undefined;
  try {
    real = await realPathOf(path.resolve(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP')
      return { inside: false, real: file, reason: 'is a loop of symbolic links' };
    throw error;
  }
  if (real === undefined) return { inside: false, real: file, reason: 'is a symbolic link to nothing (dangling)' };
  const realRoots = await Promise.all(
    roots.map(async (root) => (await realPathOf(path.resolve(root))) ?? path.resolve(root)),
  );
  if (realRoots.some((root) => isWithin(real, root))) return { inside: true, real };
  const how = real === path.resolve(file) ? 'is' : 'leads through a symbolic link to';
  return { inside: false, real, reason: `${how} ${real}, outside ${realRoots.join(' and ')}` };
}

export function isWithin(file: string, root: string): boolean {
  const relative = path.relative(root, file);
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}

/** undefined for a dangling symlink; a missing tail is appended to its parent's real path. */
async function realPathOf(absolute: string): Promise<string | undefined> {
  try {
    return await realpath(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    if (
      await lstat(absolute).then(
        (s) => s.isSymbolicLink(),
        () => false,
      )
    )
      return undefined;
    const parent = path.dirname(absolute);
    if (parent === absolute) return absolute;
    const realParent = await realPathOf(parent);
    return realParent === undefined ? undefined : path.join(realParent, path.basename(absolute));
  }
}
