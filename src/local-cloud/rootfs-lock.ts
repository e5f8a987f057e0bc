/**
 * A lock between processes on this machine for work that takes minutes (debootstrap). The
 * lock file holds the holder's pid; a lock whose process is gone is left over from a crash and
 * is taken over at once — an age-based timeout would either wait minutes after a crash or
 * steal the lock from a slow but living debootstrap.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { CloudError } from '../errors/index.js';

export async function withPidLock<T>(
  lockFile: string,
  action: () => Promise<T>,
  options: { timeoutMs?: number; onWait?: (holder: number) => void } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  let told = false;
  for (;;) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt((await readFile(lockFile, 'utf8').catch(() => '')).trim(), 10);
    if (!Number.isInteger(holder) || !isAlive(holder)) {
      // An empty file is a holder between create and write: only take over after a second look.
      if (Number.isInteger(holder) || (await stillUnreadable(lockFile))) await unlink(lockFile).catch(() => undefined);
      continue;
    }
    if (!told) options.onWait?.(holder);
    told = true;
    if (Date.now() >= deadline)
      throw new CloudError(
        `${lockFile}: process ${holder} has held this lock too long; remove the file if it is not running`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  try {
    return await action();
  } finally {
    const content = await readFile(lockFile, 'utf8').catch(() => '');
    if (content.trim() === String(process.pid)) await unlink(lockFile).catch(() => undefined);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function stillUnreadable(lockFile: string): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  return text !== undefined && !Number.isInteger(Number.parseInt(text.trim(), 10));
}
