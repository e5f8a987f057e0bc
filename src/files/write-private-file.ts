/**
 * Writes a file only its owner can read (credentials), atomically, without ever following a
 * link: an attacker who can write to the folder (a shared /tmp) may plant a symlink at the
 * file's path to make bake write the secret somewhere they can read, or overwrite a file of
 * their choosing. The temp file is created 0600 with O_EXCL|O_NOFOLLOW under a random name;
 * rename() then replaces the directory entry, never what a link there points to.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { BakeError } from '../errors/index.js';

export class PrivateFileError extends BakeError {}

export async function writePrivateFile(file: string, text: string): Promise<void> {
  const existing = await lstat(file).catch(() => undefined);
  if (existing?.isSymbolicLink())
    throw new PrivateFileError(
      `${file}: is a symbolic link; refusing to write credentials through it (remove it or choose another path)`,
    );
  if (existing && !existing.isFile())
    throw new PrivateFileError(`${file}: is not a regular file; refusing to write credentials there`);
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.bake-${process.pid}-${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await handle.writeFile(text);
      await handle.chmod(0o600);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    if (error instanceof BakeError) throw error;
    throw new PrivateFileError(
      `${file}: cannot write: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
