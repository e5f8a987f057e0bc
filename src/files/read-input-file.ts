/**
 * Reads a file the user pointed bake at (a recipe, the config, a tfvars, a template) without
 * ever hanging or crashing on what may be there instead: a FIFO would block a plain read
 * forever, a directory or a dangling link would surface as an internal error, and a huge file
 * would take minutes and gigabytes to parse. The file is opened non-blocking, checked through
 * its open handle (no race between the check and the read) and read up to a size limit.
 */
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { BakeError } from '../errors/index.js';

/** Recipes, the config, role metadata: a few KiB in practice. */
export const MAX_RECIPE_BYTES = 256 * 1024;
/** tfvars and templates may legitimately be larger. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/** The file is there but cannot be read as one (not a regular file, too big, a dangling link…). */
export class UnreadableInputError extends BakeError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/**
 * The file's bytes. A missing file (not a dangling link) rejects with the plain ENOENT error,
 * so callers that allow a missing file can tell it apart.
 */
export async function readInputFile(file: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw await openError(file, error as NodeJS.ErrnoException);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new UnreadableInputError(file, 'is a directory, not a file');
    if (!info.isFile())
      throw new UnreadableInputError(
        file,
        'is not a regular file (a FIFO, socket or device); bake reads only plain files',
      );
    if (info.size > maxBytes)
      throw new UnreadableInputError(file, `is ${info.size} bytes; bake reads at most ${maxBytes}`);
    // Read at most one byte past the limit: a file growing while it is read cannot bypass it.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes)
        throw new UnreadableInputError(file, `is over ${maxBytes} bytes; bake reads at most ${maxBytes}`);
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

async function openError(file: string, error: NodeJS.ErrnoException): Promise<Error> {
  switch (error.code) {
    case 'ENOENT': {
      const link = await lstat(file).then(
        (s) => s.isSymbolicLink(),
        () => false,
      );
      return link ? new UnreadableInputError(file, 'is a symbolic link to nothing (dangling)') : error;
    }
    case 'ELOOP':
      return new UnreadableInputError(file, 'is a loop of symbolic links');
    case 'EACCES':
    case 'EPERM':
      return new UnreadableInputError(file, 'cannot be read (permission denied)');
    case 'ENOTDIR':
      return new UnreadableInputError(file, 'is not reachable (a parent is not a directory)');
    default:
      return error;
  }
}

/** True when something (a file, a directory, even a dangling link) is at `file`. */
export async function pathExists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}
