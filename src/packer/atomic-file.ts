/**
 * Writes that never leave a half-written file: the text goes to a temporary file in the same
 * directory (same filesystem, so rename is atomic), is read back and checked, then renamed over.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomic(
  file: string,
  content: string,
  verify?: (written: string) => void | Promise<void>,
  mode = 0o644,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, content, { encoding: 'utf8', mode });
    const written = await readFile(temp, 'utf8');
    if (written !== content) throw new Error(`${file}: the written text does not read back the same`);
    if (verify) await verify(written);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
