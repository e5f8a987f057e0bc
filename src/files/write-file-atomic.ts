/**
 * Replaces a file so that readers see either the old or the new content, never half of it:
 * write a temp file in the same directory (same filesystem, so rename is atomic), fsync it,
 * read it back, give it the original file's mode, rename it over the original.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** Checks the text as written (parse it, say) before it replaces the file; throwing keeps the old file. */
  verify?: (written: string) => void | Promise<void>;
  /** Mode for a new file (an existing file keeps its own). */
  mode?: number;
  /** Create missing parent folders (generated output); off for user files such as tfvars, where a missing folder is a typo. */
  createDirectory?: boolean;
}

export async function writeFileAtomic(file: string, text: string, options: AtomicWriteOptions = {}): Promise<void> {
  if (options.createDirectory) await mkdir(path.dirname(file), { recursive: true });
  // Through a symlink, replace the file it points to and keep the link.
  const target = await realpath(file).catch(() => file);
  const mode = await stat(target).then(
    (s) => s.mode & 0o7777,
    () => options.mode,
  );
  const temp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.bake-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  const bytes = Buffer.from(text, 'utf8');
  try {
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode ?? 0o666);
    try {
      await handle.writeFile(bytes);
      // open() applies the umask; the original's mode must survive the replacement.
      if (mode !== undefined) await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!bytes.equals(await readFile(temp))) throw new Error(`${temp}: read back differs from what was written`);
    if (options.verify) await options.verify(text);
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    // A full disk is reported against the file being written, not the temp file that is gone now.
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC' || (error as NodeJS.ErrnoException).code === 'EDQUOT')
      (error as NodeJS.ErrnoException).path = target;
    throw error;
  }
  await syncDirectory(path.dirname(target));
}

/** Makes the rename itself durable; some platforms cannot open a directory, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}
