/**
 * Creates a file that must not exist yet, atomically: the text is written to a temp file beside
 * it, synced, then hard-linked into place. link() fails when anything, even a dangling symbolic
 * link, already has the name, so an existing file is never replaced or written through, and a
 * reader never sees the file half written.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';

export type CreateOutcome = 'created' | 'exists';

export async function createFileExclusive(file: string, text: string, mode = 0o644): Promise<CreateOutcome> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.bake-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, file);
    return 'created';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC' || (error as NodeJS.ErrnoException).code === 'EDQUOT')
      (error as NodeJS.ErrnoException).path = file;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
