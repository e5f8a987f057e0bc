/**
 * Writes a file atomically without ever following a link: an attacker who can write to the
 * folder (a shared /tmp) may plant a symlink at the file's path to make bake (root) write there:
 * a secret somewhere they can read, or a report over a root-only file of their choosing. The temp
 * file is created with O_EXCL|O_NOFOLLOW under a random name in the same folder; rename() then
 * replaces the directory entry, never what a link there points to.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { BakeError } from '../errors/index.js';

export class PrivateFileError extends BakeError {}

export interface NoFollowWriteOptions {
  /** The new file's mode (not the umask's, not an existing file's). */
  mode: number;
  /** What the file is, for the one-line refusal ("credentials", "the report"). */
  what: string;
  /** Create missing parent folders (generated output such as reports). */
  createDirectory?: boolean;
  /** Checks the text before it replaces the file; throwing keeps the old file. */
  verify?: (text: string) => void | Promise<void>;
}

/** Credentials: 0600, refused through a link. */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  await writeFileNoFollow(file, text, { mode: 0o600, what: 'credentials' });
}

export async function writeFileNoFollow(file: string, text: string, options: NoFollowWriteOptions): Promise<void> {
  const existing = await lstat(file).catch(() => undefined);
  if (existing?.isSymbolicLink())
    throw new PrivateFileError(
      `${file}: is a symbolic link; refusing to write ${options.what} through it (remove it or choose another path)`,
    );
  if (existing && !existing.isFile())
    throw new PrivateFileError(`${file}: is not a regular file; refusing to write ${options.what} there`);
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.bake-${process.pid}-${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    if (options.createDirectory) await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      options.mode,
    );
    try {
      await handle.writeFile(text);
      await handle.chmod(options.mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.verify) await options.verify(text);
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    if (error instanceof BakeError) throw error;
    throw new PrivateFileError(
      `${file}: cannot write: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
